// SPDX-License-Identifier: Apache-2.0
// tern/runtime/model.h — a model built from a ModelSpec inside an arena:
// forward pass, loss, backward pass, optimizer update.
//
// Model::build() checks the spec, takes exactly arena_bytes(spec) bytes from
// the arena, resolves every buffer of the plan (tern/runtime/plan.h) into a
// pointer, fetches the active kernel table once and decides which training
// step the spec runs. Nothing after build() allocates: a training step is a
// fixed sequence of kernel calls on pre-planned buffers, and the shapes of
// those calls were validated when the model was built, so the hot loops call
// the unchecked table entries.
//
// The words used for a training step, in the code, its comments and the docs,
// for a batch of n <= spec.rows rows:
//   forward pass   point 0 = the batch (copied into the arena, checked
//                  finite), point l+1 = layer l (point l)    (forward_pass.cpp)
//   loss           mean over rows of softmax cross-entropy or 0.5*squared
//                  error; its gradient is the delta of the output point
//                  (loss.cpp), or the caller's dL/dY through backward()
//                                                 (backward_from_gradient.cpp)
//   backward pass  for l = L-1 .. 0, two parts:
//     propagate    the delta of point l+1 through layer l: the activation
//                  derivative in place, then dL/d(point l) (backprop_rows for
//                  Dense), plus the deltas of skip connections
//     gradients    a Dense layer's dL/dW as a sum of per-row outer products
//                  of its factors (u_i = its input row, d_i = its delta row;
//                  rank1_accumulate) and dL/db as column sums; LayerNorm's
//                  dgamma, dbeta                            (backward_pass.cpp)
//   update         SGD with momentum, Adam or AdamW, in place, one tensor (or
//                  fused-update block) at a time           (optimizer_step.cpp)
// The step that runs these is chosen once, at build(), from the spec
// (train_step.cpp): the gradients go to stored buffers, straight into the
// optimizer (fused update), or are formed from kept factors (example
// gradients, example_gradients.cpp; accumulation, accumulation.cpp); the
// step is single, guarded (divergence_guard.cpp) or accumulated.
// Every step gives the same bits under every ISA (the kernels' arithmetic
// contract; the runtime's own loops are portable C++ with a fixed order).
#pragma once

#include <cstddef>
#include <cstdint>

#include "tern/platform/isa.h"
#include "tern/platform/status.h"
#include "tern/runtime/arena.h"
#include "tern/runtime/clipping.h"
#include "tern/runtime/compiled_plan.h"
#include "tern/runtime/divergence.h"
#include "tern/runtime/evaluation.h"
#include "tern/runtime/plan.h"
#include "tern/runtime/schedule.h"
#include "tern/runtime/spec.h"
#include "tern/runtime/step_features.h"
#include "tern/runtime/training_inputs.h"
#include "tern/runtime/view.h"

namespace tern {

// The kernel tables (tern/kernels/kernel_table.h) are internal to tern's
// libraries: a model holds the ISA of the one it calls, users never call it.
struct AdamStepConstants;  // tern/kernels/elementwise.h
namespace runtime_detail {
struct UpdateConstants;  // one optimizer step's constants (optimizer_step.h)
struct EvaluationSums;   // evaluate()'s running sums (evaluation.cpp)
}  // namespace runtime_detail

// The seed build() initialises every model with (the C API's since 0.1.0,
// when tern_model_create initialised with seed 1 and build() left zeros).
// Decision: a built model is always a trainable model. Zero weights train
// nothing (every hidden unit gets the same gradient: XOR sits at loss
// ln 2 = 0.6931 without an error), and a C++ program that forgot
// initialize() would train them silently while the same spec through the C
// API would learn. initialize(seed) chooses another seed.
constexpr std::uint64_t kDefaultInitSeed = 1;

// One parameter tensor and its training buffers (empty spans where the
// mode or optimizer has none).
struct Tensor {
  std::uint32_t layer = 0;
  bool is_bias = false;  // b of a Dense layer, beta of a LayerNorm
  Span<float> value, grad, moment1, moment2;
};

class Model {
 public:
  Model() = default;
  Model(const Model&) = delete;
  Model& operator=(const Model&) = delete;

