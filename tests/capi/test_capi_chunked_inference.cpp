// SPDX-License-Identifier: Apache-2.0
// tern_model_infer and tern_model_predict take any number of rows: the bits
// of one row at a time, and the rows before a non-finite output delivered.
#include <cstdint>
#include <cstring>
#include <vector>

#include "doctest/doctest.h"
#include "tern.h"
#include "tern/runtime/rng.h"

namespace {

constexpr std::uint32_t kRows = 3, kIn = 4, kOut = 3;
const tern_layer kLayers[] = {
    {TERN_LAYER_DENSE, TERN_ACT_RELU, 6, 0, TERN_INIT_AUTO},
    {TERN_LAYER_DENSE, TERN_ACT_IDENTITY, kOut, 0, TERN_INIT_AUTO},
};
alignas(64) unsigned char g_arena[32 * 1024];

}  // namespace

TEST_CASE("tern_model_infer and tern_model_predict: any rows, the bits of one row at a time") {
  const tern_spec spec = {kIn, kRows, TERN_MODE_INFERENCE, TERN_LOSS_SOFTMAX_CROSS_ENTROPY,
                          TERN_OPTIMIZER_ADAM, kLayers, 2, 0, 0, 0, 0, 0};
  tern_model* model = nullptr;
  tern_error err;
  REQUIRE(tern_model_create(&spec, g_arena, sizeof g_arena, &model, &err) == TERN_OK);
  const std::size_t rows = 3 * kRows + 2;
  std::vector<float> x(rows * kIn);
  tern::Rng rng(8);
  for (float& v : x) v = rng.symmetric(1.0f);

  std::vector<float> y(rows * kOut, -1.0f), one(kOut);
  std::vector<std::uint32_t> classes(rows, 99);
  REQUIRE(tern_model_infer(model, x.data(), kIn, rows, y.data(), kOut, &err) == TERN_OK);
  REQUIRE(tern_model_predict(model, x.data(), kIn, rows, classes.data(), &err) == TERN_OK);
  for (std::size_t r = 0; r < rows; ++r) {
    CAPTURE(r);
    std::uint32_t c = 99;
    REQUIRE(tern_model_infer(model, x.data() + r * kIn, kIn, 1, one.data(), kOut, &err) ==
            TERN_OK);
    REQUIRE(tern_model_predict(model, x.data() + r * kIn, kIn, 1, &c, &err) == TERN_OK);
    CHECK(std::memcmp(y.data() + r * kOut, one.data(), kOut * sizeof(float)) == 0);
    CHECK(classes[r] == c);
  }

  // An input of 3e38 in row 2 * kRows overflows; the rows before it arrive.
  const std::size_t bad = 2 * kRows;
  for (std::size_t c = 0; c < kIn; ++c) x[bad * kIn + c] = 3e38f;
  std::vector<float> partial(rows * kOut, -1.0f);
  CHECK(tern_model_infer(model, x.data(), kIn, rows, partial.data(), kOut, &err) ==
        TERN_NON_FINITE);
  CHECK(std::strstr(err.message, "infer: output row 6 column") != nullptr);
  CHECK(std::memcmp(partial.data(), y.data(), bad * kOut * sizeof(float)) == 0);
  for (std::size_t i = bad * kOut; i < partial.size(); ++i) CHECK(partial[i] == -1.0f);
  CHECK(tern_model_infer(model, x.data(), kIn, 0, partial.data(), kOut, &err) ==
        TERN_INVALID_ARGUMENT);
  CHECK(tern_model_infer(nullptr, x.data(), kIn, 1, partial.data(), kOut, &err) ==
        TERN_INVALID_ARGUMENT);
}
