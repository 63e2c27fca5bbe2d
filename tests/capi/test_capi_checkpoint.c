/* SPDX-License-Identifier: Apache-2.0 */
/* Checkpoints through tern.h from C99 (-pedantic -Wall -Wextra -Werror):
 *   - sizes: tern_checkpoint_storage_bytes against TERN_CHECKPOINT_*_BYTES;
 *   - save, train on, save, resume in a fresh model: the resumed model and
 *     generator state are those saved, and training on from there gives the
 *     same bits (the whole model file with optimizer state) as the run that
 *     was never interrupted; on byte-writable RAM and on "raw flash" whose
 *     write callback refuses to program a byte that is not erased;
 *   - every error: arguments, callbacks missing, storage too small, an
 *     inference model, a read, write, sync or erase that fails (its reason
 *     quoted), a callback returning a value outside tern_status, corrupted
 *     slots, another architecture, an RNG asked of a checkpoint without one;
 *   - tern_file_storage: a checkpoint saved to a file, closed, reopened
 *     and resumed; open's errors and a closed file's callbacks;
 *     a failed call leaves the model, the generator state and the previous
 *     checkpoint as they were.
 * Bit-equality with the C++ API's save_checkpoint is tern-capi-equiv-tests.
 * Exit status 0 on success; every failure prints what differed. */
#include <stdio.h>
#include <string.h>

#include "capi_test_util.h"

#define ROWS 4
static const tern_layer kLayers[] = {
    {TERN_LAYER_DENSE, TERN_ACT_TANH, 6, 0, TERN_INIT_AUTO},
    {TERN_LAYER_DENSE, TERN_ACT_IDENTITY, 3, 0, TERN_INIT_AUTO},
};
static const tern_layer kOtherLayers[] = {
    {TERN_LAYER_DENSE, TERN_ACT_TANH, 7, 0, TERN_INIT_AUTO},
    {TERN_LAYER_DENSE, TERN_ACT_IDENTITY, 3, 0, TERN_INIT_AUTO},
};
#define SECTOR 128

static TERN_ALIGNAS(TERN_ARENA_ALIGNMENT) unsigned char arena_a[16 * 1024];
static TERN_ALIGNAS(TERN_ARENA_ALIGNMENT) unsigned char arena_b[16 * 1024];
static unsigned char file_a[4096];
static unsigned char file_b[4096];

/* RAM or "flash" behind the callbacks, with faults on request. */
typedef struct memory {
  unsigned char bytes[8192];
  int flash;           /* program only erased (0xff) bytes */
  long fail_write_at;  /* the write call (counting from 1) that fails; 0 never */
  long writes;
  int fail_read;
  int fail_sync;
  int fail_erase;
  int bad_status;      /* read returns a value outside tern_status */
  long erases;
} memory;

static tern_status mem_read(void* context, size_t offset, void* data, size_t bytes,
                            tern_error* err) {
  memory* m = (memory*)context;
  if (m->bad_status) return (tern_status)42;
  if (m->fail_read) {
    strcpy(err->message, "the bus timed out");
    return TERN_IO_ERROR;
  }
  if (offset > sizeof m->bytes || bytes > sizeof m->bytes - offset) return TERN_INVALID_ARGUMENT;
  memcpy(data, m->bytes + offset, bytes);
  return TERN_OK;
}
static tern_status mem_write(void* context, size_t offset, const void* data, size_t bytes,
                             tern_error* err) {
  memory* m = (memory*)context;
  size_t i;
  if (++m->writes == m->fail_write_at) {
    strcpy(err->message, "the page is worn out");
    return TERN_IO_ERROR;
  }
  if (offset > sizeof m->bytes || bytes > sizeof m->bytes - offset) return TERN_INVALID_ARGUMENT;
  for (i = 0; m->flash && i < bytes; ++i) {
    if (m->bytes[offset + i] != 0xff) {
      sprintf(err->message, "byte %lu programmed twice", (unsigned long)(offset + i));
      return TERN_IO_ERROR;
    }
  }
  memcpy(m->bytes + offset, data, bytes);
  return TERN_OK;
}
static tern_status mem_sync(void* context, tern_error* err) {
  memory* m = (memory*)context;
  (void)err;
  return m->fail_sync ? TERN_IO_ERROR : TERN_OK; /* no reason: tern names the call */
}
static tern_status mem_erase(void* context, size_t offset, size_t bytes, tern_error* err) {
  memory* m = (memory*)context;
  if (m->fail_erase) {
    strcpy(err->message, "erase timed out");
    return TERN_IO_ERROR;
  }
  if (offset % SECTOR != 0 || bytes % SECTOR != 0 || offset > sizeof m->bytes ||
      bytes > sizeof m->bytes - offset)
    return TERN_INVALID_ARGUMENT;
  ++m->erases;
  memset(m->bytes + offset, 0xff, bytes);
  return TERN_OK;
}

