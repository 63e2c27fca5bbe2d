// SPDX-License-Identifier: Apache-2.0
// tern/runtime/plan.h — where every buffer of a model lives in its arena.
//
// One constexpr function, plan_model(), walks the layers of a ModelSpec and
// gives every buffer an offset and a size. arena_bytes(spec) is its total,
// and Model::build() takes one block of exactly that size from the arena and
// resolves the same offsets into pointers: size and layout come from the same
// code and cannot drift apart.
//
// Every buffer starts on a 64-byte boundary and its size is rounded up to 64
// bytes (align_up), like every Arena allocation. The order is
//
//   parameters   W, b of each Dense; gamma, beta of each LayerNorm
//   gradients    same shapes, same order                      (training)
//   moment 1     SGD velocity or Adam m, same order            (training)
//   moment 2     Adam v, same order                  (training, Adam/AdamW)
//   points       activation matrices, rows x width
//   pre / stats  GELU/tanh/sigmoid pre-activations, LayerNorm
//                mean and 1/std per row                         (training)
//   deltas       dL/d(point), rows x width                      (training)
//   boundary     dL/dX (the delta of point 0) and dL/dY
//                                  (training with spec.input_gradient)
//   labels       the batch's labels or regression targets       (training)
//   factors      accumulated (u_i, delta_i) rows per Dense layer
//                                          (training with accumulation_rows)
//   examples     per-example norms, per-row clip scales and the
//                norm computation's scratch     (training with example_rows;
//                the Gram blocks alone with accumulation_rows)
//   block        the fused update's gradient block  (training, fused_update)
//   scratch      the kernels' packed panels          (rows >= kPackMinRows)
//   snapshot     last good parameters, moment 1, moment 2
//                                  (training with spec.divergence_guard)
//
// so each group is one contiguous span (the gradients are zeroed with one
// memset per step).
//
// Memory sharing. Buffers whose lifetimes do not overlap share memory:
//  * Inference keeps no activation for later: each point lives from the
//    layer that writes it to the last layer that reads it (the next layer,
//    or a residual further on). Points are packed into slots, first fit in
//    order of creation; a slot is reused once its last occupant is dead, and
//    is as large as its largest occupant. An MLP thus ping-pongs between two
//    buffers, and so does one feed-forward block (its input, which the
//    residual reads again, is point 0: the caller's input, read in place);
//    two stacked blocks need three (the second block's input stays alive for
//    its residual).
//  * Training keeps every point for the backward pass (each layer's input is
//    needed for its weight gradient), but deltas are transient: dL/d(point p)
//    lives from the backward step that writes it until layer p-1 has consumed
//    it (longer when a residual must add it to an earlier point's delta).
//    The same slot packing over backward time makes an MLP's deltas
//    ping-pong between two buffers sized for the widest layers.
//  * Activation derivatives are applied in place on the delta; ReLU after a
//    Dense layer is fused into the GEMM and differentiated from its output,
//    so it needs no pre-activation buffer; GELU, tanh and sigmoid keep one.
//  * Example gradients (spec.example_rows) need every delta of a step at
//    once — the per-example norms of all layers decide the clip scale of
//    each example before any gradient is accumulated — and accumulation
//    copies every layer's delta rows after the pass, so with either the
//    deltas get one buffer each instead of sharing slots.
//  * The input gradient (spec.input_gradient) gives the delta of point 0 a
//    buffer of its own, and a residual reading point 0 keeps its delta
//    alive until layer 0's backward step adds it there. dL/dY is copied
//    into a buffer of its own before the pass turns the output delta into
//    a pre-activation gradient in place.
//  * A fused update (spec.fused_update) plans no Dense weight gradient:
//    the gradient of fused_block_rows(spec) rows of W at a time is formed
//    in the block buffer and handed straight to the optimizer. Biases and
//    LayerNorm parameters keep their (width-sized) gradient buffers.
//  * The kernels' scratch (gemm_rows packs W into 32-column panels,
//    rank1_accumulate packs D and U^T) is one buffer shared by every layer.
//    Packing pays off only when many rows reuse a panel, so models with
//    fewer than kPackMinRows rows per step get no scratch and the kernels
//    read the operands in place (same bits, less RAM).
#pragma once

