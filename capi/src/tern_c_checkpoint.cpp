// SPDX-License-Identifier: Apache-2.0
// tern.h: checkpoints — their sizes, and saving and resuming the training
// state through the caller's storage callbacks (tern/runtime/checkpoint.h).
//
// The C callbacks are adapted to tern::Storage by trampolines whose
// context is the caller's tern_storage: each calls the C callback with a
// fresh tern_error for its reason and turns the result into a Status, so
// the runtime's checkpoint code runs unchanged and its messages quote the
// callback's reason.
#include "tern.h"

#include <cstdint>
#include <cstring>
#include <new>

#include "tern/platform/compiler.h"
#include "tern/runtime/byte_io.h"
#include "tern/runtime/checkpoint.h"
#include "tern/runtime/rng.h"

#include "c_handle.h"

using tern::c_api::bad_handle;
using tern::c_api::live;
using tern::c_api::null_argument;
using tern::c_api::report;
using tern::c_api::to_spec;

namespace {

// A callback's result as a Status: its code (TERN_IO_ERROR for a value
// outside tern_status) and its reason, or a message naming the call.
tern::Status from_callback(tern_status code, const tern_error& reason, const char* call,
                           std::size_t offset, std::size_t bytes) {
  if (code == TERN_OK) return tern::Status();
  // Through unsigned: the enum's underlying type differs between targets.
  const unsigned value = static_cast<unsigned>(code);
  const bool known = value <= static_cast<unsigned>(TERN_FAILED_PRECONDITION);
  const tern::StatusCode status =
      known ? static_cast<tern::StatusCode>(value) : tern::StatusCode::kIoError;
  char why[TERN_MESSAGE_CAPACITY];
  std::memcpy(why, reason.message, sizeof why);
  why[sizeof why - 1] = '\0';  // whatever the callback wrote
  if (!known) {
    return tern::Status::error(status, "storage %s of %zu bytes at %zu returned %d, not a tern_status",
                               call, bytes, offset, static_cast<int>(value));
  }
  if (why[0] != '\0') return tern::Status::error(status, "%s", why);
  return tern::Status::error(status, "storage %s of %zu bytes at %zu: %s", call, bytes, offset,
                             tern::status_code_name(status));
}

tern_error fresh_error() {
  tern_error e;
  e.code = TERN_OK;
  e.message[0] = '\0';
  return e;
}

const tern_storage& c_storage(void* context) { return *static_cast<const tern_storage*>(context); }

tern::Status storage_read(void* context, std::size_t offset, void* data, std::size_t bytes) {
  tern_error e = fresh_error();
  const tern_storage& s = c_storage(context);
  return from_callback(s.read(s.context, offset, data, bytes, &e), e, "read", offset, bytes);
}
tern::Status storage_write(void* context, std::size_t offset, const void* data, std::size_t bytes) {
  tern_error e = fresh_error();
  const tern_storage& s = c_storage(context);
  return from_callback(s.write(s.context, offset, data, bytes, &e), e, "write", offset, bytes);
}
tern::Status storage_sync(void* context) {
  tern_error e = fresh_error();
  const tern_storage& s = c_storage(context);
  return from_callback(s.sync(s.context, &e), e, "sync", 0, 0);
}
tern::Status storage_erase(void* context, std::size_t offset, std::size_t bytes) {
  tern_error e = fresh_error();
  const tern_storage& s = c_storage(context);
  return from_callback(s.erase(s.context, offset, bytes, &e), e, "erase", offset, bytes);
}

// The C storage as a tern::Storage: a callback the caller left NULL stays
// null, so the runtime's own checks name it.
tern::Storage adapt(const tern_storage& c) {
  tern::Storage s;
  s.read = c.read != nullptr ? &storage_read : nullptr;
  s.write = c.write != nullptr ? &storage_write : nullptr;
  s.sync = c.sync != nullptr ? &storage_sync : nullptr;
  s.erase = c.erase != nullptr ? &storage_erase : nullptr;
  s.context = const_cast<tern_storage*>(&c);  // read back as const only
  s.size = c.size;
  s.erase_bytes = c.erase_bytes;
  return s;
}

void copy_info(const tern::CheckpointInfo& from, tern_checkpoint_info* to) {
  if (to == nullptr) return;
  to->sequence = from.sequence;
  to->steps = from.steps;
  to->slot = from.slot;
  to->older = from.older ? 1 : 0;
}

}  // namespace

