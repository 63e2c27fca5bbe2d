// SPDX-License-Identifier: Apache-2.0
// safetensors in and out (runtime/src/safetensors_*.cpp). The files read
// here are written byte by byte by the test from the format's description
// (a u64 header length, JSON, little-endian data), independently of the
// writer; F16 and BF16 values are checked against values computed from
// their fields with ldexp in double; every error leaves the model's bits
// as they were; tern -> safetensors -> tern is bit-identical.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "alloc_counter.h"
#include "runtime_test_util.h"
#include "tern/runtime/safetensors.h"

#if TERN_HAS_OS
#include <unistd.h>

#include <cstdio>

#include "file_test_util.h"
#endif

using namespace tern;
using tern::test::bits_equal;
using tern::test::contains;
using tern::test::ModelInArena;
using tern::test::ReadyModel;

namespace {

// A file: the header length, the header, the data.
std::vector<unsigned char> st_file(const std::string& header, const std::vector<unsigned char>& data) {
  std::vector<unsigned char> f;
  std::uint64_t n = header.size();
  for (int i = 0; i < 8; ++i) f.push_back(static_cast<unsigned char>(n >> (8 * i)));
  f.insert(f.end(), header.begin(), header.end());
  f.insert(f.end(), data.begin(), data.end());
  return f;
}

void put_f32(std::vector<unsigned char>& d, float v) {
  std::uint32_t b;
  std::memcpy(&b, &v, 4);
  for (int i = 0; i < 4; ++i) d.push_back(static_cast<unsigned char>(b >> (8 * i)));
}
void put_u16(std::vector<unsigned char>& d, std::uint16_t v) {
  d.push_back(static_cast<unsigned char>(v));
  d.push_back(static_cast<unsigned char>(v >> 8));
}

std::string entry(const std::string& name, const std::string& dtype, const std::string& shape,
                  std::size_t begin, std::size_t end) {
  return "\"" + name + "\": {\"dtype\": \"" + dtype + "\", \"shape\": " + shape +
         ", \"data_offsets\": [" + std::to_string(begin) + ", " + std::to_string(end) + "]}";
}

std::vector<float> all_values(const Model& m) {
  std::vector<float> v;
  for (std::uint32_t t = 0; t < m.tensor_count(); ++t) {
    const Tensor x = m.tensor(t);
    v.insert(v.end(), x.value.begin(), x.value.end());
  }
  return v;
}

// nn.Sequential(Linear(3, 4), ReLU(), LayerNorm(4), Linear(4, 2)).
constexpr ModelSpec kSpec = ModelSpec::input(3, 2).dense(4, Pointwise::kRelu).layer_norm().dense(2);

// Element (o, i) of PyTorch's W[out][in] of layer `layer`, exactly
// representable: distinct for every layer and position.
float w_value(int layer, int o, int i) { return static_cast<float>(layer * 100 + o * 10 + i) + 0.25f; }

// What save_file writes for kSpec with the values above: tensors sorted by
// name ("0.bias" before "0.weight"), a __metadata__ entry, padding.
struct KSpecFile {
  std::vector<std::string> entries;  // as they appear in the header
  std::vector<unsigned char> data;
};
KSpecFile kspec_file() {
  KSpecFile f;
  auto add = [&](const std::string& name, const std::string& shape, const std::vector<float>& v) {
    const std::size_t begin = f.data.size();
    for (float x : v) put_f32(f.data, x);
    f.entries.push_back(entry(name, "F32", shape, begin, f.data.size()));
  };
  std::vector<float> w0, w3, b0, g2, beta2, b3;
  for (int o = 0; o < 4; ++o)
    for (int i = 0; i < 3; ++i) w0.push_back(w_value(0, o, i));
  for (int o = 0; o < 2; ++o)
    for (int i = 0; i < 4; ++i) w3.push_back(w_value(3, o, i));
  for (int o = 0; o < 4; ++o) {
    b0.push_back(-1.0f - o);
    g2.push_back(2.0f + o);
    beta2.push_back(-3.0f - o);
  }
  for (int o = 0; o < 2; ++o) b3.push_back(7.5f + o);
  add("0.bias", "[4]", b0);
  add("0.weight", "[4, 3]", w0);
  add("2.bias", "[4]", beta2);
  add("2.weight", "[4]", g2);
  add("3.bias", "[2]", b3);
  add("3.weight", "[2, 4]", w3);
  return f;
}
std::string join(const std::vector<std::string>& entries) {
  std::string h = "{\"__metadata__\": {\"format\": \"pt\"}";
  for (const std::string& e : entries) h += ", " + e;
  return h + "}";
}

// Loads `file`, expecting `code` and `text` in the message, and checks that
// the model's bits did not change.
void expect_refused(Model& m, const std::vector<unsigned char>& file, StatusCode code,
                    const char* text, const char* const* names = nullptr, std::uint32_t count = 0) {
  const std::vector<float> before = all_values(m);
  const Status v = validate_safetensors(m, memory_source(file.data(), file.size()), names, count);
  const Status s = load_safetensors(m, memory_source(file.data(), file.size()), names, count);
  CHECK_MESSAGE(s.code() == code, std::string(s.message()));
  CHECK(v.code() == s.code());
  CHECK_MESSAGE(contains(s, text), std::string(s.message()));
  CHECK(bits_equal(all_values(m), before));
}

std::vector<unsigned char> save(const Model& m, const char* const* names = nullptr,
                                std::uint32_t count = 0) {
  Status sized;
  const std::size_t bytes = safetensors_bytes(m, names, count, &sized);
  REQUIRE_MESSAGE(sized.ok(), sized.message());
  std::vector<unsigned char> out(bytes + 16);
  MemorySink sink(out.data(), out.size());
  const Status s = save_safetensors(m, sink.sink(), names, count);
  REQUIRE_MESSAGE(s.ok(), std::string(s.message()));
  REQUIRE(sink.size() == bytes);
  out.resize(sink.size());
  return out;
}

}  // namespace

