/* SPDX-License-Identifier: Apache-2.0 */
/* The divergence guard from C99, under every ISA:
 *   - the policy defaults are the documented ones; every policy field out of
 *     range, a model without a guard and NULL are refused with their
 *     messages;
 *   - a learning rate of 1e30 makes training diverge: with
 *     TERN_DIVERGENCE_STOP the step reports TERN_NON_FINITE, the model is
 *     back in the bytes it had before the blow-up (its saved file, optimizer
 *     state and step count included, is the one saved then), the report says
 *     stopped, and later steps are refused until the stop is cleared;
 *   - with TERN_DIVERGENCE_REDUCE_LEARNING_RATE the step reports TERN_OK and
 *     the learning-rate scale is the policy's factor. */
#include <math.h>

#include "capi_test_util.h"

static unsigned char arena[64 * 1024] __attribute__((aligned(64)));
static unsigned char good[16 * 1024];
static unsigned char now[16 * 1024];

static const tern_layer kLayers[] = {
    {TERN_LAYER_DENSE, TERN_ACT_TANH, 16, 0, TERN_INIT_AUTO},
    {TERN_LAYER_DENSE, TERN_ACT_IDENTITY, 2, 0, TERN_INIT_AUTO},
};
static const tern_spec kGuarded = {3, 4, TERN_MODE_TRAINING, TERN_LOSS_MSE, TERN_OPTIMIZER_SGD,
                                   kLayers, 2, 1, 0, 0, 0, 0};
static const tern_spec kPlain = {3, 4, TERN_MODE_TRAINING, TERN_LOSS_MSE, TERN_OPTIMIZER_SGD,
                                 kLayers, 2, 0, 0, 0, 0, 0};
static float xs[4 * 3], ts[4 * 2];

static tern_batch batch(void) {
  tern_batch b;
  memset(&b, 0, sizeof b);
  b.x = xs;
  b.ldx = 3;
  b.rows = 4;
  b.targets = ts;
  b.ldt = 2;
  return b;
}

static void set_rate(tern_model* model, float rate) {
  tern_optimizer_params p = tern_optimizer_defaults();
  tern_error err;
  p.learning_rate = rate;
  p.momentum = 0;
  CHECK_STATUS(tern_model_set_optimizer(model, &p, &err), TERN_OK, err);
}

/* Three good steps, saved; then steps at 1e30 until one does not succeed
 * plainly. Returns the status of that step; *good_size the saved size. */
static tern_status diverge(tern_model* model, int32_t action, size_t* good_size,
                           tern_divergence_report* report) {
  const tern_batch b = batch();
  tern_divergence_policy policy = tern_divergence_policy_defaults();
  tern_error err;
  tern_status st = TERN_OK;
  int step;
  policy.action = action;
  CHECK_STATUS(tern_model_set_divergence_policy(model, &policy, &err), TERN_OK, err);
  set_rate(model, 0.01f);
  for (step = 0; step < 3; ++step) {
    CHECK_STATUS(tern_model_train_step(model, &b, NULL, &err), TERN_OK, err);
  }
  CHECK_STATUS(tern_model_save(model, good, sizeof good, 1, good_size, &err), TERN_OK, err);
  set_rate(model, 1e30f);
  for (step = 0; step < 6; ++step) {
    float loss = 0;
    st = tern_model_train_step(model, &b, &loss, &err);
    CHECK_STATUS(tern_model_divergence(model, report, &err), TERN_OK, err);
    if (st != TERN_OK || report->recoveries != 0) break;
  }
  return st;
}

static void check_isa(int32_t isa) {
  tern_model* model = NULL;
  tern_error err;
  tern_divergence_report r;
  size_t good_size = 0, size = 0;
  const tern_batch b = batch();
  (void)isa;

  /* Stop: restored, stopped, refused until cleared. */
  CHECK_STATUS(tern_model_create(&kGuarded, arena, sizeof arena, &model, &err), TERN_OK, err);
  CHECK_STATUS(diverge(model, TERN_DIVERGENCE_STOP, &good_size, &r), TERN_NON_FINITE, err);
  CHECK(r.recoveries == 0); /* restored, but training did not go on */
  CHECK(r.stopped == 1);
  CHECK(r.learning_rate_scale == 1.0f);
  CHECK(r.last_step >= 4 && r.last_step <= 5);
  CHECK(tern_model_steps(model) == 3);
  CHECK_STATUS(tern_model_save(model, now, sizeof now, 1, &size, &err), TERN_OK, err);
  CHECK(size == good_size && memcmp(now, good, size) == 0);
  CHECK_STATUS(tern_model_train_step(model, &b, NULL, &err), TERN_FAILED_PRECONDITION, err);
  CHECK(tern_model_steps(model) == 3);
  CHECK_STATUS(tern_model_clear_divergence_stop(model, &err), TERN_OK, err);
  CHECK_STATUS(tern_model_divergence(model, &r, &err), TERN_OK, err);
  CHECK(r.stopped == 0 && r.recoveries == 0);
  set_rate(model, 0.01f);
  CHECK_STATUS(tern_model_train_step(model, &b, NULL, &err), TERN_OK, err);
  CHECK(tern_model_steps(model) == 4);

  /* Reduce: restored, the rate halved, training goes on. */
  CHECK_STATUS(tern_model_create(&kGuarded, arena, sizeof arena, &model, &err), TERN_OK, err);
  CHECK_STATUS(diverge(model, TERN_DIVERGENCE_REDUCE_LEARNING_RATE, &good_size, &r), TERN_OK, err);
  CHECK(r.recoveries == 1);
  CHECK(r.stopped == 0);
  CHECK(r.learning_rate_scale == 0.5f);
  CHECK(tern_model_steps(model) == 3);
  CHECK_STATUS(tern_model_save(model, now, sizeof now, 1, &size, &err), TERN_OK, err);
  CHECK(size == good_size && memcmp(now, good, size) == 0);
}

