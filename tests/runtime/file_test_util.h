// SPDX-License-Identifier: Apache-2.0
// Helpers of the tests that write real files (runtime/test_model_file.cpp,
// test_c_header_export.cpp, test_byte_io.cpp): a fresh directory, its
// names, a file's bytes, and a full disk that works as root.
#pragma once

#include "tern/platform/compiler.h"

#if TERN_HAS_OS
#include <dirent.h>
#include <stdlib.h>
#include <sys/resource.h>

#include <csignal>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "test_util.h"

namespace tern::test {

// A fresh directory of this process (mkdtemp), and the names in it.
inline std::string temp_dir(const char* base) {
  std::string name = temp_name(base) + "-XXXXXX";
  REQUIRE(::mkdtemp(&name[0]) != nullptr);
  return name;
}
inline std::vector<std::string> names_in(const std::string& dir) {
  std::vector<std::string> names;
  DIR* d = ::opendir(dir.c_str());
  REQUIRE(d != nullptr);
  while (const dirent* e = ::readdir(d)) {
    const std::string n = e->d_name;
    if (n != "." && n != "..") names.push_back(n);
  }
  ::closedir(d);
  return names;
}
inline std::vector<unsigned char> slurp_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<unsigned char>(std::istreambuf_iterator<char>(in), {});
}
// Writes to regular files fail past `bytes` (EFBIG, as on a full disk)
// while it lives; SIGXFSZ, which would kill the process, is ignored. Works
// as root, unlike a read-only directory.
struct FileSizeLimit {
  rlimit old{};
  void (*old_handler)(int) = nullptr;
  explicit FileSizeLimit(rlim_t bytes) {
    REQUIRE(::getrlimit(RLIMIT_FSIZE, &old) == 0);
    old_handler = std::signal(SIGXFSZ, SIG_IGN);
    rlimit lim = old;
    lim.rlim_cur = bytes;
    REQUIRE(::setrlimit(RLIMIT_FSIZE, &lim) == 0);
  }
  ~FileSizeLimit() {
    ::setrlimit(RLIMIT_FSIZE, &old);
    std::signal(SIGXFSZ, old_handler);
  }
};

}  // namespace tern::test
#endif
