# SPDX-License-Identifier: Apache-2.0
# Cross-compiling tern for a bare-metal Cortex-M with a single-precision FPU:
# Cortex-M4F (default) or Cortex-M7, hard-float ABI, newlib-nano, no OS.
#
#   cmake --toolchain toolchains/arm-none-eabi-cortex-m.cmake -B build/cortex-m4
#   cmake --build build/cortex-m4 -j2
#   cmake --toolchain toolchains/arm-none-eabi-cortex-m.cmake -DTERN_CORTEX_M_CPU=cortex-m7 \
#         -B build/cortex-m7
#
# Debian packages gcc-arm-none-eabi, libnewlib-arm-none-eabi and
# libstdc++-arm-none-eabi-newlib (`.ci/install-deps --arm`).
#
# What this builds: tern's platform, kernels (the scalar table only: a
# Cortex-M has no vector unit tern uses) and runtime as static libraries, and
# the firmware example (examples/firmware/). No tests or benchmarks: they need
# an OS. TERN_BARE_METAL=1 tells the platform layer there is no getenv, no
# auxv and no file system; the firmware states its ISAs with set_cpu_isas().
#
# Why the FPU flags matter: tern's contract is written in fused multiply-adds.
# The M4F's FPv4-SP and the M7's FPv5 both have VFMA.F32, so std::fma on
# float is one instruction with one rounding, and a model trained on a laptop
# reproduces its bits on the board. (A core without an FPU, e.g. Cortex-M0/M3,
# still gives the same bits through newlib's software fmaf, only slowly.)
set(CMAKE_SYSTEM_NAME Generic)
set(CMAKE_SYSTEM_PROCESSOR arm)

set(TERN_CORTEX_M_CPU cortex-m4 CACHE STRING "Target core: cortex-m4 (FPv4-SP) or cortex-m7 (FPv5)")
if(TERN_CORTEX_M_CPU STREQUAL "cortex-m4")
  set(_tern_mcu_flags "-mcpu=cortex-m4 -mthumb -mfpu=fpv4-sp-d16 -mfloat-abi=hard")
elseif(TERN_CORTEX_M_CPU STREQUAL "cortex-m7")
  set(_tern_mcu_flags "-mcpu=cortex-m7 -mthumb -mfpu=fpv5-d16 -mfloat-abi=hard")
else()
  message(FATAL_ERROR "TERN_CORTEX_M_CPU must be cortex-m4 or cortex-m7, not '${TERN_CORTEX_M_CPU}'")
endif()

set(CMAKE_C_COMPILER arm-none-eabi-gcc)
set(CMAKE_CXX_COMPILER arm-none-eabi-g++)
set(CMAKE_ASM_COMPILER arm-none-eabi-gcc)
# Without an OS there is nothing to run a test executable on: configure-time
# compiler checks build a static library instead of linking a program.
set(CMAKE_TRY_COMPILE_TARGET_TYPE STATIC_LIBRARY)

# -ffunction-sections/-fdata-sections with --gc-sections keep only the code
# the firmware calls. No exceptions, no RTTI, no thread-safe static guards
# (no threads, and the guards would pull in __cxa_guard_* and an abort path).
set(CMAKE_C_FLAGS_INIT "${_tern_mcu_flags} -DTERN_BARE_METAL=1 -ffunction-sections -fdata-sections")
set(CMAKE_CXX_FLAGS_INIT "${_tern_mcu_flags} -DTERN_BARE_METAL=1 -ffunction-sections -fdata-sections -fno-exceptions -fno-rtti -fno-threadsafe-statics")
# newlib-nano (small printf family, no float formatting) and nosys (stub
# system calls that fail: tern never calls them).
set(CMAKE_EXE_LINKER_FLAGS_INIT "${_tern_mcu_flags} --specs=nano.specs --specs=nosys.specs -Wl,--gc-sections")

set(TERN_BARE_METAL ON CACHE BOOL "Building for a target without an operating system")

# Only the cross toolchain's own tree (newlib, libstdc++) holds target files.
set(CMAKE_FIND_ROOT_PATH /usr/lib/arm-none-eabi)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
