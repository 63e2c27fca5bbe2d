// tern/runtime/model.h — a model built from a ModelSpec inside an arena:
// forward, backward, optimizer step.
//
// Model::build() checks the spec, takes exactly arena_bytes(spec) bytes from
// the arena, resolves every buffer of the plan (tern/runtime/plan.h) into a
// pointer and fetches the active kernel table once. Nothing after build()
// allocates: a training step is a fixed sequence of kernel calls on
// pre-planned buffers, and the shapes of those calls were validated when the
// model was built, so the hot loops call the unchecked table entries.
//
// A training step, for a batch of n <= spec.rows rows:
//   forward   point 0 = the batch (copied into the arena, checked finite),
//             point l+1 = layer l (point l)
//   loss      mean over rows of softmax cross-entropy or 0.5*squared error;
//             the delta of the output point is its gradient
//   backward  for l = L-1 .. 0: Dense layers accumulate dL/dW as a sum of
//             per-row outer products (rank1_accumulate), dL/db as column
//             sums, and hand dL/dX = dZ W^T (backprop_rows) to layer l-1;
//             LayerNorm and residual add are plain loops in a fixed order
//   update    SGD with momentum, Adam or AdamW, in place, one tensor at a time
// Every step gives the same bits under every ISA (the kernels' arithmetic
// contract; the runtime's own loops are portable C++ with a fixed order).
#pragma once

#include <cstddef>
#include <cstdint>

#include "tern/kernels/kernel_table.h"
#include "tern/platform/status.h"
#include "tern/runtime/arena.h"
#include "tern/runtime/plan.h"
#include "tern/runtime/spec.h"
#include "tern/runtime/view.h"

namespace tern {

// A batch for training or evaluation. Sample s is the row x + s * ldx (with
// its label labels[s] or target row targets + s * ldt); the batch is samples
// 0 .. rows-1, or indices[0 .. rows-1] when indices is given (a shuffled
// epoch gathers its batches this way, without copying the data set).
struct Batch {
  const float* x = nullptr;
  std::size_t ldx = 0;
  std::size_t rows = 0;
  const std::uint32_t* labels = nullptr;  // softmax cross-entropy
  const float* targets = nullptr;         // MSE
  std::size_t ldt = 0;
  const std::uint32_t* indices = nullptr;  // optional
  std::size_t samples = 0;                 // with indices: rows of x that exist
};

struct OptimizerParams {
  float learning_rate = 1e-3f;
  float momentum = 0.9f;  // SGD
  float beta1 = 0.9f;     // Adam, AdamW
  float beta2 = 0.999f;
  float epsilon = 1e-8f;
  // Applied to Dense weights only (not to biases or LayerNorm's gamma/beta):
  // SGD and Adam add weight_decay * w to the gradient, AdamW decays w
  // directly (decoupled).
  float weight_decay = 0.0f;
};

// What train_step() does when training diverges — a non-finite loss, or
// non-finite parameters or optimizer moments after a step. Needs a spec with
// divergence_guard (the arena then holds a snapshot of the last good state).
enum class DivergenceAction : std::uint8_t {
  kStop = 0,                // restore the last good state, return kNonFinite
  kReduceLearningRate = 1,  // restore it, scale the learning rate, return ok
};
struct DivergencePolicy {
  DivergenceAction action = DivergenceAction::kReduceLearningRate;
  // The learning rate is multiplied by this after each recovery.
  float learning_rate_factor = 0.5f;
  // Recoveries allowed before train_step() stops anyway (kNonFinite).
  std::uint32_t max_recoveries = 8;
};
// What the guard has seen since build() / initialize().
struct DivergenceReport {
  std::uint32_t recoveries = 0;   // times the last good state was restored
  std::uint32_t last_step = 0;    // the step that diverged last (steps() + 1 then)
  float last_loss = 0.0f;         // its loss (non-finite, or finite if the weights blew up)
  bool stopped = false;           // the last divergence ended training
};

// Per-example clipping with Gaussian noise (DP-SGD: Abadi et al., "Deep
// Learning with Differential Privacy", 2016) and global-norm clipping.
// Norms are Euclidean over all the parameters they cover.
struct ClipParams {
  // Needs spec.example_rows. Each example's gradient (of its own loss, over
  // every parameter of the model) is scaled by min(1, example_clip /
  // ||g_i||) before it joins the sum. 0 = off.
  float example_clip = 0.0f;
  // Needs example_clip > 0. Adds noise_multiplier * example_clip * z, z a
  // standard normal drawn per parameter, to the clipped sum before it is
  // divided by the rows of the step (the number of examples times
  // spec.example_rows, as the plain mean loss is). 0 = off. The noise is a
  // function of (noise_seed, step, parameter): the same on every ISA and
  // whether the update is fused or not (add_gaussian_noise_f32 of
  // tern/kernels/elementwise.h; tensor t of step s has the key
  // noise_seed ^ f((s << 32) | t), f the SplitMix64 finalizer: x ^= x >> 30;
  // x *= 0xbf58476d1ce4e5b9; x ^= x >> 27; x *= 0x94d049bb133111eb;
  // x ^= x >> 31; the index is the element's offset in its tensor).
  // Its generator is statistical, not cryptographic: whoever knows the seed
  // can predict the noise, and then it protects nothing. Keep it secret.
  float noise_multiplier = 0.0f;
  std::uint64_t noise_seed = 0;
  // The step's gradient (the clipped sum divided by the rows, after
  // per-example clipping, before noise) is scaled by min(1, global_clip /
  // ||g||). 0 = off. Without example gradients this needs the gradient
  // buffers or accumulated factors (no fused update without accumulation).
  float global_clip = 0.0f;
};

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
  // (kOutOfMemory names the bytes needed). Parameters are zero and the
  // optimizer state is reset; call initialize() before training.
  Status build(const ModelSpec& spec, Arena& arena);
  bool built() const { return base_ != nullptr; }
  const ModelSpec& spec() const { return spec_; }
  std::size_t bytes() const { return bytes_; }
  // The ISA of the kernel table fetched by build().
  Isa isa() const { return kernels_ != nullptr ? kernels_->isa : Isa::kScalar; }

