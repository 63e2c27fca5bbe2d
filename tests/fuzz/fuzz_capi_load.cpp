// SPDX-License-Identifier: Apache-2.0
// libFuzzer target: arbitrary bytes through the C API's tern_model_load
// (tern.h), into C models of the architectures of fuzz_model.h (converted
// to tern_spec, the layer and enum values mirror the C++ ones), weights
// only and with optimizer state, once as given and once with the trailing
// CRC-32 recomputed. It asserts the C API's promises: a rejected file
// leaves the model unchanged (its saved bytes with optimizer state are
// compared), the error code equals the return value and the message is a
// terminated string; an accepted file with state saves back to the same
// payload.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "fuzz_model.h"
#include "tern.h"
#include "tern/runtime/model_file.h"

using tern::fuzz::require;

namespace {

struct CModel {
  tern_model* model = nullptr;
  bool training = false;
  std::size_t file_bytes = 0;  // with optimizer state for training models
};

struct CModels {
  CModel models[tern::fuzz::kFuzzSpecCount];
  std::vector<unsigned char> arenas[tern::fuzz::kFuzzSpecCount];
};

CModels& c_models() {
  static CModels* all = [] {
    auto* m = new CModels;
    for (std::size_t i = 0; i < tern::fuzz::kFuzzSpecCount; ++i) {
      const tern::ModelSpec& s = tern::fuzz::kFuzzSpecs[i];
      tern_layer layers[tern::kMaxLayers];
      for (std::uint32_t l = 0; l < s.layer_count; ++l) {
        const tern::LayerSpec& ls = s.layers[l];
        layers[l] = tern_layer{static_cast<std::int32_t>(ls.kind),
                               static_cast<std::int32_t>(ls.act), ls.out, ls.from,
                               static_cast<std::int32_t>(ls.init)};
      }
      const tern_spec spec = {s.input_width,
                              s.rows,
                              static_cast<std::int32_t>(s.mode),
                              static_cast<std::int32_t>(s.loss),
                              static_cast<std::int32_t>(s.optimizer),
                              layers,
                              s.layer_count,
                              s.divergence_guard ? 1 : 0,
                              s.fused_update ? 1 : 0,
                              s.example_rows,
                              s.accumulation_rows};
      const std::size_t bytes = tern_arena_bytes(&spec);
      require(bytes != 0);
      m->arenas[i].assign(bytes + TERN_ARENA_ALIGNMENT, 0);
      const auto addr = reinterpret_cast<std::uintptr_t>(m->arenas[i].data());
      void* arena = m->arenas[i].data() + (TERN_ARENA_ALIGNMENT - addr % TERN_ARENA_ALIGNMENT) %
                                              TERN_ARENA_ALIGNMENT;
      require(tern_model_create(&spec, arena, bytes, &m->models[i].model, nullptr) == TERN_OK);
      m->models[i].training = s.mode == tern::Mode::kTraining;
      m->models[i].file_bytes = tern_model_file_bytes(&spec, m->models[i].training ? 1 : 0);
    }
    return m;
  }();
  return *all;
}

// The model's whole state as bytes (a save with optimizer state when it
// has one).
void snapshot(const CModel& m, std::vector<unsigned char>* out) {
  out->assign(m.file_bytes, 0);
  std::size_t written = 0;
  require(tern_model_save(m.model, out->data(), out->size(), m.training ? 1 : 0, &written,
                          nullptr) == TERN_OK &&
          written == m.file_bytes);
}

void load_into_every_model(const unsigned char* data, std::size_t size) {
  static std::vector<unsigned char> before, after;
  for (CModel& m : c_models().models) {
    for (int state : {0, 1}) {
      snapshot(m, &before);
      tern_error err;
      std::memset(&err, 0x55, sizeof err);  // no stale terminator to rely on
      const tern_status s = tern_model_load(m.model, data, size, state, &err);
      require(err.code == s);
      require(std::memchr(err.message, '\0', sizeof err.message) != nullptr);
      if (s != TERN_OK) {
        snapshot(m, &after);
        require(after == before);
        continue;
      }
      if (state != 0) {
        // The payload (parameters, moments) saves back to the same bytes;
        // the header may differ in reserved bytes (fuzz_model_loader.cpp).
        snapshot(m, &after);
        const std::size_t header = tern::model_file_header_bytes(
            tern::fuzz::kFuzzSpecs[static_cast<std::size_t>(&m - c_models().models)].layer_count);
        require(after.size() == size && size >= header + tern::fuzz::kCrcBytes);
        require(std::memcmp(after.data() + header, data + header,
                            size - header - tern::fuzz::kCrcBytes) == 0);
      }
      require(tern_model_initialize(m.model, 1, nullptr) == TERN_OK);
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  load_into_every_model(data, size);
  if (size >= tern::fuzz::kCrcBytes) {
    static std::vector<unsigned char> fixed;
    fixed.assign(data, data + size);
    tern::fuzz::fix_crc(fixed.data(), fixed.data() + size - tern::fuzz::kCrcBytes);
    load_into_every_model(fixed.data(), size);
  }
  return 0;
}
