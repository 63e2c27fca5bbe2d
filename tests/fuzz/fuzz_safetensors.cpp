// SPDX-License-Identifier: Apache-2.0
// libFuzzer target: arbitrary bytes as a safetensors file for
// load_safetensors, into every model of fuzz_model.h with the default
// names. Besides the sanitizers' checks it asserts the reader's promises:
// validate_safetensors and load_safetensors agree; a rejected file leaves
// the model's parameters, moments and step count exactly as they were; an
// accepted file, saved again with save_safetensors and loaded into the
// model, gives the same parameters (the round trip is bit-identical).
// Seeds: tests/fuzz/corpus/safetensors (one small file per model shape).
#include <cstddef>
#include <cstdint>
#include <vector>

#include "fuzz_model.h"
#include "tern/runtime/safetensors.h"

using namespace tern;
using fuzz::models;
using fuzz::require;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static std::vector<unsigned char> saved;
  for (std::size_t i = 0; i < fuzz::kFuzzSpecCount; ++i) {
    Model& model = models()[i];
    const std::uint32_t before = fuzz::fingerprint(model);
    const Status checked = validate_safetensors(model, memory_source(data, size));
    require(fuzz::fingerprint(model) == before);
    const Status s = load_safetensors(model, memory_source(data, size));
    require(s.code() == checked.code());
    if (!s.ok()) {
      require(fuzz::fingerprint(model) == before);
      continue;
    }
    const std::uint32_t loaded = fuzz::fingerprint(model);
    Status sized;
    const std::size_t bytes = safetensors_bytes(model, nullptr, 0, &sized);
    require(sized.ok());
    saved.assign(bytes, 0);
    MemorySink sink(saved.data(), saved.size());
    require(save_safetensors(model, sink.sink()).ok());
    model.initialize(2);
    require(load_safetensors(model, memory_source(saved.data(), saved.size())).ok());
    require(fuzz::fingerprint(model) == loaded);
    model.initialize(1);  // the next input starts from the same model
  }
  return 0;
}
