// SPDX-License-Identifier: Apache-2.0
// tern/kernels/elementwise.h — the element-wise work of training: bias,
// activations forward and backward, row softmax, losses, optimizer steps.
//
// Same rules as tern/kernels/dense.h: every function checks its arguments
// and returns a Status, then runs the active ISA's kernel; matrices are
// row-major float32 with row strides in elements; results are bit-identical
// across ISAs (the exact formula of each, including the order of every
// reduction, is stated beside its declaration, and the vector kernels
// evaluate the same operations lane by lane). Transcendentals (exp, log,
// tanh) are tern's own polynomials evaluated with the same FMA sequence on
// every ISA, not libm, so their bits do not depend on the platform either.
//
// Notation in the formulas below: every +, -, *, / and sqrt is one IEEE
// float operation rounded to nearest; fma(a, b, c) is a*b + c rounded once.
// Nothing else is used (no reciprocal or rsqrt estimates, no libm), so each
// formula has exactly one result on any IEEE-754 machine. NaN results are NaN
// on every ISA; which NaN (its payload) is not part of the contract.
//
// In-place use: an output may be the same view as an input (same pointer,
// same stride) wherever each output element depends only on input elements
// at the same index — and for softmax, whose row is read before it is
// written. Partial overlap is rejected. Optimizer buffers must be disjoint.
//
// ---------------------------------------------------------------------------
// Row reductions: 16 virtual lanes
// ---------------------------------------------------------------------------
// A sum along a row (softmax, cross-entropy, squared error) is computed in an
// order that does not depend on the vector width:
//     l[0..15] = +0
//     for j = 0 .. m-1:  l[j % 16] = l[j % 16] + t_j   (or fma, where stated)
//     for k < 8: l[k] = l[k] + l[k+8]
//     for k < 4: l[k] = l[k] + l[k+4]
//     for k < 2: l[k] = l[k] + l[k+2]
//     sum = l[0] + l[1]
// AVX-512 keeps l in one register, AVX2 in two (4-lane NEON would use
// four), scalar code a float[16]. Vector tails add +0 in lanes past the
// row's end: a lane that starts at +0 can never hold -0 (+0 + -0 = +0, and
// exact cancellation gives +0 when rounding to nearest), so adding +0 never
// changes it. A row maximum is the same in any order except for the sign of
// a zero maximum, and that sign cannot change a result: the maximum is only
// ever subtracted from a row element, exp(+0) = exp(-0) = 1, and
// log(s) - (+-0) is the same for s >= 1.
#pragma once

#include <cstddef>
#include <cstdint>

#include "tern/kernels/dense.h"
#include "tern/platform/status.h"

