// SPDX-License-Identifier: Apache-2.0
// Gradients formed from kept factors: the path of example gradients
// (spec.example_rows) and of accumulation (spec.accumulation_rows);
// docs/rank1.md.
//
// For a batch of n rows the weight gradient of a Dense layer is
//     G = sum_i u_i^T d_i        (u_i its input row, d_i its delta row)
// a sum of n outer products that rank1_accumulate forms tile by tile in
// registers. This path reads the factors (u_i, d_i) instead of G:
//
//  * the gradient of example e (rows S_e) has the squared norm
//    sum_{a,b in S} (u_a . u_b)(d_a . d_b) (gradient_norms.cpp; ||u|| ||d||
//    for a one-row example);
//  * the backward pass is linear in the output delta, so scaling example
//    e's delta rows by c_e scales every parameter's gradient of that example
//    by c_e: per-example clipping is one multiply per delta row, before the
//    gradients are formed;
//  * a fused update forms G fused_block_rows(spec) rows at a time and hands
//    each block to the optimizer at once (optimizer_step.cpp);
//  * accumulation keeps the factors of up to K rows and forms G once, as a
//    rank-K update, at flush() (accumulation.cpp).
//
// So the backward pass runs in two parts. propagate_for_factors() propagates
// every layer and keeps all the deltas (the plan gives each its own buffer),
// then computes the per-example norms and clip scales and scales the delta
// rows. gradients_from_factors() forms the gradients from the scaled
// factors: rank-1 accumulation into the gradient buffers or straight into
// the optimizer (fused), column sums for biases, noise, global-norm clipping.
#include <cmath>
#include <cstring>

#include "gradient_noise.h"
#include "gradient_norms.h"
#include "optimizer_step.h"
#include "portable_ops.h"
#include "tern/kernels/kernel_table.h"
#include "tern/runtime/model.h"

namespace tern {

namespace {

void scale_rows(std::size_t rows, std::size_t m, const float* scale, float* d) {
  for (std::size_t i = 0; i < rows; ++i) {
    const float c = scale[i];
    float* di = d + i * m;
    for (std::size_t j = 0; j < m; ++j) di[j] *= c;
  }
}

}  // namespace

// The first part: every delta of the step, then (example gradients) the
// per-example norms, and clip scales applied to the delta rows of every
// layer with parameters; LayerNorm's parameter gradients are accumulated
// from the scaled deltas (they are not rank-1 factors, and their inputs live
// only until the next micro-batch).
void Model::propagate_for_factors(std::size_t rows) {
  propagate_deltas(0, rows);
  if (spec_.example_rows != 0) {
    compute_example_norms(rows);
    if (clip_.example_clip > 0.0f) {
      const float* row_scale = buffer(ModelBuffer::kRowScale).data;
      for (std::uint32_t l = 0; l < spec_.layer_count; ++l) {
        if (!has_parameters(spec_.layers[l].kind)) continue;
        scale_rows(rows, spec_.layers[l].out, row_scale, deltas_[l + 1]);
      }
    }
  }
  for (std::uint32_t l = 0; l < spec_.layer_count; ++l) {
    const LayerSpec& ls = spec_.layers[l];
    if (ls.kind != LayerKind::kLayerNorm) continue;
    ops::layer_norm_backward(rows, ls.out, points_[l], ls.out, buffer(l, LayerBuffer::kMean),
                             buffer(l, LayerBuffer::kRstd), buffer(l, LayerBuffer::kWeight),
                             deltas_[l + 1], ls.out, nullptr, ls.out,
                             buffer(l, LayerBuffer::kWeightGrad),
                             buffer(l, LayerBuffer::kBiasGrad));
  }
}

// Per-example norms of every layer's parameter gradient (of the example's
// own loss: the output delta was not divided by the rows), their total,
// and with example clipping the scale min(1, C / total) of each row.
void Model::compute_example_norms(std::size_t rows) {
  const KernelTable& k = kernels_of(isa_);
  const std::uint32_t L = spec_.layer_count;
  const std::size_t R = spec_.example_rows;
  const std::size_t examples = rows / R;
  float* gram = buffer(ModelBuffer::kNormScratch).data;
  float* sums = gram + 2 * kGramBlock * kGramBlock;
  float* example_norms = buffer(ModelBuffer::kExampleNorms).data;
  float* row_scale = buffer(ModelBuffer::kRowScale).data;
  for (std::size_t e = 0; e < examples; ++e) {
    float* norms = example_norms + e * (L + 1);
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
        sq = layer_norm_grad_sq(R, m, points_[l] + r0 * m, buffer(l, LayerBuffer::kMean) + r0,
                                buffer(l, LayerBuffer::kRstd) + r0, d, sums);
      }
      norms[l] = static_cast<float>(std::sqrt(sq));
      total += sq;
    }
    const float norm = static_cast<float>(std::sqrt(total));
    norms[L] = norm;
    if (clip_.example_clip > 0.0f) {
      const float c = norm > clip_.example_clip ? clip_.example_clip / norm : 1.0f;
      for (std::size_t r = r0; r < r0 + R; ++r) row_scale[r] = c;
    }
  }
  examples_done_ = examples;
}

