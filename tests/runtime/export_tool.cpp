// SPDX-License-Identifier: Apache-2.0
// Trains the fixture model for a few deterministic steps, then writes
//   argv[1]: the model as a C header (tern::export_c_header)
//   argv[2]: a header with the outputs the trained model computes for the
//            fixture's inputs, and those inputs, as exact hexadecimal float
//            literals.
#include <cstdio>
#include <vector>

#include "export_fixture.h"
#include "tern/runtime/model.h"
#include "tern/runtime/persist.h"

namespace {

tern::Status write_file(void* context, const void* data, std::size_t bytes) {
  if (std::fwrite(data, 1, bytes, static_cast<std::FILE*>(context)) != bytes) {
    return tern::Status::error(tern::StatusCode::kIoError, "write failed");
  }
  return tern::Status();
}

int fail(const char* what, const tern::Status& s) {
  std::fprintf(stderr, "tern-export-tool: %s: %s\n", what, s.message());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s MODEL_HEADER EXPECTED_HEADER\n", argv[0]);
    return 2;
  }
  using namespace export_fixture;
  alignas(64) static unsigned char memory[tern::arena_bytes(kTrainSpec)];
  tern::Arena arena;
  tern::Model model;
  tern::Status s = arena.attach(memory, sizeof memory);
  if (s.ok()) s = model.build(kTrainSpec, arena);
  if (!s.ok()) return fail("build", s);
  model.initialize(17);

  // Twenty steps on seeded data, so the weights are trained, not initial.
  tern::Rng rng(5);
  std::vector<float> x(8 * 6);
  std::vector<std::uint32_t> labels(8);
  for (int step = 0; step < 20; ++step) {
    for (float& v : x) v = rng.symmetric(1.0f);
    for (auto& l : labels) l = rng.below(3);
    tern::Batch b;
    b.x = x.data();
    b.ldx = 6;
    b.rows = 8;
    b.labels = labels.data();
    s = model.train_step(b, nullptr);
    if (!s.ok()) return fail("train", s);
  }

  std::FILE* f = std::fopen(argv[1], "wb");
  if (f == nullptr) return fail("open", tern::Status::error(tern::StatusCode::kIoError, "%s", argv[1]));
  s = tern::export_c_header(model, "exported_net", tern::ByteSink{&write_file, f});
  std::fclose(f);
  if (!s.ok()) return fail("export", s);

  float in[kRows * 6];
  inputs(in);
  s = model.forward(in, 6, kRows);
  if (!s.ok()) return fail("forward", s);
  const tern::MatrixView<const float> y = model.output();
  f = std::fopen(argv[2], "wb");
  if (f == nullptr) return fail("open", tern::Status::error(tern::StatusCode::kIoError, "%s", argv[2]));
  std::fprintf(f, "/* Outputs of the exported model on the fixture inputs. Generated. */\n");
  std::fprintf(f, "static const float exported_expected[%zu] = {\n", kRows * y.cols);
  for (std::size_t i = 0; i < kRows; ++i) {
    for (std::size_t j = 0; j < y.cols; ++j) std::fprintf(f, "  %af,\n", double(y(i, j)));
  }
  std::fprintf(f, "};\n");
  // The inputs too, for programs that cannot call inputs() (C).
  std::fprintf(f, "static const float exported_inputs[%zu] = {\n", kRows * 6);
  for (std::size_t i = 0; i < kRows * 6; ++i) std::fprintf(f, "  %af,\n", double(in[i]));
  std::fprintf(f, "};\n");
  std::fclose(f);
  return 0;
}
