/* SPDX-License-Identifier: Apache-2.0 */
/* The open backward pass of tern.h from C99, on a linear model y = x W + b
 * whose gradients are written here in closed form (for the caller's dL/dY
 * G: dL/dX = G W^T), under every ISA:
 *   - W read back through the model's own outputs (y(e_k) - y(0));
 *   - forward, backward(G): the input gradient is G W^T, the output
 *     gradient is G itself;
 *   - backward with the gradient compute_gradients produced gives its
 *     step, bit for bit;
 *   - every error path, with its message where tern.h adds one. */
#include <math.h>

#include "capi_test_util.h"

#define IN 3
#define OUT 2
#define ROWS 4

static unsigned char arena_a[64 * 1024] __attribute__((aligned(64)));
static unsigned char arena_b[64 * 1024] __attribute__((aligned(64)));
static const tern_layer kLinear[] = {{TERN_LAYER_DENSE, TERN_ACT_IDENTITY, OUT, 0, TERN_INIT_AUTO}};

static tern_spec linear_spec(int32_t input_gradient) {
  tern_spec s;
  memset(&s, 0, sizeof s);
  s.input_width = IN;
  s.rows = ROWS;
  s.mode = TERN_MODE_TRAINING;
  s.loss = TERN_LOSS_MSE;
  s.optimizer = TERN_OPTIMIZER_SGD;
  s.layers = kLinear;
  s.layer_count = 1;
  s.input_gradient = input_gradient;
  return s;
}

static tern_model* create(const tern_spec* spec, unsigned char* arena) {
  tern_model* model = NULL;
  tern_error err;
  CHECK_STATUS(tern_model_create(spec, arena, sizeof arena_a, &model, &err), TERN_OK, err);
  return model;
}

static const float xs[ROWS * IN] = {0.5f, -1.0f, 0.25f, 1.0f,  0.75f, -0.5f,
                                    -0.25f, 0.5f, 1.0f, 0.125f, -0.75f, 0.5f};
static const float ts[ROWS * OUT] = {0.5f, -0.5f, 1.0f, 0.25f, -1.0f, 0.0f, 0.75f, -0.25f};
static const float gs[ROWS * OUT] = {0.5f, -0.25f, 0.125f, 1.0f, -0.75f, 0.375f, 0.25f, -0.5f};

static void check_closed_form(int32_t isa) {
  const tern_spec spec = linear_spec(1);
  tern_model* model = create(&spec, arena_a);
  tern_error err;
  float probe[ROWS * IN], y[ROWS * OUT], w[IN * OUT], dx[ROWS * IN], dy[ROWS * OUT];
  size_t rows = 0, i, j, k;
  (void)isa;
  if (model == NULL) return;
  /* W row k = y(e_k) - y(0). */
  memset(probe, 0, sizeof probe);
  for (k = 0; k < IN; ++k) probe[k * IN + k] = 1.0f;
  CHECK_STATUS(tern_model_forward(model, probe, IN, ROWS, y, OUT, &err), TERN_OK, err);
  for (k = 0; k < IN; ++k) {
    for (j = 0; j < OUT; ++j) w[k * OUT + j] = y[k * OUT + j] - y[IN * OUT + j];
  }
  CHECK_STATUS(tern_model_forward(model, xs, IN, ROWS, NULL, 0, &err), TERN_OK, err);
  CHECK_STATUS(tern_model_backward(model, gs, OUT, ROWS, &err), TERN_OK, err);
  CHECK_STATUS(tern_model_input_gradient(model, dx, IN, &rows, &err), TERN_OK, err);
  CHECK(rows == ROWS);
  for (i = 0; i < ROWS; ++i) {
    for (k = 0; k < IN; ++k) {
      double want = 0.0;
      for (j = 0; j < OUT; ++j) want += (double)gs[i * OUT + j] * (double)w[k * OUT + j];
      CHECK(fabs(dx[i * IN + k] - want) <= 1e-5 * (1.0 + fabs(want)));
    }
  }
  rows = 0;
  CHECK_STATUS(tern_model_output_gradient(model, dy, OUT, &rows, &err), TERN_OK, err);
  CHECK(rows == ROWS);
  CHECK(memcmp(dy, gs, sizeof dy) == 0);
}

