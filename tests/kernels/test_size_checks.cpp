// SPDX-License-Identifier: Apache-2.0
// Sizes that wrap and pointers that are not float-aligned, at every checked
// kernel entry point (issue 13): a width or count of SIZE_MAX, of 2^62 (its
// byte count wraps to 0), of 2^61 (more bytes than any object), a row count
// and a stride that overflow only when multiplied, and a view that would run
// past the top of the address space. Each must be refused with the exact
// status and message, before anything is read or written: the outputs keep
// their sentinel bits.
#include <doctest/doctest.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "tern/kernels/dense.h"
#include "tern/kernels/elementwise.h"
#include "tern/platform/checked_size.h"

using namespace tern;

namespace {

constexpr std::size_t kBits = sizeof(std::size_t) * 8;
constexpr std::size_t kMax = SIZE_MAX;                        // size_t(-1)
constexpr std::size_t kQuarter = SIZE_MAX / 4 + 1;            // 2^62: x 4 bytes wraps to 0
constexpr std::size_t kEighth = SIZE_MAX / 8 + 1;             // 2^61: 2^63 bytes > PTRDIFF_MAX
constexpr std::size_t kHalfBits = std::size_t{1} << (kBits / 2);  // 2^32
// (kProductRows - 1) * kProductStride = 2^64: each fits, the product wraps to 0.
constexpr std::size_t kProductRows = kHalfBits + 1;
constexpr std::size_t kProductStride = kHalfBits;

std::string num(std::size_t v) { return std::to_string(v); }

// The message of a view that does not fit, written out independently of the
// library's format string.
std::string too_big(const char* op, const char* name, std::size_t rows, std::size_t cols,
                    std::size_t ld) {
  return std::string(op) + ": " + name + " of " + num(rows) + "x" + num(cols) +
         " floats (row stride " + num(ld) + ") does not fit in the address space";
}

std::string misaligned(const char* op, const char* name, const void* p) {
  char address[32];
  std::snprintf(address, sizeof address, "%p", p);
  return std::string(op) + ": " + name + " at " + address +
         " is not 4-byte aligned (float operands must be)";
}

// Buffers big enough for every small operand, filled with a sentinel; the
// outputs must still hold it after every refused call.
struct Buffers {
  static constexpr std::size_t kFloats = 256;
  std::vector<float> in1 = std::vector<float>(kFloats, 0.5f);
  std::vector<float> in2 = std::vector<float>(kFloats, 0.25f);
  std::vector<float> in3 = std::vector<float>(kFloats, 0.125f);
  std::vector<float> out1 = std::vector<float>(kFloats, sentinel());
  std::vector<float> out2 = std::vector<float>(kFloats, sentinel());
  std::vector<float> out3 = std::vector<float>(kFloats, sentinel());
  std::vector<std::uint32_t> labels = std::vector<std::uint32_t>(kFloats, 1);
  float loss = sentinel();

  static float sentinel() { return -1234.5f; }
  bool untouched() const {
    const float expect = sentinel();
    for (const std::vector<float>* v : {&out1, &out2, &out3}) {
      for (float f : *v) {
        if (std::memcmp(&f, &expect, sizeof f) != 0) return false;
      }
    }
    return std::memcmp(&loss, &expect, sizeof loss) == 0;
  }
};

struct Case {
  std::string what;
  std::function<Status(Buffers&)> call;
  StatusCode code;
  std::function<std::string(Buffers&)> message;
};

void run(const std::vector<Case>& cases) {
  for (const Case& c : cases) {
    CAPTURE(c.what);
    Buffers b;
    const Status s = c.call(b);
    CHECK(status_code_name(s.code()) == std::string(status_code_name(c.code)));
    CHECK(std::string(s.message()) == c.message(b));
    CHECK(b.untouched());
  }
}

Case fixed(std::string what, std::function<Status(Buffers&)> call, std::string message) {
  return Case{std::move(what), std::move(call), StatusCode::kInvalidArgument,
              [message](Buffers&) { return message; }};
}

// The size each family of cases passes: rows (or a count) and, for the
// product case, the stride.
struct Sizes {
  const char* label;
  std::size_t rows, ld;
};
const Sizes kRowCases[] = {
    {"rows = SIZE_MAX", kMax, 2},
    {"rows = 2^62 (bytes wrap to 0)", kQuarter, 2},
    {"rows = 2^61 (more bytes than an object may have)", kEighth, 2},
    {"rows x stride overflows only as a product", kProductRows, kProductStride},
};
// Counts of the one-dimensional entry points (no stride to multiply).
const std::size_t kCounts[] = {kMax, kQuarter, kEighth};

const AdamParams kAdam{};
// Momentum on, so the velocity is an operand (plain SGD never touches it).
const SgdParams kSgd{0.01f, 0.9f, 0.0f};

}  // namespace