  // Validates `spec` and takes arena_bytes(spec) bytes from `arena`
  // (kOutOfMemory names the bytes needed), then initialize(kDefaultInitSeed):
  // the parameters are He/Xavier uniform from seed 1, the optimizer state is
  // zero. Ready to train or to load weights into.
  // A failed build changes nothing: everything (the spec, the kernel table,
  // the arena's space) is checked before any member or arena byte changes,
  // so a built model stays built, with its parameters, and keeps working.
  // (Decision: a model that a rejected rebuild had silently unbuilt would
  // fail every later call far from the cause.)
  Status build(const ModelSpec& spec, Arena& arena);
  // build() with a plan the compiler worked out (tern::compile_plan<kSpec>(),
  // compiled_plan.h): the same model, the same bits (initialised the same
  // way), and neither the planner nor the spec check is linked. The same errors for the arena and the kernels.
  template <std::size_t N>
  Status build(const CompiledPlan<N>& plan, Arena& arena) {
    return build_compiled(plan.spec, plan.facts, plan.entries, N, arena);
  }
  bool built() const { return base_ != nullptr; }
  const ModelSpec& spec() const { return spec_; }
  std::size_t bytes() const { return bytes_; }
  // The ISA of the kernel table chosen by build().
  Isa isa() const { return isa_; }

  // Deterministic initialisation: Dense W uniform with He (limit
  // sqrt(6/fan_in)) or Xavier (sqrt(6/(fan_in+fan_out))) scale, biases 0,
  // LayerNorm gamma 1 and beta 0; optimizer state and step counter reset.
  void initialize(std::uint64_t seed);

  // ---- inference (either mode) ------------------------------------------
  // Runs the layers on rows x input_width inputs (1 <= rows <= spec.rows),
  // which must be finite, 4-byte aligned and addressable (the extent of rows
  // x ldx floats is overflow-checked). The result is output(). An output
  // that is not finite (weights or inputs near float's limit overflow) is
  // kNonFinite naming its row and column; output() then holds it.
  Status forward(const float* x, std::size_t ldx, std::size_t rows);
  // The output point of the last forward(): rows x output_width.
  MatrixView<const float> output() const;
  // Any number of rows (>= 1) through the layers, in chunks of spec.rows:
  // y (rows x output_width, row stride ldy >= output_width) receives the
  // outputs, the same bits as forward() on each row. Every input is checked
  // finite before any output is written. An output that is not finite is
  // kNonFinite naming its row r; y's rows before r then hold their outputs
  // and rows r onwards are untouched. (Decision: rows are computed
  // independently, so the rows before r are the model's answers whatever the
  // chunking; keeping y whole would need all outputs buffered or computed
  // twice, and a rule that depended on spec.rows would differ between a
  // training and an inference model of the same weights.) output() holds the
  // last chunk that ran.
  Status infer(const float* x, std::size_t ldx, std::size_t rows, float* y, std::size_t ldy);
  // infer() giving the index of the largest output of each row (first on
  // ties) into classes[0 .. rows): any number of rows, the same rule on
  // error (classes before the named row written, the rest untouched).
  Status predict(const float* x, std::size_t ldx, std::size_t rows, std::uint32_t* classes);
  // The mean loss and the accuracy (softmax cross-entropy) or mean squared
  // error (MSE) over data.rows >= 1 rows, any number of them (or the samples
  // data.indices selects), in chunks of spec.rows (evaluation.h). Training
  // and inference models alike; reads data.labels or data.targets as the
  // spec's loss needs. Changes no parameter, gradient, moment, step count,
  // divergence-guard or clipping state; output() is empty afterwards. A
  // non-finite input, target, output or loss, or a label out of range, is
  // an error naming the batch row and the sample; *out is then untouched.
  Status evaluate(const Batch& data, Evaluation* out);
  // Each row's own loss (per-example losses, not only the mean): losses[i]
  // is row i's term of evaluate()'s mean over the same data — softmax
  // cross-entropy, or half the squared error summed over the outputs —
  // from the loss kernel on that row alone, so the same bits on every ISA
  // and every spec.rows. Call it before train_step() on the step's batch
  // for the losses that step trains on (the step's own mean is their mean,
  // under the default MSE reduction). Any number of rows; the data is
  // checked and reported as evaluate() does (messages start "evaluate:");
  // losses must hold data.rows floats (kInvalidArgument if null,
  // kMisaligned if not 4-byte aligned). After an error the rows before the
  // named one hold their losses, the rest are untouched.
  Status row_losses(const Batch& data, float* losses);

