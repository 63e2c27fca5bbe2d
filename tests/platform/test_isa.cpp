// SPDX-License-Identifier: Apache-2.0
// CPU detection, cross-checked against two independent detectors: Highway's
// hwy::SupportedTargets() and the compiler's __builtin_cpu_supports.
#include <doctest/doctest.h>

#if TERN_TEST_HAVE_HWY
#include <hwy/targets.h>
#endif

#include <string>

#include "tern/platform/compiler.h"
#include "tern/platform/isa.h"

using namespace tern;

// isa_list.h appends new ISAs: the values given stay (an IsaMask may be stored).
static_assert(static_cast<int>(Isa::kScalar) == 0 && static_cast<int>(Isa::kAvx2) == 1 &&
                  static_cast<int>(Isa::kAvx512) == 2 && static_cast<int>(Isa::kNeon) == 3,
              "isa_list.h: an ISA's position is its value");
// Widest vectors first, from the vector_bits of isa_list.h.
static_assert(kIsaPreference.isa[0] == Isa::kAvx512 && kIsaPreference.isa[1] == Isa::kAvx2 &&
                  kIsaPreference.isa[2] == Isa::kNeon && kIsaPreference.isa[3] == Isa::kScalar,
              "default preference: avx512, avx2, neon, scalar");

TEST_CASE("ISA names round-trip and unknown names are rejected with the valid list") {
  for (int i = 0; i < kIsaCount; ++i) {
    Isa parsed;
    REQUIRE(parse_isa(isa_name(static_cast<Isa>(i)), &parsed).ok());
    CHECK(parsed == static_cast<Isa>(i));
  }
  Isa parsed;
  Status s = parse_isa("AVX2", &parsed);  // exact, lower case
  CHECK(s.code() == StatusCode::kUnsupportedIsa);
  CHECK(std::string(s.message()) ==
        "unknown ISA 'AVX2': expected one of scalar, avx2, avx512, neon");
  char buf[64];
  format_isa_mask(isa_bit(Isa::kScalar) | isa_bit(Isa::kAvx512), buf, sizeof buf);
  CHECK(std::string(buf) == "scalar avx512");
  format_isa_mask(0, buf, sizeof buf);
  CHECK(std::string(buf) == "(none)");
}

TEST_CASE("scalar is always supported") { CHECK((cpu_isas() & isa_bit(Isa::kScalar)) != 0); }

#if TERN_ARCH_X86 && TERN_TEST_HAVE_HWY
TEST_CASE("x86 detection agrees with Highway and with the compiler's cpu model") {
  const IsaMask mine = cpu_isas();
  const bool tern_avx2 = mine & isa_bit(Isa::kAvx2);
  const bool tern_avx512 = mine & isa_bit(Isa::kAvx512);
  const std::int64_t hwy = hwy::SupportedTargets();
  const bool hwy_avx2 = hwy & HWY_AVX2;
  const bool hwy_avx3 = hwy & HWY_AVX3;
  INFO("tern avx2=" << tern_avx2 << " avx512=" << tern_avx512 << "; hwy AVX2=" << hwy_avx2
                    << " AVX3=" << hwy_avx3);
  // Highway's AVX2 target needs AVX2+FMA and more (BMI2, F16C, ...), so it
  // implies tern's; tern's avx512 needs F+VL+DQ+BW (Highway's AVX3) and CD.
  if (hwy_avx2) CHECK(tern_avx2);
  if (tern_avx512) CHECK(hwy_avx3);
  // On the machines tern is developed and tested on, all of them agree.
  if (hwy_avx3) CHECK(tern_avx512 == bool(__builtin_cpu_supports("avx512cd")));

  __builtin_cpu_init();
  CHECK(tern_avx2 == (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")));
  CHECK(tern_avx512 ==
        (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
         __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512bw") &&
         __builtin_cpu_supports("avx512cd")));
  // XGETBV agrees with CPUID's OSXSAVE: YMM state must be on for AVX2 at all.
  const X86Features f = x86_features();
  CHECK(f.cpuid_ok);
  if (tern_avx2) CHECK(f.os_ymm);
  if (tern_avx512) CHECK(f.os_zmm);
  char model[64];
  cpu_model(model, sizeof model);
  CHECK(std::string(model).size() > 0);
}
#endif

TEST_CASE("a feature mask injected by firmware replaces detection") {
  const IsaMask detected = cpu_isas();
  set_cpu_isas(isa_bit(Isa::kNeon));
  CHECK(cpu_isas() == (isa_bit(Isa::kNeon) | isa_bit(Isa::kScalar)));
  set_cpu_isas(0);
  CHECK(cpu_isas() == detected);
}

#if (TERN_ARCH_AARCH64 || TERN_ARCH_ARM32) && defined(__linux__)
#include <cstdio>

namespace {
// AT_HWCAP read straight from /proc/self/auxv (pairs of machine words), an
// independent path to what tern gets from getauxval(). 0 when unreadable.
unsigned long hwcap_from_proc() {
  std::FILE* f = std::fopen("/proc/self/auxv", "rb");
  if (f == nullptr) return 0;
  unsigned long entry[2];
  unsigned long hwcap = 0;
  while (std::fread(entry, sizeof entry, 1, f) == 1 && entry[0] != 0) {
    if (entry[0] == 16) hwcap = entry[1];  // AT_HWCAP
  }
  std::fclose(f);
  return hwcap;
}
}  // namespace

TEST_CASE("ARM detection agrees with the kernel's HWCAP and with the compiler's target") {
  const unsigned long hwcap = hwcap_from_proc();
  REQUIRE(hwcap != 0);
  const bool tern_neon = (cpu_isas() & isa_bit(Isa::kNeon)) != 0;
#if TERN_ARCH_AARCH64
  // arm64 HWCAP: bit 0 FP, bit 1 ASIMD. Both are mandatory in ARMv8-A Linux.
  CHECK((hwcap & 1ul) != 0);
  CHECK((hwcap & 2ul) != 0);
  CHECK(tern_neon);
#else
  // arm HWCAP: bit 12 NEON, bit 16 VFPv4. tern's NEON kernels need both.
  const bool hw_neon = (hwcap & (1ul << 12)) && (hwcap & (1ul << 16));
  CHECK(tern_neon == hw_neon);
#if defined(__ARM_NEON) && defined(__ARM_FEATURE_FMA)
  // This whole binary was compiled for NEON-VFPv4 and is running: the CPU has it.
  CHECK(tern_neon);
#endif
#endif
  char model[96];
  cpu_model(model, sizeof model);
  CHECK(std::string(model).size() > 0);
}
#endif