TEST_CASE("size checks: the helpers never wrap") {
  std::size_t out = 7;
  CHECK_FALSE(checked_mul(kMax, 2, &out));
  CHECK(out == 7);
  CHECK_FALSE(checked_mul(kProductRows - 1, kProductStride, &out));
  CHECK(checked_mul(kHalfBits - 1, kHalfBits + 1, &out));
  CHECK(out == kMax);
  CHECK_FALSE(checked_add(kMax, 1, &out));
  CHECK(checked_add(kMax - 1, 1, &out));
  CHECK(out == kMax);
  CHECK(checked_mul(0, kMax, &out));
  CHECK(out == 0);
  std::size_t bytes = 0;
  CHECK_FALSE(view_bytes(kQuarter, 1, 1, 4, &bytes));  // 2^64 bytes
  CHECK_FALSE(view_bytes(kEighth, 1, 1, 4, &bytes));   // 2^63 bytes > PTRDIFF_MAX
  CHECK(view_bytes(kEighth / 2, 1, 1, 4, &bytes));     // 2^62 bytes: may exist
  CHECK(bytes == kEighth * 2);
  CHECK(view_bytes(3, 5, 7, 4, &bytes));
  CHECK(bytes == (2 * 7 + 5) * 4);
  CHECK_FALSE(view_bytes(kProductRows, 1, kProductStride, 4, &bytes));
  const void* top = reinterpret_cast<const void*>(UINTPTR_MAX & ~std::uintptr_t{63});
  CHECK(extent_wraps(top, 64));
  CHECK_FALSE(extent_wraps(top, 63));
}

