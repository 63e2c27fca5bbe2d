// SPDX-License-Identifier: Apache-2.0
// Writes the seed corpora of the fuzz targets (tests/fuzz/corpus/):
//   model_loader/  a model file of every model of fuzz_model.h, weights only
//                  and (training models) with optimizer state; also the
//                  seeds of tern-fuzz-capi-load
//   checkpoint/    for every training model, a control byte (fuzz_checkpoint
//                  .cpp: no CRC fix-ups, the model's index among the
//                  training models) and its two-slot storage after one save
//                  and after two
//   idx/           small valid IDX image and label files
//   idx_files/     IDX pairs for tern-fuzz-idx-files: a 2-byte image length,
//                  the image file, the label file; gzip'ed, plain, mixed
// Run from the repository root:
//   build/fuzz/tests/fuzz/tern-fuzz-seeds tests/fuzz/corpus
#include <zlib.h>

#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "fuzz_model.h"
#include "tern/runtime/checkpoint.h"
#include "tern/runtime/persist.h"

using namespace tern;

namespace {

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

// gzip (RFC 1952) of `raw`, in memory.
std::vector<unsigned char> gzip(const std::vector<unsigned char>& raw) {
  z_stream z{};
  // 15 + 16: a gzip header and trailer around the deflate stream.
  if (deflateInit2(&z, Z_BEST_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
    return {};
  }
  std::vector<unsigned char> out(deflateBound(&z, static_cast<uLong>(raw.size())) + 32);
  z.next_in = const_cast<unsigned char*>(raw.data());
  z.avail_in = static_cast<uInt>(raw.size());
  z.next_out = out.data();
  z.avail_out = static_cast<uInt>(out.size());
  const int r = deflate(&z, Z_FINISH);
  out.resize(z.total_out);
  deflateEnd(&z);
  return r == Z_STREAM_END ? out : std::vector<unsigned char>{};
}

std::vector<unsigned char> pair(const std::vector<unsigned char>& images,
                                const std::vector<unsigned char>& labels) {
  std::vector<unsigned char> out = {static_cast<unsigned char>(images.size()),
                                    static_cast<unsigned char>(images.size() >> 8)};
  out.insert(out.end(), images.begin(), images.end());
  out.insert(out.end(), labels.begin(), labels.end());
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s <corpus directory>\n", argv[0]);
    return 2;
  }
  const std::string dir = argv[1];
  auto* models = new fuzz::FuzzModels;
  if (!models->build()) {
    std::fprintf(stderr, "building the fuzz models failed\n");
    return 1;
  }
  bool ok = true;
  unsigned training_index = 0;
  for (std::size_t i = 0; i < fuzz::kFuzzSpecCount; ++i) {
    const ModelSpec& spec = fuzz::kFuzzSpecs[i];
    Model& model = (*models)[i];
    const bool training = spec.mode == Mode::kTraining;
    if (training) {
      for (std::uint32_t t = 0; t < model.tensor_count(); ++t) {
        const Tensor x = model.tensor(t);
        for (std::size_t k = 0; k < x.moment1.size; ++k) x.moment1[k] = 0.01f * float(k + t);
        for (std::size_t k = 0; k < x.moment2.size; ++k) x.moment2[k] = 0.001f * float(k + 1);
      }
      model.set_steps(7);
    }
    const std::string name = "model-" + std::to_string(i);
    for (bool state : {false, true}) {
      if (state && !training) continue;
      std::vector<unsigned char> file(model_file_bytes(spec, state));
      MemorySink sink(file.data(), file.size());
      ok = ok && save_model(model, sink.sink(), state).ok() &&
           write(dir + "/model_loader/" + name + (state ? "-state" : "-weights"), file);
    }
    if (!training) continue;
    Flash flash{std::vector<unsigned char>(checkpoint_storage_bytes(spec), 0xff)};
    Storage storage;
    storage.read = &flash_read;
    storage.write = &flash_write;
    storage.context = &flash;
    storage.size = flash.bytes.size();
    Rng rng(3);
    const unsigned char control = static_cast<unsigned char>(training_index++ << 2);
    for (const char* saves : {"one", "two"}) {
      ok = ok && save_checkpoint(model, &rng, storage).ok();
      std::vector<unsigned char> input = {control};
      input.insert(input.end(), flash.bytes.begin(), flash.bytes.end());
      ok = ok && write(dir + "/checkpoint/checkpoint-" + std::to_string(i) + "-" + saves, input);
      model.set_steps(model.steps() + 1);
    }
  }
  delete models;
  // IDX: 2 images of 2 x 3 pixels, 3 labels.
  const std::vector<unsigned char> images = {0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 3,
                                             0, 17, 34, 51, 68, 85, 102, 119, 136, 153, 170, 255};
  const std::vector<unsigned char> labels3 = {0, 0, 8, 1, 0, 0, 0, 3, 9, 0, 4};
  const std::vector<unsigned char> labels2 = {0, 0, 8, 1, 0, 0, 0, 2, 9, 0};
  ok = ok && write(dir + "/idx/images", images) && write(dir + "/idx/labels", labels3);
  ok = ok && write(dir + "/idx_files/gzip-pair", pair(gzip(images), gzip(labels2))) &&
       write(dir + "/idx_files/plain-pair", pair(images, labels2)) &&
       write(dir + "/idx_files/mixed-pair", pair(gzip(images), labels2));
  if (!ok) std::fprintf(stderr, "writing the corpus into %s failed\n", dir.c_str());
  return ok ? 0 : 1;
}
