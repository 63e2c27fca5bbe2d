// SPDX-License-Identifier: Apache-2.0
// The model file (runtime/src/model_file.cpp): its bytes against a
// reference encoder written from the layout in model_file.h; round trips;
// and every way a file can be wrong — truncated at every byte, any single
// bit flipped, wrong version, wrong architecture, non-finite values,
// failing source — must give the exact error and leave the model untouched.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "runtime_test_util.h"
#include "tern/runtime/crc32.h"
#include "tern/runtime/model_file.h"
#include "tern/runtime/rng.h"

#if TERN_HAS_OS
#include <sys/stat.h>
#include <unistd.h>

#include "file_test_util.h"
using tern::test::FileSizeLimit;
using tern::test::names_in;
using tern::test::slurp_file;
using tern::test::temp_dir;
#endif

using namespace tern;
using tern::test::bits_equal;
using tern::test::contains;
using tern::test::ModelInArena;
using State = tern::test::TrainingState;

namespace {

// Gives every parameter and moment a distinct value.
void scribble(Model& m, std::uint64_t seed) {
  m.initialize(seed);
  Rng rng(seed, 1);
  for (std::uint32_t t = 0; t < m.tensor_count(); ++t) {
    const Tensor x = m.tensor(t);
    for (float& v : x.value) v += rng.symmetric(0.01f);
    for (float& v : x.moment1) v = rng.symmetric(1.0f);
    for (float& v : x.moment2) v = rng.uniform();
  }
  m.set_steps(static_cast<std::uint32_t>(seed % 1000 + 1));
}

std::vector<unsigned char> save(const Model& m, bool state) {
  std::vector<unsigned char> bytes(model_file_bytes(m.spec(), state) + 16);
  MemorySink sink(bytes.data(), bytes.size());
  const Status s = save_model(m, sink.sink(), state);
  REQUIRE_MESSAGE(s.ok(), s.message());
  bytes.resize(sink.size());
  return bytes;
}

Status load(Model& m, const std::vector<unsigned char>& bytes, bool state) {
  return load_model(m, memory_source(bytes.data(), bytes.size()), state);
}

void fix_crc(std::vector<unsigned char>& f) {
  const std::uint32_t c = crc32(f.data(), f.size() - 4);
  for (int i = 0; i < 4; ++i) f[f.size() - 4 + i] = static_cast<unsigned char>(c >> (8 * i));
}

// A reference encoder, field by field from the layout in model_file.h.
struct Bytes {
  std::vector<unsigned char> v;
  void u8(unsigned x) { v.push_back(static_cast<unsigned char>(x)); }
  void u32(std::uint32_t x) {
    for (int i = 0; i < 4; ++i) u8((x >> (8 * i)) & 0xffu);
  }
  void u64(std::uint64_t x) {
    u32(static_cast<std::uint32_t>(x));
    u32(static_cast<std::uint32_t>(x >> 32));
  }
  void f32(float f) {
    std::uint32_t b;
    std::memcpy(&b, &f, 4);
    u32(b);
  }
};

const ModelSpec kSmall = ModelSpec::input(3, 4)
                             .dense(4, Pointwise::kRelu)
                             .layer_norm()
                             .dense(2)
                             .training(LossKind::kSoftmaxCrossEntropy, OptimizerKind::kAdam);

// Two kSmall models with different contents: one saves, the other loads.
struct SourceAndTarget {
  ModelInArena a{kSmall}, b{kSmall};
  explicit SourceAndTarget(std::uint64_t seed) {
    REQUIRE(a.status.ok());
    REQUIRE(b.status.ok());
    scribble(a.model, seed);
    scribble(b.model, seed + 1);
  }
};

// The file of `m` as the reference encoder spells it from the layout in
// model_file.h: format `version` (1: u32 step count, 2: u64), with or
// without optimizer state, the step count given.
std::vector<unsigned char> reference_file(const Model& m, std::uint32_t version, bool state,
                                          std::uint64_t steps) {
  const ModelSpec& spec = m.spec();
  Bytes ref;
  for (char c : {'T', 'E', 'R', 'N', 'M', 'O', 'D', 'L'}) ref.u8(static_cast<unsigned char>(c));
  ref.u32(version);
  ref.u32(state ? 1 : 0);
  ref.u32(spec.input_width);
  ref.u32(spec.layer_count);
  for (std::uint32_t l = 0; l < spec.layer_count; ++l) {
    const LayerSpec& ls = spec.layers[l];
    ref.u8(static_cast<unsigned>(ls.kind)), ref.u8(static_cast<unsigned>(ls.act)), ref.u8(0),
        ref.u8(0);
    ref.u32(ls.in), ref.u32(ls.out), ref.u32(ls.kind == LayerKind::kResidual ? ls.from : 0);
  }
  const bool sgd = spec.optimizer == OptimizerKind::kSgd;
  ref.u32(state ? static_cast<std::uint32_t>(spec.optimizer) : 0);
  if (version == 1) {
    ref.u32(static_cast<std::uint32_t>(steps));
  } else {
    ref.u64(steps);
  }
  const std::uint64_t P = m.parameter_count();
  ref.u64(P);
  ref.u64(state ? (sgd ? P : 2 * P) : 0);
  const int sections = state ? (sgd ? 2 : 3) : 1;
  for (int section = 0; section < sections; ++section) {
    for (std::uint32_t t = 0; t < m.tensor_count(); ++t) {
      const Tensor x = m.tensor(t);
      for (float v : section == 0 ? x.value : section == 1 ? x.moment1 : x.moment2) ref.f32(v);
    }
  }
  ref.u32(crc32(ref.v.data(), ref.v.size()));
  return ref.v;
}


}  // namespace