  // ---- training (Mode::kTraining) ---------------------------------------
  Status set_optimizer(const OptimizerParams& params);
  const OptimizerParams& optimizer() const { return opt_; }
  // The learning-rate schedule of the following steps (schedule.h): step s
  // uses optimizer().learning_rate * schedule_factor(schedule, s) * the
  // guard's scale, s = steps(). Validated (check_schedule); like
  // set_optimizer() it keeps the moments and the step count, is accepted
  // before build() and kept by build() and initialize(); a built inference
  // model refuses both (kFailedPrecondition: it never steps, so they would
  // be lost). Default: constant.
  Status set_schedule(const LearningRateSchedule& schedule);
  const LearningRateSchedule& schedule() const { return schedule_; }
  // The rate the next optimizer step will use (the product above at
  // s = steps()). A schedule other than the default constant one needs
  // kStepSchedule in train_step<kFeatures>().
  float learning_rate() const;
  // Forward, loss and backward: the gradients of the mean loss over the
  // batch replace the previous ones. *mean_loss may be null.
  Status compute_gradients(const Batch& batch, float* mean_loss);
  // One optimizer step with the current gradients.
  Status apply_gradients();
  // compute_gradients() + apply_gradients(). With a divergence guard in the
  // spec, a state whose parameters and moments are finite and whose loss
  // meets the policy's rule (DivergencePolicy) is copied into the arena's
  // snapshot before it is updated (the last good state). A divergence
  // restores it (parameters, moments, step count, the rule's running
  // figures) — undoing the step that blew the weights up, even when only the
  // next step's loss shows it — and the policy decides: kStop returns
  // kNonFinite, kReduceLearningRate scales the learning rate and returns ok
  // (*mean_loss then holds the diverged loss; divergence() tells what
  // happened). The batch of a diverged step is not trained on.
  //
  // After a stop (kStop, or max_recoveries used up) train_step() returns
  // kFailedPrecondition and changes nothing, until initialize(), a load
  // that sets the step count (set_steps(): load_model with optimizer state,
  // load_checkpoint) or clear_divergence_stop(). Decision: a guard that
  // said "stop" and then let the next call train on would make the stop
  // advisory, and a caller looping on train_step() without checking every
  // status would train the diverging model on.
  Status train_step(const Batch& batch, float* mean_loss);
  // train_step() for a program that knows its spec at compile time, linking
  // only the parts of a step in kFeatures (e.g. step_features(kSpec)): the
  // same step, the same bits. A model whose spec or settings need a feature
  // not in kFeatures is refused (kFailedPrecondition, naming it).
  template <StepFeatures kFeatures>
  Status train_step(const Batch& batch, float* mean_loss) {
    static constexpr StepParts kParts = step_parts(kFeatures);
    return run_train_step(kParts, batch, mean_loss);
  }
  // kFailedPrecondition unless the spec has divergence_guard; the factors
  // and windows must be in the ranges DivergencePolicy gives.
  Status set_divergence_policy(const DivergencePolicy& policy);
  const DivergenceReport& divergence() const { return guard_.report; }
  // Lets train_step() run again after a stop, from the restored last good
  // state (the learning-rate scale, the rule's figures and the recovery
  // count are kept; lower the learning rate or raise max_recoveries first).
  void clear_divergence_stop() { guard_.report.stopped = false; }
  // Optimizer steps taken since initialize(). 64 bits: a 32-bit counter
  // runs out after 2^32 steps (50 days at 1 kHz); this one after 5.8e8
  // years at 1 kHz. At 2^64 - 1 the next step is refused
  // (kFailedPrecondition), never wrapped to 0.
  std::uint64_t steps() const { return steps_; }
  // Sets the step count, as loading a training state does. A loaded state
  // starts a new history for the divergence guard: a stop is cleared and the
  // snapshot and the rule's figures (which describe the state before) are
  // forgotten; the learning-rate scale and the recovery count are kept.
  void set_steps(std::uint64_t steps);
  // Starts a new history for the divergence guard without touching the step
  // count: the snapshot and the rule's figures are forgotten and a stop is
  // cleared (the learning-rate scale and the recovery count are kept). Every
  // call that replaces parameters from outside training does it — load_model
  // without optimizer state, load_parameters, rank1_edit — because the
  // snapshot holds the old parameters and the figures judge the old loss: a
  // new model's first loss above the old rule would otherwise count as a
  // divergence and silently restore the weights it replaced.
  void restart_divergence_history();

