// SPDX-License-Identifier: Apache-2.0
// libFuzzer target: arbitrary bytes as checkpoint storage (two slots, an
// in-memory Storage) for load_checkpoint, into a training model of
// fuzz_model.h. The first input byte steers: bits 0 and 1 recompute the
// CRC-32s of slot 0 and slot 1 (the embedded model file's, then the
// record's, as checkpoint.h lays them out), so that the slot selection by
// sequence number, the RNG flag and the model file loader behind both
// checksums are fuzzed; the bits above pick the model. The rest of the
// input is the storage from offset 0; storage beyond it reads as erased
// flash (0xff). A rejected checkpoint must leave the model and the RNG
// exactly as they were.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "fuzz_model.h"
#include "tern/runtime/checkpoint.h"

using namespace tern;
using fuzz::models;
using fuzz::require;

namespace {

struct Image {
  std::vector<unsigned char> bytes;
};

Status image_read(void* context, std::size_t offset, void* out, std::size_t bytes) {
  const auto* image = static_cast<const Image*>(context);
  // The loader reads inside storage.size = bytes.size(); refuse anything else
  // loudly, since that would be a loader bug.
  require(offset <= image->bytes.size() && bytes <= image->bytes.size() - offset);
  std::memcpy(out, image->bytes.data() + offset, bytes);
  return Status();
}

Status image_write(void*, std::size_t, const void*, std::size_t) {
  std::abort();  // loading never writes
}

// Recomputes slot `slot`'s two checksums: the embedded model file's (its
// last 4 bytes) and the record's (after the file). The offsets come from
// checkpoint.h's constants and functions (slot i at i *
// checkpoint_slot_bytes(spec), the model file after kCheckpointHeaderBytes,
// model_file_bytes(spec, true) long); a layout change there (e.g. slots
// aligned to an erase size) must be followed here.
void fix_slot(Image& image, const ModelSpec& spec, std::size_t slot) {
  const std::size_t slot_bytes = checkpoint_slot_bytes(spec);
  const std::size_t file = model_file_bytes(spec, true);
  unsigned char* base = image.bytes.data() + slot * slot_bytes;
  unsigned char* payload = base + kCheckpointHeaderBytes;
  fuzz::fix_crc(payload, payload + file - fuzz::kCrcBytes);
  fuzz::fix_crc(base, payload + file);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const unsigned control = data[0];
  // The training models of kFuzzSpecs.
  std::size_t training[fuzz::kFuzzSpecCount];
  std::size_t count = 0;
  for (std::size_t i = 0; i < fuzz::kFuzzSpecCount; ++i) {
    if (fuzz::kFuzzSpecs[i].mode == Mode::kTraining) training[count++] = i;
  }
  const std::size_t which = training[(control >> 2) % count];
  const ModelSpec& spec = fuzz::kFuzzSpecs[which];
  Model& model = models()[which];

  static Image image;
  const std::size_t storage_bytes = checkpoint_storage_bytes(spec);
  image.bytes.assign(storage_bytes, 0xff);
  const std::size_t given = size - 1 < storage_bytes ? size - 1 : storage_bytes;
  std::memcpy(image.bytes.data(), data + 1, given);
  for (std::size_t slot = 0; slot < 2; ++slot) {
    if (control & (1u << slot)) fix_slot(image, spec, slot);
  }
  Storage storage;
  storage.read = &image_read;
  storage.write = &image_write;
  storage.context = &image;
  storage.size = storage_bytes;

  Rng rng(5, 7);
  const RngState rng_before = rng.save();
  const std::uint32_t before = fuzz::fingerprint(model);
  CheckpointInfo info;
  const Status s = load_checkpoint(model, &rng, storage, &info);
  if (!s.ok()) {
    require(fuzz::fingerprint(model) == before);
    require(rng.save().state == rng_before.state && rng.save().increment == rng_before.increment);
  } else {
    require(info.slot < 2);
    model.initialize(1);  // the next input starts from the same model
  }
  // Without an RNG: the path that ignores the stored RNG state.
  const Status s2 = load_checkpoint(model, nullptr, storage, nullptr);
  if (!s2.ok()) {
    require(fuzz::fingerprint(model) == before);
  } else {
    model.initialize(1);
  }
  return 0;
}
