// SPDX-License-Identifier: Apache-2.0
// capi/src/c_handle.cpp — the shared parts of the C interface (c_handle.h):
// status reporting and the C spec as a ModelSpec.
#include "c_handle.h"

#include <cstring>

#include "tern/runtime/persist.h"

namespace tern {
namespace c_api {

static_assert(TERN_MAX_LAYERS == tern::kMaxLayers, "tern.h and spec.h disagree on the layer limit");
static_assert(TERN_MESSAGE_CAPACITY == tern::Status::kMessageCapacity,
              "tern.h and status.h disagree on the message size");
static_assert(TERN_MODEL_FORMAT_VERSION == tern::kModelFormatVersion,
              "tern.h and persist.h disagree on the file format version");
static_assert(TERN_ARENA_ALIGNMENT == tern::kCacheLine, "arena alignment");
static_assert(static_cast<int>(TERN_FAILED_PRECONDITION) ==
                  static_cast<int>(tern::StatusCode::kFailedPrecondition),
              "tern_status mirrors tern::StatusCode");
static_assert(static_cast<int>(TERN_LAYER_RESIDUAL) == static_cast<int>(tern::LayerKind::kResidual),
              "tern_layer_kind mirrors tern::LayerKind");
static_assert(static_cast<int>(TERN_ACT_SIGMOID) == static_cast<int>(tern::Pointwise::kSigmoid),
              "tern_activation mirrors tern::Pointwise");
static_assert(static_cast<int>(TERN_OPTIMIZER_ADAMW) == static_cast<int>(tern::OptimizerKind::kAdamW),
              "tern_optimizer mirrors tern::OptimizerKind");
static_assert(static_cast<int>(TERN_INIT_AUTO) == static_cast<int>(tern::Init::kAuto) &&
                  static_cast<int>(TERN_INIT_HE) == static_cast<int>(tern::Init::kHe) &&
                  static_cast<int>(TERN_INIT_XAVIER) == static_cast<int>(tern::Init::kXavier),
              "tern_init mirrors tern::Init");

tern_status report(const tern::Status& s, tern_error* err) {
  const auto code = static_cast<tern_status>(s.code());
  if (err != nullptr) {
    err->code = code;
    std::memcpy(err->message, s.message(), sizeof err->message);
  }
  return code;
}

tern::Status null_argument(const char* function, const char* name) {
  return tern::Status::error(tern::StatusCode::kInvalidArgument, "%s: %s is null", function, name);
}

tern::Status bad_handle(const char* function) {
  return tern::Status::error(tern::StatusCode::kInvalidArgument,
                             "%s: the model handle is null or not a model made by "
                             "tern_model_create",
                             function);
}

// check_spec() found the training options inconsistent: which one, with
// the values (the rules of check_spec, in its order).
static tern::Status training_option_problem(const tern_spec& c) {
  const auto invalid = tern::StatusCode::kInvalidArgument;
  if (c.mode != TERN_MODE_TRAINING) {
    return tern::Status::error(invalid,
                               "tern_spec: fused_update %d, example_rows %u and accumulation_rows "
                               "%u are training options, and the mode is inference",
                               static_cast<int>(c.fused_update),
                               static_cast<unsigned>(c.example_rows),
                               static_cast<unsigned>(c.accumulation_rows));
  }
  if (c.example_rows != 0 && c.rows % c.example_rows != 0) {
    return tern::Status::error(invalid, "tern_spec: example_rows %u does not divide rows %u",
                               static_cast<unsigned>(c.example_rows),
                               static_cast<unsigned>(c.rows));
  }
  if (c.divergence_guard != 0) {
    return tern::Status::error(invalid,
                               "tern_spec: accumulation_rows %u with divergence_guard: the guard "
                               "restores around one step, accumulation updates in "
                               "tern_model_flush",
                               static_cast<unsigned>(c.accumulation_rows));
  }
  if (c.accumulation_rows < c.rows || c.accumulation_rows > tern::kMaxDimension) {
    return tern::Status::error(invalid, "tern_spec: accumulation_rows %u must be in rows %u .. %u",
                               static_cast<unsigned>(c.accumulation_rows),
                               static_cast<unsigned>(c.rows),
                               static_cast<unsigned>(tern::kMaxDimension));
  }
  return tern::Status::error(invalid,
                             "tern_spec: accumulation_rows %u is not a multiple of example_rows %u",
                             static_cast<unsigned>(c.accumulation_rows),
                             static_cast<unsigned>(c.example_rows));
}

// The C descriptors as a ModelSpec. Enum values are range-checked here,
// before they are narrowed; widths are left to check_spec().
tern::Status to_spec(const tern_spec* c, tern::ModelSpec* out) {
  if (c == nullptr) return null_argument("tern_spec", "spec");
  if (c->layer_count > tern::kMaxLayers) {
    return tern::Status::error(tern::StatusCode::kInvalidArgument,
                               "tern_spec: %u layers, at most %u are supported",
                               static_cast<unsigned>(c->layer_count),
                               static_cast<unsigned>(tern::kMaxLayers));
  }
  if (c->layer_count > 0 && c->layers == nullptr) return null_argument("tern_spec", "layers");
  if (c->mode < 0 || c->mode > 1 || c->loss < 0 || c->loss > 1 || c->optimizer < 0 ||
      c->optimizer > 2) {
    return tern::Status::error(tern::StatusCode::kInvalidArgument,
                               "tern_spec: mode %d, loss %d or optimizer %d is not a valid value",
                               static_cast<int>(c->mode), static_cast<int>(c->loss),
                               static_cast<int>(c->optimizer));
  }
  tern::ModelSpec s = tern::ModelSpec::input(c->input_width, c->rows);
  for (std::uint32_t l = 0; l < c->layer_count; ++l) {
    const tern_layer& L = c->layers[l];
    if (L.kind < TERN_LAYER_DENSE || L.kind > TERN_LAYER_RESIDUAL || L.activation < 0 ||
        L.activation > TERN_ACT_SIGMOID) {
      return tern::Status::error(tern::StatusCode::kInvalidArgument,
                                 "tern_spec: layer %u has kind %d and activation %d; kinds are "
                                 "1..4, activations 0..4",
                                 static_cast<unsigned>(l), static_cast<int>(L.kind),
                                 static_cast<int>(L.activation));
    }
    if (L.init < TERN_INIT_AUTO || L.init > TERN_INIT_XAVIER) {
      return tern::Status::error(tern::StatusCode::kInvalidArgument,
                                 "tern_spec: layer %u has init %d; inits are 0..2 (auto, He, "
                                 "Xavier)",
                                 static_cast<unsigned>(l), static_cast<int>(L.init));
    }
    if (L.kind != TERN_LAYER_DENSE && L.init != TERN_INIT_AUTO) {
      return tern::Status::error(tern::StatusCode::kInvalidArgument,
                                 "tern_spec: layer %u (%s) has init %d, but only Dense layers "
                                 "have weights to initialise",
                                 static_cast<unsigned>(l),
                                 tern::layer_kind_name(static_cast<tern::LayerKind>(L.kind)),
                                 static_cast<int>(L.init));
    }
    const auto act = static_cast<tern::Pointwise>(L.activation);
    switch (static_cast<tern_layer_kind>(L.kind)) {
      case TERN_LAYER_DENSE: s = s.dense(L.out, act, static_cast<tern::Init>(L.init)); break;
      case TERN_LAYER_ACTIVATION: s = s.activation(act); break;
      case TERN_LAYER_LAYER_NORM: s = s.layer_norm(); break;
      case TERN_LAYER_RESIDUAL: s = s.residual(L.from); break;
    }
    // A non-dense layer keeps its width; a different `out` is an error that
    // check_spec() names (width mismatch), so it is kept rather than ignored.
    if (L.kind != TERN_LAYER_DENSE && L.out != 0) s.layers[l].out = L.out;
    if (L.kind != TERN_LAYER_DENSE && L.activation != TERN_ACT_IDENTITY &&
        L.kind != TERN_LAYER_ACTIVATION) {
      return tern::Status::error(tern::StatusCode::kInvalidArgument,
                                 "tern_spec: layer %u (%s) takes no activation",
                                 static_cast<unsigned>(l),
                                 tern::layer_kind_name(static_cast<tern::LayerKind>(L.kind)));
    }
  }
  s.mode = static_cast<tern::Mode>(c->mode);
  s.loss = static_cast<tern::LossKind>(c->loss);
  s.optimizer = static_cast<tern::OptimizerKind>(c->optimizer);
  // The flags are 0 or 1 (a bool has no other value to narrow to).
  if (c->divergence_guard < 0 || c->divergence_guard > 1 || c->fused_update < 0 ||
      c->fused_update > 1) {
    return tern::Status::error(tern::StatusCode::kInvalidArgument,
                               "tern_spec: divergence_guard %d and fused_update %d must be 0 or 1",
                               static_cast<int>(c->divergence_guard),
                               static_cast<int>(c->fused_update));
  }
  s.divergence_guard = c->divergence_guard != 0;
  s.fused_update = c->fused_update != 0;
  s.example_rows = c->example_rows;
  s.accumulation_rows = c->accumulation_rows;
  if (c->input_gradient < 0 || c->input_gradient > 1) {
    return tern::Status::error(tern::StatusCode::kInvalidArgument,
                               "tern_spec: input_gradient %d must be 0 or 1",
                               static_cast<int>(c->input_gradient));
  }
  s.input_gradient = c->input_gradient != 0;
  const tern::SpecCheck check = tern::check_spec(s);
  if (check.error == tern::SpecError::kBadTrainingOption) return training_option_problem(*c);
  if (check.error == tern::SpecError::kBadInputGradient) {
    return tern::Status::error(tern::StatusCode::kInvalidArgument,
                               "tern_spec: input_gradient 1 excludes example_rows (%u) and "
                               "accumulation_rows (%u)",
                               static_cast<unsigned>(c->example_rows),
                               static_cast<unsigned>(c->accumulation_rows));
  }
  if (!check.ok()) {
    return tern::Status::error(tern::StatusCode::kInvalidArgument, "tern_spec: layer %u: %s",
                               static_cast<unsigned>(check.layer),
                               tern::spec_error_text(check.error));
  }
  *out = s;
  return tern::Status();
}

tern::Batch to_batch(const tern_batch& c) {
  tern::Batch b;
  b.x = c.x;
  b.ldx = c.ldx;
  b.rows = c.rows;
  b.labels = c.labels;
  b.targets = c.targets;
  b.ldt = c.ldt;
  b.indices = c.indices;
  b.samples = c.samples;
  return b;
}

}  // namespace c_api
}  // namespace tern
