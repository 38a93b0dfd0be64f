// The oneDNN matmul every oneDNN peer is built from: a linear layer's weights reordered once,
// when the peer is made, into the layout (and dtype) oneDNN picks; post-ops and output scales
// as the attributes say.
#ifndef BRAID_TESTS_BENCH_ONEDNN_MATMUL_H_
#define BRAID_TESTS_BENCH_ONEDNN_MATMUL_H_

#include <cstdint>
#include <utility>
#include <vector>

#include "oneapi/dnnl/dnnl.hpp"

namespace braid::bench {

dnnl::engine& OnednnEngine();

// The dtypes of a matmul's operands (the weights' after the reorder).
struct MatmulTypes {
  dnnl::memory::data_type src = dnnl::memory::data_type::f32;
  dnnl::memory::data_type weights = dnnl::memory::data_type::f32;
  dnnl::memory::data_type dst = dnnl::memory::data_type::f32;
};

// dst[m, n] = post_ops(scale[n] · src[m, k] · W), all row-major, with W given as a row-major
// [n, k] array of `w_type` (a linear layer's weight). `column_scales`: scale[n], fixed when the
// primitive is made (oneDNN 2.6's output scales with mask 2, applied before the post-ops); empty:
// scale = 1. (Run-time output scales, DNNL_RUNTIME_F32_VAL, exist too, but oneDNN 2.6 takes
// them only in its gemm:jit matmul, which keeps the weights plain and packs them on every call:
// on s8, 3x slower at M = 1 and 1.7x at M = 16 than brgemm, about even at M = 128 (the MLP at
// 1024x2816, 2026-12-02). The s8 peer passes its run-time scalar as a binary post-op instead.)
class OnednnMatmul {
 public:
  OnednnMatmul(int64_t m, int64_t k, int64_t n, const void* w_nk, dnnl::memory::data_type w_type, MatmulTypes types,
               const dnnl::post_ops& ops, const std::vector<float>& column_scales = {});
  // One run, waited for. `binary`: the operand of each binary post-op, in the order of `ops`.
  void Execute(const void* src, void* dst, const std::vector<const void*>& binary = {});

 private:
  dnnl::matmul prim_;
  dnnl::memory weights_;
  dnnl::memory::desc src_, dst_;
  std::vector<std::pair<int, dnnl::memory::desc>> binary_;  // index among the post-ops, operand
};

// Post-ops: swish (silu); a binary op with an [m, n] operand of `type` (a [1, 1] operand is a
// scalar, broadcast).
dnnl::post_ops Swish();
dnnl::post_ops Binary(dnnl::algorithm alg, int64_t m, int64_t n,
                      dnnl::memory::data_type type = dnnl::memory::data_type::f32);

}  // namespace braid::bench

#endif  // BRAID_TESTS_BENCH_ONEDNN_MATMUL_H_
