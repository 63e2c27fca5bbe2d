/* SPDX-License-Identifier: Apache-2.0 */
/* Saving to and loading from files through tern.h, from C99, in the
 * directory given as the first argument, under every ISA:
 *   - tern_model_save_file writes the bytes tern_model_save writes to memory
 *     (read back here with stdio), with and without optimizer state;
 *     tern_model_load_file restores them (the model then saves the same
 *     bytes), and a weights-only file loads into an inference model that
 *     gives the training model's outputs bit for bit;
 *   - a missing file, a directory, a missing directory, a corrupted file, a
 *     file without the state asked for, NULL and bad handles are refused;
 *     a refused load changes nothing and a refused save leaves the file at
 *     the path as it was (or creates none). */
#include "capi_test_util.h"

static unsigned char arena_a[64 * 1024] __attribute__((aligned(64)));
static unsigned char arena_b[64 * 1024] __attribute__((aligned(64)));
static unsigned char memory[16 * 1024];
static unsigned char on_disk[16 * 1024];
static unsigned char after[16 * 1024];
static const char* dir = ".";
static char path[512], other[512];

static const tern_layer kLayers[] = {
    {TERN_LAYER_DENSE, TERN_ACT_GELU, 12, 0, TERN_INIT_AUTO},
    {TERN_LAYER_DENSE, TERN_ACT_IDENTITY, 3, 0, TERN_INIT_AUTO},
};
static const tern_spec kTrain = {4, 4, TERN_MODE_TRAINING, TERN_LOSS_SOFTMAX_CROSS_ENTROPY,
                                 TERN_OPTIMIZER_ADAMW, kLayers, 2, 0, 0, 0, 0, 0};
static const tern_spec kInfer = {4, 1, TERN_MODE_INFERENCE, TERN_LOSS_SOFTMAX_CROSS_ENTROPY,
                                 TERN_OPTIMIZER_ADAMW, kLayers, 2, 0, 0, 0, 0, 0};
static float xs[16];
static uint32_t ys[4] = {0, 2, 1, 2};

/* The file's bytes into out; its size, or 0 when it cannot be opened. */
static size_t read_file(const char* name, unsigned char* out, size_t capacity) {
  FILE* f = fopen(name, "rb");
  size_t n;
  if (f == NULL) return 0;
  n = fread(out, 1, capacity, f);
  fclose(f);
  return n;
}

static tern_model* trained(void* arena, size_t bytes) {
  tern_model* model = NULL;
  tern_error err;
  tern_batch b;
  int step;
  memset(&b, 0, sizeof b);
  b.x = xs;
  b.ldx = 4;
  b.rows = 4;
  b.labels = ys;
  CHECK_STATUS(tern_model_create(&kTrain, arena, bytes, &model, &err), TERN_OK, err);
  for (step = 0; step < 5; ++step) {
    CHECK_STATUS(tern_model_train_step(model, &b, NULL, &err), TERN_OK, err);
  }
  return model;
}

static void check_round_trip(int32_t isa) {
  tern_model* model = trained(arena_a, sizeof arena_a);
  tern_model* fresh = NULL;
  tern_model* deployed = NULL;
  tern_error err;
  size_t size = 0, again = 0, disk;
  int state;
  float y_train[3], y_deployed[3];
  (void)isa;
  for (state = 0; state < 2; ++state) {
    CHECK_STATUS(tern_model_save(model, memory, sizeof memory, state, &size, &err), TERN_OK, err);
    CHECK_STATUS(tern_model_save_file(model, path, state, &err), TERN_OK, err);
    disk = read_file(path, on_disk, sizeof on_disk);
    CHECK(disk == size && memcmp(on_disk, memory, size) == 0);
    CHECK_STATUS(tern_model_create(&kTrain, arena_b, sizeof arena_b, &fresh, &err), TERN_OK, err);
    CHECK_STATUS(tern_model_load_file(fresh, path, state, &err), TERN_OK, err);
    CHECK_STATUS(tern_model_save(fresh, after, sizeof after, state, &again, &err), TERN_OK, err);
    CHECK(again == size && memcmp(after, memory, size) == 0);
  }
  /* Weights only into a one-row inference model: the same outputs. */
  CHECK_STATUS(tern_model_save_file(model, path, 0, &err), TERN_OK, err);
  CHECK_STATUS(tern_model_create(&kInfer, arena_b, sizeof arena_b, &deployed, &err), TERN_OK, err);
  CHECK_STATUS(tern_model_load_file(deployed, path, 0, &err), TERN_OK, err);
  CHECK_STATUS(tern_model_infer(model, xs + 4, 4, 1, y_train, 3, &err), TERN_OK, err);
  CHECK_STATUS(tern_model_infer(deployed, xs + 4, 4, 1, y_deployed, 3, &err), TERN_OK, err);
  CHECK(memcmp(y_train, y_deployed, sizeof y_train) == 0);
}