TEST_CASE("model_file: the bytes are the documented layout") {
  // dense 2->3 relu, layer norm, residual from point 1, dense 3->1:
  // tensors W0 (6), b0 (3), gamma (3), beta (3), W3 (3), b3 (1).
  const ModelSpec spec = ModelSpec::input(2, 2)
                             .dense(3, Pointwise::kRelu)
                             .layer_norm()
                             .residual(1)
                             .dense(1)
                             .training(LossKind::kMse, OptimizerKind::kSgd);
  ModelInArena a(spec);
  REQUIRE(a.status.ok());
  scribble(a.model, 5);
  a.model.set_steps(77);
  for (bool state : {false, true}) {
    CAPTURE(state);
    Bytes ref;
    for (char c : {'T', 'E', 'R', 'N', 'M', 'O', 'D', 'L'}) ref.u8(static_cast<unsigned char>(c));
    ref.u32(2);               // format version
    ref.u32(state ? 1 : 0);   // flags
    ref.u32(2);               // input width
    ref.u32(4);               // layers
    // kind (dense 1, layer norm 3, residual 4), activation (relu 1), zero,
    // in, out, from (residuals only).
    ref.u8(1), ref.u8(1), ref.u8(0), ref.u8(0), ref.u32(2), ref.u32(3), ref.u32(0);
    ref.u8(3), ref.u8(0), ref.u8(0), ref.u8(0), ref.u32(3), ref.u32(3), ref.u32(0);
    ref.u8(4), ref.u8(0), ref.u8(0), ref.u8(0), ref.u32(3), ref.u32(3), ref.u32(1);
    ref.u8(1), ref.u8(0), ref.u8(0), ref.u8(0), ref.u32(3), ref.u32(1), ref.u32(0);
    ref.u32(0);               // optimizer: SGD is 0 either way
    ref.u64(state ? 77 : 0);  // steps, 64 bits since version 2
    ref.u64(19);              // parameters
    ref.u64(state ? 19 : 0);  // SGD keeps one moment per parameter
    const int sections = state ? 2 : 1;
    for (int section = 0; section < sections; ++section) {
      for (std::uint32_t t = 0; t < a.model.tensor_count(); ++t) {
        const Tensor x = a.model.tensor(t);
        for (float v : section == 0 ? x.value : x.moment1) ref.f32(v);
      }
    }
    ref.u32(crc32(ref.v.data(), ref.v.size()));
    CHECK(ref.v.size() == model_file_bytes(spec, state));
    CHECK(save(a.model, state) == ref.v);
  }
  CHECK(model_file_header_bytes(4) == 52 + 16 * 4);
  CHECK(model_file_header_bytes(4, 1) == 48 + 16 * 4);
  CHECK(model_file_bytes(ModelSpec::input(0, 1), false) == 0);  // invalid spec
}

