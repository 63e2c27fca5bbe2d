// The element-wise kernels (tern/kernels/elementwise.h):
//  (1) every ISA this CPU runs against the scalar table, bit for bit, on
//      every row length of kSizes, strided and misaligned, with guard zones,
//      in place where allowed, and on special values (+-0, +-inf, NaN,
//      subnormal results);
//  (2) the scalar table against the formulas stated in elementwise.h,
//      written out here again (including the 16-lane reduction order);
//  (3) tern's exp, log and tanh against the double-precision functions, with
//      stated ULP bounds; activations, softmax, losses and optimizer steps
//      against double-precision references and central finite differences;
//  (4) argument errors, with their exact messages.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "alloc_counter.h"
#include "test_util.h"
#include "tern/kernels/isa_selection.h"
#include "tern/kernels/kernel_table.h"
#include "tern/kernels/elementwise.h"
#include "tern/platform/compiler.h"

using namespace tern;
using tern::test::GuardedMatrix;

namespace {

const std::size_t kSizes[] = {1, 2, 3, 5, 7, 8, 15, 16, 17, 31, 32, 33, 63, 64, 65, 127, 1000};
const Pointwise kPointwise[] = {Pointwise::kIdentity, Pointwise::kRelu, Pointwise::kGelu,
                                Pointwise::kTanh, Pointwise::kSigmoid};
constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
const double kU = std::ldexp(1.0, -24);  // unit roundoff of float

const char* pointwise_name(Pointwise f) {
  switch (f) {
    case Pointwise::kIdentity: return "identity";
    case Pointwise::kRelu: return "relu";
    case Pointwise::kGelu: return "gelu";
    case Pointwise::kTanh: return "tanh";
    case Pointwise::kSigmoid: return "sigmoid";
  }
  return "?";
}

// Equal bits, or both NaN (NaN payloads are not part of the contract).
bool same(float a, float b) {
  if (std::isnan(a) && std::isnan(b)) return true;
  return std::memcmp(&a, &b, sizeof a) == 0;
}

// |got - ref| in units of the float ulp at ref (subnormal spacing below
// FLT_MIN). Overflow: a float result of +-inf matches a reference beyond
// the float range.
double ulp_error(float got, double ref) {
  const double max_float = std::numeric_limits<float>::max();
  if (std::fabs(ref) > max_float * (1 + kU)) {
    return (std::isinf(got) && (got > 0) == (ref > 0)) ? 0.0 : 1e30;
  }
  if (std::isinf(got)) return 1e30;
  const double a = std::fabs(ref);
  const double ulp = a < std::numeric_limits<float>::min()
                         ? std::ldexp(1.0, -149)
                         : std::ldexp(1.0, std::ilogb(static_cast<float>(a)) - 23);
  return std::fabs(static_cast<double>(got) - ref) / ulp;
}

// A view shape and layout: padding at each row end, misalignment in floats.
struct Layout {
  std::size_t pad, offset;
};
const Layout kLayouts[] = {{0, 0}, {3, 1}};

GuardedMatrix make(std::size_t rows, std::size_t cols, Layout l) {
  return GuardedMatrix(rows, cols, cols + l.pad, l.offset);
}

// Puts special values into about one element in eight.
void sprinkle_specials(GuardedMatrix& a, std::mt19937& rng) {
  const float specials[] = {0.0f, -0.0f, kInf, -kInf, kNaN, 1e-40f, -1e-40f, 100.0f, -100.0f,
                            88.7f, -88.7f, 0.625f, -0.625f, 1e30f, -1e30f};
  std::uniform_int_distribution<std::size_t> pick(0, sizeof specials / sizeof specials[0] - 1);
  std::uniform_int_distribution<int> coin(0, 7);
  for (std::size_t r = 0; r < a.rows(); ++r)
    for (std::size_t c = 0; c < a.cols(); ++c)
      if (coin(rng) == 0) a.at(r, c) = specials[pick(rng)];
}

// ARMv7 NEON flushes denormal inputs and results of its arithmetic to zero
// (README "Denormals on ARMv7"; tests/kernels/test_denormals.cpp): there,
// where the scalar reference gives a subnormal, the kernel's zero is the
// documented result. Its sign is the flushed value's, unless later steps
// combine it with other zeros (gelu(-1e-40): fma(-0, -0, -0) = +0). Every
// other ISA, and every other value, must match bit for bit.
bool same_for(Isa isa, float got, float want) {
  if (same(got, want)) return true;
  const bool ftz = isa == Isa::kNeon && TERN_ARCH_ARM32;
  return ftz && std::fpclassify(want) == FP_SUBNORMAL && got == 0.0f;
}

// Compares the used areas of two matrices under `same_for` and reports the
// first difference.
void require_same(const GuardedMatrix& got, const GuardedMatrix& want, const char* what, Isa isa,
                  std::size_t n, std::size_t m) {
  for (std::size_t i = 0; i < got.rows(); ++i)
    for (std::size_t j = 0; j < got.cols(); ++j)
      if (!same_for(isa, got.at(i, j), want.at(i, j))) {
        FAIL(std::string(what) << "[" << std::string(isa_name(isa)) << "] " << n << "x" << m
                               << " at (" << i << "," << j << "): " << got.at(i, j)
                               << " vs scalar " << want.at(i, j));
      }
  REQUIRE(got.guards_intact());
}

std::vector<Isa> vector_isas() {
  std::vector<Isa> out;
  for (Isa isa : tern::test::runnable_isas())
    if (isa != Isa::kScalar) out.push_back(isa);
  return out;
}

const KernelTable& scalar_table() { return *kernel_table(Isa::kScalar); }

struct Shape {
  std::size_t n, m;
};
// Every size as a row length (the reduction and tail dimension) against a
// few row counts, and every size as a row count against a mid-size row.
std::vector<Shape> shapes() {
  std::vector<Shape> out;
  for (std::size_t m : kSizes) {
    out.push_back({1, m});
    out.push_back({3, m});
  }
  for (std::size_t n : kSizes) out.push_back({n, 33});
  out.push_back({17, 17});
  return out;
}

// The documented 16-lane row sum, written out again.
float sum16(const std::vector<float>& t) {
  float l[16] = {};
  for (std::size_t j = 0; j < t.size(); ++j) l[j % 16] = l[j % 16] + t[j];
  for (int k = 0; k < 8; ++k) l[k] = l[k] + l[k + 8];
  for (int k = 0; k < 4; ++k) l[k] = l[k] + l[k + 4];
  for (int k = 0; k < 2; ++k) l[k] = l[k] + l[k + 2];
  return l[0] + l[1];
}

bool contains(const Status& s, const std::string& text) {
  return std::string(s.message()).find(text) != std::string::npos;
}

}  // namespace

