// SPDX-License-Identifier: Apache-2.0
// tern/runtime/clipping.h — per-example and global-norm clipping with
// Gaussian noise (Model::set_clipping; docs/rank1.md).
#pragma once

#include <cstdint>

namespace tern {

// What the clipped sum of example gradients is divided by (with
// spec.example_rows; ClipParams::divisor).
//   kRows: the rows of the step, examples * spec.example_rows, as the plain
//     mean loss over rows is (tern's default, unchanged: with one row per
//     example the two are the same).
//   kExamples: the number of examples, as DP-SGD (Abadi et al.) and Opacus
//     define the step: with R rows per example the gradient (and the noise)
//     is R times kRows'.
// The default stays kRows so that recipes tuned on tern keep their
// learning rate; choose kExamples to port a DP-SGD recipe (docs/pytorch.md).
enum class ExampleGradientDivisor : std::uint8_t { kRows = 0, kExamples = 1 };

// Per-example clipping with Gaussian noise (DP-SGD: Abadi et al., "Deep
// Learning with Differential Privacy", 2016) and global-norm clipping.
// Norms are Euclidean over all the parameters they cover.
struct ClipParams {
  // Needs spec.example_rows. Each example's gradient (of its own loss, over
  // every parameter of the model) is scaled by min(1, example_clip /
  // ||g_i||) before it joins the sum. 0 = off.
  float example_clip = 0.0f;
  // Needs example_clip > 0. Adds noise_multiplier * example_clip * z, z a
  // standard normal drawn per parameter, to the clipped sum before it is
  // divided by the rows of the step (the number of examples times
  // spec.example_rows, as the plain mean loss is) or by the examples
  // (divisor below). 0 = off. The noise is a
  // function of (noise_seed, step, parameter): the same on every ISA and
  // whether the update is fused or not (add_gaussian_noise_f32 of
  // tern/kernels/elementwise.h; tensor t of step s has the key
  // noise_seed ^ f((s << 32) | t), f the SplitMix64 finalizer: x ^= x >> 30;
  // x *= 0xbf58476d1ce4e5b9; x ^= x >> 27; x *= 0x94d049bb133111eb;
  // x ^= x >> 31; the index is the element's offset in its tensor).
  // Its generator is statistical, not cryptographic: whoever knows the seed
  // can predict the noise, and then it protects nothing. Keep it secret.
  float noise_multiplier = 0.0f;
  std::uint64_t noise_seed = 0;
  // The step's gradient (the clipped sum divided by the divisor, after
  // per-example clipping, before noise) is scaled by min(1, global_clip /
  // ||g||). 0 = off. Without example gradients this needs the gradient
  // buffers or accumulated factors (no fused update without accumulation).
  float global_clip = 0.0f;
  // What the sum is divided by before noise scaling and global clipping
  // (above); the noise deviation is divided by the same number, and the
  // global norm is that of the divided gradient. Needs spec.example_rows
  // for kExamples.
  ExampleGradientDivisor divisor = ExampleGradientDivisor::kRows;
};

}  // namespace tern
