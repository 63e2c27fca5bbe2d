// SPDX-License-Identifier: Apache-2.0
// The IDX reader of the examples (examples/data/idx.h), on small generated
// .gz files: exact reads, exact errors for every malformed header, and the
// gzip reader on plain and missing files.
#include <doctest/doctest.h>
#include <zlib.h>

#include <cstdio>
#include <string>
#include <vector>

#include "data/idx.h"
#include "test_util.h"

using tern::StatusCode;
using tern::test::contains;
namespace data = tern::data;

namespace {

std::vector<unsigned char> idx(unsigned char type, std::vector<std::uint32_t> dims,
                               std::vector<unsigned char> payload) {
  std::vector<unsigned char> b = {0, 0, type, static_cast<unsigned char>(dims.size())};
  for (std::uint32_t d : dims) {
    for (int s = 24; s >= 0; s -= 8) b.push_back(static_cast<unsigned char>(d >> s));
  }
  b.insert(b.end(), payload.begin(), payload.end());
  return b;
}

void write_gz(const std::string& path, const std::vector<unsigned char>& bytes) {
  gzFile f = gzopen(path.c_str(), "wb");
  REQUIRE(f != nullptr);
  REQUIRE(gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size())) == int(bytes.size()));
  REQUIRE(gzclose(f) == Z_OK);
}

}  // namespace

TEST_CASE("idx: reads a gzip'ed image/label pair exactly") {
  const std::string prefix = tern::test::temp_name("tiny");
  std::vector<unsigned char> pixels;
  for (int i = 0; i < 18; ++i) pixels.push_back(static_cast<unsigned char>(i * 15));
  write_gz(prefix + "-images-idx3-ubyte.gz", idx(0x08, {3, 2, 3}, pixels));
  write_gz(prefix + "-labels-idx1-ubyte.gz", idx(0x08, {3}, {2, 0, 9}));
  data::Dataset d;
  const tern::Status s = data::load_idx_pair(".", prefix.c_str(), 10, &d);
  REQUIRE_MESSAGE(s.ok(), s.message());
  CHECK(d.count == 3);
  CHECK(d.width == 6);
  REQUIRE(d.x.size() == 18);
  for (int i = 0; i < 18; ++i) CHECK(d.x[i] == float(i * 15) / 255.0f);
  CHECK(d.y == std::vector<std::uint32_t>{2, 0, 9});

  // Different image and label counts.
  write_gz(prefix + "-labels-idx1-ubyte.gz", idx(0x08, {2}, {2, 0}));
  CHECK(data::load_idx_pair(".", prefix.c_str(), 10, &d).code() == StatusCode::kShapeMismatch);
  // A label out of range.
  write_gz(prefix + "-labels-idx1-ubyte.gz", idx(0x08, {3}, {2, 10, 9}));
  const tern::Status range = data::load_idx_pair(".", prefix.c_str(), 10, &d);
  CHECK(range.code() == StatusCode::kCorruptData);
  CHECK(contains(range, "label 1 is 10, not below 10"));
  std::remove((prefix + "-images-idx3-ubyte.gz").c_str());
  std::remove((prefix + "-labels-idx1-ubyte.gz").c_str());
  CHECK(data::load_idx_pair(".", prefix.c_str(), 10, &d).code() == StatusCode::kIoError);
}

TEST_CASE("idx: bad magic, wrong sizes and truncation are errors") {
  std::vector<float> px;
  std::size_t count = 0, width = 0;
  auto images = [&](const std::vector<unsigned char>& b) {
    return data::parse_idx_images(b, "test", &px, &count, &width);
  };
  CHECK(images(idx(0x08, {1, 2, 2}, {1, 2, 3, 4})).ok());
  tern::Status s = images(idx(0x09, {1, 2, 2}, {1, 2, 3, 4}));  // signed bytes: not ours
  CHECK(s.code() == StatusCode::kCorruptData);
  CHECK(contains(s, "bad IDX magic 00 00 09 03"));
  CHECK(contains(images(idx(0x08, {4}, {1, 2, 3, 4})), "bad IDX magic"));  // 1-D, not images
  s = images(idx(0x08, {2, 2, 2}, {1, 2, 3, 4}));  // header says 8 bytes of data
  CHECK(contains(s, "the header describes 8 bytes of data, the file has 4"));
  CHECK(contains(images(idx(0x08, {1, 2, 2}, {1, 2, 3, 4, 5})), "the file has 5"));
  CHECK(contains(images(idx(0x08, {0, 2, 2}, {})), "dimension 0 is 0"));
  CHECK(contains(images({0, 0, 8}), "too short"));
  std::vector<unsigned char> cut = idx(0x08, {1, 2, 2}, {});
  cut.resize(9);
  CHECK(contains(images(cut), "truncated header"));
  std::vector<std::uint32_t> labels;
  CHECK(data::parse_idx_labels(idx(0x08, {1, 1, 1}, {1}), "l", 10, &labels).code() ==
        StatusCode::kCorruptData);
}

