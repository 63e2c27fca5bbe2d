/* SPDX-License-Identifier: Apache-2.0 */
/* tern_model_evaluate from C99 (-std=c99 -pedantic -Wall -Wextra -Werror):
 *   - the mean loss and accuracy of a 2-8-3 classifier over 3 chunks and one
 *     row agree with a double-precision forward pass written here from the
 *     weights read out of the saved file;
 *   - a one-row inference model loaded from that file reports the same bits,
 *     also with the samples selected by index;
 *   - an MSE model's mean squared error is twice its mean loss per output;
 *   - evaluating changes no weight and no step: a model that evaluated and
 *     its twin that did not train on to the same file;
 *   - null arguments, 0 rows and a bad label are refused, naming the row,
 *     with *out untouched.
 * Exit status 0 on success; every failure prints what differed. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "capi_test_util.h"

/* The test's own data generator, independent of tern's. */
static uint32_t rng_state = 2024u;
static float uniform_symmetric(void) {
  rng_state = rng_state * 1664525u + 1013904223u;
  return (float)((double)(rng_state >> 8) / 8388608.0 - 1.0); /* [-1, 1) */
}

#define ROWS 4
#define SAMPLES (3 * ROWS + 1) /* three whole chunks and one row */
#define CLASSES 3
static const tern_layer kLayers[] = {
    {TERN_LAYER_DENSE, TERN_ACT_RELU, 8, 0, TERN_INIT_AUTO},
    {TERN_LAYER_DENSE, TERN_ACT_IDENTITY, CLASSES, 0, TERN_INIT_AUTO},
};
static const tern_spec kSpec = {2, ROWS, TERN_MODE_TRAINING, TERN_LOSS_SOFTMAX_CROSS_ENTROPY,
                                TERN_OPTIMIZER_ADAM, kLayers, 2, 0, 0, 0, 0, 0};

static unsigned char arena_a[32 * 1024] __attribute__((aligned(64)));
static unsigned char arena_b[32 * 1024] __attribute__((aligned(64)));
static unsigned char file_a[8 * 1024];
static unsigned char file_b[8 * 1024];
static float xs[SAMPLES][2];
static float targets[SAMPLES][CLASSES];
static uint32_t labels[SAMPLES];

