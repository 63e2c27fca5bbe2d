// SPDX-License-Identifier: Apache-2.0
// CRC-32 (tern/runtime/crc32.h), one table lookup per byte.
#include "tern/runtime/crc32.h"

namespace tern {
namespace {

// 0xEDB88320 is the IEEE 802.3 generator 0x04C11DB7 with its bits reversed:
// the reflected form processes each byte least significant bit first, as
// zlib does, so the same bytes give zlib's checksum.
constexpr std::uint32_t kReflectedPolynomial = 0xEDB88320u;

// One entry per byte value (256): the register after that byte has been
// shifted through eight steps of the polynomial.
struct CrcTable {
  std::uint32_t entry[256];
};

constexpr CrcTable build_table() {
  CrcTable table{};
  for (std::uint32_t byte = 0; byte < 256; ++byte) {
    std::uint32_t reg = byte;
    for (int step = 0; step < 8; ++step) {
      reg = (reg & 1u) != 0 ? (reg >> 1) ^ kReflectedPolynomial : reg >> 1;
    }
    table.entry[byte] = reg;
  }
  return table;
}

// Computed at compile time: 1 KiB of read-only data, no start-up code.
constexpr CrcTable kTable = build_table();

}  // namespace

std::uint32_t crc32(const void* data, std::size_t bytes, std::uint32_t crc) {
  const auto* in = static_cast<const unsigned char*>(data);
  // The register is kept inverted; inverting on entry and exit lets the
  // previous result continue a running checksum.
  std::uint32_t reg = ~crc;
  for (std::size_t i = 0; i < bytes; ++i) reg = kTable.entry[(reg ^ in[i]) & 0xffu] ^ (reg >> 8);
  return ~reg;
}

}  // namespace tern