  // ---- rank-1 structure (docs/rank1.md) ---------------------
  // Clipping and noise for the following steps; see ClipParams.
  Status set_clipping(const ClipParams& params);
  const ClipParams& clipping() const { return clip_; }
  // spec.example_rows: the per-example gradient norms of the last step,
  // before clipping, of each example's own loss (not divided by the batch
  // size): one row per example of the last batch (or micro-batch), column l
  // the norm over layer l's parameters (0 for a layer without), column
  // layer_count the norm over the whole model. Computed from the rank-1
  // factors; no per-example gradient is formed.
  MatrixView<const float> example_norms() const;
  // The norm of the last step's gradient before global clipping (computed
  // only when ClipParams::global_clip is set; 0 otherwise).
  float gradient_norm() const { return gradient_norm_; }

  // spec.accumulation_rows: forward and backward on a micro-batch, keeping
  // each Dense layer's factors (u_i, delta_i) — the layer's input and
  // output-gradient rows — instead of its weight gradient. Nothing is
  // updated. kFailedPrecondition when the micro-batch would overflow the
  // accumulator (flush first).
  Status accumulate(const Batch& batch, float* mean_loss);
  // One optimizer step on the mean gradient of every row accumulated since
  // the last flush, each Dense layer's weight gradient formed as one rank-K
  // update (fused into the optimizer with spec.fused_update). Nothing
  // accumulated: nothing happens.
  Status flush();
  std::uint32_t accumulated_rows() const { return accumulated_; }

  // W += scale * sum_j a_j^T b_j for Dense layer `layer` (W is in x out):
  // `count` rank-1 terms, a_j = a + j * lda (in floats), b_j = b + j * ldb
  // (out floats). The factors must be finite, and an edit that could
  // overflow a weight (max|W| + |scale| sum_j max|a_j| max|b_j| beyond
  // float's range) is refused (kNonFinite) before W changes; the optimizer
  // state is left alone. Works in inference models too (factors computed on a host, e.g.
  // by a model-editing method). Weights go through one FMA chain per
  // element, so an edit gives the same bits on every ISA.
  Status rank1_edit(std::uint32_t layer, std::size_t count, const float* a, std::size_t lda,
                    const float* b, std::size_t ldb, float scale);
  // Training models: the factors of Dense layer `layer` for a batch — u
  // (rows x in, the layer's input rows) and delta (rows x out, the gradient
  // of the batch's mean loss with respect to the layer's pre-activation) —
  // so that rank1_edit(layer, rows, u, in, delta, out, -step) is one
  // gradient step of that layer on that batch. The parameters are not
  // changed.
  Status edit_factors(const Batch& batch, std::uint32_t layer, float* u, float* delta);

  // ---- parameters -------------------------------------------------------
  std::uint32_t tensor_count() const { return tensor_count_; }
  // Tensor i, in plan order (layer by layer, weight before bias).
  Tensor tensor(std::uint32_t i) const;
  // Total parameter floats (the sum of the tensors' sizes).
  std::size_t parameter_count() const { return parameter_count_; }

  // Activation matrix of point p (rows x width) as the last forward pass
  // left it. For tests and diagnostics; in inference mode points share
  // buffers (a view of a point whose buffer a later layer reused holds that
  // layer's output).
  MatrixView<const float> point(std::uint32_t p) const;
  // dL/d(point p), rows x width, of the last backward pass (L as that pass
  // defined it: the mean loss of compute_gradients() and train_step(), or
  // sum_i dl_dy_i . y_i of backward()), when its buffer still holds it; an
  // empty view otherwise. Empty, with `p` in range, when:
  //  * no backward pass has run since build(), initialize() or the last
  //    loss (a training step whose loss was not finite, edit_factors());
  //  * point p is the output of a Dense layer with an activation: the pass
  //    turns that delta into the pre-activation gradient in place;
  //  * the plan shares the buffer with a delta the pass wrote later (an
  //    MLP's deltas ping-pong between two buffers, plan.h), so it holds
  //    that one;
  //  * p = 0 without spec.input_gradient (never computed);
  //  * the spec has example_rows or accumulation_rows (those passes form
  //    each example's own gradient and scale it in place).
  // The delta of the output point is output_gradient(), of point 0
  // input_gradient(). For tests and diagnostics.
  MatrixView<const float> delta(std::uint32_t p) const;

