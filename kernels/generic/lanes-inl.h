// SPDX-License-Identifier: Apache-2.0
// kernels/generic/lanes-inl.h — one vector of a row, whole or its tail:
// kFull says all Simd::V::size lanes are in the row (plain unaligned load
// and store), otherwise only `lanes` of them are (masked partial load that
// reads zeros past them, partial store that leaves them untouched). Shared by
// the element-wise kernels (elementwise-inl.h) and the streamed rank-1
// kernels (gemm-inl.h).
//
// No include guard: included inside an ISA namespace after `Simd`, once per
// translation unit.

template <bool kFull>
TERN_INLINE Simd::V load_n(const float* p, std::size_t lanes) {
  if constexpr (kFull) {
    return Simd::V::load_unaligned(p);
  } else {
    return Simd::load_partial(p, lanes);
  }
}

template <bool kFull>
TERN_INLINE void store_n(float* p, Simd::V v, std::size_t lanes) {
  if constexpr (kFull) {
    v.store_unaligned(p);
  } else {
    Simd::store_partial(p, v, lanes);
  }
}
