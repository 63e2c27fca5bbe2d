// Power-fail-safe checkpoints: a power cut at every byte offset of a save
// leaves a loadable checkpoint, and resuming from whatever survived gives
// the same weights, moments and step count, bit for bit, as a run that was
// never interrupted. Also: a corrupted newest slot falls back to the older
// one, exact errors, and the file-backed storage.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "runtime_test_util.h"
#include "tern/runtime/checkpoint.h"
#include "tern/runtime/rng.h"

using namespace tern;
using tern::test::bits_equal;
using tern::test::ModelInArena;
using State = tern::test::TrainingState;

namespace {

const ModelSpec kSpec = mlp({3, 5, 3}, 4, Mode::kTraining, Pointwise::kTanh,
                            LossKind::kSoftmaxCrossEntropy, OptimizerKind::kAdam);

// A flash chip that loses power: it accepts `budget` more bytes of writes,
// programs the part of the write that fits, and fails from then on.
struct FakeFlash {
  std::vector<unsigned char> bytes;
  std::size_t budget = SIZE_MAX;
  std::size_t writes = 0;  // bytes accepted

  explicit FakeFlash(std::size_t size) : bytes(size, 0xff) {}  // erased flash
  Storage storage() {
    Storage s;
    s.context = this;
    s.size = bytes.size();
    s.read = [](void* c, std::size_t off, void* data, std::size_t n) -> Status {
      auto* f = static_cast<FakeFlash*>(c);
      REQUIRE(off + n <= f->bytes.size());
      std::memcpy(data, f->bytes.data() + off, n);
      return Status();
    };
    s.write = [](void* c, std::size_t off, const void* data, std::size_t n) -> Status {
      auto* f = static_cast<FakeFlash*>(c);
      REQUIRE(off + n <= f->bytes.size());
      const std::size_t take = n < f->budget ? n : f->budget;
      std::memcpy(f->bytes.data() + off, data, take);
      f->budget -= take;
      f->writes += take;
      if (take < n) return Status::error(StatusCode::kIoError, "power lost");
      return Status();
    };
    return s;
  }
};


struct Data {
  std::vector<float> x;
  std::vector<std::uint32_t> labels;
};
Data make_data() {
  Data d;
  Rng rng(5, 3);
  for (int i = 0; i < 32 * 3; ++i) d.x.push_back(rng.symmetric(1.0f));
  for (int i = 0; i < 32; ++i) d.labels.push_back(rng.below(3));
  return d;
}

// One training step whose batch is drawn with `rng`, as an on-device loop
// would: the RNG state is part of what a resume must reproduce.
void step(Model& m, Rng& rng, const Data& d) {
  std::uint32_t idx[4];
  for (auto& i : idx) i = rng.below(32);
  Batch b;
  b.x = d.x.data();
  b.ldx = 3;
  b.rows = 4;
  b.labels = d.labels.data();
  b.indices = idx;
  b.samples = 32;
  const Status s = m.train_step(b, nullptr);
  REQUIRE_MESSAGE(s.ok(), s.message());
}

// Steps 1..12 with saves after steps 3, 6 and 9; the save numbered
// `cut_save` (1-based) loses power after `budget` bytes. Returns the final
// state; when the cut happened, the device "reboots": a fresh model and RNG
// load the newest checkpoint and training resumes from it.
State run(const Data& d, int cut_save, std::size_t budget, std::uint64_t* resumed_sequence) {
  FakeFlash flash(checkpoint_storage_bytes(kSpec));
  const Storage storage = flash.storage();
  ModelInArena a(kSpec);
  REQUIRE(a.status.ok());
  a.model.initialize(1);
  Rng rng(99);
  int saves = 0;
  for (int s = 1; s <= 12; ++s) {
    step(a.model, rng, d);
    if (s % 3 != 0 || s == 12) continue;
    if (++saves != cut_save) {
      REQUIRE(save_checkpoint(a.model, &rng, storage).ok());
      continue;
    }
    flash.budget = budget;
    const Status cut = save_checkpoint(a.model, &rng, storage);
    flash.budget = SIZE_MAX;
    if (cut.ok()) continue;  // the budget covered the whole record
    CHECK(cut.code() == StatusCode::kIoError);
    // Power is back: nothing of the running program survives.
    ModelInArena b(kSpec);
    REQUIRE(b.status.ok());
    b.model.initialize(7);  // different weights, to be overwritten
    Rng fresh(12345);
    CheckpointInfo info;
    const Status load = load_checkpoint(b.model, &fresh, storage, &info);
    if (cut_save == 1 && load.code() == StatusCode::kCorruptData) {
      // The first save never completed: start over, as the device would.
      b.model.initialize(1);
      fresh = Rng(99);
      info = CheckpointInfo();
    } else {
      REQUIRE_MESSAGE(load.ok(), load.message());
    }
    *resumed_sequence = info.sequence;
    REQUIRE(info.steps % 3 == 0);
    for (std::uint32_t t = info.steps + 1; t <= 12; ++t) {
      step(b.model, fresh, d);
      if (t % 3 == 0 && t != 12) REQUIRE(save_checkpoint(b.model, &fresh, storage).ok());
    }
    return State(b.model);
  }
  *resumed_sequence = 0;
  return State(a.model);
}

}  // namespace

