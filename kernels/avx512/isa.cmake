# SPDX-License-Identifier: Apache-2.0
# AVX-512 F, CD, BW, DQ, VL (read by cmake/TernIsas.cmake): x86-64 only.
if(CMAKE_SYSTEM_PROCESSOR MATCHES "^(x86_64|AMD64|amd64)$")
  set(isa_runs_here TRUE)
endif()
# The five extensions detection requires, plus AVX2 + FMA: detection grants
# AVX-512 only on top of AVX2 + FMA (platform/src/isa.cpp), and GCC's
# -mavx512f does not imply -mfma.
set(isa_compile_flags -mavx512f -mavx512cd -mavx512bw -mavx512dq -mavx512vl -mavx2 -mfma)
# The foundation is enough to tell an AVX-512 build machine apart.
set(isa_cpuinfo_flags avx512f)
