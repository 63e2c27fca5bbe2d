// SPDX-License-Identifier: Apache-2.0
// Sinks, sources and file adapters (tern/runtime/byte_io.h, byte_io_detail.h).
#include "tern/runtime/byte_io.h"

#include <cstdarg>
#include <cstring>

#include "byte_io_detail.h"
#include "le_bytes.h"
// The platform layer's formatter (private to it, hence the path): tern's one
// printf-style formatter, safe on firmware (no heap, no locale).
#include "../../platform/src/format.h"
#include "tern/runtime/crc32.h"

#if TERN_HAS_OS
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#endif

namespace tern {

Status MemorySink::write(void* context, const void* data, std::size_t bytes) {
  auto* self = static_cast<MemorySink*>(context);
  if (bytes > self->capacity_ - self->size_) {
    return Status::error(StatusCode::kOutOfMemory,
                         "memory sink: writing %zu bytes at %zu overflows its %zu bytes", bytes,
                         self->size_, self->capacity_);
  }
  std::memcpy(self->buffer_ + self->size_, data, bytes);
  self->size_ += bytes;
  return Status();
}

namespace {

Status read_memory(void* context, std::size_t offset, void* data, std::size_t bytes) {
  std::memcpy(data, static_cast<const unsigned char*>(context) + offset, bytes);
  return Status();
}

}  // namespace

ByteSource memory_source(const void* data, std::size_t size) {
  ByteSource source;
  source.read = &read_memory;
  source.context = const_cast<void*>(data);  // only ever read through
  source.size = size;
  return source;
}

namespace detail {

void ChecksummedWriter::bytes(const void* data, std::size_t n) {
  const auto* in = static_cast<const unsigned char*>(data);
  while (n > 0 && status_.ok()) {
    const std::size_t room = kChunkBytes - used_;
    const std::size_t take = n < room ? n : room;
    std::memcpy(buffer_ + used_, in, take);
    used_ += take;
    in += take;
    n -= take;
    if (used_ == kChunkBytes) flush();
  }
}

void ChecksummedWriter::u32(std::uint32_t v) {
  unsigned char le[4];
  put_u32(le, v);
  bytes(le, sizeof le);
}

void ChecksummedWriter::f32(float v) { u32(float_bits(v)); }

void ChecksummedWriter::text(const char* s) { bytes(s, std::strlen(s)); }

void ChecksummedWriter::print(const char* format, ...) {
  if (!status_.ok()) return;
  char line[kMaxPrintChars];
  std::va_list args;
  va_start(args, format);
  const int length = vformat(line, sizeof line, format, args);
  va_end(args);
  if (length < 0 || static_cast<std::size_t>(length) >= sizeof line) {
    status_ = Status::error(StatusCode::kInvalidArgument, "writer: a text of %d characters exceeds %zu",
                            length, kMaxPrintChars - 1);
    return;
  }
  bytes(line, static_cast<std::size_t>(length));
}

void ChecksummedWriter::flush() {
  if (used_ == 0 || !status_.ok()) return;
  crc_ = crc32(buffer_, used_, crc_);
  status_ = sink_.write(sink_.context, buffer_, used_);
  used_ = 0;
}

}  // namespace detail

// ---------------------------------------------------------------------------
// Files: POSIX descriptors, every callback's context points to the int fd.
// ---------------------------------------------------------------------------
#if TERN_HAS_OS
namespace {

// A callback of a FileStorage that is not open (fd -1): the caller's bug,
// told as such rather than as an I/O error of a bad descriptor.
Status not_open() {
  return Status::error(StatusCode::kFailedPrecondition,
                       "storage: not open (FileStorage::open was not called, failed, or the "
                       "storage was closed)");
}

// Reads and writes may move fewer bytes than asked (signals, pipes, large
// requests); both loops go on until all are moved or one call fails.
Status read_fd_at(void* context, std::size_t offset, void* data, std::size_t bytes) {
  const int fd = *static_cast<const int*>(context);
  if (fd < 0) return not_open();
  auto* out = static_cast<unsigned char*>(data);
  while (bytes > 0) {
    const ssize_t got = ::pread(fd, out, bytes, static_cast<off_t>(offset));
    if (got <= 0) return Status::error(StatusCode::kIoError, "read failed at offset %zu", offset);
    out += got;
    offset += static_cast<std::size_t>(got);
    bytes -= static_cast<std::size_t>(got);
  }
  return Status();
}

// At `*offset` with pwrite (storage), or at the file position with write
// when offset is null (a sink, which may then also be a pipe).
Status write_fd(int fd, const std::size_t* offset, const void* data, std::size_t bytes) {
  if (fd < 0) return not_open();
  const auto* in = static_cast<const unsigned char*>(data);
  std::size_t at = offset != nullptr ? *offset : 0;
  while (bytes > 0) {
    const ssize_t put = offset != nullptr ? ::pwrite(fd, in, bytes, static_cast<off_t>(at))
                                          : ::write(fd, in, bytes);
    if (put <= 0) {
      const int err = errno;
      return offset != nullptr
                 ? Status::error(StatusCode::kIoError, "write failed at offset %zu: %s", at,
                                 std::strerror(err))
                 : Status::error(StatusCode::kIoError, "write failed: %s", std::strerror(err));
    }
    in += put;
    at += static_cast<std::size_t>(put);
    bytes -= static_cast<std::size_t>(put);
  }
  return Status();
}

Status append_fd(void* context, const void* data, std::size_t bytes) {
  return write_fd(*static_cast<const int*>(context), nullptr, data, bytes);
}

Status write_fd_at(void* context, std::size_t offset, const void* data, std::size_t bytes) {
  return write_fd(*static_cast<const int*>(context), &offset, data, bytes);
}

Status sync_fd(void* context) {
  const int fd = *static_cast<const int*>(context);
  if (fd < 0) return not_open();
  if (::fdatasync(fd) != 0) {
    return Status::error(StatusCode::kIoError, "fdatasync failed: %s", std::strerror(errno));
  }
  return Status();
}

// What a path that is not a regular file is, for the messages.
const char* file_kind(mode_t mode) {
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISCHR(mode) || S_ISBLK(mode)) return "a device";
  if (S_ISSOCK(mode)) return "a socket";
  return "not a regular file";
}

Status not_regular(const char* op, const char* path, mode_t mode) {
  return Status::error(StatusCode::kInvalidArgument, "%s: %.100s is %s, not a regular file", op,
                       path, file_kind(mode));
}

}  // namespace