// ---------------------------------------------------------------------------
// (3) Transcendentals against double precision
// ---------------------------------------------------------------------------
// Bounds below are the measured maxima over every float of the domain (an
// exhaustive sweep run once: exp 0.976 ulp over [-103.97, 88.72], tanh 1.371
// ulp over all finite floats, log 0.876 ulp over all positive finite floats),
// rounded up. The tests sweep a dense grid of each domain.
TEST_CASE("exp_f32: within 1 ulp of exp in double over [-87, 88], exact specials") {
  double worst = 0;
  const int kPoints = 1 << 20;
  for (int i = 0; i <= kPoints; ++i) {
    const float x = static_cast<float>(-87.0 + 175.0 * i / kPoints);
    const double e = ulp_error(exp_f32(x), std::exp(static_cast<double>(x)));
    if (e > worst) worst = e;
    if (e > 1.0) FAIL("exp_f32(" << x << ") = " << exp_f32(x) << " is " << e << " ulp off");
  }
  MESSAGE("exp_f32 max error on the grid: " << worst << " ulp");
  // Every float in [-1, 1] with small exponents too (n = 0 and tiny r).
  for (float x = 1e-30f; x < 1.0f; x *= 1.001f) {
    CHECK(ulp_error(exp_f32(x), std::exp(double(x))) <= 1.0);
    CHECK(ulp_error(exp_f32(-x), std::exp(-double(x))) <= 1.0);
  }
  // Subnormal results: absolute error within one subnormal spacing.
  for (float x = -87.5f; x > -103.9f; x -= 0.01f)
    CHECK(ulp_error(exp_f32(x), std::exp(double(x))) <= 1.0);
  CHECK(exp_f32(0.0f) == 1.0f);
  CHECK(exp_f32(-0.0f) == 1.0f);
  CHECK(exp_f32(1e-30f) == 1.0f);
  CHECK(exp_f32(-1e-30f) == 1.0f);
  CHECK(exp_f32(1.0f) == static_cast<float>(std::exp(1.0)));
  CHECK(exp_f32(88.72f) < kInf);
  CHECK(exp_f32(88.73f) == kInf);
  CHECK(exp_f32(89.0f) == kInf);
  CHECK(exp_f32(1e30f) == kInf);
  CHECK(exp_f32(kInf) == kInf);
  CHECK(exp_f32(-104.0f) == 0.0f);
  CHECK(!std::signbit(exp_f32(-104.0f)));
  CHECK(exp_f32(-1e30f) == 0.0f);
  CHECK(exp_f32(-kInf) == 0.0f);
  CHECK(exp_f32(-100.0f) > 0.0f);  // subnormal, not flushed
  CHECK(std::isnan(exp_f32(kNaN)));
}

TEST_CASE("tanh_f32: within 1.5 ulp of tanh in double, odd, saturating") {
  double worst = 0;
  const int kPoints = 1 << 20;
  for (int i = 0; i <= kPoints; ++i) {
    const float x = static_cast<float>(-12.0 + 24.0 * i / kPoints);
    const double e = ulp_error(tanh_f32(x), std::tanh(static_cast<double>(x)));
    if (e > worst) worst = e;
    if (e > 1.5) FAIL("tanh_f32(" << x << ") = " << tanh_f32(x) << " is " << e << " ulp off");
  }
  MESSAGE("tanh_f32 max error on the grid: " << worst << " ulp");
  for (float x = 1e-38f; x < 20.0f; x *= 1.0007f) {
    CHECK(ulp_error(tanh_f32(x), std::tanh(double(x))) <= 1.5);
    CHECK(same(tanh_f32(-x), -tanh_f32(x)));
  }
  CHECK(same(tanh_f32(0.0f), 0.0f));
  CHECK(same(tanh_f32(-0.0f), -0.0f));
  CHECK(tanh_f32(1e-30f) == 1e-30f);
  CHECK(tanh_f32(kInf) == 1.0f);
  CHECK(tanh_f32(-kInf) == -1.0f);
  CHECK(tanh_f32(50.0f) == 1.0f);
  CHECK(std::isnan(tanh_f32(kNaN)));
}

TEST_CASE("log_f32: within 1 ulp of log in double, specials") {
  double worst = 0;
  auto check_log = [&](float x) {
    const double e = ulp_error(log_f32(x), std::log(static_cast<double>(x)));
    if (e > worst) worst = e;
    if (e > 1.0) FAIL("log_f32(" << x << ") = " << log_f32(x) << " is " << e << " ulp off");
  };
  for (std::uint32_t bits = 1; bits < 0x00800000u; bits += 997) {  // subnormals
    float x;
    std::memcpy(&x, &bits, sizeof x);
    check_log(x);
  }
  for (float x = std::numeric_limits<float>::min(); x < 3e38f; x *= 1.0001f) check_log(x);
  const int kPoints = 1 << 18;  // densely around 1, where log is small
  for (int i = 0; i <= kPoints; ++i) {
    const float x = static_cast<float>(0.5 + 1.5 * i / kPoints);
    const double e = ulp_error(log_f32(x), std::log(static_cast<double>(x)));
    if (e > worst) worst = e;
    if (e > 1.0) FAIL("log_f32(" << x << ") is " << e << " ulp off");
  }
  MESSAGE("log_f32 max error on the grids: " << worst << " ulp");
  CHECK(same(log_f32(1.0f), 0.0f));
  CHECK(log_f32(0.0f) == -kInf);
  CHECK(log_f32(-0.0f) == -kInf);
  CHECK(log_f32(kInf) == kInf);
  CHECK(std::isnan(log_f32(-1.0f)));
  CHECK(std::isnan(log_f32(-kInf)));
  CHECK(std::isnan(log_f32(kNaN)));
  CHECK(ulp_error(log_f32(1e-45f), std::log(double(1e-45f))) <= 1.0);  // smallest subnormal
}

// ---------------------------------------------------------------------------
// (1) Every ISA against the scalar table, bit for bit
// ---------------------------------------------------------------------------
TEST_CASE("add_bias: every ISA matches scalar bit for bit") {
  std::mt19937 rng(11);
  for (Shape s : shapes())
    for (Layout l : kLayouts) {
      GuardedMatrix y0 = make(s.n, s.m, l), b = make(1, s.m, l);
      y0.fill_random(rng, -3, 3);
      b.fill_random(rng, -3, 3);
      GuardedMatrix want = make(s.n, s.m, l);
      want.copy_from(y0);
      scalar_table().add_bias_f32(s.n, s.m, b.data(), want.data(), want.stride());
      for (std::size_t i = 0; i < s.n; ++i)
        for (std::size_t j = 0; j < s.m; ++j) REQUIRE(want.at(i, j) == y0.at(i, j) + b.at(0, j));
      for (Isa isa : vector_isas()) {
        GuardedMatrix y = make(s.n, s.m, l);
        y.copy_from(y0);
        kernel_table(isa)->add_bias_f32(s.n, s.m, b.data(), y.data(), y.stride());
        require_same(y, want, "add_bias", isa, s.n, s.m);
      }
    }
}

