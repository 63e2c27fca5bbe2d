/* SPDX-License-Identifier: Apache-2.0 */
/* tern/c/checkpoint.h — tern's C interface, one topic: checkpoints through
 * storage callbacks, power-loss safe.
 * Included by tern.h, whose opening essay describes the interface as a
 * whole; include tern.h rather than this file. */
#ifndef TERN_C_CHECKPOINT_H
#define TERN_C_CHECKPOINT_H

#include "tern/c/types.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- checkpoints ----------------------------------------------------- */
/* Training state that survives a power cut (tern/runtime/checkpoint.h): two
 * slots, each save into the one not holding the newest good checkpoint, a
 * record believed only when its CRC-32, written last, checks out. A record
 * holds the model file with optimizer state, a sequence number and an
 * optional random-generator state. The storage holds two slots, each the
 * record rounded up to whole erase sectors of erase_bytes (0 or 1:
 * byte-writable storage, no rounding). */

/* One slot and the two slots' storage for a record of `record_bytes` (the
 * exported header's <NAME>_CHECKPOINT_RECORD_BYTES) on storage with erase
 * sectors of `erase_bytes`, as constant expressions for sizing a partition
 * at compile time: TERN_CHECKPOINT_STORAGE_BYTES equals
 * tern_checkpoint_storage_bytes(spec, erase_bytes) of the same spec.
 * Arguments are evaluated more than once. A byte-writable storage divides
 * by a sector of 1, so that no branch divides by 0. */
#define TERN_CHECKPOINT_SLOT_BYTES(record_bytes, erase_bytes)                           \
  (((size_t)(record_bytes) + TERN_CHECKPOINT_SECTOR_(erase_bytes) - 1) /                \
   TERN_CHECKPOINT_SECTOR_(erase_bytes) * TERN_CHECKPOINT_SECTOR_(erase_bytes))
#define TERN_CHECKPOINT_STORAGE_BYTES(record_bytes, erase_bytes) \
  (2 * TERN_CHECKPOINT_SLOT_BYTES(record_bytes, erase_bytes))
#define TERN_CHECKPOINT_SECTOR_(erase_bytes) ((erase_bytes) <= 1 ? (size_t)1 : (size_t)(erase_bytes))

/* Bytes the storage needs for a training model's checkpoints on storage
 * with erase sectors of erase_bytes; 0 for an inference spec, an invalid
 * one, or a size that does not fit a size_t. */
size_t tern_checkpoint_storage_bytes(const tern_spec* spec, size_t erase_bytes);

/* Where checkpoints go: a flash partition, an EEPROM, a file, as callbacks
 * (tern::Storage of tern/runtime/byte_io.h). Each returns TERN_OK or the
 * status of the failure (TERN_IO_ERROR, typically); it may write its reason
 * into err->message (err is never NULL, its message starts empty), which
 * tern then quotes in its own message. A value outside tern_status is
 * reported as TERN_IO_ERROR.
 *   read   bytes at offset into data (required)
 *   write  bytes of data at offset (required for saving)
 *   sync   optional (NULL): make everything written durable; called once
 *          after a whole record is written. When it fails, the record just
 *          written is invalidated and the previous checkpoint stays
 *   erase  optional (NULL): raw flash, whose bytes must be erased a sector
 *          at a time before they are programmed; needs erase_bytes > 1.
 *          A save then erases its slot's sectors and programs each byte
 *          once, in order, the CRC-32 last
 *   size   bytes available: at least tern_checkpoint_storage_bytes(spec,
 *          erase_bytes)
 *   erase_bytes  the erase sector; 0 or 1 for byte-writable storage (with
 *          erase NULL and erase_bytes > 1 the write callback does its own
 *          read-erase-program, and each slot owns whole sectors). */
typedef struct tern_storage {
  tern_status (*read)(void* context, size_t offset, void* data, size_t bytes, tern_error* err);
  tern_status (*write)(void* context, size_t offset, const void* data, size_t bytes,
                       tern_error* err);
  tern_status (*sync)(void* context, tern_error* err);
  tern_status (*erase)(void* context, size_t offset, size_t bytes, tern_error* err);
  void* context;
  size_t size;
  size_t erase_bytes;
} tern_storage;

/* A PCG32 generator's state (tern::Rng of tern/runtime/rng.h), stored with
 * a checkpoint so that a resumed run draws the same numbers (shuffles,
 * samples) as an uninterrupted one. PCG32's increment is odd: an even one is
 * stored with its lowest bit set. */
typedef struct tern_rng_state {
  uint64_t state;
  uint64_t increment;
} tern_rng_state;

/* What a save wrote or a load found. */
typedef struct tern_checkpoint_info {
  uint64_t sequence; /* 1 for the first save, +1 for each (wrapping after 2^64 - 1) */
  uint64_t steps;    /* the model's optimizer steps in the checkpoint */
  uint32_t slot;     /* 0 or 1 */
  int32_t older;     /* load: 1 when the newest intact record could not be
                        loaded (a NaN, say) and the older checkpoint was */
} tern_checkpoint_info;

/* Saves a training model's parameters, optimizer moments and step count,
 * and the generator state `rng` (may be NULL), into the slot that does not
 * hold the newest loadable checkpoint: a failure or a power cut at any byte
 * leaves the previous checkpoint loadable. `info` may be NULL. */
tern_status tern_checkpoint_save(const tern_model* model, const tern_rng_state* rng,
                                 const tern_storage* storage, tern_checkpoint_info* info,
                                 tern_error* err);
/* Restores the newest loadable checkpoint into a training model of the same
 * layers and optimizer, and into *rng when rng is not NULL (the checkpoint
 * must then hold one). When the newest intact record cannot be loaded, the
 * older one is (info->older). The optimizer's hyper-parameters are not part
 * of a checkpoint: set them again (tern_model_set_optimizer) after a resume
 * into a new model. On error the model and *rng are unchanged. */
tern_status tern_checkpoint_load(tern_model* model, tern_rng_state* rng,
                                 const tern_storage* storage, tern_checkpoint_info* info,
                                 tern_error* err);

/* Checkpoint storage in a regular file, for Linux and other hosted
 * targets (tern::FileStorage): created and zero-extended to `bytes` if
 * shorter, written in place, synced with fdatasync. Byte-writable
 * (erase_bytes 0). tern_file_storage_open fills *storage with callbacks
 * bound to *file, which must stay where it is (not copied) until
 * tern_file_storage_close; the callbacks of a closed file report
 * TERN_FAILED_PRECONDITION (a checkpoint call then fails with
 * TERN_IO_ERROR, quoting it). Errors of open: `file`, `path` or `storage` NULL,
 * a path that is not a regular file (TERN_INVALID_ARGUMENT); the file
 * cannot be created, opened or extended (TERN_IO_ERROR, with the system's
 * reason); a target without a file system (TERN_FAILED_PRECONDITION). On
 * error *file is closed and *storage has no callbacks. */
typedef struct tern_file_storage {
  uint32_t magic;      /* nonzero while open */
  uint64_t opaque[3];  /* the C++ FileStorage */
} tern_file_storage;
tern_status tern_file_storage_open(tern_file_storage* file, const char* path, size_t bytes,
                                   tern_storage* storage, tern_error* err);
/* Closes the file (NULL or a closed one: nothing to do). */
void tern_file_storage_close(tern_file_storage* file);

#ifdef __cplusplus
}
#endif

#endif /* TERN_C_CHECKPOINT_H */
