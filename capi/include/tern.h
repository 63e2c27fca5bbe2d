/* SPDX-License-Identifier: Apache-2.0 */
/* tern.h — the C interface of tern, for firmware and programs written in C.
 *
 * Why a C interface: much firmware is C, and a C ABI is what other languages
 * bind to. It is a thin layer over the C++ runtime (the tern/runtime/ headers): the
 * same planner, the same kernels, the same bits. Like the runtime it never
 * touches the heap and never throws; every fallible call returns a
 * tern_status and, when the caller passes one, fills a tern_error with a
 * message naming the numbers that matter.
 *
 * Memory: the caller provides one buffer, the arena, 64-byte aligned and
 * tern_arena_bytes(spec) bytes long. The model's handle (a C++ tern::Model
 * and its tern::Arena, a few KB) lives at the start of that buffer, every
 * weight, activation, gradient and optimizer moment after it. There is
 * nothing to free: the model is gone when the caller reuses the buffer.
 *
 * A model is described by a tern_spec: the input width, the rows processed
 * per call (batch size), inference or training, the loss and the optimizer,
 * and an array of tern_layer descriptors:
 *
 *   static const tern_layer layers[] = {
 *       {TERN_LAYER_DENSE, TERN_ACT_RELU, 16, 0, TERN_INIT_AUTO},
 *       {TERN_LAYER_DENSE, TERN_ACT_IDENTITY, 2, 0, TERN_INIT_AUTO},
 *   };
 *   tern_spec spec = {2, 8, TERN_MODE_TRAINING, TERN_LOSS_SOFTMAX_CROSS_ENTROPY,
 *                     TERN_OPTIMIZER_SGD, layers, 2, 0, 0, 0, 0, 0};
 *   static TERN_ALIGNAS(TERN_ARENA_ALIGNMENT) unsigned char arena[8192];
 *   tern_model* model;
 *   tern_error err;
 *   if (tern_model_create(&spec, arena, sizeof arena, &model, &err) != TERN_OK)
 *       puts(err.message);   // says how many bytes the model needs
 *
 * Structs only ever grow at the end, and 0 is the default of every field
 * added, so an initialiser written for an older tern.h keeps its meaning.
 *
 * Saved models use tern's versioned file format (format version
 * TERN_MODEL_FORMAT_VERSION, checked by the loader together with a CRC-32),
 * the same bytes the C++ tern::save_model writes.
 *
 * C99; every function is safe to call with NULL pointers (it reports
 * TERN_INVALID_ARGUMENT). One model must not be used by two threads at once.
 */
#ifndef TERN_H
#define TERN_H

#include <stddef.h>
#include <stdint.h>

#include "tern/version.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The alignment the arena must have: tern lays out its buffers on cache
 * lines, so that the arena size is exact and known before use. */
#define TERN_ARENA_ALIGNMENT 64

/* The bytes the model's handle (a C++ tern::Model and its tern::Arena)
 * takes at the start of the arena; the model's buffers follow it, so
 *   tern_arena_bytes(spec) = TERN_HANDLE_BYTES + the buffers' bytes
 * exactly, on every target. A C compiler cannot know the size of the C++
 * handle, so the figure is a fixed reservation per pointer width, whole
 * 64-byte lines, with room to spare: it is some 300 bytes above the
 * handle's size on x86-64 and on 32-bit Arm when it was fixed (docs/c-api.md
 * has the measured size), so the runtime's Model can grow by a few members
 * before the figure must change. The library checks at compile time
 * (capi/src/c_handle.h) that the handle fits; a runtime that outgrows the
 * reservation fails to build, and raising it changes every C arena size
 * (noted in CHANGELOG.md). A header exported by tern::export_c_header gives
 * its models' arena sizes as TERN_HANDLE_BYTES + the buffers' bytes. */
#if UINTPTR_MAX == 0xffffffffffffffffu
#define TERN_HANDLE_BYTES 3072
#elif UINTPTR_MAX == 0xffffffffu
#define TERN_HANDLE_BYTES 1920
#else
#error "tern.h: TERN_HANDLE_BYTES is fixed for 32- and 64-bit pointers only"
#endif

/* TERN_ALIGNAS(n): declares an object aligned to n bytes, for a static
 * arena: `static TERN_ALIGNAS(TERN_ARENA_ALIGNMENT) unsigned char
 * arena[N];`. C11's _Alignas and C++11's alignas where the language has
 * them; in C99, GCC's and Clang's attribute (GCC, Clang and the compilers
 * that define __GNUC__: arm-none-eabi-gcc, armclang, ICC) or MSVC's
 * __declspec. Any other C99 compiler has no way to ask for it, and then
 * TERN_ALIGNAS is left undefined: align the buffer by hand
 * (docs/c-api.md, "The arena's alignment"). */
