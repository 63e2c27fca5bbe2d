// libFuzzer target: arbitrary bytes as a model file (load_model, with and
// without optimizer state) and as the first slot of checkpoint storage
// (load_checkpoint). Besides the sanitizers' checks it asserts the loader's
// promise: a rejected file leaves the model's parameters, moments and step
// count exactly as they were.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "fuzz_model.h"
#include "tern/runtime/checkpoint.h"
#include "tern/runtime/persist.h"

using namespace tern;

namespace {

alignas(64) unsigned char g_arena[arena_bytes(fuzz::kFuzzSpec)];
Arena g_arena_obj;
Model g_model;

// Parameters, moments and step count as one checksum.
std::uint32_t fingerprint(const Model& m) {
  std::uint32_t c = crc32(nullptr, 0);
  for (std::uint32_t t = 0; t < m.tensor_count(); ++t) {
    const Tensor x = m.tensor(t);
    for (const Span<float>& s : {x.value, x.moment1, x.moment2}) {
      c = crc32(s.data, s.size * sizeof(float), c);
    }
  }
  const std::uint32_t steps = m.steps();
  return crc32(&steps, sizeof steps, c);
}

void require(bool ok) {
  if (!ok) std::abort();
}

struct Input {
  const std::uint8_t* data;
  std::size_t size;
};

// Storage whose slot 0 starts with the input; everything else reads as
// erased flash.
Status storage_read(void* context, std::size_t offset, void* out, std::size_t bytes) {
  const auto* in = static_cast<const Input*>(context);
  auto* o = static_cast<unsigned char*>(out);
  for (std::size_t i = 0; i < bytes; ++i) {
    o[i] = offset + i < in->size ? in->data[offset + i] : 0xff;
  }
  return Status();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (!g_model.built()) {
    require(g_arena_obj.attach(g_arena, sizeof g_arena).ok());
    require(g_model.build(fuzz::kFuzzSpec, g_arena_obj).ok());
  }
  g_model.initialize(1);
  for (bool state : {false, true}) {
    const std::uint32_t before = fingerprint(g_model);
    const Status s = load_model(g_model, memory_source(data, size), state);
    if (!s.ok()) require(fingerprint(g_model) == before);
  }
  Input in{data, size};
  Storage storage;
  storage.read = &storage_read;
  storage.context = &in;
  storage.size = checkpoint_storage_bytes(fuzz::kFuzzSpec);
  Rng rng(1);
  const std::uint32_t before = fingerprint(g_model);
  const Status s = load_checkpoint(g_model, &rng, storage);
  if (!s.ok()) require(fingerprint(g_model) == before);
  return 0;
}