TEST_CASE("pointwise forward and backward: every ISA matches scalar, in place too") {
  std::mt19937 rng(12);
  for (Pointwise f : kPointwise) {
    const std::string f_text = pointwise_name(f);
    CAPTURE(f_text);
    for (Shape s : shapes())
      for (Layout l : kLayouts)
        for (bool specials : {false, true}) {
          const KernelTable& st = scalar_table();
          GuardedMatrix x = make(s.n, s.m, l), dy = make(s.n, s.m, l);
          x.fill_random(rng, -6, 6);
          dy.fill_random(rng, -2, 2);
          if (specials) sprinkle_specials(x, rng);
          GuardedMatrix y_want = make(s.n, s.m, l), dx_want = make(s.n, s.m, l);
          st.pointwise_forward_f32(f, s.n, s.m, x.data(), x.stride(), y_want.data(),
                                   y_want.stride());
          st.pointwise_backward_f32(f, s.n, s.m, x.data(), x.stride(), y_want.data(),
                                    y_want.stride(), dy.data(), dy.stride(), dx_want.data(),
                                    dx_want.stride());
          REQUIRE(y_want.guards_intact());
          REQUIRE(dx_want.guards_intact());
          for (Isa isa : vector_isas()) {
            const KernelTable& t = *kernel_table(isa);
            GuardedMatrix y = make(s.n, s.m, l), dx = make(s.n, s.m, l);
            t.pointwise_forward_f32(f, s.n, s.m, x.data(), x.stride(), y.data(), y.stride());
            require_same(y, y_want, "pointwise_forward", isa, s.n, s.m);
            t.pointwise_backward_f32(f, s.n, s.m, x.data(), x.stride(), y_want.data(),
                                     y_want.stride(), dy.data(), dy.stride(), dx.data(),
                                     dx.stride());
            require_same(dx, dx_want, "pointwise_backward", isa, s.n, s.m);
            // In place: Y over X, dX over dY.
            GuardedMatrix inplace = make(s.n, s.m, l);
            inplace.copy_from(x);
            t.pointwise_forward_f32(f, s.n, s.m, inplace.data(), inplace.stride(),
                                    inplace.data(), inplace.stride());
            require_same(inplace, y_want, "pointwise_forward in place", isa, s.n, s.m);
            inplace.copy_from(dy);
            t.pointwise_backward_f32(f, s.n, s.m, x.data(), x.stride(), y_want.data(),
                                     y_want.stride(), inplace.data(), inplace.stride(),
                                     inplace.data(), inplace.stride());
            require_same(inplace, dx_want, "pointwise_backward in place", isa, s.n, s.m);
          }
        }
  }
}

TEST_CASE("vector exp paths: dense sweeps through sigmoid, tanh and softmax match scalar") {
  // One long row sweeping [-110, 110] crosses every branch of exp (clamps,
  // subnormal results, overflow) and of tanh inside the vector kernels.
  const std::size_t m = 1 << 16;
  GuardedMatrix x(1, m, m, 1);
  for (std::size_t j = 0; j < m; ++j) x.at(0, j) = static_cast<float>(-110.0 + 220.0 * j / m);
  // Softmax rows whose maximum is 0: y_j = exp(x_j) / s over [-110, 0].
  const std::size_t rows = 64, cols = m / rows;
  GuardedMatrix sx(rows, cols, cols + 1, 1);
  for (std::size_t i = 0; i < rows; ++i) {
    for (std::size_t j = 0; j < cols; ++j)
      sx.at(i, j) = static_cast<float>(-110.0 * ((i * cols + j) % 4093) / 4093.0);
    sx.at(i, i % cols) = 0.0f;
  }
  for (Pointwise f : {Pointwise::kSigmoid, Pointwise::kTanh, Pointwise::kGelu}) {
    GuardedMatrix want(1, m, m, 1);
    scalar_table().pointwise_forward_f32(f, 1, m, x.data(), m, want.data(), m);
    for (Isa isa : vector_isas()) {
      GuardedMatrix y(1, m, m, 1);
      kernel_table(isa)->pointwise_forward_f32(f, 1, m, x.data(), m, y.data(), m);
      require_same(y, want, pointwise_name(f), isa, 1, m);
    }
  }
  GuardedMatrix want(rows, cols, cols + 1, 1);
  scalar_table().softmax_rows_f32(rows, cols, sx.data(), sx.stride(), want.data(), want.stride());
  for (Isa isa : vector_isas()) {
    GuardedMatrix y(rows, cols, cols + 1, 1);
    kernel_table(isa)->softmax_rows_f32(rows, cols, sx.data(), sx.stride(), y.data(), y.stride());
    require_same(y, want, "softmax sweep", isa, rows, cols);
  }
}

TEST_CASE("softmax_rows: every ISA matches scalar, in place, with special values") {
  std::mt19937 rng(13);
  for (Shape s : shapes())
    for (Layout l : kLayouts)
      for (int kind = 0; kind < 3; ++kind) {
        GuardedMatrix x = make(s.n, s.m, l);
        if (kind == 0) x.fill_random(rng, -8, 8);
        if (kind == 1) x.fill_random(rng, -120, 30);  // subnormal and zero exps
        if (kind == 2) {
          x.fill_random(rng, -8, 8);
          sprinkle_specials(x, rng);
        }
        GuardedMatrix want = make(s.n, s.m, l);
        scalar_table().softmax_rows_f32(s.n, s.m, x.data(), x.stride(), want.data(),
                                        want.stride());
        REQUIRE(want.guards_intact());
        for (Isa isa : vector_isas()) {
          GuardedMatrix y = make(s.n, s.m, l);
          kernel_table(isa)->softmax_rows_f32(s.n, s.m, x.data(), x.stride(), y.data(),
                                              y.stride());
          require_same(y, want, "softmax_rows", isa, s.n, s.m);
          y.copy_from(x);
          kernel_table(isa)->softmax_rows_f32(s.n, s.m, y.data(), y.stride(), y.data(),
                                              y.stride());
          require_same(y, want, "softmax_rows in place", isa, s.n, s.m);
        }
      }
}

