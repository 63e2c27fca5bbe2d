// SPDX-License-Identifier: Apache-2.0
// tern/platform/status.h — how every layer of tern reports failure.
//
// Why a status object and not exceptions: tern's library code must build with
// -fno-exceptions -fno-rtti so that it can run inside firmware. Every fallible
// call therefore returns a Status. A Status carries a machine-readable code and
// a short human-readable message with the numbers that matter ("needs 4096
// bytes, 1024 free"), formatted into a fixed buffer inside the object: no heap,
// no global "last error" state, safe to use from several threads.
//
// Success costs one byte store; the message is only formatted on failure.
#pragma once

#include <cstddef>
#include <cstdint>

namespace tern {

enum class StatusCode : std::uint8_t {
  kOk = 0,
  kInvalidArgument,   // null pointer, bad stride, zero where not allowed
  kShapeMismatch,     // dimensions of two operands do not agree
  kMisaligned,        // a pointer that must be aligned is not
  kOutOfMemory,       // arena (never the heap) has too little space left
  kUnsupportedIsa,    // ISA unknown, not built, or not supported by this CPU
  kNonFinite,         // NaN or Inf where finite data is required
  kCorruptData,       // a file or buffer failed validation (magic, checksum)
  kIoError,           // reading or writing storage failed
  kFailedPrecondition // called in the wrong state (e.g. not initialised)
};

// Stable lower-case name of a code, e.g. "out_of_memory".
const char* status_code_name(StatusCode code);

class Status {
 public:
  static constexpr std::size_t kMessageCapacity = 160;

  constexpr Status() : code_(StatusCode::kOk), message_{} {}

  // printf-style message; truncated (never overflowed) at kMessageCapacity-1.
  static Status error(StatusCode code, const char* format, ...)
#if defined(__GNUC__)
      __attribute__((format(printf, 2, 3)))
#endif
      ;

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  // Empty string for success; never null.
  const char* message() const { return message_; }

 private:
  StatusCode code_;
  char message_[kMessageCapacity];
};

// A float as a %g, %e or %f argument of Status::error: the double
// static_cast<double>(v) gives (a NaN quietened), made from v's bits. On a
// core whose FPU is single precision only (Cortex-M4F) the cast is libgcc's
// __aeabi_f2d, which links libgcc's double add/sub with it: about 1 KB of
// flash for a firmware whose only double is a number in an error message.
double format_arg(float v);

}  // namespace tern

// Propagate a failure to the caller.
#define TERN_RETURN_IF_ERROR(expr)              \
  do {                                          \
    ::tern::Status tern_status_tmp_ = (expr);   \
    if (!tern_status_tmp_.ok()) return tern_status_tmp_; \
  } while (0)
