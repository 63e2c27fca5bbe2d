// SPDX-License-Identifier: Apache-2.0
// The FetchContent example's program, and the C++ program every consumer
// test builds (tests/consumers/common.cmake, .ci/consumers): a small MLP in a
// static arena sized at compile time, trained on a fixed problem. Exits 0
// when the loss fell to below half and the headers and the library agree on
// the version.
#include <cstdio>
#include <cstring>

#include "tern/runtime/model.h"
#include "tern/version.h"

namespace {
constexpr tern::ModelSpec kSpec = tern::mlp({4, 8, 3}, 6, tern::Mode::kTraining);
alignas(64) unsigned char g_arena[tern::arena_bytes(kSpec)];
}  // namespace

int main() {
  if (std::strcmp(tern::version(), tern::library_version()) != 0) {
    std::printf("headers %s, library %s\n", tern::version(), tern::library_version());
    return 1;
  }
  // Class c of sample s: the input is one-hot-ish at position c.
  float x[6][4] = {};
  std::uint32_t labels[6];
  for (int s = 0; s < 6; ++s) {
    labels[s] = static_cast<std::uint32_t>(s % 3);
    x[s][s % 3] = 1.0f;
    x[s][3] = 0.25f * static_cast<float>(s);
  }
  tern::Arena arena;
  tern::Model model;
  tern::Status st = arena.attach(g_arena, sizeof g_arena);
  if (st.ok()) st = model.build(kSpec, arena);
  if (st.ok()) model.initialize(1);
  tern::OptimizerParams params;
  params.learning_rate = 0.01f;
  if (st.ok()) st = model.set_optimizer(params);
  float first = 0, last = 0;
  for (int step = 0; st.ok() && step < 100; ++step) {
    tern::Batch batch{&x[0][0], 4, 6, labels};
    st = model.train_step(batch, &last);
    if (step == 0) first = last;
  }
  if (!st.ok()) {
    std::printf("error: %s\n", st.message());
    return 1;
  }
  std::printf("tern %s (C++): %zu-byte arena, ISA %s, loss %.4f -> %.4f\n", tern::version(),
              sizeof g_arena, tern::isa_name(model.isa()), first, last);
  return last < 0.5f * first ? 0 : 1;
}
