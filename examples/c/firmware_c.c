/* SPDX-License-Identifier: Apache-2.0 */
/* tern-c-example: a firmware-style C program on tern's C interface (tern.h).
 *
 * Everything is static: the two arenas, the data and the "flash" page the
 * trained model goes to. No heap; tern's handle lives inside the arena. The
 * program trains a 2-16-2 MLP (SGD with momentum, batch 8) to tell whether a
 * point lies inside a circle, saves it, loads it into a one-row inference
 * model and classifies fresh points. Exit status 0 at >= 90 % correct.
 *
 * A C program cannot size the arena at compile time (the planner is C++
 * constexpr), so it reserves a budget and checks tern_arena_bytes() against
 * it at start-up; tern_model_create() refuses a too-small arena naming the
 * bytes needed, and those numbers can be fixed into the firmware once. */
#include <stdio.h>

#include "tern.h"

#define BATCH 8
#define SAMPLES 256
#define EPOCHS 60

/* The part of the RAM this firmware gives to tern (both arenas). */
#define TRAIN_ARENA_BYTES (12 * 1024)
#define INFER_ARENA_BYTES (4 * 1024)

static unsigned char train_arena[TRAIN_ARENA_BYTES] __attribute__((aligned(TERN_ARENA_ALIGNMENT)));
static unsigned char infer_arena[INFER_ARENA_BYTES] __attribute__((aligned(TERN_ARENA_ALIGNMENT)));
static unsigned char flash[1024];
static float xs[SAMPLES][2];
static uint32_t ys[SAMPLES];

static const tern_layer kLayers[] = {
    {TERN_LAYER_DENSE, TERN_ACT_RELU, 16, 0, TERN_INIT_AUTO},
    {TERN_LAYER_DENSE, TERN_ACT_IDENTITY, 2, 0, TERN_INIT_AUTO},
};

/* The board's own generator would do; this is a 32-bit LCG. */
static uint32_t seed = 2024u;
static float uniform_symmetric(void) {
  seed = seed * 1664525u + 1013904223u;
  return (float)((double)(seed >> 8) / 8388608.0 - 1.0);
}
static uint32_t sample(float* p) {
  p[0] = uniform_symmetric();
  p[1] = uniform_symmetric();
  return p[0] * p[0] + p[1] * p[1] < 0.36f ? 1u : 0u;
}

static int fail(const char* what, const tern_error* err) {
  printf("FAILED: %s: %s (%s)\n", what, err->message, tern_status_name(err->code));
  return 1;
}

int main(void) {
  tern_spec spec = {2, BATCH, TERN_MODE_TRAINING, TERN_LOSS_SOFTMAX_CROSS_ENTROPY,
                    TERN_OPTIMIZER_SGD, kLayers, 2, 0, 0, 0, 0};
  tern_spec infer_spec = spec;
  tern_model* net;
  tern_model* infer;
  tern_error err;
  tern_optimizer_params params = tern_optimizer_defaults();
  size_t saved = 0, i;
  int epoch, correct = 0;
  float loss = 0;

  infer_spec.mode = TERN_MODE_INFERENCE;
  infer_spec.rows = 1;
  printf("tern %s; arenas: training %lu of %d bytes, inference %lu of %d bytes\n",
         tern_version(), (unsigned long)tern_arena_bytes(&spec), TRAIN_ARENA_BYTES,
         (unsigned long)tern_arena_bytes(&infer_spec), INFER_ARENA_BYTES);

  if (tern_model_create(&spec, train_arena, sizeof train_arena, &net, &err) != TERN_OK)
    return fail("building the training model", &err);
  params.learning_rate = 0.05f;
  if (tern_model_initialize(net, 7, &err) != TERN_OK ||
      tern_model_set_optimizer(net, &params, &err) != TERN_OK)
    return fail("set-up", &err);

  for (i = 0; i < SAMPLES; ++i) ys[i] = sample(xs[i]);
  for (epoch = 0; epoch < EPOCHS; ++epoch) {
    float sum = 0;
    for (i = 0; i < SAMPLES; i += BATCH) {
      tern_batch batch = {0};
      float l = 0;
      batch.x = xs[i];
      batch.ldx = 2;
      batch.rows = BATCH;
      batch.labels = ys + i;
      if (tern_model_train_step(net, &batch, &l, &err) != TERN_OK) return fail("training", &err);
      sum += l;
    }
    loss = sum / (SAMPLES / BATCH);
    if (epoch == 0 || (epoch + 1) % 20 == 0) printf("epoch %d loss %.4f\n", epoch + 1, loss);
  }

  /* "Flash" the model, then bring it up for one-row inference. */
  if (tern_model_save(net, flash, sizeof flash, 0, &saved, &err) != TERN_OK)
    return fail("saving", &err);
  if (tern_model_create(&infer_spec, infer_arena, sizeof infer_arena, &infer, &err) != TERN_OK ||
      tern_model_load(infer, flash, saved, 0, &err) != TERN_OK)
    return fail("loading", &err);
  for (i = 0; i < 500; ++i) {
    float point[2];
    uint32_t predicted = 0;
    const uint32_t truth = sample(point);
    if (tern_model_predict(infer, point, 2, 1, &predicted, &err) != TERN_OK)
      return fail("inference", &err);
    correct += predicted == truth;
  }
  printf("ISA %s; model file %lu bytes; correct on fresh points: %d/500\n", tern_model_isa(infer),
         (unsigned long)saved, correct);
  return correct >= 450 ? 0 : 1;
}
