// SPDX-License-Identifier: Apache-2.0
// tern-edit-fashion: fixes one misclassified Fashion-MNIST test image with a
// rank-1 edit of one Dense layer, and measures what the edit does to the
// rest of the test set.
//
// The model is the MLP 784-256-128-10 of tern-train-fashion, loaded from a
// file that program saved (--model) or trained here for a few epochs. The
// first misclassified test sample (or --index N) is the input to fix. For a
// Dense layer, Model::edit_factors() gives the layer's input row u and the
// gradient delta of that sample's loss with its correct label, so that
// W - step * u^T delta is one gradient step of that layer on that sample
// alone. The step is the smallest power of two, from 2^-12 up, after which
// the model classifies the sample correctly; each attempt starts from the
// original weights (a copy of W), so the edited model is the original plus
// exactly one Model::rank1_edit() call. The edit is made to the last Dense
// layer (128 -> 10) and, separately, to the first (784 -> 256).
//
// The model lives in one static arena sized at compile time; the data set
// is held in std::vector, like in tern-train-fashion.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <sys/stat.h>

#include "cli/cli_args.h"
#include "data/idx.h"
#include "tern/kernels/isa_selection.h"
#include "tern/kernels/kernel_table.h"
#include "tern/runtime/model.h"
#include "tern/runtime/persist.h"
#include "tern/runtime/rng.h"

