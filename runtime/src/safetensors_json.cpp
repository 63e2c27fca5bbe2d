// SPDX-License-Identifier: Apache-2.0
// The streaming JSON tokenizer of the safetensors reader
// (safetensors_json.h).
#include "safetensors_json.h"

namespace tern::detail {

namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

Status JsonReader::error(const char* what) const {
  return Status::error(StatusCode::kCorruptData, "safetensors: header is not valid JSON: %s at byte %zu",
                       what, offset());
}

Status JsonReader::fill() {
  const std::size_t left = end_ - position_;
  const std::size_t bytes = left < sizeof buffer_ ? left : sizeof buffer_;
  TERN_RETURN_IF_ERROR(source_.read(source_.context, position_, buffer_, bytes));
  buffer_start_ = position_;
  buffer_used_ = bytes;
  return Status();
}

Status JsonReader::next(char* c) {
  if (position_ >= end_) return error("unexpected end of the header");
  if (position_ < buffer_start_ || position_ >= buffer_start_ + buffer_used_) {
    TERN_RETURN_IF_ERROR(fill());
  }
  *c = static_cast<char>(buffer_[position_ - buffer_start_]);
  ++position_;
  return Status();
}

Status JsonReader::peek(char* c) {
  for (;;) {
    if (position_ >= end_) {
      *c = '\0';
      return Status();
    }
    char got = 0;
    TERN_RETURN_IF_ERROR(next(&got));
    if (!is_space(got)) {
      --position_;  // still inside the buffer: next() just read it
      *c = got;
      return Status();
    }
  }
}

Status JsonReader::expect(char c) {
  char got = 0;
  TERN_RETURN_IF_ERROR(peek(&got));
  if (got != c) {
    return Status::error(StatusCode::kCorruptData,
                         "safetensors: header is not valid JSON: expected '%c' at byte %zu", c,
                         offset());
  }
  ++position_;
  return Status();
}

Status JsonReader::accept(char c, bool* seen) {
  char got = 0;
  TERN_RETURN_IF_ERROR(peek(&got));
  *seen = got == c;
  if (*seen) ++position_;
  return Status();
}

Status JsonReader::string(char* out, std::size_t capacity, bool* fits) {
  TERN_RETURN_IF_ERROR(expect('"'));
  std::size_t used = 0;
  *fits = true;
  // Appends one byte of decoded UTF-8, or notes that the string is longer.
  auto put = [&](unsigned char b) {
    if (out != nullptr && used + 1 < capacity) {
      out[used++] = static_cast<char>(b);
    } else {
      *fits = false;
    }
  };
  for (;;) {
    char c = 0;
    TERN_RETURN_IF_ERROR(next(&c));
    if (c == '"') break;
    if (static_cast<unsigned char>(c) < 0x20) return error("control character in a string");
    if (c != '\\') {
      put(static_cast<unsigned char>(c));
      continue;
    }
    TERN_RETURN_IF_ERROR(next(&c));
    switch (c) {
      case '"': case '\\': case '/': put(static_cast<unsigned char>(c)); continue;
      case 'b': put('\b'); continue;
      case 'f': put('\f'); continue;
      case 'n': put('\n'); continue;
      case 'r': put('\r'); continue;
      case 't': put('\t'); continue;
      case 'u': break;
      default: return error("unknown escape in a string");
    }
    // \uXXXX, a UTF-16 unit; a high surrogate must be followed by \u and a
    // low one, together one code point.
    std::uint32_t code = 0;
    for (int pair = 0; pair < 2; ++pair) {
      std::uint32_t unit = 0;
      for (int i = 0; i < 4; ++i) {
        TERN_RETURN_IF_ERROR(next(&c));
        const int h = hex_value(c);
        if (h < 0) return error("bad \\u escape in a string");
        unit = unit * 16 + static_cast<std::uint32_t>(h);
      }
      if (pair == 0) {
        if (unit >= 0xDC00 && unit <= 0xDFFF) return error("lone low surrogate in a string");
        code = unit;
        if (unit < 0xD800 || unit > 0xDBFF) break;
        char backslash = 0, u = 0;
        TERN_RETURN_IF_ERROR(next(&backslash));
        TERN_RETURN_IF_ERROR(next(&u));
        if (backslash != '\\' || u != 'u') return error("lone high surrogate in a string");
      } else {
        if (unit < 0xDC00 || unit > 0xDFFF) return error("lone high surrogate in a string");
        code = 0x10000 + ((code - 0xD800) << 10) + (unit - 0xDC00);
      }
    }
    if (code < 0x80) {
      put(static_cast<unsigned char>(code));
    } else if (code < 0x800) {
      put(static_cast<unsigned char>(0xC0 | (code >> 6)));
      put(static_cast<unsigned char>(0x80 | (code & 0x3F)));
    } else if (code < 0x10000) {
      put(static_cast<unsigned char>(0xE0 | (code >> 12)));
      put(static_cast<unsigned char>(0x80 | ((code >> 6) & 0x3F)));
      put(static_cast<unsigned char>(0x80 | (code & 0x3F)));
    } else {
      put(static_cast<unsigned char>(0xF0 | (code >> 18)));
      put(static_cast<unsigned char>(0x80 | ((code >> 12) & 0x3F)));
      put(static_cast<unsigned char>(0x80 | ((code >> 6) & 0x3F)));
      put(static_cast<unsigned char>(0x80 | (code & 0x3F)));
    }
  }
  if (out != nullptr && capacity > 0) out[used] = '\0';
  return Status();
}

Status JsonReader::unsigned_integer(std::uint64_t* value) {
  char c = 0;
  TERN_RETURN_IF_ERROR(peek(&c));
  if (c < '0' || c > '9') return error("expected a non-negative integer");
  std::uint64_t v = 0;
  std::size_t digits = 0;
  bool leading_zero = false;
  for (;;) {
    if (position_ >= end_) break;
    TERN_RETURN_IF_ERROR(next(&c));
    if (c < '0' || c > '9') {
      --position_;
      break;
    }
    if (digits == 1 && leading_zero) return error("leading zero in an integer");
    if (digits == 0 && c == '0') leading_zero = true;
    const std::uint64_t d = static_cast<std::uint64_t>(c - '0');
    if (v > (UINT64_MAX - d) / 10) return error("integer does not fit 64 bits");
    v = v * 10 + d;
    ++digits;
  }
  if (position_ < end_) {
    TERN_RETURN_IF_ERROR(next(&c));
    --position_;
    if (c == '.' || c == 'e' || c == 'E') return error("expected an integer, found a fraction");
  }
  *value = v;
  return Status();
}

Status JsonReader::literal(const char* word) {
  for (const char* p = word; *p != '\0'; ++p) {
    char c = 0;
    TERN_RETURN_IF_ERROR(next(&c));
    if (c != *p) return error("unknown literal");
  }
  return Status();
}

// A number: -? int frac? exp?, as JSON's grammar has it.
Status JsonReader::skip_scalar(char first) {
  if (first == 't') return literal("true");
  if (first == 'f') return literal("false");
  if (first == 'n') return literal("null");
  if (first == '"') {
    bool fits = false;
    return string(nullptr, 0, &fits);
  }
  char c = 0;
  bool any = false;
  if (first == '-') ++position_;
  // Digits, then optionally '.' digits, then optionally e/E sign digits.
  int part = 0;  // 0 integer, 1 fraction, 2 exponent
  bool need_digit = true;
  while (position_ < end_) {
    TERN_RETURN_IF_ERROR(next(&c));
    if (c >= '0' && c <= '9') {
      need_digit = false;
      any = true;
      continue;
    }
    if (c == '.' && part == 0 && !need_digit) {
      part = 1;
      need_digit = true;
      continue;
    }
    if ((c == 'e' || c == 'E') && part < 2 && !need_digit) {
      part = 2;
      need_digit = true;
      if (position_ < end_) {
        TERN_RETURN_IF_ERROR(next(&c));
        if (c != '+' && c != '-') --position_;
      }
      continue;
    }
    --position_;
    break;
  }
  if (!any || need_digit) return error("expected a value");
  return Status();
}

Status JsonReader::skip_value() {
  // Bit d of `closers` is 1 when level d is an object (closed by '}').
  std::uint64_t closers = 0;
  int depth = 0;
  for (;;) {
    char c = 0;
    TERN_RETURN_IF_ERROR(peek(&c));
    bool closed = false;
    if (c == '{' || c == '[') {
      if (depth == kJsonMaxDepth) return error("nesting deeper than 64 levels");
      ++position_;
      const bool object = c == '{';
      if (object) {
        closers |= std::uint64_t{1} << depth;
      } else {
        closers &= ~(std::uint64_t{1} << depth);
      }
      ++depth;
      bool empty = false;
      TERN_RETURN_IF_ERROR(accept(object ? '}' : ']', &empty));
      if (empty) {
        --depth;
        closed = true;
      } else if (object) {
        bool fits = false;
        TERN_RETURN_IF_ERROR(string(nullptr, 0, &fits));
        TERN_RETURN_IF_ERROR(expect(':'));
        continue;  // the member's value
      } else {
        continue;  // the first element
      }
    } else {
      if (c == '\0') return error("unexpected end of the header");
      TERN_RETURN_IF_ERROR(skip_scalar(c));
      closed = true;
    }
    // A value ended: at depth 0 that was the whole value; otherwise a ','
    // (then the next member or element) or the level's closing bracket.
    while (closed) {
      if (depth == 0) return Status();
      const bool object = ((closers >> (depth - 1)) & 1) != 0;
      bool comma = false;
      TERN_RETURN_IF_ERROR(accept(',', &comma));
      if (comma) {
        if (object) {
          bool fits = false;
          TERN_RETURN_IF_ERROR(string(nullptr, 0, &fits));
          TERN_RETURN_IF_ERROR(expect(':'));
        }
        closed = false;
      } else {
        TERN_RETURN_IF_ERROR(expect(object ? '}' : ']'));
        --depth;
      }
    }
  }
}

Status JsonReader::expect_end() {
  char c = 0;
  TERN_RETURN_IF_ERROR(peek(&c));
  if (c != '\0') return error("trailing characters after the header object");
  return Status();
}

}  // namespace tern::detail
