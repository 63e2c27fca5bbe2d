// SPDX-License-Identifier: Apache-2.0
// Compiles the generated C header in, loads its arrays into a one-off
// inference model (a different layout from the training model that exported
// them) and checks that the outputs are bit for bit those the exporting
// model computed. Exit status 0 on success.
#include <cstdio>
#include <cstring>

#include "export_fixture.h"
#include "exported_expected.h"
#include "exported_net.h"
#include "tern/kernels/isa_selection.h"
#include "tern/runtime/model.h"
#include "tern/runtime/persist.h"

extern "C" unsigned long exported_net_c_floats(void);

int main() {
  using namespace export_fixture;
  alignas(64) static unsigned char memory[tern::arena_bytes(kInferSpec)];
  tern::Arena arena;
  tern::Model model;
  tern::Status s = arena.attach(memory, sizeof memory);
  if (s.ok()) s = model.build(kInferSpec, arena);
  if (s.ok()) {
    s = tern::load_parameters(model, exported_net_architecture, EXPORTED_NET_ARCHITECTURE_WORDS,
                              exported_net_parameters, EXPORTED_NET_PARAMETER_COUNT);
  }
  float in[kRows * 6];
  inputs(in);
  if (s.ok()) s = model.forward(in, 6, kRows);
  if (!s.ok()) {
    std::printf("export consumer: %s\n", s.message());
    return 1;
  }
  const tern::MatrixView<const float> y = model.output();
  static_assert(sizeof exported_expected == kRows * 3 * sizeof(float), "expected outputs");
  const bool same = std::memcmp(y.data, exported_expected, sizeof exported_expected) == 0;
  // The same header compiled as C99 sees the same arrays.
  const bool c_ok = exported_net_c_floats() == EXPORTED_NET_PARAMETER_COUNT;
  tern::Isa isa = tern::Isa::kScalar;
  tern::SelectionReason reason = tern::SelectionReason::kNone;
  tern::active_isa(&isa, &reason);
  std::printf("export consumer (%s): %zu parameters from the header; outputs %s; C view %s\n",
              tern::isa_name(isa), static_cast<std::size_t>(EXPORTED_NET_PARAMETER_COUNT),
              same ? "bit-identical" : "DIFFER", c_ok ? "agrees" : "DIFFERS");
  return same && c_ok ? 0 : 1;
}
