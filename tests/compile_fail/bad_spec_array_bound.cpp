// SPDX-License-Identifier: Apache-2.0
// Must NOT compile: arena_bytes() of an invalid spec (a Dense layer of 0
// outputs) straight as an array bound, which used to compile to a
// zero-length array with only a -Wpedantic warning. GCC says the bound is
// not a constant; clang names the function (tern-bad-spec-array-bound-does-
// not-compile accepts either).
#include "tern/runtime/plan.h"

constexpr tern::ModelSpec kBad = tern::mlp({4, 0, 2}, 1);
alignas(64) unsigned char g_arena[tern::arena_bytes(kBad)];
