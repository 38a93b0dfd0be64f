// Shared pieces of LLVM IR emission: the task-function frame every kernel is emitted into
// (`void task(ptr ctx, i64 task)`, ctx = {buffers, dims}), dims and buffers access, and a
// counted-loop helper.
#ifndef BRAID_CODEGEN_EMIT_UTIL_H_
#define BRAID_CODEGEN_EMIT_UTIL_H_

#include <functional>
#include <string>
#include <vector>

#include "codegen/buffer_plan.h"
#include "codegen/target.h"
#include "llvm/IR/IRBuilder.h"
#include "llvm/IR/Module.h"

namespace braid {

// Everything kernel emitters share for one module.
struct ModuleContext {
  llvm::Module& module;
  const TargetInfo& target;
  const BufferPlan& plan;
  const Schedule& schedule;
};

// A function being emitted, with the buffers and dims pointers in hand.
class FunctionEmitter {
 public:
  // Emits at the end of `fn`'s last block.
  FunctionEmitter(ModuleContext& mc, llvm::Function* fn, llvm::Value* buffers, llvm::Value* dims);

  llvm::IRBuilder<>& b() { return builder_; }
  llvm::LLVMContext& ctx() { return builder_.getContext(); }
  ModuleContext& mc() { return mc_; }
  llvm::Function* fn() { return fn_; }

  llvm::Value* I64(int64_t v) { return builder_.getInt64(v); }
  llvm::Value* F32(double v) { return llvm::ConstantFP::get(builder_.getFloatTy(), v); }
  // The run-time value of one dim.
  llvm::Value* DimValue(const Dim& d);
  // Product of dims [begin, end) of `shape`.
  llvm::Value* Product(const Shape& shape, size_t begin, size_t end);
  // Rows (all dims but the last, multiplied) and columns (the last dim) of an iteration space.
  llvm::Value* Rows(const TensorType& t) { return Product(t.shape, 0, t.shape.empty() ? 0 : t.shape.size() - 1); }
  llvm::Value* Cols(const TensorType& t) { return t.shape.empty() ? I64(1) : DimValue(t.shape.back()); }
  // The float* of a buffer slot.
  llvm::Value* Buffer(int slot);
  llvm::Value* Min(llvm::Value* a, llvm::Value* b);
  llvm::Value* CeilDiv(llvm::Value* a, int64_t b);
  // `items` units of work split into at most 64 tasks: items per task (at least 1), and the
  // number of tasks (0 when there are no items). Kernels compute both the same way in the
  // entry function (how many tasks to run) and in the task (which items are its own).
  llvm::Value* ItemsPerTask(llvm::Value* items);
  llvm::Value* TaskCount(llvm::Value* items);
  // Row-major strides (in elements) of `shape`, one per dim.
  std::vector<llvm::Value*> Strides(const Shape& shape);

  // for (iv = begin; iv < end; iv += step) body(iv)
  void For(llvm::Value* begin, llvm::Value* end, int64_t step, const std::string& name,
           const std::function<void(llvm::Value* iv)>& body);
  // The same with a step known only at run time (it must be positive).
  void For(llvm::Value* begin, llvm::Value* end, llvm::Value* step, const std::string& name,
           const std::function<void(llvm::Value* iv)>& body);

 private:
  ModuleContext& mc_;
  llvm::Function* fn_;
  llvm::IRBuilder<> builder_;
  llvm::Value* buffers_;
  llvm::Value* dims_;
};

// Declares `void name(ptr ctx, i64 task)` and returns an emitter positioned in its entry block
// with `task` in hand.
FunctionEmitter BeginTaskFunction(ModuleContext& mc, const std::string& name, llvm::Value** task);

}  // namespace braid

#endif  // BRAID_CODEGEN_EMIT_UTIL_H_
