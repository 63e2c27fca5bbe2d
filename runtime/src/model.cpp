// SPDX-License-Identifier: Apache-2.0
// A model's life outside the passes: build() (the buffers of the plan, the
// kernel table, the training step the spec runs), initialisation, and access
// to parameters and activations.
#include <cmath>
#include <cstring>

#include "spec_messages.h"
#include "tern/kernels/kernel_table.h"
#include "tern/runtime/model.h"
#include "tern/runtime/rng.h"

namespace tern {

// Everything that can fail comes first, and the arena allocation, the last
// of it, changes nothing when it fails: a rejected build leaves a built model
// as it was (model.h).
Status Model::take_block(Arena& arena, std::size_t total, Isa* isa, unsigned char** base) {
  TERN_RETURN_IF_ERROR(active_kernel_isa(isa));
  if (!arena.attached()) {
    return Status::error(StatusCode::kFailedPrecondition,
                         "model: the arena is not attached to a buffer (the model needs %zu "
                         "bytes)",
                         total);
  }
  if (total > arena.free_bytes()) {
    return Status::error(StatusCode::kOutOfMemory,
                         "model: needs %zu bytes of arena (tern::arena_bytes(spec)), only %zu "
                         "of %zu are free",
                         total, arena.free_bytes(), arena.capacity());
  }
  void* block = nullptr;
  TERN_RETURN_IF_ERROR(arena.allocate_bytes(total, &block));
  *base = static_cast<unsigned char*>(block);
  return Status();
}

Status Model::build(const ModelSpec& spec, Arena& arena) {
  const ModelPlan plan = plan_model(spec);
  if (!plan.check.ok()) return spec_status(spec, plan.check);

  Isa isa = Isa::kScalar;
  unsigned char* base = nullptr;
  const std::size_t total = static_cast<std::size_t>(plan.total);
  TERN_RETURN_IF_ERROR(take_block(arena, total, &isa, &base));

  // Every buffer of the plan, in one loop per kind of plan entry.
  auto at = [base](const Region& r) -> float* {
    return r.present() ? reinterpret_cast<float*>(base + r.offset) : nullptr;
  };
  for (std::uint32_t l = 0; l < kMaxLayers; ++l) {
    for (std::size_t b = 0; b < kLayerBufferCount; ++b) {
      layer_buffers_[l][b] = at(plan.layers[l].buffers[b]);
    }
  }
  for (std::size_t b = 0; b < kModelBufferCount; ++b) {
    model_buffers_[b] = ModelBufferView{at(plan.buffers[b]),
                                        static_cast<std::size_t>(plan.buffers[b].bytes)};
  }
  for (std::uint32_t p = 0; p <= kMaxLayers; ++p) {
    points_[p] = at(plan.points[p]);
    deltas_[p] = at(plan.deltas[p]);
  }

  // Parameters, gradients and optimizer moments are zeroed (padding
  // included, so a whole group can be handled as one span; the four groups
  // are contiguous, in this order, from the parameters on), then adopt()
  // initialises the parameters with kDefaultInitSeed.
  const Region& params = plan[ModelBuffer::kParameters];
  adopt(spec, isa, base, total, plan.tensor_count, plan.parameter_floats,
        static_cast<std::size_t>(params.offset),
        static_cast<std::size_t>(params.bytes + plan[ModelBuffer::kGradients].bytes +
                                 plan[ModelBuffer::kMoment1].bytes +
                                 plan[ModelBuffer::kMoment2].bytes));
  return Status();
}

// The plan's buffers come as (slot, offset, bytes) entries (plan.h); every
// other buffer is absent.
Status Model::build_compiled(const ModelSpec& spec, const CompiledPlanFacts& facts,
                             const PlanEntry* entries, std::size_t count, Arena& arena) {
  Isa isa = Isa::kScalar;
  unsigned char* base = nullptr;
  TERN_RETURN_IF_ERROR(take_block(arena, facts.total, &isa, &base));

  std::memset(layer_buffers_, 0, sizeof layer_buffers_);
  for (ModelBufferView& v : model_buffers_) v = ModelBufferView();
  std::memset(points_, 0, sizeof points_);
  std::memset(deltas_, 0, sizeof deltas_);
  for (std::size_t i = 0; i < count; ++i) {
    const PlanEntry& e = entries[i];
    float* p = reinterpret_cast<float*>(base + e.offset);
    if (e.slot < kPlanSlotModel) {
      layer_buffers_[e.slot / kLayerBufferCount][e.slot % kLayerBufferCount] = p;
    } else if (e.slot < kPlanSlotPoints) {
      model_buffers_[e.slot - kPlanSlotModel] = ModelBufferView{p, e.bytes};
    } else if (e.slot < kPlanSlotDeltas) {
      points_[e.slot - kPlanSlotPoints] = p;
    } else {
      deltas_[e.slot - kPlanSlotDeltas] = p;
    }
  }
  adopt(spec, isa, base, facts.total, facts.tensor_count, facts.parameter_floats,
        facts.zero_offset, facts.zero_bytes);
  return Status();
}

void Model::adopt(const ModelSpec& spec, Isa isa, unsigned char* base, std::size_t total,
                  std::uint32_t tensor_count, std::uint64_t parameter_floats,
                  std::size_t zero_offset, std::size_t zero_bytes) {
  spec_ = spec;
  isa_ = isa;
  base_ = base;
  bytes_ = total;
  rows_done_ = 0;
  gradient_rows_ = 0;
  backward_rows_ = 0;
  // The training step this spec runs (model.h, train_step.cpp). check_spec
  // has made sure the options compose: accumulation excludes the guard.
  step_frame_ = spec.accumulation_rows != 0 ? StepFrame::kAccumulated
                : spec.divergence_guard     ? StepFrame::kGuarded
                                            : StepFrame::kSingle;
  gradient_path_ = (spec.example_rows != 0 || spec.accumulation_rows != 0)
                       ? GradientPath::kFromFactors
                   : spec.fused_update ? GradientPath::kFused
                                       : GradientPath::kStored;
  examples_done_ = 0;
  accumulated_ = 0;
  clip_ = ClipParams();
  gradient_norm_ = 0.0f;
  guard_ = DivergenceGuard();
  guard_.snapshot = reinterpret_cast<unsigned char*>(buffer(ModelBuffer::kSnapshot).data);
  tensor_count_ = tensor_count;
  parameter_count_ = static_cast<std::size_t>(parameter_floats);
  // Zero first, padding included (a whole group can be handled as one
  // span), then the weights every build starts from (kDefaultInitSeed).
  std::memset(base + zero_offset, 0, zero_bytes);
  steps_ = 0;
  initialize(kDefaultInitSeed);
}

Status Model::check_training(const char* op) const {
  if (!built()) {
    return Status::error(StatusCode::kFailedPrecondition, "%s: the model is not built", op);
  }
  if (spec_.mode != Mode::kTraining) {
    return Status::error(StatusCode::kFailedPrecondition,
                         "%s: the model was built for inference (Mode::kInference): it has no "
                         "gradients or optimizer state",
                         op);
  }
  return Status();
}

std::size_t Model::weight_count(std::uint32_t layer) const {
  const LayerSpec& ls = spec_.layers[layer];
  if (ls.kind == LayerKind::kDense) return std::size_t{ls.in} * ls.out;
  if (ls.kind == LayerKind::kLayerNorm) return ls.out;
  return 0;
}

// The index of layer `layer`'s first tensor (its weight) in plan order.
std::uint32_t Model::tensor_index(std::uint32_t layer) const {
  std::uint32_t t = 0;
  for (std::uint32_t l = 0; l < layer; ++l) {
    if (has_parameters(spec_.layers[l].kind)) t += 2;
  }
  return t;
}

void Model::initialize(std::uint64_t seed) {
  if (!built()) return;
  Rng rng(seed);
  for (std::uint32_t l = 0; l < spec_.layer_count; ++l) {
    const LayerSpec& ls = spec_.layers[l];
    float* weight = buffer(l, LayerBuffer::kWeight);
    float* bias = buffer(l, LayerBuffer::kBias);
    if (ls.kind == LayerKind::kDense) {
      Init init = ls.init;
      if (init == Init::kAuto) {
        init = (ls.act == Pointwise::kRelu || ls.act == Pointwise::kGelu) ? Init::kHe
                                                                             : Init::kXavier;
      }
      const float fan = init == Init::kHe ? static_cast<float>(ls.in)
                                          : static_cast<float>(ls.in) + static_cast<float>(ls.out);
      const float limit = std::sqrt(6.0f / fan);
      const std::size_t count = weight_count(l);
      for (std::size_t i = 0; i < count; ++i) weight[i] = rng.symmetric(limit);
      for (std::uint32_t j = 0; j < ls.out; ++j) bias[j] = 0.0f;
    } else if (ls.kind == LayerKind::kLayerNorm) {
      for (std::uint32_t j = 0; j < ls.out; ++j) {
        weight[j] = 1.0f;
        bias[j] = 0.0f;
      }
    }
    // Gradients and moments of both tensors back to zero.
    for (const TensorRole role : {TensorRole::kGrad, TensorRole::kMoment1, TensorRole::kMoment2}) {
      for (const bool is_bias : {false, true}) {
        float* p = buffer(l, tensor_buffer(role, is_bias));
        const std::size_t count = is_bias ? ls.out : weight_count(l);
        if (p != nullptr) std::memset(p, 0, count * sizeof(float));
      }
    }
  }
  steps_ = 0;
  rows_done_ = 0;
  gradient_rows_ = 0;
  backward_rows_ = 0;
  examples_done_ = 0;
  accumulated_ = 0;
  gradient_norm_ = 0.0f;
  guard_.snapshot_valid = false;
  guard_.history = LossHistory();
  guard_.report = DivergenceReport();
}

Tensor Model::tensor(std::uint32_t i) const {
  Tensor t;
  std::uint32_t seen = 0;
  for (std::uint32_t l = 0; l < spec_.layer_count; ++l) {
    if (!has_parameters(spec_.layers[l].kind)) continue;
    if (i == seen || i == seen + 1) {
      t.layer = l;
      t.is_bias = i == seen + 1;
      const std::size_t count = t.is_bias ? spec_.layers[l].out : weight_count(l);
      auto span = [&](TensorRole role) {
        float* p = buffer(l, tensor_buffer(role, t.is_bias));
        return p != nullptr ? Span<float>{p, count} : Span<float>{};
      };
      t.value = span(TensorRole::kValue);
      t.grad = span(TensorRole::kGrad);
      t.moment1 = span(TensorRole::kMoment1);
      t.moment2 = span(TensorRole::kMoment2);
      return t;
    }
    seen += 2;
  }
  return t;
}

MatrixView<const float> Model::point(std::uint32_t p) const {
  if (!built() || p > spec_.layer_count || points_[p] == nullptr) return {};
  const std::size_t w = spec_.width(p);
  return MatrixView<const float>{points_[p], rows_done_, w, w};
}

MatrixView<const float> Model::delta(std::uint32_t p) const {
  if (!built() || p > spec_.layer_count || !delta_holds(p)) return {};
  const std::size_t w = spec_.width(p);
  return MatrixView<const float>{deltas_[p], gradient_rows_, w, w};
}

MatrixView<const float> Model::output() const { return point(spec_.layer_count); }

}  // namespace tern
