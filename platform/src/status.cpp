// SPDX-License-Identifier: Apache-2.0
#include "tern/platform/status.h"

#include <cstdarg>
#include <cstdio>
#include <cstring>

#include "format.h"
#include "tern/platform/compiler.h"

namespace tern {

const char* status_code_name(StatusCode code) {
  switch (code) {
    case StatusCode::kOk: return "ok";
    case StatusCode::kInvalidArgument: return "invalid_argument";
    case StatusCode::kShapeMismatch: return "shape_mismatch";
    case StatusCode::kMisaligned: return "misaligned";
    case StatusCode::kOutOfMemory: return "out_of_memory";
    case StatusCode::kUnsupportedIsa: return "unsupported_isa";
    case StatusCode::kNonFinite: return "non_finite";
    case StatusCode::kCorruptData: return "corrupt_data";
    case StatusCode::kIoError: return "io_error";
    case StatusCode::kFailedPrecondition: return "failed_precondition";
  }
  return "unknown";
}

Status Status::error(StatusCode code, const char* format, ...) {
  Status s;
  s.code_ = code;
  std::va_list args;
  va_start(args, format);
#if TERN_HAS_OS
  const int n = std::vsnprintf(s.message_, kMessageCapacity, format, args);
#else
  // newlib-nano's vsnprintf drops %zu and floats and references malloc (format.h).
  const int n = detail::vformat(s.message_, kMessageCapacity, format, args);
#endif
  va_end(args);
  if (n < 0) s.message_[0] = '\0';
  return s;
}

double format_arg(float v) {
  std::uint32_t b = 0;
  std::memcpy(&b, &v, sizeof b);
  const std::uint64_t sign = std::uint64_t{b >> 31} << 63;
  const std::uint32_t e = (b >> 23) & 0xffu;
  std::uint32_t m = b & 0x7fffffu;
  std::uint64_t d = sign;
  if (e == 0xffu) {  // infinity, or NaN with its payload and the quiet bit
    d |= std::uint64_t{0x7ff} << 52 | std::uint64_t{m} << 29 |
         (m != 0 ? std::uint64_t{1} << 51 : 0);
  } else if (e != 0) {
    d |= std::uint64_t{e + 1023 - 127} << 52 | std::uint64_t{m} << 29;
  } else if (m != 0) {  // subnormal float: a normal double
    std::uint32_t exponent = 1023 - 126;
    while ((m & 0x800000u) == 0) {
      m <<= 1;
      --exponent;
    }
    d |= std::uint64_t{exponent} << 52 | std::uint64_t{m & 0x7fffffu} << 29;
  }
  double out;
  std::memcpy(&out, &d, sizeof out);
  return out;
}

}  // namespace tern
