// SPDX-License-Identifier: Apache-2.0
// IDX files (the MNIST / Fashion-MNIST container), optionally gzip'ed, read
// into memory for the host-side examples.
//
// An IDX file is a 4-byte magic — two zero bytes, a type code (0x08:
// unsigned bytes) and the number of dimensions — then each dimension as a
// big-endian u32, then the data in row-major order. Images are 3-D (count x
// rows x cols), labels 1-D. zlib's gzread reads both compressed and plain
// files. This is set-up code for a workstation (it uses std::vector); the
// data set is then handed to the model by pointer.
//
// Files are streamed: the header is read and checked first, and then
// exactly the bytes it describes (count x rows x cols, at most
// kMaxIdxDataBytes) are decompressed, growing the output as they arrive;
// one more byte is an error ("trailing bytes"). A small gzip file that
// expands to gigabytes therefore costs no more memory or time than the
// header allows, and a header that promises more than the file holds costs
// no more than the file.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "tern/platform/status.h"

namespace tern::data {

// The most data bytes an IDX file may describe: 2^28 (256 MiB), over five
// times Fashion-MNIST's 47 MB of training pixels; held as floats that is
// 1 GiB. A header that describes more is refused before anything is read.
constexpr std::uint64_t kMaxIdxDataBytes = std::uint64_t{1} << 28;

struct Dataset {
  std::vector<float> x;          // count x width, row-major, pixel / 255
  std::vector<std::uint32_t> y;  // count labels
  std::size_t count = 0;
  std::size_t width = 0;
};

// Reads an IDX image file (type u8, 3 dimensions; gzip'ed or plain) into
// floats in [0, 1]. kIoError when the file cannot be opened or read,
// kCorruptData for a bad header, a gzip error, or data shorter or longer
// than the header describes.
Status read_idx_images(const char* path, std::vector<float>* pixels, std::size_t* count,
                       std::size_t* width);
// Reads an IDX label file (type u8, 1 dimension); every label < classes.
Status read_idx_labels(const char* path, std::uint32_t classes, std::vector<std::uint32_t>* labels);

// The same checks on a file already in memory (`name` names it in messages).
Status parse_idx_images(const std::vector<unsigned char>& bytes, const char* name,
                        std::vector<float>* pixels, std::size_t* count, std::size_t* width);
Status parse_idx_labels(const std::vector<unsigned char>& bytes, const char* name,
                        std::uint32_t classes, std::vector<std::uint32_t>* labels);

// Reads <prefix>-images-idx3-ubyte.gz and <prefix>-labels-idx1-ubyte.gz from
// `dir` and checks that they hold the same number of samples.
Status load_idx_pair(const char* dir, const char* prefix, std::uint32_t classes, Dataset* out);

// What standardise() applied.
struct Standardisation {
  double mean = 0;
  double deviation = 1;
  // The training pixels are (numerically) constant: their variance is 0
  // or below the rounding noise of its one-pass computation, so dividing by
  // it would give Inf / NaN or amplify noise. The deviation is then taken
  // as 1: the pixels are only centred (all 0 for constant images).
  bool constant = false;
};

// Standardises every pixel of both sets with the training set's mean and
// standard deviation (computed in double, applied in float; see
// Standardisation for constant pixels).
Standardisation standardise(Dataset& train, Dataset& test);

// The four files of Fashion-MNIST (or MNIST) in `dir`, checked for
// presence only: kIoError naming the first that cannot be found (so that a
// caller can say "not found" only when files are missing, not when one is
// corrupt).
Status find_fashion_mnist(const char* dir);

// Fashion-MNIST (or MNIST) from `dir`: train-* and t10k-* with 10 classes,
// kShapeMismatch unless both have `width` pixels per image, then
// standardise()d (what was applied goes to *how, if not null). What
// tern-train-fashion and tern-edit-fashion both feed their model.
Status load_fashion_mnist(const char* dir, std::size_t width, Dataset* train, Dataset* test,
                          Standardisation* how = nullptr);

// find_fashion_mnist + load_fashion_mnist as the example programs report
// them, each line starting with `program`: "Fashion-MNIST not found in DIR"
// with the apt-get hint only when a file is missing, "loading data: ..." for
// any other error (false after either, on stderr), and a note on stdout
// when the training pixels are constant.
bool load_fashion_mnist_reporting(const char* program, const char* dir, std::size_t width,
                                  Dataset* train, Dataset* test);

}  // namespace tern::data