TEST_CASE("size checks: the dense kernels refuse sizes that wrap, outputs untouched") {
  std::vector<Case> cases;
  for (const Sizes& z : kRowCases) {
    const std::size_t n = z.rows, ld = z.ld;
    const std::string label = z.label;
    cases.push_back(fixed("gemm_rows X: " + label, [=](Buffers& b) {
      return gemm_rows_f32(n, 2, 2, b.in1.data(), ld, b.in2.data(), 2, nullptr, b.out1.data(), 2);
    }, too_big("gemm_rows_f32", "X", n, 2, ld)));
    // The rows of W are gemm_rows' k, which is also X's width: only the
    // product case gets past X (1 x k floats) to W.
    const bool product = n == kProductRows;
    cases.push_back(fixed("gemm_rows W: " + label, [=](Buffers& b) {
      return gemm_rows_f32(1, n, 2, b.in1.data(), n, b.in2.data(), ld, nullptr, b.out1.data(), 2);
    }, product ? too_big("gemm_rows_f32", "W", n, 2, ld) : too_big("gemm_rows_f32", "X", 1, n, n)));
    cases.push_back(fixed("gemm_rows Y: " + label, [=](Buffers& b) {
      return gemm_rows_f32(n, 0, 2, b.in1.data(), 0, b.in2.data(), 2, nullptr, b.out1.data(), ld);
    }, too_big("gemm_rows_f32", "Y", n, 2, ld)));
    cases.push_back(fixed("rank1_accumulate U: " + label, [=](Buffers& b) {
      return rank1_accumulate_f32(n, 2, 2, 1.0f, b.in1.data(), ld, b.in2.data(), 2, b.out1.data(),
                                  2);
    }, too_big("rank1_accumulate_f32", "U", n, 2, ld)));
    cases.push_back(fixed("rank1_accumulate D: " + label, [=](Buffers& b) {
      return rank1_accumulate_f32(n, 2, 2, 1.0f, b.in1.data(), 2, b.in2.data(), ld, b.out1.data(),
                                  2);
    }, product ? too_big("rank1_accumulate_f32", "D", n, 2, ld)
               : too_big("rank1_accumulate_f32", "U", n, 2, 2)));
    cases.push_back(fixed("rank1_accumulate G: " + label, [=](Buffers& b) {
      return rank1_accumulate_f32(1, n, 2, 1.0f, b.in1.data(), n, b.in2.data(), 2, b.out1.data(),
                                  ld);
    }, product ? too_big("rank1_accumulate_f32", "G", n, 2, ld)
               : too_big("rank1_accumulate_f32", "U", 1, n, n)));
    cases.push_back(fixed("rank1_gradient U: " + label, [=](Buffers& b) {
      return rank1_gradient_f32(n, 2, 2, 1.0f, b.in1.data(), ld, b.in2.data(), 2, b.out1.data(),
                                2);
    }, too_big("rank1_gradient_f32", "U", n, 2, ld)));
    cases.push_back(fixed("rank1_gradient G: " + label, [=](Buffers& b) {
      return rank1_gradient_f32(1, n, 2, 1.0f, b.in1.data(), n, b.in2.data(), 2, b.out1.data(),
                                ld);
    }, product ? too_big("rank1_gradient_f32", "G", n, 2, ld)
               : too_big("rank1_gradient_f32", "U", 1, n, n)));
    cases.push_back(fixed("rank1_sgd_update D: " + label, [=](Buffers& b) {
      return rank1_sgd_update_f32(n, 2, 2, 1.0f, b.in1.data(), 2, b.in2.data(), ld, b.out1.data(),
                                  2, b.out2.data(), 2, kSgd);
    }, product ? too_big("rank1_sgd_update_f32", "D", n, 2, ld)
               : too_big("rank1_sgd_update_f32", "U", n, 2, 2)));
    cases.push_back(fixed("column_sums D: " + label, [=](Buffers& b) {
      return column_sums_accumulate_f32(n, 2, 1.0f, b.in1.data(), ld, b.out1.data());
    }, too_big("column_sums_accumulate_f32", "D", n, 2, ld)));
    cases.push_back(fixed("backprop_rows D: " + label, [=](Buffers& b) {
      return backprop_rows_f32(n, 2, 2, b.in1.data(), ld, b.in2.data(), 2, b.out1.data(), 2);
    }, too_big("backprop_rows_f32", "D", n, 2, ld)));
    cases.push_back(fixed("backprop_rows dX: " + label, [=](Buffers& b) {
      return backprop_rows_f32(n, 2, 0, b.in1.data(), 0, b.in2.data(), 0, b.out1.data(), ld);
    }, too_big("backprop_rows_f32", "dX", n, 2, ld)));
  }
  // A width of SIZE_MAX (its stride must be as large).
  cases.push_back(fixed("gemm_rows W width SIZE_MAX", [](Buffers& b) {
    return gemm_rows_f32(1, 2, kMax, b.in1.data(), 2, b.in2.data(), kMax, nullptr, b.out1.data(),
                         kMax);
  }, too_big("gemm_rows_f32", "W", 2, kMax, kMax)));
  cases.push_back(fixed("gemm_rows bias width 2^62", [](Buffers& b) {
    return gemm_rows_f32(1, 0, kQuarter, b.in1.data(), 0, b.in2.data(), kQuarter, b.in3.data(),
                         b.out1.data(), kQuarter);
  }, too_big("gemm_rows_f32", "bias", 1, kQuarter, kQuarter)));
  cases.push_back(fixed("column_sums g width 2^62", [](Buffers& b) {
    return column_sums_accumulate_f32(0, kQuarter, 1.0f, b.in1.data(), kQuarter, b.out1.data());
  }, too_big("column_sums_accumulate_f32", "g", 1, kQuarter, kQuarter)));
  run(cases);
}