static void test_policy_errors(void) {
  const tern_divergence_policy d = tern_divergence_policy_defaults();
  tern_divergence_policy p;
  tern_divergence_report r;
  tern_model* model = NULL;
  tern_error err;
  tern_spec infer = kPlain;
  CHECK(d.action == TERN_DIVERGENCE_REDUCE_LEARNING_RATE);
  CHECK(d.learning_rate_factor == 0.5f);
  CHECK(d.max_recoveries == 8);
  CHECK(d.loss_factor == 4.0f);
  CHECK(d.loss_smoothing == 8);
  CHECK(d.reference_window == 1000);
  CHECK(d.loss_floor == 0.01f);

  CHECK_ERROR(tern_model_set_divergence_policy(NULL, &d, &err), TERN_INVALID_ARGUMENT, err,
              "tern_model_set_divergence_policy: the model handle is null or not a model made by "
              "tern_model_create");
  CHECK_STATUS(tern_model_divergence(NULL, &r, &err), TERN_INVALID_ARGUMENT, err);
  CHECK_STATUS(tern_model_clear_divergence_stop(NULL, &err), TERN_INVALID_ARGUMENT, err);

  CHECK_STATUS(tern_model_create(&kGuarded, arena, sizeof arena, &model, &err), TERN_OK, err);
  CHECK_ERROR(tern_model_set_divergence_policy(model, NULL, &err), TERN_INVALID_ARGUMENT, err,
              "tern_model_set_divergence_policy: policy is null");
  CHECK_ERROR(tern_model_divergence(model, NULL, &err), TERN_INVALID_ARGUMENT, err,
              "tern_model_divergence: report is null");
  p = d;
  p.action = 256; /* would narrow to 0 (stop) without the check */
  CHECK_ERROR(tern_model_set_divergence_policy(model, &p, &err), TERN_INVALID_ARGUMENT, err,
              "tern_model_set_divergence_policy: action 256 is not a tern_divergence_action "
              "(0 or 1)");
  p = d;
  p.learning_rate_factor = 1.0f;
  CHECK_ERROR(tern_model_set_divergence_policy(model, &p, &err), TERN_INVALID_ARGUMENT, err,
              "set_divergence_policy: learning rate factor 1 must be in (0, 1)");
  p = d;
  p.loss_factor = 0.5f;
  CHECK_ERROR(tern_model_set_divergence_policy(model, &p, &err), TERN_INVALID_ARGUMENT, err,
              "set_divergence_policy: loss factor 0.5 must be 0 (judge only NaN/Inf) or finite "
              "and > 1");
  p = d;
  p.reference_window = 0;
  CHECK_ERROR(tern_model_set_divergence_policy(model, &p, &err), TERN_INVALID_ARGUMENT, err,
              "set_divergence_policy: loss smoothing 8 and reference window 0 must be >= 1 step");
  p = d;
  p.loss_floor = -1.0f;
  CHECK_ERROR(tern_model_set_divergence_policy(model, &p, &err), TERN_INVALID_ARGUMENT, err,
              "set_divergence_policy: loss floor -1 must be finite and >= 0");
  /* A fresh guard reports nothing yet. */
  CHECK_STATUS(tern_model_divergence(model, &r, &err), TERN_OK, err);
  CHECK(r.recoveries == 0 && r.stopped == 0 && r.last_step == 0 && r.learning_rate_scale == 1.0f);

  /* No guard: the policy and the stop are refused, the report is empty. */
  CHECK_STATUS(tern_model_create(&kPlain, arena, sizeof arena, &model, &err), TERN_OK, err);
  CHECK_ERROR(tern_model_set_divergence_policy(model, &d, &err), TERN_FAILED_PRECONDITION, err,
              "set_divergence_policy: the spec has no divergence guard (build it with "
              ".with_divergence_guard() so the arena holds a snapshot)");
  CHECK_ERROR(tern_model_clear_divergence_stop(model, &err), TERN_FAILED_PRECONDITION, err,
              "tern_model_clear_divergence_stop: the spec has no divergence guard "
              "(divergence_guard 0 or an inference model)");
  CHECK_STATUS(tern_model_divergence(model, &r, &err), TERN_OK, err);
  CHECK(r.recoveries == 0 && r.learning_rate_scale == 1.0f);
  infer.mode = TERN_MODE_INFERENCE;
  infer.divergence_guard = 1;
  CHECK_STATUS(tern_model_create(&infer, arena, sizeof arena, &model, &err), TERN_OK, err);
  CHECK_STATUS(tern_model_set_divergence_policy(model, &d, &err), TERN_FAILED_PRECONDITION, err);
  CHECK_STATUS(tern_model_clear_divergence_stop(model, &err), TERN_FAILED_PRECONDITION, err);
}

int main(void) {
  int i;
  for (i = 0; i < 12; ++i) xs[i] = (float)((i * 3) % 7) / 7.0f - 0.4f;
  for (i = 0; i < 8; ++i) ts[i] = (float)(i % 3) * 0.25f;
  test_policy_errors();
  for_each_isa(check_isa);
  return finish("tern-capi-divergence-test");
}