/* backward(the loss's own gradient) + apply = compute_gradients + apply. */
static void check_same_step(int32_t isa) {
  const tern_spec spec = linear_spec(1);
  tern_model* a = create(&spec, arena_a);
  tern_model* b = create(&spec, arena_b);
  tern_error err;
  tern_batch batch;
  float dy[ROWS * OUT], dxa[ROWS * IN], dxb[ROWS * IN], ya[ROWS * OUT], yb[ROWS * OUT];
  (void)isa;
  if (a == NULL || b == NULL) return;
  memset(&batch, 0, sizeof batch);
  batch.x = xs;
  batch.ldx = IN;
  batch.rows = ROWS;
  batch.targets = ts;
  batch.ldt = OUT;
  CHECK_STATUS(tern_model_compute_gradients(a, &batch, NULL, &err), TERN_OK, err);
  CHECK_STATUS(tern_model_output_gradient(a, dy, OUT, NULL, &err), TERN_OK, err);
  CHECK_STATUS(tern_model_forward(b, xs, IN, ROWS, NULL, 0, &err), TERN_OK, err);
  CHECK_STATUS(tern_model_backward(b, dy, OUT, ROWS, &err), TERN_OK, err);
  CHECK_STATUS(tern_model_input_gradient(a, dxa, IN, NULL, &err), TERN_OK, err);
  CHECK_STATUS(tern_model_input_gradient(b, dxb, IN, NULL, &err), TERN_OK, err);
  CHECK(memcmp(dxa, dxb, sizeof dxa) == 0);
  CHECK_STATUS(tern_model_apply_gradients(a, &err), TERN_OK, err);
  CHECK_STATUS(tern_model_apply_gradients(b, &err), TERN_OK, err);
  CHECK_STATUS(tern_model_forward(a, xs, IN, ROWS, ya, OUT, &err), TERN_OK, err);
  CHECK_STATUS(tern_model_forward(b, xs, IN, ROWS, yb, OUT, &err), TERN_OK, err);
  CHECK(memcmp(ya, yb, sizeof ya) == 0);
}