Status FileStorage::open(const char* path, std::size_t bytes) {
  close();
  const char* op = "storage";
  if (path == nullptr) return Status::error(StatusCode::kInvalidArgument, "storage: path is null");
  // O_NONBLOCK: opening a FIFO must not wait for a writer; fstat then
  // refuses it. A regular file ignores the flag.
  constexpr int kFlags = O_RDWR | O_NONBLOCK | O_CLOEXEC;
  bool created = true;
  int fd = ::open(path, kFlags | O_CREAT | O_EXCL, 0644);
  if (fd < 0 && errno == EEXIST) {
    created = false;
    fd = ::open(path, kFlags);
  }
  if (fd < 0) {
    const int err = errno;
    struct stat st;
    if (::stat(path, &st) == 0 && !S_ISREG(st.st_mode)) return not_regular(op, path, st.st_mode);
    return Status::error(StatusCode::kIoError, "storage: cannot open %.100s: %s", path,
                         std::strerror(err));
  }
  struct stat st;
  const bool stated = ::fstat(fd, &st) == 0;
  if (!stated || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return stated ? not_regular(op, path, st.st_mode)
                  : Status::error(StatusCode::kIoError, "storage: cannot stat %.100s", path);
  }
  const bool sized = static_cast<std::size_t>(st.st_size) >= bytes ||
                     ::ftruncate(fd, static_cast<off_t>(bytes)) == 0;
  if (!sized) {
    ::close(fd);
    return Status::error(StatusCode::kIoError, "storage: cannot size %.100s to %zu bytes", path,
                         bytes);
  }
  // A new file: its size and its name must survive a power cut before the
  // first checkpoint relies on them (fsync the file, then its directory).
  if (created) {
    if (::fsync(fd) != 0) {
      const int err = errno;
      ::close(fd);
      return Status::error(StatusCode::kIoError, "storage: fsync of new %.100s failed: %s", path,
                           std::strerror(err));
    }
    const Status dir = detail::sync_directory(op, path);
    if (!dir.ok()) {
      ::close(fd);
      return dir;
    }
  }
  fd_ = fd;
  size_ = bytes;
  return Status();
}

void FileStorage::close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  size_ = 0;
}

Storage FileStorage::storage() {
  Storage s;
  s.read = &read_fd_at;
  s.write = &write_fd_at;
  s.sync = &sync_fd;
  s.context = &fd_;
  s.size = fd_ >= 0 ? size_ : 0;
  return s;
}

namespace detail {

bool parent_directory(const char* path, char* out, std::size_t cap) {
  const char* slash = std::strrchr(path, '/');
  if (slash == nullptr) {
    if (cap < 2) return false;
    out[0] = '.';
    out[1] = '\0';
    return true;
  }
  // "/x": the root; "a/b": "a".
  const std::size_t n = slash == path ? 1 : static_cast<std::size_t>(slash - path);
  if (n + 1 > cap) return false;
  std::memcpy(out, path, n);
  out[n] = '\0';
  return true;
}

Status name_path(const char* op, const char* path, const Status& s) {
  if (s.code() != StatusCode::kIoError) return s;
  // The path is cut at 60 characters so the cause still fits the message.
  return Status::error(StatusCode::kIoError, "%s: writing %.60s: %s", op, path, s.message());
}

Status sync_directory(const char* op, const char* path) {
  char dir[kMaxPathChars];
  if (!parent_directory(path, dir, sizeof dir)) {
    return Status::error(StatusCode::kInvalidArgument, "%s: the path is longer than %zu characters",
                         op, kMaxPathChars - 1);
  }
  const int fd = ::open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    return Status::error(StatusCode::kIoError, "%s: cannot open the directory of %.100s: %s", op,
                         path, std::strerror(errno));
  }
  const int synced = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  if (synced != 0) {
    return Status::error(StatusCode::kIoError, "%s: fsync of the directory of %.100s failed: %s",
                         op, path, std::strerror(err));
  }
  return Status();
}

