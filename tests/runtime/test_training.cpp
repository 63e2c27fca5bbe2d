// SPDX-License-Identifier: Apache-2.0
// Training: gradients against finite differences of an independent double
// model (every layer type, whole models, every ISA); bit-identical training
// across ISAs; no heap allocation in a training run; every planned byte used;
// loss going down; bad data rejected.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "alloc_counter.h"
#include "reference_forward.h"
#include "runtime_test_util.h"
#include "tern/runtime/persist.h"
#include "tern/runtime/rng.h"
#include "test_util.h"

using namespace tern;
using tern::test::bits_equal;
using tern::test::contains;
using tern::test::ModelInArena;
using tern::test::perturb;
using tern::test::ReadyModel;

namespace {

using tern::test::IsaScope;
using Data = tern::test::SyntheticData;

// Random inputs in [-1, 1); labels from the class count, targets in [-1, 1).
Data synthetic_data(const ModelSpec& spec, std::size_t count, std::uint64_t seed) {
  return tern::test::synthetic_data(spec, count, seed, 7);
}

Batch batch_of(const ModelSpec& spec, const Data& d, std::size_t rows,
               const std::uint32_t* indices = nullptr) {
  Batch b;
  b.x = d.x.data();
  b.ldx = spec.input_width;
  b.rows = rows;
  b.labels = d.labels.data();
  b.targets = d.targets.data();
  b.ldt = spec.output_width();
  b.indices = indices;
  b.samples = d.count;
  return b;
}

// Compares tern's float gradients with double finite differences, for every
// parameter, with a batch of `rows` rows (fewer than the spec's capacity, so
// partial batches are covered too).
void check_gradients(const ModelSpec& spec, std::size_t rows, std::uint64_t seed) {
  const Data data = synthetic_data(spec, rows, seed);
  for (Isa isa : tern::test::runnable_isas()) {
    CAPTURE(isa_name(isa));
    IsaScope scope(isa);
    ReadyModel m(spec, seed);
    perturb(m.model, seed);
    float loss = 0;
    const Status s = m.model.compute_gradients(batch_of(spec, data, rows), &loss);
    REQUIRE_MESSAGE(s.ok(), s.message());
    tern::test::ReferenceModel ref(m.model);
    const float* targets = data.targets.data();
    const double ref_loss = ref.loss(data.x.data(), rows, data.labels.data(), targets);
    CHECK(std::fabs(double(loss) - ref_loss) <= 1e-5 * (1 + std::fabs(ref_loss)));

    double largest = 0;
    std::vector<std::vector<double>> numeric(m.model.tensor_count());
    for (std::uint32_t t = 0; t < m.model.tensor_count(); ++t) {
      for (std::size_t i = 0; i < m.model.tensor(t).value.size; ++i) {
        numeric[t].push_back(
            ref.numeric_gradient(t, i, data.x.data(), rows, data.labels.data(), targets));
        largest = std::fmax(largest, std::fabs(numeric[t].back()));
      }
    }
    REQUIRE(largest > 1e-3);  // the check is not vacuous
    int bad = 0;
    for (std::uint32_t t = 0; t < m.model.tensor_count(); ++t) {
      const Tensor x = m.model.tensor(t);
      for (std::size_t i = 0; i < x.grad.size; ++i) {
        const double g = x.grad[i], n = numeric[t][i];
        // float forward/backward against a double model: relative 1e-3 of
        // the gradient, plus 1e-4 of the largest gradient for entries that
        // are sums of cancelling terms.
        if (std::fabs(g - n) > 1e-3 * std::fabs(n) + 1e-4 * largest) {
          if (bad++ < 5) {
            MESSAGE("tensor " << t << " (layer " << x.layer << (x.is_bias ? " bias" : " weight")
                              << ") element " << i << ": tern " << g << ", numeric " << n);
          }
        }
      }
    }
    CHECK(bad == 0);
  }
}

const Pointwise kActivations[] = {Pointwise::kRelu, Pointwise::kGelu, Pointwise::kTanh,
                                  Pointwise::kSigmoid};

}  // namespace

