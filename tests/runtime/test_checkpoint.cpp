// SPDX-License-Identifier: Apache-2.0
// Power-fail-safe checkpoints: a power cut at every byte offset of a save
// leaves a loadable checkpoint, and resuming from whatever survived gives
// the same weights, moments and step count, bit for bit, as a run that was
// never interrupted. Also: a corrupted newest slot falls back to the older
// one, exact errors, and the file-backed storage.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdio>
#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "runtime_test_util.h"
#include "tern/runtime/checkpoint.h"
#include "tern/runtime/rng.h"

using namespace tern;
using tern::test::bits_equal;
using tern::test::contains;
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

// ---------------------------------------------------------------------------
// Real flash: erase before program, power cuts during either.
// ---------------------------------------------------------------------------
namespace {

// NOR/NAND flash as it behaves: erasing sets a whole sector to 0xff, and a
// byte may only be programmed while erased (as on ECC flash, which cannot
// program a byte twice; `violations` counts programs of non-erased bytes,
// which the tests require to be 0). Power is lost after `budget` more
// operations: erasing a sector is one, programming `granule` bytes is one. A
// cut during an erase leaves the sector's first half erased and the rest as
// it was; a cut during a program leaves the bytes before it programmed.
//
// With `raw`, the storage has an erase callback and checkpoints erase and
// program themselves. Without, the write callback does what a simple flash
// driver does — read the sector, erase it, program it back merged with the
// new bytes — and erase_bytes tells checkpoints the sector size.
struct EraseFlash {
  std::vector<unsigned char> bytes;
  std::size_t sector;
  bool raw;
  std::size_t granule = 1;
  std::size_t budget = SIZE_MAX;
  std::size_t ops = 0;
  std::size_t violations = 0;
  std::vector<unsigned char> merged;  // one sector, for read-erase-program

  EraseFlash(std::size_t size, std::size_t sector_bytes, bool raw_flash)
      : bytes(size, 0xff), sector(sector_bytes), raw(raw_flash), merged(sector_bytes) {}

