/* SPDX-License-Identifier: Apache-2.0 */
/* The PyTorch conventions of tern.h from C99 (docs/pytorch.md), on one
 * linear Dense layer y = x W + b, whose SGD step (momentum 0) moves the
 * outputs by exactly
 *   y'_r = y_r - lr * sum_s (x_r . x_s + 1) G_s   (G: dLoss/dy)
 * and, with weight decay on every parameter, by - lr * wd * y_r more:
 * what the test computes in double from the outputs alone.
 *   - the new fields default to 0, tern's conventions;
 *   - TERN_MSE_MEAN and TERN_MSE_SUM report nn.MSELoss's mean and sum and
 *     step by their gradients 2 (y - t) / (rows * cols) and 2 (y - t);
 *   - TERN_WEIGHT_DECAY_ALL_PARAMETERS decays the bias too (SGD's
 *     g + wd * p); the default does not;
 *   - TERN_EXAMPLE_DIVISOR_EXAMPLES divides by the examples: with one row
 *     per example the same bits as dividing by rows, with two the step of
 *     the mean over examples;
 *   - values outside the enums, the sum with example gradients and the
 *     examples divisor without them are refused, naming the cause.
 * Every ISA available. Exit status 0 on success. */
#include <math.h>
#include <string.h>

#include "capi_test_util.h"

#define ROWS 4
#define IN 2
#define OUT 4
static const tern_layer kLayers[] = {{TERN_LAYER_DENSE, TERN_ACT_IDENTITY, OUT, 0, TERN_INIT_AUTO}};
static unsigned char arena[64 * 1024] __attribute__((aligned(64)));
static const float xs[ROWS][IN] = {{0.5f, -0.25f}, {0.75f, 0.5f}, {-0.5f, 1.0f}, {0.25f, -1.0f}};
static const float ts[ROWS][OUT] = {{0.5f, -0.5f, 1.0f, 0.0f},
                                    {-1.0f, 0.25f, 0.5f, 0.75f},
                                    {0.0f, 1.0f, -0.5f, -0.25f},
                                    {1.0f, 0.5f, 0.25f, -1.0f}};

static tern_spec spec_of(uint32_t example_rows) {
  tern_spec s;
  memset(&s, 0, sizeof s);
  s.input_width = IN;
  s.rows = ROWS;
  s.mode = TERN_MODE_TRAINING;
  s.loss = TERN_LOSS_MSE;
  s.optimizer = TERN_OPTIMIZER_SGD;
  s.layers = kLayers;
  s.layer_count = 1;
  s.example_rows = example_rows;
  return s;
}

static tern_batch batch_of(void) {
  tern_batch b;
  memset(&b, 0, sizeof b);
  b.x = xs[0];
  b.ldx = IN;
  b.rows = ROWS;
  b.targets = ts[0];
  b.ldt = OUT;
  return b;
}

static tern_model* create(uint32_t example_rows) {
  tern_error err;
  tern_model* model = NULL;
  const tern_spec s = spec_of(example_rows);
  CHECK_STATUS(tern_model_create(&s, arena, sizeof arena, &model, &err), TERN_OK, err);
  return model;
}

static void outputs(tern_model* model, double y[ROWS][OUT]) {
  float out[ROWS][OUT];
  tern_error err;
  int r, j;
  CHECK_STATUS(tern_model_infer(model, xs[0], IN, ROWS, out[0], OUT, &err), TERN_OK, err);
  for (r = 0; r < ROWS; ++r)
    for (j = 0; j < OUT; ++j) y[r][j] = out[r][j];
}

/* y' = y - lr * sum_s (x_r . x_s + 1) G_s - lr * wd * y_r, in double. */
static void expected_step(double y[ROWS][OUT], double g[ROWS][OUT], double lr, double wd,
                          double want[ROWS][OUT]) {
  int r, s, j;
  for (r = 0; r < ROWS; ++r) {
    for (j = 0; j < OUT; ++j) {
      double move = 0;
      for (s = 0; s < ROWS; ++s) {
        const double k = (double)xs[r][0] * xs[s][0] + (double)xs[r][1] * xs[s][1] + 1.0;
        move += k * g[s][j];
      }
      want[r][j] = y[r][j] - lr * move - lr * wd * y[r][j];
    }
  }
}

