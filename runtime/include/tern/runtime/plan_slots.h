// SPDX-License-Identifier: Apache-2.0
// tern/runtime/plan_slots.h — the arithmetic of plan_model()
// (tern/runtime/plan.h): 64-byte rounding in 64-bit integers, and first-fit
// packing of buffers whose lifetimes do not overlap into shared slots.
#pragma once

#include <cstdint>

#include "tern/runtime/arena.h"
#include "tern/runtime/spec.h"

namespace tern {

namespace plan_detail {

// align_up() in 64-bit arithmetic, so that 32-bit targets detect overflow.
constexpr std::uint64_t round_up(std::uint64_t bytes) {
  return (bytes + kCacheLine - 1) / kCacheLine * kCacheLine;
}
constexpr std::uint64_t bytes_of_floats(std::uint64_t count) { return round_up(count * 4); }

// One buffer request for slot packing: alive over [start, end] (inclusive,
// in steps of the pass), `bytes` large.
struct Interval {
  std::int64_t start = 0, end = 0;
  std::uint64_t bytes = 0;
};

// First-fit packing of intervals given in increasing `start`: a slot is free
// for an interval when its latest occupant ended before the interval starts.
// Writes each interval's slot and each slot's size; returns the slot count.
constexpr std::uint32_t pack_slots(const Interval* items, std::uint32_t count, std::uint32_t* slot_of,
                                   std::uint64_t* slot_bytes) {
  std::int64_t slot_end[kMaxLayers + 1] = {};
  std::uint32_t slots = 0;
  for (std::uint32_t i = 0; i < count; ++i) {
    std::uint32_t s = slots;
    for (std::uint32_t c = 0; c < slots; ++c) {
      if (slot_end[c] < items[i].start) {
        s = c;
        break;
      }
    }
    if (s == slots) {
      slot_bytes[slots] = 0;
      ++slots;
    }
    slot_of[i] = s;
    slot_end[s] = items[i].end;
    if (items[i].bytes > slot_bytes[s]) slot_bytes[s] = items[i].bytes;
  }
  return slots;
}

struct Cursor {
  std::uint64_t at = 0;
  constexpr Region take(std::uint64_t bytes) {
    Region r{at, bytes};
    at += bytes;
    return r;
  }
};

constexpr bool keeps_pre_activation(const LayerSpec& l) {
  return l.kind == LayerKind::kDense && l.act != Pointwise::kIdentity &&
         l.act != Pointwise::kRelu;
}

}  // namespace plan_detail

}  // namespace tern