TEST_CASE("checkpoint: a power cut at every byte of a save leaves a checkpoint that resumes exactly") {
  const Data d = make_data();
  std::uint64_t seq = 0;
  const State uninterrupted = run(d, 0, 0, &seq);
  CHECK(uninterrupted.steps == 12);
  const std::size_t record = checkpoint_slot_bytes(kSpec);
  CHECK(record == 48 + model_file_bytes(kSpec, true) + 4);
  // Save 2 goes into the empty slot 1; save 3 overwrites slot 0, which holds
  // save 1, while slot 1 holds the newest checkpoint.
  for (int cut_save : {1, 2, 3}) {
    CAPTURE(cut_save);
    for (std::size_t budget = 0; budget <= record; ++budget) {
      CAPTURE(budget);
      std::uint64_t resumed = 0;
      const State s = run(d, cut_save, budget, &resumed);
      REQUIRE(s == uninterrupted);
      if (budget < record) {
        // Cut before the last checksum byte: the previous checkpoint, or
        // none at all on the very first save.
        if (cut_save == 1) {
          CHECK(resumed == 0);
        } else {
          CHECK(resumed == std::uint64_t(cut_save - 1));
        }
      } else {
        CHECK(resumed == 0);  // the save completed; no reboot
      }
    }
  }
}

TEST_CASE("checkpoint: the first save cut short leaves no checkpoint, reported per slot") {
  FakeFlash flash(checkpoint_storage_bytes(kSpec));
  ModelInArena a(kSpec);
  REQUIRE(a.status.ok());
  a.model.initialize(1);
  flash.budget = 100;
  CHECK(save_checkpoint(a.model, nullptr, flash.storage()).code() == StatusCode::kIoError);
  flash.budget = SIZE_MAX;
  const State before(a.model);
  const Status s = load_checkpoint(a.model, nullptr, flash.storage());
  CHECK(s.code() == StatusCode::kCorruptData);
  CHECK(std::string(s.message()) ==
        "load_checkpoint: no valid checkpoint (slot 0: checksum mismatch, slot 1: no checkpoint)");
  CHECK(State(a.model) == before);
}

TEST_CASE("checkpoint: a corrupted newest slot falls back to the older one; slots alternate") {
  FakeFlash flash(checkpoint_storage_bytes(kSpec));
  const Storage storage = flash.storage();
  const Data d = make_data();
  ModelInArena a(kSpec), b(kSpec);
  REQUIRE(a.status.ok());
  REQUIRE(b.status.ok());
  a.model.initialize(1);
  Rng rng(3);
  step(a.model, rng, d);
  CheckpointInfo info;
  REQUIRE(save_checkpoint(a.model, &rng, storage, &info).ok());
  CHECK(info.sequence == 1);
  CHECK(info.slot == 0);
  CHECK(info.steps == 1);
  const State first(a.model);
  const RngState first_rng = rng.save();
  step(a.model, rng, d);
  REQUIRE(save_checkpoint(a.model, &rng, storage, &info).ok());
  CHECK(info.sequence == 2);
  CHECK(info.slot == 1);
  const State second(a.model);

  Rng r(0);
  REQUIRE(load_checkpoint(b.model, &r, storage, &info).ok());
  CHECK(info.sequence == 2);
  CHECK(State(b.model) == second);

  // Every single bit flip of the newest record: the older checkpoint loads.
  const std::size_t slot = checkpoint_slot_bytes(kSpec);
  for (std::size_t bit = 0; bit < slot * 8; bit += 7) {
    CAPTURE(bit);
    flash.bytes[slot + bit / 8] ^= static_cast<unsigned char>(1u << (bit % 8));
    b.model.initialize(5);
    const Status s = load_checkpoint(b.model, &r, storage, &info);
    flash.bytes[slot + bit / 8] ^= static_cast<unsigned char>(1u << (bit % 8));
    REQUIRE_MESSAGE(s.ok(), s.message());
    // A flip in the sequence number's high bits may only make slot 1 "newer"
    // if its checksum still matched, which it cannot.
    REQUIRE(info.sequence == 1);
    REQUIRE(State(b.model) == first);
    REQUIRE(r.save().state == first_rng.state);
    REQUIRE(r.save().increment == first_rng.increment);
  }
  // The next save replaces the older slot (0), never the newest.
  REQUIRE(save_checkpoint(a.model, &rng, storage, &info).ok());
  CHECK(info.slot == 0);
  CHECK(info.sequence == 3);
}

