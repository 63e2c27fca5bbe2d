// SPDX-License-Identifier: Apache-2.0
// The examples' option parser and output-path check (examples/cli/cli_args.h):
// every case the issue found (atoi / strtod accepting "1x", wrapping
// 4294967297, NaN switching a gate off, "abc" meaning 0, a denormal
// learning rate, -1 as a batch) with its exact message, and the output
// checks on a missing directory, a directory, a device, and a write that
// runs out of room.
#include <doctest/doctest.h>

#include <cmath>
#include <csignal>
#include <cstdio>
#include <string>

#include <dirent.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli_args.h"
#include "test_util.h"

using tern::Status;
using tern::StatusCode;
namespace cli = tern::cli;

namespace {

void is_error(const Status& s, StatusCode code, const std::string& message) {
  CHECK(s.code() == code);
  CHECK(std::string(s.message()) == message);
}

// Entries of `dir` whose name starts with ".tern-probe-".
int probes_left(const std::string& dir) {
  DIR* d = opendir(dir.c_str());
  REQUIRE(d != nullptr);
  int n = 0;
  while (const dirent* e = readdir(d)) n += std::string(e->d_name).rfind(".tern-probe-", 0) == 0;
  closedir(d);
  return n;
}

}  // namespace

TEST_CASE("cli: counts are parsed whole, without sign, overflow or wrap") {
  std::uint64_t v = 99;
  CHECK(cli::parse_count("--epochs", "10", 1, 10000, &v).ok());
  CHECK(v == 10);
  CHECK(cli::parse_count("--seed", "18446744073709551615", 0, UINT64_MAX, &v).ok());
  CHECK(v == UINT64_MAX);
  v = 7;
  is_error(cli::parse_count("--epochs", "1x", 1, 10000, &v), StatusCode::kInvalidArgument,
           "--epochs '1x': not a whole number (expected 1..10000)");
  CHECK(v == 7);  // untouched on error
  is_error(cli::parse_count("--epochs", "4294967297", 1, 10000, &v), StatusCode::kInvalidArgument,
           "--epochs 4294967297: out of range (expected 1..10000)");
  is_error(cli::parse_count("--seed", "18446744073709551616", 0, UINT64_MAX, &v),
           StatusCode::kInvalidArgument,
           "--seed 18446744073709551616: out of range (expected 0..18446744073709551615)");
  is_error(cli::parse_count("--index", "abc", 0, 4294967295u, &v), StatusCode::kInvalidArgument,
           "--index 'abc': not a whole number (expected 0..4294967295)");
  is_error(cli::parse_count("--batch", "-1", 1, 65536, &v), StatusCode::kInvalidArgument,
           "--batch '-1': not a whole number (expected 1..65536)");
  is_error(cli::parse_count("--batch", "16777216", 1, 65536, &v), StatusCode::kInvalidArgument,
           "--batch 16777216: out of range (expected 1..65536)");
  is_error(cli::parse_count("--batch", "0", 1, 65536, &v), StatusCode::kInvalidArgument,
           "--batch 0: out of range (expected 1..65536)");
  is_error(cli::parse_count("--epochs", "", 1, 10, &v), StatusCode::kInvalidArgument,
           "--epochs: empty value (expected a whole number in 1..10)");
  for (const char* bad : {" 1", "1 ", "+1", "0x10", "1e3", "1.0"}) {
    INFO(bad);
    CHECK(cli::parse_count("--epochs", bad, 1, 10000, &v).code() == StatusCode::kInvalidArgument);
  }
  // A long value is cut in the message, which still names the range.
  const std::string longer(300, '9');
  const Status s = cli::parse_count("--epochs", longer.c_str(), 1, 10000, &v);
  CHECK(tern::test::contains(s, "out of range (expected 1..10000)"));
}

