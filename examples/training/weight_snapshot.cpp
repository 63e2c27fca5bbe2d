// SPDX-License-Identifier: Apache-2.0
// A heap copy of a model's weights (weight_snapshot.h).
#include "training/weight_snapshot.h"

#include <new>
#include <utility>

#include "tern/runtime/persist.h"

namespace tern::training {

Status WeightSnapshot::take(const Model& model) {
  if (!model.built()) {
    return Status::error(StatusCode::kFailedPrecondition, "snapshot: the model is not built");
  }
  const std::size_t bytes = model_file_bytes(model.spec(), false);
  // A new buffer, handed over only once it holds the whole copy.
  std::unique_ptr<unsigned char[]> buffer(new (std::nothrow) unsigned char[bytes]);
  if (buffer == nullptr) {
    return Status::error(StatusCode::kOutOfMemory,
                         "snapshot: cannot allocate %zu bytes for a copy of the weights", bytes);
  }
  MemorySink sink(buffer.get(), bytes);
  TERN_RETURN_IF_ERROR(save_model(model, sink.sink(), false));
  file_ = std::move(buffer);
  bytes_ = sink.size();
  return Status();
}

Status WeightSnapshot::restore(Model& model) const {
  if (bytes_ == 0) {
    return Status::error(StatusCode::kFailedPrecondition, "snapshot: no copy has been taken");
  }
  return load_model(model, memory_source(file_.get(), bytes_), false);
}

}  // namespace tern::training
