// SPDX-License-Identifier: Apache-2.0
// tern-train-fashion: trains the MLP 784-256-128-10 (ReLU, softmax
// cross-entropy) on Fashion-MNIST inside one arena and reports test accuracy
// after every epoch.
//
// The data set is read with zlib from Debian's dataset-fashion-mnist package
// (IDX .gz files); pixels are scaled to [0, 1] and standardised with the
// training set's mean and standard deviation. Each epoch visits the training
// set in a fresh seeded shuffle; batches are gathered by index straight from
// the data set into the model's input buffer.
//
// Options are parsed strictly (examples/cli/cli_args.h) and the output paths
// (--save, --export-header) are checked before the data is loaded, so that
// a typo fails in a second instead of after the training. The divergence
// guard is on unless --no-divergence-guard: a diverged step is undone and
// the learning rate halved (DivergencePolicy's defaults); recoveries are
// reported at the end.
//
// A validation set is held out of the training set (--validation rows, a
// twelfth by default) and evaluated after every epoch (Model::evaluate);
// the weights of the epoch with the lowest validation loss are kept and
// restored at the end, and --patience N stops the run after N epochs
// without improvement (examples/training/early_stopping.h).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <string>
#include <vector>

#include <unistd.h>

#include "cli/cli_args.h"
#include "data/idx.h"
#include "training/early_stopping.h"
#include "training/weight_snapshot.h"
#include "tern/kernels/isa_selection.h"
#include "tern/kernels/kernel_table.h"
#include "tern/runtime/model.h"
#include "tern/runtime/persist.h"
#include "tern/runtime/rng.h"

