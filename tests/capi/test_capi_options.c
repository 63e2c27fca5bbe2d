/* SPDX-License-Identifier: Apache-2.0 */
/* The training options of tern_spec, the init of tern_layer, the indices of
 * tern_batch and the fixed contracts of set_optimizer, file_bytes and save,
 * from C99:
 *   - every new field out of range, or inconsistent with the others, is
 *     refused by tern_spec_check, tern_arena_bytes and tern_model_create with
 *     a message naming the values;
 *   - TERN_INIT_AUTO gives the bits of He on a ReLU layer and of Xavier on
 *     a tanh layer, and the weights stay within each scheme's uniform limit
 *     (sqrt(6 / fan_in), sqrt(6 / (fan_in + fan_out)));
 *   - a batch that selects samples by index trains to the bytes of the same
 *     samples copied into a plain batch, under every ISA; a bad index or
 *     sample count is refused and changes nothing;
 *   - set_optimizer refuses an inference model; an inference model has no
 *     file size with optimizer state; save reports the state before the
 *     buffer size, and *written is 0 after every error. */
#include <math.h>

#include "capi_test_util.h"

static unsigned char arena_a[64 * 1024] __attribute__((aligned(64)));
static unsigned char file_a[32 * 1024];
static unsigned char file_b[32 * 1024];

static const tern_layer kMlp[] = {
    {TERN_LAYER_DENSE, TERN_ACT_RELU, 8, 0, TERN_INIT_AUTO},
    {TERN_LAYER_DENSE, TERN_ACT_IDENTITY, 3, 0, TERN_INIT_AUTO},
};

static tern_spec mlp_spec(int32_t mode) {
  tern_spec s;
  memset(&s, 0, sizeof s);
  s.input_width = 4;
  s.rows = 4;
  s.mode = mode;
  s.loss = TERN_LOSS_SOFTMAX_CROSS_ENTROPY;
  s.optimizer = TERN_OPTIMIZER_ADAM;
  s.layers = kMlp;
  s.layer_count = 2;
  return s;
}

/* The spec must be refused everywhere with this message. */
static void check_refused(const tern_spec* spec, const char* text) {
  tern_error err;
  tern_model* model = (tern_model*)arena_a;
  CHECK_ERROR(tern_spec_check(spec, &err), TERN_INVALID_ARGUMENT, err, text);
  CHECK(tern_arena_bytes(spec) == 0);
  CHECK(tern_model_file_bytes(spec, 0) == 0);
  CHECK_ERROR(tern_model_create(spec, arena_a, sizeof arena_a, &model, &err),
              TERN_INVALID_ARGUMENT, err, text);
  CHECK(model == NULL);
}

