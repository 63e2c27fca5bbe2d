// SPDX-License-Identifier: Apache-2.0
// tern/runtime/evaluation.h — what Model::evaluate() reports: the mean loss
// and the accuracy (softmax cross-entropy) or the mean squared error (MSE)
// of a model over a data set of any size.
//
// Evaluation is a measurement, never a step. Model::evaluate() runs the
// forward pass over the data in chunks of at most spec.rows rows (the
// model's activation buffers hold no more) and computes each row's loss
// from its outputs without writing a delta: inference models have no delta
// buffers, and a training model's gradients, optimizer moments, step count,
// divergence-guard state and clipping figures are left exactly as they were,
// so evaluating between two train_step() calls changes nothing the second
// one computes.
//
// The figures are the same bits on every ISA and for every chunking:
// each row's loss is the loss kernel's value for that row alone (the same
// kernel, the same formula as training: softmax cross-entropy, or half the
// squared error summed over the outputs), and the rows' losses are added in
// row order in double precision (53 bits: 10^6 rows of float losses add
// with a rounding error far below a float's last bit). A training model of
// spec.rows = 64 and an inference model of spec.rows = 1 holding the same
// parameters report identical figures for the same data.
#pragma once

#include <cstddef>

namespace tern {

struct Evaluation {
  // The rows evaluated (Batch::rows).
  std::size_t rows = 0;
  // Mean over the rows of the spec's loss: softmax cross-entropy, or half
  // the squared error summed over the outputs (MSE as training defines it).
  float mean_loss = 0.0f;
  // Softmax cross-entropy: the rows whose largest output (the first on
  // ties, as predict() chooses) is the label, and correct / rows. 0 for MSE.
  std::size_t correct = 0;
  float accuracy = 0.0f;
  // MSE: the squared errors summed over rows and outputs, divided by
  // rows x output width (= 2 mean_loss / output width). 0 for softmax
  // cross-entropy.
  float mean_squared_error = 0.0f;
};

}  // namespace tern