TEST_CASE("model_file: round trip of weights and optimizer state, across batch sizes and modes") {
  for (OptimizerKind opt : {OptimizerKind::kSgd, OptimizerKind::kAdam, OptimizerKind::kAdamW}) {
    CAPTURE(int(opt));
    ModelSpec spec = kSmall;
    spec.optimizer = opt;
    ModelInArena a(spec), b(spec), inf(spec.inference().with_rows(1));
    REQUIRE(a.status.ok());
    scribble(a.model, 11);
    scribble(b.model, 12);
    const std::vector<unsigned char> with_state = save(a.model, true);
    const std::vector<unsigned char> weights = save(a.model, false);
    CHECK(with_state.size() == model_file_bytes(spec, true));
    CHECK(weights.size() == model_file_bytes(spec, false));
    const std::size_t P = a.model.parameter_count();
    CHECK(weights.size() == 52 + 16 * 3 + 4 * P + 4);
    CHECK(with_state.size() == weights.size() + 4 * P * (opt == OptimizerKind::kSgd ? 1 : 2));

    REQUIRE(load(b.model, with_state, true).ok());
    CHECK(State(b.model) == State(a.model));

    // Weights only: moments and steps of the target stay as they were.
    scribble(b.model, 13);
    const State before(b.model);
    REQUIRE(load(b.model, with_state, false).ok());
    CHECK(bits_equal(tern::test::parameters_of(b.model), tern::test::parameters_of(a.model)));
    CHECK(b.model.steps() == before.steps);
    CHECK(b.model.tensor(0).moment1[0] == before.values[b.model.tensor(0).value.size]);

    // An inference model of one row takes the same file.
    REQUIRE(load(inf.model, weights, false).ok());
    CHECK(bits_equal(tern::test::parameters_of(inf.model), tern::test::parameters_of(a.model)));
    const State inf_before(inf.model);
    CHECK(load(inf.model, with_state, true).code() == StatusCode::kFailedPrecondition);
    CHECK(load(b.model, weights, true).code() == StatusCode::kFailedPrecondition);
    CHECK(contains(load(b.model, weights, true), "the file has none"));
    CHECK(State(inf.model) == inf_before);
  }
}

TEST_CASE("model_file: truncated at every byte and any single flipped bit leave the model untouched") {
  SourceAndTarget pair(21);
  Model& a = pair.a.model;
  Model& b = pair.b.model;
  const State untouched(b);
  for (bool state : {false, true}) {
    CAPTURE(state);
    const std::vector<unsigned char> file = save(a, state);
    for (std::size_t len = 0; len < file.size(); ++len) {
      CAPTURE(len);
      const std::vector<unsigned char> cut(file.begin(), file.begin() + long(len));
      const Status s = load(b, cut, state);
      REQUIRE(s.code() == StatusCode::kCorruptData);
      CHECK(contains(s, "truncated"));
    }
    std::vector<unsigned char> longer = file;
    longer.push_back(0);
    CHECK(contains(load(b, longer, state), "1 trailing bytes"));

    const std::size_t header = 52 + 16 * 3;
    for (std::size_t bit = 0; bit < file.size() * 8; ++bit) {
      CAPTURE(bit);
      std::vector<unsigned char> bad = file;
      bad[bit / 8] ^= static_cast<unsigned char>(1u << (bit % 8));
      const Status s = load(b, bad, state);
      REQUIRE(s.code() == StatusCode::kCorruptData);
      // A flip in the payload or the checksum itself can only be caught by
      // the checksum.
      if (bit / 8 >= header) CHECK(contains(s, "checksum mismatch"));
    }
    CHECK(State(b) == untouched);
  }
  // After all that, the intact file still loads.
  REQUIRE(load(b, save(a, true), true).ok());
  CHECK(State(b) == State(a));
}

