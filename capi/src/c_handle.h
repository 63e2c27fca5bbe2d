// SPDX-License-Identifier: Apache-2.0
// capi/src/c_handle.h — what every file of the C interface shares: the
// handle that lives at the start of the caller's arena, turning a C handle
// back into the runtime's Model, reporting a Status through a tern_error,
// and the C spec as a ModelSpec. Internal to tern_c.
//
// The handle is a struct holding the runtime's Arena and Model, placed with
// placement new at the start of the caller's arena; the model's buffers
// follow it in the same arena. Nothing in tern_c allocates or throws (it
// builds with -fno-exceptions -fno-rtti like the rest of the library), and
// every pointer from C is checked before use.
#pragma once

#include <cstddef>
#include <cstdint>

#include "tern.h"
#include "tern/platform/status.h"
#include "tern/runtime/arena.h"
#include "tern/runtime/model.h"
#include "tern/runtime/spec.h"
#include "tern/runtime/training_inputs.h"

struct tern_model {
  // Distinguishes a live handle from arbitrary memory passed in by mistake.
  std::uint32_t magic;
  tern::Arena arena;
  tern::Model model;
};

namespace tern {
namespace c_api {

// "tern" in ASCII.
constexpr std::uint32_t kHandleMagic = 0x6e726574u;
// The handle occupies whole cache lines so that the model's buffers after
// it stay 64-byte aligned.
constexpr std::size_t kHandleBytes = align_up(sizeof(tern_model), TERN_ARENA_ALIGNMENT);

// Copies the status into *err (when given) and returns its code.
tern_status report(const Status& s, tern_error* err);
// "<function>: <name> is null" (kInvalidArgument).
Status null_argument(const char* function, const char* name);
// "<function>: the model handle is null or not a model made by
// tern_model_create" (kInvalidArgument).
Status bad_handle(const char* function);

// The Model of a live handle, or null for a null pointer or memory that is
// not a handle made by tern_model_create.
inline Model* live(tern_model* m) {
  return m != nullptr && m->magic == kHandleMagic ? &m->model : nullptr;
}
inline const Model* live(const tern_model* m) {
  return m != nullptr && m->magic == kHandleMagic ? &m->model : nullptr;
}

// The C descriptors as a ModelSpec. Enum values are range-checked before
// they are narrowed; the result has passed check_spec().
Status to_spec(const tern_spec* c, ModelSpec* out);

// The C batch as a Batch, field for field (indices and samples included);
// every training call converts through here. The batch itself is checked
// by the runtime entry that takes it.
Batch to_batch(const tern_batch& c);

}  // namespace c_api
}  // namespace tern
