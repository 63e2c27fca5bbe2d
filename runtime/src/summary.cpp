// SPDX-License-Identifier: Apache-2.0
// A model described in words: layers, parameters, arena buffers
// (tern/runtime/summary.h).
#include "tern/runtime/summary.h"

#include <cstdint>

#include "byte_io_detail.h"
#include "model_file_header.h"
#include "spec_messages.h"
#include "tern/platform/checked_size.h"
#include "tern/runtime/plan.h"
// The platform layer's formatter (private to it, hence the path): tern's one
// printf-style formatter, safe on firmware (no heap, no locale).
#include "../../platform/src/format.h"

namespace tern {
namespace {

// ---- the buffers of a plan, each with its owner ---------------------------

// Who a Region of the plan belongs to.
enum class Owner : std::uint8_t { kLayer, kModel, kPoint, kDelta };

struct Occupant {
  Owner owner = Owner::kModel;
  std::uint32_t index = 0;   // layer or point
  std::uint32_t buffer = 0;  // LayerBuffer or ModelBuffer value
  Region region;
};

// Every Region of a ModelPlan has a number: the layer buffers layer by
// layer, then the model buffers, the points and the deltas.
// Buffers per layer, as the 32-bit occupant numbers count them.
constexpr std::uint32_t kBuffersPerLayer = static_cast<std::uint32_t>(kLayerBufferCount);
constexpr std::uint32_t kLayerOccupants = kMaxLayers * kBuffersPerLayer;
constexpr std::uint32_t kModelOccupantsEnd = kLayerOccupants + kModelBufferCount;
constexpr std::uint32_t kPointOccupantsEnd = kModelOccupantsEnd + kMaxLayers + 1;
constexpr std::uint32_t kOccupantCount = kPointOccupantsEnd + kMaxLayers + 1;

// The parameter, gradient and moment group spans cover the tensors inside
// them, which are listed one by one instead.
bool is_group_span(ModelBuffer b) {
  return b == ModelBuffer::kParameters || b == ModelBuffer::kGradients ||
         b == ModelBuffer::kMoment1 || b == ModelBuffer::kMoment2;
}

// Occupant i; an absent region (bytes 0) for a group span.
Occupant occupant(const ModelPlan& plan, std::uint32_t i) {
  Occupant o;
  if (i < kLayerOccupants) {
    o.owner = Owner::kLayer;
    o.index = i / kBuffersPerLayer;
    o.buffer = i % kBuffersPerLayer;
    o.region = plan.layers[o.index].buffers[o.buffer];
  } else if (i < kModelOccupantsEnd) {
    o.owner = Owner::kModel;
    o.buffer = i - kLayerOccupants;
    if (!is_group_span(static_cast<ModelBuffer>(o.buffer))) o.region = plan.buffers[o.buffer];
  } else if (i < kPointOccupantsEnd) {
    o.owner = Owner::kPoint;
    o.index = i - kModelOccupantsEnd;
    o.region = plan.points[o.index];
  } else {
    o.owner = Owner::kDelta;
    o.index = i - kPointOccupantsEnd;
    o.region = plan.deltas[o.index];
  }
  return o;
}

// ---- words ------------------------------------------------------------------

const char* loss_name(LossKind loss) {
  return loss == LossKind::kMse ? "mse" : "softmax cross-entropy";
}

// A weight (or bias) buffer's own name: W and b of a Dense layer, gamma and
// beta of a LayerNorm.
const char* tensor_name(const LayerSpec& layer, bool is_bias) {
  if (layer.kind == LayerKind::kLayerNorm) return is_bias ? "beta" : "gamma";
  return is_bias ? "b" : "W";
}

// Longest buffer name: "points 1, 2, ..., 16 (output)" is about 70
// characters; 96 leaves room.
constexpr std::size_t kNameChars = 96;
// Longest shape: "16777216 x 16777216" (kMaxDimension twice) is 19.
constexpr std::size_t kShapeChars = 32;

// The name and shape of one buffer that a single occupant owns.
void describe_occupant(const ModelSpec& spec, const Occupant& o, char* name, char* shape) {
  using detail::format;
  const std::uint64_t rows = spec.rows;
  const unsigned long long n = rows;
  shape[0] = '\0';
  if (o.owner == Owner::kLayer) {
    const LayerSpec& ls = spec.layers[o.index];
    const auto b = static_cast<LayerBuffer>(o.buffer);
    const unsigned l = o.index;
    const unsigned in = ls.in, out = ls.out;
    const bool dense = ls.kind == LayerKind::kDense;
    switch (b) {
      case LayerBuffer::kWeight:
      case LayerBuffer::kBias:
      case LayerBuffer::kWeightGrad:
      case LayerBuffer::kBiasGrad:
      case LayerBuffer::kWeightMoment1:
      case LayerBuffer::kBiasMoment1:
      case LayerBuffer::kWeightMoment2:
      case LayerBuffer::kBiasMoment2: {
        // tensor_buffer(): role = buffer / 2, bias = buffer % 2.
        const unsigned role = o.buffer / 2;
        const bool is_bias = o.buffer % 2 != 0;
        const bool sgd = spec.optimizer == OptimizerKind::kSgd;
        const char* const roles[4] = {"", " gradient", sgd ? " velocity" : " moment 1",
                                      " moment 2"};
        format(name, kNameChars, "layer %u %s%s", l, tensor_name(ls, is_bias), roles[role]);
        if (dense && !is_bias) {
          format(shape, kShapeChars, "%u x %u", in, out);
        } else {
          format(shape, kShapeChars, "%u", out);
        }
        return;
      }
      case LayerBuffer::kPreActivation:
        format(name, kNameChars, "layer %u pre-activation (%s)", l, pointwise_name(ls.act));
        format(shape, kShapeChars, "%llu x %u", n, out);
        return;
      case LayerBuffer::kMean:
      case LayerBuffer::kRstd:
        format(name, kNameChars, "layer %u %s", l, b == LayerBuffer::kMean ? "mean" : "1/std");
        format(shape, kShapeChars, "%llu", n);
        return;
      case LayerBuffer::kFactorU:
      case LayerBuffer::kFactorD:
        format(name, kNameChars, "layer %u accumulated factors %s", l,
               b == LayerBuffer::kFactorU ? "U (inputs)" : "D (deltas)");
        format(shape, kShapeChars, "%u x %u", static_cast<unsigned>(spec.accumulation_rows),
               b == LayerBuffer::kFactorU ? in : out);
        return;
    }
  }
  const unsigned layers = spec.layer_count;
  switch (static_cast<ModelBuffer>(o.buffer)) {
    case ModelBuffer::kLabels:
      if (spec.loss == LossKind::kSoftmaxCrossEntropy) {
        format(name, kNameChars, "labels (uint32)");
        format(shape, kShapeChars, "%llu", n);
      } else {
        format(name, kNameChars, "targets");
        format(shape, kShapeChars, "%llu x %u", n, static_cast<unsigned>(spec.output_width()));
      }
      return;
    case ModelBuffer::kScratch: format(name, kNameChars, "kernel scratch (packed panels)"); return;
    case ModelBuffer::kUpdateBlock: {
      // fused_block_rows(spec) rows of the widest Dense layer's W (plan.h).
      std::uint32_t widest = 0;
      for (std::uint32_t l = 0; l < spec.layer_count; ++l) {
        const LayerSpec& ls = spec.layers[l];
        if (ls.kind == LayerKind::kDense && ls.out > widest) widest = ls.out;
      }
      format(name, kNameChars, "fused update block");
      format(shape, kShapeChars, "%u x %u", static_cast<unsigned>(fused_block_rows(spec)),
             static_cast<unsigned>(widest));
      return;
    }
    case ModelBuffer::kExampleNorms:
      format(name, kNameChars, "example gradient norms");
      format(shape, kShapeChars, "%llu x %u", static_cast<unsigned long long>(rows / spec.example_rows),
             layers + 1);
      return;
    case ModelBuffer::kRowScale:
      format(name, kNameChars, "row clip scales");
      format(shape, kShapeChars, "%llu", n);
      return;
    case ModelBuffer::kNormScratch: format(name, kNameChars, "norm scratch (Gram blocks)"); return;
    case ModelBuffer::kSnapshot:
      format(name, kNameChars, "divergence guard snapshot (parameters, moments)");
      return;
    case ModelBuffer::kOutputGradient:
      format(name, kNameChars, "output gradient dL/dY");
      format(shape, kShapeChars, "%llu x %u", n, static_cast<unsigned>(spec.output_width()));
      return;
    default: format(name, kNameChars, "model buffer %u", static_cast<unsigned>(o.buffer)); return;
  }
}

// Appends ", p" (or " p" first) to a list of points held by one buffer.
void append_index(char* name, std::size_t* used, bool first, std::uint32_t p) {
  const int n = detail::format(name + *used, kNameChars - *used, first ? " %u" : ", %u",
                               static_cast<unsigned>(p));
  if (n > 0) *used += static_cast<std::size_t>(n);
  if (*used >= kNameChars) *used = kNameChars - 1;
}

// Name and shape of the buffer at `offset`: the one occupant there, or the
// points (deltas) that share it, the shape of the largest.
void describe_buffer(const ModelSpec& spec, const ModelPlan& plan, std::uint64_t offset,
                     char* name, char* shape, std::uint64_t* bytes) {
  std::uint32_t uses = 0;
  Occupant first;
  for (std::uint32_t i = 0; i < kOccupantCount; ++i) {
    const Occupant o = occupant(plan, i);
    if (!o.region.present() || o.region.offset != offset) continue;
    if (uses++ == 0) first = o;
  }
  if (first.owner == Owner::kLayer || first.owner == Owner::kModel) {
    *bytes = first.region.bytes;
    describe_occupant(spec, first, name, shape);
    return;
  }
  // Points or deltas: "point 2", "points 1, 3 (output)".
  const bool points = first.owner == Owner::kPoint;
  std::size_t used = static_cast<std::size_t>(
      detail::format(name, kNameChars, "%s%s", points ? "point" : "delta", uses > 1 ? "s" : ""));
  std::uint64_t largest = 0;
  std::uint32_t widest = 0;
  bool output = false, input = false, any = false;
  // Deltas in the order the backward pass writes them, from the output down.
  for (std::uint32_t k = 0; k <= spec.layer_count; ++k) {
    const std::uint32_t p = points ? k : spec.layer_count - k;
    const Region r = points ? plan.points[p] : plan.deltas[p];
    if (!r.present() || r.offset != offset) continue;
    append_index(name, &used, !any, p);
    any = true;
    if (r.bytes > largest) {
      largest = r.bytes;
      widest = spec.width(p);
    }
    output = output || p == spec.layer_count;
    input = input || p == 0;
  }
  if (points && (input || output)) {
    detail::format(name + used, kNameChars - used, " (%s)", input ? "input" : "output");
  }
  *bytes = largest;
  detail::format(shape, kShapeChars, "%llu x %u", static_cast<unsigned long long>(spec.rows),
                 static_cast<unsigned>(widest));
}

// ---- the text ---------------------------------------------------------------

void write_layers(detail::ChecksummedWriter& w, const ModelSpec& spec) {
  w.print("layer  %-20s %-11s %-15s %-15s %12s\n", "kind", "activation", "input shape",
          "output shape", "parameters");
  const unsigned long long n = spec.rows;
  for (std::uint32_t l = 0; l < spec.layer_count; ++l) {
    const LayerSpec& ls = spec.layers[l];
    char kind[kShapeChars], input[kShapeChars], output[kShapeChars];
    if (ls.kind == LayerKind::kResidual) {
      detail::format(kind, sizeof kind, "residual + point %u", static_cast<unsigned>(ls.from));
    } else {
      detail::format(kind, sizeof kind, "%s", layer_kind_name(ls.kind));
    }
    detail::format(input, sizeof input, "%llu x %u", n, static_cast<unsigned>(ls.in));
    detail::format(output, sizeof output, "%llu x %u", n, static_cast<unsigned>(ls.out));
    const bool has_act = ls.kind == LayerKind::kDense || ls.kind == LayerKind::kActivation;
    std::uint64_t params = 0;
    if (ls.kind == LayerKind::kDense) params = (std::uint64_t{ls.in} + 1) * ls.out;
    if (ls.kind == LayerKind::kLayerNorm) params = 2 * std::uint64_t{ls.out};
    w.print("%-6u %-20s %-11s %-15s %-15s %12llu\n", static_cast<unsigned>(l), kind,
            has_act ? pointwise_name(ls.act) : "-", input, output,
            static_cast<unsigned long long>(params));
  }
}

void write_buffers(detail::ChecksummedWriter& w, const ModelSpec& spec, const ModelPlan& plan) {
  w.print("arena buffers, in offset order:\n");
  w.print("%14s %13s  %-20s %s\n", "offset", "bytes", "shape", "buffer");
  // The buffers in increasing offset, each once: the smallest offset above
  // the last one listed, over every region of the plan.
  std::uint32_t count = 0;
  std::uint64_t last = 0;
  for (;;) {
    bool found = false;
    std::uint64_t next = 0;
    for (std::uint32_t i = 0; i < kOccupantCount; ++i) {
      const Occupant o = occupant(plan, i);
      if (!o.region.present() || (count > 0 && o.region.offset <= last)) continue;
      if (!found || o.region.offset < next) next = o.region.offset;
      found = true;
    }
    if (!found) break;
    char name[kNameChars], shape[kShapeChars];
    std::uint64_t bytes = 0;
    describe_buffer(spec, plan, next, name, shape, &bytes);
    w.print("%14llu %13llu  %-20s %s\n", static_cast<unsigned long long>(next),
            static_cast<unsigned long long>(bytes), shape[0] != '\0' ? shape : "-", name);
    last = next;
    ++count;
  }
  w.print("arena: %llu bytes in %u buffers\n", static_cast<unsigned long long>(plan.total),
          static_cast<unsigned>(count));
}

// The whole summary; `isa` null for a spec without a model.
Status write_text(const ModelSpec& spec, const char* isa, const ByteSink& sink) {
  if (sink.write == nullptr) return Status::error(StatusCode::kInvalidArgument, "summary: no sink");
  // The plan is a few KiB: built once here, read by every line below.
  const ModelPlan plan = plan_model(spec);
  if (!plan.check.ok()) return spec_status(spec, plan.check);
  detail::ChecksummedWriter w(sink);  // the checksum goes unused here
  w.print("model: %u input%s, %u layer%s, %u row%s per step; ",
          static_cast<unsigned>(spec.input_width), spec.input_width == 1 ? "" : "s",
          static_cast<unsigned>(spec.layer_count), spec.layer_count == 1 ? "" : "s",
          static_cast<unsigned>(spec.rows), spec.rows == 1 ? "" : "s");
  if (spec.mode == Mode::kInference) {
    w.print("inference\n");
  } else {
    w.print("training (%s, %s", loss_name(spec.loss),
            detail::model_file::optimizer_name(spec.optimizer));
    if (spec.divergence_guard) w.print(", divergence guard");
    if (spec.fused_update) w.print(", fused update");
    if (spec.input_gradient) w.print(", input gradient");
    if (spec.example_rows != 0) {
      w.print(", example gradients of %u rows", static_cast<unsigned>(spec.example_rows));
    }
    if (spec.accumulation_rows != 0) {
      w.print(", accumulation of %u rows", static_cast<unsigned>(spec.accumulation_rows));
    }
    w.print(")\n");
  }
  if (isa != nullptr) w.print("kernels: %s\n", isa);
  write_layers(w, spec);
  w.print("parameters: %llu floats in %u tensors (%llu bytes)\n",
          static_cast<unsigned long long>(plan.parameter_floats),
          static_cast<unsigned>(plan.tensor_count),
          static_cast<unsigned long long>(4 * plan.parameter_floats));
  write_buffers(w, spec, plan);
  w.flush();
  return w.status();
}

// A sink that only counts.
Status count_bytes(void* context, const void*, std::size_t bytes) {
  auto* total = static_cast<std::size_t*>(context);
  if (!checked_add(*total, bytes, total)) {
    return Status::error(StatusCode::kOutOfMemory, "summary: the text exceeds SIZE_MAX bytes");
  }
  return Status();
}

Status text_into(const ModelSpec& spec, const char* isa, char* buffer, std::size_t capacity,
                 std::size_t* needed) {
  if (buffer == nullptr && capacity != 0) {
    return Status::error(StatusCode::kInvalidArgument,
                         "summary: the buffer is null but its capacity is %zu bytes", capacity);
  }
  // Two passes over the same deterministic text: its length, then (when it
  // fits) the text itself, so a short buffer is never written.
  std::size_t chars = 0;
  TERN_RETURN_IF_ERROR(write_text(spec, isa, ByteSink{&count_bytes, &chars}));
  std::size_t with_nul = 0;
  if (!checked_add(chars, std::size_t{1}, &with_nul)) {
    return Status::error(StatusCode::kOutOfMemory, "summary: the text exceeds SIZE_MAX bytes");
  }
  if (needed != nullptr) *needed = with_nul;
  if (capacity < with_nul) {
    return Status::error(StatusCode::kOutOfMemory,
                         "summary: the buffer has %zu bytes, the summary needs %zu (its NUL "
                         "included)",
                         capacity, with_nul);
  }
  MemorySink memory(buffer, capacity);
  TERN_RETURN_IF_ERROR(write_text(spec, isa, memory.sink()));
  buffer[memory.size()] = '\0';
  return Status();
}

Status check_built(const Model& model) {
  if (model.built()) return Status();
  return Status::error(StatusCode::kFailedPrecondition, "summary: the model is not built");
}

}  // namespace

Status write_summary(const ModelSpec& spec, const ByteSink& sink) {
  return write_text(spec, nullptr, sink);
}

Status write_summary(const Model& model, const ByteSink& sink) {
  TERN_RETURN_IF_ERROR(check_built(model));
  return write_text(model.spec(), isa_name(model.isa()), sink);
}

Status summary_text(const ModelSpec& spec, char* buffer, std::size_t capacity,
                    std::size_t* needed) {
  return text_into(spec, nullptr, buffer, capacity, needed);
}

Status summary_text(const Model& model, char* buffer, std::size_t capacity, std::size_t* needed) {
  TERN_RETURN_IF_ERROR(check_built(model));
  return text_into(model.spec(), isa_name(model.isa()), buffer, capacity, needed);
}

}  // namespace tern
