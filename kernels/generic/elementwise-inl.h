// SPDX-License-Identifier: Apache-2.0
// kernels/generic/elementwise-inl.h — the element-wise kernels, one template
// for every vector ISA. Included inside an ISA namespace after `Arch`,
// `Simd` (kernels/<isa>/simd_<isa>.h), kernels/src/math_constants.h and
// generic/math-inl.h; see kernels/generic/README.md.
//
// Why these kernels give the scalar reference's bits
// --------------------------------------------------
// Element-wise work has no order to preserve: each lane evaluates the
// formula of tern/kernels/elementwise.h for one element, with the same
// operations as kernels/scalar/elementwise_scalar.cpp. Row tails use the
// ISA's masked loads and stores; lanes past the row compute on harmless
// values and are never stored or are zeroed before they reach a sum.
//
// The row sums (softmax, cross-entropy, squared error) are where vector
// width could leak into the result, so they follow the 16 virtual lanes of
// elementwise.h: element j is added into virtual lane j % 16. Here the 16
// lanes are Simd::kAccumulators registers of kLanes lanes (one zmm, two
// ymm), walked in blocks of 16 elements so that the vector holding element j
// is always accumulator (j % 16) / kLanes, lane j % kLanes. Simd::sum_tree16
// then performs the fixed tree. Per-row scalars (the maximum, log of the
// sum, the one-hot correction) are computed by the same scalar expressions
// as the reference; the logarithm is the reference's own tern::log_f32
// (kernels/src/math_f32.cpp, built with baseline flags), called once per row.

using EV = Simd::V;
constexpr std::size_t kLanes = EV::size;
constexpr std::size_t kVirtualLanes = 16;
static_assert(Simd::kAccumulators * kLanes == kVirtualLanes,
              "the accumulators must hold exactly the 16 virtual lanes");

#include "generic/lanes-inl.h"  // load_n, store_n

// f(j, lanes, full) for the vectors of a row of m: full ones, then a partial
// one (std::false_type) holding the last 1 .. kLanes-1 elements.
template <class F>
TERN_INLINE void for_vectors(std::size_t m, F&& f) {
  std::size_t j = 0;
  for (; j + kLanes <= m; j += kLanes) f(j, kLanes, std::true_type{});
  if (j < m) f(j, m - j, std::false_type{});
}

// f(q, j, lanes, full) for the vectors of a row of m, in blocks of the 16
// virtual lanes: the vector starting at element j feeds accumulator q.
template <class F>
TERN_INLINE void for_lane_blocks(std::size_t m, F&& f) {
  std::size_t j = 0;
  for (; j + kVirtualLanes <= m; j += kVirtualLanes) {
    for (std::size_t q = 0; q < Simd::kAccumulators; ++q)
      f(q, j + q * kLanes, kLanes, std::true_type{});
  }
  for (std::size_t q = 0; q < Simd::kAccumulators; ++q) {
    const std::size_t start = j + q * kLanes;
    if (start >= m) break;
    f(q, start, m - start < kLanes ? m - start : kLanes, std::false_type{});
  }
}

// The largest non-NaN element of a row (-inf if none): the reference's
// `x > mx ? x : mx`, lane-wise, then across lanes. Only a zero maximum's
// sign can depend on the order, which no caller can observe (elementwise.h).
TERN_INLINE float row_max(const float* x, std::size_t m) {
  const float ninf = -std::numeric_limits<float>::infinity();
  EV mx(ninf);
  for_vectors(m, [&](std::size_t j, std::size_t lanes, auto full) {
    EV v;
    if constexpr (decltype(full)::value) {
      v = EV::load_unaligned(x + j);
    } else {
      v = Simd::load_partial_or(x + j, lanes, ninf);
    }
    mx = xsimd::select(v > mx, v, mx);
  });
  alignas(64) float t[kLanes];
  mx.store_aligned(t);
  float r = ninf;
  for (std::size_t k = 0; k < kLanes; ++k) r = t[k] > r ? t[k] : r;
  return r;
}