  static Status lost() { return Status::error(StatusCode::kIoError, "power lost"); }
  bool spend() {
    if (budget == 0) return false;
    --budget;
    ++ops;
    return true;
  }
  Status erase_sector(std::size_t s) {
    unsigned char* p = bytes.data() + s * sector;
    if (!spend()) {
      std::memset(p, 0xff, sector / 2);
      return lost();
    }
    std::memset(p, 0xff, sector);
    return Status();
  }
  Status program(std::size_t off, const unsigned char* data, std::size_t n) {
    for (std::size_t i = 0; i < n; i += granule) {
      if (!spend()) return lost();
      const std::size_t m = n - i < granule ? n - i : granule;
      for (std::size_t j = 0; j < m; ++j) {
        if (bytes[off + i + j] != 0xff) ++violations;
        bytes[off + i + j] = data[i + j];
      }
    }
    return Status();
  }
  Status write(std::size_t off, const unsigned char* data, std::size_t n) {
    REQUIRE(off + n <= bytes.size());
    if (raw) return program(off, data, n);
    while (n > 0) {  // read-erase-program, sector by sector
      const std::size_t s = off / sector, in = off % sector;
      const std::size_t take = sector - in < n ? sector - in : n;
      std::memcpy(merged.data(), bytes.data() + s * sector, sector);
      std::memcpy(merged.data() + in, data, take);
      TERN_RETURN_IF_ERROR(erase_sector(s));
      TERN_RETURN_IF_ERROR(program(s * sector, merged.data(), sector));
      off += take;
      data += take;
      n -= take;
    }
    return Status();
  }
  Storage storage() {
    Storage s;
    s.context = this;
    s.size = bytes.size();
    s.erase_bytes = sector;
    s.read = [](void* c, std::size_t off, void* data, std::size_t n) -> Status {
      auto* f = static_cast<EraseFlash*>(c);
      REQUIRE(off + n <= f->bytes.size());
      std::memcpy(data, f->bytes.data() + off, n);
      return Status();
    };
    s.write = [](void* c, std::size_t off, const void* data, std::size_t n) -> Status {
      return static_cast<EraseFlash*>(c)->write(off, static_cast<const unsigned char*>(data), n);
    };
    if (raw) {
      s.erase = [](void* c, std::size_t off, std::size_t n) -> Status {
        auto* f = static_cast<EraseFlash*>(c);
        REQUIRE(off % f->sector == 0);
        REQUIRE(n % f->sector == 0);
        REQUIRE(off + n <= f->bytes.size());
        for (std::size_t s = off / f->sector; s < (off + n) / f->sector; ++s) {
          TERN_RETURN_IF_ERROR(f->erase_sector(s));
        }
        return Status();
      };
    }
    return s;
  }
};

// A model's training state and its RNG, as a resume must reproduce them.
struct Snapshot {
  State state;
  RngState rng;
  bool operator==(const Snapshot& o) const {
    return state == o.state && rng.state == o.rng.state && rng.increment == o.rng.increment;
  }
};

// Trains `spec` with saves after every two steps; before each of the first
// `saves` saves, cuts the power after every possible number of flash
// operations (0 .. all of the save's) in turn, "reboots" — a fresh model
// and RNG load what survived — and requires the checkpoint of the previous
// save or of this one, bit for bit (on the first save: none, or this one).
// Returns how many cut points it tried.
std::size_t sweep_power_cuts(const ModelSpec& spec, std::size_t sector, bool raw,
                             std::size_t granule, int saves, int only_save = 0) {
  const tern::test::SyntheticData d = tern::test::synthetic_data(spec, 64, 9, 2);
  const std::size_t storage_bytes = checkpoint_storage_bytes(spec, sector);
  REQUIRE(storage_bytes > 0);
  EraseFlash flash(storage_bytes, sector, raw);
  flash.granule = granule;
  const Storage storage = flash.storage();
  ModelInArena a(spec), b(spec);
  REQUIRE(a.status.ok());
  REQUIRE(b.status.ok());
  a.model.initialize(1);
  Rng rng(77);
  std::vector<Snapshot> saved;  // after save k: saved[k - 1]
  std::size_t cuts = 0;
  for (int save = 1; save <= saves; ++save) {
    for (int s = 0; s < 2; ++s) {
      std::uint32_t idx[64];
      const std::size_t rows = spec.rows;
      for (std::size_t i = 0; i < rows; ++i) idx[i] = rng.below(64);
      Batch batch = tern::test::batch_of(spec, d, 0, rows);
      batch.indices = idx;
      batch.samples = 64;
      const Status st = a.model.train_step(batch, nullptr);
      REQUIRE_MESSAGE(st.ok(), st.message());
    }
    const Snapshot now{State(a.model), rng.save()};
    const std::vector<unsigned char> before = flash.bytes;
    // How many operations the whole save takes.
    flash.ops = 0;
    REQUIRE(save_checkpoint(a.model, &rng, storage).ok());
    const std::size_t total = flash.ops;
    if (only_save == 0 || only_save == save) {
      for (std::size_t budget = 0; budget <= total; ++budget) {
        CAPTURE(save);
        CAPTURE(budget);
        flash.bytes = before;
        flash.budget = budget;
        const Status cut = save_checkpoint(a.model, &rng, storage);
        flash.budget = SIZE_MAX;
        CHECK(cut.ok() == (budget == total));
        if (!cut.ok()) REQUIRE(cut.code() == StatusCode::kIoError);
        ++cuts;
        // Power is back.
        b.model.initialize(5);
        Rng fresh(123);
        CheckpointInfo info;
        const Status load = load_checkpoint(b.model, &fresh, storage, &info);
        if (save == 1 && !cut.ok() && load.code() == StatusCode::kCorruptData) continue;
        REQUIRE_MESSAGE(load.ok(), load.message());
        const Snapshot got{State(b.model), fresh.save()};
        if (cut.ok()) {
          REQUIRE(got == now);
        } else {
          REQUIRE((got == now || (save > 1 && got == saved.back())));
        }
      }
      flash.bytes = before;
      REQUIRE(save_checkpoint(a.model, &rng, storage).ok());
    }
    saved.push_back(now);
  }
  CHECK(flash.violations == 0);
  return cuts;
}

// A disk with a write cache: writes and reads go to the cache, sync copies
// it to the durable image — or fails and copies nothing (as when fsync
// reports EIO: Linux then marks the pages clean, and they may be lost),
// and a power cut throws the cache away. `budget` bytes of writes, then the
// power is lost in the middle of a write.
struct CachedDisk {
  std::vector<unsigned char> cache, durable;
  bool fail_sync = false;
  std::size_t budget = SIZE_MAX;
  explicit CachedDisk(std::size_t size) : cache(size, 0), durable(size, 0) {}
  void power_cut() { cache = durable; }
  Storage storage() {
    Storage s;
    s.context = this;
    s.size = cache.size();
    s.read = [](void* c, std::size_t off, void* data, std::size_t n) -> Status {
      auto* d = static_cast<CachedDisk*>(c);
      REQUIRE(off + n <= d->cache.size());
      std::memcpy(data, d->cache.data() + off, n);
      return Status();
    };
    s.write = [](void* c, std::size_t off, const void* data, std::size_t n) -> Status {
      auto* d = static_cast<CachedDisk*>(c);
      REQUIRE(off + n <= d->cache.size());
      const std::size_t take = n < d->budget ? n : d->budget;
      std::memcpy(d->cache.data() + off, data, take);
      d->budget -= take;
      return take < n ? Status::error(StatusCode::kIoError, "power lost") : Status();
    };
    s.sync = [](void* c) -> Status {
      auto* d = static_cast<CachedDisk*>(c);
      if (d->fail_sync) return Status::error(StatusCode::kIoError, "fdatasync failed: EIO");
      d->durable = d->cache;
      return Status();
    };
    return s;
  }
};

// Rewrites the record CRC-32 of `slot` (and, first, the CRC-32 of the model
// file inside it) after a test edited the slot's bytes.
void fix_slot(std::vector<unsigned char>& bytes, const ModelSpec& spec, std::size_t slot) {
  const std::size_t record = checkpoint_record_bytes(spec);
  const std::size_t file = model_file_bytes(spec, true);
  unsigned char* base = bytes.data() + slot * checkpoint_slot_bytes(spec);
  auto put = [](unsigned char* p, std::uint32_t v) {
    for (int i = 0; i < 4; ++i) p[i] = static_cast<unsigned char>(v >> (8 * i));
  };
  put(base + 48 + file - 4, crc32(base + 48, file - 4));
  put(base + record - 4, crc32(base, record - 4));
}

}  // namespace

