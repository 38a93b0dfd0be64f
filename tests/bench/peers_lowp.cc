// oneDNN's low-precision formulations of the MLP workloads: bf16, and s8 with dynamic
// activation quantisation (the peer users compare braid's int8 paths with).
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <memory>
#include <vector>

#include "tests/bench/onednn_matmul.h"
#include "tests/bench/peers.h"

namespace braid::bench {
namespace {

using Dt = dnnl::memory::data_type;
using dnnl::algorithm;

// f32 -> bf16, rounded to nearest even (the inputs are finite).
uint16_t ToBf16(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, 4);
  return static_cast<uint16_t>((bits + 0x7fff + ((bits >> 16) & 1)) >> 16);
}

float FromBf16(uint16_t h) {
  const uint32_t bits = uint32_t{h} << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

// bf16 everywhere: x and the weights (converted by the reorder when made), silu(gate), h and
// the output; oneDNN accumulates in f32 and applies the post-ops in f32 before rounding.
class OnednnBf16PostOps : public PeerRunner {
 public:
  static constexpr MatmulTypes kBf16{Dt::bf16, Dt::bf16, Dt::bf16};

  OnednnBf16PostOps(const MlpWeights& w, Workload workload, int64_t m)
      : gate_(m, w.k, w.n, w.wg.data(), Dt::f32, kBf16, Swish()),
        up_(m, w.k, w.n, w.wu.data(), Dt::f32, kBf16, Binary(algorithm::binary_mul, m, w.n, Dt::bf16)) {
    x_.assign(m * w.k, 0.0f);
    x16_.assign(m * w.k, 0);
    g16_.assign(m * w.n, 0);
    if (workload == Workload::kMlp) {
      down_ = std::make_unique<OnednnMatmul>(m, w.n, w.k, w.wd.data(), Dt::f32, kBf16,
                                             Binary(algorithm::binary_add, m, w.k, Dt::bf16));
      h16_.assign(m * w.n, 0);
    }
    out16_.assign(m * (down_ ? w.k : w.n), 0);
    out_.assign(out16_.size(), 0.0f);
  }
  void SetInput(const float* x) override {
    PeerRunner::SetInput(x);
    std::transform(x_.begin(), x_.end(), x16_.begin(), ToBf16);
  }
  void Run(int threads) override {
    omp_set_num_threads(threads);
    gate_.Execute(x16_.data(), g16_.data());
    uint16_t* h = down_ ? h16_.data() : out16_.data();
    up_.Execute(x16_.data(), h, {g16_.data()});
    if (down_) down_->Execute(h, out16_.data(), {x16_.data()});
  }
  const std::vector<float>& output() override {
    std::transform(out16_.begin(), out16_.end(), out_.begin(), FromBf16);
    return out_;
  }

 private:
  OnednnMatmul gate_, up_;
  std::unique_ptr<OnednnMatmul> down_;
  std::vector<uint16_t> x16_, g16_, h16_, out16_;
};

// A linear layer's weight [rows, cols] quantised per output channel (row): symmetric,
// scale = max|w_row| / 127, q = round(w / scale). braid_int8w's weights are the same.
struct S8Weight {
  std::vector<int8_t> q;
  std::vector<float> scale;  // [rows]
};

S8Weight QuantiseRows(const std::vector<float>& w, int64_t rows, int64_t cols) {
  S8Weight out{std::vector<int8_t>(rows * cols), std::vector<float>(rows)};
  for (int64_t r = 0; r < rows; ++r) {
    const float* row = w.data() + r * cols;
    float max_abs = 0;
    for (int64_t c = 0; c < cols; ++c) max_abs = std::max(max_abs, std::fabs(row[c]));
    out.scale[r] = max_abs > 0 ? max_abs / 127 : 1;
    for (int64_t c = 0; c < cols; ++c) out.q[r * cols + c] = static_cast<int8_t>(std::lrint(row[c] / out.scale[r]));
  }
  return out;
}

// Dynamic per-tensor symmetric quantisation: s = max|v| / 127, q = round(v / s) over all
// `size` values, on `threads` threads; returns s. Per tensor like PyTorch's quantize_dynamic
// and ONNX Runtime's DynamicQuantizeLinear (those are asymmetric u8; this is the symmetric s8
// form). A simple loop (vectorised by the compiler), not a oneDNN reorder: oneDNN 2.6
// has no primitive that finds max|v|.
float QuantiseTensor(const float* v, int64_t size, int8_t* q, int threads) {
  float max_abs = 0;
#pragma omp parallel for simd num_threads(threads) reduction(max : max_abs)
  for (int64_t i = 0; i < size; ++i) max_abs = std::max(max_abs, std::fabs(v[i]));
  const float scale = max_abs > 0 ? max_abs / 127 : 1;
  const float inverse = 1 / scale;
  // Adding and subtracting 1.5 x 2^23 rounds to nearest even in plain SSE2 (|v / s| <= 127).
  constexpr float kRound = 12582912.0f;
#pragma omp parallel for simd num_threads(threads)
  for (int64_t i = 0; i < size; ++i) q[i] = static_cast<int8_t>((v[i] * inverse + kRound) - kRound);
  return scale;
}

// A multiply by a run-time scalar (a binary-mul post-op with a [1, 1] operand), then `rest`.
dnnl::post_ops ScaledThen(const dnnl::post_ops& rest) {
  dnnl::post_ops ops;
  ops.append_binary(algorithm::binary_mul, dnnl::memory::desc({1, 1}, Dt::f32, dnnl::memory::format_tag::ab));
  for (int i = 0; i < rest.len(); ++i) {
    algorithm alg;
    if (rest.kind(i) == dnnl::primitive::kind::binary) {
      dnnl::memory::desc operand;
      rest.get_params_binary(i, alg, operand);
      ops.append_binary(alg, operand);
    } else {
      float scale, alpha, beta;
      rest.get_params_eltwise(i, scale, alg, alpha, beta);
      ops.append_eltwise(scale, alg, alpha, beta);
    }
  }
  return ops;
}

// s8 x s8 -> f32 matmuls, each GEMM's result acc · act_scale · w_scale[column], on which swish,
// the multiply by silu(gate) and the residual add run in f32; for the MLP, h (f32) is
// quantised again before down. Numerics differ from braid's int8 paths: braid_int8w keeps the
// activations in f32 (weight-only), and braid's dynamic int8 quantises per token (a scale per
// row of x); this peer, the oneDNN formulation users compare with, quantises each activation
// tensor with one scale.
//
// In oneDNN 2.6 terms: the weight scales are fixed per-column output scales (mask 2) and the
// activation scale, known only inside Run, is a run-time scalar binary-mul post-op ahead of the
// others (OnednnMatmul says why not run-time output scales). That keeps oneDNN's brgemm VNNI
// matmul (brg:avx512_core_vnni, weights blocked BA16a64b4a), which takes s8 activations by
// shifting them to u8 for vpdpbusd and subtracting a compensation the weights' reorder computed.
class OnednnS8Dynamic : public PeerRunner {
 public:
  static constexpr MatmulTypes kS8{Dt::s8, Dt::s8, Dt::f32};

  OnednnS8Dynamic(const MlpWeights& w, Workload workload, int64_t m)
      : m_(m), k_(w.k), n_(w.n),
        gate_(Make(m, w.k, w.n, QuantiseRows(w.wg, w.n, w.k), Swish())),
        up_(Make(m, w.k, w.n, QuantiseRows(w.wu, w.n, w.k), Binary(algorithm::binary_mul, m, w.n))) {
    x_.assign(m * k_, 0.0f);
    xq_.assign(m * k_, 0);
    g_.assign(m * n_, 0.0f);
    if (workload == Workload::kMlp) {
      down_ = Make(m, w.n, w.k, QuantiseRows(w.wd, w.k, w.n), Binary(algorithm::binary_add, m, w.k));
      h_.assign(m * n_, 0.0f);
      hq_.assign(m * n_, 0);
    }
    out_.assign(m * (down_ ? k_ : n_), 0.0f);
  }
  void Run(int threads) override {
    omp_set_num_threads(threads);
    const float x_scale = QuantiseTensor(x_.data(), m_ * k_, xq_.data(), threads);
    gate_->Execute(xq_.data(), g_.data(), {&x_scale});
    float* h = down_ ? h_.data() : out_.data();
    up_->Execute(xq_.data(), h, {&x_scale, g_.data()});
    if (!down_) return;
    const float h_scale = QuantiseTensor(h, m_ * n_, hq_.data(), threads);
    down_->Execute(hq_.data(), out_.data(), {&h_scale, x_.data()});
  }

 private:
  static std::unique_ptr<OnednnMatmul> Make(int64_t m, int64_t k, int64_t n, const S8Weight& w,
                                            const dnnl::post_ops& ops) {
    return std::make_unique<OnednnMatmul>(m, k, n, w.q.data(), Dt::s8, kS8, ScaledThen(ops), w.scale);
  }
  int64_t m_, k_, n_;
  std::unique_ptr<OnednnMatmul> gate_, up_, down_;
  std::vector<int8_t> xq_, hq_;
  std::vector<float> g_, h_;
};

}  // namespace

std::unique_ptr<PeerRunner> MakeOnednnBf16PostOps(const MlpWeights& w, Workload workload, int64_t m) {
  return std::make_unique<OnednnBf16PostOps>(w, workload, m);
}
std::unique_ptr<PeerRunner> MakeOnednnS8Dynamic(const MlpWeights& w, Workload workload, int64_t m) {
  return std::make_unique<OnednnS8Dynamic>(w, workload, m);
}

}  // namespace braid::bench
