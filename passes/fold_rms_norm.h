// Moves RMSNorm through the GEMMs that read it, so the normalised activation is never written:
// the per-row factor rsqrt(mean(x²) + eps) multiplies the GEMM's f32 result (an epilogue once
// scheduled), and the norm's weight multiplies the GEMM's constant weight (evaluated once at
// compile time, then prepacked):
//
//   before                                        after
//   %h = rms_norm(%x, %w) {eps = 1e-05}           %h_r = rms_scale(%x) {eps = 1e-05} : f32[M, 1]
//   %q = linear(%h, %wq) : f32[M, N]              %wq_n = mul(%wq, %w) : f32[N, K]     // constant
//                                                 %q_x = linear(%x, %wq_n) : f32[M, N]
//                                                 %q = mul(%q_x, %h_r) : f32[M, N]
//
// since sum_k (x_k·r·w_k)·W_nk = r · sum_k x_k·(W_nk·w_k) (equal up to f32 rounding). The same
// holds for any chain of `mul`s on a GEMM's activation by per-row factors (shape [..., 1]) and
// constant per-K factors (shape [K], or [1, .., K]) — what a PyTorch model's decomposed RMSNorm
// `w * (x * rsqrt(mean(x²) + eps))` is. A bias is added after the row factors. It runs before
// grouped-gemm: the rewritten Q/K/V (gate/up) all read %x and still group, with one rms_scale.
// Folds when the GEMM's weight is a constant it can multiply (not an int8 weight with a scale);
// `--debug-only=fold-rms-norm` says why a norm feeding a GEMM was not folded.
#ifndef BRAID_PASSES_FOLD_RMS_NORM_H_
#define BRAID_PASSES_FOLD_RMS_NORM_H_

#include "passes/pass.h"

namespace braid {

class FoldRmsNorm : public Pass {
 public:
  absl::string_view name() const override { return "fold-rms-norm"; }
  absl::StatusOr<bool> Run(Graph& graph) override;
};

}  // namespace braid

#endif  // BRAID_PASSES_FOLD_RMS_NORM_H_
