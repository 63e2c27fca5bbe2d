// tern/platform/isa.h — which instruction sets exist, which this CPU runs.
//
// tern ships one kernel table per ISA and picks one at run time. This header
// only answers the hardware question ("can this CPU, under this OS, execute
// AVX-512?"); which tables were compiled in, and which one is active, is the
// kernels layer's business (tern/kernels/dispatch.h).
//
// x86: CPUID says what the core implements, XGETBV says whether the OS saves
// the YMM/ZMM/opmask registers on a context switch. Both are needed: a CPU
// with AVX-512 under an OS that has not enabled ZMM state faults on the first
// AVX-512 instruction. Detection uses inline assembly only, no libc or OS call.
// aarch64: NEON (AdvSIMD, with FMA) is part of the base architecture.
// armv7 Linux: the kernel reports NEON and VFPv4 (which brings fused
// multiply-add) in getauxval(AT_HWCAP); tern's NEON kernels need both.
// Bare metal: there is nothing to ask. The firmware states what its core has
// with set_cpu_isas(); without that call only the ISAs the compiler was told
// the target has (e.g. -mfpu=neon-vfpv4) are assumed.
#pragma once

#include <cstddef>
#include <cstdint>

#include "tern/platform/status.h"

namespace tern {

enum class Isa : std::uint8_t {
  kScalar = 0,  // portable C++, std::fma; the reference and the fallback
  kAvx2 = 1,    // x86-64 with AVX2 + FMA3
  kAvx512 = 2,  // x86-64 with AVX-512 F, CD, BW, DQ, VL (Skylake-X and later)
  kNeon = 3,    // AArch64 AdvSIMD, or ARMv7 NEON with VFPv4
};
constexpr int kIsaCount = 4;

using IsaMask = std::uint32_t;
constexpr IsaMask isa_bit(Isa isa) { return IsaMask{1} << static_cast<unsigned>(isa); }

// Preference order when nothing is requested: widest vectors first.
constexpr Isa kIsaPreference[kIsaCount] = {Isa::kAvx512, Isa::kAvx2, Isa::kNeon, Isa::kScalar};

// "scalar", "avx2", "avx512", "neon".
const char* isa_name(Isa isa);

// Parses an ISA name (exact, lower case). Unknown names give
// kUnsupportedIsa with a message listing the valid names.
Status parse_isa(const char* text, Isa* out);

// Writes the names of the ISAs in `mask` separated by spaces, e.g.
// "scalar avx2 avx512". Always NUL-terminates (if capacity > 0).
void format_isa_mask(IsaMask mask, char* out, std::size_t capacity);

// ISAs this CPU and OS can execute. Always contains kScalar. Computed on the
// first call and cached; safe to call from several threads.
IsaMask cpu_isas();

// Bare-metal (and test) hook: replace detection by a mask the caller knows to
// be true for its core. kScalar is always added. Call before the first kernel
// runs. Passing 0 restores detection.
void set_cpu_isas(IsaMask mask);

// The raw x86 feature bits behind cpu_isas(), for diagnostics (tern-info).
struct X86Features {
  bool cpuid_ok = false;
  bool avx = false, fma = false, f16c = false, avx2 = false;
  bool avx512f = false, avx512cd = false, avx512bw = false, avx512dq = false, avx512vl = false;
  bool os_xsave = false;   // CPUID.1:ECX.OSXSAVE, XGETBV is usable
  bool os_ymm = false;     // XCR0 has SSE and AVX state
  bool os_zmm = false;     // XCR0 has opmask, ZMM_Hi256 and Hi16_ZMM state
};
// All false on non-x86 targets.
X86Features x86_features();

// CPU brand string (x86 CPUID 0x80000002..4); on other targets "unknown" or
// whatever the OS reports. Always NUL-terminates.
void cpu_model(char* out, std::size_t capacity);

// The value of the TERN_ISA environment variable, or nullptr when unset or on
// a target without an OS.
const char* isa_request_from_environment();

}  // namespace tern