static memory ram, flash_mem;

static tern_storage ram_storage(size_t size) {
  tern_storage s;
  memset(&s, 0, sizeof s);
  s.read = mem_read;
  s.write = mem_write;
  s.sync = mem_sync;
  s.context = &ram;
  s.size = size;
  return s;
}

static float xs[ROWS * 5];
static float ts[ROWS * 3];
/* Data for step `step`, the same for every run. */
static void batch_for(int step, tern_batch* b) {
  int i;
  for (i = 0; i < ROWS * 5; ++i) xs[i] = (float)((i * 7 + step * 3) % 11 - 5) / 8.0f;
  for (i = 0; i < ROWS * 3; ++i) ts[i] = (float)((i * 5 + step) % 7 - 3) / 4.0f;
  memset(b, 0, sizeof *b);
  b->x = xs;
  b->ldx = 5;
  b->rows = ROWS;
  b->targets = ts;
  b->ldt = 3;
}
static int train(tern_model* m, int from, int to) {
  int step;
  for (step = from; step < to; ++step) {
    tern_batch b;
    batch_for(step, &b);
    if (tern_model_train_step(m, &b, NULL, NULL) != TERN_OK) return 0;
  }
  return 1;
}
/* CRC-32 (IEEE 802.3, reflected, as tern/runtime/crc32.h), bit by bit: the
 * test's own, to forge a record whose checksum holds but whose content
 * does not load. */
static uint32_t crc32_of(const unsigned char* p, size_t n) {
  uint32_t c = 0xffffffffu;
  size_t i;
  int k;
  for (i = 0; i < n; ++i) {
    c ^= p[i];
    for (k = 0; k < 8; ++k) c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1u)));
  }
  return c ^ 0xffffffffu;
}

/* The model's whole state: its file with optimizer state. */
static size_t state_of(const tern_model* m, unsigned char* out) {
  size_t n = 0;
  if (tern_model_save(m, out, 4096, 1, &n, NULL) != TERN_OK) return 0;
  return n;
}

