/* SPDX-License-Identifier: Apache-2.0 */
/* tern_model_summary from C99 (-std=c99 -pedantic -Wall -Wextra -Werror):
 *   - the size query and a short buffer are TERN_OUT_OF_MEMORY naming the
 *     bytes needed, and a short buffer keeps every byte it had;
 *   - the text fits exactly the bytes it asked for, NUL included;
 *   - it names the model's kernels (tern_model_isa) and its training
 *     options (the divergence guard and its snapshot), its parameter total
 *     equals the formula (in + 1) x out summed over the Dense layers, and
 *     the buffer sizes it lists add up to its arena total, which is the
 *     caller's arena less the handle's whole cache lines;
 *   - bad arguments are reported, with and without a tern_error.
 * The text itself is compared with the C++ summary_text byte for byte in
 * test_capi_equiv.cpp. Exit status 0 on success. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tern.h"

static int failures = 0;

#define CHECK(cond)                                                             \
  do {                                                                          \
    if (!(cond)) {                                                              \
      fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);  \
      ++failures;                                                               \
    }                                                                           \
  } while (0)

static const tern_layer kLayers[] = {
    {TERN_LAYER_DENSE, TERN_ACT_RELU, 16, 0, TERN_INIT_AUTO},
    {TERN_LAYER_DENSE, TERN_ACT_RELU, 16, 0, TERN_INIT_AUTO},
    {TERN_LAYER_DENSE, TERN_ACT_IDENTITY, 2, 0, TERN_INIT_AUTO},
};
/* (2 + 1) 16 + (16 + 1) 16 + (16 + 1) 2 */
#define PARAMETERS 354u

static unsigned char arena[64 * 1024] __attribute__((aligned(64)));
static char text[8192];

/* The sum of the bytes column of the buffer table (the lines between its
 * column header and "arena: "). */
static unsigned long long listed_bytes(const char* s) {
  unsigned long long sum = 0;
  const char* line = strstr(s, "buffer\n");
  if (line == NULL) return 0;
  line += strlen("buffer\n");
  while (*line != '\0' && strncmp(line, "arena: ", 7) != 0) {
    unsigned long long offset = 0, bytes = 0;
    if (sscanf(line, "%llu %llu", &offset, &bytes) == 2) sum += bytes;
    line = strchr(line, '\n');
    if (line == NULL) break;
    ++line;
  }
  return sum;
}

int main(void) {
  /* With the divergence guard: its snapshot is one of the buffers listed. */
  tern_spec spec = {2, 8, TERN_MODE_TRAINING, TERN_LOSS_SOFTMAX_CROSS_ENTROPY,
                    TERN_OPTIMIZER_ADAM, kLayers, 3, 1, 0, 0, 0, 0};
  tern_model* model = NULL;
  tern_error err;
  size_t needed = 0, i;
  char expect[160];
  const char* at;
  unsigned long long total = 0, count = 0, params = 0;

  if (tern_model_create(&spec, arena, sizeof arena, &model, &err) != TERN_OK) {
    fprintf(stderr, "tern_model_create: %s\n", err.message);
    return 1;
  }

  /* The size query, then a buffer one byte short: refused, untouched. */
  CHECK(tern_model_summary(model, NULL, 0, &needed, &err) == TERN_OUT_OF_MEMORY);
  CHECK(err.code == TERN_OUT_OF_MEMORY);
  CHECK(needed > 0 && needed < sizeof text);
  sprintf(expect, "the buffer has 0 bytes, the summary needs %zu", needed);
  CHECK(strstr(err.message, expect) != NULL);
  memset(text, '#', sizeof text);
  CHECK(tern_model_summary(model, text, needed - 1, &needed, &err) == TERN_OUT_OF_MEMORY);
  sprintf(expect, "the buffer has %zu bytes, the summary needs %zu", needed - 1, needed);
  CHECK(strstr(err.message, expect) != NULL);
  for (i = 0; i < sizeof text; ++i) {
    if (text[i] != '#') {
      fprintf(stderr, "byte %zu of a refused buffer was written\n", i);
      ++failures;
      break;
    }
  }

  /* Exactly the bytes asked for. */
  CHECK(tern_model_summary(model, text, needed, NULL, &err) == TERN_OK);
  CHECK(err.code == TERN_OK);
  CHECK(strlen(text) + 1 == needed);
  CHECK(text[needed] == '#');

  CHECK(strstr(text, "training (softmax cross-entropy, adam, divergence guard)\n") != NULL);
  CHECK(strstr(text, "divergence guard snapshot") != NULL);
  sprintf(expect, "kernels: %s\n", tern_model_isa(model));
  CHECK(strstr(text, expect) != NULL);
  at = strstr(text, "parameters: ");
  CHECK(at != NULL && sscanf(at, "parameters: %llu floats", &params) == 1);
  CHECK(params == PARAMETERS);
  CHECK(params == tern_model_parameter_count(model));
  at = strstr(text, "\narena: ");
  CHECK(at != NULL && sscanf(at, "\narena: %llu bytes in %llu buffers", &total, &count) == 2);
  CHECK(total > 0 && listed_bytes(text) == total);
  /* The handle takes whole cache lines in front of the listed buffers. */
  CHECK(total < tern_arena_bytes(&spec));
  CHECK((tern_arena_bytes(&spec) - total) % TERN_ARENA_ALIGNMENT == 0);

  /* Bad arguments. */
  CHECK(tern_model_summary(NULL, text, sizeof text, &needed, &err) == TERN_INVALID_ARGUMENT);
  CHECK(strstr(err.message, "tern_model_summary") != NULL);
  CHECK(tern_model_summary(model, NULL, 16, &needed, &err) == TERN_INVALID_ARGUMENT);
  CHECK(strstr(err.message, "capacity is 16 bytes") != NULL);
  CHECK(tern_model_summary(model, text, 4, NULL, NULL) == TERN_OUT_OF_MEMORY);

  if (failures != 0) {
    fprintf(stderr, "%d check(s) failed\n", failures);
    return EXIT_FAILURE;
  }
  printf("tern_model_summary: ok (%zu bytes)\n", needed);
  return EXIT_SUCCESS;
}
