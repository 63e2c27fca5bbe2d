/* SPDX-License-Identifier: Apache-2.0 */
/* tern-c-example: a C firmware on tern's C interface (tern.h), for the host
 * and for bare-metal Cortex-M.
 *
 * Everything is sized at compile time by the header tern exported for this
 * model (firmware_model.h, written by tern-export-firmware-model on the
 * development machine: a 2-16-16-2 ReLU MLP, SGD with momentum, batches of
 * 8, pre-trained there to tell whether a point lies inside a circle): the
 * arenas, the flash page holding the checkpoints and the one holding the
 * deployed model. No heap; tern's handle lives inside the arena. It
 *   1. builds the model from the header's tern_spec and loads the exported
 *      parameters (compiled into flash);
 *   2. trains on-device on points it generates, 10 epochs, and checkpoints
 *      the training state (weights, momentum, step count and its own
 *      generator's state) into a "flash" page through the storage
 *      callbacks: erase a sector, program erased bytes only;
 *   3. trains 10 more epochs, then "reboots": builds the model afresh in
 *      the same arena, resumes from the checkpoint and trains the same 10
 *      epochs again, which must give the same bits;
 *   4. saves the weights into a flash page, loads them into a one-row
 *      inference model and classifies 500 fresh points;
 *   5. prints "checksum: 0x..." of the trained weights' bits: the host
 *      under every ISA and the Cortex-M (under qemu-system-arm in CI) print
 *      the same number.
 * Exit status 0 when the resumed run is bit-identical and at least 90 % of
 * the fresh points are classified right. C99; output through tern_putchar
 * with integer formatting only (firmware_print.h). */
#include "tern.h"

#include "firmware_model.h"
#include "firmware_print.h"

#define SAMPLES 256
#define EPOCHS_BEFORE_CHECKPOINT 10
#define EPOCHS_AFTER_CHECKPOINT 10
#define TRIALS 500
/* The flash's erase sector: 1 KiB, the page of many small Cortex-M parts. */
#define FLASH_SECTOR 1024

#ifndef TERN_ALIGNAS
#error "this firmware needs TERN_ALIGNAS (C11, C++11, GCC, Clang or MSVC): see docs/c-api.md"
#endif

static const tern_layer layers[FIRMWARE_MODEL_LAYER_COUNT] = FIRMWARE_MODEL_LAYERS;
static TERN_ALIGNAS(TERN_ARENA_ALIGNMENT) unsigned char train_arena[FIRMWARE_MODEL_ARENA_BYTES];
static TERN_ALIGNAS(TERN_ARENA_ALIGNMENT) unsigned char infer_arena[FIRMWARE_MODEL_INFERENCE_ARENA_BYTES];
/* Stand in for flash: two checkpoint slots of whole sectors, and a page for
 * the deployed model (weights only). */
static unsigned char checkpoint_flash[TERN_CHECKPOINT_STORAGE_BYTES(
    FIRMWARE_MODEL_CHECKPOINT_RECORD_BYTES, FLASH_SECTOR)];
static unsigned char model_flash[FIRMWARE_MODEL_MODEL_FILE_BYTES];

static float xs[SAMPLES][2];
static uint32_t ys[SAMPLES];
static uint32_t order[SAMPLES];

/* The firmware's own generator (a 32-bit LCG, Numerical Recipes'
 * constants); its state goes into the checkpoint. */
static uint32_t lcg_state;
static uint32_t lcg_next(void) {
  lcg_state = lcg_state * 1664525u + 1013904223u;
  return lcg_state;
}
/* A float in [-1, 1): 24 random bits, exact in float. */
static float uniform_symmetric(void) {
  return (float)((int32_t)(lcg_next() >> 8) - 8388608) * (1.0f / 8388608.0f);
}
static uint32_t sample(float* p) {
  p[0] = uniform_symmetric();
  p[1] = uniform_symmetric();
  return p[0] * p[0] + p[1] * p[1] < 0.36f ? 1u : 0u;
}