TEST_CASE("gradients: Dense with every fused activation, softmax cross-entropy and MSE") {
  for (Pointwise f : {Pointwise::kIdentity, Pointwise::kRelu, Pointwise::kGelu, Pointwise::kTanh,
                      Pointwise::kSigmoid}) {
    CAPTURE(pointwise_name(f));
    check_gradients(ModelSpec::input(6, 6).dense(7, f).dense(3).training(
                        LossKind::kSoftmaxCrossEntropy, OptimizerKind::kAdam),
                    5, 1);
    check_gradients(ModelSpec::input(6, 6).dense(7, f).dense(3).training(LossKind::kMse,
                                                                         OptimizerKind::kSgd),
                    5, 2);
  }
}

TEST_CASE("gradients: standalone activation layers") {
  for (Pointwise f : kActivations) {
    CAPTURE(pointwise_name(f));
    check_gradients(ModelSpec::input(6, 5).dense(7).activation(f).dense(3).training(
                        LossKind::kSoftmaxCrossEntropy, OptimizerKind::kAdam),
                    4, 3);
  }
}

TEST_CASE("gradients: LayerNorm and residual add") {
  check_gradients(ModelSpec::input(6, 5).dense(7).layer_norm().dense(3).training(
                      LossKind::kSoftmaxCrossEntropy, OptimizerKind::kAdam),
                  5, 4);
  // LayerNorm first: its parameters get gradients, but nothing is passed on.
  check_gradients(ModelSpec::input(6, 5).layer_norm().dense(3).training(LossKind::kMse,
                                                                        OptimizerKind::kAdam),
                  5, 5);
  // A residual from an inner point: its delta is added to that point's.
  check_gradients(ModelSpec::input(5, 4)
                      .dense(6, Pointwise::kTanh)
                      .dense(6, Pointwise::kSigmoid)
                      .dense(6)
                      .residual(1)
                      .dense(3)
                      .training(LossKind::kSoftmaxCrossEntropy, OptimizerKind::kAdam),
                  4, 6);
}

TEST_CASE("gradients: whole models — MLP, feed-forward block, two stacked blocks") {
  check_gradients(mlp({12, 16, 8, 4}, 6, Mode::kTraining), 6, 7);
  check_gradients(ffn(5, 8, 16, Mode::kTraining), 5, 8);
  check_gradients(ffn(5, 8, 16, Mode::kTraining, Pointwise::kRelu, LossKind::kMse,
                      OptimizerKind::kSgd),
                  3, 9);
  check_gradients(ffn_block(ffn_block(ModelSpec::input(6, 4), 10), 12)
                      .dense(3)
                      .training(LossKind::kSoftmaxCrossEntropy, OptimizerKind::kAdamW),
                  4, 10);
  // Enough rows for the kernels' packed-panel path (rows >= kPackMinRows).
  check_gradients(mlp({40, 33, 5}, kPackMinRows + 3, Mode::kTraining), kPackMinRows + 1, 11);
}

namespace {

// Trains `spec` for `steps` steps on seeded data with seeded shuffling and
// returns the parameters (and optimizer moments) afterwards.
std::vector<float> train(const ModelSpec& spec, std::size_t steps, const OptimizerParams& p,
                         std::vector<float>* losses) {
  const std::size_t count = 3 * spec.rows + 5;  // batches do not divide the data set
  const Data data = synthetic_data(spec, count, 77);
  ReadyModel m(spec, 2024);
  REQUIRE(m.model.set_optimizer(p).ok());
  std::vector<std::uint32_t> order(count);
  iota(Span<std::uint32_t>{order.data(), count});
  Rng rng(5);
  std::size_t at = count;
  for (std::size_t s = 0; s < steps; ++s) {
    if (at >= count) {
      shuffle(Span<std::uint32_t>{order.data(), count}, rng);
      at = 0;
    }
    const std::size_t rows = std::min<std::size_t>(spec.rows, count - at);
    float loss = 0;
    const Status st = m.model.train_step(batch_of(spec, data, rows, order.data() + at), &loss);
    REQUIRE_MESSAGE(st.ok(), st.message());
    losses->push_back(loss);
    at += rows;
  }
  std::vector<float> out;
  for (std::uint32_t t = 0; t < m.model.tensor_count(); ++t) {
    const Tensor x = m.model.tensor(t);
    for (const Span<float>& sp : {x.value, x.moment1, x.moment2})
      out.insert(out.end(), sp.begin(), sp.end());
  }
  return out;
}

}  // namespace

