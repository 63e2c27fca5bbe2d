/* SPDX-License-Identifier: Apache-2.0 */
/* tern/c/divergence.h — tern's C interface, one topic: the divergence guard:
 * policy, report, clearing a stop.
 * Included by tern.h, whose opening essay describes the interface as a
 * whole; include tern.h rather than this file. */
#ifndef TERN_C_DIVERGENCE_H
#define TERN_C_DIVERGENCE_H

#include "tern/c/types.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- divergence guard ----------------------------------------------- */
/* Needs a spec with divergence_guard. The rule, in full: the header
 * tern/runtime/divergence.h; in short, a step diverges when its loss is not
 * finite, when the smoothed loss exceeds loss_factor x the reference (a
 * slowly forgetting minimum of it), or when the update leaves a parameter
 * or moment that is not finite. The last good state is then restored and
 * the action taken. */
typedef enum tern_divergence_action {
  TERN_DIVERGENCE_STOP = 0, /* restore, return TERN_NON_FINITE; later steps are
                               TERN_FAILED_PRECONDITION until the stop is cleared */
  TERN_DIVERGENCE_REDUCE_LEARNING_RATE = 1 /* restore, scale the learning rate, return OK */
} tern_divergence_action;
typedef struct tern_divergence_policy {
  int32_t action;             /* a tern_divergence_action; default REDUCE_LEARNING_RATE */
  float learning_rate_factor; /* in (0, 1), default 0.5 */
  uint32_t max_recoveries;    /* then it stops anyway; default 8 */
  float loss_factor;          /* 0 (only NaN/Inf) or finite and > 1; default 4 */
  uint32_t loss_smoothing;    /* steps, >= 1; default 8 */
  uint32_t reference_window;  /* steps, >= 1; default 1000 */
  float loss_floor;           /* finite, >= 0; default 0.01 */
} tern_divergence_policy;
/* What the guard has seen since the model was created or initialised. */
typedef struct tern_divergence_report {
  uint32_t recoveries;       /* times training went on from the restored state
                                (REDUCE_LEARNING_RATE; a stop is not counted) */
  uint64_t last_step;        /* the step that diverged last */
  float last_loss;           /* its mean loss */
  int32_t stopped;           /* 1: training is stopped until cleared */
  float learning_rate_scale; /* the product of the reductions so far */
  float smoothed_loss;       /* the rule's running figures */
  float reference_loss;
} tern_divergence_report;

/* The defaults listed in tern_divergence_policy. */
tern_divergence_policy tern_divergence_policy_defaults(void);
tern_status tern_model_set_divergence_policy(tern_model* model,
                                             const tern_divergence_policy* policy,
                                             tern_error* err);
/* Copies the report into *report (any model: a model without a guard
 * reports zeros and a scale of 1). */
tern_status tern_model_divergence(const tern_model* model, tern_divergence_report* report,
                                  tern_error* err);
/* Lets training continue after a stop, from the restored last good state
 * (lower the learning rate or raise max_recoveries first). */
tern_status tern_model_clear_divergence_stop(tern_model* model, tern_error* err);

#ifdef __cplusplus
}
#endif

#endif /* TERN_C_DIVERGENCE_H */
