// SPDX-License-Identifier: Apache-2.0
// tern-firmware-example: what a microcontroller program looks like.
//
// Everything is static and sized by the compiler: the training arena, the
// inference arena, the data, the "flash" buffer the trained model is written
// to. The program builds with -fno-exceptions -fno-rtti and never touches
// the heap. It
//   1. trains a 2-16-16-2 MLP on-device (SGD with momentum, batch 8) to tell
//      whether a point lies inside a circle, on samples it generates itself,
//   2. saves the trained weights into a flash-sized buffer (versioned file
//      with CRC-32) and loads them into a one-row inference model,
//   3. classifies fresh points one at a time and reports the accuracy and
//      the RAM each arena takes.
// Exit status 0 when the accuracy on fresh points is at least 90%.
//
// The same source builds for the host (where it prints to stdout) and for a
// bare-metal Cortex-M (toolchains/arm-none-eabi-cortex-m.cmake, linked for
// the MPS2 boards QEMU models, printing through semihosting). Output goes
// through tern_putchar() — a weak no-op (firmware/firmware_print.h), putchar
// on the host, a UART on a board — with integer formatting only (no printf,
// no float formatting).
// It prints a checksum of the trained weights' bits: every ISA of the host
// and the Cortex-M print the same number.
#include <cstdint>
#include <cstring>

#include "firmware/firmware_print.h"
#include "tern/kernels/isa_selection.h"
#include "tern/runtime/model.h"
#include "tern/runtime/persist.h"
#include "tern/runtime/rng.h"

namespace {

constexpr std::uint32_t kBatch = 8;
constexpr tern::ModelSpec kTrainSpec =
    tern::mlp({2, 16, 16, 2}, kBatch, tern::Mode::kTraining, tern::Pointwise::kRelu,
              tern::LossKind::kSoftmaxCrossEntropy, tern::OptimizerKind::kSgd);
constexpr tern::ModelSpec kInferSpec = kTrainSpec.inference().with_rows(1);

// The part of a small Cortex-M's SRAM this firmware gives to tern.
constexpr std::size_t kRamBudget = 12 * 1024;

alignas(64) unsigned char g_train_arena[tern::arena_bytes(kTrainSpec)];
alignas(64) unsigned char g_infer_arena[tern::arena_bytes(kInferSpec)];
static_assert(sizeof g_train_arena + sizeof g_infer_arena <= kRamBudget,
              "the model does not fit the RAM budget");

// Stands in for a flash page holding the trained model.
unsigned char g_flash[tern::model_file_bytes(kTrainSpec, false)];

constexpr std::size_t kSamples = 256;
constexpr int kEpochs = 60;
float g_x[kSamples][2];
std::uint32_t g_y[kSamples];
std::uint32_t g_order[kSamples];

// A point in [-1, 1)^2 and whether it lies inside the circle of radius 0.6
// (about 28% of the square).
std::uint32_t sample(tern::Rng& rng, float* point) {
  point[0] = rng.symmetric(1.0f);
  point[1] = rng.symmetric(1.0f);
  return point[0] * point[0] + point[1] * point[1] < 0.36f ? 1u : 0u;
}

// v >= 0 with four decimals, by integer arithmetic.
void put_fixed4(float v) {
  const auto scaled = static_cast<std::uint32_t>(v * 10000.0f + 0.5f);
  firmware_put_dec(scaled / 10000);
  tern_putchar('.');
  const std::uint32_t frac = scaled % 10000;
  for (std::uint32_t d = 1000; d > 0; d /= 10) tern_putchar(static_cast<char>('0' + frac / d % 10));
}

// FNV-1a over the bits of every parameter.
std::uint32_t checksum(const tern::Model& m) {
  std::uint32_t h = FIRMWARE_FNV_OFFSET;
  for (std::uint32_t t = 0; t < m.tensor_count(); ++t) {
    const tern::Span<float> v = m.tensor(t).value;
    h = firmware_fnv1a_floats(h, v.data, v.size);
  }
  return h;
}

int report(const char* what, const tern::Status& s) {
  firmware_put("FAILED: ");
  firmware_put(what);
  firmware_put(": ");
  firmware_put(s.message());
  firmware_put("\n");
  return 1;
}

}  // namespace