TEST_CASE("safetensors: default names follow nn.Sequential's module numbering") {
  char name[32];
  const char* expected[] = {"0.weight", "0.bias", "2.weight", "2.bias", "3.weight", "3.bias"};
  for (std::uint32_t t = 0; t < 6; ++t) {
    REQUIRE(safetensors_default_name(kSpec, t, name, sizeof name).ok());
    CHECK(std::string(name) == expected[t]);
  }
  CHECK(safetensors_default_name(kSpec, 6, name, sizeof name).code() == StatusCode::kInvalidArgument);
  CHECK(safetensors_default_name(kSpec, 0, name, 4).code() == StatusCode::kInvalidArgument);
  CHECK(safetensors_default_name(kSpec, 0, nullptr, 4).code() == StatusCode::kInvalidArgument);
  // A residual takes no number; an identity Dense one; an Activation one.
  constexpr ModelSpec s = ModelSpec::input(2, 1).dense(2).residual(0).activation(Pointwise::kTanh).dense(2);
  REQUIRE(safetensors_default_name(s, 2, name, sizeof name).ok());
  CHECK(std::string(name) == "2.weight");
}

TEST_CASE("safetensors: a save_file-style F32 file loads, nn.Linear weights transposed") {
  ModelInArena m(kSpec);
  REQUIRE(m.status.ok());
  const KSpecFile k = kspec_file();
  std::string header = join(k.entries);
  header.append(5, ' ');  // padding, as save_file aligns the data
  const std::vector<unsigned char> file = st_file(header, k.data);
  const Status s = load_safetensors(m.model, memory_source(file.data(), file.size()));
  REQUIRE_MESSAGE(s.ok(), std::string(s.message()));
  const Span<float> w0 = m.model.tensor(0).value, w3 = m.model.tensor(4).value;
  for (int o = 0; o < 4; ++o)
    for (int i = 0; i < 3; ++i) CHECK(w0[i * 4 + o] == w_value(0, o, i));  // tern: [in][out]
  for (int o = 0; o < 2; ++o)
    for (int i = 0; i < 4; ++i) CHECK(w3[i * 2 + o] == w_value(3, o, i));
  for (int o = 0; o < 4; ++o) {
    CHECK(m.model.tensor(1).value[o] == -1.0f - o);
    CHECK(m.model.tensor(2).value[o] == 2.0f + o);  // gamma
    CHECK(m.model.tensor(3).value[o] == -3.0f - o);
  }
  CHECK(m.model.tensor(5).value[1] == 8.5f);
}