TEST_CASE("model_file: wrong magic, version, architecture, optimizer and non-finite values") {
  SourceAndTarget pair(31);
  Model& a = pair.a.model;
  Model& b = pair.b.model;
  const State untouched(b);
  const std::vector<unsigned char> file = save(a, true);

  std::vector<unsigned char> f = file;
  f[0] = 'X';
  fix_crc(f);
  CHECK(contains(load(b, f, false), "not a tern model file"));

  f = file;
  f[8] = 3;  // version 3, with a valid checksum
  fix_crc(f);
  Status s = load(b, f, false);
  CHECK(s.code() == StatusCode::kCorruptData);
  CHECK(contains(s, "format version 3; this build reads versions 1 to 2"));
  f[8] = 0;
  fix_crc(f);
  CHECK(contains(load(b, f, false), "format version 0; this build reads versions 1 to 2"));

  // Reserved bytes of a layer record (24-byte prefix, then 16-byte records:
  // kind, activation, 2 zero bytes, in, out, from): a save writes zeros, so
  // anything else is refused rather than loaded as the same model.
  f = file;
  f[24 + 3] = 0x5a;
  fix_crc(f);
  s = load(b, f, false);
  CHECK(s.code() == StatusCode::kCorruptData);
  CHECK(contains(s, "layer 0: reserved bytes are 00 5a and from = 0"));
  f = file;
  f[24 + 12] = 1;  // `from` of a dense layer
  fix_crc(f);
  CHECK(contains(load(b, f, false), "layer 0: reserved bytes are 00 00 and from = 1"));

  // Other architectures: a different hidden width, activation, input width.
  const ModelSpec others[3] = {
      ModelSpec::input(3, 4).dense(5, Pointwise::kRelu).layer_norm().dense(2),
      ModelSpec::input(3, 4).dense(4, Pointwise::kTanh).layer_norm().dense(2),
      ModelSpec::input(6, 4).dense(4, Pointwise::kRelu).layer_norm().dense(2)};
  const char* expected[3] = {"layer 0 differs: file has dense 3->4 relu, model has dense 3->5 relu",
                             "layer 0 differs: file has dense 3->4 relu, model has dense 3->4 tanh",
                             "input width 3 and 3 layers, the model has input width 6"};
  for (int i = 0; i < 3; ++i) {
    CAPTURE(i);
    ModelInArena other(others[i]);
    REQUIRE(other.status.ok());
    other.model.initialize(1);
    const State other_before(other.model);
    s = load(other.model, file, false);
    CHECK(s.code() == StatusCode::kShapeMismatch);
    CHECK_MESSAGE(contains(s, expected[i]), s.message());
    CHECK(State(other.model) == other_before);
  }

  // Adam state into an SGD model: refused if asked for, weights load.
  ModelSpec sgd_spec = kSmall;
  sgd_spec.optimizer = OptimizerKind::kSgd;
  ModelInArena sgd(sgd_spec);
  REQUIRE(sgd.status.ok());
  s = load(sgd.model, file, true);
  CHECK(s.code() == StatusCode::kFailedPrecondition);
  CHECK(contains(s, "optimizer state is for adam, the model uses sgd"));
  CHECK(load(sgd.model, file, false).ok());

  // A NaN with a valid checksum.
  f = file;
  const std::size_t at = 52 + 16 * 3 + 4 * 5;  // parameter 5
  f[at + 3] = 0x7f;
  f[at + 2] = 0xc0;
  fix_crc(f);
  s = load(b, f, false);
  CHECK(s.code() == StatusCode::kNonFinite);
  CHECK(contains(s, "value 5 of the payload"));
  CHECK(State(b) == untouched);

  // Saving NaN is refused too, so every saved file loads.
  a.tensor(2).value[1] = std::nanf("");
  std::vector<unsigned char> sink_bytes(4096);
  MemorySink sink(sink_bytes.data(), sink_bytes.size());
  CHECK(save_model(a, sink.sink(), false).code() == StatusCode::kNonFinite);
  // A sink that is too small reports it.
  a.tensor(2).value[1] = 0.5f;
  MemorySink small(sink_bytes.data(), 100);
  CHECK(save_model(a, small.sink(), false).code() == StatusCode::kOutOfMemory);
}

TEST_CASE("model_file: a failing source is an I/O error; files round-trip through the OS") {
  SourceAndTarget pair(41);
  Model& a = pair.a.model;
  Model& b = pair.b.model;
  const State untouched(b);
  const std::vector<unsigned char> file = save(a, false);
  struct Failing {
    const std::vector<unsigned char>* bytes;
    std::size_t fail_at;
  } failing{&file, 100};
  ByteSource src;
  src.context = &failing;
  src.size = file.size();
  src.read = [](void* c, std::size_t off, void* data, std::size_t n) -> Status {
    auto* f = static_cast<Failing*>(c);
    if (off + n > f->fail_at) return Status::error(StatusCode::kIoError, "flash read error");
    std::memcpy(data, f->bytes->data() + off, n);
    return Status();
  };
  const Status s = load_model(b, src, false);
  CHECK(s.code() == StatusCode::kIoError);
  CHECK(contains(s, "flash read error"));
  CHECK(State(b) == untouched);

  const std::string path = tern::test::temp_name("model_file.tern");
  REQUIRE(save_model_file(a, path.c_str(), true).ok());
  REQUIRE(load_model_file(b, path.c_str(), true).ok());
  CHECK(State(b) == State(a));
  std::remove(path.c_str());
  CHECK(load_model_file(b, "/nonexistent/dir/x.model").code() == StatusCode::kIoError);
  CHECK(save_model_file(a, "/nonexistent/dir/x.model").code() == StatusCode::kIoError);
}


TEST_CASE("model_file: the file adapter writes the same bytes, and its errors") {
  ModelInArena a(kSmall);
  REQUIRE(a.status.ok());
  scribble(a.model, 51);
  const std::string path = tern::test::temp_name("bytes.tern");
  REQUIRE(save_model_file(a.model, path.c_str(), true).ok());
  std::ifstream in(path, std::ios::binary);
  const std::vector<unsigned char> on_disk(std::istreambuf_iterator<char>(in), {});
  CHECK(on_disk == save(a.model, true));
  std::remove(path.c_str());
  const Status s = load_model_file(a.model, "/nonexistent/dir/x.model");
  CHECK(std::string(s.message()) == "load: cannot open /nonexistent/dir/x.model");
}