TEST_CASE("softmax_cross_entropy and mse: every ISA matches scalar, in place") {
  std::mt19937 rng(14);
  for (Shape s : shapes())
    for (Layout l : kLayouts) {
      const KernelTable& st = scalar_table();
      GuardedMatrix z = make(s.n, s.m, l), t = make(s.n, s.m, l);
      z.fill_random(rng, -10, 10);
      t.fill_random(rng, -1, 1);
      std::vector<std::uint32_t> labels(s.n);
      std::uniform_int_distribution<std::uint32_t> pick(0, static_cast<std::uint32_t>(s.m - 1));
      for (auto& c : labels) c = pick(rng);
      const float scale = 1.0f / static_cast<float>(s.n);
      GuardedMatrix dz_want = make(s.n, s.m, l), g_want = make(s.n, s.m, l);
      float ce_want = -1, mse_want = -1;
      st.softmax_cross_entropy_f32(s.n, s.m, z.data(), z.stride(), labels.data(), scale,
                                   dz_want.data(), dz_want.stride(), &ce_want);
      st.mse_f32(s.n, s.m, z.data(), z.stride(), t.data(), t.stride(), scale, g_want.data(),
                 g_want.stride(), &mse_want);
      REQUIRE(dz_want.guards_intact());
      REQUIRE(g_want.guards_intact());
      for (Isa isa : vector_isas()) {
        const KernelTable& k = *kernel_table(isa);
        GuardedMatrix dz = make(s.n, s.m, l), g = make(s.n, s.m, l);
        float ce = -1, ms = -1;
        k.softmax_cross_entropy_f32(s.n, s.m, z.data(), z.stride(), labels.data(), scale,
                                    dz.data(), dz.stride(), &ce);
        require_same(dz, dz_want, "softmax_cross_entropy dZ", isa, s.n, s.m);
        CHECK(same(ce, ce_want));
        k.mse_f32(s.n, s.m, z.data(), z.stride(), t.data(), t.stride(), scale, g.data(),
                  g.stride(), &ms);
        require_same(g, g_want, "mse grad", isa, s.n, s.m);
        CHECK(same(ms, mse_want));
        // In place: dZ over Z, grad over pred.
        GuardedMatrix inplace = make(s.n, s.m, l);
        inplace.copy_from(z);
        k.softmax_cross_entropy_f32(s.n, s.m, inplace.data(), inplace.stride(), labels.data(),
                                    scale, inplace.data(), inplace.stride(), &ce);
        require_same(inplace, dz_want, "softmax_cross_entropy in place", isa, s.n, s.m);
        CHECK(same(ce, ce_want));
        inplace.copy_from(z);
        k.mse_f32(s.n, s.m, inplace.data(), inplace.stride(), t.data(), t.stride(), scale,
                  inplace.data(), inplace.stride(), &ms);
        require_same(inplace, g_want, "mse in place", isa, s.n, s.m);
        CHECK(same(ms, mse_want));
      }
    }
}

TEST_CASE("sgd_momentum and adam: every ISA matches scalar over several steps") {
  std::mt19937 rng(15);
  SgdParams sgd;
  sgd.learning_rate = 0.05f;
  sgd.momentum = 0.9f;
  sgd.weight_decay = 1e-3f;
  for (std::size_t count : kSizes)
    for (std::size_t offset : {0, 1}) {
      for (bool decoupled : {false, true}) {
        GuardedMatrix w0(1, count, count, offset), g(1, count, count, offset);
        GuardedMatrix v0(1, count, count, offset), m0(1, count, count, offset);
        w0.fill_random(rng, -1, 1);
        v0.fill_random(rng, 0, 0.01f);
        m0.fill_random(rng, -0.1f, 0.1f);
        std::vector<std::vector<GuardedMatrix>> state;  // per ISA: w, m, v (sgd reuses w, v)
        const std::vector<Isa> isas = tern::test::runnable_isas();
        for (std::size_t k = 0; k < isas.size(); ++k) {
          state.push_back({GuardedMatrix(1, count, count, offset),
                           GuardedMatrix(1, count, count, offset),
                           GuardedMatrix(1, count, count, offset),
                           GuardedMatrix(1, count, count, offset),
                           GuardedMatrix(1, count, count, offset)});
          state[k][0].copy_from(w0);
          state[k][1].copy_from(m0);
          state[k][2].copy_from(v0);
          state[k][3].copy_from(w0);  // SGD weights
          state[k][4].copy_from(m0);  // SGD velocity
        }
        AdamParams adam;
        adam.learning_rate = 0.01f;
        adam.weight_decay = 0.01f;
        adam.decoupled = decoupled;
        for (std::uint32_t step = 1; step <= 4; ++step) {
          g.fill_random(rng, -1, 1);
          adam.step = step;
          AdamStepConstants c;
          REQUIRE(adam_step_constants(adam, &c).ok());
          for (std::size_t k = 0; k < isas.size(); ++k) {
            const KernelTable& t = *kernel_table(isas[k]);
            t.adam_f32(count, state[k][0].data(), g.data(), state[k][1].data(),
                       state[k][2].data(), c);
            t.sgd_momentum_f32(count, state[k][3].data(), g.data(), state[k][4].data(), sgd);
          }
          for (std::size_t k = 1; k < isas.size(); ++k)
            for (int b = 0; b < 5; ++b)
              require_same(state[k][b], state[0][b], b < 3 ? "adam" : "sgd", isas[k], 1, count);
        }
      }
    }
}