// e_j = exp(x_j - mx) stored to y, and their 16-lane sum.
TERN_INLINE float exp_row_and_sum(const float* x, std::size_t m, float mx, float* y) {
  EV acc[Simd::kAccumulators];
  for (auto& a : acc) a = EV(0.0f);
  const EV vmx(mx);
  for_lane_blocks(m, [&](std::size_t q, std::size_t j, std::size_t lanes, auto full) {
    constexpr bool kFull = decltype(full)::value;
    EV e = exp_v(load_n<kFull>(x + j, lanes) - vmx);
    store_n<kFull>(y + j, e, lanes);
    if constexpr (!kFull) e = Simd::keep(e, lanes);  // lanes past the row add +0
    acc[q] = acc[q] + e;
  });
  return Simd::sum_tree16(acc);
}

// y = f(x) over an n x m view.
template <class F>
TERN_INLINE void map_rows(std::size_t n, std::size_t m, const float* x, std::size_t ldx, float* y,
                          std::size_t ldy, F f) {
  for (std::size_t i = 0; i < n; ++i) {
    const float* xr = x + i * ldx;
    float* yr = y + i * ldy;
    for_vectors(m, [&](std::size_t j, std::size_t lanes, auto full) {
      constexpr bool kFull = decltype(full)::value;
      store_n<kFull>(yr + j, f(load_n<kFull>(xr + j, lanes)), lanes);
    });
  }
}

// dx = f(a, dy) over an n x m view.
template <class F>
TERN_INLINE void map2_rows(std::size_t n, std::size_t m, const float* a, std::size_t lda,
                           const float* dy, std::size_t lddy, float* dx, std::size_t lddx, F f) {
  for (std::size_t i = 0; i < n; ++i) {
    const float* ar = a + i * lda;
    const float* dyr = dy + i * lddy;
    float* dxr = dx + i * lddx;
    for_vectors(m, [&](std::size_t j, std::size_t lanes, auto full) {
      constexpr bool kFull = decltype(full)::value;
      store_n<kFull>(dxr + j, f(load_n<kFull>(ar + j, lanes), load_n<kFull>(dyr + j, lanes)),
                     lanes);
    });
  }
}

TERN_INLINE EV gelu_v(EV x) {
  using namespace ::tern::kernels::math;
  const EV u = x * Simd::fma(EV(kGeluK2), x * x, EV(kGeluK0));
  const EV h = EV(0.5f) * x;
  return Simd::fma(h, tanh_v(u), h);
}

TERN_INLINE EV gelu_derivative_v(EV x) {
  using namespace ::tern::kernels::math;
  const EV z = x * x;
  const EV t = tanh_v(x * Simd::fma(EV(kGeluK2), z, EV(kGeluK0)));
  const EV du = Simd::fma(EV(kGeluK3), z, EV(kGeluK0));
  const EV sech2 = Simd::fnma(t, t, EV(1.0f));
  return Simd::fma((EV(0.5f) * x) * sech2, du, Simd::fma(EV(0.5f), t, EV(0.5f)));
}

void add_bias(std::size_t n, std::size_t m, const float* bias, float* y, std::size_t ldy) {
  for (std::size_t i = 0; i < n; ++i) {
    float* yr = y + i * ldy;
    for_vectors(m, [&](std::size_t j, std::size_t lanes, auto full) {
      constexpr bool kFull = decltype(full)::value;
      store_n<kFull>(yr + j, load_n<kFull>(yr + j, lanes) + load_n<kFull>(bias + j, lanes),
                     lanes);
    });
  }
}

void pointwise_forward(Pointwise f, std::size_t n, std::size_t m, const float* x, std::size_t ldx,
                       float* y, std::size_t ldy) {
  switch (f) {
    case Pointwise::kIdentity:
      map_rows(n, m, x, ldx, y, ldy, [](EV v) { return v; });
      break;
    case Pointwise::kRelu:
      map_rows(n, m, x, ldx, y, ldy, [](EV v) { return xsimd::select(v > EV(0.0f), v, EV(0.0f)); });
      break;
    case Pointwise::kGelu: map_rows(n, m, x, ldx, y, ldy, [](EV v) { return gelu_v(v); }); break;
    case Pointwise::kTanh: map_rows(n, m, x, ldx, y, ldy, [](EV v) { return tanh_v(v); }); break;
    case Pointwise::kSigmoid:
      map_rows(n, m, x, ldx, y, ldy, [](EV v) { return sigmoid_v(v); });
      break;
  }
}