static uint32_t read_u32(const unsigned char* p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static float read_f32(const unsigned char* p) {
  uint32_t bits = read_u32(p);
  float f;
  memcpy(&f, &bits, sizeof f);
  return f;
}

/* The logits in double from the saved file's parameters: W (in x out,
 * row-major) then b per Dense layer, after the format 2 header. */
static void reference_logits(const unsigned char* saved, const float* x, double* out) {
  const unsigned char* p = saved + 52 + 16 * 2;
  double a[8], z[8];
  unsigned width = 2, l, i, j;
  for (i = 0; i < 2; ++i) a[i] = x[i];
  for (l = 0; l < 2; ++l) {
    const unsigned out_width = kLayers[l].out;
    const unsigned char* b = p + 4 * width * out_width;
    for (j = 0; j < out_width; ++j) {
      double sum = read_f32(b + 4 * j);
      for (i = 0; i < width; ++i) sum += a[i] * read_f32(p + 4 * (i * out_width + j));
      z[j] = kLayers[l].activation == TERN_ACT_RELU && sum < 0 ? 0.0 : sum;
    }
    for (j = 0; j < out_width; ++j) a[j] = z[j];
    p = b + 4 * out_width;
    width = out_width;
  }
  for (j = 0; j < width; ++j) out[j] = a[j];
}

static tern_batch batch_of(size_t first, size_t rows) {
  tern_batch b;
  memset(&b, 0, sizeof b);
  b.x = xs[first];
  b.ldx = 2;
  b.rows = rows;
  b.labels = labels + first;
  b.targets = targets[first];
  b.ldt = CLASSES;
  return b;
}

static int same_bits(const tern_evaluation* a, const tern_evaluation* b) {
  return a->rows == b->rows && a->correct == b->correct &&
         memcmp(&a->mean_loss, &b->mean_loss, sizeof(float)) == 0 &&
         memcmp(&a->accuracy, &b->accuracy, sizeof(float)) == 0 &&
         memcmp(&a->mean_squared_error, &b->mean_squared_error, sizeof(float)) == 0;
}

/* Trains `model` a few steps on the first chunk. */
static void train(tern_model* model) {
  tern_batch b = batch_of(0, ROWS);
  tern_error err;
  int step;
  for (step = 0; step < 5; ++step) {
    CHECK_STATUS(tern_model_train_step(model, &b, NULL, &err), TERN_OK, err);
  }
}

static void test_against_reference(void) {
  tern_error err;
  tern_model* net = NULL;
  tern_model* twin = NULL;
  tern_model* infer = NULL;
  tern_spec infer_spec = kSpec;
  tern_evaluation e, one, again;
  size_t written = 0, written_b = 0, i, rows;
  double loss_sum = 0;
  size_t correct = 0;

  CHECK_STATUS(tern_model_create(&kSpec, arena_a, sizeof arena_a, &net, &err), TERN_OK, err);
  CHECK_STATUS(tern_model_create(&kSpec, arena_b, sizeof arena_b, &twin, &err), TERN_OK, err);
  if (net == NULL || twin == NULL) return;
  train(net);
  train(twin);
  CHECK_STATUS(tern_model_save(net, file_a, sizeof file_a, 0, &written, &err), TERN_OK, err);

  for (rows = 1; rows <= SAMPLES; rows += SAMPLES - 1) {
    tern_batch b = batch_of(0, rows);
    loss_sum = 0;
    correct = 0;
    for (i = 0; i < rows; ++i) {
      double z[CLASSES], top, sum = 0;
      unsigned j, best = 0;
      reference_logits(file_a, xs[i], z);
      top = z[0];
      for (j = 1; j < CLASSES; ++j) {
        if (z[j] > z[best]) best = j;
        if (z[j] > top) top = z[j];
      }
      for (j = 0; j < CLASSES; ++j) sum += exp(z[j] - top);
      loss_sum += log(sum) - (z[labels[i]] - top);
      correct += best == labels[i];
    }
    CHECK_STATUS(tern_model_evaluate(net, &b, &e, &err), TERN_OK, err);
    CHECK(e.rows == rows);
    CHECK(fabs(e.mean_loss - loss_sum / (double)rows) <= 1e-5 * (1.0 + loss_sum / (double)rows));
    CHECK(e.correct == correct);
    CHECK(e.accuracy == (float)((double)correct / (double)rows));
    CHECK(e.mean_squared_error == 0.0f);
  }

  /* A one-row inference model with the same weights: the same bits. */
  infer_spec.mode = TERN_MODE_INFERENCE;
  infer_spec.rows = 1;
  CHECK_STATUS(tern_model_create(&infer_spec, arena_b + 16 * 1024, 16 * 1024, &infer, &err),
               TERN_OK, err);
  if (infer == NULL) return;
  CHECK_STATUS(tern_model_load(infer, file_a, written, 0, &err), TERN_OK, err);
  {
    tern_batch b = batch_of(0, SAMPLES);
    CHECK_STATUS(tern_model_evaluate(infer, &b, &one, &err), TERN_OK, err);
    CHECK(same_bits(&one, &e));
    CHECK_STATUS(tern_model_evaluate(net, &b, &again, &err), TERN_OK, err);
    CHECK(same_bits(&again, &e));
  }

  /* Samples by index: every sample in order gives the same bits; an index
   * past the samples is refused, naming the row. */
  {
    static uint32_t order[SAMPLES];
    tern_batch b = batch_of(0, SAMPLES);
    tern_evaluation by_index = e;
    for (i = 0; i < SAMPLES; ++i) order[i] = (uint32_t)i;
    b.indices = order;
    b.samples = SAMPLES;
    CHECK_STATUS(tern_model_evaluate(infer, &b, &by_index, &err), TERN_OK, err);
    CHECK(same_bits(&by_index, &e));
    order[2] = SAMPLES;
    CHECK_STATUS(tern_model_evaluate(net, &b, &by_index, &err), TERN_INVALID_ARGUMENT, err);
    CHECK(strstr(err.message, "row 2 selects sample 13 of 13") != NULL);
  }

  /* Evaluating changed nothing training reads: net (evaluated three times)
   * and its twin (never) train on to the same bytes, optimizer state too. */
  train(net);
  train(twin);
  CHECK_STATUS(tern_model_save(net, file_a, sizeof file_a, 1, &written, &err), TERN_OK, err);
  CHECK_STATUS(tern_model_save(twin, file_b, sizeof file_b, 1, &written_b, &err), TERN_OK, err);
  CHECK(written == written_b && memcmp(file_a, file_b, written) == 0);

  /* Errors: *out untouched, the row named. */
  {
    tern_batch b = batch_of(0, SAMPLES);
    tern_evaluation kept = e;
    uint32_t saved = labels[ROWS + 1];
    CHECK_STATUS(tern_model_evaluate(NULL, &b, &kept, &err), TERN_INVALID_ARGUMENT, err);
    CHECK_STATUS(tern_model_evaluate(net, NULL, &kept, &err), TERN_INVALID_ARGUMENT, err);
    CHECK(strstr(err.message, "data is null") != NULL);
    CHECK_STATUS(tern_model_evaluate(net, &b, NULL, &err), TERN_INVALID_ARGUMENT, err);
    CHECK(strstr(err.message, "out is null") != NULL);
    b.rows = 0;
    CHECK_STATUS(tern_model_evaluate(net, &b, &kept, &err), TERN_INVALID_ARGUMENT, err);
    b.rows = SAMPLES;
    labels[ROWS + 1] = CLASSES;
    CHECK_STATUS(tern_model_evaluate(net, &b, &kept, &err), TERN_INVALID_ARGUMENT, err);
    CHECK(strstr(err.message, "label 3 of row 5 (sample 5)") != NULL);
    labels[ROWS + 1] = saved;
    CHECK(same_bits(&kept, &e));
  }
}

static void test_mse(void) {
  static const tern_layer layers[] = {
      {TERN_LAYER_DENSE, TERN_ACT_TANH, 6, 0, TERN_INIT_AUTO},
      {TERN_LAYER_DENSE, TERN_ACT_IDENTITY, CLASSES, 0, TERN_INIT_AUTO}};
  const tern_spec spec = {2, ROWS, TERN_MODE_TRAINING, TERN_LOSS_MSE, TERN_OPTIMIZER_SGD,
                          layers, 2, 0, 0, 0, 0, 0};
  tern_error err;
  tern_model* net = NULL;
  tern_evaluation e;
  tern_batch b = batch_of(0, SAMPLES);
  CHECK_STATUS(tern_model_create(&spec, arena_a, sizeof arena_a, &net, &err), TERN_OK, err);
  if (net == NULL) return;
  CHECK_STATUS(tern_model_evaluate(net, &b, &e, &err), TERN_OK, err);
  CHECK(e.rows == SAMPLES && e.correct == 0 && e.accuracy == 0.0f);
  CHECK(e.mean_loss > 0.0f);
  CHECK(fabs(e.mean_squared_error - 2.0 * e.mean_loss / CLASSES) <= 1e-6 * e.mean_squared_error);
  b.targets = NULL;
  CHECK_STATUS(tern_model_evaluate(net, &b, &e, &err), TERN_INVALID_ARGUMENT, err);
  CHECK(strstr(err.message, "MSE needs targets") != NULL);
}

int main(void) {
  size_t i, j;
  for (i = 0; i < SAMPLES; ++i) {
    xs[i][0] = uniform_symmetric();
    xs[i][1] = uniform_symmetric();
    labels[i] = (uint32_t)(i % CLASSES);
    for (j = 0; j < CLASSES; ++j) targets[i][j] = uniform_symmetric();
  }
  test_against_reference();
  test_mse();
  return finish("tern C evaluation");
}
