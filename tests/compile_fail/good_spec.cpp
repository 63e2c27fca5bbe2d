// SPDX-License-Identifier: Apache-2.0
// The control of the compile-failure tests: the same command on a valid
// spec compiles, so their failure is the spec's and not the command's.
#include "tern/runtime/model_file.h"
#include "tern/runtime/plan.h"

constexpr tern::ModelSpec kGood = tern::mlp({4, 8, 2}, 1);
constexpr std::size_t kArenaBytes = tern::arena_bytes(kGood);
constexpr std::size_t kFileBytes = tern::model_file_bytes(kGood, false);
alignas(64) unsigned char g_arena[kArenaBytes];
unsigned char g_flash[kFileBytes];
unsigned char g_direct[tern::arena_bytes(kGood)];
