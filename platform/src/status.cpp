// SPDX-License-Identifier: Apache-2.0
#include "tern/platform/status.h"

#include <cstdarg>
#include <cstdio>

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

}  // namespace tern