/* Largest |a - b| over the outputs. */
static double distance(double a[ROWS][OUT], double b[ROWS][OUT]) {
  double d = 0;
  int r, j;
  for (r = 0; r < ROWS; ++r)
    for (j = 0; j < OUT; ++j)
      if (fabs(a[r][j] - b[r][j]) > d) d = fabs(a[r][j] - b[r][j]);
  return d;
}

/* One SGD step (lr 0.1, momentum 0) with `reduction`: the loss reported and
 * the outputs after it against nn.MSELoss's value and gradient. */
static void check_reduction(int32_t reduction) {
  tern_error err;
  tern_model* model = create(0);
  tern_optimizer_params p = tern_optimizer_defaults();
  tern_batch b = batch_of();
  double y[ROWS][OUT], g[ROWS][OUT], want[ROWS][OUT], got[ROWS][OUT], sum = 0, expected;
  const double lr = 0.1, n = (double)ROWS * OUT;
  float loss = 0;
  int r, j;
  p.learning_rate = (float)lr;
  p.momentum = 0.0f;
  p.mse_reduction = reduction;
  CHECK_STATUS(tern_model_set_optimizer(model, &p, &err), TERN_OK, err);
  outputs(model, y);
  for (r = 0; r < ROWS; ++r) {
    for (j = 0; j < OUT; ++j) {
      const double e = y[r][j] - ts[r][j];
      sum += e * e;
      g[r][j] = reduction == TERN_MSE_MEAN   ? 2.0 * e / n
                : reduction == TERN_MSE_SUM  ? 2.0 * e
                                             : e / ROWS;
    }
  }
  expected = reduction == TERN_MSE_MEAN ? sum / n : reduction == TERN_MSE_SUM ? sum : 0.5 * sum / ROWS;
  CHECK_STATUS(tern_model_train_step(model, &b, &loss, &err), TERN_OK, err);
  CHECK(fabs(loss - expected) <= 1e-6 * expected);
  expected_step(y, g, lr, 0.0, want);
  outputs(model, got);
  CHECK(distance(got, want) <= 1e-5);
}

/* A first step without decay (the bias moves off 0), then one with weight
 * decay 0.5 under `scope`: all parameters match SGD's g + wd * p. */
static double decay_distance(int32_t scope) {
  tern_error err;
  tern_model* model = create(0);
  tern_optimizer_params p = tern_optimizer_defaults();
  tern_batch b = batch_of();
  double y[ROWS][OUT], g[ROWS][OUT], want[ROWS][OUT], got[ROWS][OUT];
  const double lr = 0.1, wd = 0.5;
  int r, j;
  p.learning_rate = (float)lr;
  p.momentum = 0.0f;
  p.weight_decay_scope = scope;
  CHECK_STATUS(tern_model_set_optimizer(model, &p, &err), TERN_OK, err);
  CHECK_STATUS(tern_model_train_step(model, &b, NULL, &err), TERN_OK, err);
  p.weight_decay = (float)wd;
  CHECK_STATUS(tern_model_set_optimizer(model, &p, &err), TERN_OK, err);
  outputs(model, y);
  for (r = 0; r < ROWS; ++r)
    for (j = 0; j < OUT; ++j) g[r][j] = (y[r][j] - ts[r][j]) / ROWS;
  CHECK_STATUS(tern_model_train_step(model, &b, NULL, &err), TERN_OK, err);
  expected_step(y, g, lr, wd, want);
  outputs(model, got);
  return distance(got, want);
}

/* One step with example rows and a clip bound no example reaches: the
 * mean over the rows or over the examples. */
static void divisor_outputs(uint32_t example_rows, int32_t divisor, double got[ROWS][OUT],
                            double want[ROWS][OUT]) {
  tern_error err;
  tern_model* model = create(example_rows);
  tern_optimizer_params p = tern_optimizer_defaults();
  tern_clip_params c;
  tern_batch b = batch_of();
  double y[ROWS][OUT], g[ROWS][OUT];
  const double lr = 0.1;
  const double by = divisor == TERN_EXAMPLE_DIVISOR_EXAMPLES ? (double)ROWS / example_rows : ROWS;
  int r, j;
  p.learning_rate = (float)lr;
  p.momentum = 0.0f;
  CHECK_STATUS(tern_model_set_optimizer(model, &p, &err), TERN_OK, err);
  memset(&c, 0, sizeof c);
  c.example_clip = 1e6f;
  c.divisor = divisor;
  CHECK_STATUS(tern_model_set_clipping(model, &c, &err), TERN_OK, err);
  outputs(model, y);
  for (r = 0; r < ROWS; ++r)
    for (j = 0; j < OUT; ++j) g[r][j] = (y[r][j] - ts[r][j]) / by;
  CHECK_STATUS(tern_model_train_step(model, &b, NULL, &err), TERN_OK, err);
  expected_step(y, g, lr, 0.0, want);
  outputs(model, got);
}