TEST_CASE("size checks: the element-wise kernels refuse sizes that wrap, outputs untouched") {
  std::vector<Case> cases;
  for (const Sizes& z : kRowCases) {
    const std::size_t n = z.rows, ld = z.ld;
    const std::string label = z.label;
    cases.push_back(fixed("add_bias Y: " + label, [=](Buffers& b) {
      return add_bias_f32(n, 2, b.in1.data(), b.out1.data(), ld);
    }, too_big("add_bias_f32", "Y", n, 2, ld)));
    cases.push_back(fixed("pointwise_forward X: " + label, [=](Buffers& b) {
      return pointwise_forward_f32(Pointwise::kTanh, n, 2, b.in1.data(), ld, b.out1.data(), 2);
    }, too_big("pointwise_forward_f32", "X", n, 2, ld)));
    cases.push_back(fixed("pointwise_forward Y: " + label, [=](Buffers& b) {
      return pointwise_forward_f32(Pointwise::kTanh, n, 2, b.in1.data(), 2, b.out1.data(), ld);
    }, n == kProductRows ? too_big("pointwise_forward_f32", "Y", n, 2, ld)
                         : too_big("pointwise_forward_f32", "X", n, 2, 2)));
    cases.push_back(fixed("pointwise_backward dY: " + label, [=](Buffers& b) {
      return pointwise_backward_f32(Pointwise::kTanh, n, 2, nullptr, 0, b.in1.data(), 2,
                                    b.in2.data(), ld, b.out1.data(), 2);
    }, n == kProductRows ? too_big("pointwise_backward_f32", "dY", n, 2, ld)
                         : too_big("pointwise_backward_f32", "Y", n, 2, 2)));
    cases.push_back(fixed("pointwise_backward X: " + label, [=](Buffers& b) {
      return pointwise_backward_f32(Pointwise::kRelu, n, 2, b.in1.data(), ld, nullptr, 0,
                                    b.in2.data(), 2, b.out1.data(), 2);
    }, too_big("pointwise_backward_f32", "X", n, 2, ld)));
    cases.push_back(fixed("softmax_rows X: " + label, [=](Buffers& b) {
      return softmax_rows_f32(n, 2, b.in1.data(), ld, b.out1.data(), 2);
    }, too_big("softmax_rows_f32", "X", n, 2, ld)));
    cases.push_back(fixed("softmax_cross_entropy Z: " + label, [=](Buffers& b) {
      return softmax_cross_entropy_f32(n, 2, b.in1.data(), ld, b.labels.data(), 1.0f,
                                       b.out1.data(), 2, &b.loss);
    }, too_big("softmax_cross_entropy_f32", "Z", n, 2, ld)));
    cases.push_back(fixed("softmax_cross_entropy dZ: " + label, [=](Buffers& b) {
      return softmax_cross_entropy_f32(n, 2, b.in1.data(), 2, b.labels.data(), 1.0f,
                                       b.out1.data(), ld, &b.loss);
    }, n == kProductRows ? too_big("softmax_cross_entropy_f32", "dZ", n, 2, ld)
                         : too_big("softmax_cross_entropy_f32", "Z", n, 2, 2)));
    cases.push_back(fixed("mse P: " + label, [=](Buffers& b) {
      return mse_f32(n, 2, b.in1.data(), ld, b.in2.data(), 2, 1.0f, b.out1.data(), 2, &b.loss);
    }, too_big("mse_f32", "P", n, 2, ld)));
    cases.push_back(fixed("mse grad: " + label, [=](Buffers& b) {
      return mse_f32(n, 2, b.in1.data(), 2, b.in2.data(), 2, 1.0f, b.out1.data(), ld, &b.loss);
    }, n == kProductRows ? too_big("mse_f32", "grad", n, 2, ld)
                         : too_big("mse_f32", "P", n, 2, 2)));
  }
  cases.push_back(fixed("add_bias bias width SIZE_MAX", [](Buffers& b) {
    return add_bias_f32(1, kMax, b.in1.data(), b.out1.data(), kMax);
  }, too_big("add_bias_f32", "bias", 1, kMax, kMax)));
  for (std::size_t count : kCounts) {
    const std::string label = "count " + num(count);
    cases.push_back(fixed("sgd_momentum " + label, [=](Buffers& b) {
      return sgd_momentum_f32(count, b.out1.data(), b.in1.data(), b.out2.data(), kSgd);
    }, too_big("sgd_momentum_f32", "w", 1, count, count)));
    cases.push_back(fixed("adam " + label, [=](Buffers& b) {
      return adam_f32(count, b.out1.data(), b.in1.data(), b.out2.data(), b.out3.data(), kAdam);
    }, too_big("adam_f32", "w", 1, count, count)));
    cases.push_back(fixed("add_gaussian_noise " + label, [=](Buffers& b) {
      return add_gaussian_noise_f32(count, b.out1.data(), 1.0f, 7, 0);
    }, too_big("add_gaussian_noise_f32", "g", 1, count, count)));
  }
  run(cases);
}