int main(int argc, char** argv) {
  tern_spec spec = {5, ROWS, TERN_MODE_TRAINING, TERN_LOSS_MSE, TERN_OPTIMIZER_ADAM, kLayers, 2,
                    0, 0, 0, 0, 0};
  tern_spec infer_spec = spec;
  tern_spec other_spec = spec;
  tern_model *a, *b, *infer, *other;
  tern_error err;
  tern_checkpoint_info info;
  tern_rng_state rng = {0x0123456789abcdefull, 0x55ull}, got;
  tern_storage store;
  const size_t need = tern_checkpoint_storage_bytes(&spec, 0);
  const size_t record = need / 2;
  size_t n_a, n_b;

  infer_spec.mode = TERN_MODE_INFERENCE;
  other_spec.layers = kOtherLayers;

  /* ---- sizes ---- */
  CHECK(need > 0 && need % 2 == 0);
  CHECK(TERN_CHECKPOINT_STORAGE_BYTES(record, 0) == need);
  CHECK(TERN_CHECKPOINT_STORAGE_BYTES(record, 1) == tern_checkpoint_storage_bytes(&spec, 1));
  CHECK(TERN_CHECKPOINT_STORAGE_BYTES(record, SECTOR) ==
        tern_checkpoint_storage_bytes(&spec, SECTOR));
  CHECK(TERN_CHECKPOINT_SLOT_BYTES(record, SECTOR) % SECTOR == 0);
  CHECK(TERN_CHECKPOINT_SLOT_BYTES(record, SECTOR) >= record);
  CHECK(TERN_CHECKPOINT_SLOT_BYTES(record, SECTOR) < record + SECTOR);
  CHECK(tern_checkpoint_storage_bytes(&infer_spec, 0) == 0);
  CHECK(tern_checkpoint_storage_bytes(NULL, 0) == 0);
  CHECK(need + TERN_CHECKPOINT_STORAGE_BYTES(record, SECTOR) <= sizeof ram.bytes);

  if (tern_model_create(&spec, arena_a, sizeof arena_a, &a, &err) != TERN_OK ||
      tern_model_create(&spec, arena_b, sizeof arena_b, &b, &err) != TERN_OK) {
    fprintf(stderr, "create: %s\n", err.message);
    return 1;
  }

  /* ---- save, train on, save, resume: byte-writable RAM ---- */
  store = ram_storage(need);
  CHECK(train(a, 0, 3));
  CHECK(tern_checkpoint_save(a, &rng, &store, &info, &err) == TERN_OK);
  CHECK(err.code == TERN_OK && info.sequence == 1 && info.slot == 0 && info.steps == 3);
  CHECK(train(a, 3, 5));
  rng.state += 1;
  CHECK(tern_checkpoint_save(a, &rng, &store, &info, NULL) == TERN_OK);
  CHECK(info.sequence == 2 && info.slot == 1 && info.steps == 5);
  n_a = state_of(a, file_a);
  got.state = got.increment = 0;
  CHECK(tern_checkpoint_load(b, &got, &store, &info, &err) == TERN_OK);
  CHECK(info.sequence == 2 && info.slot == 1 && info.steps == 5 && info.older == 0);
  CHECK(got.state == rng.state && got.increment == rng.increment);
  n_b = state_of(b, file_b);
  CHECK(n_a > 0 && n_a == n_b && memcmp(file_a, file_b, n_a) == 0);
  /* Training on from the resumed state gives the uninterrupted run's bits. */
  CHECK(train(a, 5, 9) && train(b, 5, 9));
  n_a = state_of(a, file_a);
  n_b = state_of(b, file_b);
  CHECK(n_a > 0 && n_a == n_b && memcmp(file_a, file_b, n_a) == 0);
  /* The third save goes over the older slot (0); without a generator. */
  CHECK(tern_checkpoint_save(a, NULL, &store, &info, &err) == TERN_OK);
  CHECK(info.sequence == 3 && info.slot == 0 && info.steps == 9);
  /* An even increment is stored odd (PCG32). */
  rng.increment = 0x54ull;
  CHECK(tern_checkpoint_save(a, &rng, &store, NULL, &err) == TERN_OK);
  CHECK(tern_checkpoint_load(b, &got, &store, NULL, &err) == TERN_OK);
  CHECK(got.increment == 0x55ull && got.state == rng.state);

  /* ---- raw flash: erase sectors, program every byte once ---- */
  memset(flash_mem.bytes, 0x00, sizeof flash_mem.bytes); /* not erased */
  flash_mem.flash = 1;
  store.context = &flash_mem;
  store.erase = mem_erase;
  store.erase_bytes = SECTOR;
  store.size = tern_checkpoint_storage_bytes(&spec, SECTOR);
  CHECK(tern_checkpoint_save(a, &rng, &store, &info, &err) == TERN_OK && info.slot == 0);
  CHECK(train(a, 9, 10));
  CHECK(tern_checkpoint_save(a, &rng, &store, &info, &err) == TERN_OK && info.slot == 1);
  CHECK(tern_checkpoint_save(a, &rng, &store, &info, &err) == TERN_OK && info.slot == 0);
  CHECK(flash_mem.erases == 3);
  CHECK(tern_checkpoint_load(b, NULL, &store, &info, &err) == TERN_OK && info.sequence == 3);
  n_a = state_of(a, file_a);
  n_b = state_of(b, file_b);
  CHECK(n_a > 0 && n_a == n_b && memcmp(file_a, file_b, n_a) == 0);

  /* ---- errors; each leaves the model (file_b) as it was ---- */
  store = ram_storage(need);
  CHECK_ERROR_CONTAINS(tern_checkpoint_save(NULL, NULL, &store, NULL, &err), TERN_INVALID_ARGUMENT,
                       err, "tern_checkpoint_save: the model handle is null");
  CHECK_ERROR_CONTAINS(tern_checkpoint_load(NULL, NULL, &store, NULL, &err), TERN_INVALID_ARGUMENT,
                       err, "tern_checkpoint_load: the model handle is null");
  CHECK_ERROR_CONTAINS(
      tern_checkpoint_load((tern_model*)(void*)(arena_b + 8192), NULL, &store, NULL, &err),
      TERN_INVALID_ARGUMENT, err, "not a model made by tern_model_create");
  CHECK_ERROR_CONTAINS(tern_checkpoint_save(a, NULL, NULL, NULL, &err), TERN_INVALID_ARGUMENT, err,
                       "tern_checkpoint_save: storage is null");
  CHECK_ERROR_CONTAINS(tern_checkpoint_load(b, NULL, NULL, NULL, &err), TERN_INVALID_ARGUMENT, err,
                       "tern_checkpoint_load: storage is null");
  store.read = NULL;
  CHECK_ERROR_CONTAINS(tern_checkpoint_load(b, NULL, &store, NULL, &err), TERN_INVALID_ARGUMENT,
                       err, "no read callback");
  store = ram_storage(need);
  store.write = NULL;
  CHECK_ERROR_CONTAINS(tern_checkpoint_save(a, NULL, &store, NULL, &err), TERN_INVALID_ARGUMENT,
                       err, "no write callback");
  store = ram_storage(need);
  store.erase = mem_erase;
  store.erase_bytes = 1;
  CHECK_ERROR_CONTAINS(tern_checkpoint_save(a, NULL, &store, NULL, &err), TERN_INVALID_ARGUMENT,
                       err, "erase");
  store = ram_storage(need - 1);
  CHECK_ERROR_CONTAINS(tern_checkpoint_save(a, NULL, &store, NULL, &err), TERN_OUT_OF_MEMORY, err,
                       "bytes");
  store = ram_storage(0);
  CHECK_ERROR_CONTAINS(tern_checkpoint_load(b, NULL, &store, NULL, &err), TERN_FAILED_PRECONDITION,
                       err, "");
  store = ram_storage(need);
  if (tern_model_create(&infer_spec, arena_a + 8192, 8192, &infer, &err) == TERN_OK) {
    CHECK_ERROR_CONTAINS(tern_checkpoint_save(infer, NULL, &store, NULL, &err),
                         TERN_FAILED_PRECONDITION, err, "");
    CHECK_ERROR_CONTAINS(tern_checkpoint_load(infer, NULL, &store, NULL, &err),
                         TERN_FAILED_PRECONDITION, err, "");
  } else {
    CHECK(0);
  }
  /* The storage's failures, with the callbacks' reasons. */
  ram.fail_read = 1;
  CHECK_ERROR_CONTAINS(tern_checkpoint_load(b, NULL, &store, NULL, &err), TERN_IO_ERROR, err,
                       "the bus timed out");
  ram.fail_read = 0;
  ram.bad_status = 1;
  CHECK_ERROR_CONTAINS(tern_checkpoint_load(b, NULL, &store, NULL, &err), TERN_IO_ERROR, err,
                       "returned 42, not a tern_status");
  ram.bad_status = 0;
  /* A write that fails half-way: the last checkpoint (slot 1, from the
   * "even increment" save) still loads. */
  ram.writes = 0;
  ram.fail_write_at = 3;
  CHECK_ERROR_CONTAINS(tern_checkpoint_save(a, NULL, &store, NULL, &err), TERN_IO_ERROR, err,
                       "the page is worn out");
  ram.fail_write_at = 0;
  CHECK(tern_checkpoint_load(b, &got, &store, &info, &err) == TERN_OK);
  CHECK(info.sequence == 4 && info.slot == 1 && got.increment == 0x55ull);
  /* A failed sync: the slot written is invalidated, the previous stays, and
   * the next save goes into the same slot. */
  ram.fail_sync = 1;
  CHECK_ERROR_CONTAINS(tern_checkpoint_save(a, NULL, &store, NULL, &err), TERN_IO_ERROR, err,
                       "storage sync of 0 bytes at 0: io_error");
  ram.fail_sync = 0;
  CHECK(tern_checkpoint_load(b, NULL, &store, &info, &err) == TERN_OK && info.sequence == 4);
  CHECK(tern_checkpoint_save(a, NULL, &store, &info, &err) == TERN_OK);
  CHECK(info.slot == 0 && info.sequence == 5);
  /* An erase that fails. */
  store.context = &flash_mem;
  store.erase = mem_erase;
  store.erase_bytes = SECTOR;
  store.size = sizeof flash_mem.bytes;
  flash_mem.fail_erase = 1;
  CHECK_ERROR_CONTAINS(tern_checkpoint_save(a, NULL, &store, NULL, &err), TERN_IO_ERROR, err,
                       "erase timed out");
  flash_mem.fail_erase = 0;
  store = ram_storage(need);

  /* A generator asked of a checkpoint without one: refused, *rng and the
   * model unchanged. */
  n_b = state_of(b, file_b);
  got.state = 7;
  got.increment = 9;
  CHECK_ERROR_CONTAINS(tern_checkpoint_load(b, &got, &store, NULL, &err), TERN_FAILED_PRECONDITION,
                       err, "an RNG state was requested but checkpoint 5 has none");
  CHECK(got.state == 7 && got.increment == 9);
  /* Another architecture. */
  if (tern_model_create(&other_spec, arena_a + 8192, 8192, &other, &err) == TERN_OK) {
    CHECK_ERROR_CONTAINS(tern_checkpoint_load(other, NULL, &store, NULL, &err), TERN_OUT_OF_MEMORY,
                         err, "");
    store.size = tern_checkpoint_storage_bytes(&other_spec, 0);
    if (store.size > need) memset(ram.bytes + need, 0, store.size - need);
    CHECK_ERROR_CONTAINS(tern_checkpoint_load(other, NULL, &store, NULL, &err), TERN_CORRUPT_DATA,
                         err, "no valid checkpoint");
    store.size = need;
  } else {
    CHECK(0);
  }
  /* Both slots corrupted, then one: the other loads. */
  ram.bytes[need / 2 + 60] ^= 1; /* slot 1 (sequence 4) */
  CHECK(tern_checkpoint_load(b, NULL, &store, &info, &err) == TERN_OK && info.sequence == 5);
  ram.bytes[60] ^= 1; /* slot 0 (sequence 5) */
  CHECK_ERROR_CONTAINS(tern_checkpoint_load(b, NULL, &store, &info, &err), TERN_CORRUPT_DATA, err,
                       "no valid checkpoint (slot 0: ");
  memset(ram.bytes, 0, sizeof ram.bytes);
  CHECK_ERROR_CONTAINS(tern_checkpoint_load(b, NULL, &store, NULL, NULL), TERN_CORRUPT_DATA, err,
                       "");
  {
    size_t n = state_of(b, file_a);
    CHECK(n == n_b);
  }

  /* ---- the newest record intact but not loadable: the older one ---- */
  {
    unsigned char* slot1 = ram.bytes + record;
    uint32_t crc;
    store = ram_storage(need);
    memset(ram.bytes, 0, sizeof ram.bytes);
    CHECK(tern_checkpoint_save(a, NULL, &store, &info, &err) == TERN_OK && info.slot == 0);
    n_a = state_of(a, file_a);
    CHECK(train(a, 10, 11));
    CHECK(tern_checkpoint_save(a, NULL, &store, &info, &err) == TERN_OK && info.slot == 1);
    /* A byte of the embedded model file (past the 48-byte record header),
     * then the record's CRC-32 made right again: the record is intact, the
     * model file in it fails its own check. */
    slot1[48 + 100] ^= 0x40;
    crc = crc32_of(slot1, record - 4);
    slot1[record - 4] = (unsigned char)crc;
    slot1[record - 3] = (unsigned char)(crc >> 8);
    slot1[record - 2] = (unsigned char)(crc >> 16);
    slot1[record - 1] = (unsigned char)(crc >> 24);
    CHECK(tern_checkpoint_load(b, NULL, &store, &info, &err) == TERN_OK);
    CHECK(info.older == 1 && info.sequence == 1 && info.slot == 0);
    n_b = state_of(b, file_b);
    CHECK(n_a > 0 && n_a == n_b && memcmp(file_a, file_b, n_a) == 0);
  }

  /* ---- a file: save, close, reopen, resume; the errors of open ---- */
  {
    /* A file of its own per run (ctest runs the .scalar twin alongside). */
    const char* path = argc > 1 ? argv[1] : "tern-capi-checkpoint.storage";
    tern_file_storage file;
    tern_storage fs;
    unsigned char scratch[16];
    tern_error cb;
    (void)remove(path);
    CHECK(tern_file_storage_open(&file, path, need, &fs, &err) == TERN_OK);
    CHECK(fs.size == need && fs.erase == NULL && fs.erase_bytes == 0 && fs.sync != NULL);
    CHECK(tern_checkpoint_save(a, &rng, &fs, &info, &err) == TERN_OK && info.sequence == 1);
    tern_file_storage_close(&file);
    tern_file_storage_close(&file); /* twice: nothing */
    tern_file_storage_close(NULL);
    /* The callbacks of a closed file refuse, naming why. */
    cb.message[0] = '\0';
    CHECK(fs.read(fs.context, 0, scratch, sizeof scratch, &cb) == TERN_FAILED_PRECONDITION);
    CHECK(strstr(cb.message, "closed") != NULL);
    CHECK_ERROR_CONTAINS(tern_checkpoint_load(b, NULL, &fs, NULL, &err), TERN_IO_ERROR, err,
                         "reading slot 0 failed: storage: the tern_file_storage is closed");
    CHECK(tern_file_storage_open(&file, path, need, &fs, &err) == TERN_OK);
    got.state = got.increment = 0;
    CHECK(tern_checkpoint_load(b, &got, &fs, &info, &err) == TERN_OK && info.sequence == 1);
    CHECK(got.state == rng.state && got.increment == (rng.increment | 1u));
    n_a = state_of(a, file_a);
    n_b = state_of(b, file_b);
    CHECK(n_a > 0 && n_a == n_b && memcmp(file_a, file_b, n_a) == 0);
    tern_file_storage_close(&file);
    CHECK(remove(path) == 0);
    CHECK_ERROR_CONTAINS(tern_file_storage_open(&file, ".", need, &fs, &err), TERN_INVALID_ARGUMENT,
                         err, "");
    CHECK(file.magic == 0 && fs.read == NULL);
    CHECK_ERROR_CONTAINS(tern_file_storage_open(&file, "/nonexistent-tern-dir/x", need, &fs, &err),
                         TERN_IO_ERROR, err, "/nonexistent-tern-dir/x");
    CHECK_ERROR_CONTAINS(tern_file_storage_open(&file, NULL, need, &fs, &err),
                         TERN_INVALID_ARGUMENT, err, "tern_file_storage_open: path is null");
    CHECK_ERROR_CONTAINS(tern_file_storage_open(NULL, path, need, &fs, &err), TERN_INVALID_ARGUMENT,
                         err, "tern_file_storage_open: file is null");
    CHECK_ERROR_CONTAINS(tern_file_storage_open(&file, path, need, NULL, &err),
                         TERN_INVALID_ARGUMENT, err, "tern_file_storage_open: storage is null");
  }

  if (failures == 0) printf("tern checkpoints from C: resume bit-identical, every error refused\n");
  return failures == 0 ? 0 : 1;
}