  // ---- backward from the caller's gradient (training) ---------------------
  // The backward pass of the last forward() from dl_dy = dL/dY, the gradient
  // of the caller's own loss L with respect to output() (rows x output
  // width, row stride ldg >= output width, finite, 4-byte aligned): the
  // parameter gradients of L = sum_i dl_dy_i . y_i replace the previous ones,
  // ready for apply_gradients(). dl_dy is taken as given: for a mean over
  // the rows the caller divides by rows (the built-in losses do: backward()
  // with the gradient compute_gradients() produced, output_gradient(), gives
  // its gradients bit for bit). Global clipping (ClipParams::global_clip)
  // applies as in compute_gradients(). Same bits on every ISA.
  //
  // `rows` must be those of the last forward() (kInvalidArgument names
  // both), and that forward() must be the last thing that ran the layers or
  // changed the parameters through the model: a training step,
  // compute_gradients(), evaluate(), infer(), predict(), apply_gradients(),
  // initialize(), a load or rank1_edit() in between, or an earlier
  // backward() of it, is kFailedPrecondition (one backward per forward:
  // the pass overwrites the pre-activation gradients in place). Writes
  // through tensor() spans are not noticed. kFailedPrecondition, naming the
  // option, for a spec with fused_update (no gradient is stored),
  // example_rows (each example's own loss gradient is needed, which a total
  // dL/dY does not separate) or accumulation_rows (use accumulate()). On
  // error nothing changes.
  Status backward(const float* dl_dy, std::size_t ldg, std::size_t rows);
  // spec.input_gradient: dL/dX (rows x input width) of the last backward
  // pass — compute_gradients(), train_step() (at the parameters before the
  // update) or backward() — for chaining models and for analysis. Empty
  // view without the option or before a backward pass (the rule of delta()).
  MatrixView<const float> input_gradient() const;
  // spec.input_gradient: dL/dY (rows x output width) of the last backward
  // pass, as the loss produced it (the gradient of the mean loss: each
  // row's loss gradient divided by rows) or as backward() received it.
  // Empty view without the option or before a backward pass.
  MatrixView<const float> output_gradient() const;

 private:
  using UpdateConstants = runtime_detail::UpdateConstants;

  // How a training step frames its work (train_step.cpp): one step, one
  // step with the divergence guard's snapshot and restore, or accumulate +
  // flush.
  enum class StepFrame : std::uint8_t { kSingle, kGuarded, kAccumulated };
  // Where the backward pass puts the parameter gradients: into the gradient
  // buffers (then the optimizer reads them), straight into the optimizer a
  // block of W at a time (fused update), or nowhere until every delta is
  // known and the gradients are formed from the kept factors (example
  // gradients, accumulation).
  enum class GradientPath : std::uint8_t { kStored, kFused, kFromFactors };
  // The factors gradients_from_factors() reads: this step's points and
  // deltas, or the rows accumulate() kept.
  enum class FactorSource : std::uint8_t { kLive, kAccumulated };

  // The divergence rule's running figures (DivergencePolicy): the smoothed
  // loss S and the reference R; `started` once a first loss has set them.
  struct LossHistory {
    float smoothed = 0.0f;
    float reference = 0.0f;
    bool started = false;
  };
  // The divergence guard's state (divergence_guard.cpp). The snapshot holds
  // the history as it was before the snapshot's step, so a restore puts
  // the rule back where it was.
  struct DivergenceGuard {
    unsigned char* snapshot = nullptr;  // parameters + moments; null: no guard
    std::uint64_t snapshot_steps = 0;
    LossHistory snapshot_history;
    bool snapshot_valid = false;
    LossHistory history;
    DivergencePolicy policy;
    DivergenceReport report;
  };