  // Deterministic initialisation: Dense W uniform with He (limit
  // sqrt(6/fan_in)) or Xavier (sqrt(6/(fan_in+fan_out))) scale, biases 0,
  // LayerNorm gamma 1 and beta 0; optimizer state and step counter reset.
  void initialize(std::uint64_t seed);

  // ---- inference (either mode) ------------------------------------------
  // Runs the layers on rows x input_width inputs (1 <= rows <= spec.rows),
  // which must be finite. The result is output().
  Status forward(const float* x, std::size_t ldx, std::size_t rows);
  // The output point of the last forward(): rows x output_width.
  MatrixView<const float> output() const;
  // forward() then the index of the largest output of each row (first on ties).
  Status predict(const float* x, std::size_t ldx, std::size_t rows, std::uint32_t* classes);

  // ---- training (Mode::kTraining) ---------------------------------------
  Status set_optimizer(const OptimizerParams& params);
  const OptimizerParams& optimizer() const { return opt_; }
  // Forward, loss and backward: the gradients of the mean loss over the
  // batch replace the previous ones. *mean_loss may be null.
  Status compute_gradients(const Batch& batch, float* mean_loss);
  // One optimizer step with the current gradients.
  Status apply_gradients();
  // compute_gradients() + apply_gradients(). With a divergence guard in the
  // spec, a state whose parameters and moments are finite and whose forward
  // pass gives a finite loss is copied into the arena's snapshot before it
  // is updated (the last good state). A non-finite loss, or non-finite
  // parameters or moments after the update, restores it (parameters,
  // moments, step count) — undoing the step that blew the weights up, even
  // when only the next step's loss shows it — and the policy decides:
  // kStop returns kNonFinite, kReduceLearningRate scales the learning rate
  // and returns ok (*mean_loss then holds the diverged loss; divergence()
  // tells what happened). The batch of a diverged step is not trained on.
  Status train_step(const Batch& batch, float* mean_loss);
  // kFailedPrecondition unless the spec has divergence_guard; the factor
  // must be in (0, 1).
  Status set_divergence_policy(const DivergencePolicy& policy);
  const DivergenceReport& divergence() const { return divergence_; }
  // Optimizer steps taken since initialize().
  std::uint32_t steps() const { return steps_; }
  void set_steps(std::uint32_t steps) { steps_ = steps; }

  // ---- rank-1 structure (README, "Rank-1 structure") ---------------------
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

  // Activation matrix of point p (rows x width) as the last forward() left
  // it, and (training) the delta of point p >= 1 after compute_gradients().
  // For tests and diagnostics; in inference mode points share buffers.
  MatrixView<const float> point(std::uint32_t p) const;
  MatrixView<const float> delta(std::uint32_t p) const;

