// SPDX-License-Identifier: Apache-2.0
// tern/runtime/view.h — non-owning typed views into arena memory.
#pragma once

#include <cstddef>

namespace tern {

// A contiguous run of `size` elements.
template <class T>
struct Span {
  T* data = nullptr;
  std::size_t size = 0;

  T& operator[](std::size_t i) const { return data[i]; }
  T* begin() const { return data; }
  T* end() const { return data + size; }
  bool empty() const { return size == 0; }
};

// A row-major rows x cols matrix whose rows start `stride` elements apart.
template <class T>
struct MatrixView {
  T* data = nullptr;
  std::size_t rows = 0, cols = 0, stride = 0;

  T* row(std::size_t r) const { return data + r * stride; }
  T& operator()(std::size_t r, std::size_t c) const { return data[r * stride + c]; }
};

}  // namespace tern
