// SPDX-License-Identifier: Apache-2.0
// Private to the runtime: the I/O plumbing shared by the model file, the C
// header export and checkpoints (the public half is tern/runtime/byte_io.h).
#pragma once

#include <cstddef>
#include <cstdint>

#include "tern/platform/compiler.h"
#include "tern/platform/status.h"
#include "tern/runtime/byte_io.h"

namespace tern::detail {

// Bytes move between a sink, source or storage and the runtime through a
// stack buffer of this size: 256 is large enough to amortise one callback
// (one flash page program, one syscall) per chunk and small enough for a
// firmware stack. It is a multiple of 4, so a chunk holds whole floats.
constexpr std::size_t kChunkBytes = 256;
static_assert(kChunkBytes % 4 == 0, "a chunk must hold whole 32-bit floats");

// Longest text of one ChecksummedWriter::print, NUL included: the longest
// line of a C header export is about 70 characters and two names of up to
// 48; 256 leaves room and is still a small stack buffer.
constexpr std::size_t kMaxPrintChars = 256;

// Buffered writes to a sink with a running CRC-32 of everything written.
// The first error sticks: later writes do nothing and status() reports it.
class ChecksummedWriter {
 public:
  explicit ChecksummedWriter(const ByteSink& sink) : sink_(sink) {}
  void bytes(const void* data, std::size_t n);
  void u32(std::uint32_t v);  // little-endian
  void f32(float v);          // its IEEE-754 bits, little-endian
  void text(const char* s);   // without the NUL
  // printf-style text through the platform formatter (format.h). One call
  // writes at most kMaxPrintChars - 1 characters; longer text is an error
  // (kInvalidArgument), never silently cut.
  void print(const char* format, ...)
#if defined(__GNUC__)
      __attribute__((format(printf, 2, 3)))
#endif
      ;
  // Hands the buffered bytes to the sink; call once at the end.
  void flush();
  std::uint32_t crc() const { return crc_; }
  const Status& status() const { return status_; }

 private:
  ByteSink sink_;
  unsigned char buffer_[kChunkBytes];
  std::size_t used_ = 0;
  std::uint32_t crc_ = 0;
  Status status_;
};

#if TERN_HAS_OS
// One file for one save or load through POSIX descriptors (no stdio
// buffers, no heap); closed by the destructor if close() was not called.
// `op` ("save", "load") starts every error message.
class PosixFile {
 public:
  PosixFile() = default;
  PosixFile(const PosixFile&) = delete;
  PosixFile& operator=(const PosixFile&) = delete;
  ~PosixFile() { (void)close("close", ""); }
  // Opens a regular file for reading, its size from fstat. Anything else (a
  // directory, a FIFO, a device) is refused with kInvalidArgument naming
  // what it is; the open never blocks (O_NONBLOCK until fstat has looked).
  Status open_read(const char* op, const char* path);
  ByteSink sink();      // sequential writes
  ByteSource source();  // reads at an offset, size of the file when opened
  // kIoError if closing failed (a buffered write may have been lost).
  Status close(const char* op, const char* path);

 private:
  int fd_ = -1;
  std::size_t size_ = 0;
};

// The longest path AtomicFile takes, NUL included: Linux's PATH_MAX, so
// every path the OS accepts fits (with the temporary name's suffix).
constexpr std::size_t kMaxPathChars = 4096;

// A file replaced atomically: create() makes a temporary file beside `path`
// ("<path>.tmp-XXXXXX", mkstemp, so two savers never share one), sink()
// writes it, commit() fsyncs it, renames it over `path` and fsyncs the
// directory. Until commit() succeeds `path` is untouched; on any failure,
// and in the destructor without a commit, the temporary file is removed.
// The new file keeps the permission bits of the one it replaces, or gets
// 0644 (rw-r--r--) when there was none.
class AtomicFile {
 public:
  AtomicFile() = default;
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;
  ~AtomicFile() { discard(); }
  Status create(const char* op, const char* path);
  ByteSink sink();
  Status commit();

 private:
  void discard();
  const char* op_ = "";
  const char* path_ = "";
  int fd_ = -1;
  char temp_[kMaxPathChars + 16] = {};  // + ".tmp-XXXXXX"
};

// Where a file's name is listed, for fsync after creating or renaming it:
// everything before the last '/' ("/" for "/x", "." for a bare name).
// False when it does not fit `cap`.
bool parent_directory(const char* path, char* out, std::size_t cap);

// A write error of the file at `path` with the operation and the path in
// front ("save: writing m.tern: write failed: No space left on device");
// other errors as they are.
Status name_path(const char* op, const char* path, const Status& s);

// fsync of a directory, so that a name created or renamed in it survives a
// power cut; `op` and `path` name the file for the message.
Status sync_directory(const char* op, const char* path);
#endif

}  // namespace tern::detail
