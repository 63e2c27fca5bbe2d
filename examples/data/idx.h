// IDX files (the MNIST / Fashion-MNIST container), optionally gzip'ed, read
// into memory for the host-side examples.
//
// An IDX file is a 4-byte magic — two zero bytes, a type code (0x08:
// unsigned bytes) and the number of dimensions — then each dimension as a
// big-endian u32, then the data in row-major order. Images are 3-D (count x
// rows x cols), labels 1-D. zlib's gzread reads both compressed and plain
// files. This is set-up code for a workstation (it uses std::vector); the
// data set is then handed to the model by pointer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "tern/platform/status.h"

namespace tern::data {

struct Dataset {
  std::vector<float> x;          // count x width, row-major, pixel / 255
  std::vector<std::uint32_t> y;  // count labels
  std::size_t count = 0;
  std::size_t width = 0;
};

// The whole (decompressed) content of a file.
Status read_gzip_file(const char* path, std::vector<unsigned char>* out);

// Parses an IDX image file (type u8, 3 dimensions) into floats in [0, 1].
Status parse_idx_images(const std::vector<unsigned char>& bytes, const char* name,
                        std::vector<float>* pixels, std::size_t* count, std::size_t* width);
// Parses an IDX label file (type u8, 1 dimension); every label < classes.
Status parse_idx_labels(const std::vector<unsigned char>& bytes, const char* name,
                        std::uint32_t classes, std::vector<std::uint32_t>* labels);

// Reads <prefix>-images-idx3-ubyte.gz and <prefix>-labels-idx1-ubyte.gz from
// `dir` and checks that they hold the same number of samples.
Status load_idx_pair(const char* dir, const char* prefix, std::uint32_t classes, Dataset* out);

// Standardises every pixel of both sets with the training set's mean and
// standard deviation (computed in double, applied in float).
void standardise(Dataset& train, Dataset& test);

// Fashion-MNIST (or MNIST) from `dir`: train-* and t10k-* with 10 classes,
// kShapeMismatch unless both have `width` pixels per image, then
// standardise()d. What tern-train-fashion and tern-edit-fashion both feed
// their model.
Status load_fashion_mnist(const char* dir, std::size_t width, Dataset* train, Dataset* test);

}  // namespace tern::data