TEST_CASE("safetensors: F16 and BF16 convert to float exactly, subnormals included") {
  // Linear(1, 7): weight [7, 1] in F16, bias [7] in BF16.
  constexpr ModelSpec spec = ModelSpec::input(1, 1).dense(7);
  ModelInArena m(spec);
  REQUIRE(m.status.ok());
  const std::uint16_t halves[7] = {0x0001, 0x03ff, 0x0400, 0x3c00, 0xc000, 0x7bff, 0x8000};
  const double half_expected[7] = {std::ldexp(1.0, -24), 1023 * std::ldexp(1.0, -24),
                                   std::ldexp(1.0, -14), 1.0, -2.0, 65504.0, -0.0};
  const std::uint16_t bfloats[7] = {0x3f80, 0x0001, 0x007f, 0xff7f, 0x4049, 0x8001, 0x0080};
  const double bfloat_expected[7] = {1.0,
                                     std::ldexp(1.0, -133),
                                     127 * std::ldexp(1.0, -133),
                                     -(2.0 - std::ldexp(1.0, -7)) * std::ldexp(1.0, 127),
                                     3.140625,
                                     -std::ldexp(1.0, -133),
                                     std::ldexp(1.0, -126)};
  std::vector<unsigned char> data;
  for (std::uint16_t h : halves) put_u16(data, h);
  for (std::uint16_t b : bfloats) put_u16(data, b);
  const std::string header =
      "{" + entry("0.weight", "F16", "[7, 1]", 0, 14) + "," + entry("0.bias", "BF16", "[7]", 14, 28) + "}";
  const std::vector<unsigned char> file = st_file(header, data);
  const Status s = load_safetensors(m.model, memory_source(file.data(), file.size()));
  REQUIRE_MESSAGE(s.ok(), std::string(s.message()));
  for (int i = 0; i < 7; ++i) {
    const float w = m.model.tensor(0).value[i], b = m.model.tensor(1).value[i];
    CHECK(static_cast<double>(w) == half_expected[i]);
    CHECK(std::signbit(w) == std::signbit(half_expected[i]));
    CHECK(static_cast<double>(b) == bfloat_expected[i]);
  }
}

TEST_CASE("safetensors: explicit names map a custom module's state_dict") {
  ModelInArena m(kSpec);
  REQUIRE(m.status.ok());
  KSpecFile k = kspec_file();
  const char* names[6] = {"fc1.weight", "fc1.bias", "norm.weight", "norm.bias", "fc2.weight", "fc2.bias"};
  // Rename entries: 0.bias 0.weight 2.bias 2.weight 3.bias 3.weight.
  const char* file_names[6] = {"fc1.bias", "fc1.weight", "norm.bias", "norm.weight", "fc2.bias", "fc2.weight"};
  for (int e = 0; e < 6; ++e) {
    const std::size_t close = k.entries[e].find('"', 1);
    k.entries[e] = "\"" + std::string(file_names[e]) + k.entries[e].substr(close);
  }
  const std::vector<unsigned char> file = st_file(join(k.entries), k.data);
  const Status s = load_safetensors(m.model, memory_source(file.data(), file.size()), names, 6);
  REQUIRE_MESSAGE(s.ok(), std::string(s.message()));
  CHECK(m.model.tensor(0).value[1 * 4 + 2] == w_value(0, 2, 1));
  // The default names are missing from this file.
  expect_refused(m.model, file, StatusCode::kShapeMismatch, "'0.weight' is missing");
  // Bad name lists.
  expect_refused(m.model, file, StatusCode::kInvalidArgument, "5 names given", names, 5);
  const char* with_null[6] = {"a", "b", nullptr, "d", "e", "f"};
  expect_refused(m.model, file, StatusCode::kInvalidArgument, "name 2 is null", with_null, 6);
  const char* twice[6] = {"a", "b", "c", "d", "e", "a"};
  expect_refused(m.model, file, StatusCode::kInvalidArgument, "both 'a'", twice, 6);
  const std::string long_name(kSafetensorsMaxNameBytes + 1, 'x');
  const char* too_long[6] = {"a", long_name.c_str(), "c", "d", "e", "f"};
  expect_refused(m.model, file, StatusCode::kInvalidArgument, "name 1 has 128 bytes", too_long, 6);
  const char* empty[6] = {"a", "", "c", "d", "e", "f"};
  expect_refused(m.model, file, StatusCode::kInvalidArgument, "name 1 has 0 bytes", empty, 6);
  expect_refused(m.model, file, StatusCode::kInvalidArgument, "3 names counted", nullptr, 3);
}

