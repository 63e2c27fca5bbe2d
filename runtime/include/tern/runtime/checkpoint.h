// SPDX-License-Identifier: Apache-2.0
// tern/runtime/checkpoint.h — training state that survives a power cut.
//
// A device that trains on-line must be able to lose power in the middle of
// writing its checkpoint and still resume from the previous one. So a
// checkpoint is never written over the last good one: the storage holds two
// slots, each save goes into the slot that does not hold the newest
// loadable checkpoint, and a slot is only believed once its whole record —
// header, payload and a trailing CRC-32 written last — checks out and the
// model file in it passes every check of load_model (finite, second moments
// >= 0, the model's architecture). Loading takes the newest such slot. An
// interruption at any byte of a save therefore leaves either the old
// checkpoint (the new slot fails its checksum) or the new one.
//
// A record (all integers little-endian):
//   0   "TERNCKPT"            magic, 8 bytes
//   8   u32 version           kCheckpointVersion
//   12  u32 flags             bit 0: an RNG state is stored
//   16  u64 sequence          1 for the first save, +1 for each save (mod 2^64)
//   24  u64 model file bytes  F = model_file_bytes(spec, true)
//   32  u64 RNG state, 40 u64 RNG increment (0 without an RNG)
//   48  F bytes               a model file with optimizer state (model_file.h):
//                             parameters, moments, optimizer step count
//   48+F  u32 CRC-32 of bytes 0 .. 48+F-1
// Slot i starts at i * checkpoint_slot_bytes(spec, storage.erase_bytes): the
// record rounded up to whole erase sectors, so the two slots never share a
// flash sector (byte_io.h, Storage).
//
// Sequences are compared serially (as RFC 1982 does), so the count wraps:
// after 2^64 - 1 comes 0, and 0 is newer. Of two slots, a is newer than b
// when (a - b) mod 2^64 is in 1 .. 2^63 - 1; consecutive saves differ by 1.
//
// Durability: when the storage has a sync callback and it fails, the slot
// just written is not trusted — the save invalidates it again (erases its
// first sector, or writes zeros over its magic) and returns kIoError, so
// the next save goes into the same slot and never over the other, which
// holds the only checkpoint known to be durable.
//
// Version 2 (this one) embeds a version 2 model file (64-bit step count) and
// aligns slots to erase sectors. A version 1 record (tern 0.1) is not
// loaded: load_checkpoint reports "checkpoint version 1" for its slot; move
// training state across that upgrade as a model file with optimizer state.
//
// Storage (byte_io.h) is callbacks — read and write at an offset, optional
// sync and erase — so the same code writes a file on Linux (FileStorage,
// byte_io.h) and a flash partition or EEPROM in firmware. No heap, no
// staging buffer: the record streams through a 256-byte stack buffer.
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
constexpr std::uint32_t kCheckpointVersion = 2;
// The first 8 bytes of every record.
constexpr char kCheckpointMagic[8] = {'T', 'E', 'R', 'N', 'C', 'K', 'P', 'T'};
// Magic 8, version and flags 4 each, sequence, file bytes, RNG state and
// increment 8 each: the fixed fields before the embedded model file.
constexpr std::size_t kCheckpointHeaderBytes = 48;

// Bytes of one record for a training spec (0 when the spec is invalid or not
// for training).
constexpr std::size_t checkpoint_record_bytes(const ModelSpec& spec) {
  if (spec.mode != Mode::kTraining) return 0;
  const std::size_t file = model_file_bytes(spec, true);
  // + the record's CRC-32; a file this close to SIZE_MAX cannot be stored.
  if (file == 0 || file > SIZE_MAX - kCheckpointHeaderBytes - 4) return 0;
  return kCheckpointHeaderBytes + file + 4;
}
// Bytes of one slot and of the two slots: the record rounded up to whole
// erase sectors of `erase_bytes` (0 or 1: byte-writable storage, no
// rounding). 0 when the spec is invalid or the size overflows a size_t.
// constexpr for sizing a partition.
constexpr std::size_t checkpoint_slot_bytes(const ModelSpec& spec, std::size_t erase_bytes = 0) {
  const std::size_t record = checkpoint_record_bytes(spec);
  if (record == 0 || erase_bytes <= 1) return record;
  const std::size_t sectors = record / erase_bytes + (record % erase_bytes != 0 ? 1 : 0);
  return sectors > SIZE_MAX / erase_bytes ? 0 : sectors * erase_bytes;
}
constexpr std::size_t checkpoint_storage_bytes(const ModelSpec& spec, std::size_t erase_bytes = 0) {
  const std::size_t slot = checkpoint_slot_bytes(spec, erase_bytes);
  return slot > SIZE_MAX / 2 ? 0 : 2 * slot;
}

struct CheckpointInfo {
  std::uint64_t sequence = 0;  // of the checkpoint written or loaded
  std::uint32_t slot = 0;      // 0 or 1
  std::uint64_t steps = 0;     // the model's optimizer steps in it
  // load_checkpoint: a newer record had a valid checksum but could not be
  // loaded (non-finite values, a negative second moment, ...), and the
  // older checkpoint was loaded instead.
  bool older = false;
};

// Writes the model's parameters, optimizer moments and step count, and the
// state of `rng` (may be null), into the slot that does not hold the newest
// loadable checkpoint. A failed write (kIoError from the storage) leaves the
// previous checkpoint intact; so does a failed sync (see "Durability"
// above). kNonFinite if the state is not finite (nothing is written then).
Status save_checkpoint(const Model& model, const Rng* rng, const Storage& storage,
                       CheckpointInfo* info = nullptr);

// Restores the newest loadable checkpoint into a training model of the same
// architecture and optimizer, and into `rng` (may be null). When the newest
// record with a valid checksum cannot be loaded (say it holds a NaN), the
// older one is (info->older). kCorruptData when neither slot holds a valid
// record (naming why for each slot); the newest record's own error
// (kShapeMismatch, kNonFinite, ...) when records are intact but none fits
// the model. On any error the model and rng are unchanged.
Status load_checkpoint(Model& model, Rng* rng, const Storage& storage,
                       CheckpointInfo* info = nullptr);

}  // namespace tern
