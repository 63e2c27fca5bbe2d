/* SPDX-License-Identifier: Apache-2.0 */
/* tern/c/rank1.h — tern's C interface, one topic: rank-1 features: clipping,
 * accumulation, edits.
 * Included by tern.h, whose opening essay describes the interface as a
 * whole; include tern.h rather than this file. */
#ifndef TERN_C_RANK1_H
#define TERN_C_RANK1_H

#include "tern/c/types.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- rank-1 features: clipping, accumulation, edits ------------------ */
/* Per-example and global-norm clipping with Gaussian noise
 * (tern::ClipParams; docs/rank1.md). 0 is off for each bound. */
typedef struct tern_clip_params {
  float example_clip;     /* needs spec.example_rows */
  float noise_multiplier; /* needs example_clip > 0; noise deviation is
                             noise_multiplier * example_clip */
  uint64_t noise_seed;    /* keep it secret: the noise is predictable from it */
  float global_clip;      /* not with a fused update without example gradients */
  int32_t divisor;        /* tern_example_divisor (appended; 0 = rows, as before) */
} tern_clip_params;

/* Clipping and noise for the following steps. */
tern_status tern_model_set_clipping(tern_model* model, const tern_clip_params* params,
                                    tern_error* err);
/* Copies the per-example gradient norms of the last step (spec.example_rows)
 * into norms: one row per example of the last batch, layer_count + 1
 * columns (column l: the norm over layer l's parameters, 0 for a layer
 * without; the last: the whole model). *examples (may be NULL) gets the
 * rows. `capacity` is in floats; at most rows / example_rows examples. */
tern_status tern_model_example_norms(const tern_model* model, float* norms, size_t capacity,
                                     size_t* examples, tern_error* err);
/* The norm of the last step's gradient before global clipping (computed
 * only with a global clip set); 0 otherwise or for a bad handle. */
float tern_model_gradient_norm(const tern_model* model);
/* spec.accumulation_rows: forward and backward on a micro-batch, keeping
 * its factors; nothing is updated. *mean_loss may be NULL. */
tern_status tern_model_accumulate(tern_model* model, const tern_batch* batch, float* mean_loss,
                                  tern_error* err);
/* One optimizer step on the mean gradient of every row accumulated since
 * the last flush; nothing accumulated: nothing happens. */
tern_status tern_model_flush(tern_model* model, tern_error* err);
/* Rows accumulated since the last flush; 0 for a bad handle. */
uint32_t tern_model_accumulated_rows(const tern_model* model);
/* W += scale * sum_j a_j^T b_j for Dense layer `layer` (W is in x out):
 * `count` rank-1 terms, a_j = a + j * lda (in floats), b_j = b + j * ldb
 * (out floats). Either mode; an edit that could overflow a weight is
 * refused before W changes. */
tern_status tern_model_rank1_edit(tern_model* model, uint32_t layer, size_t count, const float* a,
                                  size_t lda, const float* b, size_t ldb, float scale,
                                  tern_error* err);
/* Training models: the factors of Dense layer `layer` for a batch, u
 * (batch.rows x in floats) and delta (batch.rows x out floats), so that
 * tern_model_rank1_edit(model, layer, rows, u, in, delta, out, -step) is one
 * gradient step of that layer on that batch. The parameters do not change. */
tern_status tern_model_edit_factors(tern_model* model, const tern_batch* batch, uint32_t layer,
                                    float* u, float* delta, tern_error* err);
/* Optimizer steps taken since creation or tern_model_initialize (or as a
 * loaded training state says); 0 for a bad handle. */
uint64_t tern_model_steps(const tern_model* model);

#ifdef __cplusplus
}
#endif

#endif /* TERN_C_RANK1_H */
