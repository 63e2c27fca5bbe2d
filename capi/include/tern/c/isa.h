/* SPDX-License-Identifier: Apache-2.0 */
/* tern/c/isa.h — tern's C interface, one topic: the kernel ISA: what is built
 * and supported, selection and its reason.
 * Included by tern.h, whose opening essay describes the interface as a
 * whole; include tern.h rather than this file. */
#ifndef TERN_C_ISA_H
#define TERN_C_ISA_H

#include "tern/c/types.h"

#ifdef __cplusplus
extern "C" {
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

#ifdef __cplusplus
}
#endif

#endif /* TERN_C_ISA_H */
