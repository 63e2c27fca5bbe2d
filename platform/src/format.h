// SPDX-License-Identifier: Apache-2.0
// platform/src/format.h — tern's own printf-style formatter, private to the
// platform layer. Status::error uses it on targets without an OS.
//
// Why not vsnprintf there: newlib-nano, the C library of small Cortex-M
// firmware, leaves out C99 length modifiers (a "%zu" prints as "zu"), prints
// nothing for floats unless the firmware links its float support, and its
// vsnprintf references malloc. tern's messages must stay readable on a
// microcontroller and tern must not pull a heap into firmware, so bare-metal
// builds format messages here: a few hundred bytes of code, no allocation,
// no locale, no global state.
//
// Supported: flags - 0 + space, width and precision (numbers or *), length
// modifiers hh h l ll z j t, conversions d i u o x X c s p %, and f e g
// (and upper-case forms) with at most 9 decimals (more are printed as
// zeros), worked out in 64-bit integer arithmetic, never in double (a
// Cortex-M4F has no double-precision FPU: soft-float routines would cost
// about 3 KB of flash) — %f exact below 1e18, e and g scaled with a 64-bit
// mantissa: diagnostics, not data. Anything else is copied literally.
#pragma once

#include <cstdarg>
#include <cstddef>

namespace tern::detail {

// vsnprintf semantics: writes at most capacity-1 characters plus a NUL
// (when capacity > 0) and returns the length the full output would have.
int vformat(char* out, std::size_t capacity, const char* format, std::va_list args);

int format(char* out, std::size_t capacity, const char* format, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

}  // namespace tern::detail