#if defined(__cplusplus) && __cplusplus >= 201103L
#define TERN_ALIGNAS(n) alignas(n)
#elif defined(__STDC_VERSION__) && __STDC_VERSION__ >= 201112L
#define TERN_ALIGNAS(n) _Alignas(n)
#elif defined(__GNUC__)
#define TERN_ALIGNAS(n) __attribute__((aligned(n)))
#elif defined(_MSC_VER)
#define TERN_ALIGNAS(n) __declspec(align(n))
#endif

/* At most this many layers per model (tern::kMaxLayers). */
#define TERN_MAX_LAYERS 16
/* Room for a message, terminating zero included (tern::Status's buffer). */
#define TERN_MESSAGE_CAPACITY 160
/* The model file format tern_model_save writes (tern::kModelFormatVersion);
 * the loader also reads version 1 files. */
#define TERN_MODEL_FORMAT_VERSION 2

/* Same values and meaning as tern::StatusCode. */
typedef enum tern_status {
  TERN_OK = 0,
  TERN_INVALID_ARGUMENT = 1,   /* null pointer, bad stride, bad enum value */
  TERN_SHAPE_MISMATCH = 2,     /* dimensions do not agree (e.g. a file of another model) */
  TERN_MISALIGNED = 3,         /* the arena is not 64-byte aligned, or a float or
                                  uint32_t array is not 4-byte aligned */
  TERN_OUT_OF_MEMORY = 4,      /* the arena (never the heap) is too small */
  TERN_UNSUPPORTED_ISA = 5,    /* a requested ISA is not built or not supported */
  TERN_NON_FINITE = 6,         /* NaN or Inf where finite data is required */
  TERN_CORRUPT_DATA = 7,       /* a model file failed validation */
  TERN_IO_ERROR = 8,           /* reading or writing storage failed */
  TERN_FAILED_PRECONDITION = 9 /* wrong state, e.g. training an inference model */
} tern_status;

/* A status with its message; caller-allocated, optional in every call. */
typedef struct tern_error {
  tern_status code;
  char message[TERN_MESSAGE_CAPACITY];
} tern_error;

typedef enum tern_layer_kind {
  TERN_LAYER_DENSE = 1,      /* Y = act(X W + b), `out` outputs */
  TERN_LAYER_ACTIVATION = 2, /* Y = act(X) */
  TERN_LAYER_LAYER_NORM = 3, /* per row: (X - mean) / sqrt(var + 1e-5) * gamma + beta */
  TERN_LAYER_RESIDUAL = 4    /* Y = X + point[from] (0 = the model input, l + 1 = output of layer l) */
} tern_layer_kind;

typedef enum tern_activation {
  TERN_ACT_IDENTITY = 0,
  TERN_ACT_RELU = 1,
  TERN_ACT_GELU = 2, /* tanh form */
  TERN_ACT_TANH = 3,
  TERN_ACT_SIGMOID = 4
} tern_activation;

typedef enum tern_mode { TERN_MODE_INFERENCE = 0, TERN_MODE_TRAINING = 1 } tern_mode;
typedef enum tern_loss { TERN_LOSS_SOFTMAX_CROSS_ENTROPY = 0, TERN_LOSS_MSE = 1 } tern_loss;
typedef enum tern_optimizer {
  TERN_OPTIMIZER_SGD = 0, /* with momentum */
  TERN_OPTIMIZER_ADAM = 1,
  TERN_OPTIMIZER_ADAMW = 2
} tern_optimizer;

/* Kinds, activations and the other enums below are stored in the structs
 * as int32_t, so that the struct layout does not depend on enum sizes. */
/* How a Dense layer's weights are initialised (tern::Init). AUTO: He for
 * ReLU and GELU layers, Xavier otherwise; both uniform. */
typedef enum tern_init { TERN_INIT_AUTO = 0, TERN_INIT_HE = 1, TERN_INIT_XAVIER = 2 } tern_init;

/* One layer. `out` is the output width of a Dense layer; other kinds keep
 * their input width (leave `out` 0 or give that width). `from` is used by
 * residual layers only, `init` (a tern_init) by Dense layers only: other
 * kinds leave it 0. Fields are only ever appended, so an initialiser that
 * stops early gives the later fields 0, their default. */
typedef struct tern_layer {
  int32_t kind;
  int32_t activation;
  uint32_t out;
  uint32_t from;
  int32_t init;
} tern_layer;

/* The fields after layer_count are training options (tern::ModelSpec's),
 * all off at 0; they need mode TERN_MODE_TRAINING, except divergence_guard
 * and input_gradient, which an inference spec ignores (so a training spec copied for inference
 * with only its mode changed stays valid). */
