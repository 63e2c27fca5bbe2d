// SPDX-License-Identifier: Apache-2.0
// A copy of a model's weights on the heap, for the host-side training
// examples: taken at the best epoch of a run, put back at its end
// (early_stopping.h).
//
// The copy is a model file (tern/runtime/model_file.h) in memory, weights
// only: save_model checks every weight is finite before it writes, and
// load_model checks the whole copy before it changes a weight, so a restore
// either puts back exactly the bits that were saved or changes nothing. The
// optimizer moments and step count are not part of it (restoring ends a
// run; it does not resume one), and a restore restarts the divergence
// guard's history, as every load does. Tools may use the heap; the library
// never does, which is why this lives here and not in the runtime.
#pragma once

#include <cstddef>
#include <memory>

#include "tern/platform/status.h"
#include "tern/runtime/model.h"

namespace tern::training {

class WeightSnapshot {
 public:
  // Replaces the copy with `model`'s weights. On an error (the model is not
  // built, a weight is not finite, the memory cannot be had) the previous
  // copy is kept.
  Status take(const Model& model);
  // Writes the copy back into `model` (the same layers, any rows or mode).
  // kFailedPrecondition when no copy was taken; the load's errors
  // otherwise, the model then unchanged.
  Status restore(Model& model) const;
  bool empty() const { return bytes_ == 0; }

 private:
  // Built without exceptions, so the memory is taken with nothrow new (a
  // std::vector that cannot grow would abort the program).
  std::unique_ptr<unsigned char[]> file_;
  std::size_t bytes_ = 0;
};

}  // namespace tern::training
