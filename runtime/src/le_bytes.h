// SPDX-License-Identifier: Apache-2.0
// Private to the runtime: little-endian encoding of the fixed-width fields
// of the model file (model_file.cpp) and the checkpoint slots
// (checkpoint.cpp), and the bit pattern of a float (its payload encoding,
// and the digits of an exported literal in c_header_export.cpp). Byte by
// byte, so the file layout does not depend on the host's endianness or
// alignment.
#pragma once

#include <cstdint>
#include <cstring>

namespace tern::detail {

inline void put_u32(unsigned char* p, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<unsigned char>(v >> (8 * i));
}
inline void put_u64(unsigned char* p, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<unsigned char>(v >> (8 * i));
}
inline std::uint32_t get_u32(const unsigned char* p) {
  std::uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= std::uint32_t{p[i]} << (8 * i);
  return v;
}
inline std::uint64_t get_u64(const unsigned char* p) {
  std::uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= std::uint64_t{p[i]} << (8 * i);
  return v;
}

// IEEE-754 binary32 bits of a float and back (memcpy: no aliasing UB).
inline std::uint32_t float_bits(float f) {
  std::uint32_t bits;
  std::memcpy(&bits, &f, sizeof bits);
  return bits;
}
inline float bits_float(std::uint32_t bits) {
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}

}  // namespace tern::detail
