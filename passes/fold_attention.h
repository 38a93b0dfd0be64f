// Folds attention written out as PyTorch's eager LlamaAttention computes it into the attention
// template, so the T×S scores never reach memory and grouped-query heads read their KV head
// directly instead of a repeat_kv copy:
//
//   before                                              after
//   %k5 = reshape(%k) : [B, Hkv, 1, S, D]               %qs = mul(%q, %c)
//   %ke = expand(%k5) : [B, Hkv, n, S, D]               %o = attention(%qs, %k, %v, %mask) {scale = 1.0}
//   %kr = reshape(%ke) : [B, Hkv*n, S, D]   (v alike)
//   %kt = transpose(%kr) {perm = [0, 1, 3, 2]}
//   %s0 = batch_matmul(%q, %kt)
//   %s1 = mul(%s0, %c)          // optional; %c holds one element
//   %s2 = add(%s1, %mask)       // optional
//   %p = softmax(%s2) {axis = -1}
//   %o = batch_matmul(%p, %vr)
//
// The scale, a value known only at run time, moves onto q ((q·c)·kᵀ = c·(q·kᵀ) up to rounding).
// The repeat_kv chain is optional (plain multi-head attention folds too). The scores, their
// scaled and masked forms and the probabilities must be read by nothing else. `mul` and `add`
// fold in either operand order. A bf16 graph may take the softmax in f32, as transformers' eager
// attention does (`softmax(s, dtype=float32).to(bf16)`): `%p = convert(softmax(convert(%s2)
// {to = f32})) {to = bf16}` folds too (the template's scores and softmax are f32 throughout).
#ifndef BRAID_PASSES_FOLD_ATTENTION_H_
#define BRAID_PASSES_FOLD_ATTENTION_H_

#include "passes/pass.h"

namespace braid {

class FoldAttention : public Pass {
 public:
  absl::string_view name() const override { return "fold-attention"; }
  absl::StatusOr<bool> Run(Graph& graph) override;
};

}  // namespace braid

#endif  // BRAID_PASSES_FOLD_ATTENTION_H_
