// SPDX-License-Identifier: Apache-2.0
#include <doctest/doctest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "alloc_counter.h"
#include "tern/kernels/dense.h"
#include "tern/runtime/arena.h"

using namespace tern;

namespace {
bool contains(const Status& s, const char* text) {
  return std::string(s.message()).find(text) != std::string::npos;
}
alignas(64) unsigned char g_buffer[4096];
}  // namespace

TEST_CASE("arena: 64-byte aligned allocations, exact rounded accounting") {
  Arena arena;
  REQUIRE(arena.attach(g_buffer, sizeof g_buffer).ok());
  CHECK(arena.capacity() == 4096);
  Span<float> a, b;
  REQUIRE(arena.allocate(3, &a).ok());   // 12 bytes -> 64
  REQUIRE(arena.allocate(17, &b).ok());  // 68 bytes -> 128
  CHECK(reinterpret_cast<std::uintptr_t>(a.data) % 64 == 0);
  CHECK(reinterpret_cast<std::uintptr_t>(b.data) % 64 == 0);
  CHECK(a.size == 3);
  CHECK(arena.used() == 64 + 128);
  CHECK(align_up(12) == 64);
  CHECK(align_up(128) == 128);
  MatrixView<float> m;
  REQUIRE(arena.allocate(5, 7, &m).ok());
  CHECK(m.rows == 5);
  CHECK(m.stride == 7);
  CHECK(arena.used() == 64 + 128 + 192);
  CHECK(arena.high_water() == arena.used());
}

TEST_CASE("arena: mark and rollback release scratch, high-water mark stays") {
  Arena arena;
  REQUIRE(arena.attach(g_buffer, sizeof g_buffer).ok());
  Span<float> keep, scratch;
  REQUIRE(arena.allocate(16, &keep).ok());
  const Arena::Mark m = arena.mark();
  REQUIRE(arena.allocate(500, &scratch).ok());
  CHECK(arena.used() == 64 + 2048);
  arena.rollback(m);
  CHECK(arena.used() == 64);
  CHECK(arena.high_water() == 64 + 2048);
  Span<float> again;
  REQUIRE(arena.allocate(500, &again).ok());
  CHECK(again.data == scratch.data);  // the same memory is reused
  arena.reset();
  CHECK(arena.used() == 0);
}

TEST_CASE("arena: out of space says requested, free and needed bytes") {
  Arena arena;
  REQUIRE(arena.attach(g_buffer, 1024).ok());
  Span<float> a, b;
  REQUIRE(arena.allocate(200, &a).ok());  // 800 -> 832 bytes
  const Status s = arena.allocate(100, &b);  // 400 -> 448 bytes, 192 free
  CHECK(s.code() == StatusCode::kOutOfMemory);
  CHECK(contains(s, "requested 400 bytes (448 aligned), 192 of 1024 bytes free"));
  CHECK(contains(s, "the arena needs at least 1280 bytes"));
  CHECK(arena.used() == 832);  // a failed request changes nothing
  // Exactly full is fine; one more byte is not.
  Span<unsigned char> rest;
  REQUIRE(arena.allocate(192, &rest).ok());
  CHECK(arena.free_bytes() == 0);
  CHECK(arena.allocate(1, &rest).code() == StatusCode::kOutOfMemory);
  // Sizes that overflow are refused, not wrapped.
  Span<double> huge;
  CHECK(arena.allocate(SIZE_MAX / 4, &huge).code() == StatusCode::kOutOfMemory);
}

TEST_CASE("arena: rejects null, misaligned and detached use") {
  Arena arena;
  Span<float> s;
  CHECK(arena.allocate(1, &s).code() == StatusCode::kFailedPrecondition);
  CHECK(arena.attach(nullptr, 64).code() == StatusCode::kInvalidArgument);
  const Status mis = arena.attach(g_buffer + 4, 128);
  CHECK(mis.code() == StatusCode::kMisaligned);
  CHECK(contains(mis, "alignas(64)"));
  CHECK_FALSE(arena.attached());
}

TEST_CASE("no heap allocation across arena use and kernel calls") {
  alignas(64) static unsigned char buffer[64 * 1024];
  // If this is the first kernel call of the process, the ISA is selected
  // inside the counted scope: detection (CPUID, getenv) must not allocate.
  const std::size_t n = 9, k = 33, m = 17;
  tern::test::HeapAllocationScope scope;
  Arena arena;
  REQUIRE(arena.attach(buffer, sizeof buffer).ok());
  MatrixView<float> x, w, y, g, dx;
  Span<float> b, scratch;
  REQUIRE(arena.allocate(n, k, &x).ok());
  REQUIRE(arena.allocate(k, m, &w).ok());
  REQUIRE(arena.allocate(n, m, &y).ok());
  REQUIRE(arena.allocate(k, m, &g).ok());
  REQUIRE(arena.allocate(n, k, &dx).ok());
  REQUIRE(arena.allocate(m, &b).ok());
  REQUIRE(arena.allocate(gemm_rows_scratch_floats(k) + rank1_accumulate_scratch_floats(n), &scratch).ok());
  for (std::size_t i = 0; i < n * k; ++i) x.data[i] = float(i % 7) * 0.25f;
  for (std::size_t i = 0; i < k * m; ++i) w.data[i] = float(i % 5) * 0.5f, g.data[i] = 0;
  for (std::size_t i = 0; i < m; ++i) b.data[i] = 1.0f;
  for (int step = 0; step < 3; ++step) {
    const Arena::Mark mark = arena.mark();
    Span<float> tmp;
    REQUIRE(arena.allocate(n * m, &tmp).ok());
    REQUIRE(gemm_rows_f32(n, k, m, x.data, k, w.data, m, b.data, y.data, m, Activation::kRelu,
                          scratch.data, scratch.size).ok());
    REQUIRE(rank1_accumulate_f32(n, k, m, 0.5f, x.data, k, y.data, m, g.data, m, scratch.data,
                                 scratch.size).ok());
    REQUIRE(backprop_rows_f32(n, k, m, y.data, m, w.data, m, dx.data, k).ok());
    REQUIRE(column_sums_accumulate_f32(n, m, 1.0f, y.data, m, b.data).ok());
    arena.rollback(mark);
  }
  // A failing call (out of arena space) does not allocate either.
  Span<float> too_big;
  CHECK_FALSE(arena.allocate(1u << 20, &too_big).ok());
  CHECK(scope.count() == 0);
  // The counter itself works: a std::vector does allocate.
  tern::test::HeapAllocationScope probe;
  std::vector<int> v(10);
  CHECK(probe.count() >= 1);
}