static void test_spec_fields(void) {
  tern_spec s = mlp_spec(TERN_MODE_TRAINING);
  tern_layer layers[3];
  tern_error err;
  char text[TERN_MESSAGE_CAPACITY];

  /* Each option alone, in range, is accepted and needs an arena. */
  s.fused_update = 1;
  CHECK_STATUS(tern_spec_check(&s, &err), TERN_OK, err);
  s.fused_update = 0;
  s.example_rows = 2;
  CHECK_STATUS(tern_spec_check(&s, &err), TERN_OK, err);
  CHECK(tern_arena_bytes(&s) > 0);
  s.accumulation_rows = 8;
  CHECK_STATUS(tern_spec_check(&s, &err), TERN_OK, err);
  s.example_rows = 0;
  s.accumulation_rows = 0;
  s.divergence_guard = 1;
  CHECK_STATUS(tern_spec_check(&s, &err), TERN_OK, err);
  /* The guard's snapshot is in the arena. */
  {
    const tern_spec plain = mlp_spec(TERN_MODE_TRAINING);
    CHECK(tern_arena_bytes(&s) > tern_arena_bytes(&plain));
  }

  s = mlp_spec(TERN_MODE_TRAINING);
  s.divergence_guard = 2;
  check_refused(&s, "tern_spec: divergence_guard 2 and fused_update 0 must be 0 or 1");
  s.divergence_guard = 0;
  s.fused_update = -1;
  check_refused(&s, "tern_spec: divergence_guard 0 and fused_update -1 must be 0 or 1");

  /* The guard is ignored by an inference spec: no snapshot in its arena. */
  s = mlp_spec(TERN_MODE_INFERENCE);
  s.divergence_guard = 1;
  CHECK_STATUS(tern_spec_check(&s, &err), TERN_OK, err);
  {
    const tern_spec plain = mlp_spec(TERN_MODE_INFERENCE);
    CHECK(tern_arena_bytes(&s) == tern_arena_bytes(&plain));
  }
  s.divergence_guard = 0;
  s.fused_update = 1;
  check_refused(&s,
                "tern_spec: fused_update 1, example_rows 0 and accumulation_rows 0 are training "
                "options, and the mode is inference");
  s.fused_update = 0;
  s.accumulation_rows = 8;
  check_refused(&s,
                "tern_spec: fused_update 0, example_rows 0 and accumulation_rows 8 are training "
                "options, and the mode is inference");

  s = mlp_spec(TERN_MODE_TRAINING);
  s.example_rows = 3;
  check_refused(&s, "tern_spec: example_rows 3 does not divide rows 4");
  s.example_rows = 0;
  s.accumulation_rows = 8;
  s.divergence_guard = 1;
  check_refused(&s,
                "tern_spec: accumulation_rows 8 with divergence_guard: the guard restores around "
                "one step, accumulation updates in tern_model_flush");
  s.divergence_guard = 0;
  s.accumulation_rows = 3;
  check_refused(&s, "tern_spec: accumulation_rows 3 must be in rows 4 .. 16777216");
  s.accumulation_rows = 16777217u;
  check_refused(&s, "tern_spec: accumulation_rows 16777217 must be in rows 4 .. 16777216");
  s.accumulation_rows = 6;
  s.example_rows = 4;
  check_refused(&s, "tern_spec: accumulation_rows 6 is not a multiple of example_rows 4");

  /* init: 0..2, and on Dense layers only. */
  memcpy(layers, kMlp, sizeof kMlp);
  s = mlp_spec(TERN_MODE_TRAINING);
  s.layers = layers;
  layers[1].init = 3;
  check_refused(&s, "tern_spec: layer 1 has init 3; inits are 0..2 (auto, He, Xavier)");
  layers[1].init = -1;
  check_refused(&s, "tern_spec: layer 1 has init -1; inits are 0..2 (auto, He, Xavier)");
  layers[1].init = TERN_INIT_XAVIER;
  CHECK_STATUS(tern_spec_check(&s, &err), TERN_OK, err);
  layers[2].kind = TERN_LAYER_LAYER_NORM;
  layers[2].activation = TERN_ACT_IDENTITY;
  layers[2].out = 0;
  layers[2].from = 0;
  layers[2].init = TERN_INIT_HE;
  s.layer_count = 3;
  sprintf(text, "tern_spec: layer 2 (%s) has init 1, but only Dense layers have weights to "
                "initialise", "layer_norm");
  check_refused(&s, text);
  layers[2].init = TERN_INIT_AUTO;
  CHECK_STATUS(tern_spec_check(&s, &err), TERN_OK, err);
}

/* The weights of layer 0 (in x out, right after the format-2 header of a
 * `layers`-layer model) in the saved file. */
