# SPDX-License-Identifier: Apache-2.0
# AVX2 + FMA3 (read by cmake/TernIsas.cmake): x86-64 only.
if(CMAKE_SYSTEM_PROCESSOR MATCHES "^(x86_64|AMD64|amd64)$")
  set(isa_runs_here TRUE)
endif()
set(isa_compile_flags -mavx2 -mfma)
# /proc/cpuinfo names the two extensions the kernels use.
set(isa_cpuinfo_flags avx2 fma)
