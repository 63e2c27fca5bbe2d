/* SPDX-License-Identifier: Apache-2.0 */
/* tern/c/schedule.h — tern's C interface, one topic: learning-rate schedules.
 * Included by tern.h, whose opening essay describes the interface as a
 * whole; include tern.h rather than this file. */
#ifndef TERN_C_SCHEDULE_H
#define TERN_C_SCHEDULE_H

#include "tern/c/types.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- learning-rate schedules ---------------------------------------- */
typedef enum tern_schedule_kind {
  TERN_SCHEDULE_CONSTANT = 0,
  TERN_SCHEDULE_STEP_DECAY = 1, /* decay_factor every decay_steps steps */
  TERN_SCHEDULE_COSINE = 2      /* cosine from 1 to min_factor at total_steps */
} tern_schedule_kind;
/* tern::LearningRateSchedule (tern/runtime/schedule.h has the formula). Step
 * s (the model's step count before it) uses the learning rate times the
 * factor: (s + 1) / warmup_steps during the warm-up, then the kind's;
 * kStepDecay and kCosine never go below min_factor. The kind is an int32_t
 * so that the layout does not depend on enum sizes. */
typedef struct tern_schedule {
  int32_t kind;          /* tern_schedule_kind, default TERN_SCHEDULE_CONSTANT */
  float decay_factor;    /* STEP_DECAY, in (0, 1], default 0.1 */
  float min_factor;      /* STEP_DECAY, COSINE: in [0, 1], default 0 */
  uint64_t warmup_steps; /* any kind; COSINE: at most total_steps; default 0 */
  uint64_t total_steps;  /* COSINE: >= 1 */
  uint64_t decay_steps;  /* STEP_DECAY: >= 1 */
} tern_schedule;
/* A constant schedule with the defaults above. */
tern_schedule tern_schedule_defaults(void);
/* The schedule of the following steps. Keeps the optimizer moments and the
 * step count (a model loaded with its optimizer state continues the
 * schedule; set it again after a load, it is not saved). An invalid schedule
 * is TERN_INVALID_ARGUMENT naming the field, and changes nothing; an
 * inference model is TERN_FAILED_PRECONDITION. */
tern_status tern_model_set_schedule(tern_model* model, const tern_schedule* schedule,
                                    tern_error* err);
/* The learning rate the next training step will use: the optimizer's rate
 * times the schedule's factor times the divergence guard's scale. 0 for a
 * NULL or bad handle. */
float tern_model_learning_rate(const tern_model* model);

#ifdef __cplusplus
}
#endif

#endif /* TERN_C_SCHEDULE_H */
