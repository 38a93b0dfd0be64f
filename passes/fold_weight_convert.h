// Folds a weight's widening conversion into the GEMM that reads it, so the weight stays in its
// storage dtype (half the bytes for bf16) and codegen widens it as it is read:
//
//   before                                           after
//   %wb: const bf16[N, K]                            %wb: const bf16[N, K]
//   %w = convert(%wb) {to = f32} : f32[N, K]         %w = convert(%wb) ...   // dead: dce
//   %y = linear(%x, %w) : f32[M, N]                  %y = linear(%x, %wb) : f32[M, N]
//
// It runs before grouped-gemm, so siblings keep grouping whatever their weights' storage
// (the grouped GEMM reads each weight in its own dtype). Folds when the source is a constant
// in bf16 or f16, the conversion is to f32 and the GEMM's activation is f32 (the rule in
// InferGemmType); `--debug-only=fold-weight-convert` says why a conversion feeding a GEMM
// weight was not folded (an i8 weight, whose scale must fold with it, is not yet).
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
