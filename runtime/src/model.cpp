// Model construction, initialisation and parameter access. The passes
// (forward, backward, update) are in passes.cpp.
#include <cmath>
#include <cstring>

#include "tern/runtime/model.h"
#include "tern/runtime/rng.h"

namespace tern {

const char* spec_error_text(SpecError e) {
  switch (e) {
    case SpecError::kOk: return "ok";
    case SpecError::kNoLayers: return "the model has no layers";
    case SpecError::kTooManyLayers: return "more layers than kMaxLayers";
    case SpecError::kZeroRows: return "rows per step is 0";
    case SpecError::kZeroWidth: return "a width is 0";
    case SpecError::kWidthMismatch: return "input width does not match the previous point";
    case SpecError::kBadResidual: return "residual source is not an earlier point of the same width";
    case SpecError::kBadActivation: return "unknown activation";
    case SpecError::kBadKind: return "unknown layer kind, mode, loss or optimizer";
    case SpecError::kBadLoss: return "softmax cross-entropy needs at least 2 outputs";
    case SpecError::kTooLarge: return "a dimension or the arena size is too large";
    case SpecError::kBadTrainingOption:
      return "fused update, example gradients and accumulation need training mode; example_rows "
             "must divide rows (and accumulation_rows), accumulation_rows must be >= rows and "
             "excludes the divergence guard";
  }
  return "unknown error";
}

const char* layer_kind_name(LayerKind kind) {
  switch (kind) {
    case LayerKind::kDense: return "dense";
    case LayerKind::kActivation: return "activation";
    case LayerKind::kLayerNorm: return "layer_norm";
    case LayerKind::kResidual: return "residual";
  }
  return "unknown";
}

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

Status spec_status(const ModelSpec& spec, const SpecCheck& check) {
  const std::uint32_t l = check.layer;
  const bool has_layer = l < spec.layer_count && l < kMaxLayers;
  switch (check.error) {
    case SpecError::kWidthMismatch:
      if (has_layer) {
        const LayerSpec& ls = spec.layers[l];
        return Status::error(StatusCode::kShapeMismatch,
                             "model spec: layer %u (%s) has in=%u out=%u but its input point "
                             "has width %u",
                             static_cast<unsigned>(l), layer_kind_name(ls.kind),
                             static_cast<unsigned>(ls.in), static_cast<unsigned>(ls.out),
                             static_cast<unsigned>(spec.width(l)));
      }
      break;
    case SpecError::kBadResidual:
      if (has_layer) {
        const LayerSpec& ls = spec.layers[l];
        return Status::error(StatusCode::kShapeMismatch,
                             "model spec: residual layer %u adds point %u, which must be an "
                             "earlier point (< %u) of width %u",
                             static_cast<unsigned>(l), static_cast<unsigned>(ls.from),
                             static_cast<unsigned>(l), static_cast<unsigned>(ls.in));
      }
      break;
    default: break;
  }
  return Status::error(StatusCode::kInvalidArgument, "model spec: %s (layer %u)",
                       spec_error_text(check.error), static_cast<unsigned>(l));
}

}  // namespace