namespace {

constexpr std::uint32_t kBatch = 64;
constexpr tern::ModelSpec kSpec =
    tern::mlp({784, 256, 128, 10}, kBatch, tern::Mode::kTraining, tern::Pointwise::kRelu,
              tern::LossKind::kSoftmaxCrossEntropy, tern::OptimizerKind::kAdam);
constexpr std::uint32_t kFirstDense = 0;
constexpr std::uint32_t kLastDense = 2;
constexpr std::size_t kMaxIn = 784, kMaxOut = 256;
// Steps tried: 2^kFirstExponent, doubling up to 2^kLastExponent.
constexpr int kFirstExponent = -12;
constexpr int kLastExponent = 12;

alignas(64) unsigned char g_arena[tern::arena_bytes(kSpec)];
float g_u[kMaxIn];                  // edit factor: the layer's input row
float g_delta[kMaxOut];             // edit factor: the loss gradient at its output
float g_saved_w[kMaxIn * kMaxOut];  // the layer's original weights

const char* const kClassNames[10] = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                     "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};

// The options' ranges, each with its reason. Epochs: a bound that catches
// a typo (this program's training is a demonstration of a few epochs).
// Learning rate: as tern-train-fashion's (a normal float far below any
// rate that trains, up to where every optimizer here diverges). Index: a
// test set index is below 2^32 (IDX dimensions are u32); the test set's
// real size is checked once it is loaded.
constexpr std::uint64_t kMaxEpochs = 1000;
constexpr tern::cli::RealRange kLearningRates{1e-20, 1e6};
constexpr std::uint64_t kMaxIndex = UINT32_MAX;

struct Options {
  int epochs = 2;
  float learning_rate = 1e-3f;
  std::uint64_t seed = 1;
  long long index = -1;  // -1: the first misclassified test sample
  const char* model = nullptr;
  const char* isa = nullptr;
  std::string data_dir = "/usr/share/datasets/fashion-mnist";
};

void usage(const char* argv0) {
  std::printf(
      "usage: %s [options]\n"
      "  --model PATH   a model file saved by tern-train-fashion --save (default: train one)\n"
      "  --epochs N     epochs of training without --model, 1..1000 (default 2; Adam, batch 64)\n"
      "  --lr F         learning rate of that training, in [1e-20, 1e6] (default 1e-3)\n"
      "  --seed N       initialisation and shuffling seed, 0..2^64-1 (default 1)\n"
      "  --index N      the test sample to fix, 0..2^32-1 and in the test set; it must be\n"
      "                 misclassified (default: the first misclassified one)\n"
      "  --isa NAME     scalar, avx2, avx512, neon (default: widest available; or TERN_ISA)\n"
      "  --data DIR     Fashion-MNIST IDX .gz files (default %s)\n",
      argv0, Options().data_dir.c_str());
}

bool parse(int argc, char** argv, Options* o) {
  for (int i = 1; i < argc; ++i) {
    const char* a = argv[i];
    const char* v = i + 1 < argc ? argv[i + 1] : nullptr;
    if (!std::strcmp(a, "--help") || !std::strcmp(a, "-h")) {
      usage(argv[0]);
      std::exit(0);
    }
    static const char* const kOptions[] = {"--model", "--epochs", "--lr",  "--seed",
                                           "--index", "--isa",    "--data"};
    bool known = false;
    for (const char* k : kOptions) known = known || !std::strcmp(a, k);
    if (!known) {
      std::fprintf(stderr, "tern-edit-fashion: unknown option '%s' (try --help)\n", a);
      return false;
    }
    if (v == nullptr) {
      std::fprintf(stderr, "tern-edit-fashion: %s needs a value\n", a);
      return false;
    }
    tern::Status s;
    std::uint64_t n = 0;
    if (!std::strcmp(a, "--model")) {
      o->model = v;
    } else if (!std::strcmp(a, "--epochs")) {
      s = tern::cli::parse_count(a, v, 1, kMaxEpochs, &n);
      o->epochs = static_cast<int>(n);
    } else if (!std::strcmp(a, "--lr")) {
      s = tern::cli::parse_real(a, v, kLearningRates, &o->learning_rate);
    } else if (!std::strcmp(a, "--seed")) {
      s = tern::cli::parse_count(a, v, 0, UINT64_MAX, &o->seed);
    } else if (!std::strcmp(a, "--index")) {
      s = tern::cli::parse_count(a, v, 0, kMaxIndex, &n);
      o->index = static_cast<long long>(n);
    } else if (!std::strcmp(a, "--isa")) {
      o->isa = v;
    } else {
      o->data_dir = v;  // --data
    }
    if (!s.ok()) {
      std::fprintf(stderr, "tern-edit-fashion: %s\n", s.message());
      return false;
    }
    ++i;
  }
  return true;
}

int fail(const char* what, const tern::Status& s) {
  std::fprintf(stderr, "tern-edit-fashion: %s: %s (%s)\n", what, s.message(),
               tern::status_code_name(s.code()));
  return 1;
}

tern::Status train_model(tern::Model& model, const tern::data::Dataset& data, const Options& opt) {
  tern::OptimizerParams params;
  params.learning_rate = opt.learning_rate;
  TERN_RETURN_IF_ERROR(model.set_optimizer(params));
  std::vector<std::uint32_t> order(data.count);
  tern::iota(tern::Span<std::uint32_t>{order.data(), order.size()});
  tern::Rng shuffler(opt.seed, 1);
  for (int epoch = 1; epoch <= opt.epochs; ++epoch) {
    tern::shuffle(tern::Span<std::uint32_t>{order.data(), order.size()}, shuffler);
    double loss_sum = 0;
    for (std::size_t start = 0; start < data.count; start += kBatch) {
      tern::Batch b;
      b.x = data.x.data();
      b.ldx = data.width;
      b.labels = data.y.data();
      b.indices = order.data() + start;
      b.samples = data.count;
      b.rows = std::min<std::size_t>(kBatch, data.count - start);
      float loss = 0;
      TERN_RETURN_IF_ERROR(model.train_step(b, &loss));
      loss_sum += double(loss) * double(b.rows);
    }
    std::printf("  epoch %d/%d mean loss %.4f\n", epoch, opt.epochs,
                loss_sum / double(data.count));
  }
  return tern::Status();
}

// The model's class for every test sample.
tern::Status predict_all(tern::Model& model, const tern::data::Dataset& test,
                         std::vector<std::uint32_t>* out) {
  out->resize(test.count);
  for (std::size_t start = 0; start < test.count; start += kBatch) {
    const std::size_t rows = std::min<std::size_t>(kBatch, test.count - start);
    TERN_RETURN_IF_ERROR(
        model.predict(test.x.data() + start * test.width, test.width, rows, out->data() + start));
  }
  return tern::Status();
}

std::size_t count_correct(const std::vector<std::uint32_t>& predicted,
                          const tern::data::Dataset& test) {
  std::size_t correct = 0;
  for (std::size_t i = 0; i < test.count; ++i) correct += predicted[i] == test.y[i];
  return correct;
}

double percent(std::size_t part, std::size_t whole) {
  return 100.0 * double(part) / double(whole);
}

// Edits Dense layer `layer` so that test sample `index` is classified as
// its label; prints the step and the effect on the test set. Leaves the
// layer's weights as they were. *fixed tells whether some step worked.
tern::Status edit_layer(tern::Model& model, std::uint32_t layer, const tern::data::Dataset& test,
                        std::size_t index, const std::vector<std::uint32_t>& before,
                        bool* fixed) {
  const tern::LayerSpec& ls = kSpec.layers[layer];
  const std::size_t weights = std::size_t{ls.in} * ls.out;
  // Tensor 2 l is the weight matrix of Dense layer l (an MLP has only Dense
  // layers, each owning W then b).
  const tern::Span<float> w = model.tensor(2 * layer).value;
  std::memcpy(g_saved_w, w.data, weights * sizeof(float));

  tern::Batch one;
  one.x = test.x.data() + index * test.width;
  one.ldx = test.width;
  one.rows = 1;
  one.labels = test.y.data() + index;
  TERN_RETURN_IF_ERROR(model.edit_factors(one, layer, g_u, g_delta));
  double uu = 0, dd = 0;
  for (std::size_t p = 0; p < ls.in; ++p) uu += double(g_u[p]) * g_u[p];
  for (std::size_t q = 0; q < ls.out; ++q) dd += double(g_delta[q]) * g_delta[q];
  std::printf("\nlayer %u (Dense %u -> %u): W -= step * u^T delta, ||u|| = %.4g, ||delta|| = %.4g\n",
              static_cast<unsigned>(layer), static_cast<unsigned>(ls.in),
              static_cast<unsigned>(ls.out), std::sqrt(uu), std::sqrt(dd));

  *fixed = false;
  int exponent = kFirstExponent;
  std::uint32_t now = before[index];
  for (; exponent <= kLastExponent; ++exponent) {
    std::memcpy(w.data, g_saved_w, weights * sizeof(float));
    const float step = std::ldexp(1.0f, exponent);
    TERN_RETURN_IF_ERROR(model.rank1_edit(layer, 1, g_u, ls.in, g_delta, ls.out, -step));
    TERN_RETURN_IF_ERROR(model.predict(one.x, one.ldx, 1, &now));
    if (now == test.y[index]) {
      *fixed = true;
      break;
    }
  }
  if (!*fixed) {
    std::printf("  no step up to 2^%d makes sample %zu a %s (last prediction: %s)\n",
                kLastExponent, index, kClassNames[test.y[index]], kClassNames[now]);
    std::memcpy(w.data, g_saved_w, weights * sizeof(float));
    return tern::Status();
  }

  std::vector<std::uint32_t> after;
  TERN_RETURN_IF_ERROR(predict_all(model, test, &after));
  std::size_t changed = 0, fixed_others = 0, broken = 0;
  for (std::size_t i = 0; i < test.count; ++i) {
    if (after[i] == before[i]) continue;
    ++changed;
    if (i == index) continue;
    fixed_others += after[i] == test.y[i];
    broken += before[i] == test.y[i];
  }
  const std::size_t c0 = count_correct(before, test), c1 = count_correct(after, test);
  std::printf("  step 2^%d = %g: sample %zu is now classified %u (%s)\n", exponent,
              double(std::ldexp(1.0f, exponent)), index, static_cast<unsigned>(after[index]),
              kClassNames[after[index]]);
  std::printf("  test accuracy %.2f%% -> %.2f%% (%+.2f points, %zu -> %zu correct)\n",
              percent(c0, test.count), percent(c1, test.count),
              percent(c1, test.count) - percent(c0, test.count), c0, c1);
  std::printf("  %zu of %zu test predictions changed: sample %zu fixed, %zu others fixed, %zu "
              "broken, %zu wrong -> other wrong\n",
              changed, test.count, index, fixed_others, broken,
              changed - 1 - fixed_others - broken);
  std::memcpy(w.data, g_saved_w, weights * sizeof(float));
  return tern::Status();
}

}  // namespace

