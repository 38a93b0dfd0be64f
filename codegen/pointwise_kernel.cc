// Pointwise loop kernels.
#include "codegen/pointwise_kernel.h"

#include "codegen/element_loop.h"

namespace braid {

llvm::Value* PointwiseKernel::RowsPerTask(FunctionEmitter& f) const {
  llvm::Value* per_task = f.CeilDiv(f.Rows(Space()), 64);
  return f.b().CreateSelect(f.b().CreateICmpSLT(per_task, f.I64(1)), f.I64(1), per_task);
}

llvm::Value* PointwiseKernel::NumTasks(FunctionEmitter& f) const {
  llvm::Value* rows = f.Rows(Space());
  llvm::Value* per_task = RowsPerTask(f);
  return f.b().CreateSDiv(f.b().CreateAdd(rows, f.b().CreateSub(per_task, f.I64(1))), per_task);
}

llvm::Function* PointwiseKernel::Render(const std::string& name) {
  llvm::Value* task;
  FunctionEmitter f = BeginTaskFunction(mc_, name, &task);
  llvm::Value* per_task = RowsPerTask(f);
  llvm::Value* begin = f.b().CreateMul(task, per_task);
  ElementLoop loop;
  loop.space = &Space();
  loop.row_begin = begin;
  loop.row_end = f.Min(f.b().CreateAdd(begin, per_task), f.Rows(Space()));
  loop.col_begin = f.I64(0);
  loop.col_end = f.Cols(Space());
  loop.nodes = kernel_.nodes;
  loop.stores = kernel_.outputs;
  EmitElementLoop(f, loop);
  f.b().CreateRetVoid();
  return f.fn();
}

}  // namespace braid
