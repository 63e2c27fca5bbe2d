// SPDX-License-Identifier: Apache-2.0
// tern/runtime/compiled_plan.h — a model's plan worked out by the compiler.
//
// Model::build(spec, arena) runs plan_model() on the device: the planner,
// the spec check and their messages are linked into every program that
// builds a model. A program whose spec is a compile-time constant can have
// the plan worked out by the compiler instead, kept in flash in the compact
// form below (only the buffers the model has, 12 bytes each), and hand it to
// Model::build(plan, arena):
//
//   constexpr tern::ModelSpec kSpec = ...;
//   constexpr auto kPlan = tern::compile_plan<kSpec>();
//   alignas(64) unsigned char arena[tern::arena_bytes(kSpec)];
//   ... net.build(kPlan, arena) ...
//
// Same buffers at the same offsets as build(kSpec, arena), so the same bits.
// An invalid spec does not compile (the spec check runs in the compiler).

#pragma once

#include <cstddef>
#include <cstdint>

#include "tern/runtime/plan.h"
#include "tern/runtime/plan_buffers.h"
#include "tern/runtime/spec.h"

namespace tern {

// Where a PlanEntry's buffer goes: layer l's LayerBuffer b is slot
// l * kLayerBufferCount + b, then the ModelBuffers, the points, the deltas.
constexpr std::size_t kPlanSlotModel = kMaxLayers * kLayerBufferCount;
constexpr std::size_t kPlanSlotPoints = kPlanSlotModel + kModelBufferCount;
constexpr std::size_t kPlanSlotDeltas = kPlanSlotPoints + kMaxLayers + 1;
constexpr std::size_t kPlanSlotCount = kPlanSlotDeltas + kMaxLayers + 1;
static_assert(kPlanSlotCount <= 0xffff, "a slot fits PlanEntry::slot");

// One buffer of a compiled plan: `bytes` at `offset` of the model's block.
struct PlanEntry {
  std::uint32_t offset = 0;
  std::uint32_t bytes = 0;
  std::uint16_t slot = 0;
};

// What build() takes from a plan besides its buffers.
struct CompiledPlanFacts {
  std::uint32_t total = 0;         // bytes of the whole block
  std::uint32_t tensor_count = 0;  // parameter tensors
  std::uint64_t parameter_floats = 0;
  std::uint32_t zero_offset = 0;   // parameters, gradients and moments:
  std::uint32_t zero_bytes = 0;    // zeroed by build()
};

template <std::size_t N>
struct CompiledPlan {
  ModelSpec spec;
  CompiledPlanFacts facts;
  PlanEntry entries[N];
};

namespace plan_detail {

// Never defined and not constexpr: reached only for a spec plan_model()
// rejects, it makes compile_plan() fail to compile.
void compile_plan_needs_a_valid_spec_of_at_most_4_GiB();

// Calls f(slot, region) for every buffer of `plan`, present or not.
template <typename F>
constexpr void for_each_plan_region(const ModelPlan& plan, F&& f) {
  for (std::size_t l = 0; l < kMaxLayers; ++l) {
    for (std::size_t b = 0; b < kLayerBufferCount; ++b) {
      f(l * kLayerBufferCount + b, plan.layers[l].buffers[b]);
    }
  }
  for (std::size_t b = 0; b < kModelBufferCount; ++b) f(kPlanSlotModel + b, plan.buffers[b]);
  for (std::size_t p = 0; p <= kMaxLayers; ++p) {
    f(kPlanSlotPoints + p, plan.points[p]);
    f(kPlanSlotDeltas + p, plan.deltas[p]);
  }
}

constexpr std::size_t compiled_plan_entries(const ModelSpec& spec) {
  const ModelPlan plan = plan_model(spec);
  std::size_t count = 0;
  for_each_plan_region(plan, [&count](std::size_t, const Region& r) {
    if (r.present()) ++count;
  });
  return count;
}

template <std::size_t N>
constexpr CompiledPlan<N> compile_plan(const ModelSpec& spec) {
  const ModelPlan plan = plan_model(spec);
  if (!plan.check.ok() || plan.total > 0xffffffffu) compile_plan_needs_a_valid_spec_of_at_most_4_GiB();
  CompiledPlan<N> out{};
  out.spec = spec;
  out.facts.total = static_cast<std::uint32_t>(plan.total);
  out.facts.tensor_count = plan.tensor_count;
  out.facts.parameter_floats = plan.parameter_floats;
  const Region& params = plan[ModelBuffer::kParameters];
  out.facts.zero_offset = static_cast<std::uint32_t>(params.offset);
  out.facts.zero_bytes = static_cast<std::uint32_t>(
      params.bytes + plan[ModelBuffer::kGradients].bytes + plan[ModelBuffer::kMoment1].bytes +
      plan[ModelBuffer::kMoment2].bytes);
  std::size_t at = 0;
  for_each_plan_region(plan, [&out, &at](std::size_t slot, const Region& r) {
    if (!r.present()) return;
    out.entries[at].offset = static_cast<std::uint32_t>(r.offset);
    out.entries[at].bytes = static_cast<std::uint32_t>(r.bytes);
    out.entries[at].slot = static_cast<std::uint16_t>(slot);
    ++at;
  });
  return out;
}

}  // namespace plan_detail

// The plan of kSpec (a constexpr ModelSpec with static storage), worked out
// by the compiler.
template <const ModelSpec& kSpec>
constexpr CompiledPlan<plan_detail::compiled_plan_entries(kSpec)> compile_plan() {
  // A constexpr variable: the plan is always worked out by the compiler, at
  // -O0 as well, so no call to the never-defined function ever reaches the
  // object file (an unoptimised build would otherwise fail to link).
  constexpr CompiledPlan<plan_detail::compiled_plan_entries(kSpec)> kPlan =
      plan_detail::compile_plan<plan_detail::compiled_plan_entries(kSpec)>(kSpec);
  return kPlan;
}

}  // namespace tern
