// The libraries braid is measured against, each in its best formulation of the LLaMA MLP
// workloads. Benchmark-only: nothing in braid links them.
//
//   gate/up:  h = silu(x·Wgᵀ) * (x·Wuᵀ)                  x: [M, K], Wg, Wu: [N, K], h: [M, N]
//   mlp:      y = (silu(x·Wgᵀ) * (x·Wuᵀ))·Wdᵀ + x         Wd: [K, N], y: [M, K]
#ifndef BRAID_TESTS_BENCH_PEERS_H_
#define BRAID_TESTS_BENCH_PEERS_H_

#include <algorithm>
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
// preferred layout (and dtype), converted when the runner is made (outside any timed region).
// Input and output are f32 here; a peer computing in bf16 converts them in SetInput and
// output(), outside Run.
class PeerRunner {
 public:
  virtual ~PeerRunner() = default;
  // Runs once on `threads` threads.
  virtual void Run(int threads) = 0;
  // Copies x ([M, K] f32) into the input.
  virtual void SetInput(const float* x) { std::copy(x, x + x_.size(), x_.begin()); }
  // The last Run's output, in f32.
  virtual const std::vector<float>& output() { return out_; }

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

// Low precision (peers_lowp.cc).
// oneDNN bf16 matmuls with MakeOnednnPostOps' post-ops: input, weights, intermediates and
// output in bf16 (f32 accumulation), like a bf16 model; the input is converted in SetInput.
std::unique_ptr<PeerRunner> MakeOnednnBf16PostOps(const MlpWeights& w, Workload workload, int64_t m);
// oneDNN s8 x s8 -> f32 matmuls with the same post-ops: weights quantised per output channel
// when made, activations (x, and the MLP's h) quantised per tensor inside Run.
std::unique_ptr<PeerRunner> MakeOnednnS8Dynamic(const MlpWeights& w, Workload workload, int64_t m);

}  // namespace braid::bench

#endif  // BRAID_TESTS_BENCH_PEERS_H_
