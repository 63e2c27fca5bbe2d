// SPDX-License-Identifier: Apache-2.0
#include "format.h"

#include <cstdint>
#include <type_traits>

namespace tern::detail {
namespace {

// Appends to a bounded buffer, counting what did not fit.
struct Sink {
  char* out;
  std::size_t capacity;
  std::size_t length = 0;
  void put(char c) {
    if (length + 1 < capacity) out[length] = c;
    ++length;
  }
  void repeat(char c, int n) {
    for (int i = 0; i < n; ++i) put(c);
  }
};

struct Spec {
  bool left = false, zero = false, plus = false, space = false;
  int width = 0;
  int precision = -1;
};

// Pads `body` (len chars, after a sign/prefix of plen chars) to the width.
void emit(Sink& sink, const Spec& spec, const char* prefix, int plen, const char* body, int len,
          bool numeric) {
  const int pad = spec.width > plen + len ? spec.width - plen - len : 0;
  if (!spec.left && !(spec.zero && numeric)) sink.repeat(' ', pad);
  for (int i = 0; i < plen; ++i) sink.put(prefix[i]);
  if (!spec.left && spec.zero && numeric) sink.repeat('0', pad);
  for (int i = 0; i < len; ++i) sink.put(body[i]);
  if (spec.left) sink.repeat(' ', pad);
}

void emit_integer(Sink& sink, Spec spec, std::uintmax_t magnitude, bool negative, unsigned base,
                  bool upper, const char* prefix_in) {
  char digits[72];
  int n = 0;
  const char* table = upper ? "0123456789ABCDEF" : "0123456789abcdef";
  do {
    digits[n++] = table[magnitude % base];
    magnitude /= base;
  } while (magnitude != 0);
  if (spec.precision == 0 && n == 1 && digits[0] == '0') n = 0;  // "%.0d" of 0 is empty
  while (n < spec.precision && n < 64) digits[n++] = '0';
  char body[72];
  for (int i = 0; i < n; ++i) body[i] = digits[n - 1 - i];
  char prefix[4];
  int plen = 0;
  if (negative) prefix[plen++] = '-';
  else if (spec.plus) prefix[plen++] = '+';
  else if (spec.space) prefix[plen++] = ' ';
  for (const char* p = prefix_in; *p; ++p) prefix[plen++] = *p;
  if (spec.precision >= 0) spec.zero = false;
  emit(sink, spec, prefix, plen, body, n, true);
}

// "ddd.fff" for 0 <= v < 1e18 with `precision` decimals (rounded at the 9th,
// zeros after). Returns the length written to `out` (room for 60 chars).
int fixed_digits(double v, int precision, char* out) {
  const int p = precision > 9 ? 9 : precision;
  std::uint64_t scale = 1;
  for (int i = 0; i < p; ++i) scale *= 10;
  std::uint64_t whole = static_cast<std::uint64_t>(v);
  // Round half to even, as the C library does for exactly representable ties.
  const double scaled = (v - static_cast<double>(whole)) * static_cast<double>(scale);
  std::uint64_t frac = static_cast<std::uint64_t>(scaled);
  const double rest = scaled - static_cast<double>(frac);
  if (rest > 0.5 || (rest == 0.5 && ((p > 0 ? frac : whole) & 1) != 0)) ++frac;
  if (frac >= scale) frac -= scale, ++whole;
  char rev[24];
  int n = 0, len = 0;
  do {
    rev[n++] = static_cast<char>('0' + whole % 10);
    whole /= 10;
  } while (whole != 0);
  while (n > 0) out[len++] = rev[--n];
  if (precision > 0) {
    out[len++] = '.';
    for (std::uint64_t d = scale / 10; d != 0; d /= 10) out[len++] = static_cast<char>('0' + frac / d % 10);
    for (int i = p; i < precision && len < 58; ++i) out[len++] = '0';
  }
  return len;
}

// Mantissa in [1, 10) and decimal exponent of v > 0, rounded to `precision`
// decimals of the mantissa; the mantissa's digits go to `out`.
int scientific_digits(double v, int precision, char* out, int* exp10) {
  int e = 0;
  if (v != 0) {
    while (v >= 10) v /= 10, ++e;
    while (v < 1) v *= 10, --e;
  }
  int len = fixed_digits(v, precision, out);
  if (out[0] == '1' && out[1] == '0') {  // rounding carried: 9.99 -> 10.0
    len = fixed_digits(v / 10, precision, out);
    ++e;
  }
  *exp10 = e;
  return len;
}

// f, e and g conversions with up to 9 significant decimals (see format.h).
void emit_float(Sink& sink, Spec spec, double v, char conv) {
  const bool upper = conv >= 'A' && conv <= 'Z';
  const char lower = static_cast<char>(upper ? conv - 'A' + 'a' : conv);
  char prefix[2];
  int plen = 0;
  const bool negative = v < 0 || (v == 0 && 1 / v < 0);
  if (negative) prefix[plen++] = '-';
  else if (spec.plus) prefix[plen++] = '+';
  else if (spec.space) prefix[plen++] = ' ';
  if (v != v || v - v != v - v) {  // NaN or infinity
    spec.zero = false;
    emit(sink, spec, prefix, plen, v != v ? (upper ? "NAN" : "nan") : (upper ? "INF" : "inf"), 3,
         true);
    return;
  }
  if (negative) v = -v;
  int precision = spec.precision < 0 ? 6 : spec.precision;
  char body[72];
  int n = 0, exp10 = 0;
  bool use_exp = lower == 'e' || (lower == 'f' && v >= 1e18);
  if (lower == 'g') {
    if (precision == 0) precision = 1;
    scientific_digits(v, precision - 1, body, &exp10);
    use_exp = exp10 < -4 || exp10 >= precision || v >= 1e18;
    precision = use_exp ? precision - 1 : precision - 1 - exp10;
  }
  n = use_exp ? scientific_digits(v, precision, body, &exp10) : fixed_digits(v, precision, body);
  if (lower == 'g' && precision > 0) {  // %g drops trailing zeros and a bare point
    while (body[n - 1] == '0') --n;
    if (body[n - 1] == '.') --n;
  }
  if (use_exp) {
    body[n++] = upper ? 'E' : 'e';
    body[n++] = exp10 < 0 ? '-' : '+';
    int e = exp10 < 0 ? -exp10 : exp10;
    if (e >= 100) body[n++] = static_cast<char>('0' + e / 100);
    body[n++] = static_cast<char>('0' + e / 10 % 10);
    body[n++] = static_cast<char>('0' + e % 10);
  }
  emit(sink, spec, prefix, plen, body, n, true);
}

}  // namespace

int vformat(char* out, std::size_t capacity, const char* format, std::va_list args) {
  Sink sink{out, capacity};
  for (const char* f = format; *f != '\0'; ++f) {
    if (*f != '%') {
      sink.put(*f);
      continue;
    }
    const char* start = f++;
    Spec spec;
    for (;; ++f) {
      if (*f == '-') spec.left = true;
      else if (*f == '0') spec.zero = true;
      else if (*f == '+') spec.plus = true;
      else if (*f == ' ') spec.space = true;
      else if (*f == '#') continue;
      else break;
    }
    if (*f == '*') {
      spec.width = va_arg(args, int);
      if (spec.width < 0) spec.left = true, spec.width = -spec.width;
      ++f;
    } else {
      while (*f >= '0' && *f <= '9') spec.width = spec.width * 10 + (*f++ - '0');
    }
    if (*f == '.') {
      ++f;
      spec.precision = 0;
      if (*f == '*') {
        spec.precision = va_arg(args, int);
        ++f;
      } else {
        while (*f >= '0' && *f <= '9') spec.precision = spec.precision * 10 + (*f++ - '0');
      }
    }
    enum { kChar, kShort, kInt, kLong, kLongLong, kSize, kMax, kPtrdiff } length = kInt;
    if (*f == 'h') {
      ++f, length = kShort;
      if (*f == 'h') ++f, length = kChar;
    } else if (*f == 'l') {
      ++f;
      length = kLong;
      if (*f == 'l') ++f, length = kLongLong;
    } else if (*f == 'z') {
      ++f, length = kSize;
    } else if (*f == 'j') {
      ++f, length = kMax;
    } else if (*f == 't') {
      ++f, length = kPtrdiff;
    } else if (*f == 'L') {
      ++f;
    }
    const char conv = *f;
    switch (conv) {
      case 'd':
      case 'i': {
        std::intmax_t v;
        switch (length) {
          case kLong: v = va_arg(args, long); break;
          case kLongLong: v = va_arg(args, long long); break;
          case kSize:  // %zd: the signed type of size_t's width
            v = static_cast<std::make_signed<std::size_t>::type>(va_arg(args, std::size_t));
            break;
          case kMax: v = va_arg(args, std::intmax_t); break;
          case kPtrdiff: v = va_arg(args, std::ptrdiff_t); break;
          case kChar: v = static_cast<signed char>(va_arg(args, int)); break;
          case kShort: v = static_cast<short>(va_arg(args, int)); break;
          default: v = va_arg(args, int); break;
        }
        const std::uintmax_t mag =
            v < 0 ? std::uintmax_t(0) - static_cast<std::uintmax_t>(v) : static_cast<std::uintmax_t>(v);
        emit_integer(sink, spec, mag, v < 0, 10, false, "");
        break;
      }
      case 'u':
      case 'x':
      case 'X':
      case 'o': {
        std::uintmax_t v;
        switch (length) {
          case kLong: v = va_arg(args, unsigned long); break;
          case kLongLong: v = va_arg(args, unsigned long long); break;
          case kSize: v = va_arg(args, std::size_t); break;
          case kMax: v = va_arg(args, std::uintmax_t); break;
          case kPtrdiff: v = static_cast<std::uintmax_t>(va_arg(args, std::ptrdiff_t)); break;
          case kChar: v = static_cast<unsigned char>(va_arg(args, unsigned)); break;
          case kShort: v = static_cast<unsigned short>(va_arg(args, unsigned)); break;
          default: v = va_arg(args, unsigned); break;
        }
        const unsigned base = conv == 'u' ? 10 : conv == 'o' ? 8 : 16;
        emit_integer(sink, spec, v, false, base, conv == 'X', "");
        break;
      }
      case 'p': {
        const auto v = reinterpret_cast<std::uintptr_t>(va_arg(args, void*));
        spec.plus = spec.space = false;
        emit_integer(sink, spec, v, false, 16, false, "0x");
        break;
      }
      case 'c': {
        const char c = static_cast<char>(va_arg(args, int));
        emit(sink, spec, "", 0, &c, 1, false);
        break;
      }
      case 's': {
        const char* s = va_arg(args, const char*);
        if (s == nullptr) s = "(null)";
        int len = 0;
        while (s[len] != '\0' && (spec.precision < 0 || len < spec.precision)) ++len;
        emit(sink, spec, "", 0, s, len, false);
        break;
      }
      case 'f':
      case 'F':
      case 'e':
      case 'E':
      case 'g':
      case 'G':
        emit_float(sink, spec, va_arg(args, double), conv);
        break;
      case '%':
        sink.put('%');
        break;
      default:  // unknown or truncated conversion: copy it as written
        for (const char* p = start; p <= f && *p != '\0'; ++p) sink.put(*p);
        if (*f == '\0') --f;
        break;
    }
  }
  if (capacity > 0) out[sink.length < capacity ? sink.length : capacity - 1] = '\0';
  return static_cast<int>(sink.length);
}

int format(char* out, std::size_t capacity, const char* format, ...) {
  std::va_list args;
  va_start(args, format);
  const int n = vformat(out, capacity, format, args);
  va_end(args);
  return n;
}

}  // namespace tern::detail
