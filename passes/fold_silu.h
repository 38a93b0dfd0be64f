// Folds the spelled-out SiLU into the `silu` op, written with the pattern matcher as a proof
// that it is general (it is the matcher's single-rooted, commutative case):
//
//   before                              after
//   %s = sigmoid(%x)                    %s = sigmoid(%x)      // dead unless used elsewhere
//   %h = mul(%x, %s)                    %h = silu(%x)
//
// `mul(sigmoid(x), x)` folds too. Profitable whenever it fires: one pointwise op instead of two,
// and `silu` is what the epilogue fusion recognises.
#ifndef BRAID_PASSES_FOLD_SILU_H_
#define BRAID_PASSES_FOLD_SILU_H_

#include "passes/pass.h"

namespace braid {

class FoldSilu : public Pass {
 public:
  absl::string_view name() const override { return "fold-silu"; }
  absl::StatusOr<bool> Run(Graph& graph) override;
};

}  // namespace braid

#endif  // BRAID_PASSES_FOLD_SILU_H_
