# SPDX-License-Identifier: Apache-2.0
# Cross-compiling tern for 64-bit ARM Linux (ARMv8-A: Raspberry Pi 3/4/5 with a
# 64-bit OS, Jetson, Graviton, Ampere) with Debian's cross toolchain.
#
#   cmake --toolchain toolchains/aarch64-linux-gnu.cmake -B build/aarch64
#   cmake --build build/aarch64 -j2 && ctest --test-dir build/aarch64
#
# ctest runs every test binary through qemu-user (Debian packages
# g++-aarch64-linux-gnu and qemu-user; `.ci/install-deps --arm` installs both).
#
# Why no -mcpu: AdvSIMD (NEON) with fused multiply-add is part of ARMv8-A, so
# the plain armv8-a baseline already lets tern's NEON kernels run, and the
# binary runs on every 64-bit ARM core. Tuning for one core (-mtune=cortex-a72)
# changes scheduling, never results: every FMA in tern is explicit.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)

set(TERN_CROSS_TRIPLE aarch64-linux-gnu)
set(CMAKE_C_COMPILER ${TERN_CROSS_TRIPLE}-gcc)
set(CMAKE_CXX_COMPILER ${TERN_CROSS_TRIPLE}-g++)
set(CMAKE_C_FLAGS_INIT "-march=armv8-a")
set(CMAKE_CXX_FLAGS_INIT "-march=armv8-a")

# Where target libraries and CMake packages are found: the cross toolchain's
# own tree (glibc, libstdc++), and "/" for Debian multiarch packages, which
# install target libraries under /usr/lib/aarch64-linux-gnu (e.g.
# libbenchmark-dev:arm64) and architecture-independent headers and CMake
# files under /usr/include, /usr/lib/cmake, /usr/share (doctest). Host
# libraries live under /usr/lib/x86_64-linux-gnu, which a search for an
# aarch64 target never visits. Programs (qemu, git) always come from the host.
set(CMAKE_FIND_ROOT_PATH /usr/${TERN_CROSS_TRIPLE} /)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

# ctest (and any add_test of a target) runs binaries under user-mode qemu;
# -L points qemu at the target's dynamic loader and shared libraries.
find_program(TERN_QEMU_AARCH64 qemu-aarch64)
if(TERN_QEMU_AARCH64)
  set(CMAKE_CROSSCOMPILING_EMULATOR ${TERN_QEMU_AARCH64} -L /usr/${TERN_CROSS_TRIPLE})
endif()