namespace tern {

// ---------------------------------------------------------------------------
// Transcendentals: the exact functions every kernel evaluates lane by lane
// ---------------------------------------------------------------------------
// These are the scalar reference. The vector kernels inline the same
// operation sequence (constants: kernels/src/math_constants.h). Measured
// accuracy against exp/tanh/log in double: see docs/kernels.md ("Element-wise
// kernels") and tests/kernels/test_transcendentals.cpp, which asserts it.

// exp(x):
//   NaN -> the same NaN.   xc = min(max(x, -104), 89)
//   t = fma(xc, log2e, 1.5*2^23); n = t - 1.5*2^23     (n = round(xc log2 e))
//   r = fma(-n, ln2_hi, xc); r = fma(-n, ln2_lo, r)     (Cody-Waite, |r| <= 0.35)
//   p = fma(fma(fma(fma(fma(fma(c6,r,c5),r,c4),r,c3),r,c2),r,1),r,1)
//   n1 = floor(0.5 n); n2 = n - n1                      (both in [-75, 65])
//   exp = (p * 2^n1) * 2^n2     2^k built from its exponent bits
// The first product is exact, the second rounds once: results overflow to
// +inf above ~88.72 and go through the subnormals to +0 below ~-103.97, as
// expf does. exp(+-0) = 1 exactly, exp(-inf) = +0, exp(+inf) = +inf.
float exp_f32(float x);

// log(x), x > 0:
//   NaN -> the same NaN; x < 0 -> NaN; +0 and -0 -> -inf; +inf -> +inf.
//   Subnormal x is first scaled by 2^23 (and e reduced by 23).
//   e, f from the bits: x = 2^e f, f in [sqrt(1/2), sqrt(2))
//   t = f - 1 (exact); s = t / (2 + t); z = s*s
//   R = z * fma(fma(fma(2/9, z, 2/7), z, 2/5), z, 2/3)
//   h = (0.5 t) * t; b = fma(-s, h + R, h)
//   log = fma(e, ln2_hi, t - fma(-e, ln2_lo, b))
float log_f32(float x);

// tanh(x):
//   a = |x|
//   a <  0.625: z = a*a; P = t5 z^5 + ... + t0 by fma Horner; y = fma(a*z, P, a)
//   a >= 0.625: y = 1 - 2 / (exp(2a) + 1)
//   tanh = y with the sign bit of x (so tanh(-0) = -0; +-inf -> +-1).
float tanh_f32(float x);

// ---------------------------------------------------------------------------
// Point-wise nonlinearities. kNone and kRelu can also be fused into gemm_rows.
// ---------------------------------------------------------------------------
enum class Pointwise : unsigned char {
  kIdentity = 0,
  kRelu = 1,     // x > 0 ? x : +0
  kGelu = 2,     // tanh form: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
  kTanh = 3,
  kSigmoid = 4,  // 1 / (1 + exp(-x))
};
// "identity", "relu", "gelu", "tanh", "sigmoid"; "unknown" for any other value.
const char* pointwise_name(Pointwise f);

// Y = Y + b (row-wise bias add), n x m:  y_ij = y_ij + b_j.
Status add_bias_f32(std::size_t n, std::size_t m, const float* bias, float* y, std::size_t ldy);

// Y = f(X), n x m. In place allowed (y == x, ldy == ldx). Exactly:
//   identity: y = x
//   relu:     y = x > 0 ? x : +0              (NaN -> +0, like gemm_rows)
//   gelu:     u = x * fma(k2, x*x, k0); h = 0.5 x; y = fma(h, tanh(u), h)
//             k0 = sqrt(2/pi), k2 = 0.044715 k0 (floats). gelu(-inf) is NaN.
//   tanh:     y = tanh(x)
//   sigmoid:  y = 1 / (1 + exp(-x))
Status pointwise_forward_f32(Pointwise f, std::size_t n, std::size_t m, const float* x,
                             std::size_t ldx, float* y, std::size_t ldy);

// dX = dY * f'(X), n x m, where x is f's input and y = f(x) its output (each
// f uses whichever gives the cheaper exact-as-possible derivative: relu uses
// x, tanh and sigmoid use y, gelu uses x). The operand f does not use may be
// null. dX may be the same view as dY, X or Y (in place). Exactly:
//   identity: dx = dy
//   relu:     dx = x > 0 ? dy : +0
//   gelu:     z = x*x; t = tanh(x * fma(k2, z, k0)); du = fma(k3, z, k0)
//             g = fma((0.5 x) * fma(-t, t, 1), du, fma(0.5, t, 0.5))
//             dx = dy * g                          (k3 = 3 k2)
//   tanh:     dx = dy * fma(-y, y, 1)
//   sigmoid:  dx = dy * (y * (1 - y))
Status pointwise_backward_f32(Pointwise f, std::size_t n, std::size_t m, const float* x,
                              std::size_t ldx, const float* y, std::size_t ldy, const float* dy,
                              std::size_t lddy, float* dx, std::size_t lddx);

// Y_i = softmax(X_i) for each row. In place allowed. Exactly, per row:
//   mx = max_j x_j;  e_j = exp(x_j - mx);  s = sum16(e_j)  (virtual lanes)
//   y_j = e_j / s
// A row holding NaN or +inf gives a row of NaN.
Status softmax_rows_f32(std::size_t n, std::size_t m, const float* x, std::size_t ldx, float* y,
                        std::size_t ldy);

// Softmax cross-entropy over n rows of m logits with integer labels:
//   loss_i = logsumexp(Z_i) - Z_i[label_i]
//   dZ_i   = (softmax(Z_i) - onehot(label_i)) * grad_scale   (grad_scale is
//            usually 1/n for a mean loss)
// *loss_sum = sum of loss_i over rows in increasing i (float additions).
// dZ may alias Z (in place). A label >= m is kInvalidArgument; non-finite
// logits are kNonFinite (nothing is written in either case).
// Exactly, per row i with c = label_i:
//   mx = max_j z_j;  e_j = exp(z_j - mx);  s = sum16(e_j)
//   loss_i = log(s) - (z_c - mx)
//   dz_j = (e_j / s) * grad_scale            for j != c
//   dz_c = (e_c / s - 1) * grad_scale
// and L = +0; for i = 0 .. n-1: L = L + loss_i; *loss_sum = L.
Status softmax_cross_entropy_f32(std::size_t n, std::size_t m, const float* z, std::size_t ldz,
                                 const std::uint32_t* labels, float grad_scale, float* dz,
                                 std::size_t lddz, float* loss_sum);

// Squared error: loss = 0.5 * sum_ij (P_ij - T_ij)^2, grad = (P - T) * grad_scale.
// *loss_sum as above. grad may alias pred (or target). Exactly:
//   d_ij = p_ij - t_ij;  g_ij = d_ij * grad_scale
//   r_i = sum16 of d_ij^2 with fma: l[j % 16] = fma(d_ij, d_ij, l[j % 16])
//   L = +0; for i = 0 .. n-1: L = L + r_i;  *loss_sum = 0.5 * L
Status mse_f32(std::size_t n, std::size_t m, const float* pred, std::size_t ldp,
               const float* target, std::size_t ldt, float grad_scale, float* grad,
               std::size_t ldg, float* loss_sum);

// ---------------------------------------------------------------------------
// Optimizer steps over `count` parameters. w, g, velocity / m, v must be
// pairwise disjoint; all parameters must be finite.
// ---------------------------------------------------------------------------
struct SgdParams {
  float learning_rate = 0.01f;
  float momentum = 0.0f;      // 0 disables the velocity buffer's effect
  float weight_decay = 0.0f;  // L2, added to the gradient
};
// v = momentum * v + (g + weight_decay * w); w = w - learning_rate * v.
// Exactly: gd = fma(weight_decay, w, g); v = fma(momentum, v, gd);
//          w = fma(-learning_rate, v, w).
// Momentum 0 is plain SGD: w = fma(-learning_rate, gd, w), and the velocity
// is neither read nor written (it may then be null). A velocity that always
// equals the last gradient carries no information, and keeping it would add
// a read and a write of a weight-sized buffer to every step: at batch 1 that
// buffer pushed a 784 x 256 layer's working set out of a 1 MiB L2. Switching
// momentum on later starts from whatever the velocity last held (zeros after
// initialize()).
Status sgd_momentum_f32(std::size_t count, float* w, const float* g, float* velocity,
                        const SgdParams& params);

struct AdamParams {
  float learning_rate = 1e-3f;
  float beta1 = 0.9f;       // in [0, 1)
  float beta2 = 0.999f;     // in [0, 1)
  float epsilon = 1e-8f;    // > 0
  float weight_decay = 0.0f;
  bool decoupled = false;   // false: Adam with L2 in the gradient; true: AdamW
  std::uint32_t step = 1;   // 1-based step number, for bias correction
};

// The per-step scalars of an Adam step, computed once (adam_step_constants)
// so that every ISA's kernel uses the same ones:
//   bc1 = 1 - beta1^step, bc2 = 1 - beta2^step in double, the powers by
//   repeated squaring (IEEE multiplications only, no libm pow), then
//   neg_step = float(-(double)lr / bc1)
//   inv_sqrt_bc2 = float(1 / sqrt(bc2))               (double sqrt, exact IEEE)
//   one_minus_beta1 = 1 - beta1, one_minus_beta2 = 1 - beta2   (float)
//   Adam:  l2 = weight_decay, decay = 1
//   AdamW: l2 = 0,            decay = float(1 - (double)lr * weight_decay)
struct AdamStepConstants {
  float beta1, one_minus_beta1;
  float beta2, one_minus_beta2;
  float epsilon;
  float neg_step;
  float inv_sqrt_bc2;
  float l2;
  float decay;
};
// Validates `params` (step >= 1, betas in [0, 1), epsilon > 0, everything
// finite) and fills `out`.
Status adam_step_constants(const AdamParams& params, AdamStepConstants* out);

// One Adam / AdamW step. Exactly, per element, with the constants above:
//   gd = fma(l2, w, g)
//   m  = fma(beta1, m, one_minus_beta1 * gd)
//   v  = fma(beta2, v, one_minus_beta2 * (gd * gd))
//   d  = fma(sqrt(v), inv_sqrt_bc2, epsilon)
//   w  = fma(neg_step, m / d, w * decay)
// i.e. w -= lr * m_hat / (sqrt(v_hat) + eps) with m_hat = m / bc1 and
// v_hat = v / bc2, and AdamW's decay w *= 1 - lr * wd applied to the old w.
Status adam_f32(std::size_t count, float* w, const float* g, float* m, float* v,
                const AdamParams& params);

// ---------------------------------------------------------------------------
// Gaussian noise: a counter-based generator
// ---------------------------------------------------------------------------
// Noise for differentially private training. The deviate of element index i
// is a pure function of (key, i): no state runs from one element to the
// next, so any block of a tensor can be noised in any order, by any vector
// width, and gets the same bits (the runtime noises fused 16-row blocks and
// whole gradients alike), and SIMD lanes are independent. Every step is
// 32-bit integer arithmetic (xor, shifts, wrapping multiply) or one of the
// float operations of the notation above, so every ISA gives the same bits.
//
// The generator is statistical, not cryptographic: anyone who knows the key
// can predict every deviate. Floating-point DP noise from such a generator
// gives no formal privacy guarantee against an adversary who can predict
// it; the key (the runtime's noise seed) must be kept secret.
//
// mix(x) = x ^= x >> 16; x *= 0x7feb352d; x ^= x >> 15; x *= 0x846ca68b;
//          x ^= x >> 16                     (uint32, wrapping; a bijection)
// For index i (uint64) with words hi = i >> 32, lo = i mod 2^32 and key
// words khi, klo:
//   a = mix(mix(mix(hi ^ 0x9e3779b9) ^ khi) ^ klo)
//   b = mix(a ^ 0x517cc1b7)
//   h = mix(mix(lo ^ a) ^ b)                                (noise_bits_u32)
// a and b are fixed for 2^32 consecutive indices (the kernels compute them
// once per such block). 24 bits of h give an odd integer
//   t = ((h >> 7) | 1) - 2^24 in [-(2^24 - 1), 2^24 - 1],  x = t * 2^-24,
// uniform on the midpoints of a grid of 2^24 cells of (-1, 1), symmetric
// about 0, both conversions exact (noise_uniform_f32).
std::uint32_t noise_bits_u32(std::uint64_t key, std::uint64_t index);
float noise_uniform_f32(std::uint64_t key, std::uint64_t index);

// erfinv(x) for x in (-1, 1) after M. Giles (GPU Computing Gems, 2011),
// single precision (coefficients in kernels/src/math_constants.h):
//   w = 0 - log_f32((1 - x) * (1 + x))        (log_f32 above)
//   c = w - 2.5;       P = fma Horner of a0..a8 in c
//   r = sqrt(w) - 3;   Q = fma Horner of b0..b8 in r
//   erfinv = (w < 5 ? P : Q) * x
// The vector kernels evaluate both polynomials on every lane and select one
// (the scalar reference evaluates only the one it returns). For the
// x of noise_uniform_f32, (1 - x) and (1 + x) are exact and their product
// is a normal float in [2^-23, 1], so w <= 16 and log_f32 takes its plain
// path. Measured against the inverse normal CDF in double: see
// tests/kernels/test_noise.cpp.
float erfinv_f32(float x);

// g[e] = fma(s, erfinv_f32(noise_uniform_f32(key, first_index + e)), g[e])
// for e < count, with s = stddev * 0x1.6a09e6p+0 (sqrt 2 in float, one
// rounding): adds stddev times a standard normal deviate to every element.
// stddev must be finite and >= 0; first_index + count must not exceed
// 2^64. g needs only 4-byte alignment (any float address).
Status add_gaussian_noise_f32(std::size_t count, float* g, float stddev, std::uint64_t key,
                              std::uint64_t first_index);

}  // namespace tern
