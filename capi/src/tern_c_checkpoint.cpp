// SPDX-License-Identifier: Apache-2.0
// tern.h: checkpoints — their sizes, and saving and resuming the training
// state through the caller's storage callbacks (tern/runtime/checkpoint.h).
#include "tern.h"

#include "tern/runtime/checkpoint.h"

#include "c_handle.h"

using tern::c_api::to_spec;

extern "C" {

size_t tern_checkpoint_storage_bytes(const tern_spec* spec, size_t erase_bytes) {
  tern::ModelSpec s;
  if (!to_spec(spec, &s).ok()) return 0;
  return tern::checkpoint_storage_bytes(s, erase_bytes);
}

}  // extern "C"