TEST_CASE("safetensors: every malformed or mismatched file is refused, the model unchanged") {
  ModelInArena m(kSpec);
  REQUIRE(m.status.ok());
  m.model.initialize(7);
  const KSpecFile k = kspec_file();
  auto with_entry = [&](std::size_t e, const std::string& replacement) {
    std::vector<std::string> entries = k.entries;
    entries[e] = replacement;
    return st_file(join(entries), k.data);
  };
  // k.entries[1] is "0.weight", bytes 16..64 of the data.
  SUBCASE("missing tensor") {
    std::vector<std::string> entries = k.entries;
    entries.erase(entries.begin() + 4);  // 3.bias, data 96..104
    entries.push_back(entry("other", "F32", "[2]", 96, 104));
    expect_refused(m.model, st_file(join(entries), k.data), StatusCode::kShapeMismatch,
                   "'3.bias' is missing");
  }
  SUBCASE("wrong shape") {
    expect_refused(m.model, with_entry(1, entry("0.weight", "F32", "[3, 4]", 16, 64)),
                   StatusCode::kShapeMismatch, "needs [4, 3]");
    expect_refused(m.model, with_entry(1, entry("0.weight", "F32", "[12]", 16, 64)),
                   StatusCode::kShapeMismatch, "'0.weight' has rank 1");
    expect_refused(m.model, with_entry(1, entry("0.weight", "F32", "[4, 3, 1]", 16, 64)),
                   StatusCode::kShapeMismatch, "rank 3");
  }
  SUBCASE("wrong dtype") {
    expect_refused(m.model, with_entry(1, entry("0.weight", "I32", "[4, 3]", 16, 64)),
                   StatusCode::kShapeMismatch, "'0.weight' is I32");
    expect_refused(m.model, with_entry(1, entry("0.weight", "Q7", "[4, 3]", 16, 64)),
                   StatusCode::kCorruptData, "unknown dtype 'Q7'");
  }
  SUBCASE("byte count that disagrees with dtype and shape") {
    expect_refused(m.model, with_entry(1, entry("0.weight", "F16", "[4, 3]", 16, 64)),
                   StatusCode::kCorruptData, "48 bytes of data, its dtype and shape need 12 x 2");
  }
  SUBCASE("offsets outside the data, consistent count") {
    expect_refused(m.model, with_entry(5, entry("3.weight", "F32", "[2, 4]", 108, 140)),
                   StatusCode::kCorruptData, "outside the 136 bytes of data");
  }
  SUBCASE("overlapping ranges") {
    expect_refused(m.model, with_entry(1, entry("0.weight", "F32", "[4, 3]", 12, 60)),
                   StatusCode::kCorruptData, "overlap");
  }
  SUBCASE("a gap, and data past the last tensor") {
    std::vector<unsigned char> more = k.data;
    put_f32(more, 1.0f);
    expect_refused(m.model, st_file(join(k.entries), more), StatusCode::kCorruptData,
                   "the tensors end at byte 136 of the data, the file has 140");
    std::vector<std::string> entries = k.entries;
    entries.erase(entries.begin() + 2);  // 2.bias, 64..80
    entries.push_back(entry("2.bias", "F32", "[4]", 140, 156));
    more.resize(more.size() + 16, 0);  // 140..156
    expect_refused(m.model, st_file(join(entries), more), StatusCode::kCorruptData,
                   "bytes 64 to 80 of the data belong to no tensor");
  }
  SUBCASE("begin after end") {
    expect_refused(m.model, with_entry(1, entry("0.weight", "F32", "[4, 3]", 64, 16)),
                   StatusCode::kCorruptData, "begin after end");
  }
  SUBCASE("duplicate tensor") {
    std::vector<std::string> entries = k.entries;
    entries.push_back(entries[1]);
    expect_refused(m.model, st_file(join(entries), k.data), StatusCode::kCorruptData,
                   "'0.weight' appears twice");
  }
  SUBCASE("entries that are not tensor entries") {
    expect_refused(m.model, with_entry(1, "\"0.weight\": {\"dtype\": \"F32\", \"shape\": [4, 3]}"),
                   StatusCode::kCorruptData, "lacks data_offsets");
    expect_refused(m.model,
                   with_entry(1, "\"0.weight\": {\"dtype\": \"F32\", \"dtype\": \"F32\", \"shape\": "
                                 "[4, 3], \"data_offsets\": [16, 64]}"),
                   StatusCode::kCorruptData, "repeated key 'dtype'");
    expect_refused(m.model, with_entry(1, "\"0.weight\": [1, 2]"), StatusCode::kCorruptData,
                   "expected '{'");
    expect_refused(m.model, with_entry(1, entry("0.weight", "F32", "[4, -3]", 16, 64)),
                   StatusCode::kCorruptData, "expected a non-negative integer");
    expect_refused(m.model, with_entry(1, entry("0.weight", "F32", "[4, 3.0]", 16, 64)),
                   StatusCode::kCorruptData, "found a fraction");
    expect_refused(m.model, with_entry(1, entry("0.weight", "F32", "[4, 99999999999999999999]", 16, 64)),
                   StatusCode::kCorruptData, "does not fit 64 bits");
    expect_refused(m.model, with_entry(1, entry("0.weight", "F32", "[4294967296, 4294967296]", 16, 64)),
                   StatusCode::kCorruptData, "overflows 64 bits");
  }
  SUBCASE("a header that is not JSON") {
    const char* bad[] = {"not json", "{", "{\"0.weight\"}", "{\"a\": {}} x", "{\"__metadata__\": {\"k\": tru}}",
                         "{\"__metadata__\": {\"k\": \"\\q\"}}", "{\"__metadata__\": [1, 2,]}",
                         "{\"__metadata__\": \"\\ud800\"}", "[]", ""};
    for (const char* h : bad) {
      CAPTURE(h);
      expect_refused(m.model, st_file(h, k.data), StatusCode::kCorruptData, "safetensors");
    }
  }
  SUBCASE("the tokenizer's own limits and rules, each named") {
    const std::string deep = "{\"__metadata__\": " + std::string(65, '[') + std::string(65, ']') + "}";
    const std::string control = std::string("{\"__metadata__\": \"a") + '\n' + "\"}";
    const struct {
      std::string header;
      const char* message;
    } cases[] = {
        {deep, "nesting deeper than 64 levels"},
        {"{\"__metadata__\": \"\\udc00\"}", "lone low surrogate"},
        {"{\"__metadata__\": \"\\ud800x\"}", "lone high surrogate"},
        {"{\"__metadata__\": \"\\u12g4\"}", "bad \\u escape"},
        {control, "control character in a string"},
        {"{" + entry("0.weight", "F32", "[04, 3]", 16, 64) + "}", "leading zero"},
        {"{} {}", "trailing characters after the header object"},
        {"{\"__metadata__\": nul}", "unknown literal"},
        {"{\"__metadata__\": -}", "expected a value"},
    };
    for (const auto& c : cases) {
      CAPTURE(c.header);
      expect_refused(m.model, st_file(c.header, k.data), StatusCode::kCorruptData, c.message);
    }
  }
  SUBCASE("metadata of any JSON is skipped") {
    std::vector<std::string> entries = k.entries;
    entries.push_back("\"__metadata__\": {\"a\": [1, -2.5e3, {\"b\": null}, true, false], \"c\": \"\\u00e9\\ud83d\\ude00\"}");
    const std::vector<unsigned char> file = st_file(join(entries), k.data);
    // Two __metadata__ entries: both skipped.
    CHECK(load_safetensors(m.model, memory_source(file.data(), file.size())).ok());
  }
  SUBCASE("header length past the file, or past the format's cap") {
    std::vector<unsigned char> file = st_file(join(k.entries), k.data);
    file[0] = 0xff;
    file[1] = 0xff;
    expect_refused(m.model, file, StatusCode::kCorruptData, "does not fit the file's");
    std::vector<unsigned char> capped = file;
    const std::uint64_t n = kSafetensorsMaxHeaderBytes + 1;
    for (int i = 0; i < 8; ++i) capped[i] = static_cast<unsigned char>(n >> (8 * i));
    expect_refused(m.model, capped, StatusCode::kCorruptData, "cap of 100000000");
    const std::vector<unsigned char> tiny(7, 0);
    expect_refused(m.model, tiny, StatusCode::kCorruptData, "fewer than the 8");
  }
  SUBCASE("non-finite values in each dtype") {
    std::vector<unsigned char> data = k.data;
    put_f32(data, NAN);
    std::vector<std::string> entries = k.entries;
    expect_refused(m.model, [&] {
      std::vector<unsigned char> d = k.data;
      const float inf = INFINITY;
      std::memcpy(d.data() + 16 + 4 * 5, &inf, 4);  // 0.weight element 5
      return st_file(join(entries), d);
    }(), StatusCode::kNonFinite, "'0.weight' element 5 is not finite");
    constexpr ModelSpec one = ModelSpec::input(1, 1).dense(2);
    ModelInArena h(one);
    REQUIRE(h.status.ok());
    const std::string header =
        "{" + entry("0.weight", "F16", "[2, 1]", 0, 4) + "," + entry("0.bias", "BF16", "[2]", 4, 8) + "}";
    std::vector<unsigned char> d;
    put_u16(d, 0x3c00);
    put_u16(d, 0x7c00);  // F16 +Inf
    put_u16(d, 0x3f80);
    put_u16(d, 0x3f80);
    expect_refused(h.model, st_file(header, d), StatusCode::kNonFinite, "'0.weight' element 1");
    d[2] = 0x00;
    d[3] = 0x3c;
    d[6] = 0xc1;
    d[7] = 0x7f;  // BF16 NaN
    expect_refused(h.model, st_file(header, d), StatusCode::kNonFinite, "'0.bias' element 1");
  }
  SUBCASE("too many tensors the model does not use") {
    std::vector<std::string> entries = k.entries;
    for (std::uint32_t i = 0; i <= kSafetensorsMaxOtherTensors; ++i) {
      entries.push_back(entry("extra" + std::to_string(i), "F32", "[0]", 0, 0));
    }
    expect_refused(m.model, st_file(join(entries), k.data), StatusCode::kCorruptData,
                   "more than 64 tensors");
    entries.pop_back();  // 64 others (zero elements) load
    const std::vector<unsigned char> file = st_file(join(entries), k.data);
    CHECK(load_safetensors(m.model, memory_source(file.data(), file.size())).ok());
  }
  SUBCASE("every truncation of a good file") {
    const std::vector<unsigned char> file = st_file(join(k.entries), k.data);
    for (std::size_t n = 0; n < file.size(); ++n) {
      std::vector<unsigned char> cut(file.begin(), file.begin() + static_cast<std::ptrdiff_t>(n));
      const std::vector<float> before = all_values(m.model);
      const Status s = load_safetensors(m.model, memory_source(cut.data(), cut.size()));
      CHECK_MESSAGE(s.code() == StatusCode::kCorruptData, n);
      CHECK(bits_equal(all_values(m.model), before));
    }
  }
  SUBCASE("a source that changes between the validation and copy passes") {
    // The second read of 0.weight's data finds a NaN in it: kIoError, the
    // one error after which the weights may be partly written.
    struct Changing {
      std::vector<unsigned char> file;
      std::size_t watched = 0;
      int reads = 0;
    } changing;
    changing.file = st_file(join(k.entries), k.data);
    changing.watched = changing.file.size() - k.data.size() + 16;  // 0.weight's first byte
    ByteSource source;
    source.context = &changing;
    source.size = changing.file.size();
    source.read = [](void* context, std::size_t offset, void* out, std::size_t bytes) {
      Changing& c = *static_cast<Changing*>(context);
      if (offset == c.watched && ++c.reads == 2) {
        const float nan = NAN;
        std::memcpy(c.file.data() + offset, &nan, 4);
      }
      std::memcpy(out, c.file.data() + offset, bytes);
      return Status();
    };
    const Status s = load_safetensors(m.model, source);
    CHECK(s.code() == StatusCode::kIoError);
    CHECK_MESSAGE(contains(s, "changed or failed after validation"), std::string(s.message()));
  }
  SUBCASE("a source that fails, or is missing") {
    const std::vector<unsigned char> file = st_file(join(k.entries), k.data);
    ByteSource failing = memory_source(file.data(), file.size());
    failing.read = [](void*, std::size_t, void*, std::size_t) {
      return Status::error(StatusCode::kIoError, "flash read failed");
    };
    const std::vector<float> before = all_values(m.model);
    CHECK(load_safetensors(m.model, failing).code() == StatusCode::kIoError);
    failing.read = nullptr;
    CHECK(load_safetensors(m.model, failing).code() == StatusCode::kInvalidArgument);
    CHECK(bits_equal(all_values(m.model), before));
  }
}

