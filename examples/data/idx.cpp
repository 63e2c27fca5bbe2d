#include "data/idx.h"

#include <zlib.h>

#include <cmath>
#include <cstdio>
#include <string>

namespace tern::data {

Status read_gzip_file(const char* path, std::vector<unsigned char>* out) {
  gzFile f = gzopen(path, "rb");
  if (f == nullptr) return Status::error(StatusCode::kIoError, "cannot open %.120s", path);
  out->clear();
  unsigned char chunk[1 << 16];
  while (true) {
    const int got = gzread(f, chunk, sizeof chunk);
    if (got < 0) {
      int code = 0;
      const char* why = gzerror(f, &code);
      Status s = Status::error(StatusCode::kIoError, "reading %.100s: %s", path, why);
      gzclose(f);
      return s;
    }
    if (got == 0) break;
    out->insert(out->end(), chunk, chunk + got);
  }
  gzclose(f);
  return Status();
}

namespace {

std::uint32_t big_endian_u32(const unsigned char* p) {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) |
         std::uint32_t{p[3]};
}

// Checks the magic and dimensions; returns the data offset and element count.
Status parse_header(const std::vector<unsigned char>& b, const char* name, unsigned dims,
                    std::uint32_t* shape, std::size_t* offset, std::size_t* elements) {
  const std::size_t header = 4 + 4 * std::size_t{dims};
  if (b.size() < 4) {
    return Status::error(StatusCode::kCorruptData, "%.100s: %zu bytes, too short for IDX", name,
                         b.size());
  }
  if (b[0] != 0 || b[1] != 0 || b[2] != 0x08 || b[3] != dims) {
    return Status::error(StatusCode::kCorruptData,
                         "%.100s: bad IDX magic %02x %02x %02x %02x (expected 00 00 08 %02x: "
                         "unsigned bytes, %u dimensions)",
                         name, b[0], b[1], b[2], b[3], dims, dims);
  }
  if (b.size() < header) {
    return Status::error(StatusCode::kCorruptData, "%.100s: truncated header", name);
  }
  // The element count in 64 bits, saturated: three dimensions of up to 2^28
  // would overflow even that, and a wrapped product could match the file.
  constexpr std::uint64_t kMaxElements = std::uint64_t{1} << 40;
  std::uint64_t n = 1;
  for (unsigned d = 0; d < dims; ++d) {
    shape[d] = big_endian_u32(b.data() + 4 + 4 * d);
    if (shape[d] == 0 || shape[d] > (1u << 28)) {
      return Status::error(StatusCode::kCorruptData, "%.100s: dimension %u is %u", name, d,
                           shape[d]);
    }
    n = n > kMaxElements / shape[d] ? kMaxElements + 1 : n * shape[d];
  }
  if (n > kMaxElements) {
    return Status::error(StatusCode::kCorruptData,
                         "%.100s: the header describes more than 2^40 bytes of data, the file "
                         "has %zu",
                         name, b.size() - header);
  }
  if (b.size() - header != n) {
    return Status::error(StatusCode::kCorruptData,
                         "%.100s: the header describes %llu bytes of data, the file has %zu",
                         name, static_cast<unsigned long long>(n), b.size() - header);
  }
  *offset = header;
  *elements = static_cast<std::size_t>(n);
  return Status();
}

}  // namespace

Status parse_idx_images(const std::vector<unsigned char>& bytes, const char* name,
                        std::vector<float>* pixels, std::size_t* count, std::size_t* width) {
  std::uint32_t shape[3];
  std::size_t offset = 0, n = 0;
  TERN_RETURN_IF_ERROR(parse_header(bytes, name, 3, shape, &offset, &n));
  pixels->resize(n);
  for (std::size_t i = 0; i < n; ++i) (*pixels)[i] = static_cast<float>(bytes[offset + i]) / 255.0f;
  *count = shape[0];
  *width = std::size_t{shape[1]} * shape[2];
  return Status();
}

Status parse_idx_labels(const std::vector<unsigned char>& bytes, const char* name,
                        std::uint32_t classes, std::vector<std::uint32_t>* labels) {
  std::uint32_t shape[1];
  std::size_t offset = 0, n = 0;
  TERN_RETURN_IF_ERROR(parse_header(bytes, name, 1, shape, &offset, &n));
  labels->resize(n);
  for (std::size_t i = 0; i < n; ++i) {
    const std::uint32_t v = bytes[offset + i];
    if (v >= classes) {
      return Status::error(StatusCode::kCorruptData, "%.100s: label %zu is %u, not below %u",
                           name, i, v, classes);
    }
    (*labels)[i] = v;
  }
  return Status();
}

Status load_idx_pair(const char* dir, const char* prefix, std::uint32_t classes, Dataset* out) {
  const std::string images = std::string(dir) + "/" + prefix + "-images-idx3-ubyte.gz";
  const std::string labels = std::string(dir) + "/" + prefix + "-labels-idx1-ubyte.gz";
  std::vector<unsigned char> bytes;
  TERN_RETURN_IF_ERROR(read_gzip_file(images.c_str(), &bytes));
  TERN_RETURN_IF_ERROR(parse_idx_images(bytes, images.c_str(), &out->x, &out->count, &out->width));
  TERN_RETURN_IF_ERROR(read_gzip_file(labels.c_str(), &bytes));
  TERN_RETURN_IF_ERROR(parse_idx_labels(bytes, labels.c_str(), classes, &out->y));
  if (out->y.size() != out->count) {
    return Status::error(StatusCode::kShapeMismatch, "%.100s has %zu images but %zu labels",
                         prefix, out->count, out->y.size());
  }
  return Status();
}

void standardise(Dataset& train, Dataset& test) {
  double sum = 0, sq = 0;
  for (float v : train.x) {
    sum += v;
    sq += double(v) * v;
  }
  const double n = double(train.x.size());
  const double mean = sum / n;
  const double sd = std::sqrt(sq / n - mean * mean);
  const float m = float(mean), inv = float(1.0 / sd);
  for (float& v : train.x) v = (v - m) * inv;
  for (float& v : test.x) v = (v - m) * inv;
}

Status load_fashion_mnist(const char* dir, std::size_t width, Dataset* train, Dataset* test) {
  TERN_RETURN_IF_ERROR(load_idx_pair(dir, "train", 10, train));
  TERN_RETURN_IF_ERROR(load_idx_pair(dir, "t10k", 10, test));
  if (train->width != width || test->width != width) {
    return Status::error(StatusCode::kShapeMismatch,
                         "images have %zu (train) and %zu (test) pixels; the model takes %zu",
                         train->width, test->width, width);
  }
  standardise(*train, *test);
  return Status();
}

}  // namespace tern::data
