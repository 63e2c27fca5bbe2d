// SPDX-License-Identifier: Apache-2.0
// The checked entry points of the element-wise kernels
// (kernels/src/api_elementwise.cpp): no heap allocation, empty shapes
// touch nothing, and every argument error with its exact message, leaving
// the outputs unwritten.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "alloc_counter.h"
#include "elementwise_test_util.h"

using namespace tern;
using namespace tern::test;

// ---------------------------------------------------------------------------
// Checked entry points: no allocation, empty shapes, argument errors
// ---------------------------------------------------------------------------
TEST_CASE("element-wise entry points allocate nothing and handle empty shapes") {
  std::vector<float> a(64, 0.5f), b(64, 0.25f), c(64), d(64);
  std::vector<std::uint32_t> labels(8, 1);
  float loss = -1;
  AdamParams ap;
  tern::test::HeapAllocationScope scope;
  REQUIRE(add_bias_f32(8, 8, b.data(), a.data(), 8).ok());
  REQUIRE(pointwise_forward_f32(Pointwise::kGelu, 8, 8, a.data(), 8, c.data(), 8).ok());
  REQUIRE(pointwise_backward_f32(Pointwise::kTanh, 8, 8, nullptr, 0, c.data(), 8, b.data(), 8,
                                 d.data(), 8).ok());
  REQUIRE(softmax_rows_f32(8, 8, a.data(), 8, a.data(), 8).ok());
  REQUIRE(softmax_cross_entropy_f32(8, 8, a.data(), 8, labels.data(), 0.125f, c.data(), 8, &loss)
              .ok());
  REQUIRE(mse_f32(8, 8, a.data(), 8, b.data(), 8, 1.0f, c.data(), 8, &loss).ok());
  REQUIRE(sgd_momentum_f32(64, a.data(), b.data(), c.data(), SgdParams{}).ok());
  REQUIRE(adam_f32(64, a.data(), b.data(), c.data(), d.data(), ap).ok());
  CHECK(scope.count() == 0);

  // Empty shapes: nothing read or written, losses are +0.
  loss = -1;
  REQUIRE(softmax_cross_entropy_f32(0, 5, nullptr, 0, nullptr, 1.0f, nullptr, 0, &loss).ok());
  CHECK(same(loss, 0.0f));
  loss = -1;
  REQUIRE(mse_f32(3, 0, nullptr, 0, nullptr, 0, 1.0f, nullptr, 0, &loss).ok());
  CHECK(same(loss, 0.0f));
  REQUIRE(add_bias_f32(0, 3, nullptr, nullptr, 0).ok());
  REQUIRE(softmax_rows_f32(3, 0, nullptr, 0, nullptr, 0).ok());
  REQUIRE(sgd_momentum_f32(0, nullptr, nullptr, nullptr, SgdParams{}).ok());
  REQUIRE(adam_f32(0, nullptr, nullptr, nullptr, nullptr, ap).ok());
}