static void test_errors(void) {
  tern_model* model = trained(arena_a, sizeof arena_a);
  tern_model* deployed = NULL;
  tern_error err;
  size_t size, now, before_size;
  char expect[TERN_MESSAGE_CAPACITY + 64];
  FILE* f;

  CHECK_ERROR(tern_model_save_file(NULL, path, 0, &err), TERN_INVALID_ARGUMENT, err,
              "tern_model_save_file: the model handle is null or not a model made by "
              "tern_model_create");
  CHECK_ERROR(tern_model_load_file(NULL, path, 0, &err), TERN_INVALID_ARGUMENT, err,
              "tern_model_load_file: the model handle is null or not a model made by "
              "tern_model_create");
  CHECK_ERROR(tern_model_save_file(model, NULL, 0, &err), TERN_INVALID_ARGUMENT, err,
              "tern_model_save_file: path is null");
  CHECK_ERROR(tern_model_load_file(model, NULL, 0, &err), TERN_INVALID_ARGUMENT, err,
              "tern_model_load_file: path is null");

  /* The file at `path` holds the weights without state; the model's bytes
   * before each refused load. */
  CHECK_STATUS(tern_model_save_file(model, path, 0, &err), TERN_OK, err);
  before_size = read_file(path, on_disk, sizeof on_disk);
  CHECK(before_size != 0);
  CHECK_STATUS(tern_model_save(model, memory, sizeof memory, 1, &size, &err), TERN_OK, err);

  sprintf(other, "%s/no-such-file.tern", dir);
  remove(other);
  CHECK_STATUS(tern_model_load_file(model, other, 0, &err), TERN_IO_ERROR, err);
  CHECK(strstr(err.message, "no-such-file.tern") != NULL);
  CHECK_STATUS(tern_model_load_file(model, dir, 0, &err), TERN_INVALID_ARGUMENT, err);
  CHECK_STATUS(tern_model_load_file(model, path, 1, &err), TERN_FAILED_PRECONDITION, err);
  /* One payload byte flipped: the checksum refuses it. */
  on_disk[before_size / 2] ^= 0x40;
  f = fopen(other, "wb");
  CHECK(f != NULL);
  if (f != NULL) {
    CHECK(fwrite(on_disk, 1, before_size, f) == before_size);
    fclose(f);
  }
  on_disk[before_size / 2] ^= 0x40;
  CHECK_STATUS(tern_model_load_file(model, other, 0, &err), TERN_CORRUPT_DATA, err);
  remove(other);
  CHECK_STATUS(tern_model_save(model, after, sizeof after, 1, &now, &err), TERN_OK, err);
  CHECK(now == size && memcmp(after, memory, size) == 0);

  /* Saves that cannot happen: into a directory that does not exist, and
   * optimizer state of an inference model (the old file stays, no new one
   * is created). */
  sprintf(other, "%s/no-such-directory/model.tern", dir);
  CHECK_STATUS(tern_model_save_file(model, other, 0, &err), TERN_IO_ERROR, err);
  CHECK(strstr(err.message, "no-such-directory") != NULL);
  CHECK_STATUS(tern_model_create(&kInfer, arena_b, sizeof arena_b, &deployed, &err), TERN_OK, err);
  CHECK_STATUS(tern_model_save_file(deployed, path, 1, &err), TERN_FAILED_PRECONDITION, err);
  sprintf(expect, "save: an inference model has no optimizer state to save");
  CHECK(strstr(err.message, expect) != NULL);
  CHECK(read_file(path, after, sizeof after) == before_size);
  CHECK(memcmp(after, on_disk, before_size) == 0);
  sprintf(other, "%s/never.tern", dir);
  remove(other);
  CHECK_STATUS(tern_model_save_file(deployed, other, 1, &err), TERN_FAILED_PRECONDITION, err);
  CHECK(read_file(other, after, sizeof after) == 0);
}

int main(int argc, char** argv) {
  int i;
  if (argc > 1) dir = argv[1];
  if (strlen(dir) > 400) {
    fprintf(stderr, "directory name too long\n");
    return 1;
  }
  sprintf(path, "%s/model.tern", dir);
  for (i = 0; i < 16; ++i) xs[i] = (float)((i * 7) % 5) / 5.0f - 0.3f;
  test_errors();
  for_each_isa(check_round_trip);
  remove(path);
  return finish("tern-capi-files-test");
}