static void check_isa(int32_t isa) {
  double got[ROWS][OUT], want[ROWS][OUT], rows_got[ROWS][OUT];
  int r, j, same = 1;
  (void)isa;
  check_reduction(TERN_MSE_HALF_SUM_OVER_ROWS);
  check_reduction(TERN_MSE_MEAN);
  check_reduction(TERN_MSE_SUM);
  CHECK(decay_distance(TERN_WEIGHT_DECAY_ALL_PARAMETERS) <= 1e-5);
  /* The default leaves the bias undecayed: off by lr * wd * b. */
  CHECK(decay_distance(TERN_WEIGHT_DECAY_DENSE_WEIGHTS) > 1e-3);

  divisor_outputs(2, TERN_EXAMPLE_DIVISOR_EXAMPLES, got, want);
  CHECK(distance(got, want) <= 1e-5);
  divisor_outputs(2, TERN_EXAMPLE_DIVISOR_ROWS, got, want);
  CHECK(distance(got, want) <= 1e-5);
  /* One row per example: the same number, so the same bits. */
  divisor_outputs(1, TERN_EXAMPLE_DIVISOR_ROWS, rows_got, want);
  divisor_outputs(1, TERN_EXAMPLE_DIVISOR_EXAMPLES, got, want);
  for (r = 0; r < ROWS; ++r)
    for (j = 0; j < OUT; ++j) same &= memcmp(&got[r][j], &rows_got[r][j], sizeof(double)) == 0;
  CHECK(same);
}

static void check_refusals(void) {
  tern_error err;
  tern_model* model = create(0);
  tern_optimizer_params p = tern_optimizer_defaults();
  tern_clip_params c;
  CHECK(p.weight_decay_scope == TERN_WEIGHT_DECAY_DENSE_WEIGHTS);
  CHECK(p.mse_reduction == TERN_MSE_HALF_SUM_OVER_ROWS);
  p.weight_decay_scope = 2;
  CHECK_ERROR(tern_model_set_optimizer(model, &p, &err), TERN_INVALID_ARGUMENT, err,
              "tern_model_set_optimizer: weight_decay_scope 2 is not one of 0 .. 1");
  p.weight_decay_scope = 0;
  p.mse_reduction = -1;
  CHECK_ERROR(tern_model_set_optimizer(model, &p, &err), TERN_INVALID_ARGUMENT, err,
              "tern_model_set_optimizer: mse_reduction -1 is not one of 0 .. 2");
  p.mse_reduction = 256;
  CHECK_ERROR(tern_model_set_optimizer(model, &p, &err), TERN_INVALID_ARGUMENT, err,
              "tern_model_set_optimizer: mse_reduction 256 is not one of 0 .. 2");
  memset(&c, 0, sizeof c);
  c.divisor = TERN_EXAMPLE_DIVISOR_EXAMPLES;
  CHECK_STATUS(tern_model_set_clipping(model, &c, &err), TERN_FAILED_PRECONDITION, err);
  CHECK(strstr(err.message, "example_rows is 0") != NULL);

  model = create(2);
  c.divisor = 5;
  CHECK_ERROR(tern_model_set_clipping(model, &c, &err), TERN_INVALID_ARGUMENT, err,
              "tern_model_set_clipping: divisor 5 is not 0 (rows) or 1 (examples)");
  p = tern_optimizer_defaults();
  p.mse_reduction = TERN_MSE_SUM;
  CHECK_STATUS(tern_model_set_optimizer(model, &p, &err), TERN_FAILED_PRECONDITION, err);
  CHECK(strstr(err.message, "sum reduction") != NULL);
}

int main(void) {
  for_each_isa(check_isa);
  check_refusals();
  return finish("test_capi_conventions");
}
