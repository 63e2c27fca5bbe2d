// SPDX-License-Identifier: Apache-2.0
// tern-info: what this CPU is, which ISAs tern detects and was built with,
// which one runs and why. With --self-check, also runs every available
// kernel table on a set of odd shapes and compares it bit for bit with the
// scalar reference, and the reference with a double-precision computation.
#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>
#include <vector>

#include "tern/kernels/isa_selection.h"
#include "tern/kernels/kernel_table.h"
#include "tern/kernels/dense.h"
#include "tern/version.h"

namespace {

struct Shape {
  std::size_t n, k, m;
};

// Runs the four dense-layer kernels of `t` on one shape; outputs appended.
void run(const tern::KernelTable* t, const Shape& s, const std::vector<float>& x,
         const std::vector<float>& w, const std::vector<float>& b, std::vector<float>* out) {
  std::vector<float> y(s.n * s.m), g(s.k * s.m, 0.5f), gb(s.m, 0.25f), dx(s.n * s.k);
  std::vector<float> scratch(tern::gemm_rows_scratch_floats(s.k) +
                             tern::rank1_accumulate_scratch_floats(s.n));
  t->gemm_rows_f32(s.n, s.k, s.m, x.data(), s.k, w.data(), s.m, b.data(), y.data(), s.m,
                   tern::Activation::kRelu, scratch.data());
  t->rank1_accumulate_f32(s.n, s.k, s.m, -0.5f, x.data(), s.k, y.data(), s.m, g.data(), s.m,
                          scratch.data());
  t->column_sums_accumulate_f32(s.n, s.m, 1.0f, y.data(), s.m, gb.data());
  t->backprop_rows_f32(s.n, s.k, s.m, y.data(), s.m, w.data(), s.m, dx.data(), s.k);
  for (auto* v : {&y, &g, &gb, &dx}) out->insert(out->end(), v->begin(), v->end());
}

// Largest |scalar - double| / bound over the forward pass, < 1 when within
// the FMA-chain error bound.
double reference_error(const Shape& s, const std::vector<float>& x, const std::vector<float>& w,
                       const std::vector<float>& b, const std::vector<float>& y) {
  double worst = 0;
  for (std::size_t i = 0; i < s.n; ++i)
    for (std::size_t j = 0; j < s.m; ++j) {
      double acc = b[j], mag = std::fabs(b[j]);
      for (std::size_t p = 0; p < s.k; ++p) {
        acc += double(x[i * s.k + p]) * w[p * s.m + j];
        mag += std::fabs(double(x[i * s.k + p]) * w[p * s.m + j]);
      }
      if (acc < 0) acc = 0;
      const double bound = (s.k + 2) * std::ldexp(1.0, -24) * mag + 1e-37;
      worst = std::fmax(worst, std::fabs(y[i * s.m + j] - acc) / bound);
    }
  return worst;
}

int self_check() {
  const Shape shapes[] = {{1, 1, 1}, {1, 784, 256}, {3, 17, 31}, {7, 33, 65}, {32, 127, 10}, {13, 64, 129}};
  const tern::KernelTable* scalar = tern::kernel_table(tern::Isa::kScalar);
  int failures = 0;
  std::mt19937 rng(2024);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::printf("\nself-check: every available ISA against the scalar reference (bitwise)\n");
  for (const Shape& s : shapes) {
    std::vector<float> x(s.n * s.k), w(s.k * s.m), b(s.m);
    for (auto* v : {&x, &w, &b})
      for (float& e : *v) e = dist(rng);
    std::vector<float> ref;
    run(scalar, s, x, w, b, &ref);
    const double err = reference_error(s, x, w, b, ref);
    const bool ref_ok = err < 1.0;
    failures += !ref_ok;
    std::printf("  %4zux%4zux%4zu  scalar vs double: %s (%.2f of bound)", s.n, s.k, s.m,
                ref_ok ? "ok" : "FAIL", err);
    for (int i = 1; i < tern::kIsaCount; ++i) {
      const tern::Isa isa = static_cast<tern::Isa>(i);
      if (!(tern::available_isas() & tern::isa_bit(isa))) continue;
      std::vector<float> got;
      run(tern::kernel_table(isa), s, x, w, b, &got);
      const bool same = got.size() == ref.size() &&
                        std::memcmp(got.data(), ref.data(), got.size() * sizeof(float)) == 0;
      failures += !same;
      std::printf("  %s: %s", tern::isa_name(isa), same ? "bit-identical" : "DIFFERS");
    }
    std::printf("\n");
  }
  std::printf("self-check: %s\n", failures ? "FAILED" : "passed");
  return failures ? 1 : 0;
}

}  // namespace

int main(int argc, char** argv) {
  bool check = false;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--self-check") == 0) {
      check = true;
    } else if (std::strcmp(argv[i], "--version") == 0) {
      std::printf("tern %s\n", tern::library_version());
      return 0;
    } else {
      std::fprintf(stderr, "usage: %s [--self-check | --version]\n", argv[0]);
      return 2;
    }
  }
  char model[96], detected[64], built[64], available[64];
  tern::cpu_model(model, sizeof model);
  tern::format_isa_mask(tern::cpu_isas(), detected, sizeof detected);
  tern::format_isa_mask(tern::built_isas(), built, sizeof built);
  tern::format_isa_mask(tern::available_isas(), available, sizeof available);
  std::printf("tern:           %s\n", tern::library_version());
  std::printf("CPU:            %s\n", model);
  std::printf("detected ISAs:  %s\n", detected);
  std::printf("built ISAs:     %s\n", built);
  std::printf("available ISAs: %s\n", available);
  const tern::KernelTable* table = nullptr;
  const tern::Status s = tern::active_kernels(&table);
  if (!s.ok()) {
    std::printf("active ISA:     none: %s\n", s.message());
    return 1;
  }
  tern::Isa isa;
  tern::SelectionReason reason;
  tern::active_isa(&isa, &reason);
  std::printf("active ISA:     %s (%s)\n", tern::isa_name(isa), tern::selection_reason_text(reason));
  return check ? self_check() : 0;
}
