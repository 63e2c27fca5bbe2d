/* SPDX-License-Identifier: Apache-2.0 */
/* tern_model_load_parameters from C99: the fixture's exported header
 * (generated at build time by tern-export-tool from a model the C++ API
 * trained) loaded into models built from the header's own tern_spec, whose
 * outputs must be bit for bit those the C++ model computed
 * (exported_expected.h), and every error path, each leaving the model
 * unchanged. Exit status 0 when everything holds. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "tern.h"
#include "exported_expected.h"
#include "exported_net.h"

#define ROWS (sizeof exported_inputs / sizeof exported_inputs[0] / EXPORTED_NET_INPUT_WIDTH)

static const tern_layer layers[EXPORTED_NET_LAYER_COUNT] = EXPORTED_NET_LAYERS;
static TERN_ALIGNAS(TERN_ARENA_ALIGNMENT) unsigned char train_arena[EXPORTED_NET_ARENA_BYTES];
static TERN_ALIGNAS(TERN_ARENA_ALIGNMENT) unsigned char infer_arena[EXPORTED_NET_INFERENCE_ARENA_BYTES];
static unsigned char before[EXPORTED_NET_MODEL_FILE_STATE_BYTES];
static unsigned char after[EXPORTED_NET_MODEL_FILE_STATE_BYTES];
static float values[EXPORTED_NET_PARAMETER_COUNT + 1];
static uint32_t architecture[EXPORTED_NET_ARCHITECTURE_WORDS + 1];

static int failures = 0;
static void expect(int ok, const char* what) {
  if (!ok) {
    printf("FAILED: %s\n", what);
    ++failures;
  }
}

/* The model's outputs on the fixture inputs, one row at a time (the
 * inference model has one row), equal to the C++ model's, bit for bit. */
static int outputs_match(tern_model* model) {
  size_t r;
  for (r = 0; r < ROWS; ++r) {
    float y[EXPORTED_NET_OUTPUT_WIDTH];
    if (tern_model_infer(model, exported_inputs + r * EXPORTED_NET_INPUT_WIDTH,
                         EXPORTED_NET_INPUT_WIDTH, 1, y, EXPORTED_NET_OUTPUT_WIDTH,
                         NULL) != TERN_OK ||
        memcmp(y, exported_expected + r * EXPORTED_NET_OUTPUT_WIDTH, sizeof y) != 0) {
      return 0;
    }
  }
  return 1;
}

/* A refused call: the status, a message naming `needle`, and the model's
 * state (parameters and optimizer moments) unchanged. */
static void refused(tern_model* model, tern_status got, tern_status want, const tern_error* err,
                    const char* needle, const char* what) {
  size_t n = 0;
  expect(got == want, what);
  expect(err->code == want, what);
  expect(strstr(err->message, needle) != NULL, what);
  if (strstr(err->message, needle) == NULL) printf("  message: %s\n", err->message);
  expect(tern_model_save(model, after, sizeof after, 1, &n, NULL) == TERN_OK &&
             n == sizeof after && memcmp(before, after, sizeof after) == 0,
         what);
}

