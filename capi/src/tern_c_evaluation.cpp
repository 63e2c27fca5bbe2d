// SPDX-License-Identifier: Apache-2.0
// tern.h: evaluation (the mean loss and accuracy or mean squared error of a
// data set of any size, and each row's loss), over Model::evaluate() and
// Model::row_losses().
#include "tern.h"

#include "tern/runtime/evaluation.h"
#include "tern/runtime/model.h"

#include "c_handle.h"

using tern::c_api::bad_handle;
using tern::c_api::live;
using tern::c_api::null_argument;
using tern::c_api::report;

extern "C" {

tern_status tern_model_evaluate(tern_model* model, const tern_batch* data, tern_evaluation* out,
                                tern_error* err) {
  const char* fn = "tern_model_evaluate";
  tern::Model* m = live(model);
  if (m == nullptr) return report(bad_handle(fn), err);
  if (data == nullptr) return report(null_argument(fn, "data"), err);
  if (out == nullptr) return report(null_argument(fn, "out"), err);
  tern::Evaluation e;
  const tern::Status s = m->evaluate(tern::c_api::to_batch(*data), &e);
  if (s.ok()) {
    out->rows = e.rows;
    out->mean_loss = e.mean_loss;
    out->correct = e.correct;
    out->accuracy = e.accuracy;
    out->mean_squared_error = e.mean_squared_error;
  }
  return report(s, err);
}

tern_status tern_model_row_losses(tern_model* model, const tern_batch* data, float* losses,
                                  tern_error* err) {
  const char* fn = "tern_model_row_losses";
  tern::Model* m = live(model);
  if (m == nullptr) return report(bad_handle(fn), err);
  if (data == nullptr) return report(null_argument(fn, "data"), err);
  if (losses == nullptr) return report(null_argument(fn, "losses"), err);
  return report(m->row_losses(tern::c_api::to_batch(*data), losses), err);
}

}  // extern "C"