typedef struct tern_spec {
  uint32_t input_width;
  uint32_t rows; /* rows per call: the batch size */
  int32_t mode;
  int32_t loss;
  int32_t optimizer;
  const tern_layer* layers;
  uint32_t layer_count;
  /* 0 or 1: the arena holds a snapshot of the last good state, restored
   * when training diverges (see "divergence guard" below). */
  int32_t divergence_guard;
  /* 0 or 1: each Dense layer is updated during the backward pass, without
   * a weight-gradient buffer; the same bits as the plain step. */
  int32_t fused_update;
  /* Rows per example for per-example gradient norms and clipping (1 for an
   * MLP over samples); must divide rows. 0 = off. */
  uint32_t example_rows;
  /* Factor rows kept for gradient accumulation (tern_model_accumulate),
   * >= rows; a multiple of example_rows when both are set; not with the
   * divergence guard. 0 = off. */
  uint32_t accumulation_rows;
  /* 0 or 1: plan dL/dX and a copy of dL/dY, read after a backward pass with
   * tern_model_input_gradient and tern_model_output_gradient (see "the open
   * backward pass" below); not with example_rows or accumulation_rows. An
   * inference spec ignores it, as it ignores divergence_guard. */
  int32_t input_gradient;
} tern_spec;

typedef struct tern_optimizer_params {
  float learning_rate; /* default 1e-3 */
  float momentum;      /* SGD, default 0.9 */
  float beta1;         /* Adam(W), default 0.9 */
  float beta2;         /* default 0.999 */
  float epsilon;       /* default 1e-8 */
  float weight_decay;  /* default 0; which parameters: weight_decay_scope */
  /* Appended fields (0, the default, keeps the older behaviour; see
   * "conventions" below and docs/pytorch.md): */
  int32_t weight_decay_scope; /* tern_weight_decay_scope, default Dense weights */
  int32_t mse_reduction;      /* tern_mse_reduction, default half sum over rows */
} tern_optimizer_params;

/* A training batch of `rows` samples: sample s is the row x + s * ldx, its
 * label labels[s] (softmax cross-entropy) or its target row
 * targets + s * ldt (MSE). With `indices` (may be NULL), the batch is the
 * samples indices[0 .. rows) of a data set of `samples` rows instead: a
 * shuffled epoch without copying the data (an index >= samples is
 * TERN_INVALID_ARGUMENT, before the step changes anything). Without indices
 * `samples` is not read. */
typedef struct tern_batch {
  const float* x;
  size_t ldx;
  size_t rows;
  const uint32_t* labels;
  const float* targets;
  size_t ldt;
  const uint32_t* indices;
  size_t samples;
} tern_batch;

/* Opaque; lives inside the caller's arena. */
typedef struct tern_model tern_model;

/* ---- version and errors --------------------------------------------- */
/* The version the library was built as, e.g. "0.1.0" (compare with
 * TERN_VERSION_STRING from the header). */
const char* tern_version(void);
int tern_version_number(void);
/* Stable lower-case name of a status, e.g. "out_of_memory". */
const char* tern_status_name(tern_status status);

/* ---- building ------------------------------------------------------- */
/* Checks the spec; TERN_OK or the first problem, with the layer involved. */
tern_status tern_spec_check(const tern_spec* spec, tern_error* err);
/* Bytes the arena must have for this spec (handle included), 0 if the spec
 * is invalid. */
size_t tern_arena_bytes(const tern_spec* spec);
/* Builds the model in `arena` (TERN_ARENA_ALIGNMENT-aligned, at least
 * tern_arena_bytes(spec) bytes) and initialises its weights with seed 1.
 * On success *model points into the arena. */
tern_status tern_model_create(const tern_spec* spec, void* arena, size_t arena_bytes,
                              tern_model** model, tern_error* err);
/* Re-initialises the weights (He or Xavier uniform, seeded: the same seed
 * gives the same weights on every platform) and resets the optimizer. */
tern_status tern_model_initialize(tern_model* model, uint64_t seed, tern_error* err);

uint32_t tern_model_input_width(const tern_model* model);
uint32_t tern_model_output_width(const tern_model* model);
uint32_t tern_model_rows(const tern_model* model);
size_t tern_model_parameter_count(const tern_model* model);
/* The kernel ISA the model runs on: "scalar", "avx2", "avx512" or "neon". */
const char* tern_model_isa(const tern_model* model);

/* ---- training ------------------------------------------------------- */
/* The defaults listed in tern_optimizer_params. */
tern_optimizer_params tern_optimizer_defaults(void);
tern_status tern_model_set_optimizer(tern_model* model, const tern_optimizer_params* params,
                                     tern_error* err);
/* Forward, loss, backward and one optimizer step on 1 <= rows <= spec.rows
 * samples; *mean_loss (may be NULL) receives the batch's mean loss. */
tern_status tern_model_train_step(tern_model* model, const tern_batch* batch, float* mean_loss,
                                  tern_error* err);

/* ---- inference ------------------------------------------------------ */
/* Runs rows x input_width inputs (row stride ldx floats), any number of
 * rows >= 1 (in chunks of the model's rows), and writes the rows x
 * output_width outputs to y (row stride ldy floats). Every input is checked
 * finite first. An output that is not finite (weights or inputs that
 * overflow float) is TERN_NON_FINITE naming its row r: y's rows before r
 * then hold their outputs, rows r onwards are untouched. */