TEST_CASE("bit identity: the same seed and data give the same bits on every ISA") {
  struct Case {
    const char* name;
    ModelSpec spec;
    OptimizerParams params;
  };
  OptimizerParams adam;
  adam.learning_rate = 2e-3f;
  OptimizerParams sgd;
  sgd.learning_rate = 0.05f;
  sgd.momentum = 0.9f;
  sgd.weight_decay = 1e-4f;
  OptimizerParams adamw = adam;
  adamw.weight_decay = 0.01f;
  const std::vector<Case> cases = {
      {"mlp 23-37-19-5, 7 rows, adam", mlp({23, 37, 19, 5}, 7, Mode::kTraining), adam},
      {"mlp 23-37-19-5, 20 rows (packed panels), sgd",
       mlp({23, 37, 19, 5}, 20, Mode::kTraining, Pointwise::kRelu,
           LossKind::kSoftmaxCrossEntropy, OptimizerKind::kSgd),
       sgd},
      {"ffn block n=17 d=24 d_ff=40, adamw",
       ffn(17, 24, 40, Mode::kTraining, Pointwise::kGelu, LossKind::kMse, OptimizerKind::kAdamW),
       adamw},
  };
  for (const Case& c : cases) {
    CAPTURE(c.name);
    std::vector<float> reference, reference_losses;
    {
      IsaScope scope(Isa::kScalar);
      reference = train(c.spec, 300, c.params, &reference_losses);
    }
    // The run really trains (the comparison is not between untouched weights).
    CHECK(reference_losses.back() < reference_losses.front());
    for (Isa isa : tern::test::runnable_isas()) {
      if (isa == Isa::kScalar) continue;
      CAPTURE(isa_name(isa));
      IsaScope scope(isa);
      std::vector<float> losses;
      const std::vector<float> got = train(c.spec, 300, c.params, &losses);
      CHECK(bits_equal(got, reference));
      CHECK(bits_equal(losses, reference_losses));
    }
  }
}

TEST_CASE("no heap: a whole training run, evaluation and persistence allocate nothing") {
  const ModelSpec spec = mlp({30, 24, 16, 4}, 16, Mode::kTraining);
  const ModelSpec ffn_spec = ffn(16, 12, 20, Mode::kTraining);
  const Data data = synthetic_data(spec, 100, 3);
  const Data ffn_data = synthetic_data(ffn_spec, 48, 4);
  tern::test::AlignedBuffer buffer(arena_bytes(spec) + arena_bytes(ffn_spec));
  std::vector<std::uint32_t> order(100);
  std::vector<std::uint32_t> classes(16);
  std::vector<unsigned char> file(model_file_bytes(spec, true));

  tern::test::HeapAllocationScope heap;
  Arena arena;
  REQUIRE(arena.attach(buffer.data(), buffer.size()).ok());
  Model model, block;
  REQUIRE(model.build(spec, arena).ok());
  REQUIRE(block.build(ffn_spec, arena).ok());
  model.initialize(1);
  block.initialize(2);
  iota(Span<std::uint32_t>{order.data(), order.size()});
  Rng rng(9);
  for (int epoch = 0; epoch < 3; ++epoch) {
    shuffle(Span<std::uint32_t>{order.data(), order.size()}, rng);
    for (std::size_t at = 0; at < 100; at += 16) {
      const std::size_t rows = std::min<std::size_t>(16, 100 - at);
      REQUIRE(model.train_step(batch_of(spec, data, rows, order.data() + at), nullptr).ok());
    }
    for (std::size_t at = 0; at < 48; at += 16) {
      Batch b = batch_of(ffn_spec, ffn_data, 16);
      b.x += at * ffn_spec.input_width;
      b.targets += at * ffn_spec.output_width();
      REQUIRE(block.train_step(b, nullptr).ok());
    }
  }
  REQUIRE(model.predict(data.x.data(), spec.input_width, 16, classes.data()).ok());
  MemorySink sink(file.data(), file.size());
  REQUIRE(save_model(model, sink.sink(), true).ok());
  REQUIRE(load_model(model, memory_source(file.data(), sink.size()), true).ok());
  // Errors are reported without allocating either.
  Batch bad = batch_of(spec, data, 17);
  CHECK_FALSE(model.train_step(bad, nullptr).ok());
  CHECK(heap.count() == 0);
}