TEST_CASE("safetensors: the writer's bytes, and the round trip is bit-identical") {
  constexpr ModelSpec spec = ModelSpec::input(3, 1).dense(2);
  ReadyModel m(spec, 3);
  const std::vector<unsigned char> file = save(m.model);
  const std::string json =
      "{\"0.weight\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]},"
      "\"0.bias\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[24,32]}}";
  const std::size_t header = (json.size() + 7) / 8 * 8;
  REQUIRE(file.size() == 8 + header + 32);
  std::uint64_t n = 0;
  for (int i = 0; i < 8; ++i) n |= std::uint64_t{file[i]} << (8 * i);
  CHECK(n == header);
  CHECK(std::string(file.begin() + 8, file.begin() + 8 + static_cast<std::ptrdiff_t>(json.size())) == json);
  for (std::size_t i = json.size(); i < header; ++i) CHECK(file[8 + i] == ' ');
  // Data: W as [out][in] (PyTorch), then b.
  const Span<float> w = m.model.tensor(0).value;
  for (int o = 0; o < 2; ++o) {
    for (int i = 0; i < 3; ++i) {
      CHECK(std::memcmp(file.data() + 8 + header + 4 * (o * 3 + i), &w[i * 2 + o], 4) == 0);
    }
    CHECK(std::memcmp(file.data() + 8 + header + 24 + 4 * o, &m.model.tensor(1).value[o], 4) == 0);
  }
}

