/* SPDX-License-Identifier: Apache-2.0 */
/* The kernel ISA calls of tern.h from C99:
 *   - the masks agree with each other (available = built & supported, the
 *     scalar table always there) and every ISA has its name;
 *   - selecting each available ISA gives models created afterwards that
 *     ISA (tern_model_isa), reported active for the reason "API"; a model
 *     keeps its ISA when another is selected later;
 *   - the same training gives the same saved bytes under every ISA;
 *   - values outside the enum, unknown names, ISAs not available and NULL
 *     are refused with their messages, and leave the selection as it was;
 *   - with argument "bad-environment" (run with TERN_ISA=vax): the failed
 *     automatic selection is reported by tern_isa_active and
 *     tern_model_create. */
#include <stdlib.h>

#include "capi_test_util.h"

static const tern_layer kLayers[] = {
    {TERN_LAYER_DENSE, TERN_ACT_TANH, 24, 0, TERN_INIT_AUTO},
    {TERN_LAYER_DENSE, TERN_ACT_IDENTITY, 3, 0, TERN_INIT_AUTO},
};
static const tern_spec kSpec = {5, 4, TERN_MODE_TRAINING, TERN_LOSS_SOFTMAX_CROSS_ENTROPY,
                                TERN_OPTIMIZER_ADAM, kLayers, 2, 0, 0, 0, 0, 0};
static unsigned char arena_a[32 * 1024] __attribute__((aligned(64)));
static unsigned char arena_b[32 * 1024] __attribute__((aligned(64)));
static unsigned char first_file[8 * 1024];
static unsigned char file[8 * 1024];
static size_t first_size = 0;

/* Trains 10 steps on fixed data, saves with the optimizer state. */
static size_t train_and_save(tern_model* model, unsigned char* out, size_t capacity) {
  float x[4 * 5];
  uint32_t labels[4];
  tern_batch batch;
  tern_error err;
  size_t written = 0;
  int i, step;
  for (i = 0; i < 20; ++i) x[i] = (float)((i * 7) % 11) / 11.0f - 0.5f;
  for (i = 0; i < 4; ++i) labels[i] = (uint32_t)(i % 3);
  memset(&batch, 0, sizeof batch);
  batch.x = x;
  batch.ldx = 5;
  batch.rows = 4;
  batch.labels = labels;
  for (step = 0; step < 10; ++step) {
    CHECK_STATUS(tern_model_train_step(model, &batch, NULL, &err), TERN_OK, err);
  }
  CHECK_STATUS(tern_model_save(model, out, capacity, 1, &written, &err), TERN_OK, err);
  return written;
}

static void check_isa(int32_t isa) {
  tern_model* model = NULL;
  tern_model* other = NULL;
  tern_error err;
  int32_t active = -1, reason = -1;
  size_t size;
  CHECK_STATUS(tern_isa_active(&active, &reason, &err), TERN_OK, err);
  CHECK(active == isa);
  CHECK(reason == TERN_ISA_REASON_API);
  CHECK_STATUS(tern_model_create(&kSpec, arena_a, sizeof arena_a, &model, &err), TERN_OK, err);
  CHECK(strcmp(tern_model_isa(model), tern_isa_name(isa)) == 0);
  /* The same bits under every ISA. */
  size = train_and_save(model, file, sizeof file);
  if (first_size == 0) {
    first_size = size;
    memcpy(first_file, file, size);
  } else {
    CHECK(size == first_size);
    CHECK(memcmp(file, first_file, size) == 0);
  }
  /* Selecting scalar now leaves the model built before on its ISA. */
  CHECK_STATUS(tern_isa_select(TERN_ISA_SCALAR, &err), TERN_OK, err);
  CHECK(strcmp(tern_model_isa(model), tern_isa_name(isa)) == 0);
  CHECK_STATUS(tern_model_create(&kSpec, arena_b, sizeof arena_b, &other, &err), TERN_OK, err);
  CHECK(strcmp(tern_model_isa(other), "scalar") == 0);
}

