// SPDX-License-Identifier: Apache-2.0
#include "cli_args.h"

#include <cerrno>
#include <cfloat>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace tern::cli {
namespace {

// Quoted text in messages is cut here, so that option, text and range fit
// the 160-character Status message whatever was typed.
constexpr int kShownChars = 40;

void format_range(RealRange r, char* out, std::size_t n) {
  std::snprintf(out, n, "[%g, %g%c", r.min, r.max, r.max_open ? ')' : ']');
}

}  // namespace

Status parse_count(const char* option, const char* text, std::uint64_t min, std::uint64_t max,
                   std::uint64_t* out) {
  const unsigned long long lo = min, hi = max;
  if (text == nullptr || *text == '\0') {
    return Status::error(StatusCode::kInvalidArgument,
                         "%s: empty value (expected a whole number in %llu..%llu)", option, lo, hi);
  }
  std::uint64_t v = 0;
  bool overflow = false;
  for (const char* p = text; *p != '\0'; ++p) {
    if (*p < '0' || *p > '9') {
      return Status::error(StatusCode::kInvalidArgument,
                           "%s '%.*s': not a whole number (expected %llu..%llu)", option,
                           kShownChars, text, lo, hi);
    }
    const unsigned digit = static_cast<unsigned>(*p - '0');
    // Saturate instead of wrapping: 4294967297 must not become 1.
    if (v > (UINT64_MAX - digit) / 10) {
      overflow = true;
    } else {
      v = v * 10 + digit;
    }
  }
  if (overflow || v < min || v > max) {
    return Status::error(StatusCode::kInvalidArgument, "%s %.*s: out of range (expected %llu..%llu)",
                         option, kShownChars, text, lo, hi);
  }
  *out = v;
  return Status();
}

Status parse_real(const char* option, const char* text, RealRange range, double* out) {
  char expected[64];
  format_range(range, expected, sizeof expected);
  // strtod skips leading blanks; a value with them was not typed as a number.
  if (text == nullptr || *text == '\0' || *text == ' ' || *text == '\t' || *text == '\n') {
    return Status::error(StatusCode::kInvalidArgument, "%s '%.*s': not a number (expected %s)",
                         option, kShownChars, text == nullptr ? "" : text, expected);
  }
  errno = 0;
  char* end = nullptr;
  const double v = std::strtod(text, &end);
  if (end == text || *end != '\0') {
    return Status::error(StatusCode::kInvalidArgument, "%s '%.*s': not a number (expected %s)",
                         option, kShownChars, text, expected);
  }
  if (!std::isfinite(v)) {
    return Status::error(StatusCode::kInvalidArgument,
                         "%s %.*s: not a finite number (expected %s)", option, kShownChars, text,
                         expected);
  }
  // ERANGE: overflow (caught above as infinite) or underflow to a denormal
  // or zero, which is never what was meant.
  const bool underflow = errno == ERANGE;
  if (underflow || v < range.min || v > range.max || (range.max_open && v == range.max)) {
    return Status::error(StatusCode::kInvalidArgument, "%s %.*s: out of range (expected %s)",
                         option, kShownChars, text, expected);
  }
  *out = v;
  return Status();
}

Status parse_real(const char* option, const char* text, RealRange range, float* out) {
  double v = 0;
  TERN_RETURN_IF_ERROR(parse_real(option, text, range, &v));
  // The range lies in float's normal range, so the conversion is exact to
  // rounding and cannot give 0 or infinity; a nonzero value that would be
  // a float denormal is refused like a double denormal.
  const float f = static_cast<float>(v);
  if (v != 0 && !(std::fabs(f) >= FLT_MIN && std::fabs(f) <= FLT_MAX)) {
    char expected[64];
    format_range(range, expected, sizeof expected);
    return Status::error(StatusCode::kInvalidArgument,
                         "%s %.*s: out of range for a float (expected %s)", option, kShownChars,
                         text, expected);
  }
  *out = f;
  return Status();
}

namespace {

Status io_error(const char* option, const char* path, const char* what, int err) {
  return Status::error(StatusCode::kIoError, "%s %.60s: %s: %s", option, path, what,
                       std::strerror(err));
}

const char* file_kind(mode_t mode) {
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISSOCK(mode)) return "a socket";
  return "not a regular file";
}

// Writes `bytes` zero bytes to a new temporary file in `dir`, fsyncs and
// removes it. The write size is what the real output will need, so a disk
// with less room left fails here (ENOSPC at write or, with delayed
// allocation, at fsync).
Status probe_write(const char* option, const char* path, const std::string& dir,
                   std::size_t bytes) {
  std::string name = dir + "/.tern-probe-XXXXXX";
  const int fd = mkstemp(&name[0]);
  if (fd < 0) {
    const int err = errno;
    return io_error(option, path, "cannot create a file in its directory", err);
  }
  // One 64 KiB buffer of zeros: large writes, no allocation proportional to
  // the file.
  static const unsigned char kZeros[1 << 16] = {};
  int err = 0;
  std::size_t left = bytes;
  while (left > 0 && err == 0) {
    const std::size_t n = left < sizeof kZeros ? left : sizeof kZeros;
    const ssize_t w = ::write(fd, kZeros, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      err = w < 0 ? errno : ENOSPC;
    } else {
      left -= static_cast<std::size_t>(w);
    }
  }
  if (err == 0 && ::fsync(fd) != 0) err = errno;
  if (::close(fd) != 0 && err == 0) err = errno;
  ::unlink(name.c_str());
  if (err != 0) {
    char what[64];
    std::snprintf(what, sizeof what, "a test write of %zu bytes beside it failed", bytes);
    return io_error(option, path, what, err);
  }
  return Status();
}

}  // namespace

Status check_output_path(const char* option, const char* path, std::size_t bytes) {
  if (path == nullptr || *path == '\0') {
    return Status::error(StatusCode::kInvalidArgument, "%s: empty path", option);
  }
  const std::size_t len = std::strlen(path);
  if (path[len - 1] == '/') {
    return Status::error(StatusCode::kInvalidArgument,
                         "%s %.60s: names a directory, not a file", option, path);
  }
  const char* slash = std::strrchr(path, '/');
  const std::string dir = slash == nullptr ? std::string(".")
                          : slash == path  ? std::string("/")
                                           : std::string(path, static_cast<std::size_t>(slash - path));
  struct stat st;
  if (::stat(dir.c_str(), &st) != 0) {
    const int err = errno;
    return Status::error(StatusCode::kInvalidArgument, "%s %.60s: directory %.60s: %s", option,
                         path, dir.c_str(), std::strerror(err));
  }
  if (!S_ISDIR(st.st_mode)) {
    return Status::error(StatusCode::kInvalidArgument, "%s %.60s: %.60s is not a directory",
                         option, path, dir.c_str());
  }
  if (::stat(path, &st) == 0) {
    if (!S_ISREG(st.st_mode)) {
      return Status::error(StatusCode::kInvalidArgument,
                           "%s %.60s: is %s; the output must be a regular file or a new name",
                           option, path, file_kind(st.st_mode));
    }
  } else if (errno != ENOENT) {
    const int err = errno;
    return io_error(option, path, "cannot inspect it", err);
  }
  return probe_write(option, path, dir, bytes);
}


}  // namespace tern::cli
