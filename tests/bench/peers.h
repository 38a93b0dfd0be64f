// The libraries braid is measured against, each in its best formulation of the LLaMA MLP
// workloads. Benchmark-only: nothing in braid links them.
//
//   gate/up:  h = silu(x·Wgᵀ) * (x·Wuᵀ)                  x: [M, K], Wg, Wu: [N, K], h: [M, N]
//   mlp:      y = (silu(x·Wgᵀ) * (x·Wuᵀ))·Wdᵀ + x         Wd: [K, N], y: [M, K]
#ifndef BRAID_TESTS_BENCH_PEERS_H_
#define BRAID_TESTS_BENCH_PEERS_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace braid::bench {

struct MlpWeights {
  int64_t k = 0, n = 0;
  std::vector<float> wg, wu;  // [n, k] each
  std::vector<float> wd;      // [k, n]
};

enum class Workload { kGateUp, kMlp };

// One workload at one M, with its own input and output buffers; weights are in the peer's
// preferred layout, converted when the runner is made (outside any timed region).
class PeerRunner {
 public:
  virtual ~PeerRunner() = default;
  // Runs once on `threads` threads.
  virtual void Run(int threads) = 0;
  float* input() { return x_.data(); }
  const std::vector<float>& output() const { return out_; }

 protected:
  std::vector<float> x_, out_;
};

// oneDNN matmul; gate with a swish post-op, up with a binary-mul post-op reading silu(gate),
// (mlp: down with a binary-add post-op reading x).
std::unique_ptr<PeerRunner> MakeOnednnPostOps(const MlpWeights& w, Workload workload, int64_t m);
// oneDNN matmul over the concatenated [Wg; Wu] weights, then one silu·mul pass.
std::unique_ptr<PeerRunner> MakeOnednnConcat(const MlpWeights& w, Workload workload, int64_t m);
// OpenBLAS sgemm (sgemv when M = 1) per GEMM, then silu·mul (and the residual add).
std::unique_ptr<PeerRunner> MakeOpenblas(const MlpWeights& w, Workload workload, int64_t m);

}  // namespace braid::bench

#endif  // BRAID_TESTS_BENCH_PEERS_H_