int main(void) {
  const tern_spec spec = EXPORTED_NET_SPEC(layers);
  const tern_spec deployed = EXPORTED_NET_INFERENCE_SPEC(layers);
  tern_model* net;
  tern_model* infer;
  tern_error err;
  size_t n = 0;
  unsigned char raw[2 * sizeof(float) * EXPORTED_NET_PARAMETER_COUNT];
  static TERN_ALIGNAS(TERN_ARENA_ALIGNMENT) unsigned char not_a_model[TERN_HANDLE_BYTES];
  float x[EXPORTED_NET_INPUT_WIDTH * 8];
  uint32_t labels[8];
  size_t i;

  if (tern_model_create(&spec, train_arena, sizeof train_arena, &net, &err) != TERN_OK ||
      tern_model_create(&deployed, infer_arena, sizeof infer_arena, &infer, &err) != TERN_OK) {
    printf("FAILED: create: %s\n", err.message);
    return 1;
  }

  /* The inference model: the C++ outputs, bit for bit. */
  expect(!outputs_match(infer), "the initial weights already give the exported outputs");
  expect(tern_model_load_parameters(infer, exported_net_architecture,
                                    EXPORTED_NET_ARCHITECTURE_WORDS, exported_net_parameters,
                                    EXPORTED_NET_PARAMETER_COUNT, &err) == TERN_OK,
         "load into the one-row inference model");
  expect(err.code == TERN_OK && err.message[0] == '\0', "success clears the error");
  expect(outputs_match(infer), "inference model: outputs bit-identical to the C++ model's");

  /* The training model: train a step first, so that it has moments and a
   * step count; loading the parameters keeps them (the next step from the
   * loaded parameters then differs from a fresh model's). */
  for (i = 0; i < sizeof x / sizeof x[0]; ++i) x[i] = (float)((int)(i % 7) - 3) / 4.0f;
  for (i = 0; i < 8; ++i) labels[i] = (uint32_t)(i % EXPORTED_NET_OUTPUT_WIDTH);
  {
    const tern_batch batch = {x, EXPORTED_NET_INPUT_WIDTH, 8, labels, NULL, 0, NULL, 0};
    expect(tern_model_train_step(net, &batch, NULL, &err) == TERN_OK, "a training step");
  }
  expect(tern_model_save(net, before, sizeof before, 1, &n, &err) == TERN_OK, "save");
  expect(tern_model_load_parameters(net, exported_net_architecture,
                                    EXPORTED_NET_ARCHITECTURE_WORDS, exported_net_parameters,
                                    EXPORTED_NET_PARAMETER_COUNT, &err) == TERN_OK,
         "load into the training model");
  expect(tern_model_save(net, after, sizeof after, 1, &n, &err) == TERN_OK, "save after");
  /* The file: header, parameters, then moments and step count; only the
   * parameters (and the CRC) change. */
  expect(memcmp(before, after, sizeof before) != 0, "the parameters changed");
  {
    const size_t params = sizeof(float) * EXPORTED_NET_PARAMETER_COUNT;
    /* File: header (step count included), parameters, moments, CRC-32. */
    const size_t params_start = EXPORTED_NET_MODEL_FILE_BYTES - 4 - params;
    const size_t moments_start = EXPORTED_NET_MODEL_FILE_BYTES - 4;
    expect(memcmp(before, after, params_start) == 0, "the header is kept");
    expect(memcmp(before + moments_start, after + moments_start,
                  sizeof after - 4 - moments_start) == 0,
           "the optimizer moments are kept");
    expect(memcmp(after + params_start, exported_net_parameters, params) == 0,
           "the file holds the exported parameters");
  }
  expect(tern_model_save(net, before, sizeof before, 1, &n, &err) == TERN_OK, "save");

  /* Every error, each leaving the model as it was. */
  refused(net, tern_model_load_parameters(NULL, exported_net_architecture,
                                          EXPORTED_NET_ARCHITECTURE_WORDS, exported_net_parameters,
                                          EXPORTED_NET_PARAMETER_COUNT, &err),
          TERN_INVALID_ARGUMENT, &err, "tern_model_load_parameters: the model handle is null",
          "a null handle");
  refused(net, tern_model_load_parameters((tern_model*)(void*)not_a_model, exported_net_architecture,
                                          EXPORTED_NET_ARCHITECTURE_WORDS, exported_net_parameters,
                                          EXPORTED_NET_PARAMETER_COUNT, &err),
          TERN_INVALID_ARGUMENT, &err, "not a model made by tern_model_create", "not a handle");
  refused(net, tern_model_load_parameters(net, NULL, EXPORTED_NET_ARCHITECTURE_WORDS,
                                          exported_net_parameters, EXPORTED_NET_PARAMETER_COUNT,
                                          &err),
          TERN_INVALID_ARGUMENT, &err, "tern_model_load_parameters: architecture is null",
          "a null architecture");
  refused(net, tern_model_load_parameters(net, exported_net_architecture,
                                          EXPORTED_NET_ARCHITECTURE_WORDS, NULL,
                                          EXPORTED_NET_PARAMETER_COUNT, &err),
          TERN_INVALID_ARGUMENT, &err, "tern_model_load_parameters: values is null",
          "null values");
  /* Misaligned: the same words one byte further on. */
  memcpy(raw + 1, exported_net_parameters, sizeof exported_net_parameters);
  refused(net, tern_model_load_parameters(net, exported_net_architecture,
                                          EXPORTED_NET_ARCHITECTURE_WORDS, (const float*)(void*)(raw + 1),
                                          EXPORTED_NET_PARAMETER_COUNT, &err),
          TERN_MISALIGNED, &err, "values at", "misaligned values");
  memcpy(raw + 2, exported_net_architecture, sizeof exported_net_architecture);
  refused(net, tern_model_load_parameters(net, (const uint32_t*)(void*)(raw + 2),
                                          EXPORTED_NET_ARCHITECTURE_WORDS, exported_net_parameters,
                                          EXPORTED_NET_PARAMETER_COUNT, &err),
          TERN_MISALIGNED, &err, "architecture at", "a misaligned architecture");
  /* Another architecture: a word changed, a word short, a word more. */
  memcpy(architecture, exported_net_architecture, sizeof exported_net_architecture);
  architecture[EXPORTED_NET_ARCHITECTURE_WORDS - 3] += 1; /* the last layer's input width */
  refused(net, tern_model_load_parameters(net, architecture, EXPORTED_NET_ARCHITECTURE_WORDS,
                                          exported_net_parameters, EXPORTED_NET_PARAMETER_COUNT,
                                          &err),
          TERN_SHAPE_MISMATCH, &err, "differs from the model's (27 words)", "a changed word");
  refused(net, tern_model_load_parameters(net, exported_net_architecture,
                                          EXPORTED_NET_ARCHITECTURE_WORDS - 1,
                                          exported_net_parameters, EXPORTED_NET_PARAMETER_COUNT,
                                          &err),
          TERN_SHAPE_MISMATCH, &err, "architecture (26 words) differs", "a word short");
  memcpy(architecture, exported_net_architecture, sizeof exported_net_architecture);
  refused(net, tern_model_load_parameters(net, architecture, EXPORTED_NET_ARCHITECTURE_WORDS + 1,
                                          exported_net_parameters, EXPORTED_NET_PARAMETER_COUNT,
                                          &err),
          TERN_SHAPE_MISMATCH, &err, "architecture (28 words) differs", "a word more");
  /* Another parameter count. */
  refused(net, tern_model_load_parameters(net, exported_net_architecture,
                                          EXPORTED_NET_ARCHITECTURE_WORDS, exported_net_parameters,
                                          EXPORTED_NET_PARAMETER_COUNT - 1, &err),
          TERN_SHAPE_MISMATCH, &err, "232 values given, the model has 233 parameters",
          "a value short");
  memcpy(values, exported_net_parameters, sizeof exported_net_parameters);
  refused(net, tern_model_load_parameters(net, exported_net_architecture,
                                          EXPORTED_NET_ARCHITECTURE_WORDS, values,
                                          EXPORTED_NET_PARAMETER_COUNT + 1, &err),
          TERN_SHAPE_MISMATCH, &err, "234 values given", "a value more");
  /* A value that is not finite, the last one: nothing before it is copied. */
  values[EXPORTED_NET_PARAMETER_COUNT - 1] = (float)HUGE_VAL;
  refused(net, tern_model_load_parameters(net, exported_net_architecture,
                                          EXPORTED_NET_ARCHITECTURE_WORDS, values,
                                          EXPORTED_NET_PARAMETER_COUNT, &err),
          TERN_NON_FINITE, &err, "value 232 is not finite", "an infinite value");
  values[0] = (float)NAN;
  refused(net, tern_model_load_parameters(net, exported_net_architecture,
                                          EXPORTED_NET_ARCHITECTURE_WORDS, values,
                                          EXPORTED_NET_PARAMETER_COUNT, &err),
          TERN_NON_FINITE, &err, "value 0 is not finite", "a NaN");
  /* Without a tern_error the status alone reports it. */
  expect(tern_model_load_parameters(net, exported_net_architecture,
                                    EXPORTED_NET_ARCHITECTURE_WORDS, values,
                                    EXPORTED_NET_PARAMETER_COUNT, NULL) == TERN_NON_FINITE,
         "no tern_error");
  /* The model still works after every refusal, and the loaded weights
   * still give the C++ outputs through the inference model. */
  expect(outputs_match(infer), "inference model unchanged");

  if (failures == 0) printf("tern_model_load_parameters: outputs bit-identical, every error refused\n");
  return failures == 0 ? 0 : 1;
}