namespace {

// The options' ranges, each with its reason.
// Epochs: a bound that catches a typo (10 000 epochs of Fashion-MNIST take
// several hours here, at 1-3 s each); a longer run is a loop in a script.
constexpr std::uint64_t kMaxEpochs = 10000;
// Rows per step: 65 536 rows of 784 inputs already make an arena of about
// 450 MB (about 7 KB of activations and gradients per row); the batch is
// also bounded by the training set's size once it is loaded.
constexpr std::uint64_t kMaxBatch = 65536;
// Learning rate: 1e-20 is far below any rate that trains, and a normal
// float (strtof("1e-45") is a denormal, a rate only in name); above 1e6 no
// optimizer here does anything but diverge.
constexpr tern::cli::RealRange kLearningRates{1e-20, 1e6};
// Momentum and weight decay: set_optimizer's own ranges ([0, 1) and >= 0);
// a decay above 1 per unit of learning rate removes more than the weight.
constexpr tern::cli::RealRange kMomentum{0, 1, true};
constexpr tern::cli::RealRange kWeightDecay{0, 1};
constexpr tern::cli::RealRange kPercent{0, 100};
// Validation rows: Batch::indices are 32-bit, so a data set (and its
// held-out part) has at most 2^32 - 1 rows; the training set's own size
// bounds it further once it is loaded.
constexpr std::uint64_t kMaxValidation = UINT32_MAX;
// The default validation set is this fraction of the training set: 5 000
// of Fashion-MNIST's 60 000 rows, half the size of its test set, while
// training on the other 55 000 still passes the main job's 88 % gate in the
// same 10 epochs and about the same time (decision: validation is on by
// default, so that every run reports it and keeps its best epoch).
constexpr std::size_t kValidationDivisor = 12;

struct Options {
  int epochs = 10;
  std::uint32_t batch = 64;
  float learning_rate = 1e-3f;
  float momentum = 0.9f;
  float weight_decay = 0.0f;
  tern::OptimizerKind optimizer = tern::OptimizerKind::kAdam;
  std::uint64_t seed = 1;
  const char* isa = nullptr;
  std::string data_dir = "/usr/share/datasets/fashion-mnist";
  const char* save = nullptr;
  const char* header = nullptr;
  bool learning_rate_given = false;
  bool cosine = true;
  bool divergence_guard = true;
  double min_accuracy = 0;  // percent; exit status 3 below it
  std::uint64_t validation = 0;  // rows held out, when given
  bool validation_given = false;
  std::uint32_t patience = 0;    // 0: never stop early
};

void usage(const char* argv0) {
  std::printf(
      "usage: %s [options]\n"
      "  --epochs N         training epochs, 1..10000 (default 10)\n"
      "  --batch N          rows per step, 1..65536 and at most the training set (default 64)\n"
      "  --lr F             learning rate in [1e-20, 1e6] (default 1e-3 for adam/adamw, 0.05\n"
      "                     for sgd)\n"
      "  --optimizer NAME   sgd (with momentum), adam or adamw (default adam)\n"
      "  --schedule NAME    cosine (decay per step to 0 by the last epoch) or constant\n"
      "                     (default cosine)\n"
      "  --momentum F       SGD momentum in [0, 1) (default 0.9)\n"
      "  --weight-decay F   L2 (sgd, adam) or decoupled (adamw) decay of weights, in [0, 1]\n"
      "                     (default 0)\n"
      "  --seed N           initialisation, shuffling and validation-split seed, 0..2^64-1\n"
      "                     (default 1)\n"
      "  --validation N     training rows held out for validation, 0 (none) to all but one\n"
      "                     (default: a twelfth of the training set, 5000 of Fashion-MNIST's)\n"
      "  --patience N       stop after N epochs without a lower validation loss, 0..10000\n"
      "                     (default 0: never; the best epoch's weights are restored either way)\n"
      "  --isa NAME         scalar, avx2, avx512, neon (default: widest available; or TERN_ISA)\n"
      "  --data DIR         Fashion-MNIST IDX .gz files (default %s)\n"
      "  --min-accuracy P   exit with status 3 if the final test accuracy is below P%%, P in\n"
      "                     [0, 100]\n"
      "  --no-divergence-guard  train without the divergence guard (on by default: a diverged\n"
      "                     step is undone and the learning rate halved, at most 8 times)\n"
      "  --save PATH        write the trained model file (the path is checked before training)\n"
      "  --export-header PATH  write the trained weights as a C header (checked likewise)\n",
      argv0, Options().data_dir.c_str());
}

// Prints a parse error; false, for `return report(...)`.
bool report(const tern::Status& s) {
  std::fprintf(stderr, "tern-train-fashion: %s\n", s.message());
  return false;
}

bool parse(int argc, char** argv, Options* o) {
  namespace cli = tern::cli;
  for (int i = 1; i < argc; ++i) {
    const char* a = argv[i];
    if (!std::strcmp(a, "--help") || !std::strcmp(a, "-h")) {
      usage(argv[0]);
      std::exit(0);
    }
    if (!std::strcmp(a, "--no-divergence-guard")) {
      o->divergence_guard = false;
      continue;
    }
    static const char* const kWithValue[] = {
        "--epochs", "--batch",  "--lr",   "--schedule",     "--momentum", "--weight-decay",
        "--optimizer", "--seed", "--isa", "--data", "--min-accuracy", "--save",
        "--export-header", "--validation", "--patience"};
    bool known = false;
    for (const char* k : kWithValue) known = known || !std::strcmp(a, k);
    if (!known) {
      std::fprintf(stderr, "tern-train-fashion: unknown option '%s' (try --help)\n", a);
      return false;
    }
    if (i + 1 >= argc) {
      std::fprintf(stderr, "tern-train-fashion: %s needs a value\n", a);
      return false;
    }
    const char* v = argv[++i];
    tern::Status s;
    std::uint64_t n = 0;
    if (!std::strcmp(a, "--epochs")) {
      s = cli::parse_count(a, v, 1, kMaxEpochs, &n);
      o->epochs = static_cast<int>(n);
    } else if (!std::strcmp(a, "--batch")) {
      s = cli::parse_count(a, v, 1, kMaxBatch, &n);
      o->batch = static_cast<std::uint32_t>(n);
    } else if (!std::strcmp(a, "--lr")) {
      s = cli::parse_real(a, v, kLearningRates, &o->learning_rate);
      o->learning_rate_given = true;
    } else if (!std::strcmp(a, "--schedule")) {
      if (!std::strcmp(v, "cosine") || !std::strcmp(v, "constant")) {
        o->cosine = !std::strcmp(v, "cosine");
      } else {
        std::fprintf(stderr, "tern-train-fashion: unknown schedule '%s' (cosine, constant)\n", v);
        return false;
      }
    } else if (!std::strcmp(a, "--momentum")) {
      s = cli::parse_real(a, v, kMomentum, &o->momentum);
    } else if (!std::strcmp(a, "--weight-decay")) {
      s = cli::parse_real(a, v, kWeightDecay, &o->weight_decay);
    } else if (!std::strcmp(a, "--optimizer")) {
      if (!std::strcmp(v, "sgd")) {
        o->optimizer = tern::OptimizerKind::kSgd;
      } else if (!std::strcmp(v, "adam")) {
        o->optimizer = tern::OptimizerKind::kAdam;
      } else if (!std::strcmp(v, "adamw")) {
        o->optimizer = tern::OptimizerKind::kAdamW;
      } else {
        std::fprintf(stderr, "tern-train-fashion: unknown optimizer '%s' (sgd, adam, adamw)\n",
                     v);
        return false;
      }
    } else if (!std::strcmp(a, "--seed")) {
      s = cli::parse_count(a, v, 0, UINT64_MAX, &o->seed);
    } else if (!std::strcmp(a, "--isa")) {
      o->isa = v;
    } else if (!std::strcmp(a, "--data")) {
      o->data_dir = v;
    } else if (!std::strcmp(a, "--min-accuracy")) {
      s = cli::parse_real(a, v, kPercent, &o->min_accuracy);
    } else if (!std::strcmp(a, "--validation")) {
      s = cli::parse_count(a, v, 0, kMaxValidation, &o->validation);
      o->validation_given = true;
    } else if (!std::strcmp(a, "--patience")) {
      s = cli::parse_count(a, v, 0, kMaxEpochs, &n);
      o->patience = static_cast<std::uint32_t>(n);
    } else if (!std::strcmp(a, "--save")) {
      o->save = v;
    } else {  // --export-header
      o->header = v;
    }
    if (!s.ok()) return report(s);
  }
  if (o->patience != 0 && o->validation_given && o->validation == 0) {
    std::fprintf(stderr, "tern-train-fashion: --patience %u needs a validation set, and "
                 "--validation is 0\n", static_cast<unsigned>(o->patience));
    return false;
  }
  if (!o->learning_rate_given && o->optimizer == tern::OptimizerKind::kSgd) {
    o->learning_rate = 0.05f;
  }
  return true;
}

int fail(const char* what, const tern::Status& s) {
  std::fprintf(stderr, "tern-train-fashion: %s: %s (%s)\n", what, s.message(),
               tern::status_code_name(s.code()));
  return 1;
}

// A status whose message names its own context (an option and a path).
int fail_plain(const tern::Status& s) {
  std::fprintf(stderr, "tern-train-fashion: %s (%s)\n", s.message(),
               tern::status_code_name(s.code()));
  return 1;
}

void progress(int epoch, int epochs, std::size_t done, std::size_t total, double seconds,
              double loss, bool tty, bool final) {
  const int width = 30;
  const int filled = int(double(width) * double(done) / double(total));
  char bar[width + 1];
  for (int i = 0; i < width; ++i) bar[i] = i < filled ? '=' : (i == filled ? '>' : ' ');
  bar[width] = '\0';
  const double rate = seconds > 0 ? double(done) / seconds : 0.0;
  std::printf("%sepoch %d/%d [%s] %6zu/%zu %7.0f samples/s loss %.4f", tty ? "\r" : "", epoch,
              epochs, bar, done, total, rate, loss);
  if (final || !tty) std::printf("\n");
  std::fflush(stdout);
}

// A loss for the epoch lines: 4 decimals, as the progress bar prints it,
// or 3 significant digits in exponent form below 0.001, where 4 decimals
// would print a loss that still falls as 0.0000.
const char* loss_text(double loss, char* out, std::size_t capacity) {
  std::snprintf(out, capacity, std::fabs(loss) >= 1e-3 ? "%.4f" : "%.2e", loss);
  return out;
}

// The C header export's size, for the probe write before training: each
// parameter is a hexadecimal float literal of at most 20 characters with
// its separator and line break, plus a few KiB of declarations.
std::size_t header_bytes_estimate(const tern::ModelSpec& spec) {
  return static_cast<std::size_t>(tern::parameter_floats(spec)) * 20 + 4096;
}

}  // namespace

