// tern-train-fashion: trains the MLP 784-256-128-10 (ReLU, softmax
// cross-entropy) on Fashion-MNIST inside one arena and reports test accuracy
// after every epoch.
//
// The data set is read with zlib from Debian's dataset-fashion-mnist package
// (IDX .gz files); pixels are scaled to [0, 1] and standardised with the
// training set's mean and standard deviation. Each epoch visits the training
// set in a fresh seeded shuffle; batches are gathered by index straight from
// the data set into the model's input buffer.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <unistd.h>

#include "data/idx.h"
#include "tern/kernels/isa_selection.h"
#include "tern/kernels/kernel_table.h"
#include "tern/runtime/model.h"
#include "tern/runtime/persist.h"
#include "tern/runtime/rng.h"

namespace {

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
  double min_accuracy = 0;  // percent; exit status 3 below it
};

void usage(const char* argv0) {
  std::printf(
      "usage: %s [options]\n"
      "  --epochs N         training epochs (default 10)\n"
      "  --batch N          rows per step (default 64)\n"
      "  --lr F             learning rate (default 1e-3 for adam/adamw, 0.05 for sgd)\n"
      "  --optimizer NAME   sgd (with momentum), adam or adamw (default adam)\n"
      "  --schedule NAME    cosine (decay per step to 0 by the last epoch) or constant\n"
      "                     (default cosine)\n"
      "  --momentum F       SGD momentum (default 0.9)\n"
      "  --weight-decay F   L2 (sgd, adam) or decoupled (adamw) decay of weights (default 0)\n"
      "  --seed N           initialisation and shuffling seed (default 1)\n"
      "  --isa NAME         scalar, avx2, avx512, neon (default: widest available; or TERN_ISA)\n"
      "  --data DIR         Fashion-MNIST IDX .gz files (default %s)\n"
      "  --min-accuracy P   exit with status 3 if the final test accuracy is below P%%\n"
      "  --save PATH        write the trained model file\n"
      "  --export-header PATH  write the trained weights as a C header\n",
      argv0, Options().data_dir.c_str());
}

