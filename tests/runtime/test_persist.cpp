// Model files: round trips, and every way a file can be wrong — truncated at
// every byte, any single bit flipped, wrong version, wrong architecture,
// non-finite values, failing source — must give the exact error and leave
// the model untouched. Also the C header export's float literals.
#include <doctest/doctest.h>
#if TERN_TEST_HAVE_ZLIB
#include <zlib.h>
#endif

#include <cfloat>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "runtime_test_util.h"
#include "tern/runtime/persist.h"
#include "tern/runtime/rng.h"

using namespace tern;
using tern::test::bits_equal;
using tern::test::contains;
using tern::test::ModelInArena;

namespace {

// Everything load_model may change: parameters, moments, step count.
struct Snapshot {
  std::vector<float> values;
  std::uint32_t steps = 0;
  explicit Snapshot(const Model& m) : steps(m.steps()) {
    for (std::uint32_t t = 0; t < m.tensor_count(); ++t) {
      const Tensor x = m.tensor(t);
      for (const Span<float>& s : {x.value, x.moment1, x.moment2})
        values.insert(values.end(), s.begin(), s.end());
    }
  }
  bool operator==(const Snapshot& o) const { return steps == o.steps && bits_equal(values, o.values); }
};

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

const ModelSpec kSmall = ModelSpec::input(3, 4)
                             .dense(4, Pointwise::kRelu)
                             .layer_norm()
                             .dense(2)
                             .training(LossKind::kSoftmaxCrossEntropy, OptimizerKind::kAdam);

}  // namespace

TEST_CASE("crc32: standard check value, agrees with zlib, incremental") {
  CHECK(crc32("123456789", 9) == 0xCBF43926u);
  CHECK(crc32("", 0) == 0u);
  Rng rng(3);
  std::vector<unsigned char> data(1000);
  for (auto& b : data) b = static_cast<unsigned char>(rng.next_u32());
#if TERN_TEST_HAVE_ZLIB
  for (std::size_t n : {1u, 7u, 64u, 999u, 1000u}) {
    CAPTURE(n);
    CHECK(crc32(data.data(), n) == ::crc32(0L, data.data(), static_cast<uInt>(n)));
  }
#endif
  CHECK(crc32(data.data() + 300, 700, crc32(data.data(), 300)) == crc32(data.data(), 1000));
}

TEST_CASE("persist: round trip of weights and optimizer state, across batch sizes and modes") {
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
    CHECK(Snapshot(b.model) == Snapshot(a.model));

    // Weights only: moments and steps of the target stay as they were.
    scribble(b.model, 13);
    const Snapshot before(b.model);
    REQUIRE(load(b.model, with_state, false).ok());
    CHECK(bits_equal(tern::test::parameters_of(b.model), tern::test::parameters_of(a.model)));
    CHECK(b.model.steps() == before.steps);
    CHECK(b.model.tensor(0).moment1[0] == before.values[b.model.tensor(0).value.size]);

    // An inference model of one row takes the same file.
    REQUIRE(load(inf.model, weights, false).ok());
    CHECK(bits_equal(tern::test::parameters_of(inf.model), tern::test::parameters_of(a.model)));
    const Snapshot inf_before(inf.model);
    CHECK(load(inf.model, with_state, true).code() == StatusCode::kFailedPrecondition);
    CHECK(load(b.model, weights, true).code() == StatusCode::kFailedPrecondition);
    CHECK(contains(load(b.model, weights, true), "the file has none"));
    CHECK(Snapshot(inf.model) == inf_before);
  }
}

