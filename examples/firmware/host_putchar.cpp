// SPDX-License-Identifier: Apache-2.0
// The host build of firmware_dense prints to stdout.
#include <cstdio>

extern "C" void tern_putchar(char c) { std::putchar(c); }