// ---------------------------------------------------------------------------
// (2) The scalar table computes the formulas stated in elementwise.h
// ---------------------------------------------------------------------------
TEST_CASE("scalar kernels follow the stated formulas exactly, including the reduction order") {
  std::mt19937 rng(21);
  const KernelTable& st = scalar_table();
  const float k0 = 0x1.988454p-1f, k2 = 0x1.2444f2p-5f, k3 = 0x1.b6676cp-4f;
  const std::size_t n = 4, m = 37;
  GuardedMatrix x(n, m), dy(n, m), y(n, m), dx(n, m);
  x.fill_random(rng, -5, 5);
  sprinkle_specials(x, rng);
  dy.fill_random(rng, -2, 2);
  for (Pointwise f : kPointwise) {
    const std::string f_text = pointwise_name(f);
    CAPTURE(f_text);
    st.pointwise_forward_f32(f, n, m, x.data(), m, y.data(), m);
    st.pointwise_backward_f32(f, n, m, x.data(), m, y.data(), m, dy.data(), m, dx.data(), m);
    for (std::size_t i = 0; i < n; ++i)
      for (std::size_t j = 0; j < m; ++j) {
        const float v = x.at(i, j), out = y.at(i, j), d = dy.at(i, j);
        float fy = 0, fdx = 0;
        switch (f) {
          case Pointwise::kIdentity: fy = v; fdx = d; break;
          case Pointwise::kRelu: fy = v > 0 ? v : 0.0f; fdx = v > 0 ? d : 0.0f; break;
          case Pointwise::kGelu: {
            const float h = 0.5f * v, z = v * v;
            fy = std::fma(h, tanh_f32(v * std::fma(k2, z, k0)), h);
            const float t = tanh_f32(v * std::fma(k2, z, k0));
            fdx = d * std::fma(h * std::fma(-t, t, 1.0f), std::fma(k3, z, k0),
                               std::fma(0.5f, t, 0.5f));
            break;
          }
          case Pointwise::kTanh: fy = tanh_f32(v); fdx = d * std::fma(-out, out, 1.0f); break;
          case Pointwise::kSigmoid:
            fy = 1.0f / (1.0f + exp_f32(-v));
            fdx = d * (out * (1.0f - out));
            break;
        }
        if (!same(out, fy)) FAIL("forward (" << i << "," << j << ") " << out << " vs " << fy);
        if (!same(dx.at(i, j), fdx)) FAIL("backward (" << i << "," << j << ")");
      }
  }

  // Softmax, cross-entropy and squared error with the 16-lane sums.
  GuardedMatrix z(n, m), t(n, m), sm(n, m), dz(n, m), g(n, m);
  z.fill_random(rng, -30, 30);
  t.fill_random(rng, -30, 30);
  const std::uint32_t labels[n] = {0, 36, 16, 5};
  const float scale = 0.3f;
  float ce = 0, ms = 0;
  st.softmax_rows_f32(n, m, z.data(), m, sm.data(), m);
  st.softmax_cross_entropy_f32(n, m, z.data(), m, labels, scale, dz.data(), m, &ce);
  st.mse_f32(n, m, z.data(), m, t.data(), m, scale, g.data(), m, &ms);
  float ce_total = 0, mse_total = 0;
  for (std::size_t i = 0; i < n; ++i) {
    float mx = -kInf;
    for (std::size_t j = 0; j < m; ++j) mx = std::fmax(mx, z.at(i, j));
    std::vector<float> e(m);
    for (std::size_t j = 0; j < m; ++j) e[j] = exp_f32(z.at(i, j) - mx);
    const float s = sum16(e);
    for (std::size_t j = 0; j < m; ++j) {
      CHECK(same(sm.at(i, j), e[j] / s));
      const float p = e[j] / s;
      CHECK(same(dz.at(i, j), (j == labels[i] ? p - 1.0f : p) * scale));
    }
    ce_total = ce_total + (log_f32(s) - (z.at(i, labels[i]) - mx));
    float l[16] = {};
    for (std::size_t j = 0; j < m; ++j) {
      const float d = z.at(i, j) - t.at(i, j);
      l[j % 16] = std::fma(d, d, l[j % 16]);
      CHECK(same(g.at(i, j), d * scale));
    }
    for (int k = 0; k < 8; ++k) l[k] = l[k] + l[k + 8];
    for (int k = 0; k < 4; ++k) l[k] = l[k] + l[k + 4];
    for (int k = 0; k < 2; ++k) l[k] = l[k] + l[k + 2];
    mse_total = mse_total + (l[0] + l[1]);
  }
  CHECK(same(ce, ce_total));
  CHECK(same(ms, 0.5f * mse_total));
  // The order is observable: a plain left-to-right sum differs on this row.
  std::vector<float> row = {1e8f, 1.0f, -1e8f, 1.0f};
  for (int k = 0; k < 16; ++k) row.push_back(0.5f);
  float naive = 0;
  for (float v : row) naive += v;
  CHECK(!same(sum16(row), naive));

  // Optimizer steps.
  std::uniform_real_distribution<float> dist(-1, 1);
  std::vector<float> w0(m), gr(m), vel0(m), mom0(m), var0(m);
  for (std::size_t e = 0; e < m; ++e) {
    w0[e] = dist(rng);
    gr[e] = dist(rng);
    vel0[e] = 0.1f * dist(rng);
    mom0[e] = 0.1f * dist(rng);
    var0[e] = 0.01f * std::fabs(dist(rng));
  }
  std::vector<float> w = w0, vel = vel0, w2 = w0, mom = mom0, var = var0;
  const SgdParams sp{0.1f, 0.9f, 0.01f};
  st.sgd_momentum_f32(m, w.data(), gr.data(), vel.data(), sp);
  AdamParams ap;
  ap.step = 3;
  ap.weight_decay = 0.02f;
  AdamStepConstants c;
  REQUIRE(adam_step_constants(ap, &c).ok());
  st.adam_f32(m, w2.data(), gr.data(), mom.data(), var.data(), c);
  for (std::size_t e = 0; e < m; ++e) {
    const float gd = std::fma(0.01f, w0[e], gr[e]);
    const float v = std::fma(0.9f, vel0[e], gd);
    CHECK(same(vel[e], v));
    CHECK(same(w[e], std::fma(-0.1f, v, w0[e])));
    const float ga = std::fma(c.l2, w0[e], gr[e]);
    const float me = std::fma(c.beta1, mom0[e], c.one_minus_beta1 * ga);
    const float ve = std::fma(c.beta2, var0[e], c.one_minus_beta2 * (ga * ga));
    CHECK(same(mom[e], me));
    CHECK(same(var[e], ve));
    const float den = std::fma(std::sqrt(ve), c.inv_sqrt_bc2, c.epsilon);
    CHECK(same(w2[e], std::fma(c.neg_step, me / den, w0[e] * c.decay)));
  }
}

// ---------------------------------------------------------------------------
// (3) Against double precision and finite differences
// ---------------------------------------------------------------------------
namespace {

double gelu_d(double x) {
  const double k = std::sqrt(2.0 / M_PI);
  return 0.5 * x * (1.0 + std::tanh(k * (x + 0.044715 * x * x * x)));
}
double sigmoid_d(double x) { return 1.0 / (1.0 + std::exp(-x)); }
double apply_d(Pointwise f, double x) {
  switch (f) {
    case Pointwise::kIdentity: return x;
    case Pointwise::kRelu: return x > 0 ? x : 0.0;
    case Pointwise::kGelu: return gelu_d(x);
    case Pointwise::kTanh: return std::tanh(x);
    case Pointwise::kSigmoid: return sigmoid_d(x);
  }
  return 0;
}

// L(Z) = sum_i logsumexp(Z_i) - Z_i[c_i], in double.
double ce_loss_d(const std::vector<double>& z, std::size_t n, std::size_t m,
                 const std::uint32_t* labels) {
  double total = 0;
  for (std::size_t i = 0; i < n; ++i) {
    double mx = -INFINITY;
    for (std::size_t j = 0; j < m; ++j) mx = std::fmax(mx, z[i * m + j]);
    double s = 0;
    for (std::size_t j = 0; j < m; ++j) s += std::exp(z[i * m + j] - mx);
    total += std::log(s) + mx - z[i * m + labels[i]];
  }
  return total;
}

}  // namespace

TEST_CASE("activations: forward against double, backward against central differences") {
  std::mt19937 rng(31);
  const std::size_t n = 5, m = 41;
  GuardedMatrix x(n, m), y(n, m), dy(n, m), dx(n, m);
  x.fill_random(rng, -6, 6);
  dy.fill_random(rng, -2, 2);
  for (Isa isa : tern::test::runnable_isas()) {
    REQUIRE(select_isa(isa).ok());
    for (Pointwise f : kPointwise) {
      const std::string isa_text = isa_name(isa);
    CAPTURE(isa_text);
      const std::string f_text = pointwise_name(f);
    CAPTURE(f_text);
      REQUIRE(pointwise_forward_f32(f, n, m, x.data(), m, y.data(), m).ok());
      REQUIRE(pointwise_backward_f32(f, n, m, x.data(), m, y.data(), m, dy.data(), m, dx.data(),
                                     m).ok());
      for (std::size_t i = 0; i < n; ++i)
        for (std::size_t j = 0; j < m; ++j) {
          const double v = x.at(i, j);
          const double ref = apply_d(f, v);
          // Forward: sigmoid and tanh within a few ulp of the value; gelu's
          // 1 + tanh cancels for negative x, so its error scales with |x|.
          const double tol = f == Pointwise::kGelu ? 4 * kU * (std::fabs(ref) + std::fabs(v))
                                                   : 4 * kU * std::fabs(ref) + 1e-45;
          if (std::fabs(y.at(i, j) - ref) > tol)
            FAIL("forward at x = " << v << ": " << y.at(i, j) << " vs " << ref);
          if (f == Pointwise::kRelu && std::fabs(v) < 1e-3) continue;  // the kink
          const double h = 1e-5;
          const double deriv = (apply_d(f, v + h) - apply_d(f, v - h)) / (2 * h);
          const double want = dy.at(i, j) * deriv;
          if (std::fabs(dx.at(i, j) - want) > 2e-6 * (1 + std::fabs(want)))
            FAIL("backward at x = " << v << ": " << dx.at(i, j) << " vs " << want);
        }
    }
  }
  reset_isa_selection();
}

