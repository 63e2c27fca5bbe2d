/* SPDX-License-Identifier: Apache-2.0 */
/* The C interface (tern.h) from C99, compiled with -std=c99 -pedantic -Wall
 * -Wextra -Werror. Checks, against independent references:
 *   - the version the library reports equals the header's;
 *   - spec errors, a too-small and a misaligned arena, null handles and a
 *     wrong-state call are reported with their status and a message naming
 *     the numbers;
 *   - a 2-16-16-2 MLP trained through the C API classifies fresh points of a
 *     circle problem (the truth is geometry) at >= 90 %;
 *   - tern_model_infer agrees with a double-precision forward pass written
 *     here from the weights read out of the saved file (whose layout is
 *     documented in tern/runtime/persist.h), to float rounding;
 *   - a saved model loads into a one-row inference model that gives the same
 *     bits; a corrupted file is refused and leaves the model unchanged;
 *   - initialisers that stop before the fields added later still compile
 *     and describe the same model.
 * Exit status 0 on success; every failure prints what differed. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "capi_test_util.h"

/* A small LCG: the test's own data, independent of tern's generator. */
static uint32_t rng_state = 12345u;
static float uniform_symmetric(void) {
  rng_state = rng_state * 1664525u + 1013904223u;
  return (float)((double)(rng_state >> 8) / 8388608.0 - 1.0); /* [-1, 1) */
}
static uint32_t sample(float* p) {
  p[0] = uniform_symmetric();
  p[1] = uniform_symmetric();
  return p[0] * p[0] + p[1] * p[1] < 0.36f ? 1u : 0u;
}

#define BATCH 8
#define SAMPLES 256
static const tern_layer kLayers[] = {
    {TERN_LAYER_DENSE, TERN_ACT_RELU, 16, 0},
    {TERN_LAYER_DENSE, TERN_ACT_RELU, 16, 0},
    {TERN_LAYER_DENSE, TERN_ACT_IDENTITY, 2, 0},
};

static unsigned char train_arena[64 * 1024] __attribute__((aligned(64)));
static unsigned char infer_arena[64 * 1024] __attribute__((aligned(64)));
static unsigned char file[16 * 1024];
static float xs[SAMPLES][2];
static uint32_t ys[SAMPLES];

