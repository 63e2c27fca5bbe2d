// SPDX-License-Identifier: Apache-2.0
// tern.h: what the rank-1 structure of dense gradients gives (docs/rank1.md):
// clipping and noise, per-example and global gradient norms, gradient
// accumulation, rank-1 edits and their factors; and the step count.
#include "tern.h"

#include <cstdint>
#include <cstring>

#include "tern/platform/checked_size.h"
#include "tern/runtime/clipping.h"
#include "tern/runtime/model.h"

#include "c_handle.h"

using tern::c_api::bad_handle;
using tern::c_api::live;
using tern::c_api::null_argument;
using tern::c_api::report;
using tern::c_api::to_batch;

static_assert(TERN_EXAMPLE_DIVISOR_ROWS == static_cast<int>(tern::ExampleGradientDivisor::kRows) &&
                  TERN_EXAMPLE_DIVISOR_EXAMPLES ==
                      static_cast<int>(tern::ExampleGradientDivisor::kExamples),
              "tern.h and clipping.h disagree on the example divisors");

extern "C" {

tern_status tern_model_set_clipping(tern_model* model, const tern_clip_params* params,
                                    tern_error* err) {
  tern::Model* m = live(model);
  if (m == nullptr) return report(bad_handle("tern_model_set_clipping"), err);
  if (params == nullptr) return report(null_argument("tern_model_set_clipping", "params"), err);
  tern::ClipParams p;
  p.example_clip = params->example_clip;
  p.noise_multiplier = params->noise_multiplier;
  p.noise_seed = params->noise_seed;
  p.global_clip = params->global_clip;
  // An 8-bit C++ enum: a value outside the C enum is refused here, not
  // truncated into a valid one.
  if (params->divisor != TERN_EXAMPLE_DIVISOR_ROWS &&
      params->divisor != TERN_EXAMPLE_DIVISOR_EXAMPLES) {
    return report(tern::Status::error(tern::StatusCode::kInvalidArgument,
                                      "tern_model_set_clipping: divisor %d is not 0 (rows) or 1 "
                                      "(examples)",
                                      static_cast<int>(params->divisor)),
                  err);
  }
  p.divisor = static_cast<tern::ExampleGradientDivisor>(params->divisor);
  return report(m->set_clipping(p), err);
}

tern_status tern_model_example_norms(const tern_model* model, float* norms, size_t capacity,
                                     size_t* examples, tern_error* err) {
  const char* fn = "tern_model_example_norms";
  if (examples != nullptr) *examples = 0;
  const tern::Model* m = live(model);
  if (m == nullptr) return report(bad_handle(fn), err);
  if (norms == nullptr) return report(null_argument(fn, "norms"), err);
  if (m->spec().example_rows == 0) {
    return report(tern::Status::error(tern::StatusCode::kFailedPrecondition,
                                      "%s: the spec has no example gradients (example_rows 0)",
                                      fn),
                  err);
  }
  if (reinterpret_cast<std::uintptr_t>(norms) % alignof(float) != 0) {
    return report(tern::Status::error(tern::StatusCode::kMisaligned,
                                      "%s: norms at %p is not %zu-byte aligned", fn,
                                      static_cast<void*>(norms), alignof(float)),
                  err);
  }
  const tern::MatrixView<const float> v = m->example_norms();
  // rows x cols is at most the norms buffer of the plan, which fits.
  const std::size_t need = v.rows * v.cols;
  if (capacity < need) {
    return report(tern::Status::error(tern::StatusCode::kOutOfMemory,
                                      "%s: norms has room for %zu floats, the %zu examples of the "
                                      "last step need %zu (%zu per example)",
                                      fn, capacity, v.rows, need, v.cols),
                  err);
  }
  for (std::size_t r = 0; r < v.rows; ++r) {
    std::memcpy(norms + r * v.cols, v.data + r * v.stride, v.cols * sizeof(float));
  }
  if (examples != nullptr) *examples = v.rows;
  return report(tern::Status(), err);
}

float tern_model_gradient_norm(const tern_model* model) {
  const tern::Model* m = live(model);
  return m != nullptr ? m->gradient_norm() : 0.0f;
}

tern_status tern_model_accumulate(tern_model* model, const tern_batch* batch, float* mean_loss,
                                  tern_error* err) {
  tern::Model* m = live(model);
  if (m == nullptr) return report(bad_handle("tern_model_accumulate"), err);
  if (batch == nullptr) return report(null_argument("tern_model_accumulate", "batch"), err);
  return report(m->accumulate(to_batch(*batch), mean_loss), err);
}

tern_status tern_model_flush(tern_model* model, tern_error* err) {
  tern::Model* m = live(model);
  if (m == nullptr) return report(bad_handle("tern_model_flush"), err);
  return report(m->flush(), err);
}

uint32_t tern_model_accumulated_rows(const tern_model* model) {
  const tern::Model* m = live(model);
  return m != nullptr ? m->accumulated_rows() : 0;
}

tern_status tern_model_rank1_edit(tern_model* model, uint32_t layer, size_t count, const float* a,
                                  size_t lda, const float* b, size_t ldb, float scale,
                                  tern_error* err) {
  tern::Model* m = live(model);
  if (m == nullptr) return report(bad_handle("tern_model_rank1_edit"), err);
  return report(m->rank1_edit(layer, count, a, lda, b, ldb, scale), err);
}

tern_status tern_model_edit_factors(tern_model* model, const tern_batch* batch, uint32_t layer,
                                    float* u, float* delta, tern_error* err) {
  tern::Model* m = live(model);
  if (m == nullptr) return report(bad_handle("tern_model_edit_factors"), err);
  if (batch == nullptr) return report(null_argument("tern_model_edit_factors", "batch"), err);
  return report(m->edit_factors(to_batch(*batch), layer, u, delta), err);
}

uint64_t tern_model_steps(const tern_model* model) {
  const tern::Model* m = live(model);
  return m != nullptr ? m->steps() : 0;
}

}  // extern "C"
