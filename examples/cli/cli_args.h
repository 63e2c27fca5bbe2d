// SPDX-License-Identifier: Apache-2.0
// Strict command-line parsing for the host-side examples (tern-train-fashion,
// tern-edit-fashion), and the check of an output path before a long run.
//
// Every number is parsed whole: no leading blanks, no trailing characters,
// no sign on a count, no overflow, no NaN or infinity, and then checked
// against the option's range. A failure is a kInvalidArgument Status whose
// message names the option, the text given and the range, e.g.
//   --epochs '1x': not a whole number (expected 1..10000)
//   --lr 1e-45: out of range (expected [1e-20, 1e+06])
// so that a typo can never turn into a silent default (atoi("1x") == 1,
// strtod("nan") switching a gate off, atoi("abc") == 0).
#pragma once

#include <cstddef>
#include <cstdint>

#include "tern/platform/status.h"
#include "tern/runtime/byte_io.h"

namespace tern::cli {

// A whole number in min..max (both inclusive), decimal digits only.
Status parse_count(const char* option, const char* text, std::uint64_t min, std::uint64_t max,
                   std::uint64_t* out);

// A finite real number in [min, max], or [min, max) with max_open, written
// as strtod reads it (decimal or hexadecimal floating point). Underflow to
// a denormal or to 0 is "out of range", never a silent 0.
struct RealRange {
  double min;
  double max;
  bool max_open = false;
};
Status parse_real(const char* option, const char* text, RealRange range, double* out);
// The same, stored as a float; the range must lie inside float's normal range.
Status parse_real(const char* option, const char* text, RealRange range, float* out);

// Checks, before a run that may take hours, that `path` can receive an
// output file of about `bytes` bytes written through a temporary file in
// the same directory and a rename (what save_model_file does):
//   - the path is not empty and does not end in '/';
//   - its directory exists and is a directory;
//   - the path is not a directory, a device, a FIFO or a socket (an
//     existing regular file, or a symbolic link to one, will be replaced);
//   - a probe file of `bytes` bytes can be created, written, flushed to
//     the disk (fsync) and removed in that directory: this catches a
//     directory without write permission, a read-only or full file system.
// What cannot be checked up front: the disk filling up, permissions
// changing or the medium failing after the check; the save then fails and
// says so (and an atomic save leaves any previous file intact).
// kInvalidArgument or kIoError naming `option`, the path and the cause.
Status check_output_path(const char* option, const char* path, std::size_t bytes);

}  // namespace tern::cli
