// SPDX-License-Identifier: Apache-2.0
// Two-slot, power-fail-safe checkpoints (format in tern/runtime/checkpoint.h).
#include "tern/runtime/checkpoint.h"

#include <cstring>

#include "byte_io_detail.h"
#include "le_bytes.h"
#include "model_checks.h"

namespace tern {

namespace {

using detail::kChunkBytes;

// Flags bit 0: the record holds an RNG state. No other bit is defined.
constexpr std::uint32_t kFlagRng = 1u;
using detail::get_u32;
using detail::get_u64;
using detail::put_u32;
using detail::put_u64;

// What a slot holds. A record is `intact` when its header and CRC-32 check
// out; it is `loadable` when, in addition, the model file in it passes
// validate_model for this model (`content` says why not). `why` names the
// reason a record is not intact.
struct SlotState {
  bool intact = false;
  bool loadable = false;
  std::uint64_t sequence = 0;
  std::uint64_t file_bytes = 0;
  bool has_rng = false;
  RngState rng;
  const char* why = "";
  Status content;
};

// Serial order of sequence numbers (checkpoint.h): a is newer than b when
// a - b, modulo 2^64, lies in 1 .. 2^63 - 1.
bool newer(std::uint64_t a, std::uint64_t b) {
  const std::uint64_t d = a - b;
  return d != 0 && d < (std::uint64_t{1} << 63);
}

// The geometry the model and storage give the two slots.
struct Layout {
  std::size_t record = 0;  // bytes of a record
  std::size_t slot = 0;    // bytes of a slot: the record in whole erase sectors
};

Status check_storage(const char* op, bool writing, const Model& model, const Storage& storage,
                     Layout* layout) {
  if (!model.built()) {
    return Status::error(StatusCode::kFailedPrecondition, "%s: the model is not built", op);
  }
  if (model.spec().mode != Mode::kTraining) {
    return Status::error(StatusCode::kFailedPrecondition,
                         "%s: an inference model has no training state to checkpoint", op);
  }
  if (storage.read == nullptr || (writing && storage.write == nullptr)) {
    return Status::error(StatusCode::kInvalidArgument, "%s: the storage has no %s callback", op,
                         storage.read == nullptr ? "read" : "write");
  }
  if (storage.erase != nullptr && storage.erase_bytes <= 1) {
    return Status::error(StatusCode::kInvalidArgument,
                         "%s: the storage has an erase callback but erase_bytes is %zu; give "
                         "its erase sector size",
                         op, storage.erase_bytes);
  }
  // A storage of 0 bytes is one that is not there (a FileStorage that is
  // not open), not one that is too small.
  if (storage.size == 0) {
    return Status::error(StatusCode::kFailedPrecondition,
                         "%s: the storage has 0 bytes (not open?)", op);
  }
  layout->record = checkpoint_record_bytes(model.spec());
  layout->slot = checkpoint_slot_bytes(model.spec(), storage.erase_bytes);
  const std::size_t need = checkpoint_storage_bytes(model.spec(), storage.erase_bytes);
  if (layout->slot == 0 || need == 0) {
    return Status::error(StatusCode::kOutOfMemory,
                         "%s: two slots of %zu-byte records in %zu-byte erase sectors overflow "
                         "a size_t",
                         op, layout->record, storage.erase_bytes);
  }
  if (storage.size < need) {
    if (storage.erase_bytes > 1) {
      return Status::error(StatusCode::kOutOfMemory,
                           "%s: the storage has %zu bytes, two slots of %zu (%zu-byte records "
                           "in %zu-byte erase sectors) need %zu "
                           "(checkpoint_storage_bytes(spec, erase_bytes))",
                           op, storage.size, layout->slot, layout->record, storage.erase_bytes,
                           need);
    }
    return Status::error(StatusCode::kOutOfMemory,
                         "%s: the storage has %zu bytes, two slots of %zu need %zu "
                         "(checkpoint_storage_bytes(spec))",
                         op, storage.size, layout->slot, need);
  }
  return Status();
}

Status read_slot(const Storage& storage, std::uint32_t slot, std::size_t offset, void* data,
                 std::size_t bytes) {
  const Status s = storage.read(storage.context, offset, data, bytes);
  if (!s.ok()) {
    return Status::error(StatusCode::kIoError, "checkpoint: reading slot %u failed: %s",
                         static_cast<unsigned>(slot), s.message());
  }
  return Status();
}

// A ByteSource reading the model file embedded in a slot.
struct SlotSource {
  const Storage* storage;
  std::size_t base;
  static Status read(void* context, std::size_t offset, void* data, std::size_t bytes) {
    const auto* self = static_cast<const SlotSource*>(context);
    return self->storage->read(self->storage->context, self->base + offset, data, bytes);
  }
  ByteSource source(std::size_t size) {
    ByteSource src;
    src.read = &SlotSource::read;
    src.context = this;
    src.size = size;
    return src;
  }
};

// Reads and verifies the record of slot `slot`. A storage read error is
// returned as a Status; an invalid record is a SlotState that says why.
Status inspect_slot(const Model& model, const Storage& storage, const Layout& layout,
                    std::uint32_t slot, SlotState* out) {
  *out = SlotState();
  const std::size_t base = slot * layout.slot;
  unsigned char header[kCheckpointHeaderBytes];
  TERN_RETURN_IF_ERROR(read_slot(storage, slot, base, header, sizeof header));
  if (std::memcmp(header, kCheckpointMagic, 8) != 0) {
    out->why = "no checkpoint";
    return Status();
  }
  const std::uint32_t version = get_u32(header + 8);
  if (version != kCheckpointVersion) {
    out->why = version == 1 ? "checkpoint version 1, this build reads version 2" : "unknown version";
    return Status();
  }
  const std::uint32_t flags = get_u32(header + 12);
  const std::uint64_t file_bytes = get_u64(header + 24);
  if ((flags & ~kFlagRng) != 0 || file_bytes != layout.record - kCheckpointHeaderBytes - 4) {
    out->why = "bad header";
    return Status();
  }
  std::uint32_t crc = crc32(header, sizeof header);
  unsigned char chunk[kChunkBytes];
  std::size_t at = kCheckpointHeaderBytes;
  const std::size_t end = kCheckpointHeaderBytes + static_cast<std::size_t>(file_bytes);
  while (at < end) {
    const std::size_t n = end - at < kChunkBytes ? end - at : kChunkBytes;
    TERN_RETURN_IF_ERROR(read_slot(storage, slot, base + at, chunk, n));
    crc = crc32(chunk, n, crc);
    at += n;
  }
  unsigned char tail[4];
  TERN_RETURN_IF_ERROR(read_slot(storage, slot, base + end, tail, sizeof tail));
  if (get_u32(tail) != crc) {
    out->why = "checksum mismatch";
    return Status();
  }
  out->intact = true;
  out->sequence = get_u64(header + 16);
  out->file_bytes = file_bytes;
  out->has_rng = (flags & kFlagRng) != 0;
  out->rng.state = get_u64(header + 32);
  out->rng.increment = get_u64(header + 40);
  // Intact is not enough: a record whose checksum is right can still hold a
  // state that does not load (a NaN, a negative second moment, another
  // architecture). It must never count as the checkpoint to keep.
  SlotSource where{&storage, base + kCheckpointHeaderBytes};
  out->content = validate_model(model, where.source(static_cast<std::size_t>(file_bytes)), true);
  if (out->content.code() == StatusCode::kIoError) return out->content;
  out->loadable = out->content.ok();
  if (!out->loadable) out->why = "its model file does not load";
  return Status();
}

// Which of the two slots (or -1) is newest among those `pick` accepts;
// a tie (equal sequences) goes to slot 0.
template <class Pick>
int newest_of(const SlotState slots[2], Pick&& pick) {
  int best = -1;
  for (int i = 0; i < 2; ++i) {
    if (!pick(slots[i])) continue;
    if (best < 0 || newer(slots[i].sequence, slots[best].sequence)) best = i;
  }
  return best;
}

struct Inspection {
  SlotState slots[2];
  int newest_intact = -1;    // the newest record with a valid checksum
  int newest_loadable = -1;  // the newest record that loads into the model
};

Status inspect(const Model& model, const Storage& storage, const Layout& layout, Inspection* in) {
  TERN_RETURN_IF_ERROR(inspect_slot(model, storage, layout, 0, &in->slots[0]));
  TERN_RETURN_IF_ERROR(inspect_slot(model, storage, layout, 1, &in->slots[1]));
  in->newest_intact = newest_of(in->slots, [](const SlotState& s) { return s.intact; });
  in->newest_loadable = newest_of(in->slots, [](const SlotState& s) { return s.loadable; });
  return Status();
}

// A ByteSink writing sequentially into a slot and checksumming what it wrote.
struct SlotWriter {
  const Storage* storage;
  std::size_t at;    // absolute offset of the next byte
  std::size_t end;   // first byte past the slot's payload
  std::uint32_t crc;
  static Status write(void* context, const void* data, std::size_t bytes) {
    auto* self = static_cast<SlotWriter*>(context);
    if (bytes > self->end - self->at) {
      return Status::error(StatusCode::kOutOfMemory,
                           "checkpoint: the model file overflows its slot");
    }
    TERN_RETURN_IF_ERROR(self->storage->write(self->storage->context, self->at, data, bytes));
    self->crc = crc32(data, bytes, self->crc);
    self->at += bytes;
    return Status();
  }
};

// After a failed sync: make the slot just written invalid in what the next
// save will read, so that save goes into this slot again. Flash with an
// erase callback loses the slot's first sector (a programmed byte cannot be
// programmed again); other storage gets zeros over the magic.
Status invalidate_slot(const Storage& storage, std::size_t base) {
  if (storage.erase != nullptr) return storage.erase(storage.context, base, storage.erase_bytes);
  static const unsigned char kZeros[sizeof kCheckpointMagic] = {};
  return storage.write(storage.context, base, kZeros, sizeof kZeros);
}

}  // namespace

Status save_checkpoint(const Model& model, const Rng* rng, const Storage& storage,
                       CheckpointInfo* info) {
  const char* op = "save_checkpoint";
  Layout layout;
  TERN_RETURN_IF_ERROR(check_storage(op, true, model, storage, &layout));
  // Before anything is written, so a non-finite state leaves both slots.
  TERN_RETURN_IF_ERROR(detail::check_finite_state(op, model, true));
  Inspection in;
  TERN_RETURN_IF_ERROR(inspect(model, storage, layout, &in));
  // Never the slot of the newest loadable checkpoint. Without one, never
  // the newest intact record either (it may belong to another model that
  // shares the storage by mistake; the other slot is as good).
  const int keep = in.newest_loadable >= 0 ? in.newest_loadable : in.newest_intact;
  const std::uint32_t target = keep == 0 ? 1u : 0u;
  // Newer than every intact record, wrapping after 2^64 - 1 (serial order).
  const std::uint64_t sequence =
      in.newest_intact < 0 ? 1 : in.slots[in.newest_intact].sequence + 1;

  unsigned char header[kCheckpointHeaderBytes] = {};
  std::memcpy(header, kCheckpointMagic, 8);
  put_u32(header + 8, kCheckpointVersion);
  put_u32(header + 12, rng != nullptr ? kFlagRng : 0u);
  put_u64(header + 16, sequence);
  put_u64(header + 24, layout.record - kCheckpointHeaderBytes - 4);
  if (rng != nullptr) {
    const RngState r = rng->save();
    put_u64(header + 32, r.state);
    put_u64(header + 40, r.increment);
  }
  const std::size_t base = target * layout.slot;
  // Raw flash: erase the slot's sectors, then program every byte once.
  if (storage.erase != nullptr) {
    const Status erased = storage.erase(storage.context, base, layout.slot);
    if (!erased.ok()) {
      return Status::error(StatusCode::kIoError, "%s: erasing slot %u failed: %s", op,
                           static_cast<unsigned>(target), erased.message());
    }
  }
  SlotWriter w{&storage, base, base + layout.record - 4, 0};
  TERN_RETURN_IF_ERROR(SlotWriter::write(&w, header, sizeof header));
  TERN_RETURN_IF_ERROR(save_model(model, ByteSink{&SlotWriter::write, &w}, true));
  if (w.at != w.end) {
    return Status::error(StatusCode::kFailedPrecondition,
                         "%s: the model file took %zu bytes of a %zu-byte record", op,
                         w.at - base, layout.record);
  }
  // The checksum goes last: until it is complete the slot is not valid.
  unsigned char tail[4];
  put_u32(tail, w.crc);
  TERN_RETURN_IF_ERROR(storage.write(storage.context, w.end, tail, 4));
  if (storage.sync != nullptr) {
    const Status synced = storage.sync(storage.context);
    if (!synced.ok()) {
      // The record may not be durable, though a read shows it: trusting it
      // would make the next save overwrite the other slot, the only durable
      // checkpoint. Invalidate it, so the next save comes back here.
      const Status undone = invalidate_slot(storage, base);
      return Status::error(StatusCode::kIoError,
                           "%s: sync failed after writing slot %u (%s); %s", op,
                           static_cast<unsigned>(target), synced.message(),
                           undone.ok() ? "the slot was invalidated, the previous checkpoint stays"
                                       : "invalidating the slot failed too");
    }
  }
  if (info != nullptr) {
    info->sequence = sequence;
    info->slot = target;
    info->steps = model.steps();
    info->older = false;
  }
  return Status();
}

Status load_checkpoint(Model& model, Rng* rng, const Storage& storage, CheckpointInfo* info) {
  const char* op = "load_checkpoint";
  Layout layout;
  TERN_RETURN_IF_ERROR(check_storage(op, false, model, storage, &layout));
  Inspection in;
  TERN_RETURN_IF_ERROR(inspect(model, storage, layout, &in));
  const int chosen = in.newest_loadable;
  if (chosen < 0) {
    // Intact records that do not fit the model: the newest one's own error
    // (another architecture, a NaN) says more than "no checkpoint".
    if (in.newest_intact >= 0) {
      const SlotState& s = in.slots[in.newest_intact];
      return Status::error(s.content.code(), "%s: slot %d: %s", op, in.newest_intact,
                           s.content.message());
    }
    return Status::error(StatusCode::kCorruptData,
                         "%s: no valid checkpoint (slot 0: %s, slot 1: %s)", op,
                         in.slots[0].why, in.slots[1].why);
  }
  const SlotState& s = in.slots[chosen];
  if (rng != nullptr && !s.has_rng) {
    return Status::error(StatusCode::kFailedPrecondition,
                         "%s: an RNG state was requested but checkpoint %llu has none", op,
                         static_cast<unsigned long long>(s.sequence));
  }
  SlotSource where{&storage, static_cast<std::size_t>(chosen) * layout.slot + kCheckpointHeaderBytes};
  TERN_RETURN_IF_ERROR(load_model(model, where.source(static_cast<std::size_t>(s.file_bytes)), true));
  if (rng != nullptr) rng->restore(s.rng);
  if (info != nullptr) {
    info->sequence = s.sequence;
    info->slot = static_cast<std::uint32_t>(chosen);
    info->steps = model.steps();
    info->older = in.newest_intact != chosen;
  }
  return Status();
}

}  // namespace tern
