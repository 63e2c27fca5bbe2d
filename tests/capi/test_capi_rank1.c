/* SPDX-License-Identifier: Apache-2.0 */
/* The rank-1 calls of tern.h from C99, on a linear model y = x W + b with
 * MSE, whose gradients are written here in closed form (residual
 * r = y - t: dW = x^T r, db = r per example), under every ISA:
 *   - per-example gradient norms ||r|| sqrt(||x||^2 + 1) and the global
 *     norm of the mean gradient, to float rounding;
 *   - accumulate twice, flush: one SGD step on the mean gradient of all the
 *     rows; the accumulated row count and the step count along the way;
 *   - rank1_edit adds scale a^T b to W (training and inference models);
 *     edit_factors gives u = x and delta = r / rows;
 *   - every error path of the calls, with its message where tern.h adds
 *     one. */
#include <math.h>

#include "capi_test_util.h"

#define IN 3
#define OUT 2
#define ROWS 4

static unsigned char arena[64 * 1024] __attribute__((aligned(64)));
static unsigned char saved[4 * 1024];
static const tern_layer kLinear[] = {{TERN_LAYER_DENSE, TERN_ACT_IDENTITY, OUT, 0, TERN_INIT_AUTO}};
static float xs[ROWS * IN], ts[ROWS * OUT];

static tern_spec linear_spec(uint32_t rows, uint32_t example_rows, uint32_t accumulation_rows) {
  tern_spec s;
  memset(&s, 0, sizeof s);
  s.input_width = IN;
  s.rows = rows;
  s.mode = TERN_MODE_TRAINING;
  s.loss = TERN_LOSS_MSE;
  s.optimizer = TERN_OPTIMIZER_SGD;
  s.layers = kLinear;
  s.layer_count = 1;
  s.example_rows = example_rows;
  s.accumulation_rows = accumulation_rows;
  return s;
}

static tern_batch batch_at(size_t first, size_t rows) {
  tern_batch b;
  memset(&b, 0, sizeof b);
  b.x = xs + first * IN;
  b.ldx = IN;
  b.rows = rows;
  b.targets = ts + first * OUT;
  b.ldt = OUT;
  return b;
}

static tern_model* create(const tern_spec* spec) {
  tern_model* model = NULL;
  tern_error err;
  tern_optimizer_params p = tern_optimizer_defaults();
  CHECK_STATUS(tern_model_create(spec, arena, sizeof arena, &model, &err), TERN_OK, err);
  if (spec->mode == TERN_MODE_TRAINING) {
    p.learning_rate = 0.125f;
    p.momentum = 0;
    CHECK_STATUS(tern_model_set_optimizer(model, &p, &err), TERN_OK, err);
  }
  return model;
}