tern_status tern_model_infer(tern_model* model, const float* x, size_t ldx, size_t rows, float* y,
                             size_t ldy, tern_error* err);
/* The index of the largest output of each row (first on ties), any number
 * of rows; outputs that are not finite are TERN_NON_FINITE, never a class
 * (classes before the named row are written, the rest untouched). */
tern_status tern_model_predict(tern_model* model, const float* x, size_t ldx, size_t rows,
                               uint32_t* classes, tern_error* err);

/* ---- saving and loading --------------------------------------------- */
/* Bytes of a saved model (0 for an invalid spec); with optimizer_state != 0
 * the optimizer moments are included. */
size_t tern_model_file_bytes(const tern_spec* spec, int optimizer_state);
/* Writes the model into buffer[0 .. capacity); *written receives the bytes
 * used. TERN_OUT_OF_MEMORY, naming the bytes needed, when the buffer is
 * smaller than tern_model_file_bytes (nothing is written then). */
tern_status tern_model_save(const tern_model* model, void* buffer, size_t capacity,
                            int optimizer_state, size_t* written, tern_error* err);
/* Loads a saved model of the same architecture (format version 1 or 2). The
 * file is validated completely (magic, format version, sizes, architecture
 * from the header before the payload is read, CRC-32, finite values, Adam
 * second moments >= 0, room for another step) before any weight changes:
 * on error the model is unchanged. */
tern_status tern_model_load(tern_model* model, const void* data, size_t size,
                            int optimizer_state, tern_error* err);

/* ---- saving to and loading from a file ------------------------------- */
/* Only where there is an operating system: a build for bare metal
 * (TERN_BARE_METAL defined non-zero, as the Cortex-M toolchain file does)
 * has no files, and these are then not declared (TERN_HAS_FILES 0). */
#if defined(TERN_BARE_METAL) && TERN_BARE_METAL
#define TERN_HAS_FILES 0
#else
#define TERN_HAS_FILES 1
/* Writes the model file (the bytes of tern_model_save) to `path`
 * atomically: everything is checked first (nothing is created when the
 * model cannot be saved), then it is written to a temporary file beside
 * `path`, flushed to storage and renamed over it. On any failure the file
 * that was at `path` is left as it was. TERN_IO_ERROR names the path and
 * the system's reason. */
tern_status tern_model_save_file(const tern_model* model, const char* path, int optimizer_state,
                                 tern_error* err);
/* tern_model_load from the file at `path` (validated completely before any
 * weight changes). A path that is not a regular file is refused before it is
 * read. */
tern_status tern_model_load_file(tern_model* model, const char* path, int optimizer_state,
                                 tern_error* err);
#endif

/* ---- kernel ISA ----------------------------------------------------- */
/* The kernel instruction sets (tern::Isa). A mask has bit (1u << isa) for
 * each ISA in it. */
typedef enum tern_isa {
  TERN_ISA_SCALAR = 0,
  TERN_ISA_AVX2 = 1,   /* with FMA */
  TERN_ISA_AVX512 = 2,
  TERN_ISA_NEON = 3    /* with FMA */
} tern_isa;
/* Why the active ISA is active (tern::SelectionReason). */
typedef enum tern_isa_reason {
  TERN_ISA_REASON_NONE = 0,        /* nothing selected yet */
  TERN_ISA_REASON_DEFAULT = 1,     /* the widest ISA built and supported */
  TERN_ISA_REASON_ENVIRONMENT = 2, /* the TERN_ISA environment variable */
  TERN_ISA_REASON_API = 3          /* tern_isa_select */
} tern_isa_reason;

/* ISAs compiled into this library. */
uint32_t tern_isa_built(void);
/* ISAs this CPU (and OS) can execute; always has TERN_ISA_SCALAR. */
uint32_t tern_isa_supported(void);
/* Built and supported: the ISAs tern_isa_select accepts. */
uint32_t tern_isa_available(void);
/* "scalar", "avx2", "avx512", "neon"; "unknown" for another value. */
const char* tern_isa_name(int32_t isa);
/* Makes `isa` the kernel ISA of every model created after the call
 * (process-wide; a model keeps the ISA it was created with).
 * TERN_UNSUPPORTED_ISA, naming the available ISAs, when it is not built or
 * not supported (the selection is then unchanged). */
tern_status tern_isa_select(int32_t isa, tern_error* err);
/* The same by name ("avx2"); an unknown name is TERN_UNSUPPORTED_ISA. */
tern_status tern_isa_select_name(const char* name, tern_error* err);
/* Forgets tern_isa_select: the next model created selects again, from the
 * TERN_ISA environment variable or the default. */
