// SPDX-License-Identifier: Apache-2.0
#include "data/idx.h"

#include <zlib.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>

#include <sys/stat.h>

namespace tern::data {
namespace {

// Bytes decompressed per read: large enough that zlib's per-call cost
// vanishes, small enough for the stack.
constexpr std::size_t kChunkBytes = 16384;

// A source of bytes: a file through zlib or a buffer in memory.
struct Stream {
  // Reads up to n bytes into out; *got < n only at the end of the data.
  Status (*read)(void* context, unsigned char* out, std::size_t n, std::size_t* got) = nullptr;
  void* context = nullptr;
  const char* name = "";
  // The whole size, when known (a buffer), for exact messages.
  bool size_known = false;
  std::uint64_t size = 0;
};

struct Memory {
  const unsigned char* data;
  std::size_t size;
  std::size_t at;
};

Status memory_read(void* context, unsigned char* out, std::size_t n, std::size_t* got) {
  auto* m = static_cast<Memory*>(context);
  const std::size_t take = m->size - m->at < n ? m->size - m->at : n;
  if (take != 0) std::memcpy(out, m->data + m->at, take);
  m->at += take;
  *got = take;
  return Status();
}

// The file a message names: the last kPathTailChars characters of its path
// (the file name and the directories nearest to it). A Status holds 159
// characters; the longest cause written after a name is about 85, so a
// name cut from the front leaves the cause whole, where a name cut from the
// end ("%.100s") under a deep directory cut the cause off instead.
constexpr std::size_t kPathTailChars = 64;
const char* path_tail(const char* path) {
  const std::size_t n = std::strlen(path);
  return n > kPathTailChars ? path + (n - kPathTailChars) : path;
}

struct Gzip {
  gzFile file;
  const char* name;
};

Status gzip_read(void* context, unsigned char* out, std::size_t n, std::size_t* got) {
  auto* g = static_cast<Gzip*>(context);
  *got = 0;
  while (*got < n) {
    // n is at most kChunkBytes, far below gzread's unsigned / int limits.
    const int r = gzread(g->file, out + *got, static_cast<unsigned>(n - *got));
    // gzread returns 0, not -1, for a stream cut short (Z_BUF_ERROR,
    // "unexpected end of file"), so the end is checked with gzerror too.
    int code = Z_OK;
    const char* why = r <= 0 ? gzerror(g->file, &code) : "";
    if (r < 0 || code != Z_OK) {
      if (code == Z_ERRNO) {
        return Status::error(StatusCode::kIoError, "%s: reading failed: %s", g->name,
                             std::strerror(errno));
      }
      return Status::error(StatusCode::kCorruptData, "%s: gzip: %s", g->name, why);
    }
    if (r == 0) break;
    *got += static_cast<std::size_t>(r);
  }
  return Status();
}

std::uint32_t big_endian_u32(const unsigned char* p) {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) |
         std::uint32_t{p[3]};
}

// Reads and checks the magic and dimensions; *bytes is the data size they
// describe (at most kMaxIdxDataBytes).
Status read_header(Stream& in, unsigned dims, std::uint32_t* shape, std::uint64_t* bytes) {
  const char* name = in.name;
  unsigned char b[4 + 4 * 3];
  std::size_t got = 0;
  TERN_RETURN_IF_ERROR(in.read(in.context, b, 4, &got));
  if (got < 4) {
    return Status::error(StatusCode::kCorruptData, "%s: %zu bytes, too short for IDX", name,
                         got);
  }
  if (b[0] != 0 || b[1] != 0 || b[2] != 0x08 || b[3] != dims) {
    return Status::error(StatusCode::kCorruptData,
                         "%s: bad IDX magic %02x %02x %02x %02x (expected 00 00 08 %02x: "
                         "unsigned bytes, %u dimensions)",
                         name, b[0], b[1], b[2], b[3], dims, dims);
  }
  TERN_RETURN_IF_ERROR(in.read(in.context, b + 4, 4 * std::size_t{dims}, &got));
  if (got < 4 * std::size_t{dims}) {
    return Status::error(StatusCode::kCorruptData, "%s: truncated header", name);
  }
  // Each dimension at most 2^28, so the product of three fits a double
  // exactly enough to print and 2^84 never wraps in it; the limit check
  // is done in 64 bits, saturating, so a wrapped product cannot match.
  std::uint64_t n = 1;
  double product = 1;
  for (unsigned d = 0; d < dims; ++d) {
    shape[d] = big_endian_u32(b + 4 + 4 * d);
    if (shape[d] == 0 || shape[d] > (1u << 28)) {
      return Status::error(StatusCode::kCorruptData, "%s: dimension %u is %u", name, d,
                           shape[d]);
    }
    n = n > kMaxIdxDataBytes / shape[d] ? kMaxIdxDataBytes + 1 : n * shape[d];
    product *= shape[d];
  }
  if (n > kMaxIdxDataBytes) {
    return Status::error(StatusCode::kCorruptData,
                         "%s: the header describes %.4g bytes of data, more than the "
                         "reader's limit of %llu (2^28)",
                         name, product, static_cast<unsigned long long>(kMaxIdxDataBytes));
  }
  *bytes = n;
  return Status();
}

// Reads exactly `n` data bytes through consume(index of the first byte,
// bytes, count) and checks that nothing follows them.
template <class Consume>
Status read_data(Stream& in, std::uint64_t n, std::size_t header, Consume&& consume) {
  unsigned char chunk[kChunkBytes];
  std::uint64_t done = 0;
  while (done < n) {
    const std::size_t want =
        n - done < kChunkBytes ? static_cast<std::size_t>(n - done) : kChunkBytes;
    std::size_t got = 0;
    TERN_RETURN_IF_ERROR(in.read(in.context, chunk, want, &got));
    TERN_RETURN_IF_ERROR(consume(done, chunk, got));
    done += got;
    if (got < want) {
      return Status::error(StatusCode::kCorruptData,
                           "%s: the header describes %llu bytes of data, the file has %llu",
                           in.name, static_cast<unsigned long long>(n),
                           static_cast<unsigned long long>(done));
    }
  }
  // One byte more is enough to refuse the file: whatever follows (a
  // gigabyte of zeros in a small gzip file) is never decompressed.
  std::size_t got = 0;
  TERN_RETURN_IF_ERROR(in.read(in.context, chunk, 1, &got));
  if (got != 0) {
    if (in.size_known) {
      return Status::error(StatusCode::kCorruptData,
                           "%s: the header describes %llu bytes of data, the file has %llu",
                           in.name, static_cast<unsigned long long>(n),
                           static_cast<unsigned long long>(in.size - header));
    }
    return Status::error(StatusCode::kCorruptData,
                         "%s: the header describes %llu bytes of data, the file has more "
                         "(trailing bytes)",
                         in.name, static_cast<unsigned long long>(n));
  }
  return Status();
}

// Makes room for `more` elements in `v`, which will hold `total` in the
// end: capacity doubles as data arrives, so a header that promises more
// than the file holds costs memory for what the file holds, not more.
template <class T>
void grow(std::vector<T>* v, std::size_t more, std::uint64_t total) {
  const std::size_t need = v->size() + more;
  if (need <= v->capacity()) return;
  std::uint64_t cap = 2 * std::uint64_t{v->capacity()};
  if (cap < need) cap = need;
  if (cap > total) cap = total;
  v->reserve(static_cast<std::size_t>(cap));
}

Status images_from(Stream& in, std::vector<float>* pixels, std::size_t* count, std::size_t* width) {
  std::uint32_t shape[3];
  std::uint64_t n = 0;
  TERN_RETURN_IF_ERROR(read_header(in, 3, shape, &n));
  std::vector<float> out;
  TERN_RETURN_IF_ERROR(read_data(in, n, 16, [&](std::uint64_t, const unsigned char* b,
                                                std::size_t got) {
    grow(&out, got, n);
    for (std::size_t i = 0; i < got; ++i) out.push_back(static_cast<float>(b[i]) / 255.0f);
    return Status();
  }));
  pixels->swap(out);
  *count = shape[0];
  *width = std::size_t{shape[1]} * shape[2];
  return Status();
}

Status labels_from(Stream& in, std::uint32_t classes, std::vector<std::uint32_t>* labels) {
  std::uint32_t shape[1];
  std::uint64_t n = 0;
  TERN_RETURN_IF_ERROR(read_header(in, 1, shape, &n));
  std::vector<std::uint32_t> out;
  TERN_RETURN_IF_ERROR(read_data(in, n, 8, [&](std::uint64_t first, const unsigned char* b,
                                               std::size_t got) {
    grow(&out, got, n);
    for (std::size_t i = 0; i < got; ++i) {
      if (b[i] >= classes) {
        return Status::error(StatusCode::kCorruptData, "%s: label %llu is %u, not below %u",
                             in.name, static_cast<unsigned long long>(first + i),
                             static_cast<unsigned>(b[i]), static_cast<unsigned>(classes));
      }
      out.push_back(b[i]);
    }
    return Status();
  }));
  labels->swap(out);
  return Status();
}

Stream memory_stream(Memory* m, const char* name) {
  Stream s;
  s.read = &memory_read;
  s.context = m;
  s.name = path_tail(name);
  s.size_known = true;
  s.size = m->size;
  return s;
}

// Opens `path` through zlib (gzip'ed or plain) and runs `body` on it.
template <class Body>
Status with_gzip(const char* path, Body&& body) {
  errno = 0;
  gzFile f = gzopen(path, "rb");
  if (f == nullptr) {
    return Status::error(StatusCode::kIoError, "cannot open %.120s: %s", path,
                         errno != 0 ? std::strerror(errno) : "out of memory");
  }
  Gzip g{f, path_tail(path)};
  Stream s;
  s.read = &gzip_read;
  s.context = &g;
  s.name = path_tail(path);
  const Status result = body(s);
  gzclose(f);
  return result;
}

}  // namespace