TEST_CASE("element-wise entry points reject bad arguments with exact messages") {
  std::vector<float> a(64, 0.5f), b(64, 0.25f), c(64, 7.0f);
  auto is = [](const Status& s, StatusCode code, const std::string& msg) {
    CHECK(s.code() == code);
    CHECK(std::string(s.message()) == msg);
  };
  is(add_bias_f32(2, 5, nullptr, a.data(), 5), StatusCode::kInvalidArgument,
     "add_bias_f32: bias is null for a 1x5 operand");
  is(add_bias_f32(2, 5, a.data() + 3, a.data(), 5), StatusCode::kInvalidArgument,
     "add_bias_f32: output Y overlaps input bias");
  is(pointwise_forward_f32(static_cast<Pointwise>(9), 2, 3, a.data(), 3, b.data(), 3),
     StatusCode::kInvalidArgument, "pointwise_forward_f32: unknown Pointwise value 9");
  is(pointwise_forward_f32(Pointwise::kRelu, 2, 3, a.data(), 3, a.data() + 1, 3),
     StatusCode::kInvalidArgument,
     "pointwise_forward_f32: output Y partially overlaps input X (in place needs the same "
     "pointer and stride)");
  is(pointwise_forward_f32(Pointwise::kRelu, 2, 3, a.data(), 3, a.data(), 4),
     StatusCode::kInvalidArgument,
     "pointwise_forward_f32: output Y partially overlaps input X (in place needs the same "
     "pointer and stride)");
  is(pointwise_backward_f32(Pointwise::kRelu, 2, 3, nullptr, 3, nullptr, 3, b.data(), 3,
                            c.data(), 3),
     StatusCode::kInvalidArgument, "pointwise_backward_f32: X is null for a 2x3 operand");
  is(pointwise_backward_f32(Pointwise::kSigmoid, 2, 3, nullptr, 3, nullptr, 3, b.data(), 3,
                            c.data(), 3),
     StatusCode::kInvalidArgument, "pointwise_backward_f32: Y is null for a 2x3 operand");
  is(pointwise_backward_f32(Pointwise::kTanh, 2, 3, nullptr, 0, a.data(), 3, b.data(), 3,
                            a.data() + 2, 3),
     StatusCode::kInvalidArgument,
     "pointwise_backward_f32: output dX partially overlaps input Y (in place needs the same "
     "pointer and stride)");
  is(softmax_rows_f32(2, 3, a.data(), 2, b.data(), 3), StatusCode::kInvalidArgument,
     "softmax_rows_f32: row stride of X is 2, smaller than its 3 columns");

  // Cross-entropy: labels, non-finite logits, and nothing written on failure.
  std::vector<std::uint32_t> labels = {1, 5, 0};
  float loss = 42.0f;
  is(softmax_cross_entropy_f32(3, 5, a.data(), 5, labels.data(), 1.0f, c.data(), 5, &loss),
     StatusCode::kInvalidArgument,
     "softmax_cross_entropy_f32: label 5 of row 1 is out of range for 5 classes");
  labels[1] = 4;
  a[1 * 5 + 2] = kInf;
  is(softmax_cross_entropy_f32(3, 5, a.data(), 5, labels.data(), 1.0f, c.data(), 5, &loss),
     StatusCode::kNonFinite, "softmax_cross_entropy_f32: logit Z[1][2] is inf");
  a[1 * 5 + 2] = kNaN;
  is(softmax_cross_entropy_f32(3, 5, a.data(), 5, labels.data(), 1.0f, c.data(), 5, &loss),
     StatusCode::kNonFinite, "softmax_cross_entropy_f32: logit Z[1][2] is nan");
  a[1 * 5 + 2] = 0.5f;
  CHECK(loss == 42.0f);
  for (float v : c) CHECK(v == 7.0f);
  is(softmax_cross_entropy_f32(3, 0, a.data(), 5, labels.data(), 1.0f, c.data(), 5, &loss),
     StatusCode::kInvalidArgument,
     "softmax_cross_entropy_f32: label 1 of row 0 is out of range for 0 classes");
  is(softmax_cross_entropy_f32(3, 5, a.data(), 5, labels.data(), 1.0f, c.data(), 5, nullptr),
     StatusCode::kInvalidArgument, "softmax_cross_entropy_f32: loss_sum is null");
  is(softmax_cross_entropy_f32(3, 5, a.data(), 5, labels.data(), 1.0f, c.data(), 5, &c[4]),
     StatusCode::kInvalidArgument, "softmax_cross_entropy_f32: outputs dZ and loss_sum overlap");
  is(softmax_cross_entropy_f32(3, 5, a.data(), 5, nullptr, 1.0f, c.data(), 5, &loss),
     StatusCode::kInvalidArgument, "softmax_cross_entropy_f32: labels is null for a 1x3 operand");
  is(softmax_cross_entropy_f32(3, 5, a.data(), 5, labels.data(), kNaN, c.data(), 5, &loss),
     StatusCode::kInvalidArgument, "softmax_cross_entropy_f32: grad_scale is nan, must be finite");

  is(mse_f32(2, 3, a.data(), 3, b.data(), 3, 1.0f, c.data(), 3, &a[4]),
     StatusCode::kInvalidArgument, "mse_f32: output loss_sum overlaps input P");
  is(mse_f32(2, 3, a.data(), 3, b.data(), 3, 1.0f, b.data() + 1, 3, &loss),
     StatusCode::kInvalidArgument,
     "mse_f32: output grad partially overlaps input T (in place needs the same pointer and "
     "stride)");

  // Optimizers.
  is(sgd_momentum_f32(8, a.data(), a.data() + 4, c.data(), SgdParams{}),
     StatusCode::kInvalidArgument, "sgd_momentum_f32: output w overlaps input g");
  // The velocity is checked only when momentum uses it (elementwise.h).
  const SgdParams with_momentum{0.01f, 0.9f, 0.0f};
  is(sgd_momentum_f32(8, a.data(), b.data(), a.data() + 7, with_momentum),
     StatusCode::kInvalidArgument, "sgd_momentum_f32: outputs w and velocity overlap");
  is(sgd_momentum_f32(8, a.data(), b.data(), nullptr, with_momentum),
     StatusCode::kInvalidArgument, "sgd_momentum_f32: velocity is null for a 1x8 operand");
  is(sgd_momentum_f32(8, a.data(), b.data(), nullptr, SgdParams{}), StatusCode::kOk, "");
  is(sgd_momentum_f32(8, a.data(), b.data(), c.data(), SgdParams{kInf, 0.0f, 0.0f}),
     StatusCode::kInvalidArgument, "sgd_momentum_f32: learning_rate is inf, must be finite");
  AdamParams ap;
  ap.step = 0;
  is(adam_f32(8, a.data(), b.data(), c.data(), c.data() + 8, ap), StatusCode::kInvalidArgument,
     "adam_f32: step is 0; Adam steps count from 1 (bias correction divides by 1 - beta^step)");
  ap.step = 1;
  ap.beta1 = 1.0f;
  is(adam_f32(8, a.data(), b.data(), c.data(), c.data() + 8, ap), StatusCode::kInvalidArgument,
     "adam_f32: beta1 is 1, must be in [0, 1)");
  ap.beta1 = 0.9f;
  ap.beta2 = -0.5f;
  is(adam_f32(8, a.data(), b.data(), c.data(), c.data() + 8, ap), StatusCode::kInvalidArgument,
     "adam_f32: beta2 is -0.5, must be in [0, 1)");
  ap.beta2 = 0.999f;
  ap.epsilon = 0.0f;
  is(adam_f32(8, a.data(), b.data(), c.data(), c.data() + 8, ap), StatusCode::kInvalidArgument,
     "adam_f32: epsilon is 0, must be finite and > 0");
  ap.epsilon = 1e-8f;
  is(adam_f32(8, a.data(), b.data(), c.data(), c.data() + 4, ap), StatusCode::kInvalidArgument,
     "adam_f32: outputs m and v overlap");
  is(adam_step_constants(ap, nullptr), StatusCode::kInvalidArgument,
     "adam_step_constants: out is null");
  ap.step = 0;
  AdamStepConstants k;
  is(adam_step_constants(ap, &k), StatusCode::kInvalidArgument,
     "adam_step_constants: step is 0; Adam steps count from 1 (bias correction divides by "
     "1 - beta^step)");
  CHECK(contains(adam_f32(0, nullptr, nullptr, nullptr, nullptr, ap), "step is 0"));
}
