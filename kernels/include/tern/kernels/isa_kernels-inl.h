// SPDX-License-Identifier: Apache-2.0
// Internal to tern's libraries, like tern/kernels/kernel_table.h: the
// kernels every ISA defines, declared once, and make_table(), which puts them
// into that ISA's KernelTable.
//
// No include guard: it is included inside an ISA's namespace
// (tern::kernels::<isa>, after tern/kernels/kernel_table.h at file scope), so
// the names below are that ISA's kernels. kernel_table.h includes it for the
// scalar reference, whose table is a constant there; each vector ISA's
// kernels_<isa>.cpp includes it and defines its table, elementwise_<isa>.cpp
// includes it for the declarations. kernels_<isa>.cpp defines the dense-layer
// kernels (for the vector ISAs through generic/gemm-inl.h), elementwise_<isa>.cpp
// the rest.

// Dense-layer kernels (formulas in tern/kernels/dense.h).
void gemm_rows(std::size_t n, std::size_t k, std::size_t m, const float* x, std::size_t ldx,
               const float* w, std::size_t ldw, const float* bias, float* y, std::size_t ldy,
               Activation act, float* scratch);
void rank1_accumulate(std::size_t n, std::size_t k, std::size_t m, float alpha, const float* u,
                      std::size_t ldu, const float* d, std::size_t ldd, float* g,
                      std::size_t ldg, float* scratch);
void rank1_gradient(std::size_t n, std::size_t k, std::size_t m, float alpha, const float* u,
                    std::size_t ldu, const float* d, std::size_t ldd, float* g, std::size_t ldg,
                    float* scratch);
void rank1_sgd_update(std::size_t n, std::size_t k, std::size_t m, float alpha, const float* u,
                      std::size_t ldu, const float* d, std::size_t ldd, float* w,
                      std::size_t ldw, float* velocity, std::size_t ldv,
                      const SgdParams& params);
void column_sums_accumulate(std::size_t n, std::size_t m, float alpha, const float* d,
                            std::size_t ldd, float* g);
void backprop_rows(std::size_t n, std::size_t k, std::size_t m, const float* d, std::size_t ldd,
                   const float* w, std::size_t ldw, float* dx, std::size_t lddx);

// Element-wise kernels (formulas in tern/kernels/elementwise.h).
void add_bias(std::size_t n, std::size_t m, const float* bias, float* y, std::size_t ldy);
void pointwise_forward(Pointwise f, std::size_t n, std::size_t m, const float* x, std::size_t ldx,
                       float* y, std::size_t ldy);
void pointwise_backward(Pointwise f, std::size_t n, std::size_t m, const float* x,
                        std::size_t ldx, const float* y, std::size_t ldy, const float* dy,
                        std::size_t lddy, float* dx, std::size_t lddx);
void softmax_rows(std::size_t n, std::size_t m, const float* x, std::size_t ldx, float* y,
                  std::size_t ldy);
void softmax_cross_entropy(std::size_t n, std::size_t m, const float* z, std::size_t ldz,
                           const std::uint32_t* labels, float grad_scale, float* dz,
                           std::size_t lddz, float* loss_sum);
void mse(std::size_t n, std::size_t m, const float* pred, std::size_t ldp, const float* target,
         std::size_t ldt, float grad_scale, float* grad, std::size_t ldg, float* loss_sum);
void sgd_momentum(std::size_t count, float* w, const float* g, float* velocity,
                  const SgdParams& params);
void adam(std::size_t count, float* w, const float* g, float* m, float* v,
          const AdamStepConstants& c);
void add_gaussian_noise(std::size_t count, float* g, float stddev, std::uint64_t key,
                        std::uint64_t first_index);

// The table of this namespace's kernels, for the ISA `kIsa`. Each entry is
// named, so the order of KernelTable's fields does not matter here.
template <Isa kIsa>
constexpr KernelTable make_table() {
  KernelTable t{};
  t.isa = kIsa;
  t.gemm_rows_f32 = gemm_rows;
  t.rank1_accumulate_f32 = rank1_accumulate;
  t.rank1_gradient_f32 = rank1_gradient;
  t.rank1_sgd_update_f32 = rank1_sgd_update;
  t.column_sums_accumulate_f32 = column_sums_accumulate;
  t.backprop_rows_f32 = backprop_rows;
  t.add_bias_f32 = add_bias;
  t.pointwise_forward_f32 = pointwise_forward;
  t.pointwise_backward_f32 = pointwise_backward;
  t.softmax_rows_f32 = softmax_rows;
  t.softmax_cross_entropy_f32 = softmax_cross_entropy;
  t.mse_f32 = mse;
  t.sgd_momentum_f32 = sgd_momentum;
  t.adam_f32 = adam;
  t.add_gaussian_noise_f32 = add_gaussian_noise;
  return t;
}
