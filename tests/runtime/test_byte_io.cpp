// SPDX-License-Identifier: Apache-2.0
// Sinks, sources and file storage (runtime/src/byte_io.cpp): what they
// write, what they read back, and how they fail.
#include <doctest/doctest.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "file_test_util.h"
#include "runtime_test_util.h"
#include "tern/runtime/byte_io.h"

#if TERN_HAS_OS
#include <sys/stat.h>
#include <unistd.h>
#endif

using namespace tern;
using tern::test::contains;

namespace {

Status write(const ByteSink& sink, const std::string& text) {
  return sink.write(sink.context, text.data(), text.size());
}

// The whole file as bytes, read by the C++ library (not by tern).
std::vector<unsigned char> slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<unsigned char>(std::istreambuf_iterator<char>(in), {});
}

}  // namespace

TEST_CASE("byte_io: a memory sink appends until full, then refuses with the numbers") {
  char buffer[10] = {};
  MemorySink sink(buffer, 8);
  CHECK(sink.size() == 0);
  REQUIRE(write(sink.sink(), "abc").ok());
  REQUIRE(write(sink.sink(), "").ok());
  REQUIRE(write(sink.sink(), "defgh").ok());
  CHECK(sink.size() == 8);
  CHECK(std::string(buffer, 8) == "abcdefgh");
  const Status s = write(sink.sink(), "i");
  CHECK(s.code() == StatusCode::kOutOfMemory);
  CHECK(std::string(s.message()) == "memory sink: writing 1 bytes at 8 overflows its 8 bytes");
  CHECK(buffer[8] == 0);  // nothing written past the capacity
  CHECK(sink.size() == 8);

  MemorySink partly(buffer, 4);
  REQUIRE(write(partly.sink(), "xy").ok());
  // A write that does not fit whole writes nothing.
  CHECK(write(partly.sink(), "zzz").code() == StatusCode::kOutOfMemory);
  CHECK(partly.size() == 2);
}

TEST_CASE("byte_io: a memory source reads any range of its bytes") {
  const unsigned char data[] = {10, 11, 12, 13, 14, 15};
  const ByteSource src = memory_source(data, sizeof data);
  CHECK(src.size == 6);
  unsigned char out[6] = {};
  REQUIRE(src.read(src.context, 2, out, 3).ok());
  CHECK(out[0] == 12);
  CHECK(out[2] == 14);
  REQUIRE(src.read(src.context, 0, out, 6).ok());
  CHECK(std::memcmp(out, data, 6) == 0);
  REQUIRE(src.read(src.context, 6, out, 0).ok());
}

#if TERN_HAS_OS
TEST_CASE("byte_io: file storage creates, zero-extends, reads and writes at offsets, syncs") {
  const std::string path = tern::test::temp_name("storage.bin");
  std::remove(path.c_str());
  {
    FileStorage fs;
    CHECK(fs.storage().size == 0);  // not open: no room
    REQUIRE(fs.open(path.c_str(), 100).ok());
    const Storage st = fs.storage();
    CHECK(st.size == 100);
    REQUIRE(st.write(st.context, 90, "0123456789", 10).ok());
    REQUIRE(st.write(st.context, 3, "abc", 3).ok());
    const bool has_sync = st.sync != nullptr;
    REQUIRE(has_sync);
    REQUIRE(st.sync(st.context).ok());
    char back[4] = {};
    REQUIRE(st.read(st.context, 3, back, 3).ok());
    CHECK(std::string(back) == "abc");
    char ten[10];
    CHECK(st.read(st.context, 95, ten, sizeof ten).code() == StatusCode::kIoError);  // past the end
  }
  std::vector<unsigned char> expected(100, 0);
  std::memcpy(expected.data() + 90, "0123456789", 10);
  std::memcpy(expected.data() + 3, "abc", 3);
  CHECK(slurp(path) == expected);

  // Reopening keeps the contents; a larger size extends with zeros, a
  // smaller one does not shrink the file.
  FileStorage fs;
  REQUIRE(fs.open(path.c_str(), 120).ok());
  CHECK(fs.storage().size == 120);
  expected.resize(120, 0);
  CHECK(slurp(path) == expected);
  REQUIRE(fs.open(path.c_str(), 10).ok());
  CHECK(fs.storage().size == 10);
  CHECK(slurp(path).size() == 120);
  fs.close();
  CHECK(fs.storage().size == 0);
  std::remove(path.c_str());

  const Status s = fs.open("/nonexistent/dir/storage.bin", 64);
  CHECK(s.code() == StatusCode::kIoError);
  CHECK(contains(s, "storage: cannot open /nonexistent/dir/storage.bin"));
  CHECK(fs.open(nullptr, 64).code() == StatusCode::kInvalidArgument);
}
#endif

#if TERN_HAS_OS
TEST_CASE("byte_io: file storage refuses what is not a regular file; closed, it says so") {
  const std::string dir = tern::test::temp_dir("storage");
  FileStorage fs;
  Status s = fs.open(dir.c_str(), 64);
  CHECK(s.code() == StatusCode::kInvalidArgument);
  CHECK(std::string(s.message()) == "storage: " + dir + " is a directory, not a regular file");
  // A FIFO: the open must neither block nor take it.
  const std::string fifo = dir + "/fifo";
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  s = fs.open(fifo.c_str(), 64);
  CHECK(s.code() == StatusCode::kInvalidArgument);
  CHECK(std::string(s.message()) == "storage: " + fifo + " is a FIFO, not a regular file");
  std::remove(fifo.c_str());

  // Never opened, and closed after use: every callback is a failed
  // precondition naming the cause, not an I/O or memory error.
  for (int round = 0; round < 2; ++round) {
    CAPTURE(round);
    if (round == 1) {
      const std::string path = dir + "/new.bin";
      REQUIRE(fs.open(path.c_str(), 16).ok());  // created in `dir`, the directory synced
      CHECK(tern::test::names_in(dir) == std::vector<std::string>{"new.bin"});
      fs.close();
      std::remove(path.c_str());
    }
    const Storage st = fs.storage();
    CHECK(st.size == 0);
    char byte = 0;
    s = st.read(st.context, 0, &byte, 1);
    CHECK(s.code() == StatusCode::kFailedPrecondition);
    CHECK(contains(s, "storage: not open"));
    CHECK(st.write(st.context, 0, &byte, 1).code() == StatusCode::kFailedPrecondition);
    CHECK(st.sync(st.context).code() == StatusCode::kFailedPrecondition);
  }
  ::rmdir(dir.c_str());
}
#endif
