// AVX2 + FMA3 instantiation of the dense-layer kernels and its kernel table.
//
// Tile 6 x 16 (kMR x kNV vectors of 8 lanes): 12 ymm accumulators + 2 ymm for
// the B row + 1 for the broadcast A scalar = 15 of the 16 ymm registers.
// Per step: 2 vector loads + 6 broadcasts feed 12 FMAs (6 cycles at 2
// FMA/cycle); 12 independent chains cover the 4-5 cycle FMA latency.
// Few rows (n <= 2): 2 x 32 (kSmallMR x kSmallNV): 8 accumulators + 4 B
// vectors + 1 broadcast = 13 registers, 8 chains for a single sample.
#include "avx2/simd_avx2.h"
#include "src/kernel_tables.h"
#include "tern/platform/compiler.h"

namespace tern::kernels::avx2 {

constexpr int kMR = 6, kNV = 2;
constexpr int kSmallMR = 2, kSmallNV = 4;

#include "generic/gemm-inl.h"

void Simd::pack_transposed(const float* src, std::size_t lds, std::size_t rows, std::size_t cols,
                           float* dst) {
  for (std::size_t j = 0; j < cols; ++j)
    for (std::size_t c = 0; c < rows; ++c) dst[j * kPanelCols + c] = src[c * lds + j];
}

extern const KernelTable kTable = {
    Isa::kAvx2, gemm_rows, rank1_accumulate, column_sums_accumulate, backprop_rows,
    // Element-wise kernels: elementwise_avx2.cpp.
    add_bias, pointwise_forward, pointwise_backward, softmax_rows, softmax_cross_entropy, mse,
    sgd_momentum, adam,
};

}  // namespace tern::kernels::avx2
