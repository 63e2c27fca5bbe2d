// SPDX-License-Identifier: Apache-2.0
// Checked entry points of the element-wise kernels: validate once, compute
// any per-call scalars once (so every ISA's kernel sees the same ones), then
// call the active table. Nothing is written when a check fails.
#include <cmath>
#include <cstdint>

#include "active_table_call.h"
#include "checks.h"
#include "math_constants.h"
#include "tern/kernels/elementwise.h"
#include "tern/kernels/kernel_table.h"

namespace tern {
using kernels::call_active;
using kernels::check_disjoint;
using kernels::check_finite;
using kernels::check_outputs_disjoint;
using kernels::check_same_or_disjoint;
using kernels::check_view;
using kernels::Extent;

// The name of an activation, for messages here and in the layers above.
const char* pointwise_name(Pointwise f) {
  switch (f) {
    case Pointwise::kIdentity: return "identity";
    case Pointwise::kRelu: return "relu";
    case Pointwise::kGelu: return "gelu";
    case Pointwise::kTanh: return "tanh";
    case Pointwise::kSigmoid: return "sigmoid";
  }
  return "unknown";
}

namespace {

Status check_pointwise(const char* op, Pointwise f) {
  switch (f) {
    case Pointwise::kIdentity:
    case Pointwise::kRelu:
    case Pointwise::kGelu:
    case Pointwise::kTanh:
    case Pointwise::kSigmoid: return Status();
  }
  return Status::error(StatusCode::kInvalidArgument, "%s: unknown Pointwise value %d", op,
                       static_cast<int>(f));
}

Status check_loss_sum(const char* op, const float* loss_sum, Extent* extent) {
  if (loss_sum == nullptr) {
    return Status::error(StatusCode::kInvalidArgument, "%s: loss_sum is null", op);
  }
  return check_view(op, "loss_sum", loss_sum, 1, 1, 1, extent);
}

// base^e by repeated squaring: IEEE double multiplications only, so the
// result is the same on every machine (libm's pow need not be).
double power(double base, std::uint32_t e) {
  double result = 1.0;
  while (e != 0) {
    if (e & 1u) result *= base;
    base *= base;
    e >>= 1;
  }
  return result;
}

Status validate_adam(const char* op, const AdamParams& p) {
  if (p.step == 0) {
    return Status::error(StatusCode::kInvalidArgument,
                         "%s: step is 0; Adam steps count from 1 (bias correction divides by "
                         "1 - beta^step)",
                         op);
  }
  TERN_RETURN_IF_ERROR(check_finite(op, "learning_rate", p.learning_rate));
  TERN_RETURN_IF_ERROR(check_finite(op, "weight_decay", p.weight_decay));
  if (!(p.beta1 >= 0.0f && p.beta1 < 1.0f)) {
    return Status::error(StatusCode::kInvalidArgument, "%s: beta1 is %g, must be in [0, 1)", op,
                         static_cast<double>(p.beta1));
  }
  if (!(p.beta2 >= 0.0f && p.beta2 < 1.0f)) {
    return Status::error(StatusCode::kInvalidArgument, "%s: beta2 is %g, must be in [0, 1)", op,
                         static_cast<double>(p.beta2));
  }
  if (!(p.epsilon > 0.0f) || !std::isfinite(p.epsilon)) {
    return Status::error(StatusCode::kInvalidArgument,
                         "%s: epsilon is %g, must be finite and > 0", op,
                         static_cast<double>(p.epsilon));
  }
  return Status();
}

void fill_adam_constants(const AdamParams& p, AdamStepConstants* c) {
  const double bc1 = 1.0 - power(p.beta1, p.step);
  const double bc2 = 1.0 - power(p.beta2, p.step);
  c->beta1 = p.beta1;
  c->one_minus_beta1 = 1.0f - p.beta1;
  c->beta2 = p.beta2;
  c->one_minus_beta2 = 1.0f - p.beta2;
  c->epsilon = p.epsilon;
  c->neg_step = static_cast<float>(-static_cast<double>(p.learning_rate) / bc1);
  c->inv_sqrt_bc2 = static_cast<float>(1.0 / std::sqrt(bc2));
  c->l2 = p.decoupled ? 0.0f : p.weight_decay;
  c->decay = p.decoupled ? static_cast<float>(1.0 - static_cast<double>(p.learning_rate) *
                                                        static_cast<double>(p.weight_decay))
                         : 1.0f;
}

}  // namespace

Status add_bias_f32(std::size_t n, std::size_t m, const float* bias, float* y, std::size_t ldy) {
  const char* op = "add_bias_f32";
  if (n == 0 || m == 0) return Status();
  Extent eb, ey;
  TERN_RETURN_IF_ERROR(check_view(op, "bias", bias, 1, m, m, &eb));
  TERN_RETURN_IF_ERROR(check_view(op, "Y", y, n, m, ldy, &ey));
  TERN_RETURN_IF_ERROR(check_disjoint(op, "Y", ey, "bias", eb));
  return call_active<&KernelTable::add_bias_f32>(n, m, bias, y, ldy);
}

Status pointwise_forward_f32(Pointwise f, std::size_t n, std::size_t m, const float* x,
                             std::size_t ldx, float* y, std::size_t ldy) {
  const char* op = "pointwise_forward_f32";
  TERN_RETURN_IF_ERROR(check_pointwise(op, f));
  if (n == 0 || m == 0) return Status();
  Extent ex, ey;
  TERN_RETURN_IF_ERROR(check_view(op, "X", x, n, m, ldx, &ex));
  TERN_RETURN_IF_ERROR(check_view(op, "Y", y, n, m, ldy, &ey));
  TERN_RETURN_IF_ERROR(check_same_or_disjoint(op, "Y", ey, "X", ex));
  return call_active<&KernelTable::pointwise_forward_f32>(f, n, m, x, ldx, y, ldy);
}

Status pointwise_backward_f32(Pointwise f, std::size_t n, std::size_t m, const float* x,
                              std::size_t ldx, const float* y, std::size_t ldy, const float* dy,
                              std::size_t lddy, float* dx, std::size_t lddx) {
  const char* op = "pointwise_backward_f32";
  TERN_RETURN_IF_ERROR(check_pointwise(op, f));
  if (n == 0 || m == 0) return Status();
  const bool uses_x = f == Pointwise::kRelu || f == Pointwise::kGelu;
  const bool uses_y = f == Pointwise::kTanh || f == Pointwise::kSigmoid;
  Extent ex, ey, edy, edx;
  if (uses_x) TERN_RETURN_IF_ERROR(check_view(op, "X", x, n, m, ldx, &ex));
  if (uses_y) TERN_RETURN_IF_ERROR(check_view(op, "Y", y, n, m, ldy, &ey));
  TERN_RETURN_IF_ERROR(check_view(op, "dY", dy, n, m, lddy, &edy));
  TERN_RETURN_IF_ERROR(check_view(op, "dX", dx, n, m, lddx, &edx));
  TERN_RETURN_IF_ERROR(check_same_or_disjoint(op, "dX", edx, "dY", edy));
  TERN_RETURN_IF_ERROR(check_same_or_disjoint(op, "dX", edx, "X", ex));
  TERN_RETURN_IF_ERROR(check_same_or_disjoint(op, "dX", edx, "Y", ey));
  return call_active<&KernelTable::pointwise_backward_f32>(f, n, m, x, ldx, y, ldy, dy, lddy, dx,
                     lddx);
}

Status softmax_rows_f32(std::size_t n, std::size_t m, const float* x, std::size_t ldx, float* y,
                        std::size_t ldy) {
  const char* op = "softmax_rows_f32";
  if (n == 0 || m == 0) return Status();
  Extent ex, ey;
  TERN_RETURN_IF_ERROR(check_view(op, "X", x, n, m, ldx, &ex));
  TERN_RETURN_IF_ERROR(check_view(op, "Y", y, n, m, ldy, &ey));
  TERN_RETURN_IF_ERROR(check_same_or_disjoint(op, "Y", ey, "X", ex));
  return call_active<&KernelTable::softmax_rows_f32>(n, m, x, ldx, y, ldy);
}

Status softmax_cross_entropy_f32(std::size_t n, std::size_t m, const float* z, std::size_t ldz,
                                 const std::uint32_t* labels, float grad_scale, float* dz,
                                 std::size_t lddz, float* loss_sum) {
  const char* op = "softmax_cross_entropy_f32";
  Extent el, ez, elab, edz;
  TERN_RETURN_IF_ERROR(check_loss_sum(op, loss_sum, &el));
  TERN_RETURN_IF_ERROR(check_finite(op, "grad_scale", grad_scale));
  if (n == 0) {
    *loss_sum = 0.0f;
    return Status();
  }
  TERN_RETURN_IF_ERROR(check_view(op, "Z", z, n, m, ldz, &ez));
  TERN_RETURN_IF_ERROR(check_view(op, "labels", labels, 1, n, n, &elab));
  TERN_RETURN_IF_ERROR(check_view(op, "dZ", dz, n, m, lddz, &edz));
  TERN_RETURN_IF_ERROR(check_same_or_disjoint(op, "dZ", edz, "Z", ez));
  TERN_RETURN_IF_ERROR(check_disjoint(op, "dZ", edz, "labels", elab));
  TERN_RETURN_IF_ERROR(check_disjoint(op, "loss_sum", el, "Z", ez));
  TERN_RETURN_IF_ERROR(check_disjoint(op, "loss_sum", el, "labels", elab));
  TERN_RETURN_IF_ERROR(check_outputs_disjoint(op, "dZ", edz, "loss_sum", el));
  for (std::size_t i = 0; i < n; ++i) {
    if (labels[i] >= m) {
      return Status::error(StatusCode::kInvalidArgument,
                           "%s: label %u of row %zu is out of range for %zu classes", op,
                           static_cast<unsigned>(labels[i]), i, m);
    }
  }
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t j = 0; j < m; ++j) {
      const float v = z[i * ldz + j];
      if (!std::isfinite(v)) {
        return Status::error(StatusCode::kNonFinite, "%s: logit Z[%zu][%zu] is %g", op, i, j,
                             static_cast<double>(v));
      }
    }
  }
  return call_active<&KernelTable::softmax_cross_entropy_f32>(n, m, z, ldz, labels, grad_scale, dz,
                     lddz, loss_sum);
}

