// SPDX-License-Identifier: Apache-2.0
// The C interface (tern.h) over the C++ runtime.
//
// The handle is a struct holding the runtime's Arena and Model, placed with
// placement new at the start of the caller's arena; the model's buffers
// follow it in the same arena. Nothing here allocates or throws (the file
// builds with -fno-exceptions -fno-rtti like the rest of the library), and
// every pointer from C is checked before use.
#include "tern.h"

#include <cstring>
#include <new>

#include "tern/platform/checked_size.h"
#include "tern/platform/isa.h"
#include "tern/runtime/arena.h"
#include "tern/runtime/model.h"
#include "tern/runtime/persist.h"
#include "tern/runtime/spec.h"

struct tern_model {
  // Distinguishes a live handle from arbitrary memory passed in by mistake.
  std::uint32_t magic;
  tern::Arena arena;
  tern::Model model;
};

namespace {

// "tern" in ASCII.
constexpr std::uint32_t kHandleMagic = 0x6e726574u;
// The handle occupies whole cache lines so that the model's buffers after
// it stay 64-byte aligned.
constexpr std::size_t kHandleBytes = tern::align_up(sizeof(tern_model), TERN_ARENA_ALIGNMENT);

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

tern::Model* live(tern_model* m) {
  return m != nullptr && m->magic == kHandleMagic ? &m->model : nullptr;
}
const tern::Model* live(const tern_model* m) {
  return m != nullptr && m->magic == kHandleMagic ? &m->model : nullptr;
}

tern::Status bad_handle(const char* function) {
  return tern::Status::error(tern::StatusCode::kInvalidArgument,
                             "%s: the model handle is null or not a model made by "
                             "tern_model_create",
                             function);
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
    const auto act = static_cast<tern::Pointwise>(L.activation);
    switch (static_cast<tern_layer_kind>(L.kind)) {
      case TERN_LAYER_DENSE: s = s.dense(L.out, act); break;
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
  const tern::SpecCheck check = tern::check_spec(s);
  if (!check.ok()) {
    return tern::Status::error(tern::StatusCode::kInvalidArgument, "tern_spec: layer %u: %s",
                               static_cast<unsigned>(check.layer),
                               tern::spec_error_text(check.error));
  }
  *out = s;
  return tern::Status();
}

}  // namespace

extern "C" {

const char* tern_version(void) { return TERN_VERSION_STRING; }
int tern_version_number(void) { return TERN_VERSION_NUMBER; }

const char* tern_status_name(tern_status status) {
  // Through unsigned: a negative value becomes large, and the test does not
  // depend on the enum's underlying type (short enums on bare-metal ARM).
  if (static_cast<unsigned>(status) > static_cast<unsigned>(TERN_FAILED_PRECONDITION)) {
    return "unknown_status";
  }
  return tern::status_code_name(static_cast<tern::StatusCode>(status));
}

tern_status tern_spec_check(const tern_spec* spec, tern_error* err) {
  tern::ModelSpec s;
  return report(to_spec(spec, &s), err);
}

size_t tern_arena_bytes(const tern_spec* spec) {
  tern::ModelSpec s;
  if (!to_spec(spec, &s).ok()) return 0;
  return kHandleBytes + tern::arena_bytes(s);
}

tern_status tern_model_create(const tern_spec* spec, void* arena, size_t arena_bytes,
                              tern_model** model, tern_error* err) {
  if (model == nullptr) return report(null_argument("tern_model_create", "model"), err);
  *model = nullptr;
  if (arena == nullptr) return report(null_argument("tern_model_create", "arena"), err);
  tern::ModelSpec s;
  tern::Status st = to_spec(spec, &s);
  if (!st.ok()) return report(st, err);
  if (reinterpret_cast<std::uintptr_t>(arena) % TERN_ARENA_ALIGNMENT != 0) {
    return report(tern::Status::error(tern::StatusCode::kMisaligned,
                                      "tern_model_create: the arena at %p is not %d-byte aligned",
                                      arena, TERN_ARENA_ALIGNMENT),
                  err);
  }
  const std::size_t needed = kHandleBytes + tern::arena_bytes(s);
  if (arena_bytes < needed) {
    return report(tern::Status::error(tern::StatusCode::kOutOfMemory,
                                      "tern_model_create: the arena has %zu bytes, the model "
                                      "needs %zu (%zu for the handle, %zu for the buffers)",
                                      arena_bytes, needed, kHandleBytes, needed - kHandleBytes),
                  err);
  }
  auto* handle = new (arena) tern_model{};
  unsigned char* rest = static_cast<unsigned char*>(arena) + kHandleBytes;
  st = handle->arena.attach(rest, arena_bytes - kHandleBytes);
  if (st.ok()) st = handle->model.build(s, handle->arena);
  if (!st.ok()) return report(st, err);
  handle->model.initialize(1);
  handle->magic = kHandleMagic;
  *model = handle;
  return report(tern::Status(), err);
}

tern_status tern_model_initialize(tern_model* model, uint64_t seed, tern_error* err) {
  tern::Model* m = live(model);
  if (m == nullptr) return report(bad_handle("tern_model_initialize"), err);
  m->initialize(seed);
  return report(tern::Status(), err);
}

uint32_t tern_model_input_width(const tern_model* model) {
  const tern::Model* m = live(model);
  return m != nullptr ? m->spec().input_width : 0;
}
uint32_t tern_model_output_width(const tern_model* model) {
  const tern::Model* m = live(model);
  return m != nullptr ? m->spec().output_width() : 0;
}
uint32_t tern_model_rows(const tern_model* model) {
  const tern::Model* m = live(model);
  return m != nullptr ? m->spec().rows : 0;
}
size_t tern_model_parameter_count(const tern_model* model) {
  const tern::Model* m = live(model);
  return m != nullptr ? m->parameter_count() : 0;
}
const char* tern_model_isa(const tern_model* model) {
  const tern::Model* m = live(model);
  return m != nullptr ? tern::isa_name(m->isa()) : "none";
}

tern_optimizer_params tern_optimizer_defaults(void) {
  const tern::OptimizerParams d;
  return tern_optimizer_params{d.learning_rate, d.momentum, d.beta1,
                               d.beta2,         d.epsilon,  d.weight_decay};
}

tern_status tern_model_set_optimizer(tern_model* model, const tern_optimizer_params* params,
                                     tern_error* err) {
  tern::Model* m = live(model);
  if (m == nullptr) return report(bad_handle("tern_model_set_optimizer"), err);
  if (params == nullptr) return report(null_argument("tern_model_set_optimizer", "params"), err);
  tern::OptimizerParams p;
  p.learning_rate = params->learning_rate;
  p.momentum = params->momentum;
  p.beta1 = params->beta1;
  p.beta2 = params->beta2;
  p.epsilon = params->epsilon;
  p.weight_decay = params->weight_decay;
  return report(m->set_optimizer(p), err);
}

tern_status tern_model_train_step(tern_model* model, const tern_batch* batch, float* mean_loss,
                                  tern_error* err) {
  tern::Model* m = live(model);
  if (m == nullptr) return report(bad_handle("tern_model_train_step"), err);
  if (batch == nullptr) return report(null_argument("tern_model_train_step", "batch"), err);
  tern::Batch b;
  b.x = batch->x;
  b.ldx = batch->ldx;
  b.rows = batch->rows;
  b.labels = batch->labels;
  b.targets = batch->targets;
  b.ldt = batch->ldt;
  return report(m->train_step(b, mean_loss), err);
}

tern_status tern_model_infer(tern_model* model, const float* x, size_t ldx, size_t rows, float* y,
                             size_t ldy, tern_error* err) {
  tern::Model* m = live(model);
  if (m == nullptr) return report(bad_handle("tern_model_infer"), err);
  if (y == nullptr) return report(null_argument("tern_model_infer", "y"), err);
  const std::size_t width = m->spec().output_width();
  if (ldy < width) {
    return report(tern::Status::error(tern::StatusCode::kInvalidArgument,
                                      "tern_model_infer: ldy %zu is smaller than the %zu outputs",
                                      ldy, width),
                  err);
  }
  // y is written as floats: 4-byte aligned (the reason: kernels/src/checks.h),
  // and its rows x ldy extent overflow-checked, before anything runs. A row
  // count out of range is left to forward(), which names the model's limit.
  if (reinterpret_cast<std::uintptr_t>(y) % alignof(float) != 0) {
    return report(tern::Status::error(tern::StatusCode::kMisaligned,
                                      "tern_model_infer: y at %p is not %zu-byte aligned",
                                      static_cast<void*>(y), alignof(float)),
                  err);
  }
  std::size_t y_bytes = 0;
  if (rows >= 1 && rows <= m->spec().rows &&
      (!tern::view_bytes(rows, width, ldy, sizeof(float), &y_bytes) ||
       tern::extent_wraps(y, y_bytes))) {
    return report(tern::Status::error(tern::StatusCode::kInvalidArgument,
                                      "tern_model_infer: y of %zu rows with row stride %zu does "
                                      "not fit in the address space",
                                      rows, ldy),
                  err);
  }
  tern::Status st = m->forward(x, ldx, rows);
  if (!st.ok()) return report(st, err);
  const tern::MatrixView<const float> out = m->output();
  for (std::size_t r = 0; r < rows; ++r) {
    std::memcpy(y + r * ldy, out.data + r * out.stride, width * sizeof(float));
  }
  return report(tern::Status(), err);
}

tern_status tern_model_predict(tern_model* model, const float* x, size_t ldx, size_t rows,
                               uint32_t* classes, tern_error* err) {
  tern::Model* m = live(model);
  if (m == nullptr) return report(bad_handle("tern_model_predict"), err);
  return report(m->predict(x, ldx, rows, classes), err);
}

size_t tern_model_file_bytes(const tern_spec* spec, int optimizer_state) {
  tern::ModelSpec s;
  if (!to_spec(spec, &s).ok()) return 0;
  return tern::model_file_bytes(s, optimizer_state != 0);
}

tern_status tern_model_save(const tern_model* model, void* buffer, size_t capacity,
                            int optimizer_state, size_t* written, tern_error* err) {
  const tern::Model* m = live(model);
  if (m == nullptr) return report(bad_handle("tern_model_save"), err);
  if (buffer == nullptr) return report(null_argument("tern_model_save", "buffer"), err);
  if (written != nullptr) *written = 0;
  // The size is known up front: a short buffer is refused with the bytes
  // the file needs, before anything is written.
  const std::size_t need = tern::model_file_bytes(m->spec(), optimizer_state != 0);
  if (capacity < need) {
    return report(tern::Status::error(tern::StatusCode::kOutOfMemory,
                                      "tern_model_save: the buffer has %zu bytes, the model file "
                                      "needs %zu (tern_model_file_bytes)",
                                      capacity, need),
                  err);
  }
  tern::MemorySink sink(buffer, capacity);
  const tern::Status st = tern::save_model(*m, sink.sink(), optimizer_state != 0);
  if (written != nullptr) *written = st.ok() ? sink.size() : 0;
  return report(st, err);
}

tern_status tern_model_load(tern_model* model, const void* data, size_t size,
                            int optimizer_state, tern_error* err) {
  tern::Model* m = live(model);
  if (m == nullptr) return report(bad_handle("tern_model_load"), err);
  if (data == nullptr) return report(null_argument("tern_model_load", "data"), err);
  return report(tern::load_model(*m, tern::memory_source(data, size), optimizer_state != 0), err);
}

}  // extern "C"