TEST_CASE("model_file: refusals before anything is written") {
  ModelInArena a(kSmall), inf(kSmall.inference().with_rows(1));
  REQUIRE(a.status.ok());
  REQUIRE(inf.status.ok());
  scribble(a.model, 61);
  inf.model.initialize(1);
  std::vector<unsigned char> bytes(4096, 0xaa);
  MemorySink sink(bytes.data(), bytes.size());
  CHECK(save_model(a.model, ByteSink{}, false).code() == StatusCode::kInvalidArgument);
  CHECK(load_model(a.model, ByteSource{}, false).code() == StatusCode::kInvalidArgument);
  Status s = save_model(inf.model, sink.sink(), true);
  CHECK(s.code() == StatusCode::kFailedPrecondition);
  CHECK(contains(s, "an inference model has no optimizer state"));
  Model unbuilt;
  CHECK(save_model(unbuilt, sink.sink(), false).code() == StatusCode::kFailedPrecondition);

  // A non-finite moment refuses a save with state and is ignored without.
  a.model.tensor(1).moment2[2] = INFINITY;
  s = save_model(a.model, sink.sink(), true);
  CHECK(s.code() == StatusCode::kNonFinite);
  CHECK(std::string(s.message()) == "save: moment 2 2 of tensor 1 (layer 0) is not finite");
  CHECK(sink.size() == 0);
  CHECK(save_model(a.model, sink.sink(), false).ok());
}

TEST_CASE("model_file: version 1 files (32-bit step count) still load") {
  for (OptimizerKind opt : {OptimizerKind::kSgd, OptimizerKind::kAdam}) {
    CAPTURE(int(opt));
    ModelSpec spec = kSmall;
    spec.optimizer = opt;
    ModelInArena a(spec), b(spec);
    REQUIRE(a.status.ok());
    REQUIRE(b.status.ok());
    scribble(a.model, 71);
    scribble(b.model, 72);
    a.model.set_steps(0xfffffffeu);  // the largest count a version 1 file can hold is 2^32 - 1
    const std::vector<unsigned char> v1 = reference_file(a.model, 1, true, a.model.steps());
    CHECK(v1.size() == model_file_bytes(spec, true) - 4);  // 4 bytes of steps fewer
    Status s = load(b.model, v1, true);
    REQUIRE_MESSAGE(s.ok(), s.message());
    CHECK(State(b.model) == State(a.model));
    // Weights only, and corruption is still caught.
    scribble(b.model, 73);
    REQUIRE(load(b.model, reference_file(a.model, 1, false, 0), false).ok());
    CHECK(bits_equal(tern::test::parameters_of(b.model), tern::test::parameters_of(a.model)));
    std::vector<unsigned char> bad = v1;
    bad[100] ^= 1;  // a payload byte (version 1 payload starts at 48 + 16 * 3)
    CHECK(contains(load(b.model, bad, true), "checksum mismatch"));
    // The same model saved now is version 2, the reference encoder's bytes.
    CHECK(save(a.model, true) == reference_file(a.model, 2, true, a.model.steps()));
  }
}

TEST_CASE("model_file: a 64-bit step count round-trips; 2^64 - 1 leaves no room and is refused") {
  SourceAndTarget pair(81);
  Model& a = pair.a.model;
  Model& b = pair.b.model;
  const std::uint64_t steps = (std::uint64_t{1} << 40) + 3;
  a.set_steps(steps);
  const std::vector<unsigned char> file = save(a, true);
  // The u64 after the optimizer kind (offset 24 + 16 L + 4), little-endian.
  std::uint64_t stored = 0;
  for (int i = 0; i < 8; ++i) stored |= std::uint64_t{file[24 + 16 * 3 + 4 + i]} << (8 * i);
  CHECK(stored == steps);
  REQUIRE(load(b, file, true).ok());
  CHECK(b.steps() == steps);

  scribble(b, 82);
  const State untouched(b);
  const std::vector<unsigned char> full = reference_file(a, 2, true, UINT64_MAX);
  const Status s = load(b, full, true);
  CHECK(s.code() == StatusCode::kCorruptData);
  CHECK(std::string(s.message()) ==
        "load: the step count 18446744073709551615 is the counter's maximum; no step could "
        "follow it");
  CHECK(State(b) == untouched);
  CHECK(load(b, full, false).ok());  // the weights alone are fine
}