TEST_CASE("idx: exact errors for wrong magic, sizes and labels (bad-input catalogue)") {
  std::vector<float> px;
  std::size_t count = 0, width = 0;
  auto images = [&](const std::vector<unsigned char>& b) {
    return data::parse_idx_images(b, "img", &px, &count, &width);
  };
  auto is = [](const tern::Status& s, const std::string& message) {
    CHECK(s.code() == StatusCode::kCorruptData);
    CHECK(std::string(s.message()) == message);
  };
  is(images(idx(0x09, {1, 2, 2}, {1, 2, 3, 4})),
     "img: bad IDX magic 00 00 09 03 (expected 00 00 08 03: unsigned bytes, 3 dimensions)");
  is(images({0, 0, 8}), "img: 3 bytes, too short for IDX");
  std::vector<unsigned char> cut = idx(0x08, {1, 2, 2}, {});
  cut.resize(9);
  is(images(cut), "img: truncated header");
  is(images(idx(0x08, {2, 2, 2}, {1, 2, 3, 4})),
     "img: the header describes 8 bytes of data, the file has 4");
  is(images(idx(0x08, {1, 0, 2}, {})), "img: dimension 1 is 0");
  is(images(idx(0x08, {1, (1u << 28) + 1, 2}, {})), "img: dimension 1 is 268435457");
  // 2^28 * 2^28 * 2^8 = 2^64 wraps a 64-bit product to 0, which an empty
  // payload would match; the saturated count refuses it.
  is(images(idx(0x08, {1u << 28, 1u << 28, 1u << 8}, {})),
     "img: the header describes 1.845e+19 bytes of data, more than the reader's limit of "
     "268435456 (2^28)");
  is(images(idx(0x08, {1000, 1000, 1000}, {})),
     "img: the header describes 1e+09 bytes of data, more than the reader's limit of "
     "268435456 (2^28)");
  std::vector<std::uint32_t> labels;
  is(data::parse_idx_labels(idx(0x08, {3}, {2, 10, 9}), "lbl", 10, &labels),
     "lbl: label 1 is 10, not below 10");
  is(data::parse_idx_labels(idx(0x08, {2, 1}, {1, 2}), "lbl", 10, &labels),
     "lbl: bad IDX magic 00 00 08 02 (expected 00 00 08 01: unsigned bytes, 1 dimensions)");
}

TEST_CASE("idx: the readers take uncompressed files and report missing ones") {
  const std::string plain = tern::test::temp_name("plain-idx1");
  const std::vector<unsigned char> raw = idx(0x08, {2}, {7, 8});
  std::FILE* f = std::fopen(plain.c_str(), "wb");
  REQUIRE(f != nullptr);
  std::fwrite(raw.data(), 1, raw.size(), f);
  std::fclose(f);
  std::vector<std::uint32_t> back;
  REQUIRE(data::read_idx_labels(plain.c_str(), 10, &back).ok());
  CHECK(back == std::vector<std::uint32_t>{7, 8});
  std::remove(plain.c_str());
  const tern::Status missing = data::read_idx_labels("/nonexistent/file.gz", 10, &back);
  CHECK(missing.code() == StatusCode::kIoError);
  CHECK(std::string(missing.message()) ==
        "cannot open /nonexistent/file.gz: No such file or directory");
  CHECK(back == std::vector<std::uint32_t>{7, 8});  // untouched on error
}

