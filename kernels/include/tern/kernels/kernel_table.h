// SPDX-License-Identifier: Apache-2.0
// tern/kernels/kernel_table.h — the per-ISA tables of unchecked kernels.
//
// Internal to tern's own libraries, not user API: the runtime calls these
// entries in its inner loops after checking every shape once, when a model
// is built. Programs use the checked operations of tern/kernels/dense.h and
// tern/kernels/elementwise.h, and pick the ISA with
// tern/kernels/isa_selection.h. The header is installed only because the
// runtime's headers name the type (they forward-declare struct KernelTable).
//
// Each ISA compiled into tern contributes one KernelTable: a struct of plain
// function pointers, filled at compile time in that ISA's own translation
// units (compiled with that ISA's flags, which nothing else sees) — except
// the scalar reference's, a constant below.
//
// Code size: a table that is referenced keeps every kernel it points to
// linked. A build with the scalar table only (TERN_SINGLE_KERNEL_TABLE,
// e.g. a Cortex-M) therefore never takes the table's address on the
// kernel-calling paths: kernels_of() returns the constant table, the
// compiler turns each call through it into a direct call, and the linker
// (--gc-sections) keeps only the kernels a program calls.
//
// The entries are *unchecked*: they trust their arguments. A `scratch`
// argument is either null (where the checked operation allows it) or holds
// the floats the matching *_scratch_floats() function of dense.h gives. Each
// entry computes exactly the formula stated beside its checked counterpart.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

#include "tern/kernels/dense.h"
#include "tern/kernels/elementwise.h"
#include "tern/kernels/kernel_build.h"
#include "tern/platform/isa.h"
#include "tern/platform/status.h"

namespace tern {

struct KernelTable {
  Isa isa;
  void (*gemm_rows_f32)(std::size_t n, std::size_t k, std::size_t m, const float* x,
                        std::size_t ldx, const float* w, std::size_t ldw, const float* bias,
                        float* y, std::size_t ldy, Activation act, float* scratch);
  void (*rank1_accumulate_f32)(std::size_t n, std::size_t k, std::size_t m, float alpha,
                               const float* u, std::size_t ldu, const float* d, std::size_t ldd,
                               float* g, std::size_t ldg, float* scratch);
  void (*rank1_gradient_f32)(std::size_t n, std::size_t k, std::size_t m, float alpha,
                             const float* u, std::size_t ldu, const float* d, std::size_t ldd,
                             float* g, std::size_t ldg, float* scratch);
  void (*rank1_sgd_update_f32)(std::size_t n, std::size_t k, std::size_t m, float alpha,
                               const float* u, std::size_t ldu, const float* d, std::size_t ldd,
                               float* w, std::size_t ldw, float* velocity, std::size_t ldv,
                               const SgdParams& params);
  void (*column_sums_accumulate_f32)(std::size_t n, std::size_t m, float alpha, const float* d,
                                     std::size_t ldd, float* g);
  void (*backprop_rows_f32)(std::size_t n, std::size_t k, std::size_t m, const float* d,
                            std::size_t ldd, const float* w, std::size_t ldw, float* dx,
                            std::size_t lddx);

  // Element-wise kernels (tern/kernels/elementwise.h). An operand the chosen
  // Pointwise does not use may be null; `loss_sum` is always written.
  void (*add_bias_f32)(std::size_t n, std::size_t m, const float* bias, float* y,
                       std::size_t ldy);
  void (*pointwise_forward_f32)(Pointwise f, std::size_t n, std::size_t m, const float* x,
                                std::size_t ldx, float* y, std::size_t ldy);
  void (*pointwise_backward_f32)(Pointwise f, std::size_t n, std::size_t m, const float* x,
                                 std::size_t ldx, const float* y, std::size_t ldy,
                                 const float* dy, std::size_t lddy, float* dx, std::size_t lddx);
  void (*softmax_rows_f32)(std::size_t n, std::size_t m, const float* x, std::size_t ldx,
                           float* y, std::size_t ldy);
  void (*softmax_cross_entropy_f32)(std::size_t n, std::size_t m, const float* z,
                                    std::size_t ldz, const std::uint32_t* labels,
                                    float grad_scale, float* dz, std::size_t lddz,
                                    float* loss_sum);
  void (*mse_f32)(std::size_t n, std::size_t m, const float* pred, std::size_t ldp,
                  const float* target, std::size_t ldt, float grad_scale, float* grad,
                  std::size_t ldg, float* loss_sum);
  void (*sgd_momentum_f32)(std::size_t count, float* w, const float* g, float* velocity,
                           const SgdParams& params);
  void (*adam_f32)(std::size_t count, float* w, const float* g, float* m, float* v,
                   const AdamStepConstants& c);
  // stddev finite, >= 0, and stddev * sqrt(2) finite.
  void (*add_gaussian_noise_f32)(std::size_t count, float* g, float stddev, std::uint64_t key,
                                 std::uint64_t first_index);
};

namespace kernels::scalar {
#include "tern/kernels/isa_kernels-inl.h"
// Built in every configuration, and known here at compile time.
inline constexpr KernelTable kTable = make_table<Isa::kScalar>();
}  // namespace kernels::scalar

// The table of `isa`, or nullptr when that ISA was not compiled in. Does not
// look at the CPU: calling into a table the CPU cannot run faults. Links
// every built kernel: code that calls kernels uses kernels_of().
const KernelTable* kernel_table(Isa isa);

// The active ISA (tern/kernels/isa_selection.h), selecting it first if
// needed. Fails (and keeps failing on every call) while TERN_ISA names an ISA
// that cannot be used.
Status active_kernel_isa(Isa* out);
// The active table: active_kernel_isa(), then kernel_table().
Status active_kernels(const KernelTable** out);

namespace kernels {
// The built tables by ISA (nullptr: not built), for kernels_of().
extern const std::array<const KernelTable*, kIsaCount> kTableByIsa;
}  // namespace kernels

// The kernels of `isa`, an ISA this build has (the active one, or the one a
// model was built with): what tern's libraries call through.
inline const KernelTable& kernels_of(Isa isa) {
#if TERN_SINGLE_KERNEL_TABLE
  static_cast<void>(isa);  // the only one there is
  return kernels::scalar::kTable;
#else
  return *kernels::kTableByIsa[static_cast<int>(isa)];
#endif
}

}  // namespace tern
