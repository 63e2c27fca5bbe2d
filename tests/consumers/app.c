/* SPDX-License-Identifier: Apache-2.0 */
/* A consumer of tern's C interface (tern.h): the same problem as app.cpp
 * through the C API, from an arena sized at run time. */
#include <stdio.h>
#include <string.h>

#include "tern.h"

static unsigned char arena[32 * 1024] __attribute__((aligned(64)));

int main(void) {
  static const tern_layer layers[] = {{TERN_LAYER_DENSE, TERN_ACT_RELU, 8, 0, TERN_INIT_AUTO},
                                      {TERN_LAYER_DENSE, TERN_ACT_IDENTITY, 3, 0, TERN_INIT_AUTO}};
  const tern_spec spec = {4, 6, TERN_MODE_TRAINING, TERN_LOSS_SOFTMAX_CROSS_ENTROPY,
                          TERN_OPTIMIZER_ADAM, layers, 2, 0, 0, 0, 0, 0};
  float x[6][4];
  uint32_t labels[6];
  tern_model* model = NULL;
  tern_error err;
  tern_optimizer_params params = tern_optimizer_defaults();
  tern_batch batch;
  float first = 0, last = 0;
  int s, step;

  if (strcmp(tern_version(), TERN_VERSION_STRING) != 0) {
    printf("header %s, library %s\n", TERN_VERSION_STRING, tern_version());
    return 1;
  }
  memset(x, 0, sizeof x);
  for (s = 0; s < 6; ++s) {
    labels[s] = (uint32_t)(s % 3);
    x[s][s % 3] = 1.0f;
    x[s][3] = 0.25f * (float)s;
  }
  params.learning_rate = 0.01f;
  if (tern_model_create(&spec, arena, sizeof arena, &model, &err) != TERN_OK ||
      tern_model_set_optimizer(model, &params, &err) != TERN_OK) {
    printf("error: %s\n", err.message);
    return 1;
  }
  memset(&batch, 0, sizeof batch);
  batch.x = &x[0][0];
  batch.ldx = 4;
  batch.rows = 6;
  batch.labels = labels;
  for (step = 0; step < 100; ++step) {
    if (tern_model_train_step(model, &batch, &last, &err) != TERN_OK) {
      printf("error: %s\n", err.message);
      return 1;
    }
    if (step == 0) first = last;
  }
  printf("tern %s (C): %lu-byte arena, ISA %s, loss %.4f -> %.4f\n", tern_version(),
         (unsigned long)tern_arena_bytes(&spec), tern_model_isa(model), first, last);
  return last < 0.5f * first ? 0 : 1;
}
