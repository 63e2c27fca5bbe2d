// SPDX-License-Identifier: Apache-2.0
// firmware_dense — tern as firmware uses it: one static arena, no heap, no
// exceptions, no RTTI, no OS. Trains one dense layer
//     Y = relu(X W + b),   X 8 x 16, W 16 x 8,   loss = 0.5 |Y - T|^2
// towards the outputs of a fixed "teacher" layer with 100 steps of plain SGD,
// using only the checked kernel entry points:
//   gemm_rows_f32          forward pass (ReLU fused)
//   rank1_accumulate_f32   W += -lr/n * sum_i X_i^T dZ_i: the weight gradient
//                          and the SGD step in one call (alpha = -lr/n)
//   column_sums_accumulate_f32   the same for the bias
//   backprop_rows_f32      dX = dZ W^T, what a previous layer would receive
//
// The same source builds for the host (examples/CMakeLists.txt) and for a
// Cortex-M (toolchains/arm-none-eabi-cortex-m.cmake). It prints a checksum of
// the trained weights' bits: the host under every ISA and the Cortex-M (under
// qemu-system-arm in CI) must print the same number — tern's bit-identity
// promise, checked end to end across architectures.
//
// Output goes through tern_putchar() (firmware_print.h): a weak no-op there,
// so the program links anywhere; a board supplies a UART version, the host
// build maps it to putchar, the MPS2 startup file to semihosting.
// The exit status is 0 when training converged and every check held.
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "firmware_print.h"
#include "tern/kernels/dense.h"
#include "tern/kernels/isa_selection.h"
#include "tern/runtime/arena.h"

