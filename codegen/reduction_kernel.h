// The kernel of one reduction: reduce_sum / reduce_mean / reduce_max, softmax and rms_norm.
// The operand is viewed as [outer, R, inner] around the reduced axis; each of the outer*inner
// lines (a row when the axis is the last dim) is reduced by one task, in f32, so the result
// does not depend on the thread count. Sums may be reassociated (vectorised): they differ from
// the interpreter's double sums by f32 rounding only.
//
//   reduce_*: one pass.   softmax: max, sum of exp(x - max), exp(x - max) / sum.
//   rms_norm: sum of x*x, then x * (1 / sqrt(sum / D + eps)) * w.
//
// Unary pointwise nodes the scheduler chained after the reduction (a bf16 model's
// convert(rms_scale(x))) are applied to each result element as it is stored; each value of the
// chain is stored only if it is materialised.
#ifndef BRAID_CODEGEN_REDUCTION_KERNEL_H_
#define BRAID_CODEGEN_REDUCTION_KERNEL_H_

#include <string>
#include <vector>

#include "codegen/node_kernel.h"

namespace braid {

class ReductionKernel : public NodeKernel {
 public:
  ReductionKernel(ModuleContext& mc, const Kernel& kernel)
      : NodeKernel(mc, kernel), chain_(kernel.nodes.begin() + 1, kernel.nodes.end()) {}
  llvm::Function* Render(const std::string& name) override;
  llvm::Value* NumTasks(FunctionEmitter& f) const override;

 private:
  int Axis() const;
  std::vector<const Node*> chain_;  // unary epilogues, each reading the one before
};

}  // namespace braid

#endif  // BRAID_CODEGEN_REDUCTION_KERNEL_H_
