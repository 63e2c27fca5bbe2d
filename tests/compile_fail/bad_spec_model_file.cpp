// SPDX-License-Identifier: Apache-2.0
// Must NOT compile: the model file size of an invalid spec (0 rows per
// step) as a constexpr variable. ctest
// (tern-bad-spec-model-file-does-not-compile) expects the compiler to name
// model_file_detail::model_file_bytes_needs_a_valid_spec.
#include "tern/runtime/model_file.h"

constexpr tern::ModelSpec kBad = tern::mlp({4, 8, 2}, 0);
constexpr std::size_t kFileBytes = tern::model_file_bytes(kBad, false);
unsigned char g_flash[kFileBytes];