int main() {
#if defined(TERN_BARE_METAL) && TERN_BARE_METAL
  // Nothing to detect on a microcontroller: the firmware states what its
  // core runs, and a Cortex-M has no vector unit tern uses.
  tern::set_cpu_isas(tern::isa_bit(tern::Isa::kScalar));
#endif
  tern::Rng rng(2024);
  for (std::size_t i = 0; i < kSamples; ++i) g_y[i] = sample(rng, g_x[i]);

  tern::Arena train_arena;
  tern::Model net;
  tern::Status s = train_arena.attach(g_train_arena, sizeof g_train_arena);
  if (s.ok()) s = net.build(kTrainSpec, train_arena);
  if (!s.ok()) return report("building the training model", s);
  net.initialize(7);
  tern::OptimizerParams params;
  params.learning_rate = 0.05f;
  params.momentum = 0.9f;
  s = net.set_optimizer(params);
  if (!s.ok()) return report("optimizer", s);

  tern::Span<std::uint32_t> order{g_order, kSamples};
  tern::iota(order);
  float loss = 0;
  for (int epoch = 0; epoch < kEpochs; ++epoch) {
    tern::shuffle(order, rng);
    float sum = 0;
    for (std::size_t at = 0; at < kSamples; at += kBatch) {
      tern::Batch b;
      b.x = &g_x[0][0];
      b.ldx = 2;
      b.labels = g_y;
      b.indices = g_order + at;
      b.samples = kSamples;
      b.rows = kBatch;
      float l = 0;
      s = net.train_step<tern::step_features(kTrainSpec)>(b, &l);
      if (!s.ok()) return report("training", s);
      sum += l;
    }
    loss = sum / float(kSamples / kBatch);
    if (epoch == 0 || (epoch + 1) % 20 == 0) {
      firmware_put("epoch ");
      firmware_put_dec(static_cast<std::uint32_t>(epoch + 1));
      firmware_put(" loss ");
      put_fixed4(loss);
      firmware_put("\n");
    }
  }

  // "Flash" the weights and bring them up in a one-row inference model.
  tern::MemorySink flash(g_flash, sizeof g_flash);
  s = tern::save_model(net, flash.sink());
  if (!s.ok()) return report("saving", s);
  tern::Arena infer_arena;
  tern::Model infer;
  s = infer_arena.attach(g_infer_arena, sizeof g_infer_arena);
  if (s.ok()) s = infer.build(kInferSpec, infer_arena);
  if (s.ok()) s = tern::load_model(infer, tern::memory_source(g_flash, flash.size()));
  if (!s.ok()) return report("loading", s);

  const int kTrials = 500;
  int correct = 0;
  for (int i = 0; i < kTrials; ++i) {
    float point[2];
    const std::uint32_t truth = sample(rng, point);
    std::uint32_t predicted = 0;
    s = infer.predict(point, 2, 1, &predicted);
    if (!s.ok()) return report("inference", s);
    correct += predicted == truth;
  }
  tern::Isa isa = tern::Isa::kScalar;
  tern::SelectionReason reason = tern::SelectionReason::kNone;
  tern::active_isa(&isa, &reason);
  firmware_put("ISA ");
  firmware_put(tern::isa_name(isa));
  firmware_put("; training arena ");
  firmware_put_dec(sizeof g_train_arena);
  firmware_put(" bytes, inference arena ");
  firmware_put_dec(sizeof g_infer_arena);
  firmware_put(" bytes (budget ");
  firmware_put_dec(kRamBudget);
  firmware_put("); model file ");
  firmware_put_dec(static_cast<std::uint32_t>(flash.size()));
  firmware_put(" bytes\nfinal loss ");
  put_fixed4(loss);
  firmware_put("; correct on fresh points: ");
  firmware_put_dec(static_cast<std::uint32_t>(correct));
  firmware_put("/");
  firmware_put_dec(kTrials);
  firmware_put("\nchecksum: ");
  firmware_put_hex(checksum(infer));
  firmware_put("\n");
  return correct * 10 >= kTrials * 9 ? 0 : 1;  // at least 90 %
}