TEST_CASE("softmax and softmax cross-entropy against double; dZ against central differences") {
  std::mt19937 rng(32);
  for (Isa isa : tern::test::runnable_isas()) {
    const std::string isa_text = isa_name(isa);
    CAPTURE(isa_text);
    REQUIRE(select_isa(isa).ok());
    for (std::size_t m : {1, 2, 7, 16, 33, 1000}) {
      const std::size_t n = 3;
      GuardedMatrix z(n, m, m + 2, 1), y(n, m), dz(n, m);
      z.fill_random(rng, -12, 12);
      std::vector<std::uint32_t> labels(n);
      for (std::size_t i = 0; i < n; ++i) labels[i] = static_cast<std::uint32_t>((i * 7) % m);
      REQUIRE(softmax_rows_f32(n, m, z.data(), z.stride(), y.data(), m).ok());
      float loss = 0;
      const float scale = 0.5f;
      REQUIRE(softmax_cross_entropy_f32(n, m, z.data(), z.stride(), labels.data(), scale,
                                        dz.data(), m, &loss).ok());
      std::vector<double> zd(n * m);
      for (std::size_t i = 0; i < n; ++i)
        for (std::size_t j = 0; j < m; ++j) zd[i * m + j] = z.at(i, j);
      // Softmax: exp within 1 ulp each, the 16-lane sum's rounding grows
      // with the m / 16 additions per lane, then one division.
      const double rel = (static_cast<double>(m) / 16 + 8) * 2 * kU;
      for (std::size_t i = 0; i < n; ++i) {
        double mx = -INFINITY, s = 0;
        for (std::size_t j = 0; j < m; ++j) mx = std::fmax(mx, zd[i * m + j]);
        for (std::size_t j = 0; j < m; ++j) s += std::exp(zd[i * m + j] - mx);
        for (std::size_t j = 0; j < m; ++j) {
          const double ref = std::exp(zd[i * m + j] - mx) / s;
          // z - mx is rounded to float before exp: exp's condition number
          // |z - mx| turns that half ulp into a relative error of |z - mx| u.
          const double cond = std::fabs(zd[i * m + j] - mx) * kU;
          if (std::fabs(y.at(i, j) - ref) > (rel + cond) * ref + 1e-44)
            FAIL("softmax (" << i << "," << j << ") " << y.at(i, j) << " vs " << ref);
        }
      }
      const double lref = ce_loss_d(zd, n, m, labels.data());
      CHECK(std::fabs(loss - lref) <= 1e-5 * (1 + std::fabs(lref)));
      // dZ = grad_scale * dL/dZ, by central differences of the double loss.
      for (std::size_t e = 0; e < n * m; e += (m > 40 ? 37 : 1)) {
        const double h = 1e-4, v = zd[e];
        zd[e] = v + h;
        const double up = ce_loss_d(zd, n, m, labels.data());
        zd[e] = v - h;
        const double down = ce_loss_d(zd, n, m, labels.data());
        zd[e] = v;
        const double want = scale * (up - down) / (2 * h);
        if (std::fabs(dz.at(e / m, e % m) - want) > 2e-6)
          FAIL("dZ[" << e / m << "][" << e % m << "] " << dz.at(e / m, e % m) << " vs " << want);
      }
    }
  }
  reset_isa_selection();
}

TEST_CASE("mse against double; grad against central differences") {
  std::mt19937 rng(33);
  for (Isa isa : tern::test::runnable_isas()) {
    const std::string isa_text = isa_name(isa);
    CAPTURE(isa_text);
    REQUIRE(select_isa(isa).ok());
    for (std::size_t m : {1, 5, 16, 31, 1000}) {
      const std::size_t n = 4;
      GuardedMatrix p(n, m, m + 1, 1), t(n, m, m + 3, 2), g(n, m);
      p.fill_random(rng, -3, 3);
      t.fill_random(rng, -3, 3);
      float loss = 0;
      const float scale = 0.25f;
      REQUIRE(mse_f32(n, m, p.data(), p.stride(), t.data(), t.stride(), scale, g.data(), m,
                      &loss).ok());
      auto loss_d = [&](std::size_t at, double bump) {
        double s = 0;
        for (std::size_t i = 0; i < n; ++i)
          for (std::size_t j = 0; j < m; ++j) {
            const double d = double(p.at(i, j)) + (i * m + j == at ? bump : 0.0) - t.at(i, j);
            s += d * d;
          }
        return 0.5 * s;
      };
      const double lref = loss_d(0, 0.0);
      CHECK(std::fabs(loss - lref) <= (static_cast<double>(m) / 16 + n + 8) * 2 * kU * lref);
      for (std::size_t e = 0; e < n * m; e += (m > 40 ? 29 : 1)) {
        const double h = 1e-3;
        const double want = scale * (loss_d(e, h) - loss_d(e, -h)) / (2 * h);
        CHECK(std::fabs(g.at(e / m, e % m) - want) <= 1e-6 * (1 + std::fabs(want)));
      }
    }
  }
  reset_isa_selection();
}

