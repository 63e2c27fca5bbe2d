// SPDX-License-Identifier: Apache-2.0
// libFuzzer target: arbitrary bytes as a model file for load_model, into
// every model of fuzz_model.h (each kind the tests build), weights only and
// with optimizer state; once as given (the checksum rejects almost every
// mutation) and once with the trailing CRC-32 recomputed, so that what lies
// behind the checksum — the spec validation of the file's architecture, the
// parameter and state counts, the architecture comparison, the optimizer
// checks and the finiteness pass — is fuzzed too. Besides the sanitizers'
// checks it asserts the loader's promises: a rejected file leaves the
// model's parameters, moments and step count exactly as they were; an
// accepted file with optimizer state saves back to the same payload.
// (Checkpoints: fuzz_checkpoint.cpp; the C API: fuzz_capi_load.cpp.)
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "fuzz_model.h"
#include "tern/runtime/persist.h"

using namespace tern;
using fuzz::models;
using fuzz::require;

namespace {

void load_into_every_model(const unsigned char* data, std::size_t size) {
  static std::vector<unsigned char> saved;
  for (std::size_t i = 0; i < fuzz::kFuzzSpecCount; ++i) {
    Model& model = models()[i];
    for (bool state : {false, true}) {
      const std::uint32_t before = fuzz::fingerprint(model);
      const Status s = load_model(model, memory_source(data, size), state);
      if (!s.ok()) {
        require(fuzz::fingerprint(model) == before);
        continue;
      }
      if (state) {
        // Parameters and moments all came from the file: saved again, the
        // payload is the same bytes. (Not the whole file: the loader takes
        // any value in the layer records' reserved bytes, the u16 after the
        // activation and `from` of a non-residual layer, and the save
        // writes 0 there; the fuzzer found that on its first run.)
        saved.assign(size + 1, 0);
        MemorySink sink(saved.data(), saved.size());
        require(save_model(model, sink.sink(), true).ok());
        const std::size_t header = model_file_header_bytes(model.spec().layer_count);
        require(sink.size() == size && size >= header + fuzz::kCrcBytes);
        require(std::memcmp(saved.data() + header, data + header,
                            size - header - fuzz::kCrcBytes) == 0);
      }
      model.initialize(1);  // the next input starts from the same model
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  load_into_every_model(data, size);
  if (size >= fuzz::kCrcBytes) {
    static std::vector<unsigned char> fixed;
    fixed.assign(data, data + size);
    fuzz::fix_crc(fixed.data(), fixed.data() + size - fuzz::kCrcBytes);
    load_into_every_model(fixed.data(), size);
  }
  return 0;
}
