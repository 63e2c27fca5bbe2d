// SPDX-License-Identifier: Apache-2.0
// tern/runtime/rng.h — deterministic random numbers for initialisation and
// shuffling.
//
// The same seed must give the same weights and the same sample order on a
// laptop and on a microcontroller, with any compiler and standard library.
// <random>'s engines are portable but its distributions are not (their
// algorithms are implementation-defined), and normal distributions need libm
// functions whose last bit varies by platform. So tern has its own small
// generator (PCG32: 64-bit LCG state, permuted 32-bit output; O'Neill 2014),
// integers in [0, bound) by Lemire's multiply-and-reject method (exact,
// unbiased), and floats built from 24 random bits (exact, no rounding).
#pragma once

#include <cstddef>
#include <cstdint>

#include "tern/runtime/view.h"

namespace tern {

// The whole state of a generator, for checkpoints (tern/runtime/checkpoint.h):
// restoring it continues the exact same sequence.
struct RngState {
  std::uint64_t state = 0;
  std::uint64_t increment = 1;  // always odd
};

class Rng {
 public:
  // `stream` selects one of 2^63 independent sequences for the same seed.
  constexpr explicit Rng(std::uint64_t seed, std::uint64_t stream = 0)
      : state_(0), increment_((stream << 1) | 1u) {
    next_u32();
    state_ += seed;
    next_u32();
  }

  constexpr std::uint32_t next_u32() {
    const std::uint64_t old = state_;
    state_ = old * kMultiplier + increment_;
    const auto xorshifted = static_cast<std::uint32_t>(((old >> 18) ^ old) >> 27);
    const auto rot = static_cast<std::uint32_t>(old >> 59);
    return (xorshifted >> rot) | (xorshifted << ((32u - rot) & 31u));
  }

  constexpr RngState save() const { return RngState{state_, increment_}; }
  // The increment is forced odd, as every PCG32 increment is.
  constexpr void restore(const RngState& s) {
    state_ = s.state;
    increment_ = s.increment | 1u;
  }

  // Uniform in [0, bound), bound >= 1, without modulo bias.
  constexpr std::uint32_t below(std::uint32_t bound) {
    std::uint64_t m = std::uint64_t{next_u32()} * bound;
    auto low = static_cast<std::uint32_t>(m);
    if (low < bound) {
      const std::uint32_t threshold = static_cast<std::uint32_t>(0u - bound) % bound;
      while (low < threshold) {
        m = std::uint64_t{next_u32()} * bound;
        low = static_cast<std::uint32_t>(m);
      }
    }
    return static_cast<std::uint32_t>(m >> 32);
  }

  // Uniform in [0, 1) on the grid k * 2^-24: every value exact in float.
  constexpr float uniform() {
    return static_cast<float>(next_u32() >> 8) * (1.0f / 16777216.0f);
  }
  // Uniform in [-limit, limit).
  constexpr float symmetric(float limit) { return (uniform() * 2.0f - 1.0f) * limit; }

 private:
  // The 64-bit LCG multiplier of PCG's reference generators (Knuth's MMIX).
  static constexpr std::uint64_t kMultiplier = 6364136223846793005ull;
  std::uint64_t state_;
  std::uint64_t increment_;
};

// Fisher–Yates shuffle of `order` in place: every permutation equally likely,
// identical for the same generator state on every platform.
template <class T>
constexpr void shuffle(Span<T> order, Rng& rng) {
  for (std::size_t i = order.size; i > 1; --i) {
    const std::size_t j = rng.below(static_cast<std::uint32_t>(i));
    T tmp = order.data[i - 1];
    order.data[i - 1] = order.data[j];
    order.data[j] = tmp;
  }
}

// order[i] = i.
template <class T>
constexpr void iota(Span<T> order) {
  for (std::size_t i = 0; i < order.size; ++i) order.data[i] = static_cast<T>(i);
}

}  // namespace tern
