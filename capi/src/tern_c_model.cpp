// SPDX-License-Identifier: Apache-2.0
// tern.h: version and status names, specs, building a model in the caller's
// arena, and what a built model reports about itself.
#include "tern.h"

#include <cstdint>
#include <new>

#include "tern/platform/isa.h"
#include "tern/runtime/model.h"
#include "tern/runtime/plan.h"

#include "c_handle.h"

using tern::c_api::bad_handle;
using tern::c_api::kHandleBytes;
using tern::c_api::kHandleMagic;
using tern::c_api::live;
using tern::c_api::null_argument;
using tern::c_api::report;
using tern::c_api::to_spec;

extern "C" {

const char* tern_version(void) { return TERN_VERSION_STRING; }
int tern_version_number(void) { return TERN_VERSION_NUMBER; }

const char* tern_status_name(tern_status status) {
  // Through unsigned: a negative value becomes large, and the test does not
  // depend on the enum's underlying type (short enums on bare-metal ARM).
  if (static_cast<unsigned>(status) > static_cast<unsigned>(TERN_FAILED_PRECONDITION)) {
    return "unknown_status";
  }
  return tern::status_code_name(static_cast<tern::StatusCode>(status));
}

tern_status tern_spec_check(const tern_spec* spec, tern_error* err) {
  tern::ModelSpec s;
  return report(to_spec(spec, &s), err);
}

size_t tern_arena_bytes(const tern_spec* spec) {
  tern::ModelSpec s;
  if (!to_spec(spec, &s).ok()) return 0;
  return kHandleBytes + tern::arena_bytes(s);
}

tern_status tern_model_create(const tern_spec* spec, void* arena, size_t arena_bytes,
                              tern_model** model, tern_error* err) {
  if (model == nullptr) return report(null_argument("tern_model_create", "model"), err);
  *model = nullptr;
  if (arena == nullptr) return report(null_argument("tern_model_create", "arena"), err);
  tern::ModelSpec s;
  tern::Status st = to_spec(spec, &s);
  if (!st.ok()) return report(st, err);
  if (reinterpret_cast<std::uintptr_t>(arena) % TERN_ARENA_ALIGNMENT != 0) {
    return report(tern::Status::error(tern::StatusCode::kMisaligned,
                                      "tern_model_create: the arena at %p is not %d-byte aligned",
                                      arena, TERN_ARENA_ALIGNMENT),
                  err);
  }
  const std::size_t needed = kHandleBytes + tern::arena_bytes(s);
  if (arena_bytes < needed) {
    return report(tern::Status::error(tern::StatusCode::kOutOfMemory,
                                      "tern_model_create: the arena has %zu bytes, the model "
                                      "needs %zu (%zu for the handle, %zu for the buffers)",
                                      arena_bytes, needed, kHandleBytes, needed - kHandleBytes),
                  err);
  }
  auto* handle = new (arena) tern_model{};
  unsigned char* rest = static_cast<unsigned char*>(arena) + kHandleBytes;
  st = handle->arena.attach(rest, arena_bytes - kHandleBytes);
  if (st.ok()) st = handle->model.build(s, handle->arena);
  if (!st.ok()) return report(st, err);
  // build() has initialised the weights with tern::kDefaultInitSeed (1).
  handle->magic = kHandleMagic;
  *model = handle;
  return report(tern::Status(), err);
}

tern_status tern_model_initialize(tern_model* model, uint64_t seed, tern_error* err) {
  tern::Model* m = live(model);
  if (m == nullptr) return report(bad_handle("tern_model_initialize"), err);
  m->initialize(seed);
  return report(tern::Status(), err);
}

uint32_t tern_model_input_width(const tern_model* model) {
  const tern::Model* m = live(model);
  return m != nullptr ? m->spec().input_width : 0;
}
uint32_t tern_model_output_width(const tern_model* model) {
  const tern::Model* m = live(model);
  return m != nullptr ? m->spec().output_width() : 0;
}
uint32_t tern_model_rows(const tern_model* model) {
  const tern::Model* m = live(model);
  return m != nullptr ? m->spec().rows : 0;
}
size_t tern_model_parameter_count(const tern_model* model) {
  const tern::Model* m = live(model);
  return m != nullptr ? m->parameter_count() : 0;
}
const char* tern_model_isa(const tern_model* model) {
  const tern::Model* m = live(model);
  return m != nullptr ? tern::isa_name(m->isa()) : "none";
}

}  // extern "C"
