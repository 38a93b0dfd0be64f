// Batched matmul of two activations.
#include "codegen/batch_matmul_kernel.h"

#include "codegen/element_storage.h"

namespace braid {
namespace {

constexpr int64_t kColumnBlock = 64;

// Element strides of `operand`'s batch dims over the result's batch dims (trailing-aligned):
// 0 where the operand repeats (a literal 1, or a dim it lacks).
std::vector<llvm::Value*> BatchStrides(FunctionEmitter& f, const Shape& operand, size_t batch_rank) {
  std::vector<llvm::Value*> all = f.Strides(operand);
  std::vector<llvm::Value*> strides(batch_rank, f.I64(0));
  const size_t operand_batch = operand.size() - 2;
  for (size_t i = 0; i < operand_batch; ++i) {
    const size_t d = batch_rank - 1 - i, od = operand_batch - 1 - i;
    if (operand[od] != Dim::Const(1)) strides[d] = all[od];
  }
  return strides;
}

}  // namespace

llvm::Value* BatchMatmulKernel::NumTasks(FunctionEmitter& f) const { return f.TaskCount(f.Rows(Result())); }

llvm::Function* BatchMatmulKernel::Render(const std::string& name) {
  llvm::Value* task;
  FunctionEmitter f = BeginTaskFunction(mc_, name, &task);
  llvm::IRBuilder<>& b = f.b();
  llvm::Value* acc = b.CreateAlloca(b.getFloatTy(), f.I64(kColumnBlock), "acc");
  const TensorType& a_type = node_.operand(0)->type().tensor();
  const TensorType& b_type = node_.operand(1)->type().tensor();
  const Shape& out = Result().shape;
  const size_t batch_rank = out.size() - 2;
  llvm::Value* t_dim = f.DimValue(out[batch_rank]);
  llvm::Value* s_dim = f.DimValue(out[batch_rank + 1]);
  llvm::Value* k_dim = f.DimValue(a_type.shape.back());
  std::vector<llvm::Value*> a_stride = BatchStrides(f, a_type.shape, batch_rank);
  std::vector<llvm::Value*> b_stride = BatchStrides(f, b_type.shape, batch_rank);
  llvm::Value* a = BufferOf(f, node_.operand(0));
  llvm::Value* bm = BufferOf(f, node_.operand(1));
  llvm::Value* y = BufferOf(f, node_.result());
  llvm::Value* rows = f.Rows(Result());
  llvm::Value* per_task = f.ItemsPerTask(rows);
  llvm::Value* begin = b.CreateMul(task, per_task);
  llvm::Value* end = f.Min(b.CreateAdd(begin, per_task), rows);
  f.For(begin, end, 1, "row", [&](llvm::Value* row) {
    // Global row -> (batch index, t); the batch index -> each operand's matrix offset.
    llvm::Value* t = b.CreateURem(row, t_dim);
    llvm::Value* rest = b.CreateUDiv(row, t_dim);
    llvm::Value* a_offset = b.CreateMul(t, k_dim);
    llvm::Value* b_offset = f.I64(0);
    for (size_t d = batch_rank; d-- > 0;) {
      llvm::Value* extent = f.DimValue(out[d]);
      llvm::Value* index = b.CreateURem(rest, extent);
      rest = b.CreateUDiv(rest, extent);
      a_offset = b.CreateAdd(a_offset, b.CreateMul(index, a_stride[d]));
      b_offset = b.CreateAdd(b_offset, b.CreateMul(index, b_stride[d]));
    }
    llvm::Value* out_offset = b.CreateMul(row, s_dim);
    f.For(f.I64(0), s_dim, kColumnBlock, "col0", [&](llvm::Value* col0) {
      llvm::Value* width = f.Min(f.I64(kColumnBlock), b.CreateSub(s_dim, col0));
      f.For(f.I64(0), width, 1, "zero", [&](llvm::Value* c) {
        b.CreateStore(llvm::ConstantFP::get(b.getFloatTy(), 0.0), b.CreateInBoundsGEP(b.getFloatTy(), acc, c));
      });
      f.For(f.I64(0), k_dim, 1, "k", [&](llvm::Value* k) {
        llvm::Value* av = LoadAsF32(b, a_type.dtype, a, b.CreateAdd(a_offset, k));
        llvm::Value* b_row = b.CreateAdd(b_offset, b.CreateAdd(b.CreateMul(k, s_dim), col0));
        f.For(f.I64(0), width, 1, "c", [&](llvm::Value* c) {
          llvm::Value* slot = b.CreateInBoundsGEP(b.getFloatTy(), acc, c);
          llvm::Value* bv = LoadAsF32(b, b_type.dtype, bm, b.CreateAdd(b_row, c));
          llvm::Value* sum = b.CreateIntrinsic(llvm::Intrinsic::fmuladd, {b.getFloatTy()},
                                               {av, bv, b.CreateLoad(b.getFloatTy(), slot)});
          b.CreateStore(sum, slot);
        });
      });
      f.For(f.I64(0), width, 1, "store", [&](llvm::Value* c) {
        llvm::Value* v = b.CreateLoad(b.getFloatTy(), b.CreateInBoundsGEP(b.getFloatTy(), acc, c));
        StoreFromF32(b, Result().dtype, v, y, b.CreateAdd(out_offset, b.CreateAdd(col0, c)));
      });
    });
  });
  b.CreateRetVoid();
  return f.fn();
}

}  // namespace braid
