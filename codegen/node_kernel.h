// The common frame of the kernels that compute one node on their own (shape ops, reductions,
// batch_matmul, attention): the node, the module it is emitted into, and the interface the
// module generator calls — Render emits `void task(ptr ctx, i64 task)`, NumTasks (emitted into
// the entry function) says how many tasks to run.
#ifndef BRAID_CODEGEN_NODE_KERNEL_H_
#define BRAID_CODEGEN_NODE_KERNEL_H_

#include <string>

#include "codegen/emit_util.h"

namespace braid {

class NodeKernel {
 public:
  NodeKernel(ModuleContext& mc, const Kernel& kernel) : mc_(mc), node_(*kernel.nodes.front()) {}
  virtual ~NodeKernel() = default;
  virtual llvm::Function* Render(const std::string& name) = 0;
  virtual llvm::Value* NumTasks(FunctionEmitter& f) const = 0;

 protected:
  const TensorType& Result() const { return node_.result()->type().tensor(); }
  const TensorType& Operand(int i) const { return node_.operand(i)->type().tensor(); }
  // The buffer of `v` (a parameter or a materialised value) in the task function `f`.
  llvm::Value* BufferOf(FunctionEmitter& f, const Value* v) const { return f.Buffer(mc_.plan.value_slot.at(v)); }

  ModuleContext& mc_;
  const Node& node_;
};

}  // namespace braid

#endif  // BRAID_CODEGEN_NODE_KERNEL_H_
