// SPDX-License-Identifier: Apache-2.0
#include "format.h"

#include <cstdint>
#include <cstring>
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

// value / divisor (2 <= divisor <= 16), returning value % divisor: long
// division by 16-bit digits in 32-bit arithmetic, so that a 32-bit core does
// not link the C library's 64-bit division (700 bytes on a Cortex-M4).
unsigned divide_small(std::uint64_t* value, unsigned divisor) {
  std::uint64_t quotient = 0;
  std::uint32_t remainder = 0;
  for (int shift = 48; shift >= 0; shift -= 16) {
    const std::uint32_t part = (remainder << 16) | static_cast<std::uint32_t>((*value >> shift) & 0xffffu);
    quotient = (quotient << 16) | (part / divisor);
    remainder = part % divisor;
  }
  *value = quotient;
  return remainder;
}

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

void emit_integer(Sink& sink, Spec spec, std::uint64_t magnitude, bool negative, unsigned base,
                  bool upper, const char* prefix_in) {
  char digits[72];
  int n = 0;
  const char* table = upper ? "0123456789ABCDEF" : "0123456789abcdef";
  do {
    digits[n++] = table[divide_small(&magnitude, base)];
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

// A finite value >= 0 as mantissa * 2^exponent, the mantissa normalised (top
// bit set) unless the value is 0. The f, e and g conversions work out their
// digits from it in 64-bit integer arithmetic: double arithmetic would link
// about 3 KB of soft-float routines into firmware for a core whose FPU is
// single precision (Cortex-M4F), for diagnostics.
struct BinaryValue {
  std::uint64_t mantissa = 0;
  int exponent = 0;
};

constexpr std::uint64_t kTopBit = std::uint64_t{1} << 63;
constexpr BinaryValue kTen{0xA000000000000000u, -60};                 // 10
constexpr BinaryValue kFixedLimit{0xDE0B6B3A76400000u, -4};           // 1e18

BinaryValue normalised(std::uint64_t mantissa, int exponent) {
  if (mantissa == 0) return BinaryValue{};
  while ((mantissa & kTopBit) == 0) mantissa <<= 1, --exponent;
  return BinaryValue{mantissa, exponent};
}

// The magnitude of the IEEE double with bit pattern `bits`, finite.
BinaryValue from_double_bits(std::uint64_t bits) {
  constexpr int kFractionBits = 52;
  constexpr int kExponentBias = 1023 + kFractionBits;  // of the integer mantissa
  const int biased = static_cast<int>((bits >> kFractionBits) & 0x7ff);
  const std::uint64_t fraction = bits & ((std::uint64_t{1} << kFractionBits) - 1);
  if (biased == 0) return normalised(fraction, 1 - kExponentBias);  // subnormal
  return normalised(fraction | (std::uint64_t{1} << kFractionBits), biased - kExponentBias);
}

// v >= bound, for a bound > 0.
bool at_least(const BinaryValue& v, const BinaryValue& bound) {
  if (v.mantissa == 0) return false;
  return v.exponent != bound.exponent ? v.exponent > bound.exponent
                                      : v.mantissa >= bound.mantissa;
}

// v * 10 and v / 10, truncated to 64 significant bits (the error after the
// at most ~330 scalings of a double's range stays far below the 9th digit).
BinaryValue times_ten(const BinaryValue& v) {
  const std::uint64_t low = (v.mantissa & 0xffffffffu) * 10;
  const std::uint64_t high = (v.mantissa >> 32) * 10 + (low >> 32);  // the product's top 36 bits
  const int shift = (high >> 35) != 0 ? 4 : 3;  // 10 * [2^63, 2^64) has 67 or 68 bits
  return BinaryValue{(high << (32 - shift)) | ((low & 0xffffffffu) >> shift),
                     v.exponent + shift};
}
BinaryValue divided_by_ten(const BinaryValue& v) {
  std::uint64_t quotient = v.mantissa;
  const std::uint32_t remainder = divide_small(&quotient, 10);
  const int shift = (quotient >> 60) != 0 ? 3 : 4;  // [2^63, 2^64) / 10 has 60 or 61 bits
  return BinaryValue{(quotient << shift) | ((remainder << shift) / 10u), v.exponent - shift};
}

// "ddd.fff" for 0 <= v < 1e18 with `precision` decimals (rounded at the 9th,
// half to even as the C library does, zeros after). Returns the length
// written to `out` (room for 60 chars).
int fixed_digits(const BinaryValue& v, int precision, char* out) {
  const int p = precision > 9 ? 9 : precision;
  std::uint32_t scale = 1;  // <= 1e9
  for (int i = 0; i < p; ++i) scale *= 10;
  // v = whole + fraction / 2^64.
  std::uint64_t whole = 0, fraction = 0;
  const int shift = -v.exponent;  // >= 4 when v != 0: v < 1e18 < 2^60
  if (shift <= 0) {
    whole = v.mantissa;  // v == 0 (mantissa 0, exponent 0): a shift by 64 would be UB
  } else if (shift < 64) {
    whole = v.mantissa >> shift;
    fraction = v.mantissa << (64 - shift);
  } else if (shift < 128) {
    fraction = v.mantissa >> (shift - 64);
  }
  // fraction * scale / 2^64 = frac + rest / 2^64, in 32-bit halves.
  const std::uint64_t low = (fraction & 0xffffffffu) * std::uint64_t{scale};
  const std::uint64_t middle = (fraction >> 32) * std::uint64_t{scale} + (low >> 32);
  std::uint64_t frac = middle >> 32;
  const std::uint64_t rest = (middle << 32) | (low & 0xffffffffu);
  if (rest > kTopBit || (rest == kTopBit && ((p > 0 ? frac : whole) & 1) != 0)) ++frac;
  if (frac >= scale) frac -= scale, ++whole;
  char rev[24];
  int n = 0, len = 0;
  do {
    rev[n++] = static_cast<char>('0' + divide_small(&whole, 10));
  } while (whole != 0);
  while (n > 0) out[len++] = rev[--n];
  if (precision > 0) {
    out[len++] = '.';
    // frac < scale <= 1e9: 32-bit divisions.
    const auto frac32 = static_cast<std::uint32_t>(frac);
    for (std::uint32_t d = scale / 10; d != 0; d /= 10) {
      out[len++] = static_cast<char>('0' + frac32 / d % 10);
    }
    for (int i = p; i < precision && len < 58; ++i) out[len++] = '0';
  }
  return len;
}

// Mantissa in [1, 10) and decimal exponent of v >= 0, rounded to `precision`
// decimals of the mantissa; the mantissa's digits go to `out`.
int scientific_digits(BinaryValue v, int precision, char* out, int* exp10) {
  int e = 0;
  if (v.mantissa != 0) {
    while (at_least(v, kTen)) v = divided_by_ten(v), ++e;
    while (v.exponent < -63) v = times_ten(v), --e;  // below 1
  }
  int len = fixed_digits(v, precision, out);
  if (out[0] == '1' && out[1] == '0') {  // rounding carried: 9.99 -> 10.0
    len = fixed_digits(divided_by_ten(v), precision, out);
    ++e;
  }
  *exp10 = e;
  return len;
}

// f, e and g conversions with up to 9 significant decimals (see format.h).
void emit_float(Sink& sink, Spec spec, double value, char conv) {
  const bool upper = conv >= 'A' && conv <= 'Z';
  const char lower = static_cast<char>(upper ? conv - 'A' + 'a' : conv);
  std::uint64_t bits;
  std::memcpy(&bits, &value, sizeof bits);
  char prefix[2];
  int plen = 0;
  if ((bits & kTopBit) != 0) prefix[plen++] = '-';
  else if (spec.plus) prefix[plen++] = '+';
  else if (spec.space) prefix[plen++] = ' ';
  constexpr std::uint64_t kExponentField = std::uint64_t{0x7ff} << 52;
  if ((bits & kExponentField) == kExponentField) {  // NaN or infinity
    const bool nan = (bits & ~(kTopBit | kExponentField)) != 0;
    spec.zero = false;
    emit(sink, spec, prefix, plen, nan ? (upper ? "NAN" : "nan") : (upper ? "INF" : "inf"), 3,
         true);
    return;
  }
  const BinaryValue v = from_double_bits(bits & ~kTopBit);
  int precision = spec.precision < 0 ? 6 : spec.precision;
  char body[72];
  int n = 0, exp10 = 0;
  const bool huge = at_least(v, kFixedLimit);
  bool use_exp = lower == 'e' || (lower == 'f' && huge);
  if (lower == 'g') {
    if (precision == 0) precision = 1;
    scientific_digits(v, precision - 1, body, &exp10);
    use_exp = exp10 < -4 || exp10 >= precision || huge;
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
