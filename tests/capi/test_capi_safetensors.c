/* SPDX-License-Identifier: Apache-2.0 */
/* safetensors from C99 (-std=c99 -pedantic -Wall -Wextra -Werror):
 *   - a file written here byte by byte (in the writer's own compact form)
 *     loads, nn.Linear's [out][in] transposed: the model's output on an
 *     input equals the hand-computed W x + b;
 *   - tern_model_save_safetensors writes that same file back, byte for byte,
 *     and tern_model_safetensors_bytes is its size;
 *   - a round trip into a differently initialised model gives the same
 *     model file (tern_model_save) as the original;
 *   - errors: bad handle, NULL data or buffer, a truncated file, a short
 *     buffer, a bad name list; files through the _file calls.
 * Exit status 0 on success. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tern.h"

static int failures = 0;

#define CHECK(cond)                                                             \
  do {                                                                          \
    if (!(cond)) {                                                              \
      fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);  \
      ++failures;                                                               \
    }                                                                           \
  } while (0)

/* Linear(2, 3). */
static const tern_layer kLayers[] = {{TERN_LAYER_DENSE, TERN_ACT_IDENTITY, 3, 0, TERN_INIT_AUTO}};
static const char kJson[] =
    "{\"0.weight\":{\"dtype\":\"F32\",\"shape\":[3,2],\"data_offsets\":[0,24]},"
    "\"0.bias\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[24,36]}}";

static unsigned char arena_a[16 * 1024] __attribute__((aligned(64)));
static unsigned char arena_b[16 * 1024] __attribute__((aligned(64)));
static unsigned char file[512], saved[512], model_a[512], model_b[512];

/* A float's IEEE bits, little-endian. */
static void put_f32(unsigned char* p, float v) {
  uint32_t bits;
  int i;
  memcpy(&bits, &v, 4);
  for (i = 0; i < 4; ++i) p[i] = (unsigned char)(bits >> (8 * i));
}

/* The file for W[o][i] = 2o + i + 1, b[o] = o + 0.5; returns its size. */
static size_t write_file(void) {
  size_t json = strlen(kJson), header = (json + 7) / 8 * 8, at, i;
  int o, k;
  for (i = 0; i < 8; ++i) file[i] = (unsigned char)((header >> (8 * i)) & 0xff);
  memcpy(file + 8, kJson, json);
  for (i = json; i < header; ++i) file[8 + i] = ' ';
  at = 8 + header;
  for (o = 0; o < 3; ++o) {
    for (k = 0; k < 2; ++k) {
      put_f32(file + at, (float)(2 * o + k + 1));
      at += 4;
    }
  }
  for (o = 0; o < 3; ++o) {
    put_f32(file + at, (float)o + 0.5f);
    at += 4;
  }
  return at;
}

