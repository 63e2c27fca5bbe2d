// SPDX-License-Identifier: Apache-2.0
// Must NOT compile: the arena size of an invalid spec (a Dense layer of 0
// outputs) as a constexpr variable, the README's pattern. ctest
// (tern-bad-spec-arena-does-not-compile) expects the compiler to name
// plan_detail::arena_bytes_needs_a_valid_spec.
#include "tern/runtime/plan.h"

constexpr tern::ModelSpec kBad = tern::mlp({4, 0, 2}, 1);
constexpr std::size_t kArenaBytes = tern::arena_bytes(kBad);
alignas(64) unsigned char g_arena[kArenaBytes];
