// SPDX-License-Identifier: Apache-2.0
// libFuzzer target: arbitrary bytes as IDX image and label files (the
// parsers of examples/data/idx.h). Any input must give a Status, never a
// read outside the buffer; an accepted file's sizes must agree with its
// length.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "data/idx.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::vector<unsigned char> bytes(data, data + size);
  std::vector<float> pixels;
  std::size_t count = 0, width = 0;
  if (tern::data::parse_idx_images(bytes, "fuzz", &pixels, &count, &width).ok()) {
    if (pixels.size() != count * width || size != 16 + pixels.size()) std::abort();
    for (float p : pixels) {
      if (!(p >= 0.0f && p <= 1.0f)) std::abort();
    }
  }
  std::vector<std::uint32_t> labels;
  if (tern::data::parse_idx_labels(bytes, "fuzz", 10, &labels).ok()) {
    if (size != 8 + labels.size()) std::abort();
    for (std::uint32_t l : labels) {
      if (l >= 10) std::abort();
    }
  }
  return 0;
}
