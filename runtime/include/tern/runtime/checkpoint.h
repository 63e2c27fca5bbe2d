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
//   48  F bytes               a model file with optimizer state (model_file.h):
//                             parameters, moments, optimizer step count
//   48+F  u32 CRC-32 of bytes 0 .. 48+F-1
// Slot i starts at i * checkpoint_slot_bytes(spec) of the storage.
//
// Storage (byte_io.h) is three callbacks — read and write at an offset, and
// an optional sync — so the same code writes a file on Linux (FileStorage,
// byte_io.h) and a flash partition or EEPROM in firmware (the callbacks
// erase and program the pages; no heap, no staging buffer: the record
// streams through a 256-byte stack buffer).
#pragma once

#include <cstddef>
#include <cstdint>

#include "tern/platform/compiler.h"
#include "tern/platform/status.h"
#include "tern/runtime/byte_io.h"
#include "tern/runtime/crc32.h"
#include "tern/runtime/model.h"
#include "tern/runtime/model_file.h"
#include "tern/runtime/rng.h"

namespace tern {

// Raised whenever the record layout changes; a slot of another version is
// not a valid checkpoint.
constexpr std::uint32_t kCheckpointVersion = 1;
// The first 8 bytes of every record.
constexpr char kCheckpointMagic[8] = {'T', 'E', 'R', 'N', 'C', 'K', 'P', 'T'};
// Magic 8, version and flags 4 each, sequence, file bytes, RNG state and
// increment 8 each: the fixed fields before the embedded model file.
constexpr std::size_t kCheckpointHeaderBytes = 48;

// Bytes of one slot and of the two slots, for a training spec (0 when the
// spec is invalid or not for training); constexpr for sizing a partition.
constexpr std::size_t checkpoint_slot_bytes(const ModelSpec& spec) {
  if (spec.mode != Mode::kTraining) return 0;
  const std::size_t file = model_file_bytes(spec, true);
  return file == 0 ? 0 : kCheckpointHeaderBytes + file + 4;  // + the record's CRC-32
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

}  // namespace tern
