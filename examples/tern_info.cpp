// SPDX-License-Identifier: Apache-2.0
// tern-info: what this CPU is, which ISAs tern detects and was built with,
// which one runs and why. With --self-check, also runs every available
// kernel table on a set of odd shapes and compares it bit for bit with the
// scalar reference, and the reference with a double-precision computation.
// With --model FILE, prints the summary of a saved model file instead: its
// header gives the architecture, the whole file is validated by loading it
// into a one-row inference model, and that model's summary is printed
// (tern/runtime/summary.h).
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <memory>
#include <new>
#include <random>
#include <vector>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tern/kernels/isa_selection.h"
#include "tern/kernels/kernel_table.h"
#include "tern/kernels/dense.h"
#include "tern/runtime/model.h"
#include "tern/runtime/persist.h"
#include "tern/runtime/summary.h"
#include "tern/version.h"

namespace {

struct Shape {
  std::size_t n, k, m;
};

// Runs the four dense-layer kernels of `t` on one shape; outputs appended.
void run(const tern::KernelTable* t, const Shape& s, const std::vector<float>& x,
         const std::vector<float>& w, const std::vector<float>& b, std::vector<float>* out) {
  std::vector<float> y(s.n * s.m), g(s.k * s.m, 0.5f), gb(s.m, 0.25f), dx(s.n * s.k);
  std::vector<float> scratch(tern::gemm_rows_scratch_floats(s.k) +
                             tern::rank1_accumulate_scratch_floats(s.n));
  t->gemm_rows_f32(s.n, s.k, s.m, x.data(), s.k, w.data(), s.m, b.data(), y.data(), s.m,
                   tern::Activation::kRelu, scratch.data());
  t->rank1_accumulate_f32(s.n, s.k, s.m, -0.5f, x.data(), s.k, y.data(), s.m, g.data(), s.m,
                          scratch.data());
  t->column_sums_accumulate_f32(s.n, s.m, 1.0f, y.data(), s.m, gb.data());
  t->backprop_rows_f32(s.n, s.k, s.m, y.data(), s.m, w.data(), s.m, dx.data(), s.k);
  for (auto* v : {&y, &g, &gb, &dx}) out->insert(out->end(), v->begin(), v->end());
}

// Largest |scalar - double| / bound over the forward pass, < 1 when within
// the FMA-chain error bound.
double reference_error(const Shape& s, const std::vector<float>& x, const std::vector<float>& w,
                       const std::vector<float>& b, const std::vector<float>& y) {
  double worst = 0;
  for (std::size_t i = 0; i < s.n; ++i)
    for (std::size_t j = 0; j < s.m; ++j) {
      double acc = b[j], mag = std::fabs(b[j]);
      for (std::size_t p = 0; p < s.k; ++p) {
        acc += double(x[i * s.k + p]) * w[p * s.m + j];
        mag += std::fabs(double(x[i * s.k + p]) * w[p * s.m + j]);
      }
      if (acc < 0) acc = 0;
      const double bound = (s.k + 2) * std::ldexp(1.0, -24) * mag + 1e-37;
      worst = std::fmax(worst, std::fabs(y[i * s.m + j] - acc) / bound);
    }
  return worst;
}

int self_check() {
  const Shape shapes[] = {{1, 1, 1}, {1, 784, 256}, {3, 17, 31}, {7, 33, 65}, {32, 127, 10}, {13, 64, 129}};
  const tern::KernelTable* scalar = tern::kernel_table(tern::Isa::kScalar);
  int failures = 0;
  std::mt19937 rng(2024);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::printf("\nself-check: every available ISA against the scalar reference (bitwise)\n");
  for (const Shape& s : shapes) {
    std::vector<float> x(s.n * s.k), w(s.k * s.m), b(s.m);
    for (auto* v : {&x, &w, &b})
      for (float& e : *v) e = dist(rng);
    std::vector<float> ref;
    run(scalar, s, x, w, b, &ref);
    const double err = reference_error(s, x, w, b, ref);
    const bool ref_ok = err < 1.0;
    failures += !ref_ok;
    std::printf("  %4zux%4zux%4zu  scalar vs double: %s (%.2f of bound)", s.n, s.k, s.m,
                ref_ok ? "ok" : "FAIL", err);
    for (int i = 1; i < tern::kIsaCount; ++i) {
      const tern::Isa isa = static_cast<tern::Isa>(i);
      if (!(tern::available_isas() & tern::isa_bit(isa))) continue;
      std::vector<float> got;
      run(tern::kernel_table(isa), s, x, w, b, &got);
      const bool same = got.size() == ref.size() &&
                        std::memcmp(got.data(), ref.data(), got.size() * sizeof(float)) == 0;
      failures += !same;
      std::printf("  %s: %s", tern::isa_name(isa), same ? "bit-identical" : "DIFFERS");
    }
    std::printf("\n");
  }
  std::printf("self-check: %s\n", failures ? "FAILED" : "passed");
  return failures ? 1 : 0;
}

// Prints why --model failed; the exit status.
int model_error(const char* path, const char* cause) {
  std::fprintf(stderr, "tern-info: --model %s: %s\n", path, cause);
  return 1;
}
int model_error(const char* path, const tern::Status& s) {
  char cause[tern::Status::kMessageCapacity + 32];
  std::snprintf(cause, sizeof cause, "%s (%s)", s.message(), tern::status_code_name(s.code()));
  return model_error(path, cause);
}

// The whole of a regular file; false with *cause set otherwise. A FIFO or
// a device is refused before it is opened, so the tool never blocks on one.
bool read_file(const char* path, std::vector<unsigned char>* bytes, const char** cause) {
  struct stat st;
  if (::stat(path, &st) != 0) {
    *cause = std::strerror(errno);
    return false;
  }
  if (!S_ISREG(st.st_mode)) {
    *cause = "not a regular file";
    return false;
  }
  const int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    *cause = std::strerror(errno);
    return false;
  }
  bytes->resize(static_cast<std::size_t>(st.st_size));
  std::size_t done = 0;
  while (done < bytes->size()) {
    const ssize_t got = ::read(fd, bytes->data() + done, bytes->size() - done);
    if (got <= 0) {
      *cause = got == 0 ? "the file shrank while it was read" : std::strerror(errno);
      ::close(fd);
      return false;
    }
    done += static_cast<std::size_t>(got);
  }
  ::close(fd);
  return true;
}

