// SPDX-License-Identifier: Apache-2.0
// tern/runtime/arena.h — all of tern's memory, in one buffer the caller owns.
//
// Firmware knows its RAM map at link time, so tern never asks a heap for
// memory. The caller hands an Arena one buffer (typically a static array sized
// by tern::arena_bytes(spec) at compile time); every weight, activation,
// gradient, optimizer moment and scratch panel is carved out of it by bumping
// an offset. Nothing is freed individually: scratch is released by rolling
// back to a mark, everything by reset().
//
// Every allocation starts on a 64-byte boundary (kCacheLine) and its size is
// rounded up to a multiple of 64, so the bytes an allocation sequence uses are
// the sum of its rounded sizes — a figure that can be computed at compile
// time (align_up below is constexpr) and that the tests compare, byte for
// byte, with high_water().
//
// Running out of space is a Status, never a crash: the message says how many
// bytes were asked for, how many were free, and how big the arena must be.
#pragma once

#include <cstddef>
#include <cstdint>

#include "tern/platform/compiler.h"
#include "tern/platform/status.h"
#include "tern/runtime/view.h"

namespace tern {

constexpr std::size_t align_up(std::size_t bytes, std::size_t alignment = kCacheLine) {
  return (bytes + alignment - 1) / alignment * alignment;
}

class Arena {
 public:
  struct Mark {
    std::size_t offset;
  };

  Arena() = default;
  Arena(const Arena&) = delete;
  Arena& operator=(const Arena&) = delete;

  // Takes `buffer` (not owned) of `bytes` bytes. The buffer must be aligned to
  // kCacheLine so that the compile-time size is exact; bytes is rounded down
  // to a multiple of kCacheLine. kMisaligned / kInvalidArgument otherwise, and
  // the arena is then left detached.
  Status attach(void* buffer, std::size_t bytes);

  // `bytes` bytes, 64-byte aligned, contents unspecified.
  Status allocate_bytes(std::size_t bytes, void** out);

  // `count` elements of T (trivially constructible types only: the memory is
  // not initialised).
  template <class T>
  Status allocate(std::size_t count, Span<T>* out) {
    if (count > SIZE_MAX / sizeof(T)) return too_many(count, sizeof(T));
    void* p = nullptr;
    TERN_RETURN_IF_ERROR(allocate_bytes(count * sizeof(T), &p));
    out->data = static_cast<T*>(p);
    out->size = count;
    return Status();
  }

  // A rows x cols matrix with stride == cols.
  template <class T>
  Status allocate(std::size_t rows, std::size_t cols, MatrixView<T>* out) {
    if (cols != 0 && rows > SIZE_MAX / cols) return too_many(rows, cols * sizeof(T));
    Span<T> s;
    TERN_RETURN_IF_ERROR(allocate(rows * cols, &s));
    *out = MatrixView<T>{s.data, rows, cols, cols};
    return Status();
  }

  Mark mark() const { return Mark{offset_}; }
  // Releases everything allocated since `m` (a mark of this arena, not older
  // than a previous rollback/reset). The high-water mark is kept.
  void rollback(Mark m);
  // Releases everything.
  void reset() { offset_ = 0; }

  std::size_t capacity() const { return capacity_; }
  std::size_t used() const { return offset_; }
  std::size_t free_bytes() const { return capacity_ - offset_; }
  // The most bytes ever in use at once since attach().
  std::size_t high_water() const { return high_water_; }
  bool attached() const { return base_ != nullptr; }

 private:
  Status too_many(std::size_t count, std::size_t elem_bytes) const;

  unsigned char* base_ = nullptr;
  std::size_t capacity_ = 0;
  std::size_t offset_ = 0;
  std::size_t high_water_ = 0;
};

}  // namespace tern
