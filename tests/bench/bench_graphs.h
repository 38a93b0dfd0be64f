// gate_up_bench's graphs as braid IR text, one per numerics (f32, int8 weights, bf16, W8A8), and
// the per-channel weight quantisation its int8 rows share.
#ifndef BRAID_TESTS_BENCH_BENCH_GRAPHS_H_
#define BRAID_TESTS_BENCH_BENCH_GRAPHS_H_

#include <cstdint>
#include <map>
#include <string>

#include "braid.h"
#include "tests/bench/peers.h"

namespace braid::bench {

struct Shape {
  const char* name;
  int64_t k, n;
};

// The workload in f32: %x: f32[M, K], %wg, %wu: const f32[N, K] (mlp: %wd: const f32[K, N]).
std::string GraphText(Workload workload, const Shape& s);
// With int8 weights as weight-only quantisation writes them: each weight an i8 constant
// `q<name>` with an f32 scale per output channel `s<name>` ([rows, 1]), dequantised in the graph
// (--O folds each into its GEMM).
std::string Int8GraphText(Workload workload, const Shape& s);
// As a bf16 model holds it (examples/llama_mlp_bf16.ir): input, weights and output in bf16.
std::string Bf16GraphText(Workload workload, const Shape& s);
// A bf16 model with int8 weights (examples/llama_mlp_bf16_int8.ir): Int8GraphText in bf16, the
// scales `s<name>` bf16 too.
std::string Bf16Int8GraphText(Workload workload, const Shape& s);
// W8A8 dynamic quantisation (examples/llama_mlp_w8a8.ir): x quantised per token (quant_scale,
// quantize), i8 x i8 GEMMs with f32 results against `q<name>`, scaled by the token's scale and
// the weight's per-column `s<name>` (f32[rows]); mlp quantises h again before the down GEMM.
std::string W8A8GraphText(Workload workload, const Shape& s);

// Each f32 weight [rows, cols] of `weights` quantised per output row, symmetric
// (s = max|w_row| / 127, q = round(w / s)): "q<name>" i8[rows, cols] and "s<name>" f32 scales
// shaped [rows, 1] (`scale_rank` 2, Int8GraphText) or [rows] (1, W8A8GraphText).
std::map<std::string, Tensor> QuantizeWeightsPerRow(const std::map<std::string, Tensor>& weights, int scale_rank);

}  // namespace braid::bench

#endif  // BRAID_TESTS_BENCH_BENCH_GRAPHS_H_