int main(void) {
  tern_spec spec = {2, 1, TERN_MODE_INFERENCE, TERN_LOSS_MSE, TERN_OPTIMIZER_SGD,
                    kLayers, 1, 0, 0, 0, 0, 0};
  tern_model *a = NULL, *b = NULL;
  tern_error err;
  const float x[2] = {1.0f, 10.0f};
  float y[3];
  size_t size = write_file(), written = 99, a_bytes = 0, b_bytes = 0;
  const char* names[2] = {"fc.weight", "fc.bias"};
  char path[64];
  int o;

  if (tern_model_create(&spec, arena_a, sizeof arena_a, &a, &err) != TERN_OK ||
      tern_model_create(&spec, arena_b, sizeof arena_b, &b, &err) != TERN_OK) {
    fprintf(stderr, "tern_model_create: %s\n", err.message);
    return 1;
  }
  CHECK(tern_model_initialize(b, 99, &err) == TERN_OK);

  /* The hand-written file, and the model's output W x + b. */
  CHECK(tern_model_load_safetensors(a, file, size, NULL, 0, &err) == TERN_OK);
  CHECK(tern_model_infer(a, x, 2, 1, y, 3, &err) == TERN_OK);
  for (o = 0; o < 3; ++o) CHECK(y[o] == (float)(2 * o + 1) + 10.0f * (float)(2 * o + 2) + (float)o + 0.5f);

  /* Written back byte for byte. */
  CHECK(tern_model_safetensors_bytes(a, NULL, 0) == size);
  CHECK(tern_model_save_safetensors(a, NULL, 0, saved, sizeof saved, &written, &err) == TERN_OK);
  CHECK(written == size && memcmp(saved, file, size) == 0);

  /* Round trip: b becomes a, as its model file shows. */
  CHECK(tern_model_load_safetensors(b, saved, written, NULL, 0, &err) == TERN_OK);
  CHECK(tern_model_save(a, model_a, sizeof model_a, 0, &a_bytes, &err) == TERN_OK);
  CHECK(tern_model_save(b, model_b, sizeof model_b, 0, &b_bytes, &err) == TERN_OK);
  CHECK(a_bytes == b_bytes && a_bytes > 0 && memcmp(model_a, model_b, a_bytes) == 0);

  /* Errors; a refused load leaves b as it was. */
  CHECK(tern_model_load_safetensors(NULL, file, size, NULL, 0, &err) == TERN_INVALID_ARGUMENT);
  CHECK(tern_model_load_safetensors(b, NULL, size, NULL, 0, &err) == TERN_INVALID_ARGUMENT);
  CHECK(tern_model_initialize(b, 5, &err) == TERN_OK);
  CHECK(tern_model_save(b, model_b, sizeof model_b, 0, &b_bytes, &err) == TERN_OK);
  CHECK(tern_model_load_safetensors(b, file, size - 1, NULL, 0, &err) == TERN_CORRUPT_DATA);
  CHECK(err.code == TERN_CORRUPT_DATA && strstr(err.message, "safetensors") != NULL);
  CHECK(tern_model_load_safetensors(b, file, size, names, 2, &err) == TERN_SHAPE_MISMATCH);
  CHECK(strstr(err.message, "'fc.weight' is missing") != NULL);
  CHECK(tern_model_load_safetensors(b, file, size, names, 1, &err) == TERN_INVALID_ARGUMENT);
  CHECK(tern_model_save(b, model_a, sizeof model_a, 0, &a_bytes, &err) == TERN_OK);
  CHECK(memcmp(model_a, model_b, a_bytes) == 0);
  written = 99;
  CHECK(tern_model_save_safetensors(a, NULL, 0, saved, size - 1, &written, &err) == TERN_OUT_OF_MEMORY);
  CHECK(written == 0 && strstr(err.message, "needs") != NULL);
  CHECK(tern_model_save_safetensors(a, NULL, 0, NULL, 0, &written, &err) == TERN_INVALID_ARGUMENT);
  CHECK(tern_model_save_safetensors(NULL, NULL, 0, saved, sizeof saved, &written, NULL) ==
        TERN_INVALID_ARGUMENT);
  CHECK(tern_model_save_safetensors(a, names, 1, saved, sizeof saved, &written, &err) ==
        TERN_INVALID_ARGUMENT);
  CHECK(tern_model_safetensors_bytes(NULL, NULL, 0) == 0);
  CHECK(tern_model_safetensors_bytes(a, names, 1) == 0);
  /* Caller's names: the same data under them. */
  /* Two bytes longer names: a JSON of 126 bytes, padded to the same 128. */
  CHECK(tern_model_safetensors_bytes(a, names, 2) == size);

#if TERN_HAS_FILES
  snprintf(path, sizeof path, "/tmp/tern-capi-st-%ld.safetensors", (long)getpid());
  CHECK(tern_model_save_safetensors_file(a, path, names, 2, &err) == TERN_OK);
  CHECK(tern_model_load_safetensors_file(b, path, names, 2, &err) == TERN_OK);
  CHECK(tern_model_save(b, model_b, sizeof model_b, 0, &b_bytes, &err) == TERN_OK);
  CHECK(tern_model_save(a, model_a, sizeof model_a, 0, &a_bytes, &err) == TERN_OK);
  CHECK(memcmp(model_a, model_b, a_bytes) == 0);
  CHECK(tern_model_load_safetensors_file(b, path, NULL, 0, &err) == TERN_SHAPE_MISMATCH);
  CHECK(tern_model_load_safetensors_file(b, NULL, NULL, 0, &err) == TERN_INVALID_ARGUMENT);
  CHECK(tern_model_save_safetensors_file(NULL, path, NULL, 0, &err) == TERN_INVALID_ARGUMENT);
  remove(path);
#else
  (void)path;
#endif

  if (failures != 0) {
    fprintf(stderr, "%d check(s) failed\n", failures);
    return EXIT_FAILURE;
  }
  printf("safetensors: ok (%zu bytes)\n", size);
  return EXIT_SUCCESS;
}
