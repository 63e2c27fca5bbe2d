# SPDX-License-Identifier: Apache-2.0
# NEON (read by cmake/TernIsas.cmake): AArch64 AdvSIMD, or ARMv7 NEON with
# VFPv4. Not for bare metal: the Cortex-M cores tern targets have no NEON.
if(CMAKE_SYSTEM_PROCESSOR MATCHES "^(aarch64|arm64|armv7.*|arm)$" AND NOT TERN_BARE_METAL)
  set(isa_runs_here TRUE)
endif()
if(CMAKE_SYSTEM_PROCESSOR MATCHES "^(aarch64|arm64)$")
  set(isa_compile_flags "")  # AdvSIMD + FMA are ARMv8-A baseline
else()
  # ARMv7: NEON with fused multiply-add. -march too, because a native
  # compiler's baseline may be older (Raspberry Pi OS 32-bit targets ARMv6).
  set(isa_compile_flags -march=armv7-a -mfpu=neon-vfpv4)
endif()