TEST_CASE("safetensors: tern -> safetensors -> tern is bit-identical, with no heap") {
  ReadyModel a(kSpec, 11);
  for (std::uint32_t t = 0; t < a.model.tensor_count(); ++t) {
    for (float& v : a.model.tensor(t).value) v = v * 3.0f + 1e-39f;  // subnormal offsets too
  }
  const std::vector<unsigned char> file = save(a.model);
  ReadyModel b(kSpec, 12);
  REQUIRE_FALSE(bits_equal(all_values(a.model), all_values(b.model)));
  std::vector<unsigned char> again_bytes(file.size());
  {
    MemorySink sink(again_bytes.data(), again_bytes.size());
    tern::test::HeapAllocationScope heap;
    const Status loaded = load_safetensors(b.model, memory_source(file.data(), file.size()));
    const Status saved = save_safetensors(b.model, sink.sink());
    CHECK(heap.count() == 0);
    REQUIRE_MESSAGE(loaded.ok(), std::string(loaded.message()));
    REQUIRE(saved.ok());
    CHECK(again_bytes == file);
  }
  CHECK(bits_equal(all_values(a.model), all_values(b.model)));
  // With names of the caller's choice.
  const char* names[6] = {"fc1.weight", "fc1.bias", "n\\\"x", "norm.bias", "fc2.weight", "fc2.bias"};
  const std::vector<unsigned char> named = save(a.model, names, 6);
  ReadyModel c(kSpec, 13);
  const Status s = load_safetensors(c.model, memory_source(named.data(), named.size()), names, 6);
  REQUIRE_MESSAGE(s.ok(), std::string(s.message()));
  CHECK(bits_equal(all_values(a.model), all_values(c.model)));
}