void pointwise_backward(Pointwise f, std::size_t n, std::size_t m, const float* x,
                        std::size_t ldx, const float* y, std::size_t ldy, const float* dy,
                        std::size_t lddy, float* dx, std::size_t lddx) {
  switch (f) {
    case Pointwise::kIdentity:  // dy stands in for the unused operand
      map2_rows(n, m, dy, lddy, dy, lddy, dx, lddx, [](EV, EV d) { return d; });
      break;
    case Pointwise::kRelu:
      map2_rows(n, m, x, ldx, dy, lddy, dx, lddx,
                [](EV v, EV d) { return xsimd::select(v > EV(0.0f), d, EV(0.0f)); });
      break;
    case Pointwise::kGelu:
      map2_rows(n, m, x, ldx, dy, lddy, dx, lddx,
                [](EV v, EV d) { return d * gelu_derivative_v(v); });
      break;
    case Pointwise::kTanh:
      map2_rows(n, m, y, ldy, dy, lddy, dx, lddx,
                [](EV v, EV d) { return d * Simd::fnma(v, v, EV(1.0f)); });
      break;
    case Pointwise::kSigmoid:
      map2_rows(n, m, y, ldy, dy, lddy, dx, lddx,
                [](EV v, EV d) { return d * (v * (EV(1.0f) - v)); });
      break;
  }
}

void softmax_rows(std::size_t n, std::size_t m, const float* x, std::size_t ldx, float* y,
                  std::size_t ldy) {
  for (std::size_t i = 0; i < n; ++i) {
    const float* xr = x + i * ldx;
    float* yr = y + i * ldy;
    const float mx = row_max(xr, m);
    const EV s(exp_row_and_sum(xr, m, mx, yr));
    for_vectors(m, [&](std::size_t j, std::size_t lanes, auto full) {
      constexpr bool kFull = decltype(full)::value;
      store_n<kFull>(yr + j, Simd::div(load_n<kFull>(yr + j, lanes), s), lanes);
    });
  }
}

void softmax_cross_entropy(std::size_t n, std::size_t m, const float* z, std::size_t ldz,
                           const std::uint32_t* labels, float grad_scale, float* dz,
                           std::size_t lddz, float* loss_sum) {
  float total = 0.0f;
  const EV gs(grad_scale);
  for (std::size_t i = 0; i < n; ++i) {
    const float* zr = z + i * ldz;
    float* dzr = dz + i * lddz;
    const std::size_t c = labels[i];
    const float mx = row_max(zr, m);
    const float zc = zr[c];  // read before dz (which may be z) is written
    const float s = exp_row_and_sum(zr, m, mx, dzr);
    const float loss = ::tern::log_f32(s) - (zc - mx);
    const float ec = dzr[c];
    const EV vs(s);
    for_vectors(m, [&](std::size_t j, std::size_t lanes, auto full) {
      constexpr bool kFull = decltype(full)::value;
      store_n<kFull>(dzr + j, Simd::div(load_n<kFull>(dzr + j, lanes), vs) * gs, lanes);
    });
    dzr[c] = (ec / s - 1.0f) * grad_scale;  // the one-hot term, as in the reference
    total = total + loss;
  }
  *loss_sum = total;
}

void mse(std::size_t n, std::size_t m, const float* pred, std::size_t ldp, const float* target,
         std::size_t ldt, float grad_scale, float* grad, std::size_t ldg, float* loss_sum) {
  float total = 0.0f;
  const EV gs(grad_scale);
  for (std::size_t i = 0; i < n; ++i) {
    const float* pr = pred + i * ldp;
    const float* tr = target + i * ldt;
    float* gr = grad + i * ldg;
    EV acc[Simd::kAccumulators];
    for (auto& a : acc) a = EV(0.0f);
    // Lanes past the row load 0 - 0 = +0, and fma(+0, +0, l) = l.
    for_lane_blocks(m, [&](std::size_t q, std::size_t j, std::size_t lanes, auto full) {
      constexpr bool kFull = decltype(full)::value;
      const EV d = load_n<kFull>(pr + j, lanes) - load_n<kFull>(tr + j, lanes);
      store_n<kFull>(gr + j, d * gs, lanes);
      acc[q] = Simd::fma(d, d, acc[q]);
    });
    total = total + Simd::sum_tree16(acc);
  }
  *loss_sum = 0.5f * total;
}