TEST_CASE("checkpoint: slots are aligned to erase sectors") {
  const std::size_t record = checkpoint_record_bytes(kSpec);
  CHECK(record == 48 + model_file_bytes(kSpec, true) + 4);
  CHECK(checkpoint_slot_bytes(kSpec) == record);
  CHECK(checkpoint_slot_bytes(kSpec, 1) == record);
  CHECK(checkpoint_slot_bytes(kSpec, 64) == (record + 63) / 64 * 64);
  CHECK(checkpoint_slot_bytes(kSpec, 4096) == 4096);
  CHECK(checkpoint_storage_bytes(kSpec, 4096) == 8192);
  CHECK(checkpoint_slot_bytes(kSpec, SIZE_MAX / 2 + 1) == SIZE_MAX / 2 + 1);
  CHECK(checkpoint_storage_bytes(kSpec, SIZE_MAX / 2 + 1) == 0);  // two slots overflow
  CHECK(checkpoint_storage_bytes(kSpec.inference(), 64) == 0);

  ModelInArena a(kSpec);
  REQUIRE(a.status.ok());
  a.model.initialize(1);
  EraseFlash flash(checkpoint_storage_bytes(kSpec, 64) - 1, 64, true);
  Status s = save_checkpoint(a.model, nullptr, flash.storage());
  CHECK(s.code() == StatusCode::kOutOfMemory);
  char expect[200];
  std::snprintf(expect, sizeof expect,
                "save_checkpoint: the storage has %zu bytes, two slots of %zu (%zu-byte records "
                "in 64-byte erase sectors) need %zu",
                checkpoint_storage_bytes(kSpec, 64) - 1, checkpoint_slot_bytes(kSpec, 64), record,
                checkpoint_storage_bytes(kSpec, 64));
  CHECK_MESSAGE(contains(s, expect), s.message());
  Storage bad = EraseFlash(4096, 64, true).storage();
  bad.erase_bytes = 0;
  s = save_checkpoint(a.model, nullptr, bad);
  CHECK(s.code() == StatusCode::kInvalidArgument);
  CHECK(std::string(s.message()) ==
        "save_checkpoint: the storage has an erase callback but erase_bytes is 0; give its "
        "erase sector size");
}