TEST_CASE("safetensors: the writer refuses what it cannot write, writing nothing") {
  ReadyModel m(kSpec, 5);
  m.model.tensor(2).value[1] = NAN;
  std::vector<unsigned char> out(4096);
  MemorySink sink(out.data(), out.size());
  const Status s = save_safetensors(m.model, sink.sink());
  CHECK(s.code() == StatusCode::kNonFinite);
  CHECK_MESSAGE(contains(s, "'2.weight' element 1"), std::string(s.message()));
  CHECK(sink.size() == 0);
  m.model.tensor(2).value[1] = 1.0f;
  MemorySink small(out.data(), 100);
  CHECK(save_safetensors(m.model, small.sink()).code() == StatusCode::kOutOfMemory);
  CHECK(save_safetensors(m.model, ByteSink{}).code() == StatusCode::kInvalidArgument);
  const char* names[2] = {"a", "b"};
  CHECK(save_safetensors(m.model, sink.sink(), names, 2).code() == StatusCode::kInvalidArgument);
  Status sized;
  CHECK(safetensors_bytes(m.model, names, 2, &sized) == 0);
  CHECK(sized.code() == StatusCode::kInvalidArgument);
  Model unbuilt;
  CHECK(save_safetensors(unbuilt, sink.sink()).code() == StatusCode::kFailedPrecondition);
}

