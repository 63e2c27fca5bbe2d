// SPDX-License-Identifier: Apache-2.0
// tern-convert: weights between PyTorch's safetensors files and tern's
// model file and C header (tern/runtime/safetensors.h has the format, the
// names and the layouts).
//
//   tern-convert to-safetensors MODEL.tern OUT.safetensors [--names A,B,...]
//   tern-convert from-safetensors IN.safetensors
//       (--template MODEL.tern | --widths W0,W1,...,Wn [--activation ACT])
//       [--output OUT.tern] [--header OUT.h --name IDENT] [--names A,B,...]
//
// The architecture of a safetensors file is not in the file (it holds
// tensors, not the activations or the order of the modules), so
// from-safetensors takes it from the caller. Decision: two ways, no
// guessing from shapes.
//   --template: a tern model file of the architecture (any tern model:
//     LayerNorm, residuals); its weights are replaced.
//   --widths: an MLP nn.Sequential(Linear(W0, W1), ACT, ..., Linear(Wn-1,
//     Wn)), ACT (default relu: identity, relu, gelu, tanh, sigmoid) after
//     every Linear but the last, as tern::mlp builds it.
// The model file is written without optimizer state; the C header carries
// a one-row inference spec (the header's _INFERENCE_SPEC either way).
// Every file is checked completely before anything is written; outputs are
// written atomically. Exit status 0 on success, 1 on any error (printed).
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <string>
#include <vector>

#include "cli/cli_args.h"
#include "tern/runtime/arena.h"
#include "tern/runtime/c_header_export.h"
#include "tern/runtime/model.h"
#include "tern/runtime/model_file.h"
#include "tern/runtime/plan.h"
#include "tern/runtime/safetensors.h"

