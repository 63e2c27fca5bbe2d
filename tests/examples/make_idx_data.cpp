// SPDX-License-Identifier: Apache-2.0
// Writes a small synthetic data set in Fashion-MNIST's layout — gzip'ed IDX
// files train-{images-idx3,labels-idx1}-ubyte.gz (1024 samples) and the
// same for t10k (256 samples), 28 x 28 bytes per image, 10 classes — into
// the directory given, so that the Fashion-MNIST examples run in ctest
// without the real data set.
//
// Each class has a seeded random prototype image; a sample is its class's
// prototype blended with uniform noise. Every eighth test label is shifted
// to the next class, so a trained model misclassifies some test samples.
//
// A second argument writes a broken variant for the examples' bad-input
// tests (tests/CMakeLists.txt):
//   constant    every pixel of every image is 128 (zero variance)
//   bad-label   training label 5 is 10, outside the 10 classes
//   trailing    the training images are followed by 1 MiB of zeros that
//               their header does not describe
#include <zlib.h>

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "tern/runtime/rng.h"

namespace {

constexpr std::uint32_t kSide = 28, kPixels = kSide * kSide, kClasses = 10;

void put_u32(std::vector<unsigned char>& out, std::uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<unsigned char>(v >> shift));
}

bool write_gz(const std::string& path, const std::vector<unsigned char>& bytes) {
  gzFile f = gzopen(path.c_str(), "wb");
  if (f == nullptr) return false;
  const int wrote = gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size()));
  const int closed = gzclose(f);
  return wrote == static_cast<int>(bytes.size()) && closed == Z_OK;
}

enum class Variant { kGood, kConstant, kBadLabel, kTrailing };

bool write_set(const std::string& dir, const char* prefix, std::uint32_t count,
               const std::vector<float>& prototypes, tern::Rng& rng, bool shift_labels,
               Variant variant) {
  std::vector<unsigned char> images, labels;
  images.push_back(0), images.push_back(0), images.push_back(0x08), images.push_back(3);
  put_u32(images, count);
  put_u32(images, kSide);
  put_u32(images, kSide);
  labels.push_back(0), labels.push_back(0), labels.push_back(0x08), labels.push_back(1);
  put_u32(labels, count);
  for (std::uint32_t s = 0; s < count; ++s) {
    const std::uint32_t c = rng.below(kClasses);
    for (std::uint32_t p = 0; p < kPixels; ++p) {
      const float v = 0.6f * prototypes[c * kPixels + p] + 0.4f * rng.uniform();
      images.push_back(variant == Variant::kConstant ? 128 : static_cast<unsigned char>(v * 255.0f));
    }
    const bool shift = shift_labels && s % 8 == 7;
    labels.push_back(static_cast<unsigned char>(shift ? (c + 1) % kClasses : c));
  }
  const bool train = !shift_labels;
  if (train && variant == Variant::kBadLabel) labels[8 + 5] = kClasses;  // 8: the header
  if (train && variant == Variant::kTrailing) images.resize(images.size() + (1u << 20), 0);
  const std::string base = dir + "/" + prefix;
  return write_gz(base + "-images-idx3-ubyte.gz", images) &&
         write_gz(base + "-labels-idx1-ubyte.gz", labels);
}

}  // namespace

int main(int argc, char** argv) {
  Variant variant = Variant::kGood;
  if (argc == 3) {
    const std::string v = argv[2];
    if (v == "constant") {
      variant = Variant::kConstant;
    } else if (v == "bad-label") {
      variant = Variant::kBadLabel;
    } else if (v == "trailing") {
      variant = Variant::kTrailing;
    } else {
      argc = 0;  // usage
    }
  }
  if (argc != 2 && argc != 3) {
    std::fprintf(stderr, "usage: %s DIR [constant|bad-label|trailing]\n", argv[0]);
    return 2;
  }
  tern::Rng rng(7);
  std::vector<float> prototypes(kClasses * kPixels);
  for (float& v : prototypes) v = rng.uniform();
  if (!write_set(argv[1], "train", 1024, prototypes, rng, false, variant) ||
      !write_set(argv[1], "t10k", 256, prototypes, rng, true, variant)) {
    std::fprintf(stderr, "%s: cannot write the data set into %s\n", argv[0], argv[1]);
    return 1;
  }
  return 0;
}