#include <cstddef>
#include <cstdint>

#include "tern/kernels/dense.h"
#include "tern/runtime/arena.h"
#include "tern/runtime/plan_buffers.h"
#include "tern/runtime/plan_slots.h"
#include "tern/runtime/spec.h"

namespace tern {

// Rows per step from which the kernels get scratch for packed panels. At
// fewer rows each panel would be read about once, so packing it first only
// adds a copy (and a microcontroller saves up to 32 KiB).
constexpr std::uint32_t kPackMinRows = 16;

// Rows of W updated per block by a fused update. Each block is one
// rank1_accumulate call (n rows of factors, block rows x m outputs)
// followed by the optimizer on the same rows of W and its moments.
// Without scratch (fewer than kPackMinRows rows per step) the factors are
// read in place and the block should stay in L1 between the accumulation
// that writes it and the optimizer that reads it: 16 rows, one AVX-512
// rank-1 register tile (16 x 16), 16 KiB at m = 256. With scratch,
// rank1_accumulate packs all of D (n x m) once per call, so a 16-row block
// copies D once per 16 rows of W; 64 rows copy it four times less, which
// outweighs the block's spill to L2.
constexpr std::uint32_t kFusedBlockRows = 16;
constexpr std::uint32_t kFusedBlockRowsPacked = 64;
constexpr std::uint32_t fused_block_rows(const ModelSpec& spec) {
  return spec.rows >= kPackMinRows ? kFusedBlockRowsPacked : kFusedBlockRows;
}

// Rows per block of the Gram matrices (U U^T, D D^T) from which squared
// gradient norms are computed: two 16 x 16 blocks, 2 KiB of scratch, at any
// number of rows per example or per accumulated step.
constexpr std::uint32_t kGramBlock = 16;

constexpr ModelPlan plan_model(const ModelSpec& spec) {
  using namespace plan_detail;
  ModelPlan plan;
  plan.check = check_spec(spec);
  if (!plan.check.ok()) return plan;

  const std::uint32_t L = spec.layer_count;
  const std::uint64_t n = spec.rows;
  const bool training = spec.mode == Mode::kTraining;
  const bool two_moments = spec.optimizer != OptimizerKind::kSgd;
  Cursor cur;

  // Parameters and, for training, their gradients and optimizer moments:
  // four passes over the layers in the same order, so the groups have the
  // same internal layout.
  auto param_floats = [&](std::uint32_t l, bool weight) -> std::uint64_t {
    const LayerSpec& ls = spec.layers[l];
    if (ls.kind == LayerKind::kDense) {
      return weight ? std::uint64_t{ls.in} * ls.out : std::uint64_t{ls.out};
    }
    if (ls.kind == LayerKind::kLayerNorm) return ls.out;
    return 0;
  };
  plan[ModelBuffer::kParameters].offset = cur.at;
  for (std::uint32_t l = 0; l < L; ++l) {
    if (!has_parameters(spec.layers[l].kind)) continue;
    plan.layers[l][LayerBuffer::kWeight] = cur.take(bytes_of_floats(param_floats(l, true)));
    plan.layers[l][LayerBuffer::kBias] = cur.take(bytes_of_floats(param_floats(l, false)));
    plan.parameter_floats += param_floats(l, true) + param_floats(l, false);
    plan.tensor_count += 2;
  }
  plan[ModelBuffer::kParameters].bytes = cur.at - plan[ModelBuffer::kParameters].offset;
  if (training) {
    plan[ModelBuffer::kGradients].offset = cur.at;
    for (std::uint32_t l = 0; l < L; ++l) {
      if (!has_parameters(spec.layers[l].kind)) continue;
      const bool fused = spec.fused_update && spec.layers[l].kind == LayerKind::kDense;
      if (!fused) plan.layers[l][LayerBuffer::kWeightGrad] = cur.take(plan.layers[l][LayerBuffer::kWeight].bytes);
      plan.layers[l][LayerBuffer::kBiasGrad] = cur.take(plan.layers[l][LayerBuffer::kBias].bytes);
    }
    plan[ModelBuffer::kGradients].bytes = cur.at - plan[ModelBuffer::kGradients].offset;
    plan[ModelBuffer::kMoment1].offset = cur.at;
    for (std::uint32_t l = 0; l < L; ++l) {
      if (!has_parameters(spec.layers[l].kind)) continue;
      plan.layers[l][LayerBuffer::kWeightMoment1] = cur.take(plan.layers[l][LayerBuffer::kWeight].bytes);
      plan.layers[l][LayerBuffer::kBiasMoment1] = cur.take(plan.layers[l][LayerBuffer::kBias].bytes);
    }
    plan[ModelBuffer::kMoment1].bytes = cur.at - plan[ModelBuffer::kMoment1].offset;
    plan[ModelBuffer::kMoment2].offset = cur.at;
    if (two_moments) {
      for (std::uint32_t l = 0; l < L; ++l) {
        if (!has_parameters(spec.layers[l].kind)) continue;
        plan.layers[l][LayerBuffer::kWeightMoment2] = cur.take(plan.layers[l][LayerBuffer::kWeight].bytes);
        plan.layers[l][LayerBuffer::kBiasMoment2] = cur.take(plan.layers[l][LayerBuffer::kBias].bytes);
      }
    }
    plan[ModelBuffer::kMoment2].bytes = cur.at - plan[ModelBuffer::kMoment2].offset;
  }

  // Points.
  if (training) {
    for (std::uint32_t p = 0; p <= L; ++p) plan.points[p] = cur.take(bytes_of_floats(n * spec.width(p)));
    plan.point_buffers = L + 1;
  } else {
    // Point p (1..L) is written by layer p-1 and read by layer p and by any
    // residual layer r with from == p; the output point lives on.
    Interval items[kMaxLayers + 1] = {};
    for (std::uint32_t p = 1; p <= L; ++p) {
      Interval& it = items[p - 1];
      it.start = p - 1;
      it.end = p == L ? std::int64_t{L} + 1 : std::int64_t{p};
      for (std::uint32_t r = p; r < L; ++r) {
        if (spec.layers[r].kind == LayerKind::kResidual && spec.layers[r].from == p && r > it.end) {
          it.end = r;
        }
      }
      it.bytes = bytes_of_floats(n * spec.width(p));
    }
    std::uint32_t slot_of[kMaxLayers + 1] = {};
    std::uint64_t slot_bytes[kMaxLayers + 1] = {};
    const std::uint32_t slots = pack_slots(items, L, slot_of, slot_bytes);
    Region slot_region[kMaxLayers + 1] = {};
    for (std::uint32_t s = 0; s < slots; ++s) slot_region[s] = cur.take(slot_bytes[s]);
    for (std::uint32_t p = 1; p <= L; ++p) {
      plan.points[p] = Region{slot_region[slot_of[p - 1]].offset, items[p - 1].bytes};
    }
    plan.point_buffers = slots;
  }

  if (training) {
    for (std::uint32_t l = 0; l < L; ++l) {
      const LayerSpec& ls = spec.layers[l];
      if (keeps_pre_activation(ls)) plan.layers[l][LayerBuffer::kPreActivation] = cur.take(bytes_of_floats(n * ls.out));
      if (ls.kind == LayerKind::kLayerNorm) {
        plan.layers[l][LayerBuffer::kMean] = cur.take(bytes_of_floats(n));
        plan.layers[l][LayerBuffer::kRstd] = cur.take(bytes_of_floats(n));
      }
    }

    // Deltas over backward time: layer l runs its backward step at time
    // t = L-1-l; the loss writes dL/d(point L) at t = -1. Delta p is written
    // at time L-1-p and read by layer p-1 at time L-p; a residual layer r
    // adding point s reads delta r+1 again right after layer s's backward
    // step, at time L-1-s.
    Interval items[kMaxLayers + 1] = {};
    for (std::uint32_t p = L; p >= 1; --p) {
      Interval& it = items[L - p];
      it.start = std::int64_t{L} - 1 - p;
      it.end = std::int64_t{L} - p;
      it.bytes = bytes_of_floats(n * spec.width(p));
    }
    for (std::uint32_t r = 0; r < L; ++r) {
      const LayerSpec& ls = spec.layers[r];
      // Without the input gradient nothing reads a residual's delta for
      // point 0.
      if (ls.kind != LayerKind::kResidual || (ls.from == 0 && !spec.input_gradient)) continue;
      Interval& it = items[L - (r + 1)];
      const std::int64_t t = std::int64_t{L} - 1 - ls.from;
      if (t > it.end) it.end = t;
    }
    std::uint32_t slot_of[kMaxLayers + 1] = {};
    std::uint64_t slot_bytes[kMaxLayers + 1] = {};
    // Example gradients and accumulation keep every delta alive through the
    // whole backward pass (the clip scales and the factor copies come after
    // it): one slot each.
    if (spec.example_rows != 0 || spec.accumulation_rows != 0) {
      for (std::uint32_t i = 0; i < L; ++i) items[i].end = std::int64_t{L};
    }
    const std::uint32_t slots = pack_slots(items, L, slot_of, slot_bytes);
    Region slot_region[kMaxLayers + 1] = {};
    for (std::uint32_t s = 0; s < slots; ++s) slot_region[s] = cur.take(slot_bytes[s]);
    for (std::uint32_t p = L; p >= 1; --p) {
      plan.deltas[p] = Region{slot_region[slot_of[L - p]].offset, items[L - p].bytes};
    }
    plan.delta_buffers = slots;
    if (spec.input_gradient) {
      plan.deltas[0] = cur.take(bytes_of_floats(n * spec.input_width));
      plan[ModelBuffer::kOutputGradient] = cur.take(bytes_of_floats(n * spec.output_width()));
      plan.delta_buffers += 1;
    }

    const std::uint64_t label_bytes =
        spec.loss == LossKind::kSoftmaxCrossEntropy ? n * 4 : n * spec.output_width() * 4;
    plan[ModelBuffer::kLabels] = cur.take(round_up(label_bytes));

    if (spec.accumulation_rows != 0) {
      const std::uint64_t K = spec.accumulation_rows;
      for (std::uint32_t l = 0; l < L; ++l) {
        const LayerSpec& ls = spec.layers[l];
        if (ls.kind != LayerKind::kDense) continue;
        plan.layers[l][LayerBuffer::kFactorU] = cur.take(bytes_of_floats(K * ls.in));
        plan.layers[l][LayerBuffer::kFactorD] = cur.take(bytes_of_floats(K * ls.out));
      }
    }
    if (spec.example_rows != 0) {
      std::uint64_t widest = 0;
      for (std::uint32_t p = 0; p <= L; ++p) {
        if (spec.width(p) > widest) widest = spec.width(p);
      }
      plan[ModelBuffer::kExampleNorms] = cur.take(bytes_of_floats(n / spec.example_rows * (L + 1)));
      plan[ModelBuffer::kRowScale] = cur.take(bytes_of_floats(n));
      plan[ModelBuffer::kNormScratch] =
          cur.take(bytes_of_floats(2 * std::uint64_t{kGramBlock} * kGramBlock + 2 * widest));
    } else if (spec.accumulation_rows != 0) {
      // Global-norm clipping of accumulated factors needs the Gram blocks.
      plan[ModelBuffer::kNormScratch] = cur.take(bytes_of_floats(2 * std::uint64_t{kGramBlock} * kGramBlock));
    }
    if (spec.fused_update) {
      std::uint64_t widest_dense = 0;
      for (std::uint32_t l = 0; l < L; ++l) {
        const LayerSpec& ls = spec.layers[l];
        if (ls.kind == LayerKind::kDense && ls.out > widest_dense) widest_dense = ls.out;
      }
      plan[ModelBuffer::kUpdateBlock] = cur.take(bytes_of_floats(widest_dense * fused_block_rows(spec)));
    }
  }

  // One scratch buffer for the kernels' packed panels, shared by every
  // layer (the kernels run one at a time).
  if (spec.rows >= kPackMinRows) {
    std::uint64_t panel = 0;
    for (std::uint32_t l = 0; l < L; ++l) {
      const LayerSpec& ls = spec.layers[l];
      if (ls.kind != LayerKind::kDense) continue;
      const std::uint64_t g = gemm_rows_scratch_floats(ls.in);
      if (g > panel) panel = g;
      if (training) {
        // A flush of accumulated factors is one rank1_accumulate over all
        // of them.
        const std::uint32_t r1_rows =
            spec.accumulation_rows != 0 ? spec.accumulation_rows : spec.rows;
        const std::uint64_t r = rank1_accumulate_scratch_floats(r1_rows);
        if (r > panel) panel = r;
      }
    }
    plan[ModelBuffer::kScratch] = cur.take(bytes_of_floats(panel));
  }

  // The divergence guard's copy of the last good state: the parameter and
  // moment groups, byte for byte (padding included, so each is one memcpy).
  if (training && spec.divergence_guard) {
    plan[ModelBuffer::kSnapshot] = cur.take(plan[ModelBuffer::kParameters].bytes + plan[ModelBuffer::kMoment1].bytes + plan[ModelBuffer::kMoment2].bytes);
  }

  plan.total = cur.at;
  if (plan.total > SIZE_MAX) {
    // Same object on every return path, so the compiler builds the plan in
    // the caller's storage (a few KiB that a firmware stack should not hold
    // twice).
    plan.check = SpecCheck{SpecError::kTooLarge, 0};
    plan.total = 0;
  }
  return plan;
}

// Parameter floats of a valid spec (W and b of each Dense, gamma and beta of
// each LayerNorm), without building a whole plan.
constexpr std::uint64_t parameter_floats(const ModelSpec& spec) {
  std::uint64_t total = 0;
  for (std::uint32_t l = 0; l < spec.layer_count && l < kMaxLayers; ++l) {
    const LayerSpec& ls = spec.layers[l];
    if (ls.kind == LayerKind::kDense) total += (std::uint64_t{ls.in} + 1) * ls.out;
    if (ls.kind == LayerKind::kLayerNorm) total += 2 * std::uint64_t{ls.out};
  }
  return total;
}

namespace plan_detail {

// Reached by arena_bytes() for a spec plan_model() rejects. Not constexpr,
// so that arena_bytes(bad_spec) in a constant expression (an array bound, a
// static_assert, a constexpr variable) is a compile error naming this
// function; at run time it gives 0. (A zero-length array is only a
// -Wpedantic warning, so a bound of 0 alone would compile a bad spec into a
// program whose build() then fails on the device.)
inline std::size_t arena_bytes_needs_a_valid_spec() { return 0; }

}  // namespace plan_detail

// Bytes of arena a model of this spec needs: exactly what Model::build()
// takes. An invalid spec (or one whose plan overflows) does not compile in
// a constant expression and gives 0 at run time. The arena itself must be
// 64-byte aligned.
constexpr std::size_t arena_bytes(const ModelSpec& spec) {
  const ModelPlan plan = plan_model(spec);
  if (!plan.check.ok()) return plan_detail::arena_bytes_needs_a_valid_spec();
  return static_cast<std::size_t>(plan.total);
}

}  // namespace tern
