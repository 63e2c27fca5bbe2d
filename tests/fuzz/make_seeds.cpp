// Writes the seed corpus of the fuzz targets (tests/fuzz/corpus/): valid
// model files with and without optimizer state, a valid checkpoint slot,
// and small valid IDX image and label files. Run from the repository root:
//   build/fuzz/tests/fuzz/tern-fuzz-seeds tests/fuzz/corpus
#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "fuzz_model.h"
#include "tern/runtime/checkpoint.h"
#include "tern/runtime/persist.h"

using namespace tern;

namespace {

alignas(64) unsigned char g_arena[arena_bytes(fuzz::kFuzzSpec)];

bool write(const std::string& path, const std::vector<unsigned char>& bytes) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) return false;
  const bool ok = std::fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size();
  return std::fclose(f) == 0 && ok;
}

struct Flash {
  std::vector<unsigned char> bytes;
};
Status flash_read(void* c, std::size_t off, void* data, std::size_t n) {
  auto* f = static_cast<Flash*>(c);
  std::copy(f->bytes.begin() + long(off), f->bytes.begin() + long(off + n),
            static_cast<unsigned char*>(data));
  return Status();
}
Status flash_write(void* c, std::size_t off, const void* data, std::size_t n) {
  auto* f = static_cast<Flash*>(c);
  const auto* p = static_cast<const unsigned char*>(data);
  std::copy(p, p + n, f->bytes.begin() + long(off));
  return Status();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s <corpus directory>\n", argv[0]);
    return 2;
  }
  const std::string dir = argv[1];
  Arena arena;
  Model model;
  Status s = arena.attach(g_arena, sizeof g_arena);
  if (s.ok()) s = model.build(fuzz::kFuzzSpec, arena);
  if (!s.ok()) {
    std::fprintf(stderr, "%s\n", s.message());
    return 1;
  }
  model.initialize(1);
  for (std::uint32_t t = 0; t < model.tensor_count(); ++t) {
    const Tensor x = model.tensor(t);
    for (std::size_t i = 0; i < x.moment1.size; ++i) x.moment1[i] = 0.01f * float(i + t);
    for (std::size_t i = 0; i < x.moment2.size; ++i) x.moment2[i] = 0.001f * float(i + 1);
  }
  model.set_steps(7);
  bool ok = true;
  for (bool state : {false, true}) {
    std::vector<unsigned char> file(model_file_bytes(fuzz::kFuzzSpec, state));
    MemorySink sink(file.data(), file.size());
    ok = ok && save_model(model, sink.sink(), state).ok() &&
         write(dir + "/model_loader/" + (state ? "model-with-state" : "model-weights"), file);
  }
  Flash flash{std::vector<unsigned char>(checkpoint_storage_bytes(fuzz::kFuzzSpec), 0xff)};
  Storage storage;
  storage.read = &flash_read;
  storage.write = &flash_write;
  storage.context = &flash;
  storage.size = flash.bytes.size();
  Rng rng(3);
  ok = ok && save_checkpoint(model, &rng, storage).ok();
  flash.bytes.resize(checkpoint_slot_bytes(fuzz::kFuzzSpec));  // slot 0 only
  ok = ok && write(dir + "/model_loader/checkpoint-slot", flash.bytes);
  // IDX: 2 images of 2 x 3 pixels, 3 labels.
  ok = ok && write(dir + "/idx/images", {0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 3,
                                         0, 17, 34, 51, 68, 85, 102, 119, 136, 153, 170, 255});
  ok = ok && write(dir + "/idx/labels", {0, 0, 8, 1, 0, 0, 0, 3, 9, 0, 4});
  if (!ok) std::fprintf(stderr, "writing the corpus into %s failed\n", dir.c_str());
  return ok ? 0 : 1;
}
