// The training variants built on the rank-1 structure of a dense layer's
// gradient (spec.h: fused_update, example_rows, accumulation_rows; README,
// "Rank-1 structure").
//
// For a batch of n rows the weight gradient of a Dense layer is
//     G = sum_i u_i^T d_i        (u_i its input row, d_i its output delta)
// a sum of n outer products that rank1_accumulate forms tile by tile in
// registers. Everything here reads the factors (u_i, d_i) instead of G:
//
//  * the gradient of example e (rows S_e) has the squared norm
//        ||sum_{a in S} u_a^T d_a||^2 = sum_{a,b in S} (u_a . u_b)(d_a . d_b)
//    (||u|| ||d|| for a one-row example), and its bias gradient
//    ||sum_a d_a||^2 = sum_{a,b} (d_a . d_b): Gram matrices of the factor
//    rows, O(|S|^2 (k + m)) instead of the O(|S| k m) of forming G_e;
//  * the backward pass is linear in the output delta, so scaling example
//    e's delta rows by c_e scales every parameter's gradient of that example
//    by c_e: clipping is one multiply per delta row, before accumulation;
//  * a fused update forms G fused_block_rows(spec) rows at a time and hands
//    each block to the optimizer at once, so no k x m gradient buffer exists;
//  * accumulation keeps the factors of up to K rows and forms G once, as a
//    rank-K update, at flush().
//
// Example gradients run the backward pass in two phases. Phase A
// (propagate) runs every layer's delta propagation and keeps all the deltas
// (the plan gives each its own buffer), then computes the per-example norms
// and clip scales and scales the delta rows. Phase B (finish_step) forms the
// gradients from the scaled factors: rank-1 accumulation into the gradient
// buffers or straight into the optimizer (fused), column sums for biases,
// noise, global-norm clipping.
//
// Reductions here run in a fixed order in portable C++ (double for the sums
// of Gram products) or through the kernels' fixed-order backprop_rows, so
// norms, clip scales and updated weights are the same bits on every ISA.
#include <cmath>
#include <cstdint>
#include <cstring>

#include "ops.h"
#include "tern/kernels/elementwise.h"
#include "tern/runtime/model.h"