Status Model::build(const ModelSpec& spec, Arena& arena) {
  base_ = nullptr;
  kernels_ = nullptr;
  bytes_ = 0;
  rows_done_ = 0;
  const ModelPlan plan = plan_model(spec);
  if (!plan.check.ok()) return spec_status(spec, plan.check);

  const KernelTable* table = nullptr;
  TERN_RETURN_IF_ERROR(active_kernels(&table));

  const std::size_t total = static_cast<std::size_t>(plan.total);
  void* block = nullptr;
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
  TERN_RETURN_IF_ERROR(arena.allocate_bytes(total, &block));

  unsigned char* base = static_cast<unsigned char*>(block);
  auto at = [base](const Region& r) -> float* {
    return r.present() ? reinterpret_cast<float*>(base + r.offset) : nullptr;
  };
  spec_ = spec;
  kernels_ = table;
  base_ = base;
  bytes_ = total;
  for (std::uint32_t l = 0; l < kMaxLayers; ++l) {
    const LayerPlan& lp = plan.layers[l];
    LayerBuffers& b = layers_[l];
    b.weight = at(lp.weight);
    b.bias = at(lp.bias);
    b.weight_grad = at(lp.weight_grad);
    b.bias_grad = at(lp.bias_grad);
    b.weight_m = at(lp.weight_m);
    b.bias_m = at(lp.bias_m);
    b.weight_v = at(lp.weight_v);
    b.bias_v = at(lp.bias_v);
    b.pre = at(lp.pre);
    b.mean = at(lp.mean);
    b.rstd = at(lp.rstd);
    b.factor_u = at(lp.factor_u);
    b.factor_d = at(lp.factor_d);
  }
  for (std::uint32_t p = 0; p <= kMaxLayers; ++p) {
    points_[p] = at(plan.points[p]);
    deltas_[p] = at(plan.deltas[p]);
  }
  labels_ = at(plan.labels);
  gradients_ = at(plan.gradients);
  gradient_bytes_ = static_cast<std::size_t>(plan.gradients.bytes);
  scratch_ = at(plan.scratch);
  scratch_floats_ = static_cast<std::size_t>(plan.scratch.bytes / sizeof(float));
  update_block_ = at(plan.update_block);
  example_norms_ = at(plan.example_norms);
  row_scale_ = at(plan.row_scale);
  norm_scratch_ = at(plan.norm_scratch);
  examples_done_ = 0;
  accumulated_ = 0;
  clip_ = ClipParams();
  gradient_norm_ = 0.0f;
  params_ = base + plan.parameters.offset;
  params_bytes_ = static_cast<std::size_t>(plan.parameters.bytes);
  moments_ = base + plan.moment1.offset;
  moments_bytes_ = static_cast<std::size_t>(plan.moment1.bytes + plan.moment2.bytes);
  snapshot_ = plan.snapshot.present() ? base + plan.snapshot.offset : nullptr;
  snapshot_valid_ = false;
  policy_ = DivergencePolicy();
  divergence_ = DivergenceReport();
  tensor_count_ = plan.tensor_count;
  parameter_count_ = static_cast<std::size_t>(plan.parameter_floats);

  // Parameters, gradients and optimizer moments start at zero (padding
  // included, so a whole group can be handled as one span).
  std::memset(base + plan.parameters.offset, 0,
              static_cast<std::size_t>(plan.parameters.bytes + plan.gradients.bytes +
                                       plan.moment1.bytes + plan.moment2.bytes));
  steps_ = 0;
  return Status();
}

std::size_t Model::weight_count(std::uint32_t layer) const {
  const LayerSpec& ls = spec_.layers[layer];
  if (ls.kind == LayerKind::kDense) return std::size_t{ls.in} * ls.out;
  if (ls.kind == LayerKind::kLayerNorm) return ls.out;
  return 0;
}

void Model::initialize(std::uint64_t seed) {
  if (!built()) return;
  Rng rng(seed);
  for (std::uint32_t l = 0; l < spec_.layer_count; ++l) {
    const LayerSpec& ls = spec_.layers[l];
    LayerBuffers& b = layers_[l];
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
      for (std::size_t i = 0; i < count; ++i) b.weight[i] = rng.symmetric(limit);
      for (std::uint32_t j = 0; j < ls.out; ++j) b.bias[j] = 0.0f;
    } else if (ls.kind == LayerKind::kLayerNorm) {
      for (std::uint32_t j = 0; j < ls.out; ++j) {
        b.weight[j] = 1.0f;
        b.bias[j] = 0.0f;
      }
    }
    for (std::uint32_t t = 0; t < 2; ++t) {
      const std::size_t count = t == 0 ? weight_count(l) : (has_parameters(ls.kind) ? ls.out : 0);
      float* buffers[3] = {t == 0 ? b.weight_grad : b.bias_grad, t == 0 ? b.weight_m : b.bias_m,
                           t == 0 ? b.weight_v : b.bias_v};
      for (float* p : buffers) {
        if (p != nullptr) std::memset(p, 0, count * sizeof(float));
      }
    }
  }
  steps_ = 0;
  rows_done_ = 0;
  examples_done_ = 0;
  accumulated_ = 0;
  gradient_norm_ = 0.0f;
  snapshot_valid_ = false;
  divergence_ = DivergenceReport();
}

