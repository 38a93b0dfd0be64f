// Folds a weight's widening conversion — and an int8 weight's dequantisation — into the GEMM
// that reads it, so the weight stays in its storage dtype (bf16: half the bytes, i8: a
// quarter) and codegen widens it as it is read:
//
//   before                                           after
//   %wb: const bf16[N, K]                            %wb: const bf16[N, K]
//   %w = convert(%wb) {to = f32} : f32[N, K]         %w = convert(%wb) ...   // dead: dce
//   %y = linear(%x, %w) : f32[M, N]                  %y = linear(%x, %wb) : f32[M, N]
//
//   %wq: const i8[N, K], %ws: const f32[N, 1]        %wq: const i8[N, K], %ws: const f32[N, 1]
//   %c = convert(%wq) {to = f32} : f32[N, K]         ...                     // dead: dce
//   %w = mul(%c, %ws) : f32[N, K]
//   %y = linear(%x, %w, %b) : f32[M, N]              %y = linear(%x, %wq, %b, %ws) {scale = 3}
//
// The scale (one per output channel: [N, 1] for a linear's w[N, K], [1, N] or [N] for a
// matmul's b[K, N]) multiplies the f32 sum before the bias: sum_k x·(q·s) = s·sum_k x·q, equal
// up to f32 rounding when the graph multiplies in f32. A bf16 graph's `mul(convert(q) : bf16,
// s : bf16)` rounds each weight q·s to bf16 and the folded GEMM does not (q is exact in bf16,
// s multiplies the f32 sum): up to 2^-9 relative per weight, as accurate or more, and what a
// fused dequantisation does in PyTorch's Inductor too; the folded graph's interpretation is
// then the reference for its compiled code (the differential tester checks it against that).
// The same folds for bf16/f16 weights with a scale. It runs before
// grouped-gemm, so siblings keep grouping whatever their weights' storage (the grouped GEMM
// reads each weight in its own dtype, with its own scale). Folds when the source is a
// constant in bf16, f16 or i8, the conversion is to f32 and the GEMM's activation is f32 (the
// rule in InferGemmType); `--debug-only=fold-weight-convert` says why a conversion feeding a
// GEMM weight was not folded.
#ifndef BRAID_PASSES_FOLD_WEIGHT_CONVERT_H_
#define BRAID_PASSES_FOLD_WEIGHT_CONVERT_H_

#include "passes/pass.h"

namespace braid {

class FoldWeightConvert : public Pass {
 public:
  absl::string_view name() const override { return "fold-weight-convert"; }
  absl::StatusOr<bool> Run(Graph& graph) override;
};

}  // namespace braid

#endif  // BRAID_PASSES_FOLD_WEIGHT_CONVERT_H_