Status read_idx_images(const char* path, std::vector<float>* pixels, std::size_t* count,
                       std::size_t* width) {
  return with_gzip(path, [&](Stream& s) { return images_from(s, pixels, count, width); });
}

Status read_idx_labels(const char* path, std::uint32_t classes, std::vector<std::uint32_t>* labels) {
  return with_gzip(path, [&](Stream& s) { return labels_from(s, classes, labels); });
}

Status parse_idx_images(const std::vector<unsigned char>& bytes, const char* name,
                        std::vector<float>* pixels, std::size_t* count, std::size_t* width) {
  Memory m{bytes.data(), bytes.size(), 0};
  Stream s = memory_stream(&m, name);
  return images_from(s, pixels, count, width);
}

Status parse_idx_labels(const std::vector<unsigned char>& bytes, const char* name,
                        std::uint32_t classes, std::vector<std::uint32_t>* labels) {
  Memory m{bytes.data(), bytes.size(), 0};
  Stream s = memory_stream(&m, name);
  return labels_from(s, classes, labels);
}

Status load_idx_pair(const char* dir, const char* prefix, std::uint32_t classes, Dataset* out) {
  const std::string images = std::string(dir) + "/" + prefix + "-images-idx3-ubyte.gz";
  const std::string labels = std::string(dir) + "/" + prefix + "-labels-idx1-ubyte.gz";
  TERN_RETURN_IF_ERROR(read_idx_images(images.c_str(), &out->x, &out->count, &out->width));
  TERN_RETURN_IF_ERROR(read_idx_labels(labels.c_str(), classes, &out->y));
  if (out->y.size() != out->count) {
    return Status::error(StatusCode::kShapeMismatch, "%.100s has %zu images but %zu labels",
                         prefix, out->count, out->y.size());
  }
  return Status();
}

