// tern/runtime/checkpoint.h — training state that survives a power cut.
//
// A device that trains on-line must be able to lose power in the middle of
// writing its checkpoint and still resume from the previous one. So a
// checkpoint is never written over the last good one: the storage holds two
// slots, each save goes into the slot that does not hold the newest valid
// checkpoint, and a slot is only believed once its whole record — header,
// payload and a trailing CRC-32 written last — checks out. Loading reads
// both slots and takes the valid one with the higher sequence number. An
// interruption at any byte of a save therefore leaves either the old
// checkpoint (the new slot fails its checksum) or the new one.
//
// A record (all integers little-endian):
//   0   "TERNCKPT"            magic, 8 bytes
//   8   u32 version           kCheckpointVersion
//   12  u32 flags             bit 0: an RNG state is stored
//   16  u64 sequence          1 for the first save, +1 for each save
//   24  u64 model file bytes  F = model_file_bytes(spec, true)
//   32  u64 RNG state, 40 u64 RNG increment (0 without an RNG)
//   48  F bytes               a model file with optimizer state (persist.h):
//                             parameters, moments, optimizer step count
//   48+F  u32 CRC-32 of bytes 0 .. 48+F-1
// Slot i starts at i * checkpoint_slot_bytes(spec) of the storage.
//
// Storage is three callbacks — read and write at an offset, and an optional
// sync — so the same code writes a file on Linux (FileStorage below) and a
// flash partition or EEPROM in firmware (the callbacks erase and program the
// pages; no heap, no staging buffer: the record streams through a 256-byte
// stack buffer).
#pragma once

#include <cstddef>
#include <cstdint>

#include "tern/platform/compiler.h"
#include "tern/platform/status.h"
#include "tern/runtime/model.h"
#include "tern/runtime/persist.h"
#include "tern/runtime/rng.h"

namespace tern {

constexpr std::uint32_t kCheckpointVersion = 1;
constexpr char kCheckpointMagic[8] = {'T', 'E', 'R', 'N', 'C', 'K', 'P', 'T'};
constexpr std::size_t kCheckpointHeaderBytes = 48;

struct Storage {
  Status (*read)(void* context, std::size_t offset, void* data, std::size_t bytes) = nullptr;
  Status (*write)(void* context, std::size_t offset, const void* data, std::size_t bytes) = nullptr;
  // Optional: make everything written so far durable (fsync, flash
  // write-buffer drain). Called once after the whole record is written.
  Status (*sync)(void* context) = nullptr;
  void* context = nullptr;
  std::size_t size = 0;  // bytes available, at least checkpoint_storage_bytes(spec)
};

// Bytes of one slot and of the two slots, for a training spec (0 when the
// spec is invalid or not for training); constexpr for sizing a partition.
constexpr std::size_t checkpoint_slot_bytes(const ModelSpec& spec) {
  if (spec.mode != Mode::kTraining) return 0;
  const std::size_t file = model_file_bytes(spec, true);
  return file == 0 ? 0 : kCheckpointHeaderBytes + file + 4;
}
constexpr std::size_t checkpoint_storage_bytes(const ModelSpec& spec) {
  return 2 * checkpoint_slot_bytes(spec);
}

struct CheckpointInfo {
  std::uint64_t sequence = 0;  // of the checkpoint written or loaded
  std::uint32_t slot = 0;      // 0 or 1
  std::uint32_t steps = 0;     // the model's optimizer steps in it
};

// Writes the model's parameters, optimizer moments and step count, and the
// state of `rng` (may be null), into the slot that does not hold the newest
// valid checkpoint. A failed write (kIoError from the storage) leaves the
// previous checkpoint intact. kNonFinite if the state is not finite
// (nothing is written then).
Status save_checkpoint(const Model& model, const Rng* rng, const Storage& storage,
                       CheckpointInfo* info = nullptr);

// Restores the newest valid checkpoint into a training model of the same
// architecture and optimizer, and into `rng` (may be null). kCorruptData
// when neither slot holds a valid checkpoint (naming why for each slot);
// on any error the model and rng are unchanged.
Status load_checkpoint(Model& model, Rng* rng, const Storage& storage,
                       CheckpointInfo* info = nullptr);

#if TERN_HAS_OS
// Storage in a file (created and zero-extended to `bytes` if shorter);
// writes with pwrite, sync with fdatasync.
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