void tern_isa_select_auto(void);
/* The ISA models created now get, and why (`reason` may be NULL); selects
 * first if nothing is selected. TERN_UNSUPPORTED_ISA when that selection
 * fails (TERN_ISA names an ISA that is unknown, not built or not supported). */
tern_status tern_isa_active(int32_t* isa, int32_t* reason, tern_error* err);

/* ---- divergence guard ----------------------------------------------- */
/* Needs a spec with divergence_guard. The rule, in full: the header
 * tern/runtime/divergence.h; in short, a step diverges when its loss is not
 * finite, when the smoothed loss exceeds loss_factor x the reference (a
 * slowly forgetting minimum of it), or when the update leaves a parameter
 * or moment that is not finite. The last good state is then restored and
 * the action taken. */
typedef enum tern_divergence_action {
  TERN_DIVERGENCE_STOP = 0, /* restore, return TERN_NON_FINITE; later steps are
                               TERN_FAILED_PRECONDITION until the stop is cleared */
  TERN_DIVERGENCE_REDUCE_LEARNING_RATE = 1 /* restore, scale the learning rate, return OK */
} tern_divergence_action;
typedef struct tern_divergence_policy {
  int32_t action;             /* a tern_divergence_action; default REDUCE_LEARNING_RATE */
  float learning_rate_factor; /* in (0, 1), default 0.5 */
  uint32_t max_recoveries;    /* then it stops anyway; default 8 */
  float loss_factor;          /* 0 (only NaN/Inf) or finite and > 1; default 4 */
  uint32_t loss_smoothing;    /* steps, >= 1; default 8 */
  uint32_t reference_window;  /* steps, >= 1; default 1000 */
  float loss_floor;           /* finite, >= 0; default 0.01 */
} tern_divergence_policy;
/* What the guard has seen since the model was created or initialised. */
typedef struct tern_divergence_report {
  uint32_t recoveries;       /* times training went on from the restored state
                                (REDUCE_LEARNING_RATE; a stop is not counted) */
  uint64_t last_step;        /* the step that diverged last */
  float last_loss;           /* its mean loss */
  int32_t stopped;           /* 1: training is stopped until cleared */
  float learning_rate_scale; /* the product of the reductions so far */
  float smoothed_loss;       /* the rule's running figures */
  float reference_loss;
} tern_divergence_report;

/* The defaults listed in tern_divergence_policy. */
tern_divergence_policy tern_divergence_policy_defaults(void);
tern_status tern_model_set_divergence_policy(tern_model* model,
                                             const tern_divergence_policy* policy,
                                             tern_error* err);
/* Copies the report into *report (any model: a model without a guard
 * reports zeros and a scale of 1). */
tern_status tern_model_divergence(const tern_model* model, tern_divergence_report* report,
                                  tern_error* err);
/* Lets training continue after a stop, from the restored last good state
 * (lower the learning rate or raise max_recoveries first). */
tern_status tern_model_clear_divergence_stop(tern_model* model, tern_error* err);

/* ---- rank-1 features: clipping, accumulation, edits ------------------ */
/* Per-example and global-norm clipping with Gaussian noise
 * (tern::ClipParams; docs/rank1.md). 0 is off for each bound. */
typedef struct tern_clip_params {
  float example_clip;     /* needs spec.example_rows */
  float noise_multiplier; /* needs example_clip > 0; noise deviation is
                             noise_multiplier * example_clip */
  uint64_t noise_seed;    /* keep it secret: the noise is predictable from it */
  float global_clip;      /* not with a fused update without example gradients */
  int32_t divisor;        /* tern_example_divisor (appended; 0 = rows, as before) */
} tern_clip_params;

/* Clipping and noise for the following steps. */
tern_status tern_model_set_clipping(tern_model* model, const tern_clip_params* params,
                                    tern_error* err);
/* Copies the per-example gradient norms of the last step (spec.example_rows)
 * into norms: one row per example of the last batch, layer_count + 1
 * columns (column l: the norm over layer l's parameters, 0 for a layer
 * without; the last: the whole model). *examples (may be NULL) gets the
 * rows. `capacity` is in floats; at most rows / example_rows examples. */
tern_status tern_model_example_norms(const tern_model* model, float* norms, size_t capacity,
                                     size_t* examples, tern_error* err);
/* The norm of the last step's gradient before global clipping (computed
 * only with a global clip set); 0 otherwise or for a bad handle. */
float tern_model_gradient_norm(const tern_model* model);
/* spec.accumulation_rows: forward and backward on a micro-batch, keeping
 * its factors; nothing is updated. *mean_loss may be NULL. */
tern_status tern_model_accumulate(tern_model* model, const tern_batch* batch, float* mean_loss,
                                  tern_error* err);
/* One optimizer step on the mean gradient of every row accumulated since
 * the last flush; nothing accumulated: nothing happens. */