TEST_CASE("size checks: a view that would run past the top of the address space") {
  // The last 64 bytes below the top: 16 floats there would end at 2^64,
  // which wraps to 0. Nothing is dereferenced: the checks refuse the view.
  const std::uintptr_t top_address = UINTPTR_MAX & ~std::uintptr_t{63};
  float* top = reinterpret_cast<float*>(top_address);
  const std::uint32_t* top_labels = reinterpret_cast<const std::uint32_t*>(top_address - 64);
  Buffers b;
  Status s = sgd_momentum_f32(16, top, b.in1.data(), b.out2.data(), kSgd);
  CHECK(s.code() == StatusCode::kInvalidArgument);
  CHECK(std::string(s.message()) == too_big("sgd_momentum_f32", "w", 1, 16, 16));
  s = gemm_rows_f32(2, 2, 2, b.in1.data(), 2, b.in2.data(), 2, nullptr, top, 16);
  CHECK(s.code() == StatusCode::kInvalidArgument);
  CHECK(std::string(s.message()) == too_big("gemm_rows_f32", "Y", 2, 2, 16));
  // 32 labels (128 bytes) from 128 bytes below the top: the labels' own view.
  s = softmax_cross_entropy_f32(32, 1, b.in1.data(), 1, top_labels, 1.0f, b.out1.data(), 1,
                                &b.loss);
  CHECK(s.code() == StatusCode::kInvalidArgument);
  CHECK(std::string(s.message()) == too_big("softmax_cross_entropy_f32", "labels", 1, 32, 32));
  CHECK(b.untouched());
}