Status mse_f32(std::size_t n, std::size_t m, const float* pred, std::size_t ldp,
               const float* target, std::size_t ldt, float grad_scale, float* grad,
               std::size_t ldg, float* loss_sum) {
  const char* op = "mse_f32";
  Extent el, ep, et, eg;
  TERN_RETURN_IF_ERROR(check_loss_sum(op, loss_sum, &el));
  TERN_RETURN_IF_ERROR(check_finite(op, "grad_scale", grad_scale));
  if (n == 0 || m == 0) {
    *loss_sum = 0.0f;
    return Status();
  }
  TERN_RETURN_IF_ERROR(check_view(op, "P", pred, n, m, ldp, &ep));
  TERN_RETURN_IF_ERROR(check_view(op, "T", target, n, m, ldt, &et));
  TERN_RETURN_IF_ERROR(check_view(op, "grad", grad, n, m, ldg, &eg));
  TERN_RETURN_IF_ERROR(check_same_or_disjoint(op, "grad", eg, "P", ep));
  TERN_RETURN_IF_ERROR(check_same_or_disjoint(op, "grad", eg, "T", et));
  TERN_RETURN_IF_ERROR(check_disjoint(op, "loss_sum", el, "P", ep));
  TERN_RETURN_IF_ERROR(check_disjoint(op, "loss_sum", el, "T", et));
  TERN_RETURN_IF_ERROR(check_outputs_disjoint(op, "grad", eg, "loss_sum", el));
  return call_active<&KernelTable::mse_f32>(n, m, pred, ldp, target, ldt, grad_scale, grad, ldg,
                     loss_sum);
}