TEST_CASE("no slack: every cache line of the planned arena is used") {
  const ModelSpec specs[] = {
      mlp({300, 40, 10}, 20, Mode::kTraining),
      mlp({300, 40, 10}, 5, Mode::kTraining, Pointwise::kRelu, LossKind::kSoftmaxCrossEntropy,
          OptimizerKind::kSgd),
      mlp({300, 40, 10}, 20, Mode::kInference),
      ffn(16, 128, 160, Mode::kTraining),
      ffn(16, 128, 160, Mode::kInference),
  };
  // (The kernels' scratch is sized by their own contract: rank1_accumulate
  // asks for 160 n floats whatever k is, and a layer with fewer than 128
  // inputs leaves part of it unused. The shapes here fill it.)
  const unsigned char kFill = 0xA5;
  // Scratch is used by the vector kernels only (the scalar ones read the
  // operands in place): run with the widest ISA, and leave the scratch
  // region out of the count if that is scalar.
  const Isa widest = tern::test::runnable_isas().back();
  CAPTURE(isa_name(widest));
  IsaScope scope(widest);
  for (const ModelSpec& spec : specs) {
    CAPTURE(spec.rows);
    CAPTURE(int(spec.mode));
    CAPTURE(spec.layer_count);
    ModelInArena m(spec, 0, kFill);
    REQUIRE(m.status.ok());
    m.model.initialize(1);
    const Data data = synthetic_data(spec, spec.rows, 5);
    if (spec.mode == Mode::kTraining) {
      REQUIRE(m.model.train_step(batch_of(spec, data, spec.rows), nullptr).ok());
    }
    REQUIRE(m.model.forward(data.x.data(), spec.input_width, spec.rows).ok());
    const unsigned char* p = m.buffer.data();
    std::size_t untouched = 0;
    const Region scratch = plan_model(spec)[ModelBuffer::kScratch];
    for (std::size_t line = 0; line < m.buffer.size() / 64; ++line) {
      if (widest == Isa::kScalar && line * 64 >= scratch.offset && line * 64 < scratch.end()) {
        continue;
      }
      bool touched = false;
      for (std::size_t b = 0; b < 64; ++b) touched |= p[line * 64 + b] != kFill;
      if (!touched && untouched++ < 3) MESSAGE("untouched cache line " << line);
    }
    CHECK(untouched == 0);
  }
}

TEST_CASE("training: loss goes down and the model learns a synthetic task") {
  // Four Gaussian-ish clusters in 8 dimensions, labelled by cluster.
  const ModelSpec spec = mlp({8, 32, 4}, 16, Mode::kTraining);
  Rng rng(11);
  float centres[4][8];
  for (auto& c : centres)
    for (float& v : c) v = rng.symmetric(2.0f);
  Data d;
  d.count = 512;
  for (std::size_t i = 0; i < d.count; ++i) {
    const std::uint32_t label = rng.below(4);
    d.labels.push_back(label);
    for (int j = 0; j < 8; ++j) d.x.push_back(centres[label][j] + rng.symmetric(0.8f));
  }
  ReadyModel m(spec, 1);
  OptimizerParams p;
  p.learning_rate = 0.01f;
  REQUIRE(m.model.set_optimizer(p).ok());
  float first = 0, last = 0;
  for (int epoch = 0; epoch < 10; ++epoch) {
    double sum = 0;
    for (std::size_t at = 0; at < d.count; at += 16) {
      Batch b = batch_of(spec, d, 16);
      b.x += at * 8;
      b.labels += at;
      float loss = 0;
      REQUIRE(m.model.train_step(b, &loss).ok());
      sum += loss;
    }
    (epoch == 0 ? first : last) = float(sum / double(d.count / 16));
  }
  CHECK(last < 0.2f * first);
  std::size_t correct = 0;
  std::uint32_t cls[16];
  for (std::size_t at = 0; at < d.count; at += 16) {
    REQUIRE(m.model.predict(d.x.data() + at * 8, 8, 16, cls).ok());
    for (int i = 0; i < 16; ++i) correct += cls[i] == d.labels[at + std::size_t(i)];
  }
  CHECK(correct > d.count * 95 / 100);
}

