/* SPDX-License-Identifier: Apache-2.0 */
/* What the C99 tests of tern.h share: failure counting, status checks that
 * print the message, and running a check under every ISA available. Each
 * test program includes it once (static definitions; the functions are
 * inline so that a program that uses only the macros gets no unused-function
 * warning). */
#ifndef TERN_CAPI_TEST_UTIL_H
#define TERN_CAPI_TEST_UTIL_H

#include <stdio.h>
#include <string.h>

#include "tern.h"

static int failures = 0;

#define CHECK(cond)                                                            \
  do {                                                                         \
    if (!(cond)) {                                                             \
      fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
      ++failures;                                                              \
    }                                                                          \
  } while (0)

/* expr must give `expected`; the message is printed when it does not. */
#define CHECK_STATUS(expr, expected, err)                                                 \
  do {                                                                                    \
    tern_status got_ = (expr);                                                            \
    if (got_ != (expected)) {                                                             \
      fprintf(stderr, "%s:%d: %s gave %s (%s), expected %s\n", __FILE__, __LINE__, #expr, \
              tern_status_name(got_), got_ != TERN_OK ? (err).message : "",               \
              tern_status_name(expected));                                                \
      ++failures;                                                                         \
    }                                                                                     \
  } while (0)

/* The call must fail with `expected` and the message must be `text`. */
#define CHECK_ERROR(expr, expected, err, text)                                           \
  do {                                                                                   \
    CHECK_STATUS(expr, expected, err);                                                   \
    if (strcmp((err).message, (text)) != 0) {                                            \
      fprintf(stderr, "%s:%d: message \"%s\", expected \"%s\"\n", __FILE__, __LINE__,    \
              (err).message, (text));                                                    \
      ++failures;                                                                        \
    }                                                                                    \
  } while (0)

/* The call must fail with `expected`, err.code must say the same, and the
 * message must contain `needle`. */
#define CHECK_ERROR_CONTAINS(expr, expected, err, needle)                                    \
  do {                                                                                       \
    tern_status got_ = (expr);                                                               \
    if (got_ != (expected) || (err).code != (expected) ||                                    \
        strstr((err).message, (needle)) == NULL) {                                           \
      fprintf(stderr, "%s:%d: %s gave %s (%s), expected %s with \"%s\"\n", __FILE__, __LINE__, \
              #expr, tern_status_name(got_), (err).message, tern_status_name(expected),      \
              (needle));                                                                     \
      ++failures;                                                                            \
    }                                                                                        \
  } while (0)

/* Runs check(isa) with each available ISA selected (tern_isa_select), then
 * returns to the automatic selection. */
static inline void for_each_isa(void (*check)(int32_t isa)) {
  const uint32_t available = tern_isa_available();
  int32_t isa;
  for (isa = 0; isa < 32; ++isa) {
    tern_error err;
    if ((available >> isa & 1u) == 0) continue;
    CHECK_STATUS(tern_isa_select(isa, &err), TERN_OK, err);
    check(isa);
  }
  tern_isa_select_auto();
}

static inline int finish(const char* name) {
  if (failures != 0) {
    fprintf(stderr, "%s: %d check(s) failed\n", name, failures);
    return 1;
  }
  printf("%s: all checks passed\n", name);
  return 0;
}

#endif /* TERN_CAPI_TEST_UTIL_H */
