// Strided copies for the shape ops.
#include "codegen/copy_kernel.h"

#include "ir/status_macros.h"
#include "ir/tensor_op_types.h"

namespace braid {
namespace {

// One box of the copy: its shape and how its index maps to each side's element offset.
struct Box {
  const Value* src = nullptr;
  Shape shape;
  llvm::Value* src_base = nullptr;
  std::vector<llvm::Value*> src_stride;
  llvm::Value* dst_base = nullptr;
  std::vector<llvm::Value*> dst_stride;
  bool negate = false;  // flip the sign bit of every element (rotate_half's first half)
};

bool IsOne(const Dim& d) { return d == Dim::Const(1); }

// The boxes of `node`, with strides computed in `f`.
std::vector<Box> BoxesOf(FunctionEmitter& f, const Node& node) {
  const TensorType& out = node.result()->type().tensor();
  const Value* x = node.operand(0);
  const Shape& in = x->type().tensor().shape;
  std::vector<llvm::Value*> out_stride = f.Strides(out.shape);
  std::vector<llvm::Value*> in_stride = f.Strides(in);
  Box box{x, out.shape, f.I64(0), {}, f.I64(0), out_stride};
  switch (node.op()) {
    case OpKind::kReshape:  // the same row-major order on both sides
      box.src_stride = out_stride;
      return {box};
    case OpKind::kTranspose:
      for (int64_t p : std::get<std::vector<int64_t>>(node.attrs().at("perm"))) box.src_stride.push_back(in_stride[p]);
      return {box};
    case OpKind::kSlice: {
      const int axis = *NormalizeAxis(*node.IntAttr("axis"), static_cast<int>(in.size()));
      box.src_base = f.b().CreateMul(f.I64(*node.IntAttr("start")), in_stride[axis]);
      box.src_stride = in_stride;
      return {box};
    }
    case OpKind::kExpand: {
      // Trailing-aligned; a size-1 (or added leading) dim repeats: stride 0.
      box.src_stride.assign(out.shape.size(), f.I64(0));
      for (size_t i = 0; i < in.size(); ++i) {
        const size_t d = out.shape.size() - 1 - i, sd = in.size() - 1 - i;
        if (!IsOne(in[sd])) box.src_stride[d] = in_stride[sd];
      }
      return {box};
    }
    case OpKind::kRotateHalf: {
      // Two boxes of half the last dim: dst[..., :h] = -src[..., h:], dst[..., h:] = src[..., :h].
      const int64_t half = out.shape.back().value() / 2;
      Shape shape = out.shape;
      shape.back() = Dim::Const(half);
      Box first{x, shape, f.I64(half), in_stride, f.I64(0), out_stride, /*negate=*/true};
      Box second{x, shape, f.I64(0), in_stride, f.I64(half), out_stride};
      return {first, second};
    }
    case OpKind::kConcat: {
      const int axis = *NormalizeAxis(*node.IntAttr("axis"), static_cast<int>(in.size()));
      std::vector<Box> boxes;
      llvm::Value* at = f.I64(0);  // where this operand starts along the axis
      for (const Value* operand : node.operands()) {
        const Shape& shape = operand->type().tensor().shape;
        boxes.push_back(Box{operand, shape, f.I64(0), f.Strides(shape), f.b().CreateMul(at, out_stride[axis]),
                            out_stride});
        at = f.b().CreateAdd(at, f.DimValue(shape[axis]));
      }
      return boxes;
    }
    default: break;
  }
  BRAID_CHECK(false, "CopyKernel: not a shape op");
  return {};
}

}  // namespace

llvm::Value* CopyKernel::NumTasks(FunctionEmitter& f) const { return f.TaskCount(f.Rows(Result())); }

llvm::Function* CopyKernel::Render(const std::string& name) {
  llvm::Value* task;
  FunctionEmitter f = BeginTaskFunction(mc_, name, &task);
  llvm::IRBuilder<>& b = f.b();
  const DType dtype = Result().dtype;
  llvm::Type* element = b.getIntNTy(8 * DTypeBytes(dtype));
  llvm::Value* tasks = NumTasks(f);
  llvm::Value* dst = BufferOf(f, node_.result());
  for (Box& box : BoxesOf(f, node_)) {
    if (box.shape.empty()) {  // rank 0: one element
      box.shape = {Dim::Const(1)};
      box.src_stride = box.dst_stride = {f.I64(0)};
    }
    llvm::Value* src = BufferOf(f, box.src);
    const size_t rank = box.shape.size();
    llvm::Value* rows = f.Product(box.shape, 0, rank - 1);
    llvm::Value* per_task = b.CreateSDiv(b.CreateAdd(rows, b.CreateSub(tasks, f.I64(1))), tasks);
    llvm::Value* begin = b.CreateMul(task, per_task);
    llvm::Value* end = f.Min(b.CreateAdd(begin, per_task), rows);
    llvm::Value* cols = f.DimValue(box.shape.back());
    f.For(begin, end, 1, "row", [&](llvm::Value* row) {
      // The row's index in each leading dim, innermost first, to both sides' offsets.
      llvm::Value* src_offset = box.src_base;
      llvm::Value* dst_offset = box.dst_base;
      llvm::Value* rest = row;
      for (size_t d = rank - 1; d-- > 0;) {
        llvm::Value* extent = f.DimValue(box.shape[d]);
        llvm::Value* index = b.CreateURem(rest, extent);
        rest = b.CreateUDiv(rest, extent);
        src_offset = b.CreateAdd(src_offset, b.CreateMul(index, box.src_stride[d]));
        dst_offset = b.CreateAdd(dst_offset, b.CreateMul(index, box.dst_stride[d]));
      }
      f.For(f.I64(0), cols, 1, "col", [&](llvm::Value* col) {
        llvm::Value* from = b.CreateAdd(src_offset, b.CreateMul(col, box.src_stride[rank - 1]));
        llvm::Value* to = b.CreateAdd(dst_offset, b.CreateMul(col, box.dst_stride[rank - 1]));
        llvm::Value* v = b.CreateLoad(element, b.CreateInBoundsGEP(element, src, from));
        if (box.negate) v = b.CreateXor(v, llvm::ConstantInt::get(element, llvm::APInt::getSignMask(element->getIntegerBitWidth())));
        b.CreateStore(v, b.CreateInBoundsGEP(element, dst, to));
      });
    });
  }
  b.CreateRetVoid();
  return f.fn();
}

}  // namespace braid
