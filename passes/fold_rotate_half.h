// Folds rotate_half as PyTorch's rotary embedding writes it into one op (one copy kernel instead
// of two slices, a negation and a concat):
//
//   before                                              after
//   %lo = slice(%x) {axis = -1, start = 0, end = h}     %r = rotate_half(%x)
//   %hi = slice(%x) {axis = -1, start = h, end = 2h}
//   %n = neg(%hi)
//   %r = concat(%n, %lo) {axis = -1}
//
// where 2h is %x's last dim (the axis may be written as a non-negative index too). The slices
// and the negation stay if anything else reads them (dce removes them otherwise).
#ifndef BRAID_PASSES_FOLD_ROTATE_HALF_H_
#define BRAID_PASSES_FOLD_ROTATE_HALF_H_

#include "passes/pass.h"

namespace braid {

class FoldRotateHalf : public Pass {
 public:
  absl::string_view name() const override { return "fold-rotate-half"; }
  absl::StatusOr<bool> Run(Graph& graph) override;
};

}  // namespace braid

#endif  // BRAID_PASSES_FOLD_ROTATE_HALF_H_