namespace {

constexpr std::size_t kN = 8;    // samples per batch
constexpr std::size_t kK = 16;   // inputs
constexpr std::size_t kM = 8;    // outputs
constexpr int kSteps = 100;
constexpr float kLearningRate = 0.2f;

constexpr std::size_t floats(std::size_t count) { return tern::align_up(count * sizeof(float)); }
// Every buffer below, in allocation order. The arena rounds each to 64 bytes,
// so this sum is exactly what it will use (checked against high_water()).
constexpr std::size_t kArenaBytes =
    floats(kN * kK)      // X
    + floats(kK * kM)    // W
    + floats(kM)         // b
    + floats(kK * kM)    // teacher W
    + floats(kM)         // teacher b
    + floats(kN * kM)    // T, the targets
    + floats(kN * kM)    // Y, then dZ in place
    + floats(kN * kK);   // dX
// No packing scratch: it is optional, and the scalar kernels of a Cortex-M
// would ignore it (tern/kernels/dense.h).

alignas(tern::kCacheLine) unsigned char g_memory[kArenaBytes];

std::uint32_t bits(float f) {
  std::uint32_t b;
  std::memcpy(&b, &f, sizeof b);
  return b;
}
// A loss printed as millionths, without printf's float support.
void put_micro(float v) { firmware_put_dec(static_cast<std::uint32_t>(v * 1e6f + 0.5f)); }

// Deterministic data in [-1, 1) from a 32-bit LCG, exact on every target
// (integer arithmetic and one power-of-two scaling).
struct Lcg {
  std::uint32_t state;
  float next() {
    state = state * 1664525u + 1013904223u;
    const std::int32_t v = static_cast<std::int32_t>(state >> 8) - (1 << 23);
    return static_cast<float>(v) * (1.0f / 8388608.0f);
  }
};

int fail(const char* what, const tern::Status& s) {
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
  // Nothing to detect on a microcontroller: the firmware states what its core
  // runs. A Cortex-M has no vector unit tern uses, so scalar it is.
  tern::set_cpu_isas(tern::isa_bit(tern::Isa::kScalar));
#endif
  tern::Arena arena;
  tern::Status s = arena.attach(g_memory, sizeof g_memory);
  if (!s.ok()) return fail("attach", s);

  tern::Span<float> x, w, b, tw, tb, t, y, dx;
  if (s.ok()) s = arena.allocate(kN * kK, &x);
  if (s.ok()) s = arena.allocate(kK * kM, &w);
  if (s.ok()) s = arena.allocate(kM, &b);
  if (s.ok()) s = arena.allocate(kK * kM, &tw);
  if (s.ok()) s = arena.allocate(kM, &tb);
  if (s.ok()) s = arena.allocate(kN * kM, &t);
  if (s.ok()) s = arena.allocate(kN * kM, &y);
  if (s.ok()) s = arena.allocate(kN * kK, &dx);
  if (!s.ok()) return fail("allocate", s);
  if (arena.high_water() != kArenaBytes) {
    firmware_put("FAILED: arena used ");
    firmware_put_dec(static_cast<std::uint32_t>(arena.high_water()));
    firmware_put(" bytes, computed ");
    firmware_put_dec(static_cast<std::uint32_t>(kArenaBytes));
    firmware_put("\n");
    return 1;
  }

  Lcg rng{2024};
  for (float& v : x) v = rng.next();
  for (float& v : tw) v = rng.next();
  for (float& v : tb) v = 0.5f * rng.next();
  for (float& v : w) v = 0.25f * rng.next();
  // A positive start bias keeps every ReLU unit active at first, so none
  // dies (zero gradient for good) before it has learnt anything.
  for (float& v : b) v = 2.0f;

  // Targets: the teacher layer's outputs.
  s = tern::gemm_rows_f32(kN, kK, kM, x.data, kK, tw.data, kM, tb.data, t.data, kM,
                          tern::Activation::kRelu);
  if (!s.ok()) return fail("teacher forward", s);

  float first_loss = 0.0f, loss = 0.0f;
  for (int step = 0; step < kSteps; ++step) {
    s = tern::gemm_rows_f32(kN, kK, kM, x.data, kK, w.data, kM, b.data, y.data, kM,
                            tern::Activation::kRelu);
    if (!s.ok()) return fail("forward", s);
    // dZ = (Y - T) * relu'(Z), in place over Y; relu'(Z) = [Y > 0].
    loss = 0.0f;
    for (std::size_t e = 0; e < kN * kM; ++e) {
      const float diff = y[e] - t[e];
      const float half_sq = 0.5f * diff;
      loss = loss + half_sq * diff;  // two roundings, no contraction: same on every target
      y[e] = y[e] > 0.0f ? diff : 0.0f;
    }
    if (step == 0) first_loss = loss;
    const float alpha = -kLearningRate / static_cast<float>(kN);
    if (step == kSteps - 1) {  // the delta for a previous layer, from the final weights
      s = tern::backprop_rows_f32(kN, kK, kM, y.data, kM, w.data, kM, dx.data, kK);
      if (!s.ok()) return fail("backprop", s);
    }
    s = tern::rank1_accumulate_f32(kN, kK, kM, alpha, x.data, kK, y.data, kM, w.data, kM);
    if (s.ok()) s = tern::column_sums_accumulate_f32(kN, kM, alpha, y.data, kM, b.data);
    if (!s.ok()) return fail("update", s);
  }

  // A bad call is refused with a message, not a crash (and the message
  // formatting works under newlib-nano).
  const tern::Status bad = tern::gemm_rows_f32(kN, kK, kM, x.data, kK - 1, w.data, kM, nullptr,
                                               y.data, kM);

  tern::Isa isa = tern::Isa::kScalar;
  tern::SelectionReason reason;
  tern::active_isa(&isa, &reason);
  std::uint32_t h = FIRMWARE_FNV_OFFSET;
  h = firmware_fnv1a_floats(h, w.data, w.size);
  h = firmware_fnv1a_floats(h, b.data, b.size);
  h = firmware_fnv1a_floats(h, dx.data, dx.size);
  h = firmware_fnv1a_floats(h, &loss, 1);

  firmware_put("tern firmware_dense: 8x16 -> 8 ReLU layer, ");
  firmware_put_dec(kSteps);
  firmware_put(" SGD steps, ISA ");
  firmware_put(tern::isa_name(isa));
  firmware_put("\narena: ");
  firmware_put_dec(static_cast<std::uint32_t>(arena.high_water()));
  firmware_put(" bytes, static\nloss: ");
  put_micro(first_loss);
  firmware_put("e-6 -> ");
  put_micro(loss);
  firmware_put("e-6 (bits ");
  firmware_put_hex(bits(loss));
  firmware_put(")\nrejected bad call: ");
  firmware_put(bad.message());
  firmware_put("\nchecksum: ");
  firmware_put_hex(h);
  firmware_put("\n");

  const bool converged = loss < 1e-3f * first_loss;
  const bool refused = bad.code() == tern::StatusCode::kInvalidArgument;
  firmware_put(converged && refused ? "ok\n" : "FAILED: no convergence or bad call accepted\n");
  return converged && refused ? 0 : 1;
}
