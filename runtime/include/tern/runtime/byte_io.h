// SPDX-License-Identifier: Apache-2.0
// tern/runtime/byte_io.h — where persisted bytes go and come from.
//
// Firmware reads a model from flash, an SD card or a radio buffer, so the
// model file (model_file.h), the C header export (c_header_export.h) and
// checkpoints (checkpoint.h) do their I/O through small callback interfaces
// instead of files:
//   ByteSink    sequential writes (a model file, a C header)
//   ByteSource  reads at an offset, total size known (a model file)
//   Storage     reads and writes at an offset, optional sync (checkpoints)
// Adapters for caller memory and, with an OS, for files are provided. None
// allocates.
#pragma once

#include <cstddef>

#include "tern/platform/compiler.h"
#include "tern/platform/status.h"

namespace tern {

struct ByteSink {
  Status (*write)(void* context, const void* data, std::size_t bytes) = nullptr;
  void* context = nullptr;
};
struct ByteSource {
  Status (*read)(void* context, std::size_t offset, void* data, std::size_t bytes) = nullptr;
  void* context = nullptr;
  std::size_t size = 0;
};

// Writes into a caller buffer; kOutOfMemory (with the bytes needed so far)
// when it is full.
class MemorySink {
 public:
  MemorySink(void* buffer, std::size_t capacity)
      : buffer_(static_cast<unsigned char*>(buffer)), capacity_(capacity) {}
  ByteSink sink() { return ByteSink{&MemorySink::write, this}; }
  std::size_t size() const { return size_; }

 private:
  static Status write(void* context, const void* data, std::size_t bytes);
  unsigned char* buffer_;
  std::size_t capacity_;
  std::size_t size_ = 0;
};
// Reads `size` bytes of caller memory; the readers never read past `size`.
ByteSource memory_source(const void* data, std::size_t size);

// Random-access storage: a flash partition, an EEPROM, a file.
//
// Flash must be erased (every byte set to 0xff) a sector at a time before
// it is programmed. erase_bytes tells checkpoints (checkpoint.h) the sector
// size: each slot then starts on a sector boundary and owns whole sectors,
// so erasing or rewriting one slot never touches a byte of the other.
//   - erase == nullptr, erase_bytes 0 or 1: byte-writable storage (a file,
//     EEPROM, RAM); writes overwrite in place.
//   - erase == nullptr, erase_bytes > 1: the write callback does its own
//     read-erase-program of whole sectors; slots are aligned so that it
//     never rewrites a sector of the other slot.
//   - erase != nullptr (needs erase_bytes > 1): raw flash. A checkpoint save
//     erases the sectors of its slot first, then programs each byte of it
//     exactly once, in order, the record's CRC-32 last; the write callback
//     only ever programs erased bytes.
struct Storage {
  Status (*read)(void* context, std::size_t offset, void* data, std::size_t bytes) = nullptr;
  Status (*write)(void* context, std::size_t offset, const void* data, std::size_t bytes) = nullptr;
  // Optional: make everything written so far durable (fsync, flash
  // write-buffer drain). Called once after the whole record is written; a
  // failure means the record may not survive a power cut (checkpoint.h says
  // what a save does then).
  Status (*sync)(void* context) = nullptr;
  // Optional: erase `bytes` bytes from `offset`, both multiples of
  // erase_bytes (whole sectors, in increasing order is fine).
  Status (*erase)(void* context, std::size_t offset, std::size_t bytes) = nullptr;
  void* context = nullptr;
  std::size_t size = 0;         // bytes available, at least checkpoint_storage_bytes(spec, erase_bytes)
  std::size_t erase_bytes = 0;  // the erase sector, 0 or 1 for byte-writable storage
};

#if TERN_HAS_OS
// Storage in a regular file (created and zero-extended to `bytes` if
// shorter; a new file and its directory entry are fsync'ed before open
// returns); writes with pwrite, sync with fdatasync. Byte-writable:
// erase_bytes 0, no erase callback. A path that is not a regular file (a
// directory, a FIFO, a device) is refused with kInvalidArgument. Until
// open succeeds, and after close, storage() has size 0 and its callbacks
// return kFailedPrecondition ("storage: not open").
class FileStorage {
 public:
  FileStorage() = default;
  FileStorage(const FileStorage&) = delete;
  FileStorage& operator=(const FileStorage&) = delete;
  ~FileStorage() { close(); }
  Status open(const char* path, std::size_t bytes);
  void close();
  Storage storage();

 private:
  int fd_ = -1;
  std::size_t size_ = 0;
};
#endif

}  // namespace tern