TEST_CASE("model_file: loaded Adam state is checked: second moments >= 0, every moment finite") {
  SourceAndTarget pair(91);
  Model& a = pair.a.model;
  Model& b = pair.b.model;
  const State untouched(b);
  const std::uint64_t P = a.parameter_count();
  // A negative second moment: the next Adam step would take sqrt(v) < 0 and
  // write NaN weights while returning ok. Saving it is refused ...
  a.tensor(1).moment2[3] = -0.5f;
  std::vector<unsigned char> sink_bytes(8192);
  MemorySink sink(sink_bytes.data(), sink_bytes.size());
  Status s = save_model(a, sink.sink(), true);
  CHECK(s.code() == StatusCode::kFailedPrecondition);
  CHECK(std::string(s.message()) ==
        "save: moment 2 3 of tensor 1 (layer 0) is -0.5; Adam's second moments cannot be "
        "negative");
  // ... and a file holding one (checksum valid) is refused on load.
  const std::vector<unsigned char> negative = reference_file(a, 2, true, 5);
  s = load(b, negative, true);
  CHECK(s.code() == StatusCode::kCorruptData);
  const std::uint64_t index = 2 * P + a.tensor(0).value.size + 3;
  char expect[160];
  std::snprintf(expect, sizeof expect,
                "load: value %llu of the payload (second moment %llu) is -0.5; Adam's second "
                "moments are means of squares, never negative",
                static_cast<unsigned long long>(index),
                static_cast<unsigned long long>(index - 2 * P));
  CHECK(std::string(s.message()) == expect);
  CHECK(load(b, negative, false).code() == StatusCode::kCorruptData);  // the file is bad
  CHECK(State(b) == untouched);
  // -0 is not negative.
  a.tensor(1).moment2[3] = -0.0f;
  REQUIRE(load(b, reference_file(a, 2, true, 5), true).ok());
  scribble(b, 92);
  const State again(b);
  // An Inf first moment.
  a.tensor(0).moment1[1] = INFINITY;
  s = load(b, reference_file(a, 2, true, 5), true);
  CHECK(s.code() == StatusCode::kNonFinite);
  CHECK(contains(s, ("value " + std::to_string(P + 1) + " of the payload is not finite").c_str()));
  CHECK(State(b) == again);
}

TEST_CASE("model_file: a weights-only file with optimizer fields set says so") {
  SourceAndTarget pair(95);
  std::vector<unsigned char> f = save(pair.a.model, false);
  f[24 + 16 * 3] = 1;  // optimizer kind: adam, in a file whose flags say no state
  fix_crc(f);
  const Status s = load(pair.b.model, f, false);
  CHECK(s.code() == StatusCode::kCorruptData);
  CHECK(std::string(s.message()) ==
        "load: the flags say the file has no optimizer state, but its optimizer fields are set "
        "(kind 1, 0 steps, 0 state floats; all 0 in a weights-only file)");
  // Counts that disagree with the architecture are named with both numbers.
  f = save(pair.a.model, false);
  const std::size_t P = pair.a.model.parameter_count();
  // Parameters + 1, and the file one float longer so the size agrees.
  f[24 + 16 * 3 + 12] = static_cast<unsigned char>(P + 1);
  f.insert(f.end() - 4, {0, 0, 0, 0});
  fix_crc(f);
  CHECK(std::string(load(pair.b.model, f, false).message()) ==
        "load: the header counts " + std::to_string(P + 1) +
            " parameters, the architecture in the file has " + std::to_string(P));
}

TEST_CASE("model_file: another architecture is refused from the header, the payload unread") {
  // The header of a 1 GiB file (weights of a 4096-65536-10 MLP) offered to
  // a small model: refused after reading the header alone, whatever the
  // payload holds, instead of checksumming a gigabyte first.
  const ModelSpec big = ModelSpec::input(4096, 1).dense(65536).dense(10);
  REQUIRE(check_spec(big).ok());
  const std::uint64_t P = parameter_floats(big);
  Bytes h;
  for (char c : {'T', 'E', 'R', 'N', 'M', 'O', 'D', 'L'}) h.u8(static_cast<unsigned char>(c));
  h.u32(2), h.u32(0), h.u32(4096), h.u32(2);
  h.u8(1), h.u8(0), h.u8(0), h.u8(0), h.u32(4096), h.u32(65536), h.u32(0);
  h.u8(1), h.u8(0), h.u8(0), h.u8(0), h.u32(65536), h.u32(10), h.u32(0);
  h.u32(0), h.u64(0), h.u64(P), h.u64(0);
  REQUIRE(h.v.size() == model_file_header_bytes(2));
  struct Sparse {
    const std::vector<unsigned char>* header;
    std::size_t furthest = 0;  // one past the last byte read
  } sparse{&h.v};
  ByteSource src;
  src.context = &sparse;
  src.size = static_cast<std::size_t>(h.v.size() + 4 * P + 4);
  src.read = [](void* c, std::size_t off, void* data, std::size_t n) -> Status {
    auto* f = static_cast<Sparse*>(c);
    if (off + n > f->furthest) f->furthest = off + n;
    // Past the header the "file" is zeros, as in a sparse file.
    for (std::size_t i = 0; i < n; ++i) {
      static_cast<unsigned char*>(data)[i] = off + i < f->header->size() ? (*f->header)[off + i] : 0;
    }
    return Status();
  };
  ModelInArena small(kSmall);
  REQUIRE(small.status.ok());
  small.model.initialize(1);
  const State untouched(small.model);
  const Status s = load_model(small.model, src, false);
  CHECK(s.code() == StatusCode::kShapeMismatch);
  CHECK(std::string(s.message()) ==
        "load: the file holds a model of input width 4096 and 2 layers, the model has input "
        "width 3 and 3 layers");
  CHECK(sparse.furthest == h.v.size());
  CHECK(State(small.model) == untouched);
}