namespace tern {

namespace {

// Squared Frobenius norms of sum_a u_a^T d_a (*w_sq) and of sum_a d_a
// (*b_sq) over rows a = 0 .. n-1, from the Gram matrices U U^T and D D^T:
// sum_{a,b} (u_a . u_b)(d_a . d_b) and sum_{a,b} (d_a . d_b). The Gram
// blocks (kGramBlock x kGramBlock) come from backprop_rows, which computes
// A B^T with a fixed reduction order: backprop_rows(n, k, m, D, W) gives
// D W^T, and with D = rows of U and W = other rows of U that is a block of
// U U^T. Block pairs (a-block <= b-block) are summed in increasing order in
// double; an off-diagonal block counts twice.
void gram_norms(const KernelTable& k, std::size_t n, std::size_t kin, const float* u,
                std::size_t ldu, std::size_t m, const float* d, std::size_t ldd, float* scratch,
                double* w_sq, double* b_sq) {
  float* gu = scratch;
  float* gd = scratch + kGramBlock * kGramBlock;
  double w = 0.0, b = 0.0;
  for (std::size_t a0 = 0; a0 < n; a0 += kGramBlock) {
    const std::size_t na = n - a0 < kGramBlock ? n - a0 : kGramBlock;
    for (std::size_t b0 = a0; b0 < n; b0 += kGramBlock) {
      const std::size_t nb = n - b0 < kGramBlock ? n - b0 : kGramBlock;
      k.backprop_rows_f32(na, nb, kin, u + a0 * ldu, ldu, u + b0 * ldu, ldu, gu, nb);
      k.backprop_rows_f32(na, nb, m, d + a0 * ldd, ldd, d + b0 * ldd, ldd, gd, nb);
      double wb = 0.0, bb = 0.0;
      for (std::size_t i = 0; i < na * nb; ++i) {
        wb += static_cast<double>(gu[i]) * static_cast<double>(gd[i]);
        bb += static_cast<double>(gd[i]);
      }
      const double weight = b0 == a0 ? 1.0 : 2.0;
      w += weight * wb;
      b += weight * bb;
    }
  }
  *w_sq = w;
  *b_sq = b;
}

// Squared norm of LayerNorm's (dgamma, dbeta) for rows 0 .. n-1:
// dgamma = sum_r dy_r * xhat_r, dbeta = sum_r dy_r (the same float
// expressions as ops::layer_norm_backward), summed in `sums` (2 m floats).
double layer_norm_grad_sq(std::size_t n, std::size_t m, const float* x, const float* mean,
                          const float* rstd, const float* dy, float* sums) {
  float* sg = sums;
  float* sb = sums + m;
  for (std::size_t j = 0; j < m; ++j) sg[j] = sb[j] = 0.0f;
  for (std::size_t r = 0; r < n; ++r) {
    const float* xr = x + r * m;
    const float* dyr = dy + r * m;
    for (std::size_t j = 0; j < m; ++j) {
      const float xhat = (xr[j] - mean[r]) * rstd[r];
      sg[j] += dyr[j] * xhat;
      sb[j] += dyr[j];
    }
  }
  double sq = 0.0;
  for (std::size_t j = 0; j < m; ++j) {
    sq += static_cast<double>(sg[j]) * sg[j] + static_cast<double>(sb[j]) * sb[j];
  }
  return sq;
}

double sum_squares(const float* v, std::size_t count) {
  double sq = 0.0;
  for (std::size_t i = 0; i < count; ++i) sq += static_cast<double>(v[i]) * v[i];
  return sq;
}

void scale_rows(std::size_t rows, std::size_t m, const float* scale, float* d) {
  for (std::size_t i = 0; i < rows; ++i) {
    const float c = scale[i];
    float* di = d + i * m;
    for (std::size_t j = 0; j < m; ++j) di[j] *= c;
  }
}

bool non_negative_finite(float v) { return std::isfinite(v) && v >= 0.0f; }

// max(m, |v|) for finite v. A comparison, not std::fmax: GCC 12's
// vectoriser for aarch64 fails (an internal compiler error) on an fmax
// reduction over a double accumulator.
double larger_magnitude(double m, float v) {
  const double x = v < 0.0f ? -static_cast<double>(v) : static_cast<double>(v);
  return x > m ? x : m;
}

}  // namespace

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

float* Model::rank1_scratch(std::size_t rows) const {
  const std::size_t need = rank1_accumulate_scratch_floats(rows);
  return need != 0 && need <= scratch_floats_ ? scratch_ : nullptr;
}

std::uint32_t Model::tensor_index(std::uint32_t layer) const {
  std::uint32_t t = 0;
  for (std::uint32_t l = 0; l < layer; ++l) {
    if (has_parameters(spec_.layers[l].kind)) t += 2;
  }
  return t;
}

// The step whose gradient is being formed: the new step count when the
// update is part of the call (begin_update() has counted it), the next one
// for compute_gradients().
std::uint32_t Model::noise_step(bool updating) const { return updating ? steps_ : steps_ + 1; }

// Noise for tensor t of step s: the counter-based generator of
// add_gaussian_noise_f32 (tern/kernels/elementwise.h) with a key of its own
// and the element's offset within the tensor as the index, so that the
// noise of an element depends neither on the order in which tensors are
// updated nor on how a tensor is cut into blocks (the fused update adds it
// fused_block_rows(spec) rows at a time, at offset p0 * m). The key is the secret seed xor a
// 64-bit mix of (step, tensor), in portable integer code: the finalizer of
// SplitMix64 (multipliers and shifts of Stafford's "Mix13"), a bijection,
// so distinct (step, tensor) pairs give distinct keys for one seed.
namespace {
std::uint64_t noise_key(std::uint64_t seed, std::uint32_t step, std::uint32_t tensor) {
  std::uint64_t x = (std::uint64_t{step} << 32) | tensor;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  x = x ^ (x >> 31);
  return seed ^ x;
}
}  // namespace

// ---------------------------------------------------------------------------
// Fused update
// ---------------------------------------------------------------------------

// W of Dense layer `layer` updated with the gradient alpha * sum_i u_i^T d_i
// (+ noise), fused_block_rows(spec) rows at a time: each block of the
// gradient is formed by rank1_accumulate into the zeroed block buffer (the
// same FMA chains, the same G = fma(alpha, s, 0) as into a zeroed gradient
// buffer), then the optimizer updates those rows of W and of its moments.
// The caller has already propagated the layer's delta with the old W.
void Model::update_weights_fused(std::uint32_t layer, std::size_t rows, const float* u,
                                 std::size_t ldu, const float* d, std::size_t ldd, float alpha,
                                 float noise_stddev, const SgdParams* sgd,
                                 const AdamStepConstants* adam) {
  const LayerSpec& ls = spec_.layers[layer];
  const std::size_t kin = ls.in, m = ls.out;
  float* block = update_block_;
  float* scratch = rank1_scratch(rows);
  const std::uint64_t key = noise_key(clip_.noise_seed, noise_step(true), tensor_index(layer));
  const std::size_t block_rows = fused_block_rows(spec_);
  for (std::size_t p0 = 0; p0 < kin; p0 += block_rows) {
    const std::size_t pr = kin - p0 < block_rows ? kin - p0 : block_rows;
    std::memset(block, 0, pr * m * sizeof(float));
    kernels_->rank1_accumulate_f32(rows, pr, m, alpha, u + p0, ldu, d, ldd, block, m, scratch);
    if (noise_stddev > 0.0f)
      kernels_->add_gaussian_noise_f32(pr * m, block, noise_stddev, key, p0 * m);
    apply_optimizer(layer, true, p0 * m, pr * m, block, sgd, adam);
  }
}

// ---------------------------------------------------------------------------
// Example gradients: phase A
// ---------------------------------------------------------------------------

// The backward pass's delta propagation from the loss down to layer `stop`
// (not from layer `stop` to the layer below). No parameter gradient is
// touched.
void Model::propagate_down_to(std::uint32_t stop, std::size_t rows) {
  for (std::uint32_t l = spec_.layer_count; l-- > stop;) propagate_layer(l, rows, l > stop);
}

// Phase A: every delta of the step, then (example gradients) the
// per-example norms, and clip scales applied to the delta rows of every
// layer with parameters; LayerNorm's parameter gradients are accumulated
// from the scaled deltas (they are not rank-1 factors, and their inputs
// live only until the next micro-batch).
void Model::propagate(std::size_t rows) {
  propagate_down_to(0, rows);
  if (spec_.example_rows != 0) {
    compute_example_norms(rows);
    if (clip_.example_clip > 0.0f) {
      for (std::uint32_t l = 0; l < spec_.layer_count; ++l) {
        if (!has_parameters(spec_.layers[l].kind)) continue;
        scale_rows(rows, spec_.layers[l].out, row_scale_, deltas_[l + 1]);
      }
    }
  }
  for (std::uint32_t l = 0; l < spec_.layer_count; ++l) {
    const LayerSpec& ls = spec_.layers[l];
    if (ls.kind != LayerKind::kLayerNorm) continue;
    const LayerBuffers& b = layers_[l];
    ops::layer_norm_backward(rows, ls.out, points_[l], ls.out, b.mean, b.rstd, b.weight,
                             deltas_[l + 1], ls.out, nullptr, ls.out, b.weight_grad, b.bias_grad);
  }
}

// Per-example norms of every layer's parameter gradient (of the example's
// own loss: the output delta was not divided by the rows), their total,
// and with example clipping the scale min(1, C / total) of each row.
void Model::compute_example_norms(std::size_t rows) {
  const KernelTable& k = *kernels_;
  const std::uint32_t L = spec_.layer_count;
  const std::size_t R = spec_.example_rows;
  const std::size_t examples = rows / R;
  float* gram = norm_scratch_;
  float* sums = norm_scratch_ + 2 * kGramBlock * kGramBlock;
  for (std::size_t e = 0; e < examples; ++e) {
    float* norms = example_norms_ + e * (L + 1);
    const std::size_t r0 = e * R;
    double total = 0.0;
    for (std::uint32_t l = 0; l < L; ++l) {
      const LayerSpec& ls = spec_.layers[l];
      const std::size_t m = ls.out, kin = ls.in;
      const float* d = deltas_[l + 1] + r0 * m;
      double sq = 0.0;
      if (ls.kind == LayerKind::kDense) {
        double w_sq = 0.0, b_sq = 0.0;
        gram_norms(k, R, kin, points_[l] + r0 * kin, kin, m, d, m, gram, &w_sq, &b_sq);
        sq = w_sq + b_sq;
      } else if (ls.kind == LayerKind::kLayerNorm) {
        const LayerBuffers& b = layers_[l];
        sq = layer_norm_grad_sq(R, m, points_[l] + r0 * m, b.mean + r0, b.rstd + r0, d, sums);
      }
      norms[l] = static_cast<float>(std::sqrt(sq));
      total += sq;
    }
    const float norm = static_cast<float>(std::sqrt(total));
    norms[L] = norm;
    if (clip_.example_clip > 0.0f) {
      const float c = norm > clip_.example_clip ? clip_.example_clip / norm : 1.0f;
      for (std::size_t r = r0; r < r0 + R; ++r) row_scale_[r] = c;
    }
  }
  examples_done_ = examples;
}

// ---------------------------------------------------------------------------
// Phase B
// ---------------------------------------------------------------------------

// Forms the gradient of the mean over `rows` rows from the (scaled)
// factors — the live points and deltas, or the accumulated factor rows —
// with global-norm clipping and noise, and with a fused update (sgd
// non-null) updates the Dense weights on the way. The Dense gradient
// buffers must be zero; LayerNorm's hold their sums over the rows.
void Model::finish_step(std::size_t rows, bool from_factors, const SgdParams* sgd,
                        const AdamStepConstants* adam) {
  const KernelTable& k = *kernels_;
  const std::uint32_t L = spec_.layer_count;
  const float inv_rows = 1.0f / static_cast<float>(rows);
  auto factors = [&](std::uint32_t l, const float** u, const float** d) {
    *u = from_factors ? layers_[l].factor_u : points_[l];
    *d = from_factors ? layers_[l].factor_d : deltas_[l + 1];
  };

  float alpha = inv_rows;
  gradient_norm_ = 0.0f;
  if (clip_.global_clip > 0.0f) {
    double sq = 0.0;
    for (std::uint32_t l = 0; l < L; ++l) {
      const LayerSpec& ls = spec_.layers[l];
      if (ls.kind == LayerKind::kDense) {
        const float *u, *d;
        factors(l, &u, &d);
        double w_sq = 0.0, b_sq = 0.0;
        gram_norms(k, rows, ls.in, u, ls.in, ls.out, d, ls.out, norm_scratch_, &w_sq, &b_sq);
        sq += w_sq + b_sq;
      } else if (ls.kind == LayerKind::kLayerNorm) {
        sq += sum_squares(layers_[l].weight_grad, ls.out) + sum_squares(layers_[l].bias_grad, ls.out);
      }
    }
    gradient_norm_ = static_cast<float>(std::sqrt(sq) / static_cast<double>(rows));
    if (gradient_norm_ > clip_.global_clip) alpha = inv_rows * (clip_.global_clip / gradient_norm_);
  }
  const float noise_stddev = clip_.noise_multiplier * clip_.example_clip * inv_rows;
  const std::uint32_t step = noise_step(sgd != nullptr);

  for (std::uint32_t l = 0; l < L; ++l) {
    const LayerSpec& ls = spec_.layers[l];
    if (!has_parameters(ls.kind)) continue;
    const LayerBuffers& b = layers_[l];
    const std::uint32_t t = tensor_index(l);
    const std::size_t m = ls.out;
    const std::uint64_t weight_key = noise_key(clip_.noise_seed, step, t);
    const std::uint64_t bias_key = noise_key(clip_.noise_seed, step, t + 1);
    if (ls.kind == LayerKind::kDense) {
      const float *u, *d;
      factors(l, &u, &d);
      if (b.weight_grad == nullptr) {
        update_weights_fused(l, rows, u, ls.in, d, m, alpha, noise_stddev, sgd, adam);
      } else {
        k.rank1_accumulate_f32(rows, ls.in, m, alpha, u, ls.in, d, m, b.weight_grad, m,
                               rank1_scratch(rows));
        if (noise_stddev > 0.0f)
          k.add_gaussian_noise_f32(ls.in * m, b.weight_grad, noise_stddev, weight_key, 0);
      }
      k.column_sums_accumulate_f32(rows, m, alpha, d, m, b.bias_grad);
    } else {
      for (std::size_t j = 0; j < m; ++j) {
        b.weight_grad[j] *= alpha;
        b.bias_grad[j] *= alpha;
      }
      if (noise_stddev > 0.0f) k.add_gaussian_noise_f32(m, b.weight_grad, noise_stddev, weight_key, 0);
    }
    if (noise_stddev > 0.0f) k.add_gaussian_noise_f32(m, b.bias_grad, noise_stddev, bias_key, 0);
  }
}

// Global-norm clipping of stored gradients (plain training without example
// gradients): the norm of the gradient group, one fixed-order reduction
// through backprop_rows (a 1 x 1 product of the group with itself; the
// padding between tensors is zero), then one multiply per element.
void Model::clip_gradient_buffers() {
  gradient_norm_ = 0.0f;
  if (!(clip_.global_clip > 0.0f)) return;
  const std::size_t count = gradient_bytes_ / sizeof(float);
  float sq = 0.0f;
  kernels_->backprop_rows_f32(1, 1, count, gradients_, count, gradients_, count, &sq, 1);
  gradient_norm_ = std::sqrt(sq);
  if (!(gradient_norm_ > clip_.global_clip)) return;
  const float c = clip_.global_clip / gradient_norm_;
  for (std::size_t i = 0; i < count; ++i) gradients_[i] *= c;
}

// ---------------------------------------------------------------------------
// Public API
// ---------------------------------------------------------------------------

Status Model::set_clipping(const ClipParams& p) {
  const char* op = "set_clipping";
  TERN_RETURN_IF_ERROR(check_training(op));
  if (!non_negative_finite(p.example_clip) || !non_negative_finite(p.noise_multiplier) ||
      !non_negative_finite(p.global_clip)) {
    return Status::error(StatusCode::kInvalidArgument,
                         "%s: example clip %g, noise multiplier %g and global clip %g must be "
                         "finite and >= 0",
                         op, static_cast<double>(p.example_clip),
                         static_cast<double>(p.noise_multiplier),
                         static_cast<double>(p.global_clip));
  }
  if (p.example_clip > 0.0f && spec_.example_rows == 0) {
    return Status::error(StatusCode::kFailedPrecondition,
                         "%s: per-example clipping needs per-example norms: build the spec with "
                         ".with_example_gradients()",
                         op);
  }
  if (p.noise_multiplier > 0.0f && !(p.example_clip > 0.0f)) {
    return Status::error(StatusCode::kInvalidArgument,
                         "%s: noise is scaled by the per-example clip bound, which is 0", op);
  }
  // The noise kernel multiplies the deviation by sqrt(2): keep that finite.
  if (!std::isfinite(p.noise_multiplier * p.example_clip * 1.5f)) {
    return Status::error(StatusCode::kInvalidArgument,
                         "%s: noise deviation %g * %g overflows float", op,
                         static_cast<double>(p.noise_multiplier),
                         static_cast<double>(p.example_clip));
  }
  if (p.global_clip > 0.0f && spec_.fused_update && spec_.example_rows == 0 &&
      spec_.accumulation_rows == 0) {
    return Status::error(StatusCode::kFailedPrecondition,
                         "%s: a fused update changes each layer before the next layer's gradient "
                         "exists, so the global norm is unknown; build the spec with "
                         ".with_example_gradients() (norms from the factors first)",
                         op);
  }
  clip_ = p;
  return Status();
}

MatrixView<const float> Model::example_norms() const {
  if (!built() || example_norms_ == nullptr) return {};
  const std::size_t cols = spec_.layer_count + 1;
  return MatrixView<const float>{example_norms_, examples_done_, cols, cols};
}

Status Model::check_accumulating(const char* op) const {
  TERN_RETURN_IF_ERROR(check_training(op));
  if (spec_.accumulation_rows == 0) {
    return Status::error(StatusCode::kFailedPrecondition,
                         "%s: the spec keeps no factor rows (build it with .with_accumulation(K))",
                         op);
  }
  return Status();
}

Status Model::accumulate(const Batch& batch, float* mean_loss) {
  const char* op = "accumulate";
  TERN_RETURN_IF_ERROR(check_accumulating(op));
  const std::uint32_t K = spec_.accumulation_rows;
  if (batch.rows > K - accumulated_) {
    return Status::error(StatusCode::kFailedPrecondition,
                         "%s: %zu rows do not fit: %u of %u factor rows are in use; flush() first",
                         op, batch.rows, static_cast<unsigned>(accumulated_),
                         static_cast<unsigned>(K));
  }
  const std::size_t rows = batch.rows;
  float loss_sum = 0.0f;
  TERN_RETURN_IF_ERROR(load_and_forward(op, batch, 1.0f, &loss_sum));
  // LayerNorm gradients are sums across micro-batches: start them with the
  // first one.
  if (accumulated_ == 0) std::memset(gradients_, 0, gradient_bytes_);
  propagate(rows);
  for (std::uint32_t l = 0; l < spec_.layer_count; ++l) {
    const LayerSpec& ls = spec_.layers[l];
    if (ls.kind != LayerKind::kDense) continue;
    const LayerBuffers& b = layers_[l];
    std::memcpy(b.factor_u + std::size_t{accumulated_} * ls.in, points_[l],
                rows * ls.in * sizeof(float));
    std::memcpy(b.factor_d + std::size_t{accumulated_} * ls.out, deltas_[l + 1],
                rows * ls.out * sizeof(float));
  }
  accumulated_ += static_cast<std::uint32_t>(rows);
  if (mean_loss != nullptr) *mean_loss = loss_sum * (1.0f / static_cast<float>(rows));
  return Status();
}

Status Model::flush() {
  const char* op = "flush";
  TERN_RETURN_IF_ERROR(check_accumulating(op));
  if (accumulated_ == 0) return Status();
  SgdParams sgd[2];
  AdamStepConstants adam[2];
  TERN_RETURN_IF_ERROR(begin_update(sgd, adam));
  finish_step(accumulated_, true, sgd, adam);
  apply_stored_gradients(sgd, adam);
  accumulated_ = 0;
  std::memset(gradients_, 0, gradient_bytes_);
  return Status();
}

Status Model::rank1_edit(std::uint32_t layer, std::size_t count, const float* a, std::size_t lda,
                         const float* b, std::size_t ldb, float scale) {
  const char* op = "rank1_edit";
  if (!built()) {
    return Status::error(StatusCode::kFailedPrecondition, "%s: the model is not built", op);
  }
  if (layer >= spec_.layer_count || spec_.layers[layer].kind != LayerKind::kDense) {
    return Status::error(StatusCode::kInvalidArgument, "%s: layer %u is not a Dense layer", op,
                         static_cast<unsigned>(layer));
  }
  const std::size_t in = spec_.layers[layer].in, out = spec_.layers[layer].out;
  if (count == 0) return Status();
  if (a == nullptr || b == nullptr) {
    return Status::error(StatusCode::kInvalidArgument, "%s: factor %s is null", op,
                         a == nullptr ? "a" : "b");
  }
  if (lda < in || ldb < out) {
    return Status::error(StatusCode::kShapeMismatch,
                         "%s: factor strides %zu and %zu are smaller than the layer's %zu inputs "
                         "and %zu outputs",
                         op, lda, ldb, in, out);
  }
  if (!std::isfinite(scale)) {
    return Status::error(StatusCode::kNonFinite, "%s: scale %g is not finite", op,
                         static_cast<double>(scale));
  }
  float* w = layers_[layer].weight;
  // Byte ranges as integers: the factors may be any caller memory.
  const std::uintptr_t w_begin = reinterpret_cast<std::uintptr_t>(w);
  const std::uintptr_t w_end = w_begin + in * out * sizeof(float);
  const auto overlaps = [&](const float* f, std::size_t ld, std::size_t width) {
    const std::uintptr_t begin = reinterpret_cast<std::uintptr_t>(f);
    const std::uintptr_t end = begin + ((count - 1) * ld + width) * sizeof(float);
    return begin < w_end && w_begin < end;
  };
  if (overlaps(a, lda, in) || overlaps(b, ldb, out)) {
    return Status::error(StatusCode::kInvalidArgument,
                         "%s: a factor overlaps the weights it would edit", op);
  }
  // Finite factors, and a bound on every edited weight: |W + scale sum_j
  // a_j^T b_j| <= max|W| + |scale| sum_j max|a_j| max|b_j| (in double, where
  // it cannot overflow). Within float's range no step of the FMA chains
  // overflows, so an edit that passes leaves W finite.
  double bound = 0.0;
  for (std::size_t j = 0; j < count; ++j) {
    double max_a = 0.0, max_b = 0.0;
    for (std::size_t p = 0; p < in; ++p) {
      const float v = a[j * lda + p];
      if (!ops::is_finite(v)) {
        return Status::error(StatusCode::kNonFinite, "%s: a[%zu][%zu] is not finite", op, j, p);
      }
      max_a = larger_magnitude(max_a, v);
    }
    for (std::size_t q = 0; q < out; ++q) {
      const float v = b[j * ldb + q];
      if (!ops::is_finite(v)) {
        return Status::error(StatusCode::kNonFinite, "%s: b[%zu][%zu] is not finite", op, j, q);
      }
      max_b = larger_magnitude(max_b, v);
    }
    bound += max_a * max_b;
  }
  double max_w = 0.0;
  for (std::size_t i = 0; i < in * out; ++i) max_w = larger_magnitude(max_w, w[i]);
  bound = max_w + std::fabs(static_cast<double>(scale)) * bound;
  if (!(bound <= 3.0e38)) {
    return Status::error(StatusCode::kNonFinite,
                         "%s: the edit could overflow the weights (|W + edit| up to %g); scale it "
                         "down",
                         op, bound);
  }
  kernels_->rank1_accumulate_f32(count, in, out, scale, a, lda, b, ldb, w, out, nullptr);
  return Status();
}

Status Model::edit_factors(const Batch& batch, std::uint32_t layer, float* u, float* delta) {
  const char* op = "edit_factors";
  TERN_RETURN_IF_ERROR(check_training(op));
  if (layer >= spec_.layer_count || spec_.layers[layer].kind != LayerKind::kDense) {
    return Status::error(StatusCode::kInvalidArgument, "%s: layer %u is not a Dense layer", op,
                         static_cast<unsigned>(layer));
  }
  if (u == nullptr || delta == nullptr) {
    return Status::error(StatusCode::kInvalidArgument, "%s: output %s is null", op,
                         u == nullptr ? "u" : "delta");
  }
  const std::size_t rows = batch.rows;
  float loss_sum = 0.0f;
  TERN_RETURN_IF_ERROR(load_and_forward(op, batch, 1.0f / static_cast<float>(rows), &loss_sum));
  propagate_down_to(layer, rows);
  const LayerSpec& ls = spec_.layers[layer];
  std::memcpy(u, points_[layer], rows * ls.in * sizeof(float));
  std::memcpy(delta, deltas_[layer + 1], rows * ls.out * sizeof(float));
  return Status();
}

}  // namespace tern