TEST_CASE("training: bad batches are rejected with a clear error, parameters untouched") {
  const ModelSpec spec = mlp({4, 6, 3}, 4, Mode::kTraining);
  ReadyModel m(spec, 1);
  Data d = synthetic_data(spec, 8, 1);
  const std::vector<float> before = tern::test::parameters_of(m.model);

  d.x[2 * 4 + 1] = std::nanf("");
  Status s = m.model.train_step(batch_of(spec, d, 4), nullptr);
  CHECK(s.code() == StatusCode::kNonFinite);
  CHECK(contains(s, "input sample 2 (batch row 2) column 1 is not finite"));
  d.x[2 * 4 + 1] = 0.5f;

  d.labels[3] = 3;
  s = m.model.train_step(batch_of(spec, d, 4), nullptr);
  CHECK(s.code() == StatusCode::kInvalidArgument);
  CHECK(contains(s, "label 3 of sample 3 is out of range for 3 classes"));
  d.labels[3] = 2;

  s = m.model.train_step(batch_of(spec, d, 5), nullptr);
  CHECK(contains(s, "5 rows; the model was built for 1..4 rows"));
  const std::uint32_t indices[4] = {0, 1, 8, 2};
  s = m.model.train_step(batch_of(spec, d, 4, indices), nullptr);
  CHECK(contains(s, "batch row 2 selects sample 8 of 8"));
  Batch nolabels = batch_of(spec, d, 4);
  nolabels.labels = nullptr;
  CHECK(m.model.train_step(nolabels, nullptr).code() == StatusCode::kInvalidArgument);
  CHECK(bits_equal(tern::test::parameters_of(m.model), before));

  // Inference: NaN input rejected; a training call on an inference model too.
  ModelInArena inf(spec.inference());
  REQUIRE(inf.status.ok());
  d.x[1] = INFINITY;
  CHECK(inf.model.forward(d.x.data(), 4, 2).code() == StatusCode::kNonFinite);
  CHECK(inf.model.train_step(batch_of(spec, d, 2), nullptr).code() ==
        StatusCode::kFailedPrecondition);
  CHECK(inf.model.forward(d.x.data(), 3, 2).code() == StatusCode::kInvalidArgument);

  OptimizerParams p;
  p.learning_rate = -1.0f;
  CHECK(m.model.set_optimizer(p).code() == StatusCode::kInvalidArgument);
  p.learning_rate = 0.1f;
  p.beta2 = 1.0f;
  CHECK(m.model.set_optimizer(p).code() == StatusCode::kInvalidArgument);
}

TEST_CASE("inference model reproduces the training model's outputs bit for bit") {
  // Shared activation buffers and in-place activations give the same bits
  // as the training layout, for every ISA.
  const ModelSpec train_spec = ffn_block(ffn_block(ModelSpec::input(12, 9), 20, Pointwise::kTanh), 24)
                                   .dense(5, Pointwise::kSigmoid)
                                   .training(LossKind::kMse, OptimizerKind::kAdam);
  const Data d = synthetic_data(train_spec, 9, 6);
  for (Isa isa : tern::test::runnable_isas()) {
    CAPTURE(isa_name(isa));
    IsaScope scope(isa);
    ModelInArena t(train_spec), i(train_spec.inference());
    REQUIRE(t.status.ok());
    REQUIRE(i.status.ok());
    t.model.initialize(3);
    perturb(t.model, 3);
    const std::vector<float> params = tern::test::parameters_of(t.model);
    std::uint32_t arch[128];
    const std::size_t words = architecture_words(train_spec, arch, 128);
    REQUIRE(load_parameters(i.model, arch, words, params.data(), params.size()).ok());
    REQUIRE(t.model.forward(d.x.data(), 12, 9).ok());
    REQUIRE(i.model.forward(d.x.data(), 12, 9).ok());
    const MatrixView<const float> a = t.model.output(), b = i.model.output();
    REQUIRE(a.rows == 9);
    REQUIRE(b.rows == 9);
    CHECK(std::memcmp(a.data, b.data, 9 * 5 * sizeof(float)) == 0);
  }
}