TEST_CASE("checkpoint: erase-then-program flash, a power cut before, during and after the erase "
          "and at every program offset of three saves") {
  // Sectors of 64 bytes: a slot spans many, so cuts fall between and inside
  // sectors; every operation offset is a cut point.
  for (bool raw : {true, false}) {
    CAPTURE(raw);
    const std::size_t cuts = sweep_power_cuts(kSpec, 64, raw, 1, 3);
    CHECK(cuts > 3 * checkpoint_record_bytes(kSpec));
  }
}

TEST_CASE("checkpoint: 4 KiB sectors, a 16-64-10 model, every cut of the second save") {
  // The configuration where unaligned slots lost both checkpoints at 15 of
  // 90 cut points: slot 1 began inside the sector holding slot 0's tail and
  // CRC, so rewriting it erased them. Programs are cut every 256 bytes.
  const ModelSpec spec = mlp({16, 64, 10}, 8, Mode::kTraining, Pointwise::kRelu,
                             LossKind::kSoftmaxCrossEntropy, OptimizerKind::kAdam);
  for (bool raw : {true, false}) {
    CAPTURE(raw);
    CHECK(sweep_power_cuts(spec, 4096, raw, 256, 2, 2) > 80);
  }
}

TEST_CASE("checkpoint: after a failed sync the next save never overwrites the durable slot") {
  const Data d = make_data();
  CachedDisk disk(checkpoint_storage_bytes(kSpec));
  const Storage storage = disk.storage();
  ModelInArena a(kSpec), b(kSpec);
  REQUIRE(a.status.ok());
  REQUIRE(b.status.ok());
  a.model.initialize(1);
  Rng rng(8);
  step(a.model, rng, d);
  REQUIRE(save_checkpoint(a.model, &rng, storage).ok());  // slot 0, durable
  const State first(a.model);
  step(a.model, rng, d);
  disk.fail_sync = true;
  const Status failed = save_checkpoint(a.model, &rng, storage);
  disk.fail_sync = false;
  CHECK(failed.code() == StatusCode::kIoError);
  CHECK(std::string(failed.message()) ==
        "save_checkpoint: sync failed after writing slot 1 (fdatasync failed: EIO); the slot "
        "was invalidated, the previous checkpoint stays");
  // What a read shows now is what survives a cut: the first checkpoint.
  CheckpointInfo info;
  REQUIRE(load_checkpoint(b.model, nullptr, storage, &info).ok());
  CHECK(info.sequence == 1);
  CHECK(State(b.model) == first);

  // The next save goes into slot 1 again; slot 0 is not touched, and a cut
  // at any byte of that save leaves the first checkpoint or the new one.
  step(a.model, rng, d);
  const State third(a.model);
  const CachedDisk at_start = disk;
  const std::size_t slot = checkpoint_slot_bytes(kSpec);
  for (std::size_t budget = 0; budget <= slot; ++budget) {
    CAPTURE(budget);
    disk = at_start;
    disk.budget = budget;
    const Status s = save_checkpoint(a.model, &rng, storage, &info);
    disk.budget = SIZE_MAX;
    REQUIRE(std::equal(disk.cache.begin(), disk.cache.begin() + long(slot),
                       at_start.cache.begin()));
    if (s.ok()) CHECK(info.slot == 1);
    disk.power_cut();
    REQUIRE(load_checkpoint(b.model, nullptr, storage, &info).ok());
    REQUIRE((State(b.model) == first || (s.ok() && State(b.model) == third)));
  }
}

TEST_CASE("checkpoint: sequence numbers wrap: after 2^64 - 1 comes 0, and 0 is newer") {
  const Data d = make_data();
  FakeFlash flash(checkpoint_storage_bytes(kSpec));
  const Storage storage = flash.storage();
  ModelInArena a(kSpec), b(kSpec);
  REQUIRE(a.status.ok());
  REQUIRE(b.status.ok());
  a.model.initialize(1);
  Rng rng(9);
  step(a.model, rng, d);
  REQUIRE(save_checkpoint(a.model, &rng, storage).ok());
  for (int i = 0; i < 8; ++i) flash.bytes[16 + i] = 0xff;  // sequence 2^64 - 1
  fix_slot(flash.bytes, kSpec, 0);
  CheckpointInfo info;
  REQUIRE(load_checkpoint(b.model, nullptr, storage, &info).ok());
  CHECK(info.sequence == UINT64_MAX);

  step(a.model, rng, d);
  REQUIRE(save_checkpoint(a.model, &rng, storage, &info).ok());
  CHECK(info.sequence == 0);
  CHECK(info.slot == 1);
  REQUIRE(load_checkpoint(b.model, nullptr, storage, &info).ok());
  CHECK(info.sequence == 0);
  CHECK(State(b.model) == State(a.model));  // not the stale 2^64 - 1

  step(a.model, rng, d);
  REQUIRE(save_checkpoint(a.model, &rng, storage, &info).ok());
  CHECK(info.sequence == 1);
  CHECK(info.slot == 0);  // over 2^64 - 1, the older
  REQUIRE(load_checkpoint(b.model, nullptr, storage, &info).ok());
  CHECK(info.sequence == 1);
  CHECK(State(b.model) == State(a.model));
}