tern_status tern_model_flush(tern_model* model, tern_error* err);
/* Rows accumulated since the last flush; 0 for a bad handle. */
uint32_t tern_model_accumulated_rows(const tern_model* model);
/* W += scale * sum_j a_j^T b_j for Dense layer `layer` (W is in x out):
 * `count` rank-1 terms, a_j = a + j * lda (in floats), b_j = b + j * ldb
 * (out floats). Either mode; an edit that could overflow a weight is
 * refused before W changes. */
tern_status tern_model_rank1_edit(tern_model* model, uint32_t layer, size_t count, const float* a,
                                  size_t lda, const float* b, size_t ldb, float scale,
                                  tern_error* err);
/* Training models: the factors of Dense layer `layer` for a batch, u
 * (batch.rows x in floats) and delta (batch.rows x out floats), so that
 * tern_model_rank1_edit(model, layer, rows, u, in, delta, out, -step) is one
 * gradient step of that layer on that batch. The parameters do not change. */
tern_status tern_model_edit_factors(tern_model* model, const tern_batch* batch, uint32_t layer,
                                    float* u, float* delta, tern_error* err);
/* Optimizer steps taken since creation or tern_model_initialize (or as a
 * loaded training state says); 0 for a bad handle. */
uint64_t tern_model_steps(const tern_model* model);

/* ---- evaluation ----------------------------------------------------- */
/* What tern_model_evaluate reports (tern::Evaluation): the rows evaluated,
 * the mean over them of the spec's loss (softmax cross-entropy, or half the
 * squared error summed over the outputs, as training defines it); for
 * softmax cross-entropy the rows whose largest output (first on ties) is the
 * label and that count / rows; for MSE the squared errors summed over rows
 * and outputs / (rows x output width). The figures of the other loss are 0. */
typedef struct tern_evaluation {
  size_t rows;
  float mean_loss;
  size_t correct;
  float accuracy;
  float mean_squared_error;
} tern_evaluation;
/* Evaluates a training or inference model on data->rows >= 1 samples, any
 * number of them (run in chunks of the model's rows; the samples
 * data->indices selects when given), reading data->labels or data->targets
 * as the loss needs. Changes no weight, optimizer state or
 * step count: training afterwards goes on exactly as it would have. The
 * same bits on every ISA, and for any model rows. A sample whose input,
 * target, output or loss is not finite (TERN_NON_FINITE) or whose label is
 * out of range (TERN_INVALID_ARGUMENT) is an error naming its row; *out is
 * then untouched. */
tern_status tern_model_evaluate(tern_model* model, const tern_batch* data, tern_evaluation* out,
                                tern_error* err);
/* Each row's own loss (tern::Model::row_losses): losses[i] (data->rows
 * floats, 4-byte aligned) is row i's term of tern_model_evaluate's mean
 * over the same data, the same bits on every ISA. Call it on a step's batch
 * before tern_model_train_step for the per-example losses of that step.
 * Errors as tern_model_evaluate's; after one, the rows before the named
 * row hold their losses and the rest are untouched. */
tern_status tern_model_row_losses(tern_model* model, const tern_batch* data, float* losses,
                                  tern_error* err);

/* ---- learning-rate schedules ---------------------------------------- */
typedef enum tern_schedule_kind {
  TERN_SCHEDULE_CONSTANT = 0,
  TERN_SCHEDULE_STEP_DECAY = 1, /* decay_factor every decay_steps steps */
  TERN_SCHEDULE_COSINE = 2      /* cosine from 1 to min_factor at total_steps */
} tern_schedule_kind;
/* tern::LearningRateSchedule (tern/runtime/schedule.h has the formula). Step
 * s (the model's step count before it) uses the learning rate times the
 * factor: (s + 1) / warmup_steps during the warm-up, then the kind's;
 * kStepDecay and kCosine never go below min_factor. The kind is an int32_t
 * so that the layout does not depend on enum sizes. */
typedef struct tern_schedule {
  int32_t kind;          /* tern_schedule_kind, default TERN_SCHEDULE_CONSTANT */
  float decay_factor;    /* STEP_DECAY, in (0, 1], default 0.1 */
  float min_factor;      /* STEP_DECAY, COSINE: in [0, 1], default 0 */
  uint64_t warmup_steps; /* any kind; COSINE: at most total_steps; default 0 */
  uint64_t total_steps;  /* COSINE: >= 1 */
  uint64_t decay_steps;  /* STEP_DECAY: >= 1 */
} tern_schedule;
/* A constant schedule with the defaults above. */
tern_schedule tern_schedule_defaults(void);
/* The schedule of the following steps. Keeps the optimizer moments and the
 * step count (a model loaded with its optimizer state continues the
 * schedule; set it again after a load, it is not saved). An invalid schedule
 * is TERN_INVALID_ARGUMENT naming the field, and changes nothing; an
 * inference model is TERN_FAILED_PRECONDITION. */
tern_status tern_model_set_schedule(tern_model* model, const tern_schedule* schedule,
                                    tern_error* err);
