// Private to the kernels library: the element-wise kernels every ISA
// defines, declared once. Included (no include guard) inside each ISA's
// namespace by kernel_tables.h, so that kernels_<isa>.cpp can put them into
// its table while elementwise_<isa>.cpp defines them. Signatures match the
// KernelTable entries of tern/kernels/dispatch.h.
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
