// SPDX-License-Identifier: Apache-2.0
// tern's own message formatter (platform/src/format.h, used for Status
// messages on bare-metal targets) against the C library's snprintf.
#include <doctest/doctest.h>

#include <cstdint>
#include <cstdio>
#include <string>

#include "format.h"

namespace {

template <class... Args>
void check_same(const char* fmt, Args... args) {
  char mine[128], libc[128];
  const int n_mine = tern::detail::format(mine, sizeof mine, fmt, args...);
  const int n_libc = std::snprintf(libc, sizeof libc, fmt, args...);
  INFO("format \"" << fmt << "\": tern '" << mine << "', libc '" << libc << "'");
  CHECK(std::string(mine) == std::string(libc));
  CHECK(n_mine == n_libc);
}

}  // namespace

TEST_CASE("formatter: integers, strings and widths as printf prints them") {
  const std::size_t big = static_cast<std::size_t>(-1);
  check_same("row stride of %s is %zu, smaller than its %zu columns", "X", std::size_t{2},
             std::size_t{3});
  check_same("%zu %zu %zd", std::size_t{0}, big, static_cast<std::ptrdiff_t>(-7));
  check_same("%d %i %d %u", 0, -2147483647 - 1, 2147483647, 4294967295u);
  check_same("%ld %lu %lld %llu", -5L, 7UL, -9000000000LL, 18446744073709551615ULL);
  check_same("%x %X %o %p", 0xdeadbeefu, 0xabcu, 8u, static_cast<const void*>(&big));
  check_same("[%5d] [%-5d] [%05d] [%+d] [% d] [%.3d] [%8.3d]", 42, 42, -42, 7, 7, 5, -5);
  check_same("[%s] [%.3s] [%.40s] [%10s] [%-10s|] [%.*s]", "abc", "abcdef", "short", "right",
             "left", 2, "xyz");
  check_same("%c%c%c %%", 'a', 'b', 'c');
  check_same("%*d|%-*d|", 6, 1, 6, 2);
  check_same("%hhu %hd", 300, 70000);
  char out[64];
  tern::detail::format(out, sizeof out, "%s", "");
  CHECK(std::string(out).empty());
}

TEST_CASE("formatter: floats exact for short decimals") {
  check_same("%f %f %f %f", 0.0, 1.5, -2.25, 1234567.0);
  check_same("%.2f %.0f %.3f %8.2f %-8.1f|", 3.14159, 2.5, 0.0625, -1.5, 9.96);
  check_same("%e %E %.2e %e", 1.0, 12345.0, 0.00125, 6.02e23);
  check_same("%g %g %g %g %g %g", 0.5, 100.0, 1e-5, 123456.0, 1234567.0, 0.0001);
  check_same("%g %G %.3g %g", 3.0, 2.5e-7, 1024.0, -0.125);
  check_same("%f %g %e", 1.0 / 0.0, -1.0 / 0.0, 0.0 / 0.0 > 0 ? 1.0 : 0.0);
}

TEST_CASE("formatter: an unknown conversion is copied as written") {
  char out[64];
  const char* fmt = "unknown %q, trailing %";  // built at run time: no format warning
  const int n = tern::detail::format(out, sizeof out, fmt);
  CHECK(std::string(out) == "unknown %q, trailing %");
  CHECK(n == 22);
}

TEST_CASE("formatter: truncation keeps a terminated prefix and reports the full length") {
  char small[8];
  const int n = tern::detail::format(small, sizeof small, "%s=%zu", "capacity", std::size_t{160});
  CHECK(n == 12);
  CHECK(std::string(small) == "capacit");
  char none[1] = {'x'};
  CHECK(tern::detail::format(none, 1, "%d", 12345) == 5);
  CHECK(none[0] == '\0');
  CHECK(tern::detail::format(nullptr, 0, "%d", 7) == 1);
}