int main(int argc, char** argv) {
  Options opt;
  if (!parse(argc, argv, &opt)) return 2;
  using clock = std::chrono::steady_clock;
  const auto t_start = clock::now();

  const tern::ModelSpec spec =
      tern::mlp({784, 256, 128, 10}, opt.batch, tern::Mode::kTraining, tern::Pointwise::kRelu,
                tern::LossKind::kSoftmaxCrossEntropy, opt.optimizer)
          .with_divergence_guard(opt.divergence_guard);
  // The outputs first: a bad path must fail now, not after the training.
  if (opt.save != nullptr) {
    const tern::Status s =
        tern::cli::check_output_path("--save", opt.save, tern::model_file_bytes(spec, false));
    if (!s.ok()) return fail_plain(s);
  }
  if (opt.header != nullptr) {
    const tern::Status s =
        tern::cli::check_output_path("--export-header", opt.header, header_bytes_estimate(spec));
    if (!s.ok()) return fail_plain(s);
  }

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

  tern::data::Dataset train, test;
  if (!tern::data::load_fashion_mnist_reporting("tern-train-fashion", opt.data_dir.c_str(),
                                                spec.input_width, &train, &test)) {
    return 1;
  }
  tern::Status s;
  if (opt.batch > train.count) {
    std::fprintf(stderr, "tern-train-fashion: --batch %u: larger than the training set (%zu "
                 "samples)\n", opt.batch, train.count);
    return 2;
  }
  // The validation split: a seeded random choice of rows (the seed's own
  // stream), the rest trained on in ascending order before each epoch's
  // shuffle, so --validation 0 trains exactly as a run without a split.
  const std::size_t validation_rows =
      opt.validation_given ? static_cast<std::size_t>(opt.validation) : train.count / kValidationDivisor;
  if (validation_rows >= train.count) {
    std::fprintf(stderr, "tern-train-fashion: --validation %zu: leaves no training rows (the "
                 "training set has %zu samples)\n", validation_rows, train.count);
    return 2;
  }
  const std::size_t train_rows = train.count - validation_rows;
  if (opt.batch > train_rows) {
    std::fprintf(stderr, "tern-train-fashion: --batch %u: larger than the %zu training rows "
                 "left after --validation %zu\n", opt.batch, train_rows, validation_rows);
    return 2;
  }
  std::vector<std::uint32_t> order(train_rows), held_out(validation_rows);
  {
    std::vector<std::uint32_t> all(train.count);
    tern::iota(tern::Span<std::uint32_t>{all.data(), all.size()});
    tern::Rng splitter(opt.seed, 2);
    tern::shuffle(tern::Span<std::uint32_t>{all.data(), all.size()}, splitter);
    std::copy(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(validation_rows),
              held_out.begin());
    std::copy(all.begin() + static_cast<std::ptrdiff_t>(validation_rows), all.end(),
              order.begin());
    std::sort(order.begin(), order.end());
  }

  const std::size_t bytes = tern::arena_bytes(spec);
  if (bytes == 0) {
    // An invalid spec (not expected with the options' ranges): build()
    // validates it first and says what is wrong.
    tern::Arena none;
    tern::Model invalid;
    return fail("building the model", invalid.build(spec, none));
  }
  // The arena: one aligned block, allocated once before training starts;
  // 64 bytes more to align it, checked for overflow, and without throwing.
  if (bytes > SIZE_MAX - 64) {
    std::fprintf(stderr, "tern-train-fashion: the arena of %zu bytes cannot be allocated\n",
                 bytes);
    return 1;
  }
  std::unique_ptr<unsigned char[]> storage(new (std::nothrow) unsigned char[bytes + 64]);
  if (storage == nullptr) {
    std::fprintf(stderr,
                 "tern-train-fashion: cannot allocate the arena of %zu bytes (batch %u); try a "
                 "smaller --batch\n",
                 bytes, opt.batch);
    return 1;
  }
  const auto addr = reinterpret_cast<std::uintptr_t>(storage.get());
  unsigned char* memory = storage.get() + (64 - addr % 64) % 64;
  tern::Arena arena;
  s = arena.attach(memory, bytes);
  tern::Model model;
  if (s.ok()) s = model.build(spec, arena);
  if (!s.ok()) return fail("building the model", s);
  model.initialize(opt.seed);
  if (opt.divergence_guard) {
    s = model.set_divergence_policy(tern::DivergencePolicy());
    if (!s.ok()) return fail("divergence guard", s);
  }
  tern::OptimizerParams params;
  params.learning_rate = opt.learning_rate;
  params.momentum = opt.momentum;
  params.weight_decay = opt.weight_decay;
  s = model.set_optimizer(params);
  if (!s.ok()) return fail("optimizer", s);
  if (opt.cosine) {
    // Cosine annealing over the whole run, a factor per step from 1 down
    // to 0 at the last step (the runtime's schedule: tern's own cosine).
    tern::LearningRateSchedule schedule;
    schedule.kind = tern::ScheduleKind::kCosine;
    const std::uint64_t steps_per_epoch = (train_rows + opt.batch - 1) / opt.batch;
    schedule.total_steps = std::uint64_t(opt.epochs) * steps_per_epoch;
    s = model.set_schedule(schedule);
    if (!s.ok()) return fail("schedule", s);
  }

  const char* opt_names[3] = {"sgd", "adam", "adamw"};
  std::printf("tern-train-fashion: MLP 784-256-128-10 (ReLU, softmax cross-entropy)\n");
  std::printf("ISA %s (%s)\n", tern::isa_name(isa), tern::selection_reason_text(reason));
  std::printf("arena %zu bytes (%.2f MiB), %zu parameters; batch %u, %s lr %g, seed %llu; "
              "divergence guard %s\n",
              bytes, double(bytes) / (1024.0 * 1024.0), model.parameter_count(), opt.batch,
              opt_names[int(opt.optimizer)], double(opt.learning_rate),
              static_cast<unsigned long long>(opt.seed), opt.divergence_guard ? "on" : "off");
  std::printf("train %zu samples, validation %zu (patience %u%s), test %zu samples\n", train_rows,
              validation_rows, static_cast<unsigned>(opt.patience),
              opt.patience == 0 ? ": never stop early" : "", test.count);

  tern::Rng shuffler(opt.seed, 1);
  const bool tty = isatty(fileno(stdout)) != 0;
  std::vector<std::uint32_t> predicted(opt.batch);
  double accuracy = 0;
  std::size_t correct = 0;
  // The test set's accuracy into `accuracy` and `correct`.
  auto test_accuracy = [&]() -> tern::Status {
    correct = 0;
    for (std::size_t start = 0; start < test.count; start += opt.batch) {
      const std::size_t rows = std::min<std::size_t>(opt.batch, test.count - start);
      TERN_RETURN_IF_ERROR(
          model.predict(test.x.data() + start * test.width, test.width, rows, predicted.data()));
      for (std::size_t i = 0; i < rows; ++i) correct += predicted[i] == test.y[start + i];
    }
    accuracy = double(correct) / double(test.count);
    return tern::Status();
  };
  tern::Batch validation;
  validation.x = train.x.data();
  validation.ldx = train.width;
  validation.labels = train.y.data();
  validation.indices = held_out.data();
  validation.samples = train.count;
  validation.rows = validation_rows;
  tern::training::EarlyStopping stopping(opt.patience);
  tern::training::WeightSnapshot best_weights;
  int epochs_run = 0;

  for (int epoch = 1; epoch <= opt.epochs; ++epoch) {
    epochs_run = epoch;
    tern::shuffle(tern::Span<std::uint32_t>{order.data(), order.size()}, shuffler);
    const auto t_epoch = clock::now();
    double loss_sum = 0;
    std::size_t loss_rows = 0;
    auto last_print = t_epoch;
    for (std::size_t start = 0; start < train_rows; start += opt.batch) {
      tern::Batch b;
      b.x = train.x.data();
      b.ldx = train.width;
      b.labels = train.y.data();
      b.indices = order.data() + start;
      b.samples = train.count;
      b.rows = std::min<std::size_t>(opt.batch, train_rows - start);
      float loss = 0;
      s = model.train_step(b, &loss);
      if (!s.ok()) return fail("training", s);
      loss_sum += double(loss) * double(b.rows);
      loss_rows += b.rows;
      const auto now = clock::now();
      const bool last = start + b.rows >= train_rows;
      if (last || (tty && now - last_print > std::chrono::milliseconds(200))) {
        last_print = now;
        progress(epoch, opt.epochs, loss_rows, train_rows,
                 std::chrono::duration<double>(now - t_epoch).count(), loss_sum / double(loss_rows),
                 tty, last);
      }
    }
    char text[32];
    std::printf("epoch %d/%d train loss %s", epoch, opt.epochs,
                loss_text(loss_sum / double(loss_rows), text, sizeof text));
    bool stop = false;
    if (validation_rows != 0) {
      tern::Evaluation e;
      s = model.evaluate(validation, &e);
      if (!s.ok()) return fail("validating", s);
      const tern::training::EarlyStopping::Decision d = stopping.observe(e.mean_loss);
      if (d.improved) {
        s = best_weights.take(model);
        if (!s.ok()) return fail("keeping the best weights", s);
      }
      stop = d.stop;
      std::printf(", validation loss %s accuracy %.2f%%%s",
                  loss_text(e.mean_loss, text, sizeof text),
                  100.0 * double(e.accuracy), d.improved ? " (best)" : "");
    }
    s = test_accuracy();
    if (!s.ok()) return fail("evaluating", s);
    std::printf("; test accuracy %.2f%% (%zu/%zu)\n", 100.0 * accuracy, correct, test.count);
    if (stop) {
      std::printf("early stopping: no lower validation loss for %u epochs (the best, %s, at "
                  "epoch %u)\n",
                  static_cast<unsigned>(opt.patience),
                  loss_text(stopping.best_loss(), text, sizeof text),
                  static_cast<unsigned>(stopping.best_epoch()));
      break;
    }
  }
  // The run keeps the epoch that validated best.
  if (!best_weights.empty() && stopping.best_epoch() != static_cast<std::uint32_t>(epochs_run)) {
    s = best_weights.restore(model);
    if (!s.ok()) return fail("restoring the best weights", s);
    s = test_accuracy();
    if (!s.ok()) return fail("evaluating", s);
    char text[32];
    std::printf("restored the weights of epoch %u (validation loss %s): test accuracy %.2f%% "
                "(%zu/%zu)\n",
                static_cast<unsigned>(stopping.best_epoch()),
                loss_text(stopping.best_loss(), text, sizeof text),
                100.0 * accuracy, correct, test.count);
  }
  const double total = std::chrono::duration<double>(clock::now() - t_start).count();
  std::printf("final test accuracy %.2f%% after %d epochs; total time %.1f s\n", 100.0 * accuracy,
              epochs_run, total);
  if (opt.divergence_guard && model.divergence().recoveries > 0) {
    const tern::DivergenceReport& d = model.divergence();
    std::printf("divergence guard: %u recoveries (the last at step %llu, loss %g); learning "
                "rate scaled by %g\n",
                static_cast<unsigned>(d.recoveries), static_cast<unsigned long long>(d.last_step),
                double(d.last_loss), double(d.learning_rate_scale));
  }

  if (opt.save != nullptr) {
    s = tern::save_model_file(model, opt.save);
    if (!s.ok()) return fail("saving", s);
    std::printf("saved %s (%zu bytes)\n", opt.save, tern::model_file_bytes(spec, false));
  }
  if (opt.header != nullptr) {
    // Whole or not at all: a temporary file renamed over the target.
    s = tern::export_c_header_file(model, "fashion_mlp", opt.header);
    if (!s.ok()) return fail("exporting", s);
    std::printf("exported %s\n", opt.header);
  }
  if (100.0 * accuracy < opt.min_accuracy) {
    std::printf("FAILED: test accuracy %.2f%% is below the required %.2f%%\n", 100.0 * accuracy,
                opt.min_accuracy);
    return 3;
  }
  return 0;
}