void sgd_momentum(std::size_t count, float* w, const float* g, float* velocity,
                  const SgdParams& params) {
  const EV wd(params.weight_decay), mom(params.momentum), lr(params.learning_rate);
  if (params.momentum == 0.0f) {  // plain SGD: no velocity (elementwise.h)
    for_vectors(count, [&](std::size_t j, std::size_t lanes, auto full) {
      constexpr bool kFull = decltype(full)::value;
      const EV wj = load_n<kFull>(w + j, lanes);
      const EV gd = Simd::fma(wd, wj, load_n<kFull>(g + j, lanes));
      store_n<kFull>(w + j, Simd::fnma(lr, gd, wj), lanes);
    });
    return;
  }
  for_vectors(count, [&](std::size_t j, std::size_t lanes, auto full) {
    constexpr bool kFull = decltype(full)::value;
    const EV wj = load_n<kFull>(w + j, lanes);
    const EV gd = Simd::fma(wd, wj, load_n<kFull>(g + j, lanes));
    const EV v = Simd::fma(mom, load_n<kFull>(velocity + j, lanes), gd);
    store_n<kFull>(velocity + j, v, lanes);
    store_n<kFull>(w + j, Simd::fnma(lr, v, wj), lanes);
  });
}

void adam(std::size_t count, float* w, const float* g, float* m, float* v,
          const AdamStepConstants& c) {
  const EV l2(c.l2), b1(c.beta1), omb1(c.one_minus_beta1), b2(c.beta2), omb2(c.one_minus_beta2);
  const EV eps(c.epsilon), inv_bc2(c.inv_sqrt_bc2), neg_step(c.neg_step), decay(c.decay);
  for_vectors(count, [&](std::size_t j, std::size_t lanes, auto full) {
    constexpr bool kFull = decltype(full)::value;
    const EV wj = load_n<kFull>(w + j, lanes);
    const EV gd = Simd::fma(l2, wj, load_n<kFull>(g + j, lanes));
    const EV me = Simd::fma(b1, load_n<kFull>(m + j, lanes), omb1 * gd);
    const EV ve = Simd::fma(b2, load_n<kFull>(v + j, lanes), omb2 * (gd * gd));
    const EV d = Simd::fma(Simd::sqrt(ve), inv_bc2, eps);
    store_n<kFull>(m + j, me, lanes);
    store_n<kFull>(v + j, ve, lanes);
    store_n<kFull>(w + j, Simd::fma(neg_step, Simd::div(me, d), wj * decay), lanes);
  });
}

// Gaussian noise. Why this generator (the contract is in elementwise.h):
//  * counter-based: each element's deviate is a hash of (key, index), so
//    lanes are independent and any block of a tensor, in any order, gets
//    the same bits; a sequential stream (PCG32) would tie every element to
//    all the draws before it;
//  * inverse CDF (erfinv of one uniform) rather than Box-Muller (needs sin
//    and cos) or Marsaglia's polar method (rejection: lanes would consume
//    different numbers of draws, and a vector could not know its inputs);
//  * the hash uses only 32-bit xor, shifts and the low half of a 32-bit
//    multiply, which AVX2 (vpmulld), AVX-512F and NEON (vmul.i32) all have;
//  * Giles' single-precision erfinv is two degree-8 polynomials, one log
//    (tern's, lane-wise) and one sqrt: both branches are computed on every
//    lane and selected, so no lane's branch depends on its neighbours.

// The noise generator's mixer (elementwise.h) on 32-bit lanes: xsimd's
// unsigned shifts are logical and its 32-bit multiply keeps the low half
// (vpmulld, NEON vmul.i32), exactly the reference's wrapping uint32 *.
using NoiseU = xsimd::batch<std::uint32_t, Arch>;
TERN_INLINE NoiseU noise_mix_v(NoiseU x) {
  using namespace ::tern::kernels::math;
  x = x ^ (x >> 16);
  x = x * NoiseU(kNoiseMul1);
  x = x ^ (x >> 15);
  x = x * NoiseU(kNoiseMul2);
  return x ^ (x >> 16);
}

TERN_INLINE std::uint32_t noise_mix_scalar(std::uint32_t x) {
  using namespace ::tern::kernels::math;
  x ^= x >> 16;
  x *= kNoiseMul1;
  x ^= x >> 15;
  x *= kNoiseMul2;
  return x ^ (x >> 16);
}