  // The parts of a training step that only some specs or settings run, as
  // member functions called through these pointers: a step links the parts
  // its StepParts names (null: not linked, the model must not need it). The
  // public entry points set step_parts_ before any step code runs.
  struct StepParts {
    Status (Model::*guarded_step)(const Batch&, float*) = nullptr;
    Status (Model::*accumulated_step)(const Batch&, float*) = nullptr;
    void (Model::*factor_gradients)(std::size_t, const UpdateConstants*) = nullptr;
    void (Model::*update_weights_fused)(std::uint32_t, std::size_t, const float*, std::size_t,
                                        const float*, std::size_t, float, float,
                                        const UpdateConstants&) = nullptr;
    void (Model::*global_clipping)() = nullptr;
    Status (Model::*adam_constants)(float, UpdateConstants*) = nullptr;
    void (Model::*apply_adam)(std::size_t, float*, const float*, float*, float*,
                              const AdamStepConstants&) = nullptr;
    float (*schedule_factor)(const LearningRateSchedule&, std::uint64_t) = nullptr;
  };
  static constexpr StepParts step_parts(StepFeatures f) {
    StepParts p;
    if (f & kStepDivergenceGuard) p.guarded_step = &Model::guarded_step;
    if (f & kStepAccumulation) p.accumulated_step = &Model::accumulated_step;
    if (f & (kStepAccumulation | kStepExampleGradients)) {
      p.factor_gradients = &Model::live_factor_gradients;
    }
    if (f & (kStepFusedUpdate | kStepAccumulation | kStepExampleGradients)) {
      p.update_weights_fused = &Model::update_weights_fused;
    }
    if (f & kStepGlobalClipping) p.global_clipping = &Model::clip_stored_gradients;
    if (f & kStepAdam) {
      p.adam_constants = &Model::adam_constants;
      p.apply_adam = &Model::apply_adam;
    }
    if (f & kStepSchedule) p.schedule_factor = &tern::schedule_factor;
    return p;
  }
  // The parts of plain train_step() and the other training entry points.
  static const StepParts& every_step_part();
  // Sets step_parts_ after checking the model needs nothing `parts` lacks.
  Status use_step_parts(const char* op, const StepParts& parts);
  Status run_train_step(const StepParts& parts, const Batch& batch, float* mean_loss);

  // A buffer of the model and its size (plan.h, ModelBuffer).
  struct ModelBufferView {
    float* data = nullptr;
    std::size_t bytes = 0;
  };

  float* buffer(std::uint32_t layer, LayerBuffer b) const {
    return layer_buffers_[layer][static_cast<std::size_t>(b)];
  }
  const ModelBufferView& buffer(ModelBuffer b) const {
    return model_buffers_[static_cast<std::size_t>(b)];
  }
  std::size_t weight_count(std::uint32_t layer) const;
  std::uint32_t tensor_index(std::uint32_t layer) const;
  Status check_training(const char* op) const;
  // kFailedPrecondition for a built inference model (optimizer settings).
  Status check_can_train(const char* op) const;
  // model.cpp: build() in three parts. take_block() checks the kernels and
  // the arena and takes the block (the last thing that can fail);
  // adopt() sets everything else once the buffers are resolved.
  Status take_block(Arena& arena, std::size_t total, Isa* isa, unsigned char** base);
  void adopt(const ModelSpec& spec, Isa isa, unsigned char* base, std::size_t total,
             std::uint32_t tensor_count, std::uint64_t parameter_floats,
             std::size_t zero_offset, std::size_t zero_bytes);
  Status build_compiled(const ModelSpec& spec, const CompiledPlanFacts& facts,
                        const PlanEntry* entries, std::size_t count, Arena& arena);

