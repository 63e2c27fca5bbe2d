// SPDX-License-Identifier: Apache-2.0
// tern-export-firmware-model: the host half of the C firmware example
// (firmware_c.c). It pre-trains the firmware's model on the development
// machine and exports it with tern::export_c_header as the C header the
// firmware compiles in (examples/c/firmware_model.h, committed):
//   tern-export-firmware-model PATH
// The model is a 2-16-16-2 ReLU MLP with SGD and momentum, batches of 8,
// told whether a point of [-1, 1)^2 lies inside the circle of radius 0.6;
// it trains 10 epochs over 256 points from tern::Rng(2024), seed 7. The
// run is the same bits under every ISA, so the header is the same bytes on
// every machine: ctest regenerates it and fails if the committed copy is
// stale (tern-firmware-model-header).
#include <cstdio>

#include "tern/runtime/byte_io.h"
#include "tern/runtime/c_header_export.h"
#include "tern/runtime/model.h"
#include "tern/runtime/rng.h"

namespace {

constexpr std::uint32_t kBatch = 8;
constexpr tern::ModelSpec kSpec =
    tern::mlp({2, 16, 16, 2}, kBatch, tern::Mode::kTraining, tern::Pointwise::kRelu,
              tern::LossKind::kSoftmaxCrossEntropy, tern::OptimizerKind::kSgd);
constexpr std::size_t kSamples = 256;
constexpr int kEpochs = 10;
// A learning rate that gets the pre-trained model near, not to, its best:
// the firmware's own training then has something left to do.
constexpr float kLearningRate = 0.02f;

alignas(64) unsigned char g_arena[tern::arena_bytes(kSpec)];
float g_x[kSamples][2];
std::uint32_t g_y[kSamples];
std::uint32_t g_order[kSamples];

int fail(const char* what, const tern::Status& s) {
  std::fprintf(stderr, "tern-export-firmware-model: %s: %s\n", what, s.message());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s HEADER\n", argv[0]);
    return 2;
  }
  tern::Rng rng(2024);
  for (std::size_t i = 0; i < kSamples; ++i) {
    g_x[i][0] = rng.symmetric(1.0f);
    g_x[i][1] = rng.symmetric(1.0f);
    g_y[i] = g_x[i][0] * g_x[i][0] + g_x[i][1] * g_x[i][1] < 0.36f ? 1u : 0u;
  }
  tern::Arena arena;
  tern::Model model;
  tern::Status s = arena.attach(g_arena, sizeof g_arena);
  if (s.ok()) s = model.build(kSpec, arena);
  if (!s.ok()) return fail("build", s);
  model.initialize(7);
  tern::OptimizerParams params;
  params.learning_rate = kLearningRate;
  params.momentum = 0.9f;
  s = model.set_optimizer(params);
  if (!s.ok()) return fail("optimizer", s);
  tern::Span<std::uint32_t> order{g_order, kSamples};
  tern::iota(order);
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
      s = model.train_step(b, nullptr);
      if (!s.ok()) return fail("training", s);
    }
  }
  // The header is committed with tern's sources, so it starts with their
  // licence line (.ci/check-spdx); the exporter itself claims no licence
  // for a model's weights.
  static char text[1 << 16];  // the header is about 12 KB
  tern::MemorySink sink(text, sizeof text);
  s = tern::export_c_header(model, "firmware_model", sink.sink());
  if (!s.ok()) return fail("export", s);
  std::FILE* f = std::fopen(argv[1], "wb");
  if (f == nullptr) return fail("export", tern::Status::error(tern::StatusCode::kIoError, "cannot create %s", argv[1]));
  const bool written = std::fputs("/* SPDX-License-Identifier: Apache-2.0 */\n", f) >= 0 &&
                       std::fwrite(text, 1, sink.size(), f) == sink.size();
  if (std::fclose(f) != 0 || !written) {
    return fail("export", tern::Status::error(tern::StatusCode::kIoError, "writing %s failed", argv[1]));
  }
  return 0;
}
