// SPDX-License-Identifier: Apache-2.0
// Private to the runtime: the streaming JSON tokenizer behind the
// safetensors reader (safetensors_reader.cpp). It reads a byte range of a
// ByteSource through one fixed buffer, so a header of any size is parsed
// in bounded memory: strings are decoded into a caller buffer (a longer
// string is consumed and reported as not fitting), numbers are the
// non-negative integers safetensors uses, and any other value can be
// skipped. Every error is kCorruptData naming the byte of the header where
// parsing stopped; a failing source is kIoError as the source reported it.
#pragma once

#include <cstddef>
#include <cstdint>

#include "tern/platform/status.h"
#include "tern/runtime/byte_io.h"

namespace tern::detail {

// How deeply skip_value() follows nested arrays and objects: one bit per
// level in a 64-bit word says which bracket closes it. A safetensors header
// nests 3 deep; 64 leaves every legal metadata value room.
constexpr int kJsonMaxDepth = 64;

class JsonReader {
 public:
  // Reads bytes [begin, end) of `source`.
  JsonReader(const ByteSource& source, std::size_t begin, std::size_t end)
      : source_(source), position_(begin), begin_(begin), end_(end) {}

  // The next character that is not JSON whitespace, without consuming it;
  // '\0' at the end of the range.
  Status peek(char* c);
  // Consumes the next non-whitespace character, which must be `c`.
  Status expect(char c);
  // If the next non-whitespace character is `c`, consumes it and sets *seen.
  Status accept(char c, bool* seen);
  // A JSON string, decoded to UTF-8 (escapes, \u surrogate pairs) into
  // out[0, capacity - 1] and NUL-terminated. *fits is false when the string
  // (consumed whole) was longer: out then holds its first characters.
  Status string(char* out, std::size_t capacity, bool* fits);
  // A non-negative integer without sign, fraction or exponent that fits 64
  // bits (safetensors' shapes and offsets).
  Status unsigned_integer(std::uint64_t* value);
  // Any JSON value (object, array, string, number, true, false, null).
  Status skip_value();
  // Only whitespace (the header's padding) is left.
  Status expect_end();
  // Byte offset into the header of the next unread byte, for messages.
  std::size_t offset() const { return position_ - begin_; }

 private:
  Status next(char* c);  // consumes one byte; error at the end of the range
  Status fill();
  Status literal(const char* word);
  Status skip_scalar(char first);
  Status error(const char* what) const;

  ByteSource source_;
  std::size_t position_;  // absolute offset in the source of the next byte
  std::size_t begin_, end_;
  // buffer_ holds source bytes [buffer_start_, buffer_start_ + buffer_used_).
  // 64 bytes: a JSON header is read front to back once, so a small window
  // costs calls, not correctness; it keeps the reader's stack use small.
  unsigned char buffer_[64] = {};
  std::size_t buffer_start_ = 0, buffer_used_ = 0;
};

}  // namespace tern::detail
