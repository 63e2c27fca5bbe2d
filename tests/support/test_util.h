// SPDX-License-Identifier: Apache-2.0
// Shared test helpers: deterministic data, guarded buffers, double-precision
// reference implementations that share no code with tern's kernels, status
// messages and temporary file names.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include <unistd.h>

#include <doctest/doctest.h>

#include "tern/kernels/isa_selection.h"
#include "tern/platform/status.h"

namespace tern::test {

// A float matrix view inside a larger allocation: rows are `stride` apart
// (stride >= cols), the first element sits `offset` floats past a 64-byte
// boundary (offset 1 makes every row misaligned), and `guard` floats of a
// sentinel pattern surround the used area so stray writes are caught.
class GuardedMatrix {
 public:
  static constexpr std::size_t kGuard = 64;

  GuardedMatrix(std::size_t rows, std::size_t cols, std::size_t stride = 0, std::size_t offset = 0)
      : rows_(rows), cols_(cols), stride_(stride ? stride : cols), offset_(offset) {
    const std::size_t body = rows_ == 0 ? 0 : (rows_ - 1) * stride_ + cols_;
    storage_.assign(16 + offset_ + kGuard + body + kGuard, sentinel());
    // Start the body at a 64-byte boundary plus `offset` floats.
    const auto base = reinterpret_cast<std::uintptr_t>(storage_.data() + kGuard);
    const std::size_t pad = ((64 - base % 64) % 64) / sizeof(float);
    begin_ = kGuard + pad + offset_;
  }

  float* data() { return storage_.data() + begin_; }
  const float* data() const { return storage_.data() + begin_; }
  std::size_t rows() const { return rows_; }
  std::size_t cols() const { return cols_; }
  std::size_t stride() const { return stride_; }
  float& at(std::size_t r, std::size_t c) { return data()[r * stride_ + c]; }
  float at(std::size_t r, std::size_t c) const { return data()[r * stride_ + c]; }

  void fill_random(std::mt19937& rng, float lo = -1.0f, float hi = 1.0f) {
    std::uniform_real_distribution<float> dist(lo, hi);
    for (std::size_t r = 0; r < rows_; ++r)
      for (std::size_t c = 0; c < cols_; ++c) at(r, c) = dist(rng);
  }
  void fill(float v) {
    for (std::size_t r = 0; r < rows_; ++r)
      for (std::size_t c = 0; c < cols_; ++c) at(r, c) = v;
  }

  // True when every float outside the view (guards and row gaps) still holds
  // the sentinel.
  bool guards_intact() const {
    const std::size_t body = rows_ == 0 ? 0 : (rows_ - 1) * stride_ + cols_;
    for (std::size_t i = 0; i < storage_.size(); ++i) {
      bool inside = false;
      if (i >= begin_ && i < begin_ + body) {
        const std::size_t rel = i - begin_;
        inside = rel % stride_ < cols_;
      }
      if (!inside && !is_sentinel(storage_[i])) return false;
    }
    return true;
  }

  // Bitwise comparison of the used area with another matrix of equal shape.
  bool bits_equal(const GuardedMatrix& o) const {
    for (std::size_t r = 0; r < rows_; ++r)
      for (std::size_t c = 0; c < cols_; ++c) {
        const float a = at(r, c), b = o.at(r, c);
        if (std::memcmp(&a, &b, sizeof a) != 0) return false;
      }
    return true;
  }

  void copy_from(const GuardedMatrix& o) {
    for (std::size_t r = 0; r < rows_; ++r)
      for (std::size_t c = 0; c < cols_; ++c) at(r, c) = o.at(r, c);
  }

 private:
  static float sentinel() {
    const std::uint32_t bits = 0x7fc0dead;  // a quiet NaN with a payload no kernel produces
    float f;
    std::memcpy(&f, &bits, sizeof f);
    return f;
  }
  static bool is_sentinel(float f) {
    std::uint32_t bits;
    std::memcpy(&bits, &f, sizeof bits);
    return bits == 0x7fc0dead;
  }

  std::size_t rows_, cols_, stride_, offset_;
  std::size_t begin_ = 0;
  std::vector<float> storage_;
};

// A file name unique to this process: ctest runs a suite's ISA variants in
// parallel in the same directory.
inline std::string temp_name(const char* base) {
  return "tmp-" + std::to_string(static_cast<long>(::getpid())) + "-" + base;
}

// Whether a status's message contains `text`.
inline bool contains(const Status& s, const char* text) {
  return std::string(s.message()).find(text) != std::string::npos;
}

// Selects an ISA for the scope (the test fails if it cannot be selected),
// restoring the default selection after.
struct IsaScope {
  explicit IsaScope(Isa isa) {
    const Status s = select_isa(isa);
    REQUIRE_MESSAGE(s.ok(), s.message());
  }
  ~IsaScope() { reset_isa_selection(); }
  IsaScope(const IsaScope&) = delete;
  IsaScope& operator=(const IsaScope&) = delete;
};

// ISAs this test run can execute, scalar first.
inline std::vector<Isa> runnable_isas() {
  std::vector<Isa> out;
  for (int i = 0; i < kIsaCount; ++i) {
    const Isa isa = static_cast<Isa>(i);
    if (available_isas() & isa_bit(isa)) out.push_back(isa);
  }
  return out;
}

// Double-precision references: plain sums, no FMA, no shared code with tern.
// Each also returns the sum of |terms| per output, the scale of its rounding
// error bound.
inline void ref_gemm_rows(const GuardedMatrix& x, const GuardedMatrix& w, const float* bias,
                          bool relu, std::vector<double>* y, std::vector<double>* scale) {
  const std::size_t n = x.rows(), k = x.cols(), m = w.cols();
  y->assign(n * m, 0.0);
  scale->assign(n * m, 0.0);
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t j = 0; j < m; ++j) {
      double s = bias ? bias[j] : 0.0, a = bias ? std::fabs(bias[j]) : 0.0;
      for (std::size_t p = 0; p < k; ++p) {
        const double t = double(x.at(i, p)) * double(w.at(p, j));
        s += t;
        a += std::fabs(t);
      }
      (*y)[i * m + j] = relu ? (s > 0 ? s : 0) : s;
      (*scale)[i * m + j] = a;
    }
}

// Worst-case forward error of a chain of k fused multiply-adds: each step
// rounds once, so |err| <= gamma_k * sum|terms| with gamma_k = k*u/(1-k*u),
// u = 2^-24. Tests use (k + 1) * u * scale plus the smallest normal float.
inline double fma_chain_tolerance(std::size_t k, double scale) {
  const double u = std::ldexp(1.0, -24);
  return double(k + 1) * u * scale * 1.0001 + 1e-37;
}

}  // namespace tern::test
