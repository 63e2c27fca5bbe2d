// tern/kernels/dispatch.h — one table of kernels per ISA, chosen once.
//
// Each ISA compiled into tern contributes one KernelTable: a struct of plain
// function pointers, filled at compile time, living in that ISA's own
// translation units (compiled with that ISA's flags and nothing else is). The
// first kernel call picks a table — the TERN_ISA environment variable if set,
// otherwise the widest ISA that is both built and supported by this CPU — and
// every later call goes straight through that table: no feature test inside
// any kernel.
//
// The table entries are *unchecked*: they trust their arguments. A `scratch`
// argument is either null (where the checked API allows it) or holds the
// floats the matching *_scratch_floats() function of kernels.h gives. Callers that
// have already validated shapes once (the runtime, when a model is built) call
// them directly in their inner loops; everyone else uses the checked entry
// points of tern/kernels/kernels.h and tern/kernels/elementwise.h. Each entry
// computes exactly the formula stated beside its checked counterpart.
//
// A request that cannot be honoured (unknown name, ISA not built, CPU lacks
// it) is an error that names what is available. tern never silently falls
// back to another ISA: a benchmark or a bit-identity test that asked for
// avx512 must not quietly measure scalar.
#pragma once

#include <cstddef>
#include <cstdint>

#include "tern/kernels/elementwise.h"
#include "tern/kernels/kernels.h"
#include "tern/platform/isa.h"

namespace tern {

struct KernelTable {
  Isa isa;
  void (*gemm_rows_f32)(std::size_t n, std::size_t k, std::size_t m, const float* x,
                        std::size_t ldx, const float* w, std::size_t ldw, const float* bias,
                        float* y, std::size_t ldy, Activation act, float* scratch);
  void (*rank1_accumulate_f32)(std::size_t n, std::size_t k, std::size_t m, float alpha,
                               const float* u, std::size_t ldu, const float* d, std::size_t ldd,
                               float* g, std::size_t ldg, float* scratch);
  void (*column_sums_accumulate_f32)(std::size_t n, std::size_t m, float alpha, const float* d,
                                     std::size_t ldd, float* g);
  void (*backprop_rows_f32)(std::size_t n, std::size_t k, std::size_t m, const float* d,
                            std::size_t ldd, const float* w, std::size_t ldw, float* dx,
                            std::size_t lddx);

  // Element-wise kernels (tern/kernels/elementwise.h). An operand the chosen
  // Pointwise does not use may be null; `loss_sum` is always written.
  void (*add_bias_f32)(std::size_t n, std::size_t m, const float* bias, float* y,
                       std::size_t ldy);
  void (*pointwise_forward_f32)(Pointwise f, std::size_t n, std::size_t m, const float* x,
                                std::size_t ldx, float* y, std::size_t ldy);
  void (*pointwise_backward_f32)(Pointwise f, std::size_t n, std::size_t m, const float* x,
                                 std::size_t ldx, const float* y, std::size_t ldy,
                                 const float* dy, std::size_t lddy, float* dx, std::size_t lddx);
  void (*softmax_rows_f32)(std::size_t n, std::size_t m, const float* x, std::size_t ldx,
                           float* y, std::size_t ldy);
  void (*softmax_cross_entropy_f32)(std::size_t n, std::size_t m, const float* z,
                                    std::size_t ldz, const std::uint32_t* labels,
                                    float grad_scale, float* dz, std::size_t lddz,
                                    float* loss_sum);
  void (*mse_f32)(std::size_t n, std::size_t m, const float* pred, std::size_t ldp,
                  const float* target, std::size_t ldt, float grad_scale, float* grad,
                  std::size_t ldg, float* loss_sum);
  void (*sgd_momentum_f32)(std::size_t count, float* w, const float* g, float* velocity,
                           const SgdParams& params);
  void (*adam_f32)(std::size_t count, float* w, const float* g, float* m, float* v,
                   const AdamStepConstants& c);
  // stddev finite, >= 0, and stddev * sqrt(2) finite.
  void (*add_gaussian_noise_f32)(std::size_t count, float* g, float stddev, std::uint64_t key,
                                 std::uint64_t first_index);
};

// The table of `isa`, or nullptr when that ISA was not compiled in. Does not
// look at the CPU: calling into a table the CPU cannot run faults.
const KernelTable* kernel_table(Isa isa);

// ISAs compiled into this build.
IsaMask built_isas();
// ISAs compiled in and runnable on this CPU: built_isas() & cpu_isas().
IsaMask available_isas();

// Why the active table is the active table.
enum class SelectionReason { kNone, kDefault, kEnvironment, kApi };
const char* selection_reason_text(SelectionReason reason);

// Makes `isa` the active ISA for all later kernel calls (process-wide).
// kUnsupportedIsa, naming the available ISAs, if it is not built or not
// supported; the active selection is then left unchanged.
Status select_isa(Isa isa);
// Same, by name ("avx2"); an unknown name is kUnsupportedIsa too.
Status select_isa(const char* name);
// Forgets any select_isa() call: the next kernel call selects again from
// TERN_ISA or the default.
void reset_isa_selection();

// The active table, selecting it first if needed. Fails (and keeps failing on
// every call) while TERN_ISA names an ISA that cannot be used.
Status active_kernels(const KernelTable** out);

// The active ISA and why; selects first if needed. On a failed selection
// returns false and leaves the outputs untouched.
bool active_isa(Isa* isa, SelectionReason* reason);

}  // namespace tern