TEST_CASE("optimizer steps against double-precision re-implementations") {
  std::mt19937 rng(34);
  const std::size_t count = 77;
  for (Isa isa : tern::test::runnable_isas()) {
    const std::string isa_text = isa_name(isa);
    CAPTURE(isa_text);
    REQUIRE(select_isa(isa).ok());
    std::uniform_real_distribution<float> dist(-1, 1);
    // SGD with momentum and L2.
    std::vector<float> w(count), g(count), v(count);
    for (std::size_t e = 0; e < count; ++e) w[e] = dist(rng), v[e] = 0.1f * dist(rng);
    const SgdParams sp{0.05f, 0.9f, 1e-2f};
    for (int step = 0; step < 5; ++step) {
      for (auto& x : g) x = dist(rng);
      const std::vector<float> w0 = w, v0 = v;
      REQUIRE(sgd_momentum_f32(count, w.data(), g.data(), v.data(), sp).ok());
      for (std::size_t e = 0; e < count; ++e) {
        const double vd = double(sp.momentum) * v0[e] + (g[e] + double(sp.weight_decay) * w0[e]);
        const double wd = w0[e] - double(sp.learning_rate) * vd;
        CHECK(std::fabs(v[e] - vd) <= 4 * kU * (std::fabs(vd) + std::fabs(g[e]) + 1e-30));
        CHECK(std::fabs(w[e] - wd) <= 4 * kU * (std::fabs(w0[e]) + 0.05 * std::fabs(vd)));
      }
    }
    // Adam and AdamW, including late steps where bias correction is ~1.
    for (bool decoupled : {false, true}) {
      std::vector<float> aw(count), ag(count), am(count, 0.0f), av(count, 0.0f);
      for (auto& x : aw) x = dist(rng);
      AdamParams ap;
      ap.learning_rate = 0.01f;
      ap.weight_decay = 0.05f;
      ap.decoupled = decoupled;
      for (std::uint32_t step : {1u, 2u, 3u, 10u, 1000u, 100000u}) {
        ap.step = step;
        for (auto& x : ag) x = dist(rng);
        const std::vector<float> w0 = aw, m0 = am, v0 = av;
        REQUIRE(adam_f32(count, aw.data(), ag.data(), am.data(), av.data(), ap).ok());
        const double b1 = ap.beta1, b2 = ap.beta2, lr = ap.learning_rate, wdc = ap.weight_decay;
        const double bc1 = 1 - std::pow(b1, step), bc2 = 1 - std::pow(b2, step);
        for (std::size_t e = 0; e < count; ++e) {
          const double gd = ag[e] + (decoupled ? 0.0 : wdc * w0[e]);
          const double md = b1 * m0[e] + (1 - b1) * gd;
          const double vd = b2 * v0[e] + (1 - b2) * gd * gd;
          const double upd = lr * (md / bc1) / (std::sqrt(vd / bc2) + ap.epsilon);
          const double wd = (decoupled ? w0[e] * (1 - lr * wdc) : w0[e]) - upd;
          CHECK(std::fabs(am[e] - md) <= 4 * kU * (std::fabs(md) + std::fabs(gd)));
          CHECK(std::fabs(av[e] - vd) <= 4 * kU * (std::fabs(vd) + gd * gd));
          CHECK(std::fabs(aw[e] - wd) <= 4 * kU * std::fabs(w0[e]) + 16 * kU * std::fabs(upd));
        }
      }
    }
  }
  reset_isa_selection();
}

TEST_CASE("adam_step_constants: bias correction against pow in double") {
  AdamParams p;
  p.learning_rate = 3e-4f;
  p.beta1 = 0.9f;
  p.beta2 = 0.98f;
  for (std::uint32_t step : {1u, 2u, 7u, 100u, 5000u, 4000000000u}) {
    p.step = step;
    AdamStepConstants c;
    REQUIRE(adam_step_constants(p, &c).ok());
    const double bc1 = 1 - std::pow(double(p.beta1), step);
    const double bc2 = 1 - std::pow(double(p.beta2), step);
    CHECK(ulp_error(c.neg_step, -double(p.learning_rate) / bc1) <= 0.5 + 1e-6);
    CHECK(ulp_error(c.inv_sqrt_bc2, 1 / std::sqrt(bc2)) <= 0.5 + 1e-6);
    CHECK(c.one_minus_beta1 == 1.0f - p.beta1);
    CHECK(c.decay == 1.0f);
    CHECK(c.l2 == 0.0f);
  }
  p.decoupled = true;
  p.weight_decay = 0.1f;
  AdamStepConstants c;
  REQUIRE(adam_step_constants(p, &c).ok());
  CHECK(c.decay == static_cast<float>(1.0 - double(p.learning_rate) * double(p.weight_decay)));
  CHECK(c.l2 == 0.0f);
}

// ---------------------------------------------------------------------------
// Checked entry points: no allocation, empty shapes, argument errors
// ---------------------------------------------------------------------------
TEST_CASE("element-wise entry points allocate nothing and handle empty shapes") {
  std::vector<float> a(64, 0.5f), b(64, 0.25f), c(64), d(64);
  std::vector<std::uint32_t> labels(8, 1);
  float loss = -1;
  AdamParams ap;
  tern::test::HeapAllocationScope scope;
  REQUIRE(add_bias_f32(8, 8, b.data(), a.data(), 8).ok());
  REQUIRE(pointwise_forward_f32(Pointwise::kGelu, 8, 8, a.data(), 8, c.data(), 8).ok());
  REQUIRE(pointwise_backward_f32(Pointwise::kTanh, 8, 8, nullptr, 0, c.data(), 8, b.data(), 8,
                                 d.data(), 8).ok());
  REQUIRE(softmax_rows_f32(8, 8, a.data(), 8, a.data(), 8).ok());
  REQUIRE(softmax_cross_entropy_f32(8, 8, a.data(), 8, labels.data(), 0.125f, c.data(), 8, &loss)
              .ok());
  REQUIRE(mse_f32(8, 8, a.data(), 8, b.data(), 8, 1.0f, c.data(), 8, &loss).ok());
  REQUIRE(sgd_momentum_f32(64, a.data(), b.data(), c.data(), SgdParams{}).ok());
  REQUIRE(adam_f32(64, a.data(), b.data(), c.data(), d.data(), ap).ok());
  CHECK(scope.count() == 0);

  // Empty shapes: nothing read or written, losses are +0.
  loss = -1;
  REQUIRE(softmax_cross_entropy_f32(0, 5, nullptr, 0, nullptr, 1.0f, nullptr, 0, &loss).ok());
  CHECK(same(loss, 0.0f));
  loss = -1;
  REQUIRE(mse_f32(3, 0, nullptr, 0, nullptr, 0, 1.0f, nullptr, 0, &loss).ok());
  CHECK(same(loss, 0.0f));
  REQUIRE(add_bias_f32(0, 3, nullptr, nullptr, 0).ok());
  REQUIRE(softmax_rows_f32(3, 0, nullptr, 0, nullptr, 0).ok());
  REQUIRE(sgd_momentum_f32(0, nullptr, nullptr, nullptr, SgdParams{}).ok());
  REQUIRE(adam_f32(0, nullptr, nullptr, nullptr, nullptr, ap).ok());
}

