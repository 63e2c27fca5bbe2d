// SPDX-License-Identifier: Apache-2.0
// tern.h: a model's weights in and out of the safetensors format, through
// the runtime's load_safetensors and save_safetensors (safetensors.h).
#include "tern.h"

#include "tern/platform/compiler.h"
#include "tern/runtime/model.h"
#include "tern/runtime/safetensors.h"

#include "c_handle.h"

using tern::c_api::bad_handle;
using tern::c_api::live;
using tern::c_api::null_argument;
using tern::c_api::report;

extern "C" {

tern_status tern_model_load_safetensors(tern_model* model, const void* data, size_t size,
                                        const char* const* names, uint32_t name_count,
                                        tern_error* err) {
  tern::Model* m = live(model);
  if (m == nullptr) return report(bad_handle("tern_model_load_safetensors"), err);
  if (data == nullptr) return report(null_argument("tern_model_load_safetensors", "data"), err);
  return report(tern::load_safetensors(*m, tern::memory_source(data, size), names, name_count),
                err);
}

size_t tern_model_safetensors_bytes(const tern_model* model, const char* const* names,
                                    uint32_t name_count) {
  const tern::Model* m = live(model);
  if (m == nullptr) return 0;
  return tern::safetensors_bytes(*m, names, name_count, nullptr);
}

tern_status tern_model_save_safetensors(const tern_model* model, const char* const* names,
                                        uint32_t name_count, void* buffer, size_t capacity,
                                        size_t* written, tern_error* err) {
  // Set first: every error, a bad handle included, leaves *written 0.
  if (written != nullptr) *written = 0;
  const tern::Model* m = live(model);
  if (m == nullptr) return report(bad_handle("tern_model_save_safetensors"), err);
  if (buffer == nullptr) return report(null_argument("tern_model_save_safetensors", "buffer"), err);
  tern::Status sized;
  const std::size_t need = tern::safetensors_bytes(*m, names, name_count, &sized);
  if (!sized.ok()) return report(sized, err);
  // The size is known up front: a short buffer is refused before anything
  // is written.
  if (capacity < need) {
    return report(tern::Status::error(tern::StatusCode::kOutOfMemory,
                                      "tern_model_save_safetensors: the buffer has %zu bytes, the "
                                      "file needs %zu (tern_model_safetensors_bytes)",
                                      capacity, need),
                  err);
  }
  tern::MemorySink sink(buffer, capacity);
  const tern::Status st = tern::save_safetensors(*m, sink.sink(), names, name_count);
  if (st.ok() && written != nullptr) *written = sink.size();
  return report(st, err);
}

#if TERN_HAS_OS
tern_status tern_model_save_safetensors_file(const tern_model* model, const char* path,
                                             const char* const* names, uint32_t name_count,
                                             tern_error* err) {
  const tern::Model* m = live(model);
  if (m == nullptr) return report(bad_handle("tern_model_save_safetensors_file"), err);
  if (path == nullptr) return report(null_argument("tern_model_save_safetensors_file", "path"), err);
  return report(tern::save_safetensors_file(*m, path, names, name_count), err);
}

tern_status tern_model_load_safetensors_file(tern_model* model, const char* path,
                                             const char* const* names, uint32_t name_count,
                                             tern_error* err) {
  tern::Model* m = live(model);
  if (m == nullptr) return report(bad_handle("tern_model_load_safetensors_file"), err);
  if (path == nullptr) return report(null_argument("tern_model_load_safetensors_file", "path"), err);
  return report(tern::load_safetensors_file(*m, path, names, name_count), err);
}
#endif

}  // extern "C"