TEST_CASE("persist: truncated at every byte and any single flipped bit leave the model untouched") {
  ModelInArena a(kSmall), b(kSmall);
  REQUIRE(a.status.ok());
  scribble(a.model, 21);
  scribble(b.model, 22);
  const Snapshot untouched(b.model);
  for (bool state : {false, true}) {
    CAPTURE(state);
    const std::vector<unsigned char> file = save(a.model, state);
    for (std::size_t len = 0; len < file.size(); ++len) {
      CAPTURE(len);
      const std::vector<unsigned char> cut(file.begin(), file.begin() + long(len));
      const Status s = load(b.model, cut, state);
      REQUIRE(s.code() == StatusCode::kCorruptData);
      CHECK(contains(s, "truncated"));
    }
    std::vector<unsigned char> longer = file;
    longer.push_back(0);
    CHECK(contains(load(b.model, longer, state), "1 trailing bytes"));

    const std::size_t header = 48 + 16 * 3;
    for (std::size_t bit = 0; bit < file.size() * 8; ++bit) {
      CAPTURE(bit);
      std::vector<unsigned char> bad = file;
      bad[bit / 8] ^= static_cast<unsigned char>(1u << (bit % 8));
      const Status s = load(b.model, bad, state);
      REQUIRE(s.code() == StatusCode::kCorruptData);
      // A flip in the payload or the checksum itself can only be caught by
      // the checksum.
      if (bit / 8 >= header) CHECK(contains(s, "checksum mismatch"));
    }
    CHECK(Snapshot(b.model) == untouched);
  }
  // After all that, the intact file still loads.
  REQUIRE(load(b.model, save(a.model, true), true).ok());
  CHECK(Snapshot(b.model) == Snapshot(a.model));
}

TEST_CASE("persist: wrong magic, version, architecture, optimizer and non-finite values") {
  ModelInArena a(kSmall), b(kSmall);
  REQUIRE(a.status.ok());
  scribble(a.model, 31);
  scribble(b.model, 32);
  const Snapshot untouched(b.model);
  const std::vector<unsigned char> file = save(a.model, true);

  std::vector<unsigned char> f = file;
  f[0] = 'X';
  fix_crc(f);
  CHECK(contains(load(b.model, f, false), "not a tern model file"));

  f = file;
  f[8] = 2;  // version 2, with a valid checksum
  fix_crc(f);
  Status s = load(b.model, f, false);
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
    const Snapshot other_before(other.model);
    s = load(other.model, file, false);
    CHECK(s.code() == StatusCode::kShapeMismatch);
    CHECK_MESSAGE(contains(s, expected[i]), s.message());
    CHECK(Snapshot(other.model) == other_before);
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
  s = load(b.model, f, false);
  CHECK(s.code() == StatusCode::kNonFinite);
  CHECK(contains(s, "value 5 of the payload"));
  CHECK(Snapshot(b.model) == untouched);

  // Saving NaN is refused too, so every saved file loads.
  a.model.tensor(2).value[1] = std::nanf("");
  std::vector<unsigned char> sink_bytes(4096);
  MemorySink sink(sink_bytes.data(), sink_bytes.size());
  CHECK(save_model(a.model, sink.sink(), false).code() == StatusCode::kNonFinite);
  // A sink that is too small reports it.
  a.model.tensor(2).value[1] = 0.5f;
  MemorySink small(sink_bytes.data(), 100);
  CHECK(save_model(a.model, small.sink(), false).code() == StatusCode::kOutOfMemory);
}

TEST_CASE("persist: a failing source is an I/O error; files round-trip through the OS") {
  ModelInArena a(kSmall), b(kSmall);
  REQUIRE(a.status.ok());
  scribble(a.model, 41);
  scribble(b.model, 42);
  const Snapshot untouched(b.model);
  const std::vector<unsigned char> file = save(a.model, false);
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
  const Status s = load_model(b.model, src, false);
  CHECK(s.code() == StatusCode::kIoError);
  CHECK(contains(s, "flash read error"));
  CHECK(Snapshot(b.model) == untouched);

  const std::string path = tern::test::temp_name("persist.model");
  REQUIRE(save_model_file(a.model, path.c_str(), true).ok());
  REQUIRE(load_model_file(b.model, path.c_str(), true).ok());
  CHECK(Snapshot(b.model) == Snapshot(a.model));
  std::remove(path.c_str());
  CHECK(load_model_file(b.model, "/nonexistent/dir/x.model").code() == StatusCode::kIoError);
  CHECK(save_model_file(a.model, "/nonexistent/dir/x.model").code() == StatusCode::kIoError);
}