// The deviates of N vectors of indices lo[k] (subkeys a, b) in lockstep.
template <std::size_t N>
TERN_INLINE void noise_deviates_n(const NoiseU* lo, NoiseU a, NoiseU b, EV* z) {
  using namespace ::tern::kernels::math;
  NoiseU h[N];
  for (std::size_t k = 0; k < N; ++k) h[k] = noise_mix_v(lo[k] ^ a);
  for (std::size_t k = 0; k < N; ++k) h[k] = noise_mix_v(h[k] ^ b);
  EV x[N];
  for (std::size_t k = 0; k < N; ++k) {
    const MathI t = xsimd::bitwise_cast<MathI>((h[k] >> 7) | NoiseU(1u)) - MathI(kNoiseHalfRange);
    x[k] = xsimd::to_float(t) * EV(kNoiseScale);
  }
  erfinv_noise_n<N>(x, z);
}

// Indices are walked in segments whose high word is constant (in practice
// one segment: a tensor has far fewer than 2^32 elements), so the subkeys a
// and b are computed once per segment in scalar code, and a vector's lanes
// need only lo = segment start + lane, which cannot wrap inside a segment.
// Whole groups of kNoiseVectors vectors go through the lockstep path; the
// rest one vector at a time, the last one partial. 8 was the fastest of 1,
// 2, 4, 8 on x86-64 (235k elements: AVX2 2.8 / 2.3 / 2.1 / 1.8 ns, AVX-512
// 1.7 / 1.6 / 1.3 / 1.1 ns per element); NEON's count is not tuned. Lanes past a tail
// compute on their (valid) indices and are not stored.
constexpr std::size_t kNoiseVectors = 8;
void add_gaussian_noise(std::size_t count, float* g, float stddev, std::uint64_t key,
                        std::uint64_t first_index) {
  using namespace ::tern::kernels::math;
  alignas(64) std::uint32_t iota[kLanes];
  for (std::size_t l = 0; l < kLanes; ++l) iota[l] = static_cast<std::uint32_t>(l);
  const NoiseU lane = NoiseU::load_aligned(iota);
  const auto khi = static_cast<std::uint32_t>(key >> 32);
  const auto klo = static_cast<std::uint32_t>(key);
  const EV vscale(stddev * kSqrt2);
  std::size_t done = 0;
  while (done < count) {
    const std::uint64_t index = first_index + done;
    const auto hi = static_cast<std::uint32_t>(index >> 32);
    const auto lo = static_cast<std::uint32_t>(index);
    // Elements left in this segment: 2^32 - lo (at least 1).
    const std::uint64_t room = (std::uint64_t{1} << 32) - lo;
    const std::size_t n = count - done < room ? count - done : static_cast<std::size_t>(room);
    const std::uint32_t a =
        noise_mix_scalar(noise_mix_scalar(noise_mix_scalar(hi ^ kNoiseSeedA) ^ khi) ^ klo);
    const NoiseU va(a), vb(noise_mix_scalar(a ^ kNoiseSeedB));
    float* gs = g + done;
    auto lo_of = [&](std::size_t j) { return NoiseU(lo + static_cast<std::uint32_t>(j)) + lane; };
    std::size_t j = 0;
    for (; j + kNoiseVectors * kLanes <= n; j += kNoiseVectors * kLanes) {
      NoiseU vlo[kNoiseVectors];
      EV z[kNoiseVectors];
      for (std::size_t k = 0; k < kNoiseVectors; ++k) vlo[k] = lo_of(j + k * kLanes);
      noise_deviates_n<kNoiseVectors>(vlo, va, vb, z);
      for (std::size_t k = 0; k < kNoiseVectors; ++k) {
        float* p = gs + j + k * kLanes;
        Simd::fma(vscale, z[k], EV::load_unaligned(p)).store_unaligned(p);
      }
    }
    for_vectors(n - j, [&](std::size_t jj, std::size_t lanes, auto full) {
      constexpr bool kFull = decltype(full)::value;
      const NoiseU vlo = lo_of(j + jj);
      EV z;
      noise_deviates_n<1>(&vlo, va, vb, &z);
      float* p = gs + j + jj;
      store_n<kFull>(p, Simd::fma(vscale, z, load_n<kFull>(p, lanes)), lanes);
    });
    done += n;
  }
}
