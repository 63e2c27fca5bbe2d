// SPDX-License-Identifier: Apache-2.0
// A model as a C header, and back (tern/runtime/c_header_export.h).
#include "tern/runtime/c_header_export.h"

#include <cstring>

#include "tern/runtime/checkpoint.h"
#include "tern/runtime/model_file.h"
#include "tern/runtime/plan.h"

#include "byte_io_detail.h"
#include "le_bytes.h"
#include "model_checks.h"
#include "portable_ops.h"

namespace tern {
namespace {

// Architecture words: input width and layer count, then five per layer.
constexpr std::size_t kMaxArchitectureWords = 2 + 5 * kMaxLayers;
// Longest name accepted: its upper-case copy and the guard macro built from
// it stay short, and error messages can quote it whole.
constexpr std::size_t kMaxNameChars = 48;
// Float literals per line of the parameter array: six of up to 17
// characters ("-0x1.fffffep+127f") keep lines near 120 columns.
constexpr std::size_t kFloatsPerLine = 6;

// Writes the exact C99 hexadecimal literal of a finite float: "0x1.8p+1f",
// "-0x0p+0f", subnormals as "0x0.XXXXXXp-126f".
void write_hex_float(detail::ChecksummedWriter& w, float v) {
  const std::uint32_t bits = detail::float_bits(v);
  const char* sign = (bits >> 31) != 0 ? "-" : "";
  const std::uint32_t exponent = (bits >> 23) & 0xffu;
  // The 23 stored fraction bits shifted to 24, a whole 6 hexadecimal digits.
  std::uint32_t fraction = (bits & 0x7fffffu) << 1;
  if (exponent == 0 && fraction == 0) {
    w.print("%s0x0p+0f", sign);
    return;
  }
  int digits = 6;
  while (digits > 0 && (fraction & 0xfu) == 0) {  // trailing zero digits go
    fraction >>= 4;
    --digits;
  }
  // Binary32 exponent bias 127; subnormals have the minimum exponent -126
  // and a leading 0 instead of the implicit 1.
  const int power = exponent == 0 ? -126 : static_cast<int>(exponent) - 127;
  const char lead = exponent == 0 ? '0' : '1';
  if (digits == 0) {
    w.print("%s0x%cp%+df", sign, lead, power);
  } else {
    w.print("%s0x%c.%0*xp%+df", sign, lead, digits, static_cast<unsigned>(fraction), power);
  }
}

// The names tern.h gives the enums' values, indexed by value (tern.h
// mirrors spec.h value for value; capi/src/c_handle.cpp asserts it). The
// runtime does not include tern.h: the header names them as text, and a C
// program includes tern.h before it uses these macros.
constexpr const char* kCLayerKinds[] = {nullptr, "TERN_LAYER_DENSE", "TERN_LAYER_ACTIVATION",
                                        "TERN_LAYER_LAYER_NORM", "TERN_LAYER_RESIDUAL"};
constexpr const char* kCActivations[] = {"TERN_ACT_IDENTITY", "TERN_ACT_RELU", "TERN_ACT_GELU",
                                         "TERN_ACT_TANH", "TERN_ACT_SIGMOID"};
constexpr const char* kCInits[] = {"TERN_INIT_AUTO", "TERN_INIT_HE", "TERN_INIT_XAVIER"};
constexpr const char* kCModes[] = {"TERN_MODE_INFERENCE", "TERN_MODE_TRAINING"};
constexpr const char* kCLosses[] = {"TERN_LOSS_SOFTMAX_CROSS_ENTROPY", "TERN_LOSS_MSE"};
constexpr const char* kCOptimizers[] = {"TERN_OPTIMIZER_SGD", "TERN_OPTIMIZER_ADAM",
                                        "TERN_OPTIMIZER_ADAMW"};

template <std::size_t N>
const char* c_name(const char* const (&names)[N], unsigned value) {
  return value < N && names[value] != nullptr ? names[value] : "0 /* unknown */";
}

// The deployed model of the header: the exported layers (initialisers
// included), one row, inference, and none of the training options (an
// inference tern_spec refuses them).
ModelSpec deployed_spec(const ModelSpec& spec) {
  ModelSpec d = spec.inference().with_rows(1);
  d.divergence_guard = false;
  d.fused_update = false;
  d.example_rows = 0;
  d.accumulation_rows = 0;
  d.input_gradient = false;
  return d;
}

// The part of the header a C program builds its model from and sizes its
// memory with (see export_c_header in c_header_export.h).
void write_c_interface(detail::ChecksummedWriter& w, const ModelSpec& spec, const char* upper) {
  // tern_spec carries everything a ModelSpec holds (the layers with their
  // initialisers, rows, mode, loss, optimizer and training options), so the
  // header describes the exported model exactly.
  const ModelSpec& c = spec;
  const ModelSpec deployed = deployed_spec(spec);
  w.text("\n/* For the C interface: include tern.h before using these macros (they\n"
         " * name its constants). The tern_spec of this model, and of a one-row\n"
         " * inference model of the same layers:\n");
  w.print(" *   static const tern_layer layers[%s_LAYER_COUNT] = %s_LAYERS;\n", upper, upper);
  w.print(" *   const tern_spec spec = %s_SPEC(layers);\n", upper);
  w.print(" *   const tern_spec deployed = %s_INFERENCE_SPEC(layers);\n", upper);
  w.text(" * and the bytes they need: ARENA_BYTES is tern_arena_bytes(&spec) (handle\n"
         " * included), INFERENCE_ARENA_BYTES tern_arena_bytes(&deployed);\n"
         " * MODEL_FILE_BYTES and MODEL_FILE_STATE_BYTES tern_model_file_bytes(&spec,\n"
         " * 0 and 1); CHECKPOINT_RECORD_BYTES one checkpoint record and\n"
         " * CHECKPOINT_STORAGE_BYTES tern_checkpoint_storage_bytes(&spec, 0) (0 for\n"
         " * an inference model; on flash with erase sectors of E bytes use\n"
         " * TERN_CHECKPOINT_STORAGE_BYTES(<record>, E)). */\n");
  w.print("#define %s_ROWS %uu\n", upper, static_cast<unsigned>(c.rows));
  w.print("#define %s_MODE %s\n", upper, c_name(kCModes, static_cast<unsigned>(c.mode)));
  w.print("#define %s_LOSS %s\n", upper, c_name(kCLosses, static_cast<unsigned>(c.loss)));
  w.print("#define %s_OPTIMIZER %s\n", upper,
          c_name(kCOptimizers, static_cast<unsigned>(c.optimizer)));
  w.print("#define %s_LAYER_COUNT %uu\n", upper, static_cast<unsigned>(c.layer_count));
  // The training options, in tern_spec's order after the layer count.
  w.print("#define %s_TRAINING_OPTIONS %uu, %uu, %uu, %uu, %uu\n", upper,
          static_cast<unsigned>(c.divergence_guard), static_cast<unsigned>(c.fused_update),
          static_cast<unsigned>(c.example_rows), static_cast<unsigned>(c.accumulation_rows),
          static_cast<unsigned>(c.input_gradient));
  w.print("#define %s_LAYERS {", upper);
  for (std::uint32_t l = 0; l < c.layer_count; ++l) {
    const LayerSpec& ls = c.layers[l];
    // tern_layer is {kind, activation, out, from, init}: out for Dense
    // layers (other kinds keep their width), from for residual layers.
    w.print("%s{%s, %s, %uu, %uu, %s}", l == 0 ? " \\\n    " : ", \\\n    ",
            c_name(kCLayerKinds, static_cast<unsigned>(ls.kind)),
            c_name(kCActivations, static_cast<unsigned>(ls.act)),
            static_cast<unsigned>(ls.kind == LayerKind::kDense ? ls.out : 0u),
            static_cast<unsigned>(ls.kind == LayerKind::kResidual ? ls.from : 0u),
            c_name(kCInits, static_cast<unsigned>(ls.init)));
  }
  w.text("}\n");
  // The two specs, one field per print: with a 48-character name a macro
  // line would not fit one print (kMaxPrintChars).
  const char* rows_and_mode[2][2] = {{"_ROWS", "_MODE"}, {"1u", "TERN_MODE_INFERENCE"}};
  for (int inference = 0; inference < 2; ++inference) {
    w.print("#define %s_%sSPEC(layers) \\\n    {%s_INPUT_WIDTH, ", upper,
            inference != 0 ? "INFERENCE_" : "", upper);
    for (const char* field : rows_and_mode[inference]) {
      if (inference == 0) w.print("%s%s, ", upper, field);
      if (inference != 0) w.print("%s, ", field);
    }
    w.print("\\\n     %s_LOSS, %s_OPTIMIZER, (layers), %s_LAYER_COUNT, \\\n     ", upper, upper,
            upper);
    if (inference == 0) w.print("%s_TRAINING_OPTIONS}\n", upper);
    if (inference != 0) w.text("0u, 0u, 0u, 0u, 0u}\n");
  }
  w.print("#define %s_ARENA_BYTES (TERN_HANDLE_BYTES + %lluu)\n", upper,
          static_cast<unsigned long long>(arena_bytes(c)));
  w.print("#define %s_INFERENCE_ARENA_BYTES (TERN_HANDLE_BYTES + %lluu)\n", upper,
          static_cast<unsigned long long>(arena_bytes(deployed)));
  const struct {
    const char* suffix;
    std::size_t value;
  } sizes[] = {{"MODEL_FILE_BYTES", model_file_bytes(c, false)},
               // As tern_model_file_bytes(&spec, 1): 0 for an inference model,
               // which has no optimizer state to save.
               {"MODEL_FILE_STATE_BYTES",
                c.mode == Mode::kTraining ? model_file_bytes(c, true) : 0},
               {"CHECKPOINT_RECORD_BYTES", checkpoint_record_bytes(c)},
               {"CHECKPOINT_STORAGE_BYTES", checkpoint_storage_bytes(c, 0)}};
  for (const auto& m : sizes) {
    w.print("#define %s_%s %lluu\n", upper, m.suffix, static_cast<unsigned long long>(m.value));
  }
}

bool valid_identifier(const char* name) {
  if (name == nullptr || name[0] == '\0') return false;
  std::size_t n = 0;
  for (const char* c = name; *c != '\0'; ++c, ++n) {
    const bool alpha = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || *c == '_';
    const bool digit = *c >= '0' && *c <= '9';
    if (!alpha && !(digit && n > 0)) return false;
  }
  return n <= kMaxNameChars;
}

}  // namespace

std::size_t architecture_words(const ModelSpec& spec, std::uint32_t* out, std::size_t capacity) {
  const std::size_t words = 2 + 5 * std::size_t{spec.layer_count};
  std::uint32_t all[kMaxArchitectureWords] = {spec.input_width, spec.layer_count};
  for (std::uint32_t l = 0; l < spec.layer_count && l < kMaxLayers; ++l) {
    const LayerSpec& ls = spec.layers[l];
    std::uint32_t* w = all + 2 + 5 * l;
    w[0] = static_cast<std::uint32_t>(ls.kind);
    w[1] = static_cast<std::uint32_t>(ls.act);
    w[2] = ls.in;
    w[3] = ls.out;
    w[4] = ls.kind == LayerKind::kResidual ? ls.from : 0u;
  }
  for (std::size_t i = 0; i < words && i < capacity; ++i) out[i] = all[i];
  return words;
}

namespace {

// Everything that can make an export fail before a byte is written.
Status check_exportable(const Model& model, const char* name) {
  if (!model.built()) {
    return Status::error(StatusCode::kFailedPrecondition, "export: the model is not built");
  }
  if (!valid_identifier(name)) {
    return Status::error(StatusCode::kInvalidArgument,
                         "export: '%.60s' is not a C identifier of at most 48 characters",
                         name != nullptr ? name : "(null)");
  }
  return detail::check_finite_state("export", model, false);
}

}  // namespace

Status export_c_header(const Model& model, const char* name, const ByteSink& sink) {
  if (sink.write == nullptr) return Status::error(StatusCode::kInvalidArgument, "export: no sink");
  TERN_RETURN_IF_ERROR(check_exportable(model, name));
  char upper[kMaxNameChars + 1];
  std::size_t n = 0;
  for (; name[n] != '\0'; ++n) {
    const char c = name[n];
    upper[n] = (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c;
  }
  upper[n] = '\0';

  const ModelSpec& spec = model.spec();
  std::uint32_t arch[kMaxArchitectureWords];
  const std::size_t words = architecture_words(spec, arch, kMaxArchitectureWords);
  detail::ChecksummedWriter w(sink);  // the checksum goes unused here
  w.print("/* tern model \"%s\", generated by tern::export_c_header. Do not edit.\n", name);
  w.print(" * Input width %u; layers:\n", static_cast<unsigned>(spec.input_width));
  for (std::uint32_t l = 0; l < spec.layer_count; ++l) {
    char layer[64];  // the longest description is about 40 characters
    detail::describe_layer(spec.layers[l], layer, sizeof layer);
    w.print(" *   %u: %s\n", static_cast<unsigned>(l), layer);
  }
  w.text(" * Load into a model built from the same layers (any rows, any mode):\n");
  w.print(" *   tern::load_parameters(model, %s_architecture, %s_ARCHITECTURE_WORDS,\n", name, upper);
  w.print(" *                         %s_parameters, %s_PARAMETER_COUNT);\n */\n", name, upper);
  w.print("#ifndef TERN_MODEL_%s_H\n#define TERN_MODEL_%s_H\n\n#include <stdint.h>\n\n", upper, upper);
  const struct {
    const char* suffix;
    std::uint64_t value;
  } macros[] = {{"INPUT_WIDTH", spec.input_width},
                {"OUTPUT_WIDTH", spec.output_width()},
                {"ARCHITECTURE_WORDS", words},
                {"PARAMETER_COUNT", model.parameter_count()}};
  for (const auto& m : macros) {
    w.print("#define %s_%s %lluu\n", upper, m.suffix, static_cast<unsigned long long>(m.value));
  }
  write_c_interface(w, spec, upper);
  w.print("\nstatic const uint32_t %s_architecture[%zu] = {", name, words);
  for (std::size_t i = 0; i < words; ++i) w.print(i > 0 ? ", %uu" : "%uu", static_cast<unsigned>(arch[i]));
  w.print("};\n\nstatic const float %s_parameters[%zu] = {\n", name, model.parameter_count());
  for (std::uint32_t t = 0; t < model.tensor_count(); ++t) {
    const Tensor x = model.tensor(t);
    const LayerSpec& ls = spec.layers[x.layer];
    const char* what = ls.kind == LayerKind::kDense ? (x.is_bias ? "bias" : "weight")
                                                    : (x.is_bias ? "beta" : "gamma");
    w.print("  /* layer %u %s %s, %zu floats */\n", static_cast<unsigned>(x.layer),
            layer_kind_name(ls.kind), what, x.value.size);
    for (std::size_t i = 0; i < x.value.size; ++i) {
      w.text(i % kFloatsPerLine == 0 ? "  " : " ");
      write_hex_float(w, x.value[i]);
      const bool line_ends = i % kFloatsPerLine == kFloatsPerLine - 1 || i + 1 == x.value.size;
      w.text(line_ends ? ",\n" : ",");
    }
  }
  w.text("};\n\n#endif\n");
  w.flush();
  return w.status();
}

#if TERN_HAS_OS
Status export_c_header_file(const Model& model, const char* name, const char* path) {
  // Validated before the temporary file exists (model_file.cpp does the same).
  TERN_RETURN_IF_ERROR(check_exportable(model, name));
  detail::AtomicFile file;
  TERN_RETURN_IF_ERROR(file.create("export", path));
  const Status written = export_c_header(model, name, file.sink());
  if (!written.ok()) return detail::name_path("export", path, written);
  return file.commit();
}
#endif

Status load_parameters(Model& model, const std::uint32_t* architecture, std::size_t words,
                       const float* values, std::size_t count) {
  if (!model.built()) {
    return Status::error(StatusCode::kFailedPrecondition, "load_parameters: the model is not built");
  }
  if (architecture == nullptr || values == nullptr) {
    return Status::error(StatusCode::kInvalidArgument, "load_parameters: null argument");
  }
  std::uint32_t arch[kMaxArchitectureWords];
  const std::size_t expected = architecture_words(model.spec(), arch, kMaxArchitectureWords);
  if (words != expected || std::memcmp(arch, architecture, words * sizeof(std::uint32_t)) != 0) {
    return Status::error(StatusCode::kShapeMismatch,
                         "load_parameters: the exported architecture (%zu words) differs from "
                         "the model's (%zu words)",
                         words, expected);
  }
  if (count != model.parameter_count()) {
    return Status::error(StatusCode::kShapeMismatch,
                         "load_parameters: %zu values given, the model has %zu parameters", count,
                         model.parameter_count());
  }
  for (std::size_t i = 0; i < count; ++i) {
    if (!ops::is_finite(values[i])) {
      return Status::error(StatusCode::kNonFinite, "load_parameters: value %zu is not finite", i);
    }
  }
  std::size_t at = 0;
  for (std::uint32_t t = 0; t < model.tensor_count(); ++t) {
    const Span<float> dst = model.tensor(t).value;
    std::memcpy(dst.data, values + at, dst.size * sizeof(float));
    at += dst.size;
  }
  model.restart_divergence_history();  // the guard's snapshot held the old parameters
  return Status();
}

}  // namespace tern
