// The kernel of one batch_matmul: out[..., t, s] = sum_k a[..., t, k] * b[..., k, s], batch dims
// broadcast (a size-1 batch dim of either operand repeats). Tasks are blocks of output rows
// (every batch's rows in order); each row is computed 64 columns at a time in an f32
// accumulator on the stack, so rows of any dtype are rounded once, when stored. A plain loop
// nest for the decomposed attention (Q·Kᵀ, P·V) to compile and agree; the attention template
// is where speed comes from.
#ifndef BRAID_CODEGEN_BATCH_MATMUL_KERNEL_H_
#define BRAID_CODEGEN_BATCH_MATMUL_KERNEL_H_

#include <string>

#include "codegen/node_kernel.h"

namespace braid {

class BatchMatmulKernel : public NodeKernel {
 public:
  using NodeKernel::NodeKernel;
  llvm::Function* Render(const std::string& name) override;
  llvm::Value* NumTasks(FunctionEmitter& f) const override;
};

}  // namespace braid

#endif  // BRAID_CODEGEN_BATCH_MATMUL_KERNEL_H_