// tern-info --model FILE.
int model_summary(const char* path) {
  std::vector<unsigned char> file;
  const char* cause = "";
  if (!read_file(path, &file, &cause)) return model_error(path, cause);
  const tern::ByteSource source = tern::memory_source(file.data(), file.size());
  tern::ModelFileInfo info;
  tern::Status s = tern::read_model_file_info(source, &info);
  if (!s.ok()) return model_error(path, s);
  // The file holds no batch size or mode: the model it loads into here is
  // the smallest, one row of inference. Loading checks the rest of the file
  // (CRC-32, finite values) before the summary is believed.
  const tern::ModelSpec& spec = info.architecture;
  const std::size_t bytes = tern::arena_bytes(spec);
  std::unique_ptr<unsigned char[]> storage(new (std::nothrow) unsigned char[bytes + 64]);
  if (storage == nullptr) return model_error(path, "cannot allocate the model's arena");
  const auto addr = reinterpret_cast<std::uintptr_t>(storage.get());
  tern::Arena arena;
  tern::Model model;
  s = arena.attach(storage.get() + (64 - addr % 64) % 64, bytes);
  if (s.ok()) s = model.build(spec, arena);
  if (s.ok()) s = tern::load_model(model, source);
  if (!s.ok()) return model_error(path, s);
  std::size_t needed = 0;
  (void)tern::summary_text(model, nullptr, 0, &needed);
  std::vector<char> text(needed);
  s = tern::summary_text(model, text.data(), text.size(), &needed);
  if (!s.ok()) return model_error(path, s);
  const char* optimizers[3] = {"sgd", "adam", "adamw"};
  std::printf("model file %s: %zu bytes, format version %u, ", path, file.size(),
              static_cast<unsigned>(info.version));
  if (info.optimizer_state) {
    std::printf("with %s state after %llu steps\n", optimizers[static_cast<int>(info.optimizer)],
                static_cast<unsigned long long>(info.steps));
  } else {
    std::printf("weights only\n");
  }
  std::printf("as a one-row inference model (a file holds no batch size or mode):\n%s",
              text.data());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  bool check = false;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--self-check") == 0) {
      check = true;
    } else if (std::strcmp(argv[i], "--version") == 0) {
      std::printf("tern %s\n", tern::library_version());
      return 0;
    } else if (std::strcmp(argv[i], "--model") == 0 && i + 1 < argc && argc == 3) {
      return model_summary(argv[i + 1]);
    } else {
      std::fprintf(stderr, "usage: %s [--self-check | --version | --model FILE]\n", argv[0]);
      return 2;
    }
  }
  char model[96], detected[64], built[64], available[64];
  tern::cpu_model(model, sizeof model);
  tern::format_isa_mask(tern::cpu_isas(), detected, sizeof detected);
  tern::format_isa_mask(tern::built_isas(), built, sizeof built);
  tern::format_isa_mask(tern::available_isas(), available, sizeof available);
  std::printf("tern:           %s\n", tern::library_version());
  std::printf("CPU:            %s\n", model);
  std::printf("detected ISAs:  %s\n", detected);
  std::printf("built ISAs:     %s\n", built);
  std::printf("available ISAs: %s\n", available);
  const tern::KernelTable* table = nullptr;
  const tern::Status s = tern::active_kernels(&table);
  if (!s.ok()) {
    std::printf("active ISA:     none: %s\n", s.message());
    return 1;
  }
  tern::Isa isa;
  tern::SelectionReason reason;
  tern::active_isa(&isa, &reason);
  std::printf("active ISA:     %s (%s)\n", tern::isa_name(isa), tern::selection_reason_text(reason));
  return check ? self_check() : 0;
}