/* W (IN x OUT) and b of the model, from its saved file (format 2, one layer). */
static void parameters(const tern_model* model, double* w, double* b) {
  tern_error err;
  size_t written = 0, i;
  CHECK_STATUS(tern_model_save(model, saved, sizeof saved, 0, &written, &err), TERN_OK, err);
  for (i = 0; i < IN * OUT + OUT; ++i) {
    const unsigned char* p = saved + 52 + 16 + 4 * i;
    const uint32_t bits =
        (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    float f;
    memcpy(&f, &bits, sizeof f);
    if (i < IN * OUT) w[i] = f; else b[i - IN * OUT] = f;
  }
}

/* Residuals y - t of rows [first, first + rows) under W, b, in double. */
static void residuals(const double* w, const double* b, size_t first, size_t rows, double* r) {
  size_t i, j, k;
  for (i = 0; i < rows; ++i) {
    for (j = 0; j < OUT; ++j) {
      double y = b[j];
      for (k = 0; k < IN; ++k) y += xs[(first + i) * IN + k] * w[k * OUT + j];
      r[i * OUT + j] = y - ts[(first + i) * OUT + j];
    }
  }
}

static int close_to(double got, double want) {
  return fabs(got - want) <= 1e-5 * (fabs(want) + 1e-3);
}

static void check_norms(int32_t isa) {
  const tern_spec with_examples = linear_spec(ROWS, 1, 0);
  const tern_spec plain = linear_spec(ROWS, 0, 0);
  const tern_spec* specs[2];
  tern_clip_params clip;
  tern_error err;
  double w[IN * OUT], b[OUT], r[ROWS * OUT], g[IN * OUT + OUT], sq = 0;
  float norms[ROWS * 2];
  size_t examples = 99, i, j, k;
  int s;
  tern_model* model;
  const tern_batch batch = batch_at(0, ROWS);
  (void)isa;
  specs[0] = &with_examples;
  specs[1] = &plain;
  memset(&clip, 0, sizeof clip);
  clip.global_clip = 1e9f; /* measured, never clipping */
  for (s = 0; s < 2; ++s) {
    model = create(specs[s]);
    CHECK(tern_model_gradient_norm(model) == 0.0f);
    CHECK_STATUS(tern_model_set_clipping(model, &clip, &err), TERN_OK, err);
    parameters(model, w, b);
    residuals(w, b, 0, ROWS, r);
    CHECK_STATUS(tern_model_train_step(model, &batch, NULL, &err), TERN_OK, err);
    /* The mean gradient and its norm. */
    memset(g, 0, sizeof g);
    for (i = 0; i < ROWS; ++i) {
      for (j = 0; j < OUT; ++j) {
        for (k = 0; k < IN; ++k) g[k * OUT + j] += xs[i * IN + k] * r[i * OUT + j] / ROWS;
        g[IN * OUT + j] += r[i * OUT + j] / ROWS;
      }
    }
    for (sq = 0, i = 0; i < IN * OUT + OUT; ++i) sq += g[i] * g[i];
    CHECK(close_to(tern_model_gradient_norm(model), sqrt(sq)));
    if (s == 1) {
      CHECK_STATUS(tern_model_example_norms(model, norms, ROWS * 2, &examples, &err),
                   TERN_FAILED_PRECONDITION, err);
      continue;
    }
    CHECK_STATUS(tern_model_example_norms(model, norms, ROWS * 2, &examples, &err), TERN_OK, err);
    CHECK(examples == ROWS);
    for (i = 0; i < ROWS; ++i) {
      double x2 = 1, r2 = 0;
      for (k = 0; k < IN; ++k) x2 += (double)xs[i * IN + k] * xs[i * IN + k];
      for (j = 0; j < OUT; ++j) r2 += r[i * OUT + j] * r[i * OUT + j];
      CHECK(close_to(norms[2 * i], sqrt(r2 * x2)));     /* layer 0 */
      CHECK(close_to(norms[2 * i + 1], sqrt(r2 * x2))); /* the model */
    }
  }
}

static void check_accumulation(int32_t isa) {
  const tern_spec spec = linear_spec(2, 0, ROWS);
  tern_model* model = create(&spec);
  tern_error err;
  double w[IN * OUT], b[OUT], r[ROWS * OUT], w2[IN * OUT], b2[OUT];
  const tern_batch first = batch_at(0, 2), second = batch_at(2, 2), one = batch_at(0, 1);
  float loss = -1;
  size_t i, j, k;
  (void)isa;
  parameters(model, w, b);
  residuals(w, b, 0, ROWS, r);
  CHECK_STATUS(tern_model_accumulate(model, &first, &loss, &err), TERN_OK, err);
  CHECK(close_to(loss, 0.25 * (r[0] * r[0] + r[1] * r[1] + r[2] * r[2] + r[3] * r[3])));
  CHECK(tern_model_accumulated_rows(model) == 2);
  CHECK_STATUS(tern_model_accumulate(model, &second, NULL, &err), TERN_OK, err);
  CHECK(tern_model_accumulated_rows(model) == 4);
  CHECK(tern_model_steps(model) == 0);
  CHECK_ERROR(tern_model_accumulate(model, &one, NULL, &err), TERN_FAILED_PRECONDITION, err,
              "accumulate: 1 rows do not fit: 4 of 4 factor rows are in use; flush() first");
  CHECK_STATUS(tern_model_flush(model, &err), TERN_OK, err);
  CHECK(tern_model_accumulated_rows(model) == 0);
  CHECK(tern_model_steps(model) == 1);
  /* One SGD step (rate 1/8) on the mean gradient of the 4 rows. */
  parameters(model, w2, b2);
  for (j = 0; j < OUT; ++j) {
    double gb = 0;
    for (k = 0; k < IN; ++k) {
      double gw = 0;
      for (i = 0; i < ROWS; ++i) gw += xs[i * IN + k] * r[i * OUT + j] / ROWS;
      CHECK(close_to(w2[k * OUT + j], w[k * OUT + j] - 0.125 * gw));
    }
    for (i = 0; i < ROWS; ++i) gb += r[i * OUT + j] / ROWS;
    CHECK(close_to(b2[j], b[j] - 0.125 * gb));
  }
  /* Nothing accumulated: flush does nothing. */
  CHECK_STATUS(tern_model_flush(model, &err), TERN_OK, err);
  CHECK(tern_model_steps(model) == 1);
}

static void check_edits(int32_t isa) {
  const tern_spec train = linear_spec(ROWS, 0, 0);
  tern_spec infer = linear_spec(1, 0, 0);
  const float a[IN] = {0.5f, 0.0f, -0.25f}, bv[OUT] = {1.0f, -2.0f};
  float u[ROWS * IN], delta[ROWS * OUT];
  double w[IN * OUT], b[OUT], w2[IN * OUT], b2[OUT], r[ROWS * OUT];
  tern_error err;
  tern_model* model;
  const tern_batch batch = batch_at(0, ROWS);
  size_t i, j, k;
  int m;
  (void)isa;
  infer.mode = TERN_MODE_INFERENCE;
  for (m = 0; m < 2; ++m) {
    model = create(m == 0 ? &train : &infer);
    parameters(model, w, b);
    CHECK_STATUS(tern_model_rank1_edit(model, 0, 1, a, IN, bv, OUT, 2.0f, &err), TERN_OK, err);
    parameters(model, w2, b2);
    for (k = 0; k < IN; ++k) {
      for (j = 0; j < OUT; ++j) {
        CHECK(close_to(w2[k * OUT + j], w[k * OUT + j] + 2.0 * a[k] * bv[j]));
      }
    }
    CHECK(b2[0] == b[0] && b2[1] == b[1]);
  }
  /* The factors of a batch: u = x, delta = r / rows; nothing changes. */
  model = create(&train);
  parameters(model, w, b);
  residuals(w, b, 0, ROWS, r);
  CHECK_STATUS(tern_model_edit_factors(model, &batch, 0, u, delta, &err), TERN_OK, err);
  for (i = 0; i < ROWS; ++i) {
    for (k = 0; k < IN; ++k) CHECK(u[i * IN + k] == xs[i * IN + k]);
    for (j = 0; j < OUT; ++j) CHECK(close_to(delta[i * OUT + j], r[i * OUT + j] / ROWS));
  }
  parameters(model, w2, b2);
  CHECK(memcmp(w, w2, sizeof w) == 0 && tern_model_steps(model) == 0);
}

static void test_errors(void) {
  const tern_spec plain = linear_spec(ROWS, 0, 0);
  const tern_spec with_examples = linear_spec(ROWS, 1, 0);
  tern_spec fused = linear_spec(ROWS, 0, 0);
  tern_spec infer = linear_spec(1, 0, 0);
  const tern_batch batch = batch_at(0, ROWS), three = batch_at(0, 3);
  tern_clip_params clip;
  tern_error err;
  tern_model* model;
  float a[IN] = {1, 1, 1}, bv[OUT] = {1, 1}, u[ROWS * IN], delta[ROWS * OUT], norms[8];
  static float store[16];
  size_t examples = 99;
  char text[TERN_MESSAGE_CAPACITY];
  fused.fused_update = 1;
  infer.mode = TERN_MODE_INFERENCE;
  memset(&clip, 0, sizeof clip);

  /* Bad handles. */
  CHECK_STATUS(tern_model_set_clipping(NULL, &clip, &err), TERN_INVALID_ARGUMENT, err);
  CHECK_STATUS(tern_model_example_norms(NULL, norms, 8, &examples, &err), TERN_INVALID_ARGUMENT,
               err);
  CHECK(examples == 0);
  CHECK_STATUS(tern_model_accumulate(NULL, &batch, NULL, &err), TERN_INVALID_ARGUMENT, err);
  CHECK_ERROR(tern_model_flush(NULL, &err), TERN_INVALID_ARGUMENT, err,
              "tern_model_flush: the model handle is null or not a model made by "
              "tern_model_create");
  CHECK_STATUS(tern_model_rank1_edit(NULL, 0, 1, a, IN, bv, OUT, 1, &err), TERN_INVALID_ARGUMENT,
               err);
  CHECK_STATUS(tern_model_edit_factors(NULL, &batch, 0, u, delta, &err), TERN_INVALID_ARGUMENT,
               err);
  CHECK(tern_model_gradient_norm(NULL) == 0.0f);
  CHECK(tern_model_accumulated_rows(NULL) == 0);
  CHECK(tern_model_steps(NULL) == 0);

  /* Clipping. */
  model = create(&plain);
  CHECK_ERROR(tern_model_set_clipping(model, NULL, &err), TERN_INVALID_ARGUMENT, err,
              "tern_model_set_clipping: params is null");
  clip.example_clip = -1;
  CHECK_ERROR(tern_model_set_clipping(model, &clip, &err), TERN_INVALID_ARGUMENT, err,
              "set_clipping: example clip -1, noise multiplier 0 and global clip 0 must be "
              "finite and >= 0");
  clip.example_clip = 1;
  CHECK_STATUS(tern_model_set_clipping(model, &clip, &err), TERN_FAILED_PRECONDITION, err);
  CHECK(strstr(err.message, "per-example clipping needs per-example norms") != NULL);
  clip.example_clip = 0;
  clip.noise_multiplier = 1;
  CHECK_ERROR(tern_model_set_clipping(model, &clip, &err), TERN_INVALID_ARGUMENT, err,
              "set_clipping: noise is scaled by the per-example clip bound, which is 0");
  clip.noise_multiplier = 0;
  clip.global_clip = 1;
  model = create(&fused);
  CHECK_STATUS(tern_model_set_clipping(model, &clip, &err), TERN_FAILED_PRECONDITION, err);
  model = create(&infer);
  CHECK_STATUS(tern_model_set_clipping(model, &clip, &err), TERN_FAILED_PRECONDITION, err);
  model = create(&with_examples);
  clip.global_clip = 0;
  clip.example_clip = 1e38f;
  clip.noise_multiplier = 10;
  CHECK_ERROR(tern_model_set_clipping(model, &clip, &err), TERN_INVALID_ARGUMENT, err,
              "set_clipping: noise deviation 10 * 1e+38 overflows float");

  /* Example norms. */
  model = create(&with_examples);
  CHECK_ERROR(tern_model_example_norms(model, NULL, 8, &examples, &err), TERN_INVALID_ARGUMENT,
              err, "tern_model_example_norms: norms is null");
  CHECK_STATUS(tern_model_example_norms(model, norms, 8, &examples, &err), TERN_OK, err);
  CHECK(examples == 0); /* no step yet */
  CHECK_STATUS(tern_model_train_step(model, &batch, NULL, &err), TERN_OK, err);
  CHECK_ERROR(tern_model_example_norms(model, norms, 7, &examples, &err), TERN_OUT_OF_MEMORY, err,
              "tern_model_example_norms: norms has room for 7 floats, the 4 examples of the last "
              "step need 8 (2 per example)");
  CHECK(examples == 0);
  sprintf(text, "tern_model_example_norms: norms at %p is not 4-byte aligned",
          (void*)((unsigned char*)store + 1));
  CHECK_ERROR(tern_model_example_norms(model, (float*)((unsigned char*)store + 1), 8, NULL, &err),
              TERN_MISALIGNED, err, text);
  model = create(&plain);
  CHECK_ERROR(tern_model_example_norms(model, norms, 8, NULL, &err), TERN_FAILED_PRECONDITION, err,
              "tern_model_example_norms: the spec has no example gradients (example_rows 0)");

  /* Accumulation. */
  CHECK_ERROR(tern_model_accumulate(model, &batch, NULL, &err), TERN_FAILED_PRECONDITION, err,
              "accumulate: the spec keeps no factor rows (build it with .with_accumulation(K))");
  CHECK_STATUS(tern_model_flush(model, &err), TERN_FAILED_PRECONDITION, err);
  {
    const tern_spec acc = linear_spec(2, 0, ROWS);
    model = create(&acc);
  }
  CHECK_ERROR(tern_model_accumulate(model, NULL, NULL, &err), TERN_INVALID_ARGUMENT, err,
              "tern_model_accumulate: batch is null");
  /* More rows than a step takes: never, whatever is accumulated. */
  CHECK_ERROR(tern_model_accumulate(model, &three, NULL, &err), TERN_INVALID_ARGUMENT, err,
              "train: 3 rows; the model was built for 1..2 rows per step");
  CHECK(tern_model_accumulated_rows(model) == 0);
  {
    const tern_batch two = batch_at(0, 2);
    CHECK_STATUS(tern_model_accumulate(model, &two, (float*)((unsigned char*)store + 2), &err),
                 TERN_MISALIGNED, err);
    CHECK(tern_model_accumulated_rows(model) == 0);
  }

  /* Edits. */
  model = create(&plain);
  CHECK_ERROR(tern_model_rank1_edit(model, 1, 1, a, IN, bv, OUT, 1, &err), TERN_INVALID_ARGUMENT,
              err, "rank1_edit: layer 1 is not a Dense layer");
  CHECK_ERROR(tern_model_rank1_edit(model, 0, 1, NULL, IN, bv, OUT, 1, &err),
              TERN_INVALID_ARGUMENT, err, "rank1_edit: factor a is null");
  CHECK_STATUS(tern_model_rank1_edit(model, 0, 1, a, IN - 1, bv, OUT, 1, &err),
               TERN_SHAPE_MISMATCH, err);
  CHECK_ERROR(tern_model_rank1_edit(model, 0, 1, a, IN, bv, OUT, INFINITY, &err), TERN_NON_FINITE,
              err, "rank1_edit: scale inf is not finite");
  a[0] = 3e38f;
  CHECK_STATUS(tern_model_rank1_edit(model, 0, 1, a, IN, bv, OUT, 10.0f, &err), TERN_NON_FINITE,
               err);
  CHECK_STATUS(tern_model_rank1_edit(model, 0, 0, NULL, 0, NULL, 0, 1, &err), TERN_OK, err);
  CHECK_STATUS(tern_model_rank1_edit(model, 0, 1, (const float*)((unsigned char*)store + 1), IN,
                                     bv, OUT, 1, &err),
               TERN_MISALIGNED, err);
  CHECK_STATUS(tern_model_edit_factors(model, &batch, 0, (float*)((unsigned char*)store + 3),
                                       delta, &err),
               TERN_MISALIGNED, err);
  CHECK_ERROR(tern_model_edit_factors(model, NULL, 0, u, delta, &err), TERN_INVALID_ARGUMENT, err,
              "tern_model_edit_factors: batch is null");
  CHECK_ERROR(tern_model_edit_factors(model, &batch, 3, u, delta, &err), TERN_INVALID_ARGUMENT,
              err, "edit_factors: layer 3 is not a Dense layer");
  CHECK_ERROR(tern_model_edit_factors(model, &batch, 0, u, NULL, &err), TERN_INVALID_ARGUMENT,
              err, "edit_factors: output delta is null");
  CHECK(tern_model_steps(model) == 0);
  model = create(&infer);
  CHECK_STATUS(tern_model_edit_factors(model, &batch, 0, u, delta, &err), TERN_FAILED_PRECONDITION,
               err);
}

int main(void) {
  int i;
  for (i = 0; i < ROWS * IN; ++i) xs[i] = (float)((i * 5) % 9) / 9.0f - 0.5f;
  for (i = 0; i < ROWS * OUT; ++i) ts[i] = (float)(i % 4) * 0.5f - 0.75f;
  test_errors();
  for_each_isa(check_norms);
  for_each_isa(check_accumulation);
  for_each_isa(check_edits);
  return finish("tern-capi-rank1-test");
}