TEST_CASE("size checks: float operands must be 4-byte aligned (kMisaligned), outputs untouched") {
  // A float* one byte past a float: forming it is the caller's business,
  // dereferencing it would be undefined behaviour, so the checks refuse it.
  alignas(64) static unsigned char raw[64 * sizeof(float)];
  const float* bad_in = reinterpret_cast<const float*>(raw + 1);
  float* bad_out = reinterpret_cast<float*>(raw + 2);
  const std::uint32_t* bad_labels = reinterpret_cast<const std::uint32_t*>(raw + 3);
  std::vector<Case> cases;
  auto add = [&](std::string what, std::function<Status(Buffers&)> call, const char* op,
                 const char* name, const void* p) {
    const std::string message = misaligned(op, name, p);
    cases.push_back(Case{std::move(what), std::move(call), StatusCode::kMisaligned,
                         [message](Buffers&) { return message; }});
  };
  add("gemm_rows X", [=](Buffers& b) {
    return gemm_rows_f32(2, 2, 2, bad_in, 2, b.in2.data(), 2, nullptr, b.out1.data(), 2);
  }, "gemm_rows_f32", "X", bad_in);
  add("gemm_rows bias", [=](Buffers& b) {
    return gemm_rows_f32(2, 2, 2, b.in1.data(), 2, b.in2.data(), 2, bad_in, b.out1.data(), 2);
  }, "gemm_rows_f32", "bias", bad_in);
  add("gemm_rows Y", [=](Buffers& b) {
    return gemm_rows_f32(2, 2, 2, b.in1.data(), 2, b.in2.data(), 2, nullptr, bad_out, 2);
  }, "gemm_rows_f32", "Y", bad_out);
  add("gemm_rows scratch", [=](Buffers& b) {
    return gemm_rows_f32(2, 2, 2, b.in1.data(), 2, b.in2.data(), 2, nullptr, b.out1.data(), 2,
                         Activation::kNone, bad_out, 64);
  }, "gemm_rows_f32", "scratch", bad_out);
  add("rank1_accumulate G", [=](Buffers& b) {
    return rank1_accumulate_f32(2, 2, 2, 1.0f, b.in1.data(), 2, b.in2.data(), 2, bad_out, 2);
  }, "rank1_accumulate_f32", "G", bad_out);
  add("column_sums D", [=](Buffers& b) {
    return column_sums_accumulate_f32(2, 2, 1.0f, bad_in, 2, b.out1.data());
  }, "column_sums_accumulate_f32", "D", bad_in);
  add("backprop_rows W", [=](Buffers& b) {
    return backprop_rows_f32(2, 2, 2, b.in1.data(), 2, bad_in, 2, b.out1.data(), 2);
  }, "backprop_rows_f32", "W", bad_in);
  add("add_bias Y", [=](Buffers& b) { return add_bias_f32(2, 2, b.in1.data(), bad_out, 2); },
      "add_bias_f32", "Y", bad_out);
  add("pointwise_forward X", [=](Buffers& b) {
    return pointwise_forward_f32(Pointwise::kGelu, 2, 2, bad_in, 2, b.out1.data(), 2);
  }, "pointwise_forward_f32", "X", bad_in);
  add("pointwise_backward dX", [=](Buffers& b) {
    return pointwise_backward_f32(Pointwise::kSigmoid, 2, 2, nullptr, 0, b.in1.data(), 2,
                                  b.in2.data(), 2, bad_out, 2);
  }, "pointwise_backward_f32", "dX", bad_out);
  add("softmax_rows Y", [=](Buffers& b) {
    return softmax_rows_f32(2, 2, b.in1.data(), 2, bad_out, 2);
  }, "softmax_rows_f32", "Y", bad_out);
  add("softmax_cross_entropy labels", [=](Buffers& b) {
    return softmax_cross_entropy_f32(2, 2, b.in1.data(), 2, bad_labels, 1.0f, b.out1.data(), 2,
                                     &b.loss);
  }, "softmax_cross_entropy_f32", "labels", bad_labels);
  add("softmax_cross_entropy loss_sum", [=](Buffers& b) {
    return softmax_cross_entropy_f32(2, 2, b.in1.data(), 2, b.labels.data(), 1.0f,
                                     b.out1.data(), 2, bad_out);
  }, "softmax_cross_entropy_f32", "loss_sum", bad_out);
  add("mse T", [=](Buffers& b) {
    return mse_f32(2, 2, b.in1.data(), 2, bad_in, 2, 1.0f, b.out1.data(), 2, &b.loss);
  }, "mse_f32", "T", bad_in);
  add("sgd_momentum velocity", [=](Buffers& b) {
    return sgd_momentum_f32(4, b.out1.data(), b.in1.data(), bad_out, kSgd);
  }, "sgd_momentum_f32", "velocity", bad_out);
  add("rank1_sgd_update velocity", [=](Buffers& b) {
    return rank1_sgd_update_f32(1, 2, 2, 1.0f, b.in1.data(), 2, b.in2.data(), 2, b.out1.data(), 2,
                                bad_out, 2, kSgd);
  }, "rank1_sgd_update_f32", "velocity", bad_out);
  add("rank1_gradient G", [=](Buffers& b) {
    return rank1_gradient_f32(1, 2, 2, 1.0f, b.in1.data(), 2, b.in2.data(), 2, bad_out, 2);
  }, "rank1_gradient_f32", "G", bad_out);
  add("adam v", [=](Buffers& b) {
    return adam_f32(4, b.out1.data(), b.in1.data(), b.out2.data(), bad_out, kAdam);
  }, "adam_f32", "v", bad_out);
  add("add_gaussian_noise g", [=](Buffers&) {
    return add_gaussian_noise_f32(4, bad_out, 1.0f, 7, 0);
  }, "add_gaussian_noise_f32", "g", bad_out);
  run(cases);
  // Every float-aligned address is fine, however it sits in a cache line
  // or vector register: 1 float past 64 bytes, with odd strides.
  Buffers b;
  CHECK(gemm_rows_f32(3, 5, 7, b.in1.data() + 1, 5, b.in2.data() + 3, 7, b.in3.data() + 1,
                      b.out1.data() + 1, 7).ok());
  CHECK(sgd_momentum_f32(13, b.out2.data() + 1, b.in1.data() + 3, b.out3.data() + 5, kSgd).ok());
}