TEST_CASE("model: the step counter is 64 bits; Adam goes on past 2^32 steps") {
  // From 2^32 - 1 on a 32-bit counter wrapped to 0 and every Adam step
  // failed ("step is 0"). The reference: the same state trained at step
  // 10^6, where 1 - beta^step is already 1.0 in double for the default
  // betas (0.999^(10^6) < e^-1000), as it is past 2^32: the bits must agree.
  const tern::test::SyntheticData d = tern::test::synthetic_data(kSmall, 16, 3, 1);
  for (OptimizerKind opt : {OptimizerKind::kAdam, OptimizerKind::kAdamW}) {
    CAPTURE(int(opt));
    ModelSpec spec = kSmall;
    spec.optimizer = opt;
    ModelInArena a(spec), ref(spec);
    REQUIRE(a.status.ok());
    REQUIRE(ref.status.ok());
    scribble(a.model, 101);
    scribble(ref.model, 101);
    const std::uint64_t start = (std::uint64_t{1} << 32) - 2;
    a.model.set_steps(start);
    ref.model.set_steps(1000000);
    for (int i = 0; i < 4; ++i) {
      const Batch batch = tern::test::batch_of(spec, d, 4 * static_cast<std::size_t>(i), 4);
      Status s = a.model.train_step(batch, nullptr);
      REQUIRE_MESSAGE(s.ok(), s.message());
      s = ref.model.train_step(batch, nullptr);
      REQUIRE_MESSAGE(s.ok(), s.message());
    }
    CHECK(a.model.steps() == start + 4);  // 2^32 + 2
    CHECK(bits_equal(tern::test::parameters_of(a.model), tern::test::parameters_of(ref.model)));
    CHECK(bits_equal(tern::test::concatenated(a.model, &Tensor::moment2),
                     tern::test::concatenated(ref.model, &Tensor::moment2)));
    // The count survives a save and load.
    ModelInArena b(spec);
    REQUIRE(b.status.ok());
    REQUIRE(load(b.model, save(a.model, true), true).ok());
    CHECK(b.model.steps() == start + 4);
    // At 2^64 - 1 the next step is refused, nothing changes.
    a.model.set_steps(UINT64_MAX);
    const State before(a.model);
    const Status s = a.model.train_step(tern::test::batch_of(spec, d, 0, 4), nullptr);
    CHECK(s.code() == StatusCode::kFailedPrecondition);
    CHECK(contains(s, "the step counter is at its maximum 18446744073709551615"));
    CHECK(State(a.model) == before);
  }
}