int main(int argc, char** argv) {
  Options opt;
  if (!parse(argc, argv, &opt)) return 2;
  using clock = std::chrono::steady_clock;

  if (opt.isa != nullptr) {
    const tern::Status s = tern::select_isa(opt.isa);
    if (!s.ok()) return fail("--isa", s);
  }
  tern::Isa isa = tern::Isa::kScalar;
  tern::SelectionReason reason = tern::SelectionReason::kNone;
  if (!tern::active_isa(&isa, &reason)) {
    const tern::KernelTable* table = nullptr;
    return fail("ISA selection", tern::active_kernels(&table));
  }

  // The training set is needed even with --model: its mean and deviation
  // standardise the test set exactly as tern-train-fashion did.
  tern::data::Dataset train, test;
  if (!tern::data::load_fashion_mnist_reporting("tern-edit-fashion", opt.data_dir.c_str(),
                                                kSpec.input_width, &train, &test)) {
    return 1;
  }
  tern::Arena arena;
  tern::Status s = arena.attach(g_arena, sizeof g_arena);
  tern::Model model;
  if (s.ok()) s = model.build(kSpec, arena);
  if (!s.ok()) return fail("building the model", s);

  std::printf("tern-edit-fashion: rank-1 edits of the MLP 784-256-128-10\n");
  std::printf("ISA %s (%s); arena %zu bytes\n", tern::isa_name(isa),
              tern::selection_reason_text(reason), sizeof g_arena);
  if (opt.model != nullptr) {
    // A FIFO, device or socket would block the open or read forever (a
    // FIFO without a writer) or stream without end; only regular files
    // (and directories, which the loader reports itself) go further.
    struct stat st;
    if (::stat(opt.model, &st) == 0 && (S_ISFIFO(st.st_mode) || S_ISCHR(st.st_mode) ||
                                        S_ISBLK(st.st_mode) || S_ISSOCK(st.st_mode))) {
      std::fprintf(stderr, "tern-edit-fashion: --model %s: is a %s, not a model file\n",
                   opt.model,
                   S_ISFIFO(st.st_mode)  ? "FIFO"
                   : S_ISSOCK(st.st_mode) ? "socket"
                                          : "device");
      return 1;
    }
    s = tern::load_model_file(model, opt.model);
    // The library's message names the cause (a directory, a checksum, an
    // architecture); it is printed as it is, after the option and path.
    if (!s.ok()) {
      std::fprintf(stderr, "tern-edit-fashion: --model %s: %s (%s)\n", opt.model, s.message(),
                   tern::status_code_name(s.code()));
      return 1;
    }
    std::printf("loaded %s\n", opt.model);
  } else {
    std::printf("training %d epochs on %zu samples (Adam, lr %g, batch %u, seed %llu)\n",
                opt.epochs, train.count, double(opt.learning_rate), static_cast<unsigned>(kBatch),
                static_cast<unsigned long long>(opt.seed));
    const auto t0 = clock::now();
    model.initialize(opt.seed);
    s = train_model(model, train, opt);
    if (!s.ok()) return fail("training", s);
    std::printf("trained in %.1f s\n", std::chrono::duration<double>(clock::now() - t0).count());
  }

  std::vector<std::uint32_t> before;
  s = predict_all(model, test, &before);
  if (!s.ok()) return fail("evaluating", s);
  const std::size_t correct = count_correct(before, test);
  std::printf("test accuracy %.2f%% (%zu/%zu)\n", percent(correct, test.count), correct,
              test.count);

  std::size_t index = 0;
  if (opt.index >= 0) {
    index = static_cast<std::size_t>(opt.index);
    if (index >= test.count) {
      std::fprintf(stderr, "--index %zu: the test set has %zu samples\n", index, test.count);
      return 2;
    }
    if (before[index] == test.y[index]) {
      std::fprintf(stderr, "--index %zu: the model already classifies it correctly (%s)\n",
                   index, kClassNames[test.y[index]]);
      return 2;
    }
  } else {
    while (index < test.count && before[index] == test.y[index]) ++index;
    if (index == test.count) {
      std::printf("every test sample is classified correctly: nothing to edit\n");
      return 0;
    }
  }
  std::printf("test sample %zu: a %s (class %u), classified %s (class %u)\n", index,
              kClassNames[test.y[index]], static_cast<unsigned>(test.y[index]),
              kClassNames[before[index]], static_cast<unsigned>(before[index]));

  bool last_fixed = false, first_fixed = false;
  s = edit_layer(model, kLastDense, test, index, before, &last_fixed);
  if (s.ok()) s = edit_layer(model, kFirstDense, test, index, before, &first_fixed);
  if (!s.ok()) return fail("editing", s);
  // An edit of the last layer moves the logits by -step * ||u||^2 *
  // (p - onehot(label)): the correct class's logit gains on every other one
  // by at least step * ||u||^2, so a large enough step fixes the sample
  // unless u = 0.
  if (!last_fixed) {
    std::printf("FAILED: the edit of the last layer did not fix sample %zu\n", index);
    return 3;
  }
  return 0;
}