  // forward_pass.cpp
  void run_forward(const float* x0, std::size_t ld0, std::size_t rows);
  // batch_loading.cpp
  Status load_batch(const Batch& batch);
  // chunked_inference.cpp
  Status check_inference_input(const char* op, const float* x, std::size_t ldx,
                               std::size_t rows) const;
  Status forward_chunk(const char* op, const float* x, std::size_t ldx, std::size_t first,
                       std::size_t count, std::size_t* finite_rows);
  // evaluation.cpp: rows first .. first + count - 1 of `data` (count <=
  // spec.rows; 1 for an inference model whose data has indices).
  Status run_evaluation(const char* op, const Batch& data, runtime_detail::EvaluationSums* sums);
  Status evaluate_chunk(const Batch& data, std::size_t first, std::size_t count,
                        runtime_detail::EvaluationSums* sums);
  // backward_from_gradient.cpp
  Status check_backward(const char* op, const float* dl_dy, std::size_t ldg,
                        std::size_t rows) const;
  bool delta_holds(std::uint32_t p) const;
  // loss.cpp
  void forward_and_loss(std::size_t rows, float grad_scale, float* loss_sum);
  float loss_gradient_scale(std::size_t rows) const;
  Status load_and_forward(const char* op, const Batch& batch, float grad_scale, float* loss_sum);
  // backward_pass.cpp
  void propagate_delta(std::uint32_t layer, std::size_t rows, bool to_input);
  void add_skip_deltas(std::uint32_t layer, std::size_t rows);
  void propagate_deltas(std::uint32_t stop, std::size_t rows);
  void backward_pass(std::size_t rows, const UpdateConstants* fused);
  // optimizer_step.cpp
  Status start_update(UpdateConstants* update);
  Status adam_constants(float learning_rate, UpdateConstants* update);
  void apply_adam(std::size_t count, float* w, const float* grad, float* m1, float* m2,
                  const AdamStepConstants& constants);
  void apply_optimizer(std::uint32_t layer, bool is_bias, std::size_t offset, std::size_t count,
                       const float* grad, const UpdateConstants& update);
  void update_stored_tensors(const UpdateConstants& update);
  void update_weights_fused(std::uint32_t layer, std::size_t rows, const float* u,
                            std::size_t ldu, const float* d, std::size_t ldd, float alpha,
                            float noise_stddev, const UpdateConstants& update);
  float* rank1_scratch(std::size_t rows) const;
  // train_step.cpp
  void zero_gradients();
  // zero_gradients() except the Dense weight gradients, which the backward
  // pass then overwrites (rank1_gradient_f32) instead of accumulating into.
  void zero_gradients_but_dense_weights();
  Status single_step(const Batch& batch, float* mean_loss);
  Status backward_and_update(std::size_t rows);
  void stored_gradients(std::size_t rows);
  void live_factor_gradients(std::size_t rows, const UpdateConstants* update);
  // example_gradients.cpp
  void propagate_for_factors(std::size_t rows);
  void compute_example_norms(std::size_t rows);
  void gradients_from_factors(std::size_t rows, FactorSource source,
                              const UpdateConstants* update);
  // gradient_clipping.cpp
  void clip_stored_gradients();
  // accumulation.cpp
  Status check_accumulating(const char* op) const;
  Status accumulate_rows(const char* op, const Batch& batch, float* mean_loss);
  Status flush_factors();
  Status accumulated_step(const Batch& batch, float* mean_loss);
  // divergence_guard.cpp
  Status guarded_step(const Batch& batch, float* mean_loss);
  Status guard_recover(std::uint64_t step, float mean, const LossHistory* judged);
  // The learning rate set, times a schedule factor, times the guard's scale.
  float scaled_learning_rate(float schedule_factor) const;
  bool state_finite() const;
  void save_state();
  void restore_state();

  ModelSpec spec_;
  Isa isa_ = Isa::kScalar;  // the kernels the model calls (kernels_of(isa_))
  const StepParts* step_parts_ = nullptr;  // of the training call under way
  unsigned char* base_ = nullptr;
  std::size_t bytes_ = 0;
  StepFrame step_frame_ = StepFrame::kSingle;
  GradientPath gradient_path_ = GradientPath::kStored;
  float* layer_buffers_[kMaxLayers][kLayerBufferCount] = {};
  ModelBufferView model_buffers_[kModelBufferCount] = {};
  float* points_[kMaxLayers + 1] = {};
  float* deltas_[kMaxLayers + 1] = {};
  // Rows of the last backward pass whose deltas delta(), input_gradient()
  // and output_gradient() show; 0: none since the last loss or initialize().
  std::size_t gradient_rows_ = 0;
  // Rows of the forward() that backward() may differentiate; 0: none (any
  // other run of the layers, parameter change or backward() clears it).
  std::size_t backward_rows_ = 0;
  std::size_t examples_done_ = 0;  // examples of the last step with example gradients
  std::uint32_t accumulated_ = 0;  // factor rows waiting for flush()
  ClipParams clip_;
  float gradient_norm_ = 0.0f;
  DivergenceGuard guard_;
  std::size_t rows_done_ = 0;  // rows of the last forward()
  std::uint32_t tensor_count_ = 0;
  std::size_t parameter_count_ = 0;
  OptimizerParams opt_;
  LearningRateSchedule schedule_;
  std::uint64_t steps_ = 0;
};

const char* layer_kind_name(LayerKind kind);

}  // namespace tern
