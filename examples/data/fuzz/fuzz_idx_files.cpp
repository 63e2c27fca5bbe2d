// SPDX-License-Identifier: Apache-2.0
// libFuzzer target: arbitrary bytes as the two files of an IDX pair, read
// from disk by load_idx_pair through zlib (examples/data/idx.h): the gzip
// path (gzip'ed or plain, multi-member, cut, corrupt), the streaming
// header-first parsers with their size bound and trailing-byte check, and
// the image / label count comparison. The first two input bytes
// (little-endian) give the length of the image file, the rest after it is
// the label file. The files go to a directory of their own under
// $TMPDIR (default /dev/shm, else /tmp), created once per process. Any input must give a
// Status; an accepted pair must be consistent.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include <sys/stat.h>
#include <unistd.h>

#include "data/idx.h"

namespace {

void require(bool ok) {
  if (!ok) std::abort();
}

const std::string& directory() {
  static const std::string dir = [] {
    // $TMPDIR, else /dev/shm (memory: about 15 times the executions per
    // second of a disk-backed /tmp here), else /tmp.
    const char* tmp = std::getenv("TMPDIR");
    struct stat st;
    const char* base = tmp != nullptr && *tmp != '\0'                             ? tmp
                       : ::stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode) ? "/dev/shm"
                                                                             : "/tmp";
    std::string d = std::string(base) + "/tern-fuzz-idx-files-XXXXXX";
    require(mkdtemp(&d[0]) != nullptr);
    return d;
  }();
  return dir;
}

void write(const std::string& path, const std::uint8_t* data, std::size_t size) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  require(f != nullptr);
  require(std::fwrite(data, 1, size, f) == size);
  require(std::fclose(f) == 0);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  std::size_t split = std::size_t{data[0]} | std::size_t{data[1]} << 8;
  if (split > size - 2) split = size - 2;
  const std::string& dir = directory();
  write(dir + "/fz-images-idx3-ubyte.gz", data + 2, split);
  write(dir + "/fz-labels-idx1-ubyte.gz", data + 2 + split, size - 2 - split);
  tern::data::Dataset d;
  if (tern::data::load_idx_pair(dir.c_str(), "fz", 10, &d).ok()) {
    require(d.count >= 1 && d.width >= 1);
    require(d.x.size() == d.count * d.width && d.y.size() == d.count);
    for (float p : d.x) require(p >= 0.0f && p <= 1.0f);
    for (std::uint32_t l : d.y) require(l < 10);
  }
  return 0;
}
