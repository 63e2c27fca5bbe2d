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

// Reads and writes may move fewer bytes than asked (signals, pipes, large
// requests); both loops go on until all are moved or one call fails.
Status read_fd_at(void* context, std::size_t offset, void* data, std::size_t bytes) {
  const int fd = *static_cast<const int*>(context);
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
  const auto* in = static_cast<const unsigned char*>(data);
  std::size_t at = offset != nullptr ? *offset : 0;
  while (bytes > 0) {
    const ssize_t put = offset != nullptr ? ::pwrite(fd, in, bytes, static_cast<off_t>(at))
                                          : ::write(fd, in, bytes);
    if (put <= 0) {
      return offset != nullptr
                 ? Status::error(StatusCode::kIoError, "write failed at offset %zu", at)
                 : Status::error(StatusCode::kIoError, "write failed");
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
  if (::fdatasync(*static_cast<const int*>(context)) != 0) {
    return Status::error(StatusCode::kIoError, "fdatasync failed");
  }
  return Status();
}

}  // namespace

Status FileStorage::open(const char* path, std::size_t bytes) {
  close();
  if (path == nullptr) return Status::error(StatusCode::kInvalidArgument, "storage: path is null");
  const int fd = ::open(path, O_RDWR | O_CREAT, 0644);
  if (fd < 0) return Status::error(StatusCode::kIoError, "storage: cannot open %.100s", path);
  struct stat st;
  const bool sized = ::fstat(fd, &st) == 0 &&
                     (static_cast<std::size_t>(st.st_size) >= bytes ||
                      ::ftruncate(fd, static_cast<off_t>(bytes)) == 0);
  if (!sized) {
    ::close(fd);
    return Status::error(StatusCode::kIoError, "storage: cannot size %.100s to %zu bytes", path,
                         bytes);
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

Status PosixFile::create(const char* op, const char* path) {
  (void)close(op, path);
  fd_ = ::open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd_ < 0) return Status::error(StatusCode::kIoError, "%s: cannot create %.100s", op, path);
  return Status();
}

Status PosixFile::open_read(const char* op, const char* path) {
  (void)close(op, path);
  fd_ = ::open(path, O_RDONLY);
  if (fd_ < 0) return Status::error(StatusCode::kIoError, "%s: cannot open %.100s", op, path);
  struct stat st;
  if (::fstat(fd_, &st) != 0) {
    (void)close(op, path);
    return Status::error(StatusCode::kIoError, "%s: cannot stat %.100s", op, path);
  }
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

}  // namespace detail
#endif

}  // namespace tern