#if TERN_HAS_OS
TEST_CASE("safetensors: files, written atomically") {
  const std::string dir = tern::test::temp_dir("safetensors");
  const std::string path = dir + "/model.safetensors";
  ReadyModel a(kSpec, 21);
  REQUIRE(save_safetensors_file(a.model, path.c_str()).ok());
  CHECK(tern::test::slurp_file(path) == save(a.model));
  ReadyModel b(kSpec, 22);
  const Status s = load_safetensors_file(b.model, path.c_str());
  REQUIRE_MESSAGE(s.ok(), std::string(s.message()));
  CHECK(bits_equal(all_values(a.model), all_values(b.model)));
  // A refused save leaves the file and creates nothing.
  b.model.tensor(0).value[0] = INFINITY;
  CHECK(save_safetensors_file(b.model, path.c_str()).code() == StatusCode::kNonFinite);
  CHECK(tern::test::slurp_file(path) == save(a.model));
  CHECK(tern::test::names_in(dir).size() == 1);
  CHECK(load_safetensors_file(b.model, dir.c_str()).code() == StatusCode::kInvalidArgument);
  CHECK(load_safetensors_file(b.model, (dir + "/absent").c_str()).code() == StatusCode::kIoError);
  std::remove(path.c_str());
  ::rmdir(dir.c_str());
}
#endif
