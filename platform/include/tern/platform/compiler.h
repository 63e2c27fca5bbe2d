// SPDX-License-Identifier: Apache-2.0
// tern/platform/compiler.h — what tern needs to know about the compiler and
// the target architecture, in one place, so no other file tests compiler or
// architecture macros directly.
#pragma once

#if defined(__x86_64__) || defined(_M_X64) || defined(__i386__)
#define TERN_ARCH_X86 1
#else
#define TERN_ARCH_X86 0
#endif

#if defined(__aarch64__)
#define TERN_ARCH_AARCH64 1
#else
#define TERN_ARCH_AARCH64 0
#endif

#if defined(__arm__) && !defined(__aarch64__)
#define TERN_ARCH_ARM32 1
#else
#define TERN_ARCH_ARM32 0
#endif

// Bare metal: no operating system, so no getenv, no auxv, no files. Set by
// the Cortex-M toolchain file (or by hand for any other OS-less target).
#if defined(TERN_BARE_METAL) && TERN_BARE_METAL
#define TERN_HAS_OS 0
#else
#define TERN_HAS_OS 1
#endif

#if defined(__GNUC__) || defined(__clang__)
#define TERN_RESTRICT __restrict__
#define TERN_INLINE inline __attribute__((always_inline))
#define TERN_NOINLINE __attribute__((noinline))
#else
#define TERN_RESTRICT
#define TERN_INLINE inline
#define TERN_NOINLINE
#endif

// Fully unrolls the loop that follows over a register tile's rows or vectors
// (compile-time trip counts). Without it GCC 12 leaves the longer loops of
// the masked-tail tiles rolled, indexes the accumulator array at run time,
// so the array lives on the stack and every FMA step stores the whole tile
// back to memory (measured: gemm_rows 32x128x10 at a quarter of the FMA peak).
#if defined(__clang__)
#define TERN_UNROLL _Pragma("unroll")
#elif defined(__GNUC__)
#define TERN_UNROLL _Pragma("GCC unroll 64")
#else
#define TERN_UNROLL
#endif

namespace tern {
// Every arena allocation and every packed weight panel starts on this
// boundary: one cache line on the x86 and ARM cores tern targets, and the
// natural alignment of a 512-bit vector.
constexpr unsigned kCacheLine = 64;
}  // namespace tern
