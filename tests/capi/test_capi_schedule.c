/* SPDX-License-Identifier: Apache-2.0 */
/* Learning-rate schedules from C99 (-std=c99 -pedantic -Wall -Wextra
 * -Werror):
 *   - tern_schedule_defaults is a constant schedule;
 *   - on a cosine schedule with warm-up and a floor, tern_model_learning_rate
 *     follows the formula computed here in double with the C library's
 *     cosine, step by step through training;
 *   - a step decay by 1/2 gives exactly the halved rates;
 *   - setting a schedule keeps the optimizer moments and the step count (the
 *     saved state is byte for byte the same);
 *   - invalid schedules, a NULL schedule, a bad handle and an inference
 *     model are refused, naming the cause, and change nothing.
 * Exit status 0 on success; every failure prints what differed. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "capi_test_util.h"

#define ROWS 4
static const tern_layer kLayers[] = {
    {TERN_LAYER_DENSE, TERN_ACT_RELU, 6, 0, TERN_INIT_AUTO},
    {TERN_LAYER_DENSE, TERN_ACT_IDENTITY, 2, 0, TERN_INIT_AUTO},
};
static const tern_spec kSpec = {3, ROWS, TERN_MODE_TRAINING, TERN_LOSS_SOFTMAX_CROSS_ENTROPY,
                                TERN_OPTIMIZER_ADAM, kLayers, 2, 0, 0, 0, 0, 0};
static unsigned char arena[32 * 1024] __attribute__((aligned(64)));
static unsigned char infer_arena[8 * 1024] __attribute__((aligned(64)));
static unsigned char before[4096], after[4096];
static float xs[ROWS][3] = {{0.1f, -0.5f, 0.9f}, {0.3f, 0.2f, -0.7f}, {-0.8f, 0.4f, 0.0f},
                            {0.6f, -0.1f, 0.5f}};
static uint32_t labels[ROWS] = {0, 1, 1, 0};

/* The factor of the schedule's definition, in double. */
static double cosine_factor(unsigned long step, unsigned long warmup, unsigned long total,
                            double floor) {
  const double pi = 3.14159265358979323846;
  if (step < warmup) return (double)(step + 1) / (double)warmup;
  if (step >= total) return floor;
  return floor + (1.0 - floor) * 0.5 *
                     (1.0 + cos(pi * (double)(step - warmup) / (double)(total - warmup)));
}

static void train(tern_model* model) {
  tern_batch b;
  tern_error err;
  memset(&b, 0, sizeof b);
  b.x = xs[0];
  b.ldx = 3;
  b.rows = ROWS;
  b.labels = labels;
  CHECK_STATUS(tern_model_train_step(model, &b, NULL, &err), TERN_OK, err);
}

int main(void) {
  tern_error err;
  tern_model* model = NULL;
  tern_optimizer_params params = tern_optimizer_defaults();
  tern_schedule s = tern_schedule_defaults();
  size_t written = 0, written_after = 0;
  unsigned long step;
  float base;

  CHECK(s.kind == TERN_SCHEDULE_CONSTANT && s.decay_factor == 0.1f && s.min_factor == 0.0f);
  CHECK(s.warmup_steps == 0 && s.total_steps == 0 && s.decay_steps == 0);
  CHECK_STATUS(tern_model_create(&kSpec, arena, sizeof arena, &model, &err), TERN_OK, err);
  if (model == NULL) return 1;
  params.learning_rate = 0.01f;
  CHECK_STATUS(tern_model_set_optimizer(model, &params, &err), TERN_OK, err);
  base = params.learning_rate;
  CHECK(tern_model_learning_rate(model) == base);

  /* Cosine with 4 warm-up steps to 20, floor 0.1. */
  s.kind = TERN_SCHEDULE_COSINE;
  s.warmup_steps = 4;
  s.total_steps = 20;
  s.min_factor = 0.1f;
  CHECK_STATUS(tern_model_set_schedule(model, &s, &err), TERN_OK, err);
  for (step = 0; step < 25; ++step) {
    const double expected = base * cosine_factor(step, 4, 20, 0.1);
    const double got = tern_model_learning_rate(model);
    if (fabs(got - expected) > 1e-6 * expected) {
      fprintf(stderr, "step %lu: learning rate %.9g, expected %.9g\n", step, got, expected);
      ++failures;
    }
    train(model);
  }

  /* Invalid schedules change nothing. */
  {
    tern_schedule bad = s;
    const float rate = tern_model_learning_rate(model);
    bad.warmup_steps = 30;
    CHECK_STATUS(tern_model_set_schedule(model, &bad, &err), TERN_INVALID_ARGUMENT, err);
    CHECK(strstr(err.message, "warmup_steps 30 exceed total_steps 20") != NULL);
    bad = s;
    bad.kind = 9;
    CHECK_STATUS(tern_model_set_schedule(model, &bad, &err), TERN_INVALID_ARGUMENT, err);
    CHECK(strstr(err.message, "unknown schedule kind 9") != NULL);
    bad = s;
    bad.kind = TERN_SCHEDULE_STEP_DECAY;
    CHECK_STATUS(tern_model_set_schedule(model, &bad, &err), TERN_INVALID_ARGUMENT, err);
    CHECK(strstr(err.message, "decay_steps") != NULL);
    CHECK_STATUS(tern_model_set_schedule(model, NULL, &err), TERN_INVALID_ARGUMENT, err);
    CHECK_STATUS(tern_model_set_schedule(NULL, &s, &err), TERN_INVALID_ARGUMENT, err);
    CHECK(tern_model_learning_rate(NULL) == 0.0f);
    CHECK(tern_model_learning_rate(model) == rate);
  }
  /* An inference model has no optimizer to schedule. */
  {
    tern_spec infer_spec = kSpec;
    tern_model* infer = NULL;
    infer_spec.mode = TERN_MODE_INFERENCE;
    infer_spec.rows = 1;
    CHECK_STATUS(tern_model_create(&infer_spec, infer_arena, sizeof infer_arena, &infer, &err),
                 TERN_OK, err);
    if (infer != NULL) {
      CHECK_STATUS(tern_model_set_schedule(infer, &s, &err), TERN_FAILED_PRECONDITION, err);
      CHECK(strstr(err.message, "an inference model has no optimizer") != NULL);
    }
  }

  /* A new schedule keeps the moments and the step count: 25 steps taken,
   * a step decay by 1/2 every 10 steps is at its third drop level. */
  CHECK_STATUS(tern_model_save(model, before, sizeof before, 1, &written, &err), TERN_OK, err);
  s = tern_schedule_defaults();
  s.kind = TERN_SCHEDULE_STEP_DECAY;
  s.decay_steps = 10;
  s.decay_factor = 0.5f;
  CHECK_STATUS(tern_model_set_schedule(model, &s, &err), TERN_OK, err);
  CHECK_STATUS(tern_model_save(model, after, sizeof after, 1, &written_after, &err), TERN_OK,
               err);
  CHECK(written == written_after && memcmp(before, after, written) == 0);
  CHECK(tern_model_learning_rate(model) == base * 0.25f);
  for (step = 25; step < 30; ++step) train(model);
  CHECK(tern_model_learning_rate(model) == base * 0.125f);

  return finish("tern C schedules");
}
