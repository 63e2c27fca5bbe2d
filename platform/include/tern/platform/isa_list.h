// SPDX-License-Identifier: Apache-2.0
// tern/platform/isa_list.h — the one list of the instruction sets tern knows.
//
// One line per ISA:  TERN_ISA_X(enumerator, name, vector_bits)
//   enumerator   the tern::Isa value (tern/platform/isa.h)
//   name         what TERN_ISA, select_isa() and tern-info call it; also the
//                folder of its kernels (kernels/<name>/), the namespace of
//                its kernel table (tern::kernels::<name>) and its entry in
//                the CMake list TERN_ISAS
//   vector_bits  width of one vector register: with nothing requested, the
//                widest ISA that is built and runs on this CPU is chosen
//
// The position of a line is the enumerator's value, so new ISAs go at the
// end: a value once given stays (an IsaMask bit may have been stored).
//
// This file is an X-macro list with no include guard: define TERN_ISA_X,
// include this file, undefine TERN_ISA_X. CMake reads the same lines
// (cmake/TernIsas.cmake), so each line must stay on one line, in this form.
//
// Adding an ISA: one line here, and a folder kernels/<name>/ holding its
// kernel units and isa.cmake (see kernels/README.md).

// Portable C++ with std::fma: the reference every other table is tested
// against, and the fallback. 32 bits: one float at a time.
TERN_ISA_X(kScalar, scalar, 32)
// x86-64 with AVX2 + FMA3.
TERN_ISA_X(kAvx2, avx2, 256)
// x86-64 with AVX-512 F, CD, BW, DQ, VL (Skylake-X and later).
TERN_ISA_X(kAvx512, avx512, 512)
// AArch64 AdvSIMD, or ARMv7 NEON with VFPv4 (fused multiply-add).
TERN_ISA_X(kNeon, neon, 128)