// The second part: the gradient of the mean over `rows` rows (or over their
// examples, ClipParams::divisor) from the
// (scaled) factors — this step's points and deltas, or the accumulated factor
// rows — with global-norm clipping and noise, and with `update` (the step
// updates the parameters) the Dense weights of a fused update updated on the
// way. The Dense gradient buffers must be zero; LayerNorm's hold their sums
// over the rows.
void Model::gradients_from_factors(std::size_t rows, FactorSource source,
                                   const UpdateConstants* update) {
  const KernelTable& k = kernels_of(isa_);
  const std::uint32_t L = spec_.layer_count;
  // The divisor of the clipped sum (ClipParams::divisor): the rows, or the
  // examples they hold (rows is a multiple of example_rows, checked when the
  // batch was loaded or accumulated).
  const std::size_t divisor =
      clip_.divisor == ExampleGradientDivisor::kExamples ? rows / spec_.example_rows : rows;
  const float inv_divisor = 1.0f / static_cast<float>(divisor);
  const bool accumulated = source == FactorSource::kAccumulated;
  auto factors = [&](std::uint32_t l, const float** u, const float** d) {
    *u = accumulated ? buffer(l, LayerBuffer::kFactorU) : points_[l];
    *d = accumulated ? buffer(l, LayerBuffer::kFactorD) : deltas_[l + 1];
  };

  float alpha = inv_divisor;
  gradient_norm_ = 0.0f;
  if (clip_.global_clip > 0.0f) {
    double sq = 0.0;
    for (std::uint32_t l = 0; l < L; ++l) {
      const LayerSpec& ls = spec_.layers[l];
      if (ls.kind == LayerKind::kDense) {
        const float *u, *d;
        factors(l, &u, &d);
        double w_sq = 0.0, b_sq = 0.0;
        gram_norms(k, rows, ls.in, u, ls.in, ls.out, d, ls.out,
                   buffer(ModelBuffer::kNormScratch).data, &w_sq, &b_sq);
        sq += w_sq + b_sq;
      } else if (ls.kind == LayerKind::kLayerNorm) {
        sq += sum_squares(buffer(l, LayerBuffer::kWeightGrad), ls.out) +
              sum_squares(buffer(l, LayerBuffer::kBiasGrad), ls.out);
      }
    }
    gradient_norm_ = static_cast<float>(std::sqrt(sq) / static_cast<double>(divisor));
    if (gradient_norm_ > clip_.global_clip) alpha = inv_divisor * (clip_.global_clip / gradient_norm_);
  }
  const float noise_stddev = clip_.noise_multiplier * clip_.example_clip * inv_divisor;
  // The step whose gradient is formed: the one start_update() has counted,
  // or, without an update (compute_gradients), the next one.
  const std::uint64_t step = update != nullptr ? steps_ : steps_ + 1;

  for (std::uint32_t l = 0; l < L; ++l) {
    const LayerSpec& ls = spec_.layers[l];
    if (!has_parameters(ls.kind)) continue;
    float* weight_grad = buffer(l, LayerBuffer::kWeightGrad);
    float* bias_grad = buffer(l, LayerBuffer::kBiasGrad);
    const std::uint32_t t = tensor_index(l);
    const std::size_t m = ls.out;
    const std::uint64_t weight_key = noise_key(clip_.noise_seed, step, t);
    const std::uint64_t bias_key = noise_key(clip_.noise_seed, step, t + 1);
    if (ls.kind == LayerKind::kDense) {
      const float *u, *d;
      factors(l, &u, &d);
      // No weight-gradient buffer: a fused update (which always updates).
      if (weight_grad == nullptr) {
        update_weights_fused(l, rows, u, ls.in, d, m, alpha, noise_stddev, *update);
      } else {
        k.rank1_accumulate_f32(rows, ls.in, m, alpha, u, ls.in, d, m, weight_grad, m,
                               rank1_scratch(rows));
        if (noise_stddev > 0.0f)
          k.add_gaussian_noise_f32(ls.in * m, weight_grad, noise_stddev, weight_key, 0);
      }
      k.column_sums_accumulate_f32(rows, m, alpha, d, m, bias_grad);
    } else {
      for (std::size_t j = 0; j < m; ++j) {
        weight_grad[j] *= alpha;
        bias_grad[j] *= alpha;
      }
      if (noise_stddev > 0.0f) k.add_gaussian_noise_f32(m, weight_grad, noise_stddev, weight_key, 0);
    }
    if (noise_stddev > 0.0f) k.add_gaussian_noise_f32(m, bias_grad, noise_stddev, bias_key, 0);
  }
}

MatrixView<const float> Model::example_norms() const {
  const float* norms = built() ? buffer(ModelBuffer::kExampleNorms).data : nullptr;
  if (norms == nullptr) return {};
  const std::size_t cols = spec_.layer_count + 1;
  return MatrixView<const float>{norms, examples_done_, cols, cols};
}

}  // namespace tern