namespace {

int fail(const std::string& what) {
  std::fprintf(stderr, "tern-convert: %s\n", what.c_str());
  return 1;
}
int fail(const std::string& where, const tern::Status& s) { return fail(where + ": " + s.message()); }

int usage() {
  std::fprintf(stderr,
               "usage: tern-convert to-safetensors MODEL.tern OUT.safetensors [--names A,B,...]\n"
               "       tern-convert from-safetensors IN.safetensors (--template MODEL.tern |\n"
               "           --widths W0,W1,...,Wn [--activation ACT]) [--output OUT.tern]\n"
               "           [--header OUT.h --name IDENT] [--names A,B,...]\n");
  return 2;
}

// A model in its own 64-byte-aligned heap arena (host tool: set-up only).
struct HostModel {
  std::unique_ptr<unsigned char[]> storage;
  tern::Arena arena;
  tern::Model model;
  tern::Status build(const tern::ModelSpec& spec) {
    const std::size_t bytes = tern::arena_bytes(spec);
    if (bytes == 0) {
      return tern::Status::error(tern::StatusCode::kInvalidArgument, "the architecture is not valid");
    }
    storage.reset(new (std::nothrow) unsigned char[bytes + 64]);
    if (storage == nullptr) {
      return tern::Status::error(tern::StatusCode::kOutOfMemory, "cannot allocate %zu bytes", bytes);
    }
    const auto addr = reinterpret_cast<std::uintptr_t>(storage.get());
    TERN_RETURN_IF_ERROR(arena.attach(storage.get() + (64 - addr % 64) % 64, bytes));
    return model.build(spec, arena);
  }
};

bool read_file(const char* path, std::vector<unsigned char>* out) {
  std::FILE* f = std::fopen(path, "rb");
  if (f == nullptr) return false;
  unsigned char buffer[4096];
  std::size_t got = 0;
  while ((got = std::fread(buffer, 1, sizeof buffer, f)) > 0) out->insert(out->end(), buffer, buffer + got);
  const bool ok = std::ferror(f) == 0;
  std::fclose(f);
  return ok;
}

// The model a tern model file describes, loaded with its weights.
tern::Status load_template(const char* path, HostModel* host) {
  std::vector<unsigned char> file;
  if (!read_file(path, &file)) {
    return tern::Status::error(tern::StatusCode::kIoError, "cannot read the file");
  }
  const tern::ByteSource source = tern::memory_source(file.data(), file.size());
  tern::ModelFileInfo info;
  TERN_RETURN_IF_ERROR(tern::read_model_file_info(source, &info));
  TERN_RETURN_IF_ERROR(host->build(info.architecture));
  return tern::load_model(host->model, source);
}

// "A,B,C" into names; each element of `storage` owns one.
void split_names(const char* list, std::vector<std::string>* storage, std::vector<const char*>* names) {
  std::string s = list;
  std::size_t start = 0;
  for (;;) {
    const std::size_t comma = s.find(',', start);
    storage->push_back(s.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  for (const std::string& n : *storage) names->push_back(n.c_str());
}

// --widths W0,...,Wn and --activation into an MLP spec.
tern::Status mlp_spec(const char* widths, const char* activation, tern::ModelSpec* spec) {
  const tern::Pointwise kinds[] = {tern::Pointwise::kIdentity, tern::Pointwise::kRelu,
                                   tern::Pointwise::kGelu, tern::Pointwise::kTanh,
                                   tern::Pointwise::kSigmoid};
  bool known = false;
  tern::Pointwise act = tern::Pointwise::kRelu;
  for (tern::Pointwise k : kinds) {
    if (std::strcmp(activation, tern::pointwise_name(k)) == 0) {
      act = k;
      known = true;
    }
  }
  if (!known) {
    return tern::Status::error(tern::StatusCode::kInvalidArgument,
                               "--activation '%s': expected identity, relu, gelu, tanh or sigmoid",
                               activation);
  }
  std::vector<std::string> parts;
  std::vector<const char*> unused;
  split_names(widths, &parts, &unused);
  // Widths above 2^24 would make one weight matrix beyond any host's
  // memory; the spec check catches what remains (kMaxLayers, sizes).
  constexpr std::uint64_t kMaxWidth = std::uint64_t{1} << 24;
  if (parts.size() < 2 || parts.size() > tern::kMaxLayers + 1) {
    return tern::Status::error(tern::StatusCode::kInvalidArgument,
                               "--widths: %zu widths given, 2 to %zu expected", parts.size(),
                               tern::kMaxLayers + 1);
  }
  std::uint64_t w = 0;
  TERN_RETURN_IF_ERROR(tern::cli::parse_count("--widths", parts[0].c_str(), 1, kMaxWidth, &w));
  tern::ModelSpec s = tern::ModelSpec::input(static_cast<std::uint32_t>(w), 1);
  for (std::size_t i = 1; i < parts.size(); ++i) {
    TERN_RETURN_IF_ERROR(tern::cli::parse_count("--widths", parts[i].c_str(), 1, kMaxWidth, &w));
    s = s.dense(static_cast<std::uint32_t>(w), i + 1 < parts.size() ? act : tern::Pointwise::kIdentity);
  }
  // A regression loss: a width-1 output is then legal too (the loss is not
  // part of the model file, and the header's inference spec ignores it).
  s.loss = tern::LossKind::kMse;
  const tern::SpecCheck check = tern::check_spec(s);
  if (!check.ok()) {
    return tern::Status::error(tern::StatusCode::kInvalidArgument, "--widths: %s (layer %u)",
                               tern::spec_error_text(check.error), check.layer);
  }
  *spec = s;
  return tern::Status();
}

int to_safetensors(int argc, char** argv) {
  if (argc != 4 && argc != 6) return usage();
  std::vector<std::string> storage;
  std::vector<const char*> names;
  if (argc == 6) {
    if (std::strcmp(argv[4], "--names") != 0) return usage();
    split_names(argv[5], &storage, &names);
  }
  HostModel host;
  const tern::Status loaded = load_template(argv[2], &host);
  if (!loaded.ok()) return fail(argv[2], loaded);
  const tern::Status saved = tern::save_safetensors_file(
      host.model, argv[3], names.empty() ? nullptr : names.data(), static_cast<std::uint32_t>(names.size()));
  if (!saved.ok()) return fail(argv[3], saved);
  std::printf("%s: %u tensors, %zu parameters\n", argv[3], host.model.tensor_count(),
              host.model.parameter_count());
  return 0;
}

int from_safetensors(int argc, char** argv) {
  if (argc < 3) return usage();
  const char* input = argv[2];
  const char *templ = nullptr, *widths = nullptr, *activation = "relu", *output = nullptr,
             *header = nullptr, *name = nullptr, *name_list = nullptr;
  for (int i = 3; i < argc; ++i) {
    const char* option = argv[i];
    const char** target = nullptr;
    if (std::strcmp(option, "--template") == 0) target = &templ;
    if (std::strcmp(option, "--widths") == 0) target = &widths;
    if (std::strcmp(option, "--activation") == 0) target = &activation;
    if (std::strcmp(option, "--output") == 0) target = &output;
    if (std::strcmp(option, "--header") == 0) target = &header;
    if (std::strcmp(option, "--name") == 0) target = &name;
    if (std::strcmp(option, "--names") == 0) target = &name_list;
    if (target == nullptr || i + 1 >= argc) return usage();
    *target = argv[++i];
  }
  if ((templ == nullptr) == (widths == nullptr)) {
    return fail("from-safetensors needs exactly one of --template and --widths");
  }
  if (output == nullptr && header == nullptr) return fail("from-safetensors needs --output or --header");
  if ((header == nullptr) != (name == nullptr)) return fail("--header and --name go together");

  HostModel host;
  if (templ != nullptr) {
    const tern::Status s = load_template(templ, &host);
    if (!s.ok()) return fail(std::string("--template ") + templ, s);
  } else {
    tern::ModelSpec spec;
    tern::Status s = mlp_spec(widths, activation, &spec);
    if (s.ok()) s = host.build(spec);
    if (!s.ok()) return fail(s.message());
  }
  std::vector<std::string> storage;
  std::vector<const char*> names;
  if (name_list != nullptr) split_names(name_list, &storage, &names);
  const tern::Status loaded = tern::load_safetensors_file(
      host.model, input, names.empty() ? nullptr : names.data(), static_cast<std::uint32_t>(names.size()));
  if (!loaded.ok()) return fail(input, loaded);
  if (output != nullptr) {
    const tern::Status s = tern::save_model_file(host.model, output);
    if (!s.ok()) return fail(output, s);
    std::printf("%s: %zu parameters\n", output, host.model.parameter_count());
  }
  if (header != nullptr) {
    const tern::Status s = tern::export_c_header_file(host.model, name, header);
    if (!s.ok()) return fail(header, s);
    std::printf("%s: %zu parameters as %s\n", header, host.model.parameter_count(), name);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) return usage();
  if (std::strcmp(argv[1], "to-safetensors") == 0) return to_safetensors(argc, argv);
  if (std::strcmp(argv[1], "from-safetensors") == 0) return from_safetensors(argc, argv);
  return usage();
}
