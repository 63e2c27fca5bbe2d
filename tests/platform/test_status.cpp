// SPDX-License-Identifier: Apache-2.0
#include <doctest/doctest.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>

#include "tern/platform/status.h"

using namespace tern;

TEST_CASE("Status: ok by default, formatted message on error, truncated safely") {
  Status ok;
  CHECK(ok.ok());
  CHECK(std::strcmp(ok.message(), "") == 0);

  Status e = Status::error(StatusCode::kOutOfMemory, "need %zu bytes, %d free", size_t{4096}, 12);
  CHECK_FALSE(e.ok());
  CHECK(e.code() == StatusCode::kOutOfMemory);
  CHECK(std::string(e.message()) == "need 4096 bytes, 12 free");
  CHECK(std::string(status_code_name(e.code())) == "out_of_memory");

  std::string longer(500, 'x');
  Status t = Status::error(StatusCode::kInvalidArgument, "%s", longer.c_str());
  CHECK(std::strlen(t.message()) == Status::kMessageCapacity - 1);
}

namespace {
Status fails() { return Status::error(StatusCode::kShapeMismatch, "inner"); }
Status propagates(bool* reached) {
  TERN_RETURN_IF_ERROR(fails());
  *reached = true;
  return Status();
}
}  // namespace

TEST_CASE("TERN_RETURN_IF_ERROR propagates the first failure unchanged") {
  bool reached = false;
  Status s = propagates(&reached);
  CHECK_FALSE(reached);
  CHECK(s.code() == StatusCode::kShapeMismatch);
  CHECK(std::string(s.message()) == "inner");
}

TEST_CASE("format_arg: the double static_cast<double> gives, from the float's bits") {
  auto bits = [](double d) {
    std::uint64_t b = 0;
    std::memcpy(&b, &d, sizeof b);
    return b;
  };
  auto from_bits = [](std::uint32_t b) {
    float f = 0.0f;
    std::memcpy(&f, &b, sizeof f);
    return f;
  };
  // Every exponent (subnormals, infinities, NaNs included) with mantissas
  // from each end and a walk through the middle, both signs.
  for (std::uint32_t sign = 0; sign < 2; ++sign) {
    for (std::uint32_t e = 0; e < 256; ++e) {
      for (std::uint32_t m = 0; m < (1u << 23); m = m < 64 ? m + 1 : m * 3 + 7) {
        const std::uint32_t b = sign << 31 | e << 23 | m;
        for (const std::uint32_t x : {b, b | 0x7fffffu}) {
          CAPTURE(x);
          const float f = from_bits(x);
          CHECK(bits(tern::format_arg(f)) == bits(static_cast<double>(f)));
        }
      }
    }
  }
  char text[64];
  CHECK(std::strcmp(tern::Status::error(tern::StatusCode::kInvalidArgument, "%g %g",
                                        tern::format_arg(0.1f), tern::format_arg(-1e-45f))
                        .message(),
                    (std::snprintf(text, sizeof text, "%g %g", static_cast<double>(0.1f),
                                   static_cast<double>(-1e-45f)),
                     text)) == 0);
}
