# SPDX-License-Identifier: Apache-2.0
# Cross-compiling tern for 32-bit ARM Linux, hard-float ABI (ARMv7-A: Raspberry
# Pi 2/3/4 under a 32-bit OS, Cortex-A7/A15/A17 boards) with Debian's cross
# toolchain.
#
#   cmake --toolchain toolchains/arm-linux-gnueabihf.cmake -B build/armv7
#   cmake --build build/armv7 -j2 && ctest --test-dir build/armv7
#
# ctest runs every test binary through qemu-user (Debian packages
# g++-arm-linux-gnueabihf and qemu-user; `.ci/install-deps --arm`).
#
# Baseline: -march=armv7-a -mfpu=neon-vfpv4 -mfloat-abi=hard, the cores with
# NEON and VFPv4 (which adds the fused multiply-add tern's arithmetic contract
# is written in). Scalar code then uses the VFPv4 instruction vfma.f32 for
# std::fma. GCC never vectorises float code onto ARMv7 NEON by itself (NEON is
# not IEEE-conforming there, see README "Denormals on ARMv7"), so the baseline
# flag does not put NEON into the scalar reference.
#
# For an older core without VFPv4 or without NEON (Cortex-A8, A9) configure
# with -DTERN_ARMV7_FPU=vfpv3-d16 (Debian's armhf baseline): everything but the
# NEON kernel unit is then built for plain VFPv3, the NEON unit keeps its own
# -mfpu=neon-vfpv4 (kernels/CMakeLists.txt), and tern asks the kernel
# (getauxval(AT_HWCAP)) before it ever calls that unit.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR armv7l)  # what `uname -m` says on a 32-bit Pi

set(TERN_CROSS_TRIPLE arm-linux-gnueabihf)
set(TERN_ARMV7_FPU neon-vfpv4 CACHE STRING "Baseline -mfpu for ARMv7 (neon-vfpv4 or vfpv3-d16)")
set(CMAKE_C_COMPILER ${TERN_CROSS_TRIPLE}-gcc)
set(CMAKE_CXX_COMPILER ${TERN_CROSS_TRIPLE}-g++)
set(CMAKE_C_FLAGS_INIT "-march=armv7-a -mfpu=${TERN_ARMV7_FPU} -mfloat-abi=hard")
set(CMAKE_CXX_FLAGS_INIT "-march=armv7-a -mfpu=${TERN_ARMV7_FPU} -mfloat-abi=hard")

# Target libraries and packages: the cross toolchain's tree, and "/" for
# Debian multiarch (:armhf packages under /usr/lib/arm-linux-gnueabihf,
# architecture-independent headers and CMake files). See
# aarch64-linux-gnu.cmake for why host libraries are never picked up.
set(CMAKE_FIND_ROOT_PATH /usr/${TERN_CROSS_TRIPLE} /)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

find_program(TERN_QEMU_ARM qemu-arm)
if(TERN_QEMU_ARM)
  set(CMAKE_CROSSCOMPILING_EMULATOR ${TERN_QEMU_ARM} -L /usr/${TERN_CROSS_TRIPLE})
endif()