static void check_masks_and_errors(void) {
  const uint32_t built = tern_isa_built(), supported = tern_isa_supported();
  const uint32_t available = tern_isa_available();
  tern_error err;
  int32_t isa, active = -1, reason = -1, before = -1;
  CHECK(available == (built & supported));
  CHECK((built >> TERN_ISA_SCALAR & 1u) == 1u);
  CHECK((supported >> TERN_ISA_SCALAR & 1u) == 1u);
  CHECK(built >> 4 == 0 && supported >> 4 == 0); /* four ISAs in the enum */
  CHECK(strcmp(tern_isa_name(TERN_ISA_SCALAR), "scalar") == 0);
  CHECK(strcmp(tern_isa_name(TERN_ISA_AVX2), "avx2") == 0);
  CHECK(strcmp(tern_isa_name(TERN_ISA_AVX512), "avx512") == 0);
  CHECK(strcmp(tern_isa_name(TERN_ISA_NEON), "neon") == 0);
  CHECK(strcmp(tern_isa_name(4), "unknown") == 0);
  CHECK(strcmp(tern_isa_name(-1), "unknown") == 0);

  CHECK_STATUS(tern_isa_select(TERN_ISA_SCALAR, &err), TERN_OK, err);
  CHECK_STATUS(tern_isa_active(&before, NULL, &err), TERN_OK, err);
  CHECK(before == TERN_ISA_SCALAR);
  CHECK_ERROR(tern_isa_select(4, &err), TERN_UNSUPPORTED_ISA, err,
              "tern_isa_select: 4 is not an ISA (0..3)");
  CHECK_ERROR(tern_isa_select(-1, &err), TERN_UNSUPPORTED_ISA, err,
              "tern_isa_select: -1 is not an ISA (0..3)");
  CHECK_ERROR(tern_isa_select_name(NULL, &err), TERN_INVALID_ARGUMENT, err,
              "tern_isa_select_name: name is null");
  CHECK_STATUS(tern_isa_select_name("vax", &err), TERN_UNSUPPORTED_ISA, err);
  CHECK(strstr(err.message, "vax") != NULL);
  CHECK_ERROR(tern_isa_active(NULL, NULL, &err), TERN_INVALID_ARGUMENT, err,
              "tern_isa_active: isa is null");
  /* An ISA of the enum this build or CPU lacks: refused, named. */
  for (isa = 0; isa < 4; ++isa) {
    if (available >> isa & 1u) continue;
    CHECK_STATUS(tern_isa_select(isa, &err), TERN_UNSUPPORTED_ISA, err);
    CHECK(strstr(err.message, tern_isa_name(isa)) != NULL);
  }
  /* None of the refusals changed the selection. */
  CHECK_STATUS(tern_isa_active(&active, &reason, &err), TERN_OK, err);
  CHECK(active == before);
  CHECK(reason == TERN_ISA_REASON_API);
  /* By name, then back to automatic: the environment's request or the
   * widest available ISA. */
  CHECK_STATUS(tern_isa_select_name("scalar", &err), TERN_OK, err);
  tern_isa_select_auto();
  CHECK_STATUS(tern_isa_active(&active, &reason, &err), TERN_OK, err);
  if (getenv("TERN_ISA") != NULL) {
    CHECK(reason == TERN_ISA_REASON_ENVIRONMENT);
    CHECK(strcmp(tern_isa_name(active), getenv("TERN_ISA")) == 0);
  } else {
    CHECK(reason == TERN_ISA_REASON_DEFAULT);
    /* Widest first: AVX-512, then AVX2 or NEON, then scalar. */
    if (available >> TERN_ISA_AVX512 & 1u) {
      CHECK(active == TERN_ISA_AVX512);
    } else if (available >> TERN_ISA_AVX2 & 1u) {
      CHECK(active == TERN_ISA_AVX2);
    } else if (available >> TERN_ISA_NEON & 1u) {
      CHECK(active == TERN_ISA_NEON);
    } else {
      CHECK(active == TERN_ISA_SCALAR);
    }
  }
}

/* TERN_ISA=vax: nothing can be selected automatically. */
static void check_bad_environment(void) {
  tern_error err;
  tern_model* model = NULL;
  int32_t active = 7, reason = 7;
  CHECK_ERROR(tern_isa_active(&active, &reason, &err), TERN_UNSUPPORTED_ISA, err,
              "tern_isa_active: the ISA selection failed: TERN_ISA=\"vax\" is unknown, not built "
              "or not supported");
  CHECK(active == 7 && reason == 7); /* untouched */
  CHECK_STATUS(tern_model_create(&kSpec, arena_a, sizeof arena_a, &model, &err),
               TERN_UNSUPPORTED_ISA, err);
  CHECK(model == NULL);
  /* A selection through the API overrides the request. */
  CHECK_STATUS(tern_isa_select(TERN_ISA_SCALAR, &err), TERN_OK, err);
  CHECK_STATUS(tern_model_create(&kSpec, arena_a, sizeof arena_a, &model, &err), TERN_OK, err);
  tern_isa_select_auto();
}

int main(int argc, char** argv) {
  if (argc > 1 && strcmp(argv[1], "bad-environment") == 0) {
    check_bad_environment();
    return finish("tern-capi-isa-test bad-environment");
  }
  check_masks_and_errors();
  for_each_isa(check_isa);
  CHECK(first_size != 0);
  return finish("tern-capi-isa-test");
}