bool parse(int argc, char** argv, Options* o) {
  for (int i = 1; i < argc; ++i) {
    const char* a = argv[i];
    const char* v = i + 1 < argc ? argv[i + 1] : nullptr;
    auto need = [&]() {
      if (v == nullptr) std::fprintf(stderr, "%s needs a value\n", a);
      return v != nullptr;
    };
    if (!std::strcmp(a, "--help") || !std::strcmp(a, "-h")) {
      usage(argv[0]);
      std::exit(0);
    } else if (!std::strcmp(a, "--epochs")) {
      if (!need()) return false;
      o->epochs = std::atoi(v);
    } else if (!std::strcmp(a, "--batch")) {
      if (!need()) return false;
      o->batch = static_cast<std::uint32_t>(std::atoi(v));
    } else if (!std::strcmp(a, "--lr")) {
      if (!need()) return false;
      o->learning_rate = std::strtof(v, nullptr);
      o->learning_rate_given = true;
    } else if (!std::strcmp(a, "--schedule")) {
      if (!need()) return false;
      if (!std::strcmp(v, "cosine") || !std::strcmp(v, "constant")) {
        o->cosine = !std::strcmp(v, "cosine");
      } else {
        std::fprintf(stderr, "unknown schedule '%s' (cosine, constant)\n", v);
        return false;
      }
    } else if (!std::strcmp(a, "--momentum")) {
      if (!need()) return false;
      o->momentum = std::strtof(v, nullptr);
    } else if (!std::strcmp(a, "--weight-decay")) {
      if (!need()) return false;
      o->weight_decay = std::strtof(v, nullptr);
    } else if (!std::strcmp(a, "--optimizer")) {
      if (!need()) return false;
      if (!std::strcmp(v, "sgd")) {
        o->optimizer = tern::OptimizerKind::kSgd;
      } else if (!std::strcmp(v, "adam")) {
        o->optimizer = tern::OptimizerKind::kAdam;
      } else if (!std::strcmp(v, "adamw")) {
        o->optimizer = tern::OptimizerKind::kAdamW;
      } else {
        std::fprintf(stderr, "unknown optimizer '%s' (sgd, adam, adamw)\n", v);
        return false;
      }
    } else if (!std::strcmp(a, "--seed")) {
      if (!need()) return false;
      o->seed = std::strtoull(v, nullptr, 10);
    } else if (!std::strcmp(a, "--isa")) {
      if (!need()) return false;
      o->isa = v;
    } else if (!std::strcmp(a, "--data")) {
      if (!need()) return false;
      o->data_dir = v;
    } else if (!std::strcmp(a, "--min-accuracy")) {
      if (!need()) return false;
      o->min_accuracy = std::strtod(v, nullptr);
    } else if (!std::strcmp(a, "--save")) {
      if (!need()) return false;
      o->save = v;
    } else if (!std::strcmp(a, "--export-header")) {
      if (!need()) return false;
      o->header = v;
    } else {
      std::fprintf(stderr, "unknown option '%s' (try --help)\n", a);
      return false;
    }
    ++i;
  }
  if (o->epochs < 1 || o->batch < 1) {
    std::fprintf(stderr, "--epochs and --batch must be >= 1\n");
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

}  // namespace

int main(int argc, char** argv) {
  Options opt;
  if (!parse(argc, argv, &opt)) return 2;
  using clock = std::chrono::steady_clock;
  const auto t_start = clock::now();

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

  const tern::ModelSpec spec =
      tern::mlp({784, 256, 128, 10}, opt.batch, tern::Mode::kTraining, tern::Pointwise::kRelu,
                tern::LossKind::kSoftmaxCrossEntropy, opt.optimizer);
  tern::data::Dataset train, test;
  tern::Status s =
      tern::data::load_fashion_mnist(opt.data_dir.c_str(), spec.input_width, &train, &test);
  if (!s.ok()) {
    std::fprintf(stderr,
                 "Fashion-MNIST not found in %s (apt-get install dataset-fashion-mnist, or "
                 "--data DIR)\n",
                 opt.data_dir.c_str());
    return fail("loading data", s);
  }

  const std::size_t bytes = tern::arena_bytes(spec);
  if (bytes == 0) {
    std::fprintf(stderr, "invalid model spec\n");
    return 1;
  }
  // The arena: one aligned block, allocated once before training starts.
  std::vector<unsigned char> storage(bytes + 64);
  const auto addr = reinterpret_cast<std::uintptr_t>(storage.data());
  unsigned char* memory = storage.data() + (64 - addr % 64) % 64;
  tern::Arena arena;
  s = arena.attach(memory, bytes);
  tern::Model model;
  if (s.ok()) s = model.build(spec, arena);
  if (!s.ok()) return fail("building the model", s);
  model.initialize(opt.seed);
  tern::OptimizerParams params;
  params.learning_rate = opt.learning_rate;
  params.momentum = opt.momentum;
  params.weight_decay = opt.weight_decay;
  s = model.set_optimizer(params);
  if (!s.ok()) return fail("optimizer", s);

  const char* opt_names[3] = {"sgd", "adam", "adamw"};
  std::printf("tern-train-fashion: MLP 784-256-128-10 (ReLU, softmax cross-entropy)\n");
  std::printf("ISA %s (%s)\n", tern::isa_name(isa), tern::selection_reason_text(reason));
  std::printf("arena %zu bytes (%.2f MiB), %zu parameters; batch %u, %s lr %g, seed %llu\n",
              bytes, double(bytes) / (1024.0 * 1024.0), model.parameter_count(), opt.batch,
              opt_names[int(opt.optimizer)], double(opt.learning_rate),
              static_cast<unsigned long long>(opt.seed));
  std::printf("train %zu samples, test %zu samples\n", train.count, test.count);

  std::vector<std::uint32_t> order(train.count);
  tern::iota(tern::Span<std::uint32_t>{order.data(), order.size()});
  tern::Rng shuffler(opt.seed, 1);
  const bool tty = isatty(fileno(stdout)) != 0;
  std::vector<std::uint32_t> predicted(opt.batch);
  double accuracy = 0;

  for (int epoch = 1; epoch <= opt.epochs; ++epoch) {
    tern::shuffle(tern::Span<std::uint32_t>{order.data(), order.size()}, shuffler);
    const auto t_epoch = clock::now();
    double loss_sum = 0;
    std::size_t loss_rows = 0;
    auto last_print = t_epoch;
    for (std::size_t start = 0; start < train.count; start += opt.batch) {
      tern::Batch b;
      b.x = train.x.data();
      b.ldx = train.width;
      b.labels = train.y.data();
      b.indices = order.data() + start;
      b.samples = train.count;
      b.rows = std::min<std::size_t>(opt.batch, train.count - start);
      if (opt.cosine) {
        // Cosine annealing over the whole run, updated every step.
        const double progress_all =
            (double(epoch - 1) * double(train.count) + double(start)) /
            (double(opt.epochs) * double(train.count));
        params.learning_rate =
            float(0.5 * double(opt.learning_rate) * (1.0 + std::cos(3.141592653589793 * progress_all)));
        s = model.set_optimizer(params);
        if (!s.ok()) return fail("optimizer", s);
      }
      float loss = 0;
      s = model.train_step(b, &loss);
      if (!s.ok()) return fail("training", s);
      loss_sum += double(loss) * double(b.rows);
      loss_rows += b.rows;
      const auto now = clock::now();
      const bool last = start + b.rows >= train.count;
      if (last || (tty && now - last_print > std::chrono::milliseconds(200))) {
        last_print = now;
        progress(epoch, opt.epochs, loss_rows, train.count,
                 std::chrono::duration<double>(now - t_epoch).count(), loss_sum / double(loss_rows),
                 tty, last);
      }
    }
    std::size_t correct = 0;
    for (std::size_t start = 0; start < test.count; start += opt.batch) {
      const std::size_t rows = std::min<std::size_t>(opt.batch, test.count - start);
      s = model.predict(test.x.data() + start * test.width, test.width, rows, predicted.data());
      if (!s.ok()) return fail("evaluating", s);
      for (std::size_t i = 0; i < rows; ++i) correct += predicted[i] == test.y[start + i];
    }
    accuracy = double(correct) / double(test.count);
    std::printf("epoch %d/%d test accuracy %.2f%% (%zu/%zu)\n", epoch, opt.epochs,
                100.0 * accuracy, correct, test.count);
  }
  const double total = std::chrono::duration<double>(clock::now() - t_start).count();
  std::printf("final test accuracy %.2f%% after %d epochs; total time %.1f s\n", 100.0 * accuracy,
              opt.epochs, total);

  if (opt.save != nullptr) {
    s = tern::save_model_file(model, opt.save);
    if (!s.ok()) return fail("saving", s);
    std::printf("saved %s (%zu bytes)\n", opt.save, tern::model_file_bytes(spec, false));
  }
  if (opt.header != nullptr) {
    std::FILE* f = std::fopen(opt.header, "wb");
    if (f == nullptr) {
      std::fprintf(stderr, "cannot create %s\n", opt.header);
      return 1;
    }
    tern::ByteSink sink;
    sink.context = f;
    sink.write = [](void* c, const void* d, std::size_t n) -> tern::Status {
      if (std::fwrite(d, 1, n, static_cast<std::FILE*>(c)) != n) {
        return tern::Status::error(tern::StatusCode::kIoError, "write failed");
      }
      return tern::Status();
    };
    s = tern::export_c_header(model, "fashion_mlp", sink);
    std::fclose(f);
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
