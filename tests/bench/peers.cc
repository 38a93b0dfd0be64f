// oneDNN and OpenBLAS formulations of the MLP workloads.
#include "tests/bench/peers.h"

#include <cblas.h>
#include <omp.h>

#include <cmath>

#include "tests/bench/onednn_matmul.h"

namespace braid::bench {
namespace {

using Dt = dnnl::memory::data_type;

inline float Silu(float x) { return x / (1.0f + std::exp(-x)); }

// h[i] = silu(g[i]) * u[i] on `threads` threads.
void SiluMul(const float* g, int64_t g_stride, const float* u, int64_t u_stride, float* h,
             int64_t m, int64_t n, int threads) {
#pragma omp parallel for num_threads(threads) schedule(static)
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t j = 0; j < n; ++j) h[i * n + j] = Silu(g[i * g_stride + j]) * u[i * u_stride + j];
  }
}

// The MLP's down projection (a binary-add post-op reads the residual x), or null for gate/up;
// sizes the intermediate `h` and the output for the workload.
std::unique_ptr<OnednnMatmul> MakeDown(const MlpWeights& w, Workload workload, int64_t m,
                                       std::vector<float>& h, std::vector<float>& out) {
  if (workload != Workload::kMlp) {
    out.assign(m * w.n, 0.0f);
    return nullptr;
  }
  h.assign(m * w.n, 0.0f);
  out.assign(m * w.k, 0.0f);
  return std::make_unique<OnednnMatmul>(m, w.n, w.k, w.wd.data(), Dt::f32, MatmulTypes{},
                                        Binary(dnnl::algorithm::binary_add, m, w.k));
}

class OnednnPostOps : public PeerRunner {
 public:
  OnednnPostOps(const MlpWeights& w, Workload workload, int64_t m)
      : m_(m), k_(w.k), n_(w.n),
        gate_(m, w.k, w.n, w.wg.data(), Dt::f32, {}, Swish()),
        up_(m, w.k, w.n, w.wu.data(), Dt::f32, {}, Binary(dnnl::algorithm::binary_mul, m, w.n)) {
    x_.assign(m * k_, 0.0f);
    g_.assign(m * n_, 0.0f);
    down_ = MakeDown(w, workload, m, h_, out_);
  }
  void Run(int threads) override {
    omp_set_num_threads(threads);
    gate_.Execute(x_.data(), g_.data());
    float* h = down_ ? h_.data() : out_.data();
    up_.Execute(x_.data(), h, {g_.data()});
    if (down_) down_->Execute(h, out_.data(), {x_.data()});
  }

 private:
  int64_t m_, k_, n_;
  OnednnMatmul gate_, up_;
  std::unique_ptr<OnednnMatmul> down_;
  std::vector<float> g_, h_;
};

std::vector<float> Concat(const std::vector<float>& a, const std::vector<float>& b) {
  std::vector<float> both(a);
  both.insert(both.end(), b.begin(), b.end());
  return both;
}

class OnednnConcat : public PeerRunner {
 public:
  OnednnConcat(const MlpWeights& w, Workload workload, int64_t m)
      : m_(m), k_(w.k), n_(w.n), gate_up_(m, w.k, 2 * w.n, Concat(w.wg, w.wu).data(), Dt::f32, {}, {}) {
    x_.assign(m * k_, 0.0f);
    gu_.assign(m * 2 * n_, 0.0f);
    down_ = MakeDown(w, workload, m, h_, out_);
  }
  void Run(int threads) override {
    omp_set_num_threads(threads);
    gate_up_.Execute(x_.data(), gu_.data());
    float* h = down_ ? h_.data() : out_.data();
    SiluMul(gu_.data(), 2 * n_, gu_.data() + n_, 2 * n_, h, m_, n_, threads);
    if (down_) down_->Execute(h, out_.data(), {x_.data()});
  }

 private:
  int64_t m_, k_, n_;
  OnednnMatmul gate_up_;
  std::unique_ptr<OnednnMatmul> down_;
  std::vector<float> gu_, h_;
};

class Openblas : public PeerRunner {
 public:
  Openblas(const MlpWeights& w, Workload workload, int64_t m) : w_(w), m_(m), mlp_(workload == Workload::kMlp) {
    x_.assign(m * w.k, 0.0f);
    g_.assign(m * w.n, 0.0f);
    u_.assign(m * w.n, 0.0f);
    if (mlp_) h_.assign(m * w.n, 0.0f);
    out_.assign(m * (mlp_ ? w.k : w.n), 0.0f);
  }
  void Run(int threads) override {
    openblas_set_num_threads(threads);
    const int64_t k = w_.k, n = w_.n;
    Linear(x_.data(), k, w_.wg.data(), n, g_.data());
    Linear(x_.data(), k, w_.wu.data(), n, u_.data());
    float* h = mlp_ ? h_.data() : out_.data();
    SiluMul(g_.data(), n, u_.data(), n, h, m_, n, threads);
    if (mlp_) {
      std::copy(x_.begin(), x_.end(), out_.begin());  // beta = 1 adds the residual
      Linear(h, n, w_.wd.data(), k, out_.data(), 1.0f);
    }
  }

 private:
  // out[m, n_out] = beta·out + in[m, k_in] · W[n_out, k_in]ᵀ
  void Linear(const float* in, int64_t k_in, const float* w, int64_t n_out, float* out, float beta = 0) {
    if (m_ == 1) {
      cblas_sgemv(CblasRowMajor, CblasNoTrans, n_out, k_in, 1.0f, w, k_in, in, 1, beta, out, 1);
    } else {
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m_, n_out, k_in, 1.0f, in, k_in, w, k_in,
                  beta, out, n_out);
    }
  }
  const MlpWeights& w_;
  int64_t m_;
  bool mlp_;
  std::vector<float> g_, u_, h_;
};

}  // namespace

std::unique_ptr<PeerRunner> MakeOnednnPostOps(const MlpWeights& w, Workload workload, int64_t m) {
  return std::make_unique<OnednnPostOps>(w, workload, m);
}
std::unique_ptr<PeerRunner> MakeOnednnConcat(const MlpWeights& w, Workload workload, int64_t m) {
  return std::make_unique<OnednnConcat>(w, workload, m);
}
std::unique_ptr<PeerRunner> MakeOpenblas(const MlpWeights& w, Workload workload, int64_t m) {
  return std::make_unique<Openblas>(w, workload, m);
}

}  // namespace braid::bench
