// Dead-code elimination: removes nodes whose result no node and no graph output reads.
//
//   before                              after
//   %a = relu(%x)                       %b = neg(%x)
//   %b = neg(%x)                        return %b
//   return %b
//
// Preconditions: a verified graph. Never unprofitable.
#ifndef BRAID_PASSES_DCE_H_
#define BRAID_PASSES_DCE_H_

#include "passes/pass.h"

namespace braid {

class DeadCodeElimination : public Pass {
 public:
  absl::string_view name() const override { return "dce"; }
  absl::StatusOr<bool> Run(Graph& graph) override;
};

}  // namespace braid

#endif  // BRAID_PASSES_DCE_H_