 private:
  struct LayerBuffers {
    float* weight = nullptr;
    float* bias = nullptr;
    float* weight_grad = nullptr;
    float* bias_grad = nullptr;
    float* weight_m = nullptr;
    float* bias_m = nullptr;
    float* weight_v = nullptr;
    float* bias_v = nullptr;
    float* pre = nullptr;
    float* mean = nullptr;
    float* rstd = nullptr;
    float* factor_u = nullptr;
    float* factor_d = nullptr;
  };

  Status check_training(const char* op) const;
  Status check_accumulating(const char* op) const;
  Status guarded_step(const Batch& batch, float* mean_loss);
  bool state_finite() const;
  void copy_state(bool to_snapshot);
  void forward_loss(std::size_t rows, float grad_scale, float* loss_sum);
  float loss_gradient_scale(std::size_t rows) const;
  Status load_and_forward(const char* op, const Batch& batch, float grad_scale, float* loss_sum);
  void run_backward(std::size_t rows, const SgdParams* sgd, const AdamStepConstants* adam);
  void add_skip_deltas(std::uint32_t layer, std::size_t rows);
  void propagate_layer(std::uint32_t layer, std::size_t rows, bool to_input);
  Status begin_update(SgdParams* sgd, AdamStepConstants* adam);
  void apply_optimizer(std::uint32_t layer, bool is_weight, std::size_t offset, std::size_t count,
                       const float* grad, const SgdParams* sgd, const AdamStepConstants* adam);
  void apply_stored_gradients(const SgdParams* sgd, const AdamStepConstants* adam);
  Status backward_and_update(std::size_t rows);
  // Rank-1 variants (runtime/src/rank1.cpp).
  void propagate_down_to(std::uint32_t stop, std::size_t rows);
  void propagate(std::size_t rows);
  void compute_example_norms(std::size_t rows);
  void finish_step(std::size_t rows, bool from_factors, const SgdParams* sgd,
                   const AdamStepConstants* adam);
  void update_weights_fused(std::uint32_t layer, std::size_t rows, const float* u,
                            std::size_t ldu, const float* d, std::size_t ldd, float alpha,
                            float noise_stddev, const SgdParams* sgd,
                            const AdamStepConstants* adam);
  void clip_gradient_buffers();
  float* rank1_scratch(std::size_t rows) const;
  std::uint32_t tensor_index(std::uint32_t layer) const;
  std::uint32_t noise_step(bool updating) const;
  Status load_batch(const Batch& batch);
  void run_forward(const float* x0, std::size_t ld0, std::size_t rows);
  std::size_t weight_count(std::uint32_t layer) const;

  ModelSpec spec_;
  const KernelTable* kernels_ = nullptr;
  unsigned char* base_ = nullptr;
  std::size_t bytes_ = 0;
  LayerBuffers layers_[kMaxLayers];
  float* points_[kMaxLayers + 1] = {};
  float* deltas_[kMaxLayers + 1] = {};
  void* labels_ = nullptr;
  float* gradients_ = nullptr;
  std::size_t gradient_bytes_ = 0;
  float* scratch_ = nullptr;
  std::size_t scratch_floats_ = 0;
  float* update_block_ = nullptr;
  float* example_norms_ = nullptr;
  float* row_scale_ = nullptr;
  float* norm_scratch_ = nullptr;
  std::size_t examples_done_ = 0;  // examples of the last step with example gradients
  std::uint32_t accumulated_ = 0;  // factor rows waiting for flush()
  ClipParams clip_;
  float gradient_norm_ = 0.0f;
  // Divergence guard: the parameter and moment groups (contiguous spans of
  // the block) and their copy.
  unsigned char* params_ = nullptr;
  std::size_t params_bytes_ = 0;
  unsigned char* moments_ = nullptr;
  std::size_t moments_bytes_ = 0;
  unsigned char* snapshot_ = nullptr;
  std::uint32_t snapshot_steps_ = 0;
  bool snapshot_valid_ = false;
  DivergencePolicy policy_;
  DivergenceReport divergence_;
  std::size_t rows_done_ = 0;  // rows of the last forward()
  std::uint32_t tensor_count_ = 0;
  std::size_t parameter_count_ = 0;
  OptimizerParams opt_;
  std::uint32_t steps_ = 0;
};

const char* layer_kind_name(LayerKind kind);
const char* pointwise_name(Pointwise f);

}  // namespace tern
