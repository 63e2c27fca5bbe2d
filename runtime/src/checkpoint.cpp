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

// What a slot holds. `why` names the reason when it is not valid.
struct SlotState {
  bool valid = false;
  std::uint64_t sequence = 0;
  std::uint64_t file_bytes = 0;
  bool has_rng = false;
  RngState rng;
  const char* why = "";
};

Status check_storage(const char* op, bool writing, const Model& model, const Storage& storage,
                     std::size_t* slot_bytes) {
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
  *slot_bytes = checkpoint_slot_bytes(model.spec());
  const std::size_t need = 2 * *slot_bytes;
  if (storage.size < need) {
    return Status::error(StatusCode::kOutOfMemory,
                         "%s: the storage has %zu bytes, two slots of %zu need %zu "
                         "(checkpoint_storage_bytes(spec))",
                         op, storage.size, *slot_bytes, need);
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

// Reads and verifies the record of slot `slot`. A storage read error is
// returned as a Status; an invalid record is a valid == false SlotState.
Status inspect_slot(const Storage& storage, std::size_t slot_bytes, std::uint32_t slot,
                    SlotState* out) {
  *out = SlotState();
  const std::size_t base = slot * slot_bytes;
  unsigned char header[kCheckpointHeaderBytes];
  TERN_RETURN_IF_ERROR(read_slot(storage, slot, base, header, sizeof header));
  if (std::memcmp(header, kCheckpointMagic, 8) != 0) {
    out->why = "no checkpoint";
    return Status();
  }
  if (get_u32(header + 8) != kCheckpointVersion) {
    out->why = "unknown version";
    return Status();
  }
  const std::uint32_t flags = get_u32(header + 12);
  const std::uint64_t file_bytes = get_u64(header + 24);
  if ((flags & ~kFlagRng) != 0 || file_bytes != slot_bytes - kCheckpointHeaderBytes - 4) {
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
  out->valid = true;
  out->sequence = get_u64(header + 16);
  out->file_bytes = file_bytes;
  out->has_rng = (flags & kFlagRng) != 0;
  out->rng.state = get_u64(header + 32);
  out->rng.increment = get_u64(header + 40);
  return Status();
}

// The newest valid slot (or -1), with both slots' states.
Status inspect(const Storage& storage, std::size_t slot_bytes, SlotState slots[2], int* newest) {
  TERN_RETURN_IF_ERROR(inspect_slot(storage, slot_bytes, 0, &slots[0]));
  TERN_RETURN_IF_ERROR(inspect_slot(storage, slot_bytes, 1, &slots[1]));
  *newest = -1;
  for (int i = 0; i < 2; ++i) {
    if (slots[i].valid && (*newest < 0 || slots[i].sequence > slots[*newest].sequence)) *newest = i;
  }
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

// A ByteSource reading the model file embedded in a slot.
struct SlotSource {
  const Storage* storage;
  std::size_t base;
  static Status read(void* context, std::size_t offset, void* data, std::size_t bytes) {
    const auto* self = static_cast<const SlotSource*>(context);
    return self->storage->read(self->storage->context, self->base + offset, data, bytes);
  }
};

}  // namespace

Status save_checkpoint(const Model& model, const Rng* rng, const Storage& storage,
                       CheckpointInfo* info) {
  const char* op = "save_checkpoint";
  std::size_t slot_bytes = 0;
  TERN_RETURN_IF_ERROR(check_storage(op, true, model, storage, &slot_bytes));
  // Before anything is written, so a non-finite state leaves both slots.
  TERN_RETURN_IF_ERROR(detail::check_finite_state(op, model, true));
  SlotState slots[2];
  int newest = -1;
  TERN_RETURN_IF_ERROR(inspect(storage, slot_bytes, slots, &newest));
  // Never the slot of the newest valid checkpoint.
  const std::uint32_t target = newest == 0 ? 1u : 0u;
  const std::uint64_t sequence = newest < 0 ? 1 : slots[newest].sequence + 1;

  unsigned char header[kCheckpointHeaderBytes] = {};
  std::memcpy(header, kCheckpointMagic, 8);
  put_u32(header + 8, kCheckpointVersion);
  put_u32(header + 12, rng != nullptr ? kFlagRng : 0u);
  put_u64(header + 16, sequence);
  put_u64(header + 24, slot_bytes - kCheckpointHeaderBytes - 4);
  if (rng != nullptr) {
    const RngState r = rng->save();
    put_u64(header + 32, r.state);
    put_u64(header + 40, r.increment);
  }
  const std::size_t base = target * slot_bytes;
  SlotWriter w{&storage, base, base + slot_bytes - 4, 0};
  TERN_RETURN_IF_ERROR(SlotWriter::write(&w, header, sizeof header));
  TERN_RETURN_IF_ERROR(save_model(model, ByteSink{&SlotWriter::write, &w}, true));
  if (w.at != w.end) {
    return Status::error(StatusCode::kFailedPrecondition,
                         "%s: the model file took %zu bytes of a %zu-byte slot", op,
                         w.at - base, slot_bytes);
  }
  // The checksum goes last: until it is complete the slot is not valid.
  unsigned char tail[4];
  put_u32(tail, w.crc);
  TERN_RETURN_IF_ERROR(storage.write(storage.context, w.end, tail, 4));
  if (storage.sync != nullptr) TERN_RETURN_IF_ERROR(storage.sync(storage.context));
  if (info != nullptr) {
    info->sequence = sequence;
    info->slot = target;
    info->steps = model.steps();
  }
  return Status();
}

Status load_checkpoint(Model& model, Rng* rng, const Storage& storage, CheckpointInfo* info) {
  const char* op = "load_checkpoint";
  std::size_t slot_bytes = 0;
  TERN_RETURN_IF_ERROR(check_storage(op, false, model, storage, &slot_bytes));
  SlotState slots[2];
  int newest = -1;
  TERN_RETURN_IF_ERROR(inspect(storage, slot_bytes, slots, &newest));
  if (newest < 0) {
    return Status::error(StatusCode::kCorruptData,
                         "%s: no valid checkpoint (slot 0: %s, slot 1: %s)", op, slots[0].why,
                         slots[1].why);
  }
  const SlotState& s = slots[newest];
  if (rng != nullptr && !s.has_rng) {
    return Status::error(StatusCode::kFailedPrecondition,
                         "%s: an RNG state was requested but checkpoint %llu has none", op,
                         static_cast<unsigned long long>(s.sequence));
  }
  SlotSource where{&storage, static_cast<std::size_t>(newest) * slot_bytes + kCheckpointHeaderBytes};
  ByteSource src;
  src.read = &SlotSource::read;
  src.context = &where;
  src.size = static_cast<std::size_t>(s.file_bytes);
  TERN_RETURN_IF_ERROR(load_model(model, src, true));
  if (rng != nullptr) rng->restore(s.rng);
  if (info != nullptr) {
    info->sequence = s.sequence;
    info->slot = static_cast<std::uint32_t>(newest);
    info->steps = model.steps();
  }
  return Status();
}

}  // namespace tern
