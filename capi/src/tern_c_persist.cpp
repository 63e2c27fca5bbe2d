// SPDX-License-Identifier: Apache-2.0
// tern.h: saving a model to memory and loading it back (tern's model file
// format, the bytes tern::save_model writes).
#include "tern.h"

#include "tern/runtime/model.h"
#include "tern/runtime/persist.h"

#include "c_handle.h"

using tern::c_api::bad_handle;
using tern::c_api::live;
using tern::c_api::null_argument;
using tern::c_api::report;
using tern::c_api::to_spec;

extern "C" {

size_t tern_model_file_bytes(const tern_spec* spec, int optimizer_state) {
  tern::ModelSpec s;
  if (!to_spec(spec, &s).ok()) return 0;
  // Decision: 0, as for an invalid spec. An inference model has no moments,
  // so a file with optimizer state cannot be saved from it (or loaded into
  // it): a size without the moments would size a buffer for a save that
  // tern_model_save refuses.
  if (optimizer_state != 0 && s.mode != tern::Mode::kTraining) return 0;
  return tern::model_file_bytes(s, optimizer_state != 0);
}

tern_status tern_model_save(const tern_model* model, void* buffer, size_t capacity,
                            int optimizer_state, size_t* written, tern_error* err) {
  // Set first: every error, a bad handle included, leaves *written 0.
  if (written != nullptr) *written = 0;
  const tern::Model* m = live(model);
  if (m == nullptr) return report(bad_handle("tern_model_save"), err);
  if (buffer == nullptr) return report(null_argument("tern_model_save", "buffer"), err);
  // The state before the size: no buffer, however large, makes this save
  // possible (the message is save_model's own).
  if (optimizer_state != 0 && m->spec().mode != tern::Mode::kTraining) {
    return report(tern::Status::error(tern::StatusCode::kFailedPrecondition,
                                      "save: an inference model has no optimizer state to save"),
                  err);
  }
  // The size is known up front: a short buffer is refused with the bytes
  // the file needs, before anything is written.
  const std::size_t need = tern::model_file_bytes(m->spec(), optimizer_state != 0);
  if (capacity < need) {
    return report(tern::Status::error(tern::StatusCode::kOutOfMemory,
                                      "tern_model_save: the buffer has %zu bytes, the model file "
                                      "needs %zu (tern_model_file_bytes)",
                                      capacity, need),
                  err);
  }
  tern::MemorySink sink(buffer, capacity);
  const tern::Status st = tern::save_model(*m, sink.sink(), optimizer_state != 0);
  if (st.ok() && written != nullptr) *written = sink.size();
  return report(st, err);
}

tern_status tern_model_load(tern_model* model, const void* data, size_t size,
                            int optimizer_state, tern_error* err) {
  tern::Model* m = live(model);
  if (m == nullptr) return report(bad_handle("tern_model_load"), err);
  if (data == nullptr) return report(null_argument("tern_model_load", "data"), err);
  return report(tern::load_model(*m, tern::memory_source(data, size), optimizer_state != 0), err);
}

}  // extern "C"
