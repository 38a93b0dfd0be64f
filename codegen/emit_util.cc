// IR emission helpers.
#include "codegen/emit_util.h"

#include "ir/status_macros.h"

namespace braid {

FunctionEmitter::FunctionEmitter(ModuleContext& mc, llvm::Function* fn, llvm::Value* buffers,
                                 llvm::Value* dims)
    : mc_(mc), fn_(fn), builder_(mc.module.getContext()), buffers_(buffers), dims_(dims) {
  builder_.SetInsertPoint(&fn->back());
}

llvm::Value* FunctionEmitter::DimValue(const Dim& d) {
  if (!d.is_symbolic()) return I64(d.value());
  // A polynomial in the symbols (`B*T`, `P + T`): sum of coefficient * product of loads.
  llvm::Value* sum = nullptr;
  for (const auto& [monomial, coefficient] : d.terms()) {
    llvm::Value* term = I64(coefficient);
    for (const std::string& name : monomial) {
      const int index = mc_.plan.SymbolIndex(name);
      BRAID_CHECK(index >= 0, "a symbolic dim missing from the buffer plan");
      llvm::Value* ptr = builder_.CreateConstInBoundsGEP1_64(builder_.getInt64Ty(), dims_, index);
      llvm::Value* symbol = builder_.CreateLoad(builder_.getInt64Ty(), ptr, name);
      term = coefficient == 1 && monomial.size() == 1 ? symbol : builder_.CreateMul(term, symbol);
    }
    sum = sum == nullptr ? term : builder_.CreateAdd(sum, term);
  }
  return sum;
}

llvm::Value* FunctionEmitter::Product(const Shape& shape, size_t begin, size_t end) {
  llvm::Value* p = I64(1);
  for (size_t i = begin; i < end; ++i) p = builder_.CreateMul(p, DimValue(shape[i]));
  return p;
}

llvm::Value* FunctionEmitter::Buffer(int slot) {
  llvm::Value* ptr = builder_.CreateConstInBoundsGEP1_64(builder_.getPtrTy(), buffers_, slot);
  return builder_.CreateLoad(builder_.getPtrTy(), ptr);
}

llvm::Value* FunctionEmitter::Min(llvm::Value* a, llvm::Value* b) {
  return builder_.CreateSelect(builder_.CreateICmpSLT(a, b), a, b);
}

llvm::Value* FunctionEmitter::CeilDiv(llvm::Value* a, int64_t b) {
  return builder_.CreateSDiv(builder_.CreateAdd(a, I64(b - 1)), I64(b));
}

llvm::Value* FunctionEmitter::ItemsPerTask(llvm::Value* items) {
  llvm::Value* per_task = CeilDiv(items, 64);
  return builder_.CreateSelect(builder_.CreateICmpSLT(per_task, I64(1)), I64(1), per_task);
}

llvm::Value* FunctionEmitter::TaskCount(llvm::Value* items) {
  llvm::Value* per_task = ItemsPerTask(items);
  return builder_.CreateSDiv(builder_.CreateAdd(items, builder_.CreateSub(per_task, I64(1))), per_task);
}

std::vector<llvm::Value*> FunctionEmitter::Strides(const Shape& shape) {
  std::vector<llvm::Value*> strides(shape.size());
  llvm::Value* stride = I64(1);
  for (size_t d = shape.size(); d-- > 0;) {
    strides[d] = stride;
    stride = builder_.CreateMul(stride, DimValue(shape[d]));
  }
  return strides;
}

void FunctionEmitter::For(llvm::Value* begin, llvm::Value* end, int64_t step,
                          const std::string& name,
                          const std::function<void(llvm::Value* iv)>& body) {
  For(begin, end, I64(step), name, body);
}

void FunctionEmitter::For(llvm::Value* begin, llvm::Value* end, llvm::Value* step,
                          const std::string& name,
                          const std::function<void(llvm::Value* iv)>& body) {
  llvm::BasicBlock* pre = builder_.GetInsertBlock();
  llvm::BasicBlock* header = llvm::BasicBlock::Create(ctx(), name + ".header", fn_);
  llvm::BasicBlock* loop = llvm::BasicBlock::Create(ctx(), name + ".body", fn_);
  llvm::BasicBlock* exit = llvm::BasicBlock::Create(ctx(), name + ".exit", fn_);
  builder_.CreateBr(header);
  builder_.SetInsertPoint(header);
  llvm::PHINode* iv = builder_.CreatePHI(builder_.getInt64Ty(), 2, name);
  iv->addIncoming(begin, pre);
  builder_.CreateCondBr(builder_.CreateICmpSLT(iv, end), loop, exit);
  builder_.SetInsertPoint(loop);
  body(iv);
  llvm::Value* next = builder_.CreateAdd(iv, step, name + ".next", /*HasNUW=*/true, /*HasNSW=*/true);
  iv->addIncoming(next, builder_.GetInsertBlock());
  builder_.CreateBr(header);
  builder_.SetInsertPoint(exit);
}

FunctionEmitter BeginTaskFunction(ModuleContext& mc, const std::string& name, llvm::Value** task) {
  llvm::LLVMContext& ctx = mc.module.getContext();
  llvm::Type* ptr = llvm::PointerType::getUnqual(ctx);
  auto* type = llvm::FunctionType::get(llvm::Type::getVoidTy(ctx), {ptr, llvm::Type::getInt64Ty(ctx)}, false);
  llvm::Function* fn = llvm::Function::Create(type, llvm::Function::InternalLinkage, name, mc.module);
  fn->addFnAttr(llvm::Attribute::NoUnwind);
  llvm::IRBuilder<> b(llvm::BasicBlock::Create(ctx, "entry", fn));
  llvm::Value* buffers = b.CreateLoad(ptr, fn->getArg(0), "buffers");
  llvm::Value* dims = b.CreateLoad(ptr, b.CreateConstInBoundsGEP1_64(ptr, fn->getArg(0), 1), "dims");
  *task = fn->getArg(1);
  return FunctionEmitter(mc, fn, buffers, dims);
}

}  // namespace braid
