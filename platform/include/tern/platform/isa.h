// SPDX-License-Identifier: Apache-2.0
// tern/platform/isa.h — which instruction sets exist, which this CPU runs.
//
// tern ships one kernel table per ISA and picks one at run time. This header
// only answers the hardware question ("can this CPU, under this OS, execute
// AVX-512?"); which tables were compiled in, and which one is active, is the
// kernels layer's business (tern/kernels/isa_selection.h). The list of ISAs
// itself is tern/platform/isa_list.h.
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

// One enumerator per line of tern/platform/isa_list.h, in its order.
enum class Isa : std::uint8_t {
#define TERN_ISA_X(enumerator, name, vector_bits) enumerator,
#include "tern/platform/isa_list.h"
#undef TERN_ISA_X
};
constexpr int kIsaCount = 0
#define TERN_ISA_X(enumerator, name, vector_bits) +1
#include "tern/platform/isa_list.h"
#undef TERN_ISA_X
    ;

using IsaMask = std::uint32_t;
constexpr IsaMask isa_bit(Isa isa) { return IsaMask{1} << static_cast<unsigned>(isa); }
// One bit per ISA; fewer than 32, so a mask of every ISA is computable.
static_assert(kIsaCount < 32, "an IsaMask has one bit per ISA");

// Width of one vector register of `isa`, in bits (isa_list.h).
constexpr int isa_vector_bits(Isa isa) {
  switch (isa) {
#define TERN_ISA_X(enumerator, name, vector_bits) \
  case Isa::enumerator: return vector_bits;
#include "tern/platform/isa_list.h"
#undef TERN_ISA_X
  }
  return 0;
}

namespace detail {
// The ISAs ordered widest vectors first; equal widths keep list order.
struct IsaOrder {
  Isa isa[kIsaCount];
  constexpr const Isa* begin() const { return isa; }
  constexpr const Isa* end() const { return isa + kIsaCount; }
};
constexpr IsaOrder widest_first() {
  IsaOrder order{};
  for (int i = 0; i < kIsaCount; ++i) {
    // Insertion sort: a handful of entries, evaluated at compile time.
    const Isa next = static_cast<Isa>(i);
    int at = i;
    while (at > 0 && isa_vector_bits(order.isa[at - 1]) < isa_vector_bits(next)) {
      order.isa[at] = order.isa[at - 1];
      --at;
    }
    order.isa[at] = next;
  }
  return order;
}
}  // namespace detail

// Preference order when nothing is requested: widest vectors first.
constexpr detail::IsaOrder kIsaPreference = detail::widest_first();

// The ISA's name in isa_list.h: "scalar", "avx2", ...
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
// a target without an OS. A set but empty variable gives "" (which no ISA is
// named, so the kernels report it like any other unknown value).
const char* isa_request_from_environment();

}  // namespace tern