Status sgd_momentum_f32(std::size_t count, float* w, const float* g, float* velocity,
                        const SgdParams& params) {
  const char* op = "sgd_momentum_f32";
  TERN_RETURN_IF_ERROR(check_finite(op, "learning_rate", params.learning_rate));
  TERN_RETURN_IF_ERROR(check_finite(op, "momentum", params.momentum));
  TERN_RETURN_IF_ERROR(check_finite(op, "weight_decay", params.weight_decay));
  if (count == 0) return Status();
  Extent ew, eg, ev;
  TERN_RETURN_IF_ERROR(check_view(op, "w", w, 1, count, count, &ew));
  TERN_RETURN_IF_ERROR(check_view(op, "g", g, 1, count, count, &eg));
  if (params.momentum == 0.0f) {  // plain SGD never touches the velocity
    TERN_RETURN_IF_ERROR(check_disjoint(op, "w", ew, "g", eg));
    return call_active<&KernelTable::sgd_momentum_f32>(count, w, g, velocity, params);
  }
  TERN_RETURN_IF_ERROR(check_view(op, "velocity", velocity, 1, count, count, &ev));
  TERN_RETURN_IF_ERROR(check_disjoint(op, "w", ew, "g", eg));
  TERN_RETURN_IF_ERROR(check_disjoint(op, "velocity", ev, "g", eg));
  TERN_RETURN_IF_ERROR(check_outputs_disjoint(op, "w", ew, "velocity", ev));
  return call_active<&KernelTable::sgd_momentum_f32>(count, w, g, velocity, params);
}