static float weight(const unsigned char* saved, uint32_t layer_count, size_t i) {
  const unsigned char* p = saved + 52 + 16 * layer_count + 4 * i;
  const uint32_t bits =
      (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
  float f;
  memcpy(&f, &bits, sizeof f);
  return f;
}

/* Creates a 64-32-2 model with layer 0 of `act` and `init`, saves it into
 * `out`; returns the largest |w| of layer 0. */
static double init_max(int32_t act, int32_t init, unsigned char* out, size_t* size) {
  tern_layer layers[2] = {{TERN_LAYER_DENSE, 0, 32, 0, 0},
                          {TERN_LAYER_DENSE, TERN_ACT_IDENTITY, 2, 0, TERN_INIT_AUTO}};
  tern_spec s = mlp_spec(TERN_MODE_INFERENCE);
  tern_model* model = NULL;
  tern_error err;
  double largest = 0;
  size_t i;
  layers[0].activation = act;
  layers[0].init = init;
  s.input_width = 64;
  s.layers = layers;
  CHECK_STATUS(tern_model_create(&s, arena_a, sizeof arena_a, &model, &err), TERN_OK, err);
  CHECK_STATUS(tern_model_initialize(model, 3, &err), TERN_OK, err);
  CHECK_STATUS(tern_model_save(model, out, 16 * 1024, 0, size, &err), TERN_OK, err);
  for (i = 0; i < 64 * 32; ++i) {
    const double w = fabs((double)weight(out, 2, i));
    if (w > largest) largest = w;
  }
  return largest;
}

static void test_init(void) {
  static unsigned char he[16 * 1024], xavier[16 * 1024], automatic[16 * 1024];
  const double he_limit = sqrt(6.0 / 64), xavier_limit = sqrt(6.0 / (64 + 32));
  size_t he_size = 0, xavier_size = 0, auto_size = 0;
  double m;
  m = init_max(TERN_ACT_RELU, TERN_INIT_HE, he, &he_size);
  CHECK(m <= he_limit && m > xavier_limit); /* 2048 draws: some above Xavier's limit */
  m = init_max(TERN_ACT_RELU, TERN_INIT_XAVIER, xavier, &xavier_size);
  CHECK(m <= xavier_limit && m > 0.9 * xavier_limit);
  m = init_max(TERN_ACT_RELU, TERN_INIT_AUTO, automatic, &auto_size);
  CHECK(auto_size == he_size && memcmp(automatic, he, he_size) == 0);
  CHECK(memcmp(xavier, he, he_size) != 0);
  /* tanh: AUTO is Xavier; HE is chosen over it. */
  init_max(TERN_ACT_TANH, TERN_INIT_AUTO, automatic, &auto_size);
  m = init_max(TERN_ACT_TANH, TERN_INIT_XAVIER, xavier, &xavier_size);
  CHECK(auto_size == xavier_size && memcmp(automatic, xavier, xavier_size) == 0);
  m = init_max(TERN_ACT_TANH, TERN_INIT_HE, he, &he_size);
  CHECK(m > xavier_limit);
}

/* The data set: 12 samples of 4 inputs, labels 0..2. */
static float xs[12 * 4];
static uint32_t ys[12];
static const uint32_t kOrder[3][4] = {{7, 2, 11, 0}, {5, 5, 9, 1}, {3, 10, 6, 8}};

static size_t train_indexed(int gathered, unsigned char* out) {
  const tern_spec s = mlp_spec(TERN_MODE_TRAINING);
  tern_model* model = NULL;
  tern_error err;
  float copy[4 * 4];
  uint32_t labels[4];
  size_t written = 0;
  int step, r;
  CHECK_STATUS(tern_model_create(&s, arena_a, sizeof arena_a, &model, &err), TERN_OK, err);
  for (step = 0; step < 3; ++step) {
    tern_batch b;
    memset(&b, 0, sizeof b);
    b.ldx = 4;
    b.rows = 4;
    if (gathered) {
      for (r = 0; r < 4; ++r) {
        memcpy(copy + 4 * r, xs + 4 * kOrder[step][r], 4 * sizeof(float));
        labels[r] = ys[kOrder[step][r]];
      }
      b.x = copy;
      b.labels = labels;
    } else {
      b.x = xs;
      b.labels = ys;
      b.indices = kOrder[step];
      b.samples = 12;
    }
    CHECK_STATUS(tern_model_train_step(model, &b, NULL, &err), TERN_OK, err);
  }
  CHECK_STATUS(tern_model_save(model, out, sizeof file_a, 1, &written, &err), TERN_OK, err);
  return written;
}

static void check_indices_isa(int32_t isa) {
  const size_t a = train_indexed(0, file_a), b = train_indexed(1, file_b);
  CHECK(a != 0 && a == b);
  CHECK(memcmp(file_a, file_b, a) == 0);
  (void)isa;
}

static void test_indices(void) {
  const tern_spec s = mlp_spec(TERN_MODE_TRAINING);
  tern_model* model = NULL;
  tern_error err;
  tern_batch b;
  uint32_t bad[4] = {0, 1, 12, 2};
  static uint32_t misaligned_store[8];
  size_t before = 0, after = 0;
  int i;
  for (i = 0; i < 48; ++i) xs[i] = (float)((i * 5) % 13) / 13.0f - 0.5f;
  for (i = 0; i < 12; ++i) ys[i] = (uint32_t)(i % 3);
  for_each_isa(check_indices_isa);

  CHECK_STATUS(tern_model_create(&s, arena_a, sizeof arena_a, &model, &err), TERN_OK, err);
  CHECK_STATUS(tern_model_save(model, file_a, sizeof file_a, 1, &before, &err), TERN_OK, err);
  memset(&b, 0, sizeof b);
  b.x = xs;
  b.ldx = 4;
  b.rows = 4;
  b.labels = ys;
  b.indices = bad;
  b.samples = 12;
  CHECK_ERROR(tern_model_train_step(model, &b, NULL, &err), TERN_INVALID_ARGUMENT, err,
              "train: batch row 2 selects sample 12 of 12");
  b.indices = kOrder[0];
  b.samples = 0;
  CHECK_ERROR(tern_model_train_step(model, &b, NULL, &err), TERN_INVALID_ARGUMENT, err,
              "train: batch.indices given but batch.samples is 0");
  b.indices = (const uint32_t*)((const unsigned char*)misaligned_store + 2);
  b.samples = 12;
  CHECK_STATUS(tern_model_train_step(model, &b, NULL, &err), TERN_MISALIGNED, err);
  /* Without indices, samples is not read. */
  b.indices = NULL;
  b.samples = 3;
  CHECK(tern_model_steps(model) == 0);
  CHECK_STATUS(tern_model_save(model, file_b, sizeof file_b, 1, &after, &err), TERN_OK, err);
  CHECK(before == after && memcmp(file_a, file_b, before) == 0);
  CHECK_STATUS(tern_model_train_step(model, &b, NULL, &err), TERN_OK, err);
  CHECK(tern_model_steps(model) == 1);
}

static void test_fixed_contracts(void) {
  const tern_spec train = mlp_spec(TERN_MODE_TRAINING);
  const tern_spec infer = mlp_spec(TERN_MODE_INFERENCE);
  tern_model* model = NULL;
  tern_error err;
  tern_optimizer_params p = tern_optimizer_defaults();
  size_t written = 99;

  /* An inference model has no optimizer to set, valid settings or not. */
  CHECK_STATUS(tern_model_create(&infer, arena_a, sizeof arena_a, &model, &err), TERN_OK, err);
  CHECK_ERROR(tern_model_set_optimizer(model, &p, &err), TERN_FAILED_PRECONDITION, err,
              "tern_model_set_optimizer: an inference model has no optimizer (create it with "
              "TERN_MODE_TRAINING)");
  p.learning_rate = -1;
  CHECK_STATUS(tern_model_set_optimizer(model, &p, &err), TERN_FAILED_PRECONDITION, err);

  /* No file with optimizer state for an inference spec: size 0. */
  CHECK(tern_model_file_bytes(&infer, 1) == 0);
  CHECK(tern_model_file_bytes(&infer, 0) == tern_model_file_bytes(&train, 0));
  CHECK(tern_model_file_bytes(&train, 1) > tern_model_file_bytes(&train, 0));

  /* The state before the size: even a 0-byte buffer gets the precondition. */
  CHECK_ERROR(tern_model_save(model, file_a, 0, 1, &written, &err), TERN_FAILED_PRECONDITION, err,
              "save: an inference model has no optimizer state to save");
  CHECK(written == 0);
  /* *written is 0 after a bad handle and a null buffer too. */
  written = 99;
  CHECK_STATUS(tern_model_save(NULL, file_a, sizeof file_a, 0, &written, &err),
               TERN_INVALID_ARGUMENT, err);
  CHECK(written == 0);
  written = 99;
  CHECK_ERROR(tern_model_save(model, NULL, sizeof file_a, 0, &written, &err),
              TERN_INVALID_ARGUMENT, err, "tern_model_save: buffer is null");
  CHECK(written == 0);
  written = 99;
  CHECK_STATUS(tern_model_save(model, file_a, 8, 0, &written, &err), TERN_OUT_OF_MEMORY, err);
  CHECK(written == 0);
  CHECK_STATUS(tern_model_save(model, file_a, sizeof file_a, 0, &written, &err), TERN_OK, err);
  CHECK(written == tern_model_file_bytes(&infer, 0));
}

int main(void) {
  test_spec_fields();
  test_init();
  test_indices();
  test_fixed_contracts();
  return finish("tern-capi-options-test");
}