/* ---- the "flash": erase whole sectors to 0xff, program erased bytes ---- */
static tern_status flash_read(void* context, size_t offset, void* data, size_t bytes,
                              tern_error* err) {
  (void)context;
  (void)err;
  memcpy(data, checkpoint_flash + offset, bytes); /* tern stays inside size */
  return TERN_OK;
}
static tern_status flash_program(void* context, size_t offset, const void* data, size_t bytes,
                                 tern_error* err) {
  size_t i;
  (void)context;
  for (i = 0; i < bytes; ++i) {
    if (checkpoint_flash[offset + i] != 0xffu) { /* a real part would corrupt it */
      static const char why[] = "programming a byte that is not erased";
      memcpy(err->message, why, sizeof why);
      return TERN_IO_ERROR;
    }
  }
  memcpy(checkpoint_flash + offset, data, bytes);
  return TERN_OK;
}
static tern_status flash_erase(void* context, size_t offset, size_t bytes, tern_error* err) {
  (void)context;
  (void)err;
  memset(checkpoint_flash + offset, 0xff, bytes);
  return TERN_OK;
}

static int fail(const char* what, const tern_error* err) {
  firmware_put("FAILED: ");
  firmware_put(what);
  firmware_put(": ");
  firmware_put(err->message);
  firmware_put("\n");
  return 1;
}

/* One epoch over the data in an order the generator shuffles. The order
 * starts from 0, 1, 2, ... every epoch, so that the generator's state alone
 * (which the checkpoint holds) decides it. */
static tern_status train_epoch(tern_model* model, tern_error* err) {
  uint32_t i;
  for (i = 0; i < SAMPLES; ++i) order[i] = i;
  for (i = SAMPLES - 1; i > 0; --i) { /* Fisher-Yates */
    const uint32_t j = lcg_next() % (i + 1u);
    const uint32_t t = order[i];
    order[i] = order[j];
    order[j] = t;
  }
  for (i = 0; i < SAMPLES; i += FIRMWARE_MODEL_ROWS) {
    float x[FIRMWARE_MODEL_ROWS][2];
    uint32_t y[FIRMWARE_MODEL_ROWS];
    tern_batch batch = {0};
    uint32_t r;
    tern_status s;
    for (r = 0; r < FIRMWARE_MODEL_ROWS; ++r) {
      x[r][0] = xs[order[i + r]][0];
      x[r][1] = xs[order[i + r]][1];
      y[r] = ys[order[i + r]];
    }
    batch.x = &x[0][0];
    batch.ldx = 2;
    batch.rows = FIRMWARE_MODEL_ROWS;
    batch.labels = y;
    s = tern_model_train_step(model, &batch, NULL, err);
    if (s != TERN_OK) return s;
  }
  return TERN_OK;
}

static tern_status train_epochs(tern_model* model, int epochs, tern_error* err) {
  int e;
  for (e = 0; e < epochs; ++e) {
    const tern_status s = train_epoch(model, err);
    if (s != TERN_OK) return s;
  }
  return TERN_OK;
}

/* FNV-1a of the parameters' bits, as saved in the model file: the
 * parameters are its last 4 P bytes before the CRC-32, little-endian. */