/* The learning rate the next training step will use: the optimizer's rate
 * times the schedule's factor times the divergence guard's scale. 0 for a
 * NULL or bad handle. */
float tern_model_learning_rate(const tern_model* model);
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

/* ---- exported parameters -------------------------------------------- */
/* Copies parameters exported by tern::export_c_header (the arrays of a
 * generated header, compiled into flash) into a model of the same layers,
 * any rows, either mode:
 *   tern_model_load_parameters(model, net_architecture, NET_ARCHITECTURE_WORDS,
 *                              net_parameters, NET_PARAMETER_COUNT, &err);
 * Only the parameters change: the optimizer moments and step count stay as
 * they were (tern_model_initialize resets them). Everything is checked
 * before a value is copied: on error the model is unchanged.
 * Errors: a bad handle, `architecture` or `values` NULL
 * (TERN_INVALID_ARGUMENT); either not 4-byte aligned (TERN_MISALIGNED);
 * the architecture words differ from the model's,
 * or `count` is not its parameter count (TERN_SHAPE_MISMATCH, naming both);
 * a value is NaN or Inf (TERN_NON_FINITE, naming its index). */
tern_status tern_model_load_parameters(tern_model* model, const uint32_t* architecture,
                                       size_t words, const float* values, size_t count,
                                       tern_error* err);

/* ---- summary -------------------------------------------------------- */
/* The model in words, as a NUL-terminated string in buffer[0 .. capacity):
 * its layers (kind, activation, input and output shape, parameters), the
 * parameter total, every buffer of its arena (offset, bytes, shape, what it
 * holds) and the arena total, the text of tern::summary_text
 * (tern/runtime/summary.h). The buffers listed are the model's own; the
 * arena tern_arena_bytes asks for also holds the handle in front of them.
 * *needed (may be NULL) receives the bytes the text takes, NUL included,
 * whether it fits or not. A smaller buffer is TERN_OUT_OF_MEMORY naming both
 * sizes, and then nothing is written to it; buffer NULL with capacity 0
 * asks for the size that way. */
tern_status tern_model_summary(const tern_model* model, char* buffer, size_t capacity,
                               size_t* needed, tern_error* err);

/* ---- safetensors ---------------------------------------------------- */
/* Weights in and out of the safetensors format (what PyTorch's
 * safetensors.torch.save_file(model.state_dict(), path) writes), through
 * tern::load_safetensors and tern::save_safetensors
 * (tern/runtime/safetensors.h has the whole contract). Names: `names` NULL
 * with name_count 0 for the defaults nn.Sequential gives ("0.weight",
 * "0.bias", "2.weight", ... where module 1 is a Dense layer's activation),
 * or one name per tensor in tensor order. nn.Linear weights ([out][in])
 * are transposed to tern's [in][out] on reading and back on writing; F32,
 * F16 and BF16 load, F32 is written.
 *
 * tern_model_load_safetensors validates everything before a weight
 * changes: on error the model is unchanged. TERN_CORRUPT_DATA: a header
 * that is not JSON or not a safetensors header, offsets outside the data,
 * overlapping ranges or gaps; TERN_SHAPE_MISMATCH: a tensor missing, of the
 * wrong shape or of a dtype other than F32, F16, BF16 (named with its
 * name); TERN_NON_FINITE: a NaN or Inf value; TERN_INVALID_ARGUMENT: a bad
 * handle, `data` NULL, a bad name list. Only the parameters change. */
tern_status tern_model_load_safetensors(tern_model* model, const void* data, size_t size,
                                        const char* const* names, uint32_t name_count,
                                        tern_error* err);
/* The bytes tern_model_save_safetensors writes for these names; 0 for a bad
 * handle or name list. */
size_t tern_model_safetensors_bytes(const tern_model* model, const char* const* names,
                                    uint32_t name_count);
/* Writes the model's parameters as F32 into buffer[0 .. capacity); *written
 * (may be NULL) receives the bytes, 0 on every error. A buffer shorter than
 * tern_model_safetensors_bytes is TERN_OUT_OF_MEMORY naming both sizes, a
 * NaN or Inf parameter TERN_NON_FINITE; nothing is written then. */
tern_status tern_model_save_safetensors(const tern_model* model, const char* const* names,
                                        uint32_t name_count, void* buffer, size_t capacity,
                                        size_t* written, tern_error* err);
#if TERN_HAS_FILES
/* The same with files: the save is atomic like tern_model_save_file, the
 * load refuses a path that is not a regular file. */
tern_status tern_model_save_safetensors_file(const tern_model* model, const char* path,
                                             const char* const* names, uint32_t name_count,
                                             tern_error* err);
tern_status tern_model_load_safetensors_file(tern_model* model, const char* path,
                                             const char* const* names, uint32_t name_count,
                                             tern_error* err);