static uint32_t read_u32(const unsigned char* p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static float read_f32(const unsigned char* p) {
  uint32_t bits = read_u32(p);
  float f;
  memcpy(&f, &bits, sizeof f);
  return f;
}

/* The MLP in double from the saved file's parameters: Dense layers of
 * kLayers, W (in x out, row-major) then b, in file order. */
static void reference_forward(const unsigned char* saved, const float* x, double* out) {
  const unsigned char* p = saved + 52 + 16 * 3; /* format 2 header of a 3-layer model */
  double a[16], z[16];
  unsigned width = 2, l, i, j;
  for (i = 0; i < 2; ++i) a[i] = x[i];
  for (l = 0; l < 3; ++l) {
    const unsigned out_width = kLayers[l].out;
    const unsigned char* w = p;
    const unsigned char* b = p + 4 * width * out_width;
    for (j = 0; j < out_width; ++j) {
      double sum = read_f32(b + 4 * j);
      for (i = 0; i < width; ++i) sum += a[i] * read_f32(w + 4 * (i * out_width + j));
      z[j] = kLayers[l].activation == TERN_ACT_RELU && sum < 0 ? 0.0 : sum;
    }
    for (j = 0; j < out_width; ++j) a[j] = z[j];
    p = b + 4 * out_width;
    width = out_width;
  }
  for (j = 0; j < width; ++j) out[j] = a[j];
}

static void test_version(void) {
  CHECK(strcmp(tern_version(), TERN_VERSION_STRING) == 0);
  CHECK(tern_version_number() == TERN_VERSION_NUMBER);
  CHECK(strcmp(tern_status_name(TERN_OUT_OF_MEMORY), "out_of_memory") == 0);
  CHECK(strcmp(tern_status_name(TERN_OK), "ok") == 0);
}

static void test_errors(void) {
  tern_error err;
  tern_model* model = NULL;
  char number[32];
  size_t bytes;
  tern_spec spec = {2, BATCH, TERN_MODE_TRAINING, TERN_LOSS_SOFTMAX_CROSS_ENTROPY,
                    TERN_OPTIMIZER_SGD, kLayers, 3};
  tern_layer bad[2] = {{TERN_LAYER_DENSE, TERN_ACT_RELU, 4, 0}, {TERN_LAYER_RESIDUAL, 0, 0, 0}};
  tern_spec bad_spec = spec;

  /* A residual from the model input (width 2) onto a width-4 point. */
  bad_spec.layers = bad;
  bad_spec.layer_count = 2;
  CHECK_STATUS(tern_spec_check(&bad_spec, &err), TERN_INVALID_ARGUMENT, err);
  CHECK(strstr(err.message, "layer 1") != NULL);
  CHECK(tern_arena_bytes(&bad_spec) == 0);
  CHECK(tern_model_file_bytes(&bad_spec, 0) == 0);
  /* An unknown layer kind. */
  bad[1].kind = 9;
  CHECK_STATUS(tern_spec_check(&bad_spec, &err), TERN_INVALID_ARGUMENT, err);
  CHECK(strstr(err.message, "kind 9") != NULL);
  /* Too many layers. */
  bad_spec.layer_count = TERN_MAX_LAYERS + 1;
  CHECK_STATUS(tern_spec_check(&bad_spec, &err), TERN_INVALID_ARGUMENT, err);
  CHECK_STATUS(tern_spec_check(NULL, &err), TERN_INVALID_ARGUMENT, err);
  CHECK_STATUS(tern_spec_check(&spec, &err), TERN_OK, err);
  CHECK(err.message[0] == '\0');

  /* One cache line too small: refused, naming the bytes needed. */
  bytes = tern_arena_bytes(&spec);
  CHECK(bytes > 0 && bytes % TERN_ARENA_ALIGNMENT == 0 && bytes <= sizeof train_arena);
  CHECK_STATUS(tern_model_create(&spec, train_arena, bytes - 64, &model, &err), TERN_OUT_OF_MEMORY,
               err);
  CHECK(model == NULL);
  sprintf(number, "%lu", (unsigned long)bytes);
  CHECK(strstr(err.message, number) != NULL);
  CHECK_STATUS(tern_model_create(&spec, train_arena + 8, bytes, &model, &err), TERN_MISALIGNED,
               err);
  CHECK_STATUS(tern_model_create(&spec, NULL, bytes, &model, &err), TERN_INVALID_ARGUMENT, err);
  CHECK_STATUS(tern_model_create(&spec, train_arena, bytes, NULL, NULL), TERN_INVALID_ARGUMENT,
               err);
  /* Exactly tern_arena_bytes() is enough. */
  CHECK_STATUS(tern_model_create(&spec, train_arena, bytes, &model, &err), TERN_OK, err);
  CHECK(model != NULL);

  /* Memory that is not a handle, and null arguments. */
  {
    static unsigned char junk[256] __attribute__((aligned(64)));
    float loss;
    tern_batch batch;
    memset(&batch, 0, sizeof batch);
    CHECK_STATUS(tern_model_train_step((tern_model*)junk, &batch, &loss, &err),
                 TERN_INVALID_ARGUMENT, err);
    CHECK_STATUS(tern_model_train_step(model, NULL, &loss, &err), TERN_INVALID_ARGUMENT, err);
    CHECK(tern_model_output_width(NULL) == 0);
  }
}

static void test_train_save_load(void) {
  tern_error err;
  tern_model* net = NULL;
  tern_model* infer = NULL;
  tern_spec spec = {2, BATCH, TERN_MODE_TRAINING, TERN_LOSS_SOFTMAX_CROSS_ENTROPY,
                    TERN_OPTIMIZER_SGD, kLayers, 3};
  tern_spec infer_spec = spec;
  tern_optimizer_params params = tern_optimizer_defaults();
  size_t written = 0, file_bytes, i;
  int epoch, correct = 0;
  float first_loss = 0, last_loss = 0;
  double max_error = 0;

  CHECK(params.learning_rate == 1e-3f && params.momentum == 0.9f);
  CHECK_STATUS(tern_model_create(&spec, train_arena, sizeof train_arena, &net, &err), TERN_OK, err);
  if (net == NULL) return;
  CHECK(tern_model_input_width(net) == 2 && tern_model_output_width(net) == 2);
  CHECK(tern_model_rows(net) == BATCH);
  CHECK(tern_model_parameter_count(net) == (2 * 16 + 16) + (16 * 16 + 16) + (16 * 2 + 2));
  CHECK_STATUS(tern_model_initialize(net, 7, &err), TERN_OK, err);
  params.learning_rate = 0.05f;
  CHECK_STATUS(tern_model_set_optimizer(net, &params, &err), TERN_OK, err);

  for (i = 0; i < SAMPLES; ++i) ys[i] = sample(xs[i]);
  for (epoch = 0; epoch < 60; ++epoch) {
    float sum = 0;
    for (i = 0; i < SAMPLES; i += BATCH) {
      tern_batch batch;
      float loss = 0;
      memset(&batch, 0, sizeof batch);
      batch.x = xs[i];
      batch.ldx = 2;
      batch.rows = BATCH;
      batch.labels = ys + i;
      CHECK_STATUS(tern_model_train_step(net, &batch, &loss, &err), TERN_OK, err);
      sum += loss;
    }
    if (epoch == 0) first_loss = sum;
    last_loss = sum;
  }
  CHECK(last_loss < 0.5f * first_loss);

  /* A bad label is refused with its index. */
  {
    tern_batch batch;
    uint32_t labels[BATCH] = {0, 1, 0, 5, 0, 0, 0, 0};
    memset(&batch, 0, sizeof batch);
    batch.x = xs[0];
    batch.ldx = 2;
    batch.rows = BATCH;
    batch.labels = labels;
    CHECK_STATUS(tern_model_train_step(net, &batch, NULL, &err), TERN_INVALID_ARGUMENT, err);
    CHECK(strstr(err.message, "5") != NULL);
  }

  /* Save; the file has the size tern_model_file_bytes() announced. */
  file_bytes = tern_model_file_bytes(&spec, 0);
  CHECK(file_bytes > 0 && file_bytes <= sizeof file);
  CHECK_STATUS(tern_model_save(net, file, file_bytes - 1, 0, &written, &err), TERN_OUT_OF_MEMORY,
               err);
  /* The message names the bytes the file needs, not a chunk of them. */
  {
    char expect[TERN_MESSAGE_CAPACITY];
    snprintf(expect, sizeof expect,
             "tern_model_save: the buffer has %lu bytes, the model file needs %lu "
             "(tern_model_file_bytes)",
             (unsigned long)(file_bytes - 1), (unsigned long)file_bytes);
    CHECK(strcmp(err.message, expect) == 0);
    CHECK(written == 0);
  }
  CHECK_STATUS(tern_model_save(net, file, sizeof file, 0, &written, &err), TERN_OK, err);
  CHECK(written == file_bytes);
  CHECK(memcmp(file, "TERNMODL", 8) == 0);
  CHECK(read_u32(file + 8) == TERN_MODEL_FORMAT_VERSION);

  /* A one-row inference model from the file. */
  infer_spec.mode = TERN_MODE_INFERENCE;
  infer_spec.rows = 1;
  CHECK(tern_arena_bytes(&infer_spec) < tern_arena_bytes(&spec));
  CHECK_STATUS(tern_model_create(&infer_spec, infer_arena, sizeof infer_arena, &infer, &err),
               TERN_OK, err);
  if (infer == NULL) return;
  {
    tern_batch batch;
    memset(&batch, 0, sizeof batch);
    CHECK_STATUS(tern_model_train_step(infer, &batch, NULL, &err), TERN_FAILED_PRECONDITION, err);
  }
  CHECK_STATUS(tern_model_load(infer, file, written, 0, &err), TERN_OK, err);

  for (i = 0; i < 500; ++i) {
    float point[2], y_train[2], y_infer[2];
    double y_ref[2];
    uint32_t predicted = 9;
    const uint32_t truth = sample(point);
    int j;
    CHECK_STATUS(tern_model_predict(infer, point, 2, 1, &predicted, &err), TERN_OK, err);
    correct += predicted == truth;
    CHECK_STATUS(tern_model_infer(net, point, 2, 1, y_train, 2, &err), TERN_OK, err);
    CHECK_STATUS(tern_model_infer(infer, point, 2, 1, y_infer, 2, &err), TERN_OK, err);
    CHECK(memcmp(y_train, y_infer, sizeof y_train) == 0);
    reference_forward(file, point, y_ref);
    for (j = 0; j < 2; ++j) {
      const double e = fabs(y_infer[j] - y_ref[j]) / (1.0 + fabs(y_ref[j]));
      if (e > max_error) max_error = e;
    }
  }
  printf("C API: ISA %s, %d/500 fresh points correct, max relative error vs double %.3g\n",
         tern_model_isa(infer), correct, max_error);
  CHECK(correct >= 450);
  CHECK(max_error < 1e-5);

  /* A corrupted file is refused and leaves the weights as they were. */
  {
    float point[2] = {0.25f, -0.5f}, before[2], after[2];
    CHECK_STATUS(tern_model_infer(infer, point, 2, 1, before, 2, &err), TERN_OK, err);
    file[60] ^= 0x40;
    CHECK_STATUS(tern_model_load(infer, file, written, 0, &err), TERN_CORRUPT_DATA, err);
    file[60] ^= 0x40;
    CHECK_STATUS(tern_model_load(infer, file, written - 1, 0, &err), TERN_CORRUPT_DATA, err);
    CHECK_STATUS(tern_model_infer(infer, point, 2, 1, after, 2, &err), TERN_OK, err);
    CHECK(memcmp(before, after, sizeof before) == 0);
    CHECK_STATUS(tern_model_infer(infer, point, 2, 1, after, 1, &err), TERN_INVALID_ARGUMENT, err);
  }
}

/* Initialisers written before tern_layer and tern_spec grew fields (the
 * layers of kLayers too): the fields they leave out are 0, off and auto, so
 * they describe the model an initialiser with every field does. */
static void test_short_initialisers(void) {
  static const tern_layer full_layers[] = {
      {TERN_LAYER_DENSE, TERN_ACT_RELU, 16, 0, TERN_INIT_AUTO},
      {TERN_LAYER_DENSE, TERN_ACT_RELU, 16, 0, TERN_INIT_AUTO},
      {TERN_LAYER_DENSE, TERN_ACT_IDENTITY, 2, 0, TERN_INIT_AUTO},
  };
  const tern_spec short_spec = {2, BATCH, TERN_MODE_TRAINING, TERN_LOSS_SOFTMAX_CROSS_ENTROPY,
                                TERN_OPTIMIZER_ADAM, kLayers, 3};
  const tern_spec full_spec = {2, BATCH, TERN_MODE_TRAINING, TERN_LOSS_SOFTMAX_CROSS_ENTROPY,
                               TERN_OPTIMIZER_ADAM, full_layers, 3, 0, 0, 0, 0};
  const float x[2] = {0.25f, -0.5f};
  const uint32_t label = 1;
  const tern_batch short_batch = {x, 2, 1, &label, NULL, 0};
  static unsigned char saved_short[16 * 1024], saved_full[16 * 1024];
  size_t short_size = 0, full_size = 0;
  tern_model* model = NULL;
  tern_error err;
  int pass;
  CHECK(memcmp(&kLayers[0], &full_layers[0], sizeof full_layers) == 0);
  CHECK(tern_arena_bytes(&short_spec) == tern_arena_bytes(&full_spec));
  CHECK(tern_arena_bytes(&short_spec) != 0);
  CHECK(tern_model_file_bytes(&short_spec, 1) == tern_model_file_bytes(&full_spec, 1));
  /* The short batch has no indices: one step on sample 0. */
  for (pass = 0; pass < 2; ++pass) {
    CHECK_STATUS(tern_model_create(pass == 0 ? &short_spec : &full_spec, train_arena,
                                   sizeof train_arena, &model, &err),
                 TERN_OK, err);
    CHECK_STATUS(tern_model_train_step(model, &short_batch, NULL, &err), TERN_OK, err);
    CHECK_STATUS(tern_model_save(model, pass == 0 ? saved_short : saved_full, sizeof saved_short,
                                 1, pass == 0 ? &short_size : &full_size, &err),
                 TERN_OK, err);
  }
  CHECK(short_size == full_size && memcmp(saved_short, saved_full, short_size) == 0);
}

int main(void) {
  test_version();
  test_short_initialisers();
  test_errors();
  test_train_save_load();
  if (failures != 0) {
    fprintf(stderr, "%d checks failed\n", failures);
    return 1;
  }
  printf("all C API checks passed\n");
  return 0;
}
