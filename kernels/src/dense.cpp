// SPDX-License-Identifier: Apache-2.0
// Checked entry points: validate once, then call the active table.
#include <initializer_list>

#include "active_table_call.h"
#include "checks.h"
#include "tern/kernels/dense.h"
#include "tern/kernels/kernel_table.h"

namespace tern {
using kernels::call_active;
using kernels::check_disjoint;
using kernels::check_finite;
using kernels::check_outputs_disjoint;
using kernels::check_view;
using kernels::Extent;
using kernels::overlaps;

namespace {

// Optional scratch: null is fine; otherwise it must hold `need` floats and
// must not overlap any operand.
Status check_scratch(const char* op, const float* scratch, std::size_t scratch_floats,
                     std::size_t need, const char* formula,
                     std::initializer_list<const Extent*> operands) {
  if (scratch == nullptr || need == 0) return Status();
  if (scratch_floats < need) {
    return Status::error(StatusCode::kOutOfMemory, "%s: scratch holds %zu floats, needs %zu (%s)",
                         op, scratch_floats, need, formula);
  }
  Extent es;
  TERN_RETURN_IF_ERROR(check_view(op, "scratch", scratch, 1, need, need, &es));
  for (const Extent* e : operands) {
    if (overlaps(es, *e)) {
      return Status::error(StatusCode::kInvalidArgument, "%s: scratch overlaps an operand", op);
    }
  }
  return Status();
}

}  // namespace

Status gemm_rows_f32(std::size_t n, std::size_t k, std::size_t m, const float* x,
                     std::size_t ldx, const float* w, std::size_t ldw, const float* bias,
                     float* y, std::size_t ldy, Activation act, float* scratch,
                     std::size_t scratch_floats) {
  const char* op = "gemm_rows_f32";
  if (act != Activation::kNone && act != Activation::kRelu) {
    return Status::error(StatusCode::kInvalidArgument, "%s: unknown activation %d", op,
                         static_cast<int>(act));
  }
  if (n == 0 || m == 0) return Status();
  Extent ex, ew, eb, ey;
  TERN_RETURN_IF_ERROR(check_view(op, "X", x, n, k, ldx, &ex));
  TERN_RETURN_IF_ERROR(check_view(op, "W", w, k, m, ldw, &ew));
  if (bias) TERN_RETURN_IF_ERROR(check_view(op, "bias", bias, 1, m, m, &eb));
  TERN_RETURN_IF_ERROR(check_view(op, "Y", y, n, m, ldy, &ey));
  TERN_RETURN_IF_ERROR(check_disjoint(op, "Y", ey, "X", ex));
  TERN_RETURN_IF_ERROR(check_disjoint(op, "Y", ey, "W", ew));
  TERN_RETURN_IF_ERROR(check_disjoint(op, "Y", ey, "bias", eb));
  TERN_RETURN_IF_ERROR(check_scratch(op, scratch, scratch_floats, gemm_rows_scratch_floats(k),
                                     "gemm_rows_scratch_floats(k)", {&ex, &ew, &eb, &ey}));
  return call_active<&KernelTable::gemm_rows_f32>(n, k, m, x, ldx, w, ldw, bias, y, ldy, act,
                     scratch);
}

namespace {

// rank1_accumulate_f32 and rank1_gradient_f32 take the same operands: the
// checks of both, then the table entry kEntry.
using Rank1Kernel = void (*)(std::size_t, std::size_t, std::size_t, float, const float*,
                             std::size_t, const float*, std::size_t, float*, std::size_t, float*);
using Rank1Entry = Rank1Kernel KernelTable::*;
template <Rank1Entry kEntry>
Status checked_rank1(const char* op, std::size_t n, std::size_t k,
                     std::size_t m, float alpha, const float* u, std::size_t ldu, const float* d,
                     std::size_t ldd, float* g, std::size_t ldg, float* scratch,
                     std::size_t scratch_floats) {
  if (k == 0 || m == 0) return Status();
  Extent eu, ed, eg;
  TERN_RETURN_IF_ERROR(check_view(op, "U", u, n, k, ldu, &eu));
  TERN_RETURN_IF_ERROR(check_view(op, "D", d, n, m, ldd, &ed));
  TERN_RETURN_IF_ERROR(check_view(op, "G", g, k, m, ldg, &eg));
  TERN_RETURN_IF_ERROR(check_disjoint(op, "G", eg, "U", eu));
  TERN_RETURN_IF_ERROR(check_disjoint(op, "G", eg, "D", ed));
  TERN_RETURN_IF_ERROR(check_scratch(op, scratch, scratch_floats,
                                     rank1_accumulate_scratch_floats(n),
                                     "rank1_accumulate_scratch_floats(n)", {&eu, &ed, &eg}));
  return call_active<kEntry>(n, k, m, alpha, u, ldu, d, ldd, g, ldg, scratch);
}

}  // namespace

Status rank1_accumulate_f32(std::size_t n, std::size_t k, std::size_t m, float alpha,
                            const float* u, std::size_t ldu, const float* d, std::size_t ldd,
                            float* g, std::size_t ldg, float* scratch,
                            std::size_t scratch_floats) {
  return checked_rank1<&KernelTable::rank1_accumulate_f32>("rank1_accumulate_f32", n, k, m,
                                                             alpha, u, ldu, d, ldd, g, ldg, scratch, scratch_floats);
}

Status rank1_gradient_f32(std::size_t n, std::size_t k, std::size_t m, float alpha,
                          const float* u, std::size_t ldu, const float* d, std::size_t ldd,
                          float* g, std::size_t ldg, float* scratch,
                          std::size_t scratch_floats) {
  return checked_rank1<&KernelTable::rank1_gradient_f32>("rank1_gradient_f32", n, k, m, alpha,
                                                           u, ldu, d, ldd, g, ldg, scratch, scratch_floats);
}

Status rank1_sgd_update_f32(std::size_t n, std::size_t k, std::size_t m, float alpha,
                            const float* u, std::size_t ldu, const float* d, std::size_t ldd,
                            float* w, std::size_t ldw, float* velocity, std::size_t ldv,
                            const SgdParams& params) {
  const char* op = "rank1_sgd_update_f32";
  TERN_RETURN_IF_ERROR(check_finite(op, "alpha", alpha));
  TERN_RETURN_IF_ERROR(check_finite(op, "learning_rate", params.learning_rate));
  TERN_RETURN_IF_ERROR(check_finite(op, "momentum", params.momentum));
  TERN_RETURN_IF_ERROR(check_finite(op, "weight_decay", params.weight_decay));
  if (k == 0 || m == 0) return Status();
  Extent eu, ed, ew, ev;
  TERN_RETURN_IF_ERROR(check_view(op, "U", u, n, k, ldu, &eu));
  TERN_RETURN_IF_ERROR(check_view(op, "D", d, n, m, ldd, &ed));
  TERN_RETURN_IF_ERROR(check_view(op, "W", w, k, m, ldw, &ew));
  TERN_RETURN_IF_ERROR(check_disjoint(op, "W", ew, "U", eu));
  TERN_RETURN_IF_ERROR(check_disjoint(op, "W", ew, "D", ed));
  if (params.momentum != 0.0f) {  // plain SGD never touches the velocity
    TERN_RETURN_IF_ERROR(check_view(op, "velocity", velocity, k, m, ldv, &ev));
    TERN_RETURN_IF_ERROR(check_disjoint(op, "velocity", ev, "U", eu));
    TERN_RETURN_IF_ERROR(check_disjoint(op, "velocity", ev, "D", ed));
    TERN_RETURN_IF_ERROR(check_outputs_disjoint(op, "W", ew, "velocity", ev));
  }
  return call_active<&KernelTable::rank1_sgd_update_f32>(n, k, m, alpha, u, ldu, d, ldd, w, ldw,
                     velocity, ldv, params);
}

Status column_sums_accumulate_f32(std::size_t n, std::size_t m, float alpha, const float* d,
                                  std::size_t ldd, float* g) {
  const char* op = "column_sums_accumulate_f32";
  if (m == 0) return Status();
  Extent ed, eg;
  TERN_RETURN_IF_ERROR(check_view(op, "D", d, n, m, ldd, &ed));
  TERN_RETURN_IF_ERROR(check_view(op, "g", g, 1, m, m, &eg));
  TERN_RETURN_IF_ERROR(check_disjoint(op, "g", eg, "D", ed));
  return call_active<&KernelTable::column_sums_accumulate_f32>(n, m, alpha, d, ldd, g);
}

Status backprop_rows_f32(std::size_t n, std::size_t k, std::size_t m, const float* d,
                         std::size_t ldd, const float* w, std::size_t ldw, float* dx,
                         std::size_t lddx) {
  const char* op = "backprop_rows_f32";
  if (n == 0 || k == 0) return Status();
  Extent ed, ew, edx;
  TERN_RETURN_IF_ERROR(check_view(op, "D", d, n, m, ldd, &ed));
  TERN_RETURN_IF_ERROR(check_view(op, "W", w, k, m, ldw, &ew));
  TERN_RETURN_IF_ERROR(check_view(op, "dX", dx, n, k, lddx, &edx));
  TERN_RETURN_IF_ERROR(check_disjoint(op, "dX", edx, "D", ed));
  TERN_RETURN_IF_ERROR(check_disjoint(op, "dX", edx, "W", ew));
  return call_active<&KernelTable::backprop_rows_f32>(n, k, m, d, ldd, w, ldw, dx, lddx);
}

}  // namespace tern
