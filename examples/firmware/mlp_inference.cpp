// SPDX-License-Identifier: Apache-2.0
// tern-mlp-infer: the least a firmware that only runs a model links — one
// static arena, a one-row inference model of the 2-16-16-2 MLP, predict().
//
// The weights stand in for the ones a product keeps in flash (exported by
// tern::export_c_header_file or a saved model file): here an integer LCG
// writes them into the model's tensors, exactly on every target. The program
// classifies 500 points and prints a checksum of every output's bits and
// predicted class: the host under every ISA and the Cortex-M (under
// qemu-system-arm in CI) print the same number. Its flash budget is checked
// in CI (.ci/test).
#include "mlp_firmware.h"

namespace {

using namespace mlp_firmware;

constexpr tern::ModelSpec kSpec = mlp_spec(tern::OptimizerKind::kSgd).inference().with_rows(1);
// Its plan, worked out by the compiler: the device runs no planner.
constexpr auto kPlan = tern::compile_plan<kSpec>();
alignas(64) unsigned char g_arena[tern::arena_bytes(kSpec)];
constexpr int kPoints = 500;

// Weights in [-1, 1): a 32-bit LCG's top 24 bits, scaled by a power of two.
// They are stand-ins, not a trained model: with them the output bias of
// class 0 wins at every point of [-1, 1)^2, so the program reports "0 in
// class 1" (a double-precision evaluation of the same weights agrees). What
// the test compares is the checksum over every output's bits.
void write_weights(tern::Model& net) {
  std::uint32_t state = 2024;
  for (std::uint32_t t = 0; t < net.tensor_count(); ++t) {
    for (float& v : net.tensor(t).value) {
      state = state * 1664525u + 1013904223u;
      v = static_cast<float>(static_cast<std::int32_t>(state >> 8) - (1 << 23)) *
          (1.0f / 8388608.0f);
    }
  }
}

}  // namespace

int main() {
  state_cpu();
  tern::Arena arena;
  tern::Model net;
  tern::Status s = arena.attach(g_arena, sizeof g_arena);
  if (s.ok()) s = net.build(kPlan, arena);
  if (!s.ok()) return report("building the model", s);
  write_weights(net);

  tern::Rng rng(7);
  std::uint32_t h = kFnvOffset;
  std::uint32_t inside = 0;
  for (int i = 0; i < kPoints; ++i) {
    float point[2];
    sample(rng, point);
    std::uint32_t predicted = 0;
    s = net.predict(point, 2, 1, &predicted);
    if (!s.ok()) return report("inference", s);
    h = fnv1a(h, net.output().row(0), net.output().cols);
    h = fnv1a(h, predicted);
    inside += predicted;
  }
  put("tern-mlp-infer: 2-16-16-2 MLP, ");
  put_dec(kPoints);
  put(" points, ");
  put_dec(inside);
  put(" in class 1; arena ");
  put_dec(sizeof g_arena);
  put(" bytes\nchecksum: ");
  put_hex(h);
  put("\n");
  return 0;
}