Standardisation standardise(Dataset& train, Dataset& test) {
  double sum = 0, sq = 0;
  for (float v : train.x) {
    sum += v;
    sq += double(v) * v;
  }
  Standardisation how;
  const double n = double(train.x.size());
  if (n == 0) {
    how.constant = true;
  } else {
    how.mean = sum / n;
    // The one-pass variance E[x^2] - E[x]^2 (kept: it gives the bits every
    // published run was made with) loses about 1e-16 of E[x^2] to rounding
    // and can even come out negative; a variance below 1e-10 of E[x^2] is
    // that noise, not a spread of the pixels.
    constexpr double kNoise = 1e-10;
    const double var = sq / n - how.mean * how.mean;
    if (var > kNoise * (sq / n)) {
      how.deviation = std::sqrt(var);
    } else {
      how.constant = true;
    }
  }
  const float m = float(how.mean), inv = float(1.0 / how.deviation);
  for (float& v : train.x) v = (v - m) * inv;
  for (float& v : test.x) v = (v - m) * inv;
  return how;
}

Status find_fashion_mnist(const char* dir) {
  static const char* const kFiles[] = {"train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
                                       "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"};
  for (const char* file : kFiles) {
    const std::string path = std::string(dir) + "/" + file;
    struct stat st;
    if (::stat(path.c_str(), &st) != 0) {
      return Status::error(StatusCode::kIoError, "%.120s: %s", path.c_str(), std::strerror(errno));
    }
  }
  return Status();
}

Status load_fashion_mnist(const char* dir, std::size_t width, Dataset* train, Dataset* test,
                          Standardisation* how) {
  TERN_RETURN_IF_ERROR(load_idx_pair(dir, "train", 10, train));
  TERN_RETURN_IF_ERROR(load_idx_pair(dir, "t10k", 10, test));
  if (train->width != width || test->width != width) {
    return Status::error(StatusCode::kShapeMismatch,
                         "images have %zu (train) and %zu (test) pixels; the model takes %zu",
                         train->width, test->width, width);
  }
  const Standardisation applied = standardise(*train, *test);
  if (how != nullptr) *how = applied;
  return Status();
}

bool load_fashion_mnist_reporting(const char* program, const char* dir, std::size_t width,
                                  Dataset* train, Dataset* test) {
  Status s = find_fashion_mnist(dir);
  if (!s.ok()) {
    std::fprintf(stderr,
                 "%s: Fashion-MNIST not found in %s: %s (apt-get install dataset-fashion-mnist, "
                 "or --data DIR)\n",
                 program, dir, s.message());
    return false;
  }
  Standardisation standardised;
  s = load_fashion_mnist(dir, width, train, test, &standardised);
  if (!s.ok()) {
    std::fprintf(stderr, "%s: loading data: %s (%s)\n", program, s.message(),
                 status_code_name(s.code()));
    return false;
  }
  if (standardised.constant) {
    std::printf("note: the training pixels are constant (mean %g); they are centred, not "
                "scaled\n",
                standardised.mean);
  }
  return true;
}

}  // namespace tern::data
