// SPDX-License-Identifier: Apache-2.0
#include <doctest/doctest.h>

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
