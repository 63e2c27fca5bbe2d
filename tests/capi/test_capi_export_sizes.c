/* SPDX-License-Identifier: Apache-2.0 */
/* The sizes an exported header gives a C firmware (tern::export_c_header):
 * the fixture model's header (generated at build time by tern-export-tool,
 * a training model with Adam and every layer kind) compiled into a C99
 * program. Every macro must equal what the C interface computes at run time
 * for the tern_spec the header's own macros build, the arrays it sizes must
 * be constant expressions, and a model must build in exactly that arena and
 * not in one byte less. Exit status 0 when everything holds. */
#include <stdio.h>
#include <string.h>

#include "tern.h"
#include "exported_net.h"

static const tern_layer layers[EXPORTED_NET_LAYER_COUNT] = EXPORTED_NET_LAYERS;

/* Sized by the macros: compiling at all proves they are constant expressions. */
static TERN_ALIGNAS(TERN_ARENA_ALIGNMENT) unsigned char arena[EXPORTED_NET_ARENA_BYTES];
static TERN_ALIGNAS(TERN_ARENA_ALIGNMENT) unsigned char infer_arena[EXPORTED_NET_INFERENCE_ARENA_BYTES];
static unsigned char file[EXPORTED_NET_MODEL_FILE_STATE_BYTES];
static unsigned char storage[EXPORTED_NET_CHECKPOINT_STORAGE_BYTES];
static unsigned char flash[TERN_CHECKPOINT_STORAGE_BYTES(EXPORTED_NET_CHECKPOINT_RECORD_BYTES, 256)];

static int failures = 0;
static void check(int ok, const char* what, unsigned long got, unsigned long want) {
  if (!ok) {
    printf("FAILED: %s: %lu, expected %lu\n", what, got, want);
    ++failures;
  }
}
#define CHECK_EQ(got, want) \
  check((size_t)(got) == (size_t)(want), #got, (unsigned long)(got), (unsigned long)(want))

int main(void) {
  const tern_spec spec = EXPORTED_NET_SPEC(layers);
  const tern_spec deployed = EXPORTED_NET_INFERENCE_SPEC(layers);
  static const size_t sectors[] = {0, 1, 2, 7, 64, 256, 1000, 4096};
  tern_model* model;
  tern_error err;
  size_t i;

  CHECK_EQ(tern_spec_check(&spec, NULL), TERN_OK);
  CHECK_EQ(tern_spec_check(&deployed, NULL), TERN_OK);
  CHECK_EQ(spec.mode, TERN_MODE_TRAINING);
  CHECK_EQ(spec.rows, 8);
  CHECK_EQ(deployed.mode, TERN_MODE_INFERENCE);
  CHECK_EQ(deployed.rows, 1);
  CHECK_EQ(sizeof arena, tern_arena_bytes(&spec));
  CHECK_EQ(sizeof infer_arena, tern_arena_bytes(&deployed));
  CHECK_EQ(EXPORTED_NET_MODEL_FILE_BYTES, tern_model_file_bytes(&spec, 0));
  CHECK_EQ(EXPORTED_NET_MODEL_FILE_BYTES, tern_model_file_bytes(&deployed, 0));
  CHECK_EQ(sizeof file, tern_model_file_bytes(&spec, 1));
  CHECK_EQ(sizeof storage, tern_checkpoint_storage_bytes(&spec, 0));
  CHECK_EQ(sizeof flash, tern_checkpoint_storage_bytes(&spec, 256));
  for (i = 0; i < sizeof sectors / sizeof sectors[0]; ++i) {
    CHECK_EQ(TERN_CHECKPOINT_STORAGE_BYTES(EXPORTED_NET_CHECKPOINT_RECORD_BYTES, sectors[i]),
             tern_checkpoint_storage_bytes(&spec, sectors[i]));
    CHECK_EQ(TERN_CHECKPOINT_SLOT_BYTES(EXPORTED_NET_CHECKPOINT_RECORD_BYTES, sectors[i]) * 2,
             tern_checkpoint_storage_bytes(&spec, sectors[i]));
  }
  CHECK_EQ(EXPORTED_NET_CHECKPOINT_RECORD_BYTES * 2, tern_checkpoint_storage_bytes(&spec, 0));
  /* An inference model has no checkpoint. */
  CHECK_EQ(tern_checkpoint_storage_bytes(&deployed, 0), 0);
  CHECK_EQ(tern_checkpoint_storage_bytes(NULL, 0), 0);

  /* The arenas are exact: the models build in them, not in a byte less. */
  CHECK_EQ(tern_model_create(&spec, arena, sizeof arena - 1, &model, &err), TERN_OUT_OF_MEMORY);
  CHECK_EQ(tern_model_create(&spec, arena, sizeof arena, &model, &err), TERN_OK);
  CHECK_EQ(tern_model_parameter_count(model), EXPORTED_NET_PARAMETER_COUNT);
  CHECK_EQ(tern_model_input_width(model), EXPORTED_NET_INPUT_WIDTH);
  CHECK_EQ(tern_model_output_width(model), EXPORTED_NET_OUTPUT_WIDTH);
  CHECK_EQ(tern_model_create(&deployed, infer_arena, sizeof infer_arena - 1, &model, &err),
           TERN_OUT_OF_MEMORY);
  CHECK_EQ(tern_model_create(&deployed, infer_arena, sizeof infer_arena, &model, &err), TERN_OK);
  if (failures == 0) {
    printf("exported sizes: arena %lu, inference arena %lu, model file %lu / %lu, checkpoint "
           "storage %lu: all as computed\n",
           (unsigned long)sizeof arena, (unsigned long)sizeof infer_arena,
           (unsigned long)EXPORTED_NET_MODEL_FILE_BYTES, (unsigned long)sizeof file,
           (unsigned long)sizeof storage);
  }
  (void)memset(storage, 0, sizeof storage);
  (void)memset(flash, 0, sizeof flash);
  return failures == 0 ? 0 : 1;
}
