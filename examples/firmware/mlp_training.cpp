// SPDX-License-Identifier: Apache-2.0
// tern-mlp-train-sgd, tern-mlp-train-adam: on-device training of the
// 2-16-16-2 MLP through the runtime's Model, linking only what the step of
// its compile-time spec uses (Model::train_step<step_features(kSpec)>).
// TERN_MLP_ADAM=1 picks Adam, otherwise SGD with momentum.
//
// It trains 60 epochs of batch 8 on 256 points it generates (inside a circle
// or not), then classifies 500 fresh points with the same model and prints
// a checksum of the trained weights' bits: the host under every ISA and the
// Cortex-M (under qemu-system-arm in CI) print the same number. Exit status
// 0 when at least 90% of the fresh points are classified right. Its flash
// budget is checked in CI (.ci/test).
#include "mlp_firmware.h"

#ifndef TERN_MLP_ADAM
#define TERN_MLP_ADAM 0
#endif

namespace {

using namespace mlp_firmware;

constexpr tern::OptimizerKind kOptimizer =
    TERN_MLP_ADAM ? tern::OptimizerKind::kAdam : tern::OptimizerKind::kSgd;
constexpr tern::ModelSpec kSpec = mlp_spec(kOptimizer);
// Its plan, worked out by the compiler: the device runs no planner.
constexpr auto kPlan = tern::compile_plan<kSpec>();
alignas(64) unsigned char g_arena[tern::arena_bytes(kSpec)];

constexpr std::size_t kSamples = 256;
constexpr int kEpochs = 60;
float g_x[kSamples][2];
std::uint32_t g_y[kSamples];
std::uint32_t g_order[kSamples];

}  // namespace

int main() {
  state_cpu();
  tern::Rng rng(2024);
  for (std::size_t i = 0; i < kSamples; ++i) g_y[i] = sample(rng, g_x[i]);

  tern::Arena arena;
  tern::Model net;
  tern::Status s = arena.attach(g_arena, sizeof g_arena);
  if (s.ok()) s = net.build(kPlan, arena);
  if (!s.ok()) return report("building the model", s);
  net.initialize(7);
  tern::OptimizerParams params;
  params.learning_rate = TERN_MLP_ADAM ? 0.01f : 0.05f;
  params.momentum = 0.9f;
  s = net.set_optimizer(params);
  if (!s.ok()) return report("optimizer", s);

  tern::Span<std::uint32_t> order{g_order, kSamples};
  tern::iota(order);
  float loss = 0.0f;
  for (int epoch = 0; epoch < kEpochs; ++epoch) {
    tern::shuffle(order, rng);
    for (std::size_t at = 0; at < kSamples; at += kBatch) {
      tern::Batch b;
      b.x = &g_x[0][0];
      b.ldx = 2;
      b.labels = g_y;
      b.indices = g_order + at;
      b.samples = kSamples;
      b.rows = kBatch;
      s = net.train_step<tern::step_features(kSpec)>(b, &loss);
      if (!s.ok()) return report("training", s);
    }
  }

  constexpr int kTrials = 500;
  std::uint32_t correct = 0;
  for (int i = 0; i < kTrials; ++i) {
    float point[2];
    const std::uint32_t truth = sample(rng, point);
    std::uint32_t predicted = 0;
    s = net.predict(point, 2, 1, &predicted);
    if (!s.ok()) return report("inference", s);
    correct += predicted == truth ? 1u : 0u;
  }
  std::uint32_t loss_bits;
  std::memcpy(&loss_bits, &loss, sizeof loss_bits);
  firmware_put(TERN_MLP_ADAM ? "tern-mlp-train-adam" : "tern-mlp-train-sgd");
  firmware_put(": 2-16-16-2 MLP, ");
  firmware_put_dec(kEpochs);
  firmware_put(" epochs; arena ");
  firmware_put_dec(sizeof g_arena);
  firmware_put(" bytes; last loss bits ");
  firmware_put_hex(loss_bits);
  firmware_put("; correct on fresh points: ");
  firmware_put_dec(correct);
  firmware_put("/");
  firmware_put_dec(kTrials);
  firmware_put("\nchecksum: ");
  firmware_put_hex(parameter_checksum(net));
  firmware_put("\n");
  return correct * 10 >= kTrials * 9 ? 0 : 1;
}
