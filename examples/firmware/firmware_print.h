/* SPDX-License-Identifier: Apache-2.0 */
/* firmware_print.h — what every firmware example prints with, in C99 and
 * C++: text, decimal and hexadecimal numbers through tern_putchar() (integer
 * formatting only: no printf, no float formatting, so none of their code in
 * flash), and FNV-1a, the checksum of the weights' bits each example prints
 * as "checksum: 0x...".
 *
 * tern_putchar is defined weakly here as a no-op; the host build links
 * host_putchar.cpp (putchar), the MPS2 build mps2_startup.cpp
 * (semihosting), a board its UART. */
#ifndef TERN_EXAMPLES_FIRMWARE_PRINT_H
#define TERN_EXAMPLES_FIRMWARE_PRINT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#ifdef __cplusplus
extern "C" {
#endif

__attribute__((weak)) void tern_putchar(char c) { (void)c; }

static inline void firmware_put(const char* s) {
  while (*s != '\0') tern_putchar(*s++);
}

static inline void firmware_put_dec(uint32_t v) {
  char digits[10]; /* 2^32 - 1 has 10 */
  int n = 0;
  do {
    digits[n++] = (char)('0' + v % 10u);
    v /= 10u;
  } while (v != 0u);
  while (n > 0) tern_putchar(digits[--n]);
}

/* "0x" and 8 lower-case digits. */
static inline void firmware_put_hex(uint32_t v) {
  int shift;
  firmware_put("0x");
  for (shift = 28; shift >= 0; shift -= 4) tern_putchar("0123456789abcdef"[(v >> shift) & 0xfu]);
}

/* FNV-1a (32-bit): offset basis and prime. */
#define FIRMWARE_FNV_OFFSET 2166136261u
#define FIRMWARE_FNV_PRIME 16777619u

/* FNV-1a over the four bytes of `word`, least significant first. */
static inline uint32_t firmware_fnv1a(uint32_t h, uint32_t word) {
  int byte;
  for (byte = 0; byte < 4; ++byte) {
    h ^= (word >> (8 * byte)) & 0xffu;
    h *= FIRMWARE_FNV_PRIME;
  }
  return h;
}

/* ... and over the bits of `count` floats. */
static inline uint32_t firmware_fnv1a_floats(uint32_t h, const float* values, size_t count) {
  size_t i;
  for (i = 0; i < count; ++i) {
    uint32_t bits;
    memcpy(&bits, &values[i], sizeof bits);
    h = firmware_fnv1a(h, bits);
  }
  return h;
}

#ifdef __cplusplus
}
#endif

#endif /* TERN_EXAMPLES_FIRMWARE_PRINT_H */