TEST_CASE("cli: reals are finite, whole and in range; underflow is an error") {
  const cli::RealRange lr{1e-20, 1e6};
  float f = 0;
  CHECK(cli::parse_real("--lr", "1e-3", lr, &f).ok());
  CHECK(f == 1e-3f);
  CHECK(cli::parse_real("--lr", "0x1p-10", lr, &f).ok());
  CHECK(f == 0x1p-10f);
  f = 5;
  is_error(cli::parse_real("--lr", "1e-45", lr, &f), StatusCode::kInvalidArgument,
           "--lr 1e-45: out of range (expected [1e-20, 1e+06])");
  CHECK(f == 5);
  is_error(cli::parse_real("--lr", "1e-400", lr, &f), StatusCode::kInvalidArgument,
           "--lr 1e-400: out of range (expected [1e-20, 1e+06])");
  is_error(cli::parse_real("--lr", "1e400", lr, &f), StatusCode::kInvalidArgument,
           "--lr 1e400: not a finite number (expected [1e-20, 1e+06])");
  is_error(cli::parse_real("--lr", "0.001x", lr, &f), StatusCode::kInvalidArgument,
           "--lr '0.001x': not a number (expected [1e-20, 1e+06])");
  const cli::RealRange percent{0, 100};
  double d = -1;
  is_error(cli::parse_real("--min-accuracy", "nan", percent, &d), StatusCode::kInvalidArgument,
           "--min-accuracy nan: not a finite number (expected [0, 100])");
  is_error(cli::parse_real("--min-accuracy", "abc", percent, &d), StatusCode::kInvalidArgument,
           "--min-accuracy 'abc': not a number (expected [0, 100])");
  is_error(cli::parse_real("--min-accuracy", "inf", percent, &d), StatusCode::kInvalidArgument,
           "--min-accuracy inf: not a finite number (expected [0, 100])");
  is_error(cli::parse_real("--min-accuracy", "100.5", percent, &d), StatusCode::kInvalidArgument,
           "--min-accuracy 100.5: out of range (expected [0, 100])");
  is_error(cli::parse_real("--min-accuracy", "", percent, &d), StatusCode::kInvalidArgument,
           "--min-accuracy '': not a number (expected [0, 100])");
  CHECK(cli::parse_real("--min-accuracy", " 88", percent, &d).code() ==
        StatusCode::kInvalidArgument);
  CHECK(d == -1);
  CHECK(cli::parse_real("--min-accuracy", "88", percent, &d).ok());
  CHECK(d == 88);
  CHECK(cli::parse_real("--min-accuracy", "0", percent, &d).ok());
  CHECK(d == 0);
  // A half-open range refuses its upper end.
  const cli::RealRange momentum{0, 1, true};
  CHECK(cli::parse_real("--momentum", "0.999", momentum, &f).ok());
  is_error(cli::parse_real("--momentum", "1", momentum, &f), StatusCode::kInvalidArgument,
           "--momentum 1: out of range (expected [0, 1))");
  // A value in a double range that is a float denormal is refused.
  CHECK(cli::parse_real("--x", "1e-40", cli::RealRange{0, 1}, &f).code() ==
        StatusCode::kInvalidArgument);
}

TEST_CASE("cli: output paths are checked before the run") {
  const std::string dir = tern::test::temp_name("cli-out");
  REQUIRE(mkdir(dir.c_str(), 0700) == 0);
  const std::string file = dir + "/model.tern";
  // A new name in an existing directory: fine, and the probe leaves nothing.
  CHECK(cli::check_output_path("--save", file.c_str(), 100000).ok());
  CHECK(access(file.c_str(), F_OK) != 0);
  CHECK(probes_left(dir) == 0);
  // An existing regular file will be replaced: fine.
  std::FILE* f = std::fopen(file.c_str(), "wb");
  REQUIRE(f != nullptr);
  std::fclose(f);
  CHECK(cli::check_output_path("--save", file.c_str(), 10).ok());

  is_error(cli::check_output_path("--save", (dir + "/missing/model.tern").c_str(), 10),
           StatusCode::kInvalidArgument,
           "--save " + dir + "/missing/model.tern: directory " + dir +
               "/missing: No such file or directory");
  is_error(cli::check_output_path("--save", (file + "/x").c_str(), 10),
           StatusCode::kInvalidArgument,
           "--save " + file + "/x: " + file + " is not a directory");
  is_error(cli::check_output_path("--save", dir.c_str(), 10), StatusCode::kInvalidArgument,
           "--save " + dir + ": is a directory; the output must be a regular file or a new name");
  is_error(cli::check_output_path("--export-header", (dir + "/").c_str(), 10),
           StatusCode::kInvalidArgument,
           "--export-header " + dir + "/: names a directory, not a file");
  is_error(cli::check_output_path("--save", "/dev/full", 10), StatusCode::kInvalidArgument,
           "--save /dev/full: is a character device; the output must be a regular file or a "
           "new name");
  is_error(cli::check_output_path("--save", "", 10), StatusCode::kInvalidArgument,
           "--save: empty path");

  // No room for the file: a file size limit stands in for a full disk (the
  // write fails with EFBIG as it would with ENOSPC); SIGXFSZ is ignored so
  // the write returns the error instead of killing the process.
  rlimit old{};
  REQUIRE(getrlimit(RLIMIT_FSIZE, &old) == 0);
  rlimit small = old;
  small.rlim_cur = 4096;
  auto* previous = std::signal(SIGXFSZ, SIG_IGN);
  REQUIRE(setrlimit(RLIMIT_FSIZE, &small) == 0);
  const Status full = cli::check_output_path("--save", file.c_str(), 100000);
  REQUIRE(setrlimit(RLIMIT_FSIZE, &old) == 0);
  std::signal(SIGXFSZ, previous);
  CHECK(full.code() == StatusCode::kIoError);
  const std::string why = "--save " + file + ": a test write of 100000 bytes beside it failed: ";
  CHECK(tern::test::contains(full, why.c_str()));
  CHECK(probes_left(dir) == 0);

  // A directory without write permission (root may write anyway).
  if (geteuid() != 0) {
    REQUIRE(chmod(dir.c_str(), 0500) == 0);
    const Status denied = cli::check_output_path("--save", file.c_str(), 10);
    CHECK(denied.code() == StatusCode::kIoError);
    CHECK(tern::test::contains(denied, "cannot create a file in its directory: Permission denied"));
    REQUIRE(chmod(dir.c_str(), 0700) == 0);
  }
  std::remove(file.c_str());
  REQUIRE(rmdir(dir.c_str()) == 0);
}


