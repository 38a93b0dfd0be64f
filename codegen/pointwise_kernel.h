// A loop kernel for a fused chain of pointwise nodes that are not GEMM epilogues. Every node of
// the kernel has one iteration space (a scheduler invariant); tasks are blocks of rows.
#ifndef BRAID_CODEGEN_POINTWISE_KERNEL_H_
#define BRAID_CODEGEN_POINTWISE_KERNEL_H_

#include <string>

#include "codegen/emit_util.h"

namespace braid {

class PointwiseKernel {
 public:
  PointwiseKernel(ModuleContext& mc, const Kernel& kernel) : mc_(mc), kernel_(kernel) {}
  llvm::Function* Render(const std::string& name);
  llvm::Value* NumTasks(FunctionEmitter& f) const;

 private:
  // Rows per task: enough tasks (up to 64) to spread over the threads.
  llvm::Value* RowsPerTask(FunctionEmitter& f) const;
  const TensorType& Space() const { return kernel_.nodes.front()->result()->type().tensor(); }

  ModuleContext& mc_;
  const Kernel& kernel_;
};

}  // namespace braid

#endif  // BRAID_CODEGEN_POINTWISE_KERNEL_H_