TEST_CASE("element-wise entry points reject bad arguments with exact messages") {
  std::vector<float> a(64, 0.5f), b(64, 0.25f), c(64, 7.0f);
  auto is = [](const Status& s, StatusCode code, const std::string& msg) {
    CHECK(s.code() == code);
    CHECK(std::string(s.message()) == msg);
  };
  is(add_bias_f32(2, 5, nullptr, a.data(), 5), StatusCode::kInvalidArgument,
     "add_bias_f32: bias is null for a 1x5 operand");
  is(add_bias_f32(2, 5, a.data() + 3, a.data(), 5), StatusCode::kInvalidArgument,
     "add_bias_f32: output Y overlaps input bias");
  is(pointwise_forward_f32(static_cast<Pointwise>(9), 2, 3, a.data(), 3, b.data(), 3),
     StatusCode::kInvalidArgument, "pointwise_forward_f32: unknown Pointwise value 9");
  is(pointwise_forward_f32(Pointwise::kRelu, 2, 3, a.data(), 3, a.data() + 1, 3),
     StatusCode::kInvalidArgument,
     "pointwise_forward_f32: output Y partially overlaps input X (in place needs the same "
     "pointer and stride)");
  is(pointwise_forward_f32(Pointwise::kRelu, 2, 3, a.data(), 3, a.data(), 4),
     StatusCode::kInvalidArgument,
     "pointwise_forward_f32: output Y partially overlaps input X (in place needs the same "
     "pointer and stride)");
  is(pointwise_backward_f32(Pointwise::kRelu, 2, 3, nullptr, 3, nullptr, 3, b.data(), 3,
                            c.data(), 3),
     StatusCode::kInvalidArgument, "pointwise_backward_f32: X is null for a 2x3 operand");
  is(pointwise_backward_f32(Pointwise::kSigmoid, 2, 3, nullptr, 3, nullptr, 3, b.data(), 3,
                            c.data(), 3),
     StatusCode::kInvalidArgument, "pointwise_backward_f32: Y is null for a 2x3 operand");
  is(pointwise_backward_f32(Pointwise::kTanh, 2, 3, nullptr, 0, a.data(), 3, b.data(), 3,
                            a.data() + 2, 3),
     StatusCode::kInvalidArgument,
     "pointwise_backward_f32: output dX partially overlaps input Y (in place needs the same "
     "pointer and stride)");
  is(softmax_rows_f32(2, 3, a.data(), 2, b.data(), 3), StatusCode::kInvalidArgument,
     "softmax_rows_f32: row stride of X is 2, smaller than its 3 columns");

  // Cross-entropy: labels, non-finite logits, and nothing written on failure.
  std::vector<std::uint32_t> labels = {1, 5, 0};
  float loss = 42.0f;
  is(softmax_cross_entropy_f32(3, 5, a.data(), 5, labels.data(), 1.0f, c.data(), 5, &loss),
     StatusCode::kInvalidArgument,
     "softmax_cross_entropy_f32: label 5 of row 1 is out of range for 5 classes");
  labels[1] = 4;
  a[1 * 5 + 2] = kInf;
  is(softmax_cross_entropy_f32(3, 5, a.data(), 5, labels.data(), 1.0f, c.data(), 5, &loss),
     StatusCode::kNonFinite, "softmax_cross_entropy_f32: logit Z[1][2] is inf");
  a[1 * 5 + 2] = kNaN;
  is(softmax_cross_entropy_f32(3, 5, a.data(), 5, labels.data(), 1.0f, c.data(), 5, &loss),
     StatusCode::kNonFinite, "softmax_cross_entropy_f32: logit Z[1][2] is nan");
  a[1 * 5 + 2] = 0.5f;
  CHECK(loss == 42.0f);
  for (float v : c) CHECK(v == 7.0f);
  is(softmax_cross_entropy_f32(3, 0, a.data(), 5, labels.data(), 1.0f, c.data(), 5, &loss),
     StatusCode::kInvalidArgument,
     "softmax_cross_entropy_f32: label 1 of row 0 is out of range for 0 classes");
  is(softmax_cross_entropy_f32(3, 5, a.data(), 5, labels.data(), 1.0f, c.data(), 5, nullptr),
     StatusCode::kInvalidArgument, "softmax_cross_entropy_f32: loss_sum is null");
  is(softmax_cross_entropy_f32(3, 5, a.data(), 5, labels.data(), 1.0f, c.data(), 5, &c[4]),
     StatusCode::kInvalidArgument, "softmax_cross_entropy_f32: outputs dZ and loss_sum overlap");
  is(softmax_cross_entropy_f32(3, 5, a.data(), 5, nullptr, 1.0f, c.data(), 5, &loss),
     StatusCode::kInvalidArgument, "softmax_cross_entropy_f32: labels is null for a 1x3 operand");
  is(softmax_cross_entropy_f32(3, 5, a.data(), 5, labels.data(), kNaN, c.data(), 5, &loss),
     StatusCode::kInvalidArgument, "softmax_cross_entropy_f32: grad_scale is nan, must be finite");

  is(mse_f32(2, 3, a.data(), 3, b.data(), 3, 1.0f, c.data(), 3, &a[4]),
     StatusCode::kInvalidArgument, "mse_f32: output loss_sum overlaps input P");
  is(mse_f32(2, 3, a.data(), 3, b.data(), 3, 1.0f, b.data() + 1, 3, &loss),
     StatusCode::kInvalidArgument,
     "mse_f32: output grad partially overlaps input T (in place needs the same pointer and "
     "stride)");

  // Optimizers.
  is(sgd_momentum_f32(8, a.data(), a.data() + 4, c.data(), SgdParams{}),
     StatusCode::kInvalidArgument, "sgd_momentum_f32: output w overlaps input g");
  is(sgd_momentum_f32(8, a.data(), b.data(), a.data() + 7, SgdParams{}),
     StatusCode::kInvalidArgument, "sgd_momentum_f32: outputs w and velocity overlap");
  is(sgd_momentum_f32(8, a.data(), b.data(), nullptr, SgdParams{}), StatusCode::kInvalidArgument,
     "sgd_momentum_f32: velocity is null for a 1x8 operand");
  is(sgd_momentum_f32(8, a.data(), b.data(), c.data(), SgdParams{kInf, 0.0f, 0.0f}),
     StatusCode::kInvalidArgument, "sgd_momentum_f32: learning_rate is inf, must be finite");
  AdamParams ap;
  ap.step = 0;
  is(adam_f32(8, a.data(), b.data(), c.data(), c.data() + 8, ap), StatusCode::kInvalidArgument,
     "adam_f32: step is 0; Adam steps count from 1 (bias correction divides by 1 - beta^step)");
  ap.step = 1;
  ap.beta1 = 1.0f;
  is(adam_f32(8, a.data(), b.data(), c.data(), c.data() + 8, ap), StatusCode::kInvalidArgument,
     "adam_f32: beta1 is 1, must be in [0, 1)");
  ap.beta1 = 0.9f;
  ap.beta2 = -0.5f;
  is(adam_f32(8, a.data(), b.data(), c.data(), c.data() + 8, ap), StatusCode::kInvalidArgument,
     "adam_f32: beta2 is -0.5, must be in [0, 1)");
  ap.beta2 = 0.999f;
  ap.epsilon = 0.0f;
  is(adam_f32(8, a.data(), b.data(), c.data(), c.data() + 8, ap), StatusCode::kInvalidArgument,
     "adam_f32: epsilon is 0, must be finite and > 0");
  ap.epsilon = 1e-8f;
  is(adam_f32(8, a.data(), b.data(), c.data(), c.data() + 4, ap), StatusCode::kInvalidArgument,
     "adam_f32: outputs m and v overlap");
  is(adam_step_constants(ap, nullptr), StatusCode::kInvalidArgument,
     "adam_step_constants: out is null");
  ap.step = 0;
  AdamStepConstants k;
  is(adam_step_constants(ap, &k), StatusCode::kInvalidArgument,
     "adam_step_constants: step is 0; Adam steps count from 1 (bias correction divides by "
     "1 - beta^step)");
  CHECK(contains(adam_f32(0, nullptr, nullptr, nullptr, nullptr, ap), "step is 0"));
}
