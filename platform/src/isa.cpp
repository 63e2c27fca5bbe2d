// SPDX-License-Identifier: Apache-2.0
#include "tern/platform/isa.h"

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "format.h"
#include "tern/platform/compiler.h"

#if TERN_ARCH_ARM32 && TERN_HAS_OS && defined(__linux__)
#include <sys/auxv.h>
#endif

namespace tern {

const char* isa_name(Isa isa) {
  switch (isa) {
#define TERN_ISA_X(enumerator, name, vector_bits) \
  case Isa::enumerator: return #name;
#include "tern/platform/isa_list.h"
#undef TERN_ISA_X
  }
  return "invalid";
}

namespace {

// Every ISA of isa_list.h (kIsaCount < 32, isa.h).
constexpr IsaMask kEveryIsa = (IsaMask{1} << kIsaCount) - 1;

// Writes the names of the ISAs in `mask`, in list order, with `separator`
// between them. Stops before a name that does not fit. Always NUL-terminates (capacity > 0).
void join_isa_names(IsaMask mask, const char* separator, char* out, std::size_t capacity) {
  out[0] = '\0';
  std::size_t used = 0;
  for (int i = 0; i < kIsaCount; ++i) {
    const Isa isa = static_cast<Isa>(i);
    if ((mask & isa_bit(isa)) == 0) continue;
    const int n = detail::format(out + used, capacity - used, "%s%s", used ? separator : "",
                                 isa_name(isa));
    if (n < 0 || static_cast<std::size_t>(n) >= capacity - used) {
      out[used] = '\0';  // drop the truncated name
      break;
    }
    used += static_cast<std::size_t>(n);
  }
}

}  // namespace

Status parse_isa(const char* text, Isa* out) {
  if (text == nullptr || out == nullptr) {
    return Status::error(StatusCode::kInvalidArgument, "parse_isa: null argument");
  }
  for (int i = 0; i < kIsaCount; ++i) {
    const Isa isa = static_cast<Isa>(i);
    if (std::strcmp(text, isa_name(isa)) == 0) {
      *out = isa;
      return Status();
    }
  }
  // Room for every name of isa_list.h (a few letters each) and ", ".
  char names[128];
  join_isa_names(kEveryIsa, ", ", names, sizeof names);
  return Status::error(StatusCode::kUnsupportedIsa, "unknown ISA '%.40s': expected one of %s",
                       text, names);
}

void format_isa_mask(IsaMask mask, char* out, std::size_t capacity) {
  if (capacity == 0) return;
  if ((mask & kEveryIsa) == 0) {
    detail::format(out, capacity, "(none)");
    return;
  }
  join_isa_names(mask, " ", out, capacity);
}

#if TERN_ARCH_X86
namespace {

struct CpuidRegs {
  std::uint32_t eax, ebx, ecx, edx;
};

CpuidRegs cpuid(std::uint32_t leaf, std::uint32_t subleaf) {
  CpuidRegs r;
  __asm__ __volatile__("cpuid"
                       : "=a"(r.eax), "=b"(r.ebx), "=c"(r.ecx), "=d"(r.edx)
                       : "a"(leaf), "c"(subleaf));
  return r;
}

// XGETBV with ECX = 0 reads XCR0, the set of register states the OS saves.
// Encoded as bytes so that no -mxsave flag is needed for this file.
std::uint64_t xgetbv0() {
  std::uint32_t lo, hi;
  __asm__ __volatile__(".byte 0x0f, 0x01, 0xd0" : "=a"(lo), "=d"(hi) : "c"(0));
  return (std::uint64_t{hi} << 32) | lo;
}

constexpr bool bit(std::uint32_t reg, int n) { return (reg >> n) & 1u; }

}  // namespace

X86Features x86_features() {
  X86Features f;
  const CpuidRegs leaf0 = cpuid(0, 0);
  const std::uint32_t max_leaf = leaf0.eax;
  if (max_leaf < 1) return f;
  f.cpuid_ok = true;
  const CpuidRegs l1 = cpuid(1, 0);
  f.fma = bit(l1.ecx, 12);
  f.os_xsave = bit(l1.ecx, 27);
  f.avx = bit(l1.ecx, 28);
  f.f16c = bit(l1.ecx, 29);
  if (max_leaf >= 7) {
    const CpuidRegs l7 = cpuid(7, 0);
    f.avx2 = bit(l7.ebx, 5);
    f.avx512f = bit(l7.ebx, 16);
    f.avx512dq = bit(l7.ebx, 17);
    f.avx512cd = bit(l7.ebx, 28);
    f.avx512bw = bit(l7.ebx, 30);
    f.avx512vl = bit(l7.ebx, 31);
  }
  if (f.os_xsave) {
    const std::uint64_t xcr0 = xgetbv0();
    // bit 1: SSE (XMM) state, bit 2: AVX (upper YMM) state.
    f.os_ymm = (xcr0 & 0x6) == 0x6;
    // bits 5, 6, 7: opmask, upper 256 bits of ZMM0-15, ZMM16-31.
    f.os_zmm = f.os_ymm && (xcr0 & 0xe0) == 0xe0;
  }
  return f;
}

static IsaMask detect() {
  const X86Features f = x86_features();
  IsaMask mask = isa_bit(Isa::kScalar);
  if (f.os_ymm && f.avx && f.avx2 && f.fma) mask |= isa_bit(Isa::kAvx2);
  if ((mask & isa_bit(Isa::kAvx2)) && f.os_zmm && f.avx512f && f.avx512cd && f.avx512bw &&
      f.avx512dq && f.avx512vl) {
    mask |= isa_bit(Isa::kAvx512);
  }
  return mask;
}

void cpu_model(char* out, std::size_t capacity) {
  if (capacity == 0) return;
  char brand[49] = {};
  if (cpuid(0x80000000u, 0).eax >= 0x80000004u) {
    for (std::uint32_t i = 0; i < 3; ++i) {
      const CpuidRegs r = cpuid(0x80000002u + i, 0);
      std::memcpy(brand + 16 * i + 0, &r.eax, 4);
      std::memcpy(brand + 16 * i + 4, &r.ebx, 4);
      std::memcpy(brand + 16 * i + 8, &r.ecx, 4);
      std::memcpy(brand + 16 * i + 12, &r.edx, 4);
    }
  }
  const char* start = brand;
  while (*start == ' ') ++start;
  detail::format(out, capacity, "%s", *start ? start : "unknown x86-64");
}

#else  // not x86

X86Features x86_features() { return X86Features{}; }

static IsaMask detect() {
  IsaMask mask = isa_bit(Isa::kScalar);
#if TERN_ARCH_AARCH64
  mask |= isa_bit(Isa::kNeon);  // AdvSIMD with FMA is baseline in ARMv8-A
#elif TERN_ARCH_ARM32 && TERN_HAS_OS && defined(__linux__)
  // Linux ARM32 HWCAP bits: 1 << 12 is NEON, 1 << 16 is VFPv4 (fused MAC).
  const unsigned long hwcap = getauxval(AT_HWCAP);
  if ((hwcap & (1ul << 12)) && (hwcap & (1ul << 16))) mask |= isa_bit(Isa::kNeon);
#elif TERN_ARCH_ARM32 && defined(__ARM_NEON) && defined(__ARM_FEATURE_FMA)
  mask |= isa_bit(Isa::kNeon);  // bare metal: trust what the compiler targets
#endif
  return mask;
}

void cpu_model(char* out, std::size_t capacity) {
  if (capacity == 0) return;
  detail::format(out, capacity, "unknown");
#if TERN_HAS_OS && defined(__linux__)
  // Linux on ARM reports implementer/part numbers rather than a brand string.
  std::FILE* f = std::fopen("/proc/cpuinfo", "r");
  if (f == nullptr) return;
  char line[256];
  char implementer[32] = "?", part[32] = "?";
  while (std::fgets(line, sizeof line, f)) {
    char* colon = std::strchr(line, ':');
    if (colon == nullptr) continue;
    char* value = colon + 1;
    while (*value == ' ' || *value == '\t') ++value;
    value[std::strcspn(value, "\n")] = '\0';
    if (std::strncmp(line, "model name", 10) == 0 || std::strncmp(line, "Hardware", 8) == 0) {
      detail::format(out, capacity, "%s", value);
      break;
    }
    if (std::strncmp(line, "CPU implementer", 15) == 0) detail::format(implementer, sizeof implementer, "%s", value);
    if (std::strncmp(line, "CPU part", 8) == 0) detail::format(part, sizeof part, "%s", value);
  }
  std::fclose(f);
  if (std::strcmp(out, "unknown") == 0 && std::strcmp(part, "?") != 0) {
    detail::format(out, capacity, "ARM implementer %s part %s", implementer, part);
  }
#endif
}

#endif

namespace {
// 0 means "not computed yet"; a computed mask always has the scalar bit set.
std::atomic<IsaMask> g_cpu_isas{0};
std::atomic<IsaMask> g_injected{0};
}  // namespace

IsaMask cpu_isas() {
  const IsaMask injected = g_injected.load(std::memory_order_acquire);
  if (injected != 0) return injected;
  IsaMask mask = g_cpu_isas.load(std::memory_order_acquire);
  if (mask == 0) {
    mask = detect();  // idempotent: racing threads store the same value
    g_cpu_isas.store(mask, std::memory_order_release);
  }
  return mask;
}

void set_cpu_isas(IsaMask mask) {
  g_injected.store(mask == 0 ? 0 : (mask | isa_bit(Isa::kScalar)), std::memory_order_release);
}

const char* isa_request_from_environment() {
#if TERN_HAS_OS
  // Set but empty is a request too (and not an ISA name), so it is an error
  // like any other bad value: "TERN_ISA=" in a script is a mistake to report,
  // not a request for the default.
  return std::getenv("TERN_ISA");
#else
  return nullptr;
#endif
}

}  // namespace tern
