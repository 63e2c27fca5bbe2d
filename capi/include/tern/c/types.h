/* SPDX-License-Identifier: Apache-2.0 */
/* tern/c/types.h — tern's C interface, one topic: the sizes, status codes and
 * the structs that describe a model.
 * Included by tern.h, whose opening essay describes the interface as a
 * whole; include tern.h rather than this file. */
#ifndef TERN_C_TYPES_H
#define TERN_C_TYPES_H

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

/* Kinds, activations and the other enums are stored in the structs
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
   * when training diverges (see tern/c/divergence.h). */
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
   * tern_model_input_gradient and tern_model_output_gradient (see
   * tern/c/backward.h); not with example_rows or accumulation_rows. An
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
   * tern/c/conventions.h and docs/pytorch.md): */
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

#ifdef __cplusplus
}
#endif

#endif /* TERN_C_TYPES_H */
