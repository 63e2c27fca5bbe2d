// SPDX-License-Identifier: Apache-2.0
// CRC-32 (runtime/src/crc32.cpp) against published check values, zlib, and
// a bit-at-a-time implementation written from the definition.
#include <doctest/doctest.h>
#if TERN_TEST_HAVE_ZLIB
#include <zlib.h>
#endif

#include <cstdint>
#include <cstring>
#include <vector>

#include "tern/runtime/crc32.h"
#include "tern/runtime/rng.h"

using tern::crc32;

namespace {

// The definition, one bit at a time: the register starts at all ones, each
// input bit (least significant first) is shifted in against the reflected
// IEEE polynomial, and the result is inverted. No table.
std::uint32_t crc32_bitwise(const unsigned char* data, std::size_t n) {
  std::uint32_t reg = 0xFFFFFFFFu;
  for (std::size_t i = 0; i < n; ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      const std::uint32_t in = (data[i] >> bit) & 1u;
      const bool feedback = ((reg ^ in) & 1u) != 0;
      reg >>= 1;
      if (feedback) reg ^= 0xEDB88320u;
    }
  }
  return ~reg;
}

std::vector<unsigned char> random_bytes(std::size_t n, std::uint64_t seed) {
  tern::Rng rng(seed);
  std::vector<unsigned char> out(n);
  for (auto& b : out) b = static_cast<unsigned char>(rng.next_u32());
  return out;
}

}  // namespace

TEST_CASE("crc32: published check values") {
  // The catalogue check value of CRC-32/ISO-HDLC (zlib, gzip, PNG).
  CHECK(crc32("123456789", 9) == 0xCBF43926u);
  CHECK(crc32("", 0) == 0x00000000u);
  CHECK(crc32(nullptr, 0) == 0x00000000u);
  CHECK(crc32("a", 1) == 0xE8B7BE43u);
  const char* fox = "The quick brown fox jumps over the lazy dog";
  CHECK(crc32(fox, std::strlen(fox)) == 0x414FA339u);
}

TEST_CASE("crc32: agrees with the bitwise definition at every length up to 300") {
  const std::vector<unsigned char> data = random_bytes(300, 7);
  for (std::size_t n = 0; n <= data.size(); ++n) {
    CAPTURE(n);
    REQUIRE(crc32(data.data(), n) == crc32_bitwise(data.data(), n));
  }
  // Every single byte value, so every table entry is exercised.
  for (unsigned v = 0; v < 256; ++v) {
    const unsigned char b = static_cast<unsigned char>(v);
    CAPTURE(v);
    REQUIRE(crc32(&b, 1) == crc32_bitwise(&b, 1));
  }
}

#if TERN_TEST_HAVE_ZLIB
TEST_CASE("crc32: agrees with zlib") {
  const std::vector<unsigned char> data = random_bytes(5000, 3);
  for (std::size_t n : {1u, 7u, 64u, 255u, 256u, 257u, 999u, 5000u}) {
    CAPTURE(n);
    CHECK(crc32(data.data(), n) == ::crc32(0L, data.data(), static_cast<uInt>(n)));
  }
}
#endif

TEST_CASE("crc32: incremental over any split equals one pass") {
  const std::vector<unsigned char> data = random_bytes(1000, 11);
  const std::uint32_t whole = crc32(data.data(), data.size());
  for (std::size_t split : {0u, 1u, 3u, 300u, 999u, 1000u}) {
    CAPTURE(split);
    CHECK(crc32(data.data() + split, data.size() - split, crc32(data.data(), split)) == whole);
  }
  // Three pieces, as the model file writer feeds it chunk by chunk.
  std::uint32_t running = 0;
  for (std::size_t at = 0; at < data.size(); at += 256) {
    const std::size_t n = data.size() - at < 256 ? data.size() - at : 256;
    running = crc32(data.data() + at, n, running);
  }
  CHECK(running == whole);
}