Status PosixFile::open_read(const char* op, const char* path) {
  (void)close(op, path);
  if (path == nullptr) return Status::error(StatusCode::kInvalidArgument, "%s: path is null", op);
  // O_NONBLOCK: a FIFO must not block the open (waiting for a writer); it is
  // refused below. Cleared again for the reads of a regular file.
  fd_ = ::open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd_ < 0) return Status::error(StatusCode::kIoError, "%s: cannot open %.100s", op, path);
  struct stat st;
  if (::fstat(fd_, &st) != 0) {
    (void)close(op, path);
    return Status::error(StatusCode::kIoError, "%s: cannot stat %.100s", op, path);
  }
  if (!S_ISREG(st.st_mode)) {
    (void)close(op, path);
    return not_regular(op, path, st.st_mode);
  }
  const int flags = ::fcntl(fd_, F_GETFL);
  if (flags >= 0) (void)::fcntl(fd_, F_SETFL, flags & ~O_NONBLOCK);
  size_ = static_cast<std::size_t>(st.st_size);
  return Status();
}

ByteSink PosixFile::sink() { return ByteSink{&append_fd, &fd_}; }

ByteSource PosixFile::source() {
  ByteSource s;
  s.read = &read_fd_at;
  s.context = &fd_;
  s.size = size_;
  return s;
}

Status PosixFile::close(const char* op, const char* path) {
  if (fd_ < 0) return Status();
  const int fd = fd_;
  fd_ = -1;
  size_ = 0;
  if (::close(fd) != 0) return Status::error(StatusCode::kIoError, "%s: closing %.100s failed", op, path);
  return Status();
}

Status AtomicFile::create(const char* op, const char* path) {
  discard();
  op_ = op;
  path_ = "";
  if (path == nullptr) return Status::error(StatusCode::kInvalidArgument, "%s: path is null", op);
  const std::size_t n = std::strlen(path);
  static const char kSuffix[] = ".tmp-XXXXXX";  // mkstemp replaces the Xs
  if (n == 0 || n >= kMaxPathChars) {
    return Status::error(StatusCode::kInvalidArgument,
                         "%s: the path has %zu characters, must have 1 to %zu", op, n,
                         kMaxPathChars - 1);
  }
  // The target must be a regular file or not exist: a directory, FIFO or
  // device is refused before anything is created.
  mode_t mode = 0644;  // rw-r--r--, for a new file
  struct stat st;
  if (::stat(path, &st) == 0) {
    if (!S_ISREG(st.st_mode)) return not_regular(op, path, st.st_mode);
    mode = st.st_mode & 07777;
  }
  std::memcpy(temp_, path, n);
  std::memcpy(temp_ + n, kSuffix, sizeof kSuffix);
  fd_ = ::mkstemp(temp_);
  if (fd_ < 0) {
    const int err = errno;
    temp_[0] = '\0';
    return Status::error(StatusCode::kIoError, "%s: cannot create a file beside %.100s: %s", op,
                         path, std::strerror(err));
  }
  (void)::fcntl(fd_, F_SETFD, FD_CLOEXEC);  // mkstemp has no flags argument
  path_ = path;
  if (::fchmod(fd_, mode) != 0) {
    const int err = errno;
    discard();
    return Status::error(StatusCode::kIoError, "%s: cannot set the mode of a file beside %.100s: %s",
                         op, path, std::strerror(err));
  }
  return Status();
}

ByteSink AtomicFile::sink() { return ByteSink{&append_fd, &fd_}; }

Status AtomicFile::commit() {
  if (fd_ < 0) {
    return Status::error(StatusCode::kFailedPrecondition, "%s: no file is being written", op_);
  }
  if (::fsync(fd_) != 0) {
    const int err = errno;
    discard();
    return Status::error(StatusCode::kIoError, "%s: fsync of %.100s failed: %s", op_, path_,
                         std::strerror(err));
  }
  const int fd = fd_;
  fd_ = -1;
  if (::close(fd) != 0) {
    const int err = errno;
    discard();
    return Status::error(StatusCode::kIoError, "%s: closing %.100s failed: %s", op_, path_,
                         std::strerror(err));
  }
  if (::rename(temp_, path_) != 0) {
    const int err = errno;
    discard();
    return Status::error(StatusCode::kIoError, "%s: cannot rename over %.100s: %s", op_, path_,
                         std::strerror(err));
  }
  temp_[0] = '\0';  // it is `path` now
  // The rename is durable once the directory is.
  return sync_directory(op_, path_);
}

void AtomicFile::discard() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  if (temp_[0] != '\0') ::unlink(temp_);
  temp_[0] = '\0';
}

}  // namespace detail
#endif

}  // namespace tern
