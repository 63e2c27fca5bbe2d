// tern/kernels/elementwise.h — the element-wise work of training: bias,
// activations forward and backward, row softmax, losses, optimizer steps.
//
// Same rules as tern/kernels/kernels.h: every function checks its arguments
// and returns a Status, then runs the active ISA's kernel; matrices are
// row-major float32 with row strides in elements; results are bit-identical
// across ISAs (the exact formula of each, including the order of every
// reduction, is stated beside its declaration, and the vector kernels
// evaluate the same operations lane by lane). Transcendentals (exp, log,
// tanh) are tern's own polynomials evaluated with the same FMA sequence on
// every ISA, not libm, so their bits do not depend on the platform either.
//
// In-place use: where noted, an output may be the same view as an input
// (same pointer, same stride); partial overlap is rejected.
#pragma once

#include <cstddef>
#include <cstdint>

#include "tern/kernels/kernels.h"
#include "tern/platform/status.h"

namespace tern {

// Point-wise nonlinearities. kNone and kRelu can also be fused into gemm_rows.
enum class Pointwise : unsigned char {
  kIdentity = 0,
  kRelu = 1,     // x > 0 ? x : +0
  kGelu = 2,     // tanh form: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
  kTanh = 3,
  kSigmoid = 4,  // 1 / (1 + exp(-x))
};

// Y = Y + b (row-wise bias add), n x m.
Status add_bias_f32(std::size_t n, std::size_t m, const float* bias, float* y, std::size_t ldy);

// Y = f(X), n x m. In place allowed (y == x, ldy == ldx).
Status pointwise_forward_f32(Pointwise f, std::size_t n, std::size_t m, const float* x,
                             std::size_t ldx, float* y, std::size_t ldy);

// dX = dY * f'(X), n x m, where x is f's input and y = f(x) its output (each
// f uses whichever gives the cheaper exact-as-possible derivative: relu uses
// x, tanh and sigmoid use y, gelu uses x). dX may alias dY (in place).
Status pointwise_backward_f32(Pointwise f, std::size_t n, std::size_t m, const float* x,
                              std::size_t ldx, const float* y, std::size_t ldy, const float* dy,
                              std::size_t lddy, float* dx, std::size_t lddx);

// Y_i = softmax(X_i) for each row. In place allowed.
Status softmax_rows_f32(std::size_t n, std::size_t m, const float* x, std::size_t ldx, float* y,
                        std::size_t ldy);

// Softmax cross-entropy over n rows of m logits with integer labels:
//   loss_i = logsumexp(Z_i) - Z_i[label_i]
//   dZ_i   = (softmax(Z_i) - onehot(label_i)) * grad_scale   (grad_scale is
//            usually 1/n for a mean loss)
// *loss_sum = sum of loss_i over rows in increasing i (float additions).
// dZ may alias Z (in place). A label >= m is kInvalidArgument; non-finite
// logits are kNonFinite (nothing is written in either case).
Status softmax_cross_entropy_f32(std::size_t n, std::size_t m, const float* z, std::size_t ldz,
                                 const std::uint32_t* labels, float grad_scale, float* dz,
                                 std::size_t lddz, float* loss_sum);

// Squared error: loss = 0.5 * sum_ij (P_ij - T_ij)^2, grad = (P - T) * grad_scale.
// *loss_sum as above. grad may alias pred.
Status mse_f32(std::size_t n, std::size_t m, const float* pred, std::size_t ldp,
               const float* target, std::size_t ldt, float grad_scale, float* grad,
               std::size_t ldg, float* loss_sum);

struct SgdParams {
  float learning_rate = 0.01f;
  float momentum = 0.0f;      // 0 disables the velocity buffer's effect
  float weight_decay = 0.0f;  // L2, added to the gradient
};
// v = momentum * v + (g + weight_decay * w); w = w - learning_rate * v.
Status sgd_momentum_f32(std::size_t count, float* w, const float* g, float* velocity,
                        const SgdParams& params);

struct AdamParams {
  float learning_rate = 1e-3f;
  float beta1 = 0.9f;
  float beta2 = 0.999f;
  float epsilon = 1e-8f;
  float weight_decay = 0.0f;
  bool decoupled = false;   // false: Adam with L2 in the gradient; true: AdamW
  std::uint32_t step = 1;   // 1-based step number, for bias correction
};
Status adam_f32(std::size_t count, float* w, const float* g, float* m, float* v,
                const AdamParams& params);

}  // namespace tern