TEST_CASE("idx: a gzip bomb is refused after the bytes its header describes") {
  // The header says 10 images of 28 x 28 (7 840 bytes); 100 MB of zeros
  // follow, about 100 KB compressed. The reader must stop one byte after
  // the 7 840, not decompress (or buffer) the 100 MB.
  const std::string path = tern::test::temp_name("bomb-idx3.gz");
  gzFile f = gzopen(path.c_str(), "wb1");
  REQUIRE(f != nullptr);
  const std::vector<unsigned char> header = idx(0x08, {10, 28, 28}, {});
  REQUIRE(gzwrite(f, header.data(), unsigned(header.size())) == int(header.size()));
  const std::vector<unsigned char> zeros(1 << 20, 0);
  for (int i = 0; i < 100; ++i) {
    REQUIRE(gzwrite(f, zeros.data(), unsigned(zeros.size())) == int(zeros.size()));
  }
  REQUIRE(gzclose(f) == Z_OK);
  std::vector<float> px;
  std::size_t count = 0, width = 0;
  const tern::Status s = data::read_idx_images(path.c_str(), &px, &count, &width);
  CHECK(s.code() == StatusCode::kCorruptData);
  CHECK(std::string(s.message()) ==
        path + ": the header describes 7840 bytes of data, the file has more (trailing bytes)");
  CHECK(px.empty());

  // The opposite: a header promising 2^28 bytes over 10 bytes of data costs
  // memory for the 10 (the output grows as data arrives), and says so.
  f = gzopen(path.c_str(), "wb");
  REQUIRE(f != nullptr);
  const std::vector<unsigned char> big = idx(0x08, {1u << 10, 1u << 9, 1u << 9}, std::vector<unsigned char>(10, 1));
  REQUIRE(gzwrite(f, big.data(), unsigned(big.size())) == int(big.size()));
  REQUIRE(gzclose(f) == Z_OK);
  const tern::Status short_data = data::read_idx_images(path.c_str(), &px, &count, &width);
  CHECK(std::string(short_data.message()) ==
        path + ": the header describes 268435456 bytes of data, the file has 10");
  std::remove(path.c_str());
}

TEST_CASE("idx: a corrupt gzip stream is corrupt data, with zlib's reason") {
  const std::string path = tern::test::temp_name("cut-idx1.gz");
  const std::vector<unsigned char> raw = idx(0x08, {4000}, std::vector<unsigned char>(4000, 3));
  write_gz(path, raw);
  // Cut the compressed file in the middle of its deflate stream.
  std::FILE* f = std::fopen(path.c_str(), "rb");
  REQUIRE(f != nullptr);
  std::vector<unsigned char> gz(1 << 16);
  gz.resize(std::fread(gz.data(), 1, gz.size(), f));
  std::fclose(f);
  REQUIRE(gz.size() > 20);
  f = std::fopen(path.c_str(), "wb");
  REQUIRE(f != nullptr);
  std::fwrite(gz.data(), 1, gz.size() - 12, f);
  std::fclose(f);
  std::vector<std::uint32_t> labels;
  const tern::Status s = data::read_idx_labels(path.c_str(), 10, &labels);
  CHECK(s.code() == StatusCode::kCorruptData);
  INFO(std::string(s.message()));
  CHECK(contains(s, (path + ": gzip: ").c_str()));
  std::remove(path.c_str());
}

TEST_CASE("idx: constant pixels are centred, not divided by a zero deviation") {
  data::Dataset train, test;
  train.x.assign(6000, 0.5f);
  test.x.assign(600, 0.25f);
  const data::Standardisation how = data::standardise(train, test);
  CHECK(how.constant);
  CHECK(how.deviation == 1.0);
  CHECK(how.mean == doctest::Approx(0.5));
  for (float v : train.x) CHECK(v == 0.0f);
  for (float v : test.x) CHECK(v == -0.25f);
  // Ordinary data: the deviation is used.
  train.x = {0.0f, 1.0f, 0.0f, 1.0f};
  test.x = {0.5f};
  const data::Standardisation spread = data::standardise(train, test);
  CHECK_FALSE(spread.constant);
  CHECK(spread.deviation == 0.5);
  CHECK(train.x == std::vector<float>{-1.0f, 1.0f, -1.0f, 1.0f});
  CHECK(test.x == std::vector<float>{0.0f});
}

TEST_CASE("idx: find_fashion_mnist names the first missing file") {
  const tern::Status s = data::find_fashion_mnist("/nonexistent");
  CHECK(s.code() == StatusCode::kIoError);
  CHECK(std::string(s.message()) ==
        "/nonexistent/train-images-idx3-ubyte.gz: No such file or directory");
}

TEST_CASE("idx: under a deep directory a message keeps its cause whole, and the file name") {
  // A name longer than a Status holds with the cause after it: the front of
  // the path goes (the last 64 characters stay), never the cause. Under a
  // long build directory the trailing-bytes message used to lose its end.
  const std::string deep = "/" + std::string(120, 'd') + "/sub/train-images-idx3-ubyte.gz";
  std::vector<unsigned char> bytes = idx(0x08, {1, 2, 2}, {1, 2, 3, 4});
  bytes.push_back(9);  // one byte past what the header describes
  std::vector<float> px;
  std::size_t count = 0, width = 0;
  const tern::Status s = data::parse_idx_images(bytes, deep.c_str(), &px, &count, &width);
  CHECK(s.code() == StatusCode::kCorruptData);
  const std::string tail = deep.substr(deep.size() - 64);
  CHECK(std::string(s.message()) ==
        tail + ": the header describes 4 bytes of data, the file has 5");
  CHECK(std::string(s.message()).find("/sub/train-images-idx3-ubyte.gz") != std::string::npos);
}
