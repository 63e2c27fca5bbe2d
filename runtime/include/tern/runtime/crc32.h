// SPDX-License-Identifier: Apache-2.0
// tern/runtime/crc32.h — the checksum of model files and checkpoints.
#pragma once

#include <cstddef>
#include <cstdint>

namespace tern {

// CRC-32 with the IEEE 802.3 polynomial (reflected 0xEDB88320, initial and
// final XOR 0xFFFFFFFF), the checksum of zlib, gzip and PNG. Incremental:
// crc32(b, nb, crc32(a, na)) == crc32 of a followed by b.
std::uint32_t crc32(const void* data, std::size_t bytes, std::uint32_t crc = 0);

}  // namespace tern