TEST_CASE("checkpoint: exact errors for wrong storage, models and requests") {
  ModelInArena a(kSpec);
  REQUIRE(a.status.ok());
  a.model.initialize(1);
  const std::size_t need = checkpoint_storage_bytes(kSpec);
  FakeFlash small(need - 1);
  Status s = save_checkpoint(a.model, nullptr, small.storage());
  CHECK(s.code() == StatusCode::kOutOfMemory);
  char expect[160];
  std::snprintf(expect, sizeof expect,
                "save_checkpoint: the storage has %zu bytes, two slots of %zu need %zu "
                "(checkpoint_storage_bytes(spec))",
                need - 1, need / 2, need);
  CHECK(std::string(s.message()) == expect);

  FakeFlash flash(need);
  Storage no_write = flash.storage();
  no_write.write = nullptr;
  s = save_checkpoint(a.model, nullptr, no_write);
  CHECK(s.code() == StatusCode::kInvalidArgument);
  CHECK(std::string(s.message()) == "save_checkpoint: the storage has no write callback");

  ModelInArena inf(kSpec.inference());
  REQUIRE(inf.status.ok());
  s = load_checkpoint(inf.model, nullptr, flash.storage());
  CHECK(s.code() == StatusCode::kFailedPrecondition);
  CHECK(std::string(s.message()) ==
        "load_checkpoint: an inference model has no training state to checkpoint");

  // Saved without an RNG, asked for one.
  REQUIRE(save_checkpoint(a.model, nullptr, flash.storage()).ok());
  Rng rng(1);
  s = load_checkpoint(a.model, &rng, flash.storage());
  CHECK(s.code() == StatusCode::kFailedPrecondition);
  CHECK(std::string(s.message()) ==
        "load_checkpoint: an RNG state was requested but checkpoint 1 has none");

  // Non-finite weights are not checkpointed: nothing is written, the
  // previous checkpoint stays.
  a.model.tensor(0).value[2] = INFINITY;
  const std::vector<unsigned char> image = flash.bytes;
  s = save_checkpoint(a.model, nullptr, flash.storage());
  CHECK(s.code() == StatusCode::kNonFinite);
  CHECK(std::string(s.message()) == "save_checkpoint: parameter 2 of tensor 0 (layer 0) is not finite");
  CHECK(flash.bytes == image);
  CheckpointInfo info;
  REQUIRE(load_checkpoint(a.model, nullptr, flash.storage(), &info).ok());
  CHECK(info.sequence == 1);
  CHECK(a.model.tensor(0).value[2] != INFINITY);
}

TEST_CASE("checkpoint: file storage round-trips and survives reopening") {
  const std::string path = tern::test::temp_name("ckpt.bin");
  std::remove(path.c_str());
  const Data d = make_data();
  ModelInArena a(kSpec), b(kSpec);
  REQUIRE(a.status.ok());
  REQUIRE(b.status.ok());
  a.model.initialize(1);
  Rng rng(4);
  {
    FileStorage fs;
    REQUIRE(fs.open(path.c_str(), checkpoint_storage_bytes(kSpec)).ok());
    for (int i = 0; i < 3; ++i) {
      step(a.model, rng, d);
      REQUIRE(save_checkpoint(a.model, &rng, fs.storage()).ok());
    }
  }
  FileStorage fs;
  REQUIRE(fs.open(path.c_str(), checkpoint_storage_bytes(kSpec)).ok());
  Rng r(0);
  CheckpointInfo info;
  REQUIRE(load_checkpoint(b.model, &r, fs.storage(), &info).ok());
  CHECK(info.sequence == 3);
  CHECK(info.steps == 3);
  CHECK(State(b.model) == State(a.model));
  CHECK(r.next_u32() == rng.next_u32());
  fs.close();
  std::remove(path.c_str());
  CHECK(fs.open("/nonexistent/dir/ckpt.bin", 64).code() == StatusCode::kIoError);
}