#if TERN_HAS_OS
TEST_CASE("model_file: a refused or failed save leaves the previous file byte for byte, no temp") {
  SourceAndTarget pair(111);
  Model& a = pair.a.model;
  const std::string dir = temp_dir("atomic");
  const std::string path = dir + "/model.tern";
  REQUIRE(save_model_file(a, path.c_str(), true).ok());
  const std::vector<unsigned char> good = slurp_file(path);
  REQUIRE(good == save(a, true));
  const std::vector<std::string> only = {"model.tern"};

  // A NaN weight: refused before anything is created.
  const float kept = a.tensor(0).value[0];
  a.tensor(0).value[0] = std::nanf("");
  Status s = save_model_file(a, path.c_str(), true);
  CHECK(s.code() == StatusCode::kNonFinite);
  CHECK(slurp_file(path) == good);
  CHECK(names_in(dir) == only);
  a.tensor(0).value[0] = kept;

  // The disk fills up after 100 bytes of the new file.
  {
    FileSizeLimit limit(100);
    s = save_model_file(pair.b.model, path.c_str(), true);
  }
  CHECK(s.code() == StatusCode::kIoError);
  CHECK(std::string(s.message()) == "save: writing " + path + ": write failed: File too large");
  CHECK(slurp_file(path) == good);
  CHECK(names_in(dir) == only);

  // A directory is not overwritten.
  s = save_model_file(a, dir.c_str(), true);
  CHECK(s.code() == StatusCode::kInvalidArgument);
  CHECK(std::string(s.message()) == "save: " + dir + " is a directory, not a regular file");

  // A successful save replaces the file whole; its mode is kept.
  REQUIRE(::chmod(path.c_str(), 0600) == 0);
  REQUIRE(save_model_file(pair.b.model, path.c_str(), false).ok());
  CHECK(slurp_file(path) == save(pair.b.model, false));
  CHECK(names_in(dir) == only);
  struct stat st;
  REQUIRE(::stat(path.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  std::remove(path.c_str());
  ::rmdir(dir.c_str());
}

TEST_CASE("model_file: loading a directory or a FIFO is refused at once, naming what it is") {
  ModelInArena a(kSmall);
  REQUIRE(a.status.ok());
  const std::string dir = temp_dir("notfile");
  Status s = load_model_file(a.model, dir.c_str());
  CHECK(s.code() == StatusCode::kInvalidArgument);
  CHECK(std::string(s.message()) == "load: " + dir + " is a directory, not a regular file");
  // Opening a FIFO for reading would wait for a writer forever.
  const std::string fifo = dir + "/fifo";
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  s = load_model_file(a.model, fifo.c_str());
  CHECK(s.code() == StatusCode::kInvalidArgument);
  CHECK(std::string(s.message()) == "load: " + fifo + " is a FIFO, not a regular file");
  std::remove(fifo.c_str());
  ::rmdir(dir.c_str());
}
#endif

TEST_CASE("model_file: read_model_file_info gives the header's architecture and state, payload unread") {
  ModelSpec spec = kSmall;
  spec.optimizer = OptimizerKind::kAdamW;
  ModelInArena a(spec);
  REQUIRE(a.status.ok());
  scribble(a.model, 21);
  for (const bool state : {false, true}) {
    CAPTURE(state);
    std::vector<unsigned char> file = save(a.model, state);
    // A flipped payload bit: the header alone still reads (the CRC is load_model's).
    file[file.size() - 8] ^= 1u;
    ModelFileInfo info;
    const Status s = read_model_file_info(memory_source(file.data(), file.size()), &info);
    REQUIRE_MESSAGE(s.ok(), s.message());
    CHECK(info.version == kModelFormatVersion);
    CHECK(info.parameters == a.model.parameter_count());
    CHECK(info.optimizer_state == state);
    CHECK(info.optimizer == (state ? OptimizerKind::kAdamW : OptimizerKind::kSgd));
    CHECK(info.steps == (state ? a.model.steps() : 0u));
    const ModelSpec& got = info.architecture;
    CHECK(got.rows == 1);
    CHECK(got.mode == Mode::kInference);
    CHECK(got.input_width == spec.input_width);
    REQUIRE(got.layer_count == spec.layer_count);
    for (std::uint32_t l = 0; l < spec.layer_count; ++l) {
      CHECK(got.layers[l].kind == spec.layers[l].kind);
      CHECK(got.layers[l].act == spec.layers[l].act);
      CHECK(got.layers[l].in == spec.layers[l].in);
      CHECK(got.layers[l].out == spec.layers[l].out);
    }
    // The architecture builds a model that loads the intact file.
    file[file.size() - 8] ^= 1u;
    ModelInArena loaded(got);
    REQUIRE(loaded.status.ok());
    CHECK(load(loaded.model, file, false).ok());
    CHECK(bits_equal(tern::test::parameters_of(loaded.model), tern::test::parameters_of(a.model)));
  }
  // Errors leave *info as it was.
  std::vector<unsigned char> file = save(a.model, false);
  ModelFileInfo info;
  info.version = 77;
  file[0] = 'X';
  const Status magic = read_model_file_info(memory_source(file.data(), file.size()), &info);
  CHECK(magic.code() == StatusCode::kCorruptData);
  CHECK(contains(magic, "bad magic"));
  file[0] = 'T';
  const Status truncated = read_model_file_info(memory_source(file.data(), 30), &info);
  CHECK(truncated.code() == StatusCode::kCorruptData);
  CHECK(contains(truncated, "truncated"));
  CHECK(info.version == 77);
  CHECK(read_model_file_info(ByteSource{}, &info).code() == StatusCode::kInvalidArgument);
  CHECK(read_model_file_info(memory_source(file.data(), file.size()), nullptr).code() ==
        StatusCode::kInvalidArgument);
}