#endif
/* ---- the open backward pass ------------------------------------------ */
/* tern::Model::forward, backward, compute_gradients, apply_gradients,
 * input_gradient and output_gradient (tern/runtime/model.h has the full
 * contracts); C and C++ give the same bits.
 *
 * Runs the layers on rows x input_width inputs x (row stride ldx), as one
 * batch of at most tern_model_rows rows; y (may be NULL) receives the
 * outputs (rows x output width, row stride ldy). A training model keeps
 * what tern_model_backward needs. Errors as tern_model_infer's, plus rows
 * above tern_model_rows (TERN_INVALID_ARGUMENT). */
tern_status tern_model_forward(tern_model* model, const float* x, size_t ldx, size_t rows,
                               float* y, size_t ldy, tern_error* err);
/* The backward pass of the last tern_model_forward from dl_dy = dL/dY
 * (rows x output width, row stride ldg), the gradient of the caller's own
 * loss with respect to the outputs, taken as given (divide by rows for a
 * mean): the parameter gradients of sum_i dl_dy_i . y_i replace the
 * previous ones, ready for tern_model_apply_gradients. The gradient the
 * built-in loss produced (tern_model_output_gradient) gives
 * tern_model_compute_gradients' bits.
 * Errors: no forward to differentiate (another call ran the layers or
 * changed the parameters since, or backward already ran on it), or a spec
 * with fused_update, example_rows or accumulation_rows
 * (TERN_FAILED_PRECONDITION, naming it); rows other than the forward's,
 * dl_dy NULL, ldg below the output width (TERN_INVALID_ARGUMENT); a value
 * NaN or Inf (TERN_NON_FINITE, naming row and column). On error nothing
 * changes. */
tern_status tern_model_backward(tern_model* model, const float* dl_dy, size_t ldg, size_t rows,
                                tern_error* err);
/* Forward, loss and backward on a batch: the gradients of the mean loss
 * replace the previous ones; *mean_loss may be NULL. Not with fused_update
 * or accumulation_rows (TERN_FAILED_PRECONDITION). */
tern_status tern_model_compute_gradients(tern_model* model, const tern_batch* batch,
                                         float* mean_loss, tern_error* err);
/* One optimizer step with the current gradients. */
tern_status tern_model_apply_gradients(tern_model* model, tern_error* err);
/* A spec with input_gradient 1: copies dL/dX (rows x input width) of the
 * last backward pass (tern_model_compute_gradients, tern_model_train_step
 * at the parameters before its update, or tern_model_backward) into dx,
 * row stride lddx, and its row count into *rows (may be NULL). dx needs
 * room for tern_model_rows rows at most, and must not overlap the arena.
 * Errors: input_gradient 0, or no backward pass since the last loss or
 * initialisation (TERN_FAILED_PRECONDITION); dx NULL or lddx below the
 * input width (TERN_INVALID_ARGUMENT). */
tern_status tern_model_input_gradient(const tern_model* model, float* dx, size_t lddx,
                                      size_t* rows, tern_error* err);
/* The same for dL/dY (rows x output width) as the loss produced it (the
 * gradient of the mean loss) or tern_model_backward received it. */
tern_status tern_model_output_gradient(const tern_model* model, float* dy, size_t lddy,
                                       size_t* rows, tern_error* err);
/* ---- conventions (docs/pytorch.md) ----------------------------------- */
/* Where tern's default differs from PyTorch's, the PyTorch form is one of
 * these values (tern::WeightDecayScope, tern::MseReduction and
 * tern::ExampleGradientDivisor; the header essays have the formulas). */
/* tern_optimizer_params.weight_decay_scope */
typedef enum tern_weight_decay_scope {
  TERN_WEIGHT_DECAY_DENSE_WEIGHTS = 0, /* tern: Dense weights only */
  TERN_WEIGHT_DECAY_ALL_PARAMETERS = 1 /* PyTorch: biases, LayerNorm too */
} tern_weight_decay_scope;
/* tern_optimizer_params.mse_reduction (TERN_LOSS_MSE only) */
typedef enum tern_mse_reduction {
  TERN_MSE_HALF_SUM_OVER_ROWS = 0, /* tern: 0.5 * sum((p - t)^2) / rows */
  TERN_MSE_MEAN = 1,               /* PyTorch MSELoss(): sum / (rows * cols) */
  TERN_MSE_SUM = 2                 /* MSELoss(reduction="sum"); not with
                                      example_rows or accumulation_rows */
} tern_mse_reduction;
/* tern_clip_params.divisor: what the clipped sum of example gradients is
 * divided by */
typedef enum tern_example_divisor {
  TERN_EXAMPLE_DIVISOR_ROWS = 0,    /* tern: the rows of the step */
  TERN_EXAMPLE_DIVISOR_EXAMPLES = 1 /* DP-SGD, Opacus: the examples */
} tern_example_divisor;

#ifdef __cplusplus
}
#endif

#endif /* TERN_H */