static void check_errors(void) {
  tern_spec spec = linear_spec(1);
  tern_model* model = create(&spec, arena_a);
  tern_error err;
  float dx[ROWS * IN], bad[ROWS * OUT];
  size_t rows = 7;
  if (model == NULL) return;

  /* The spec field. */
  spec.input_gradient = 2;
  CHECK_ERROR(tern_spec_check(&spec, &err), TERN_INVALID_ARGUMENT, err,
              "tern_spec: input_gradient 2 must be 0 or 1");
  spec.input_gradient = 1;
  spec.example_rows = 1;
  CHECK_ERROR(tern_spec_check(&spec, &err), TERN_INVALID_ARGUMENT, err,
              "tern_spec: input_gradient 1 excludes example_rows (1) and accumulation_rows (0)");
  spec.example_rows = 0;
  /* Ignored by an inference spec: the same arena as without it. */
  spec.mode = TERN_MODE_INFERENCE;
  CHECK_STATUS(tern_spec_check(&spec, &err), TERN_OK, err);
  {
    const size_t with = tern_arena_bytes(&spec);
    spec.input_gradient = 0;
    CHECK(tern_arena_bytes(&spec) == with);
    spec.input_gradient = 1;
  }
  spec.mode = TERN_MODE_TRAINING;

  /* Nothing to read or differentiate yet. */
  CHECK_ERROR(tern_model_input_gradient(model, dx, IN, &rows, &err), TERN_FAILED_PRECONDITION,
              err,
              "tern_model_input_gradient: no backward pass since the last loss or "
              "initialisation");
  CHECK(rows == 7);
  CHECK_STATUS(tern_model_backward(model, gs, OUT, ROWS, &err), TERN_FAILED_PRECONDITION, err);
  CHECK_STATUS(tern_model_forward(model, xs, IN, ROWS, NULL, 0, &err), TERN_OK, err);
  CHECK_ERROR(tern_model_backward(model, gs, OUT, ROWS - 1, &err), TERN_INVALID_ARGUMENT, err,
              "backward: 3 rows of dL/dY, but the last forward() ran 4 rows");
  CHECK_ERROR(tern_model_backward(model, NULL, OUT, ROWS, &err), TERN_INVALID_ARGUMENT, err,
              "backward: dl_dy is null");
  memcpy(bad, gs, sizeof bad);
  bad[5] = INFINITY;
  CHECK_ERROR(tern_model_backward(model, bad, OUT, ROWS, &err), TERN_NON_FINITE, err,
              "backward: dl_dy row 2 column 1 is not finite");
  CHECK_STATUS(tern_model_backward(model, gs, OUT, ROWS, &err), TERN_OK, err);
  CHECK_STATUS(tern_model_backward(model, gs, OUT, ROWS, &err), TERN_FAILED_PRECONDITION, err);

  /* The copies. */
  CHECK_ERROR(tern_model_input_gradient(model, NULL, IN, NULL, &err), TERN_INVALID_ARGUMENT, err,
              "tern_model_input_gradient: dx is null");
  CHECK_ERROR(tern_model_output_gradient(model, bad, 1, NULL, &err), TERN_INVALID_ARGUMENT, err,
              "tern_model_output_gradient: dy row stride 1 is smaller than its width 2");
  CHECK_STATUS(tern_model_output_gradient(model, (float*)((char*)bad + 1), OUT, NULL, &err),
               TERN_MISALIGNED, err);
  CHECK_STATUS(tern_model_input_gradient(NULL, dx, IN, NULL, &err), TERN_INVALID_ARGUMENT, err);
  CHECK_STATUS(tern_model_backward(NULL, gs, OUT, ROWS, &err), TERN_INVALID_ARGUMENT, err);
  CHECK_STATUS(tern_model_forward(NULL, xs, IN, ROWS, NULL, 0, &err), TERN_INVALID_ARGUMENT, err);
  CHECK_STATUS(tern_model_apply_gradients(NULL, &err), TERN_INVALID_ARGUMENT, err);
  CHECK_ERROR(tern_model_compute_gradients(model, NULL, NULL, &err), TERN_INVALID_ARGUMENT, err,
              "tern_model_compute_gradients: batch is null");
  CHECK_ERROR(tern_model_forward(model, xs, IN, ROWS, bad, 1, &err), TERN_INVALID_ARGUMENT, err,
              "tern_model_forward: y row stride 1 is smaller than its width 2");

  /* Without the option. */
  spec.input_gradient = 0;
  model = create(&spec, arena_a);
  if (model == NULL) return;
  CHECK_STATUS(tern_model_forward(model, xs, IN, ROWS, NULL, 0, &err), TERN_OK, err);
  CHECK_STATUS(tern_model_backward(model, gs, OUT, ROWS, &err), TERN_OK, err);
  CHECK_ERROR(tern_model_input_gradient(model, dx, IN, NULL, &err), TERN_FAILED_PRECONDITION, err,
              "tern_model_input_gradient: the spec has input_gradient 0 (the gradients at the "
              "model's boundary are not planned)");
  /* A fused update stores no gradient. */
  spec.fused_update = 1;
  model = create(&spec, arena_a);
  if (model == NULL) return;
  CHECK_STATUS(tern_model_forward(model, xs, IN, ROWS, NULL, 0, &err), TERN_OK, err);
  CHECK_ERROR(tern_model_backward(model, gs, OUT, ROWS, &err), TERN_FAILED_PRECONDITION, err,
              "backward: the spec has fused_update, whose step forms no stored gradient from a "
              "caller's dL/dY; build without it");
}

int main(void) {
  for_each_isa(check_closed_form);
  for_each_isa(check_same_step);
  check_errors();
  return finish("tern-capi-backward-test");
}