TEST_CASE("checkpoint: a newest record that does not load (NaN, v < 0) falls back to the older") {
  const Data d = make_data();
  const std::size_t slot = checkpoint_slot_bytes(kSpec);
  // Offsets in a slot: the model file at 48, its payload after its header.
  const std::size_t payload = 48 + model_file_header_bytes(kSpec.layer_count);
  ModelInArena a(kSpec), b(kSpec);
  REQUIRE(a.status.ok());
  REQUIRE(b.status.ok());
  const std::size_t P = parameter_floats(kSpec);
  const struct {
    std::size_t value;  // index into the payload
    unsigned char bits[4];
    StatusCode code;
  } cases[] = {{0, {0x00, 0x00, 0xc0, 0x7f}, StatusCode::kNonFinite},          // NaN weight
               {2 * P + 1, {0x00, 0x00, 0x80, 0xbf}, StatusCode::kCorruptData}};  // v = -1
  for (const auto& c : cases) {
    CAPTURE(c.value);
    FakeFlash flash(checkpoint_storage_bytes(kSpec));
    const Storage storage = flash.storage();
    a.model.initialize(1);
    Rng rng(10);
    step(a.model, rng, d);
    REQUIRE(save_checkpoint(a.model, &rng, storage).ok());  // slot 0
    const State first(a.model);
    step(a.model, rng, d);
    REQUIRE(save_checkpoint(a.model, &rng, storage).ok());  // slot 1
    std::memcpy(flash.bytes.data() + slot + payload + 4 * c.value, c.bits, 4);
    fix_slot(flash.bytes, kSpec, 1);  // both checksums valid

    CheckpointInfo info;
    Status s = load_checkpoint(b.model, nullptr, storage, &info);
    REQUIRE_MESSAGE(s.ok(), s.message());
    CHECK(info.sequence == 1);
    CHECK(info.slot == 0);
    CHECK(info.older);
    CHECK(State(b.model) == first);

    // The next save replaces the bad record, never the one that loads.
    step(a.model, rng, d);
    REQUIRE(save_checkpoint(a.model, &rng, storage, &info).ok());
    CHECK(info.slot == 1);
    CHECK(info.sequence == 3);
    REQUIRE(load_checkpoint(b.model, nullptr, storage, &info).ok());
    CHECK(!info.older);
    CHECK(State(b.model) == State(a.model));

    // Both bad: the newest record's own error, the model unchanged.
    std::memcpy(flash.bytes.data() + slot + payload + 4 * c.value, c.bits, 4);
    fix_slot(flash.bytes, kSpec, 1);
    std::memcpy(flash.bytes.data() + payload + 4 * c.value, c.bits, 4);
    fix_slot(flash.bytes, kSpec, 0);
    b.model.initialize(3);
    const State untouched(b.model);
    s = load_checkpoint(b.model, nullptr, storage, &info);
    CHECK(s.code() == c.code);
    CHECK_MESSAGE(contains(s, "load_checkpoint: slot 1: load: value "), s.message());
    CHECK(State(b.model) == untouched);
  }
}

#if TERN_HAS_OS
TEST_CASE("checkpoint: a closed file storage is a failed precondition, not a full one") {
  ModelInArena a(kSpec);
  REQUIRE(a.status.ok());
  a.model.initialize(1);
  FileStorage fs;
  const Status s = save_checkpoint(a.model, nullptr, fs.storage());
  CHECK(s.code() == StatusCode::kFailedPrecondition);
  CHECK(std::string(s.message()) == "save_checkpoint: the storage has 0 bytes (not open?)");
  CHECK(load_checkpoint(a.model, nullptr, fs.storage()).code() == StatusCode::kFailedPrecondition);
}
#endif