Status adam_step_constants(const AdamParams& params, AdamStepConstants* out) {
  const char* op = "adam_step_constants";
  if (out == nullptr) {
    return Status::error(StatusCode::kInvalidArgument, "%s: out is null", op);
  }
  TERN_RETURN_IF_ERROR(validate_adam(op, params));
  fill_adam_constants(params, out);
  return Status();
}

Status adam_f32(std::size_t count, float* w, const float* g, float* m, float* v,
                const AdamParams& params) {
  const char* op = "adam_f32";
  TERN_RETURN_IF_ERROR(validate_adam(op, params));
  if (count == 0) return Status();
  Extent ew, eg, em, ev;
  TERN_RETURN_IF_ERROR(check_view(op, "w", w, 1, count, count, &ew));
  TERN_RETURN_IF_ERROR(check_view(op, "g", g, 1, count, count, &eg));
  TERN_RETURN_IF_ERROR(check_view(op, "m", m, 1, count, count, &em));
  TERN_RETURN_IF_ERROR(check_view(op, "v", v, 1, count, count, &ev));
  TERN_RETURN_IF_ERROR(check_disjoint(op, "w", ew, "g", eg));
  TERN_RETURN_IF_ERROR(check_disjoint(op, "m", em, "g", eg));
  TERN_RETURN_IF_ERROR(check_disjoint(op, "v", ev, "g", eg));
  TERN_RETURN_IF_ERROR(check_outputs_disjoint(op, "w", ew, "m", em));
  TERN_RETURN_IF_ERROR(check_outputs_disjoint(op, "w", ew, "v", ev));
  TERN_RETURN_IF_ERROR(check_outputs_disjoint(op, "m", em, "v", ev));
  AdamStepConstants c;
  fill_adam_constants(params, &c);
  return call_active<&KernelTable::adam_f32>(count, w, g, m, v, c);
}

Status add_gaussian_noise_f32(std::size_t count, float* g, float stddev, std::uint64_t key,
                              std::uint64_t first_index) {
  const char* op = "add_gaussian_noise_f32";
  if (!(stddev >= 0.0f) || !std::isfinite(stddev)) {
    return Status::error(StatusCode::kInvalidArgument,
                         "%s: stddev is %g, must be finite and >= 0", op,
                         static_cast<double>(stddev));
  }
  const float scale = stddev * kernels::math::kSqrt2;
  if (!std::isfinite(scale)) {
    return Status::error(StatusCode::kInvalidArgument,
                         "%s: stddev %g times sqrt(2) overflows float", op,
                         static_cast<double>(stddev));
  }
  if (count == 0) return Status();
  if (std::uint64_t{count} - 1 > ~first_index) {
    return Status::error(StatusCode::kInvalidArgument,
                         "%s: first_index %llu + count %llu runs past 2^64 element indices", op,
                         static_cast<unsigned long long>(first_index),
                         static_cast<unsigned long long>(count));
  }
  Extent eg;
  TERN_RETURN_IF_ERROR(check_view(op, "g", g, 1, count, count, &eg));
  return call_active<&KernelTable::add_gaussian_noise_f32>(count, g, stddev, key, first_index);
}

}  // namespace tern