extern "C" {

size_t tern_checkpoint_storage_bytes(const tern_spec* spec, size_t erase_bytes) {
  tern::ModelSpec s;
  if (!to_spec(spec, &s).ok()) return 0;
  return tern::checkpoint_storage_bytes(s, erase_bytes);
}

tern_status tern_checkpoint_save(const tern_model* model, const tern_rng_state* rng,
                                 const tern_storage* storage, tern_checkpoint_info* info,
                                 tern_error* err) {
  const tern::Model* m = live(model);
  if (m == nullptr) return report(bad_handle("tern_checkpoint_save"), err);
  if (storage == nullptr) return report(null_argument("tern_checkpoint_save", "storage"), err);
  tern::Rng generator(0);
  if (rng != nullptr) generator.restore(tern::RngState{rng->state, rng->increment});
  tern::CheckpointInfo saved;
  const tern::Status s =
      tern::save_checkpoint(*m, rng != nullptr ? &generator : nullptr, adapt(*storage), &saved);
  if (s.ok()) copy_info(saved, info);
  return report(s, err);
}

tern_status tern_checkpoint_load(tern_model* model, tern_rng_state* rng,
                                 const tern_storage* storage, tern_checkpoint_info* info,
                                 tern_error* err) {
  tern::Model* m = live(model);
  if (m == nullptr) return report(bad_handle("tern_checkpoint_load"), err);
  if (storage == nullptr) return report(null_argument("tern_checkpoint_load", "storage"), err);
  tern::Rng generator(0);
  tern::CheckpointInfo loaded;
  const tern::Status s =
      tern::load_checkpoint(*m, rng != nullptr ? &generator : nullptr, adapt(*storage), &loaded);
  if (!s.ok()) return report(s, err);
  if (rng != nullptr) {
    const tern::RngState r = generator.save();
    rng->state = r.state;
    rng->increment = r.increment;
  }
  copy_info(loaded, info);
  return report(s, err);
}

}  // extern "C"

// ---- checkpoint storage in a file ---------------------------------------
#if TERN_HAS_OS
namespace {

// "file" in ASCII: marks a tern_file_storage holding an open FileStorage.
constexpr std::uint32_t kFileMagic = 0x656c6966u;

static_assert(sizeof(tern::FileStorage) <= sizeof(tern_file_storage::opaque),
              "tern_file_storage's opaque words hold a tern::FileStorage");
static_assert(alignof(tern::FileStorage) <= alignof(std::uint64_t),
              "tern_file_storage's opaque words are aligned for a tern::FileStorage");

tern::FileStorage* file_of(tern_file_storage* f) {
  return f != nullptr && f->magic == kFileMagic ? reinterpret_cast<tern::FileStorage*>(f->opaque)
                                                : nullptr;
}

// A Status as the callback's result: its code, its message into err.
tern_status to_callback(const tern::Status& s, tern_error* err) {
  return report(s, err);
}
tern::Status closed() {
  return tern::Status::error(tern::StatusCode::kFailedPrecondition,
                             "storage: the tern_file_storage is closed");
}

tern_status file_read(void* context, size_t offset, void* data, size_t bytes, tern_error* err) {
  tern::FileStorage* f = file_of(static_cast<tern_file_storage*>(context));
  if (f == nullptr) return to_callback(closed(), err);
  const tern::Storage s = f->storage();
  return to_callback(s.read(s.context, offset, data, bytes), err);
}
tern_status file_write(void* context, size_t offset, const void* data, size_t bytes,
                       tern_error* err) {
  tern::FileStorage* f = file_of(static_cast<tern_file_storage*>(context));
  if (f == nullptr) return to_callback(closed(), err);
  const tern::Storage s = f->storage();
  return to_callback(s.write(s.context, offset, data, bytes), err);
}
tern_status file_sync(void* context, tern_error* err) {
  tern::FileStorage* f = file_of(static_cast<tern_file_storage*>(context));
  if (f == nullptr) return to_callback(closed(), err);
  const tern::Storage s = f->storage();
  return to_callback(s.sync(s.context), err);
}

}  // namespace
#endif

extern "C" {

tern_status tern_file_storage_open(tern_file_storage* file, const char* path, size_t bytes,
                                   tern_storage* storage, tern_error* err) {
  constexpr const char* kCall = "tern_file_storage_open";
  if (file == nullptr) return report(null_argument(kCall, "file"), err);
  if (storage == nullptr) return report(null_argument(kCall, "storage"), err);
  file->magic = 0;
  *storage = tern_storage{};
  if (path == nullptr) return report(null_argument(kCall, "path"), err);
#if TERN_HAS_OS
  auto* f = new (file->opaque) tern::FileStorage();
  const tern::Status s = f->open(path, bytes);
  if (!s.ok()) {
    f->~FileStorage();
    return report(s, err);
  }
  file->magic = kFileMagic;
  storage->read = &file_read;
  storage->write = &file_write;
  storage->sync = &file_sync;
  storage->context = file;
  storage->size = f->storage().size;
  storage->erase_bytes = 0;
  return report(tern::Status(), err);
#else
  (void)bytes;
  return report(tern::Status::error(tern::StatusCode::kFailedPrecondition,
                                    "%s: no file system on this target", kCall),
                err);
#endif
}

void tern_file_storage_close(tern_file_storage* file) {
#if TERN_HAS_OS
  tern::FileStorage* f = file_of(file);
  if (f == nullptr) return;
  f->~FileStorage();  // closes the descriptor
  file->magic = 0;
#else
  (void)file;
#endif
}

}  // extern "C"
