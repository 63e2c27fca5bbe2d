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
    ref.u32(1);               // format version
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
    ref.u32(state ? 77 : 0);  // steps
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
  CHECK(model_file_header_bytes(4) == 48 + 16 * 4);
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
    CHECK(weights.size() == 48 + 16 * 3 + 4 * P + 4);
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

    const std::size_t header = 48 + 16 * 3;
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
  f[8] = 2;  // version 2, with a valid checksum
  fix_crc(f);
  Status s = load(b, f, false);
  CHECK(s.code() == StatusCode::kCorruptData);
  CHECK(contains(s, "format version 2; this build reads version 1"));

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
  const std::size_t at = 48 + 16 * 3 + 4 * 5;  // parameter 5
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