TEST_CASE("export: the C header's literals are exact, including signed zero and subnormals") {
  const ModelSpec spec = mlp({2, 4, 3}, 1);
  ModelInArena a(spec);
  REQUIRE(a.status.ok());
  a.model.initialize(5);
  const float specials[] = {0.0f, -0.0f, 1.0f, -2.5f, FLT_MAX, -FLT_MAX, FLT_MIN,
                            1e-40f, -1e-45f, 0.1f, 3.0f, 1.0f + FLT_EPSILON};
  Span<float> w = a.model.tensor(0).value;  // 8 floats
  Span<float> w2 = a.model.tensor(2).value;  // 12 floats
  for (std::size_t i = 0; i < 8; ++i) w[i] = specials[i];
  for (std::size_t i = 8; i < 12; ++i) w2[i - 8] = specials[i];

  std::vector<char> text(1 << 16);
  MemorySink sink(text.data(), text.size());
  const Status s = export_c_header(a.model, "tiny_net", sink.sink());
  REQUIRE_MESSAGE(s.ok(), s.message());
  const std::string h(text.data(), sink.size());
  CHECK(h.find("#define TINY_NET_PARAMETER_COUNT 27u") != std::string::npos);
  CHECK(h.find("static const uint32_t tiny_net_architecture[12] = {2u, 2u, 1u, 1u, 2u, 4u, 0u, "
               "1u, 0u, 4u, 3u, 0u};") != std::string::npos);
  CHECK(h.find("-0x0p+0f") != std::string::npos);
  // Parse every literal back (strtof reads C99 hex floats exactly).
  const std::size_t open = h.find('{', h.find("tiny_net_parameters["));
  std::vector<float> parsed;
  const char* p = h.c_str() + open + 1;
  while (true) {
    while (*p == ' ' || *p == '\n' || *p == ',') ++p;
    if (*p == '/') {
      p = std::strstr(p, "*/") + 2;
      continue;
    }
    if (*p == '}') break;
    char* end = nullptr;
    parsed.push_back(std::strtof(p, &end));
    REQUIRE(end != p);
    REQUIRE(*end == 'f');
    p = end + 1;
  }
  CHECK(bits_equal(parsed, tern::test::parameters_of(a.model)));

  CHECK(export_c_header(a.model, "1bad", sink.sink()).code() == StatusCode::kInvalidArgument);
  CHECK(export_c_header(a.model, "has space", sink.sink()).code() == StatusCode::kInvalidArgument);

  // load_parameters takes exactly this data, and refuses anything else.
  ModelInArena b(spec);
  REQUIRE(b.status.ok());
  b.model.initialize(6);
  std::uint32_t arch[32];
  const std::size_t words = architecture_words(spec, arch, 32);
  REQUIRE(words == 12);
  const Snapshot before(b.model);
  CHECK(load_parameters(b.model, arch, words, parsed.data(), parsed.size() - 1).code() ==
        StatusCode::kShapeMismatch);
  arch[5] = 5;
  CHECK(load_parameters(b.model, arch, words, parsed.data(), parsed.size()).code() ==
        StatusCode::kShapeMismatch);
  arch[5] = 4;
  std::vector<float> with_inf = parsed;
  with_inf[3] = INFINITY;
  CHECK(load_parameters(b.model, arch, words, with_inf.data(), with_inf.size()).code() ==
        StatusCode::kNonFinite);
  CHECK(Snapshot(b.model) == before);
  REQUIRE(load_parameters(b.model, arch, words, parsed.data(), parsed.size()).ok());
  CHECK(bits_equal(tern::test::parameters_of(b.model), parsed));
}