Tensor Model::tensor(std::uint32_t i) const {
  Tensor t;
  std::uint32_t seen = 0;
  for (std::uint32_t l = 0; l < spec_.layer_count; ++l) {
    if (!has_parameters(spec_.layers[l].kind)) continue;
    if (i == seen || i == seen + 1) {
      const LayerBuffers& b = layers_[l];
      t.layer = l;
      t.is_bias = i == seen + 1;
      const std::size_t count = t.is_bias ? spec_.layers[l].out : weight_count(l);
      auto span = [count](float* p) {
        return p != nullptr ? Span<float>{p, count} : Span<float>{};
      };
      t.value = span(t.is_bias ? b.bias : b.weight);
      t.grad = span(t.is_bias ? b.bias_grad : b.weight_grad);
      t.moment1 = span(t.is_bias ? b.bias_m : b.weight_m);
      t.moment2 = span(t.is_bias ? b.bias_v : b.weight_v);
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
  if (!built() || p > spec_.layer_count || deltas_[p] == nullptr) return {};
  const std::size_t w = spec_.width(p);
  return MatrixView<const float>{deltas_[p], rows_done_, w, w};
}

MatrixView<const float> Model::output() const { return point(spec_.layer_count); }

namespace {
bool finite_positive(float v) { return std::isfinite(v) && v > 0.0f; }
bool unit_interval(float v) { return std::isfinite(v) && v >= 0.0f && v < 1.0f; }
}  // namespace

Status Model::set_optimizer(const OptimizerParams& p) {
  if (!finite_positive(p.learning_rate)) {
    return Status::error(StatusCode::kInvalidArgument,
                         "optimizer: learning rate %g must be finite and > 0",
                         static_cast<double>(p.learning_rate));
  }
  if (!unit_interval(p.momentum) || !unit_interval(p.beta1) || !unit_interval(p.beta2)) {
    return Status::error(StatusCode::kInvalidArgument,
                         "optimizer: momentum %g, beta1 %g and beta2 %g must be in [0, 1)",
                         static_cast<double>(p.momentum), static_cast<double>(p.beta1),
                         static_cast<double>(p.beta2));
  }
  if (!finite_positive(p.epsilon) || !std::isfinite(p.weight_decay) || p.weight_decay < 0.0f) {
    return Status::error(StatusCode::kInvalidArgument,
                         "optimizer: epsilon %g must be > 0 and weight decay %g >= 0",
                         static_cast<double>(p.epsilon), static_cast<double>(p.weight_decay));
  }
  opt_ = p;
  return Status();
}

Status Model::set_divergence_policy(const DivergencePolicy& p) {
  TERN_RETURN_IF_ERROR(check_training("set_divergence_policy"));
  if (snapshot_ == nullptr) {
    return Status::error(StatusCode::kFailedPrecondition,
                         "set_divergence_policy: the spec has no divergence guard (build it "
                         "with .with_divergence_guard() so the arena holds a snapshot)");
  }
  if (!(p.learning_rate_factor > 0.0f && p.learning_rate_factor < 1.0f)) {
    return Status::error(StatusCode::kInvalidArgument,
                         "set_divergence_policy: learning rate factor %g must be in (0, 1)",
                         static_cast<double>(p.learning_rate_factor));
  }
  if (static_cast<unsigned>(p.action) > 1) {
    return Status::error(StatusCode::kInvalidArgument,
                         "set_divergence_policy: unknown action %u",
                         static_cast<unsigned>(p.action));
  }
  policy_ = p;
  return Status();
}

}  // namespace tern