static uint32_t weights_checksum(const tern_model* model, tern_error* err, int* ok) {
  const size_t count = tern_model_parameter_count(model);
  size_t written = 0, i;
  uint32_t h = FIRMWARE_FNV_OFFSET;
  *ok = tern_model_save(model, model_flash, sizeof model_flash, 0, &written, err) == TERN_OK &&
        written == sizeof model_flash;
  for (i = 0; *ok && i < count; ++i) {
    const unsigned char* b = model_flash + written - 4 - 4 * (count - i);
    h = firmware_fnv1a(h, (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 |
                              (uint32_t)b[3] << 24);
  }
  return h;
}

int main(void) {
  const tern_spec spec = FIRMWARE_MODEL_SPEC(layers);
  const tern_spec deployed = FIRMWARE_MODEL_INFERENCE_SPEC(layers);
  tern_storage flash;
  tern_rng_state generator;
  tern_checkpoint_info info;
  tern_optimizer_params params = tern_optimizer_defaults();
  tern_model* net;
  tern_model* infer;
  tern_error err;
  uint32_t i, correct = 0, trained, resumed;
  size_t saved = 0;
  int ok;

  memset(&flash, 0, sizeof flash);
  flash.read = flash_read;
  flash.write = flash_program;
  flash.erase = flash_erase;
  flash.size = sizeof checkpoint_flash;
  flash.erase_bytes = FLASH_SECTOR;
  params.learning_rate = 0.05f;
  params.momentum = 0.9f;

  /* 1. The model from the header, the exported parameters. */
  if (tern_model_create(&spec, train_arena, sizeof train_arena, &net, &err) != TERN_OK ||
      tern_model_load_parameters(net, firmware_model_architecture,
                                 FIRMWARE_MODEL_ARCHITECTURE_WORDS, firmware_model_parameters,
                                 FIRMWARE_MODEL_PARAMETER_COUNT, &err) != TERN_OK ||
      tern_model_set_optimizer(net, &params, &err) != TERN_OK)
    return fail("set-up", &err);

  /* 2. On-device training, then a checkpoint with the generator's state. */
  lcg_state = 2026u;
  for (i = 0; i < SAMPLES; ++i) ys[i] = sample(xs[i]);
  if (train_epochs(net, EPOCHS_BEFORE_CHECKPOINT, &err) != TERN_OK) return fail("training", &err);
  generator.state = lcg_state;
  generator.increment = 1u;
  if (tern_checkpoint_save(net, &generator, &flash, &info, &err) != TERN_OK)
    return fail("checkpoint", &err);

  /* 3. Train on; then "reboot", resume from the checkpoint and train the
   * same epochs again: the same bits. */
  if (train_epochs(net, EPOCHS_AFTER_CHECKPOINT, &err) != TERN_OK) return fail("training", &err);
  trained = weights_checksum(net, &err, &ok);
  if (!ok) return fail("saving", &err);
  lcg_state = 0u;
  if (tern_model_create(&spec, train_arena, sizeof train_arena, &net, &err) != TERN_OK ||
      tern_checkpoint_load(net, &generator, &flash, &info, &err) != TERN_OK ||
      /* The hyper-parameters are the firmware's, not part of a checkpoint. */
      tern_model_set_optimizer(net, &params, &err) != TERN_OK)
    return fail("resuming", &err);
  lcg_state = (uint32_t)generator.state;
  if (train_epochs(net, EPOCHS_AFTER_CHECKPOINT, &err) != TERN_OK) return fail("training", &err);
  resumed = weights_checksum(net, &err, &ok);
  if (!ok) return fail("saving", &err);
  saved = sizeof model_flash;

  /* 4. Deploy: the saved weights into a one-row inference model. */
  if (tern_model_create(&deployed, infer_arena, sizeof infer_arena, &infer, &err) != TERN_OK ||
      tern_model_load(infer, model_flash, saved, 0, &err) != TERN_OK)
    return fail("deploying", &err);
  for (i = 0; i < TRIALS; ++i) {
    float point[2];
    uint32_t predicted = 0;
    const uint32_t truth = sample(point);
    if (tern_model_predict(infer, point, 2, 1, &predicted, &err) != TERN_OK)
      return fail("inference", &err);
    correct += predicted == truth ? 1u : 0u;
  }

  /* 5. Report. */
  firmware_put("tern-c-example: ");
  firmware_put(tern_model_isa(infer));
  firmware_put("; arenas ");
  firmware_put_dec((uint32_t)sizeof train_arena);
  firmware_put(" + ");
  firmware_put_dec((uint32_t)sizeof infer_arena);
  firmware_put(" bytes, checkpoint flash ");
  firmware_put_dec((uint32_t)sizeof checkpoint_flash);
  firmware_put(", model file ");
  firmware_put_dec((uint32_t)saved);
  firmware_put("\ncheckpoint ");
  firmware_put_dec((uint32_t)info.sequence);
  firmware_put(" at step ");
  firmware_put_dec((uint32_t)info.steps);
  firmware_put("; resumed run ");
  firmware_put(resumed == trained ? "bit-identical" : "DIFFERS");
  firmware_put("; correct on fresh points: ");
  firmware_put_dec(correct);
  firmware_put("/");
  firmware_put_dec(TRIALS);
  firmware_put("\nchecksum: ");
  firmware_put_hex(resumed);
  firmware_put("\n");
  return resumed == trained && correct * 10u >= TRIALS * 9u ? 0 : 1;
}
