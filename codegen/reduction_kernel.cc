// Row reductions.
#include "codegen/reduction_kernel.h"

#include <limits>

#include "codegen/element_storage.h"
#include "codegen/scalar_math.h"
#include "ir/status_macros.h"
#include "ir/tensor_op_types.h"

namespace braid {

int ReductionKernel::Axis() const {
  if (node_.op() == OpKind::kRmsNorm || node_.op() == OpKind::kRmsScale) return Operand(0).rank() - 1;
  return *NormalizeAxis(*node_.IntAttr("axis"), Operand(0).rank());
}

llvm::Value* ReductionKernel::NumTasks(FunctionEmitter& f) const {
  const Shape& shape = Operand(0).shape;
  const int axis = Axis();
  return f.TaskCount(f.b().CreateMul(f.Product(shape, 0, axis), f.Product(shape, axis + 1, shape.size())));
}

llvm::Function* ReductionKernel::Render(const std::string& name) {
  llvm::Value* task;
  FunctionEmitter f = BeginTaskFunction(mc_, name, &task);
  llvm::IRBuilder<>& b = f.b();
  // Loop-carried f32 values live in entry-block allocas, which SROA turns into registers.
  llvm::Value* acc = b.CreateAlloca(b.getFloatTy(), nullptr, "acc");
  llvm::Value* max = b.CreateAlloca(b.getFloatTy(), nullptr, "max");
  const Shape& shape = Operand(0).shape;
  const int axis = Axis();
  const DType in_dtype = Operand(0).dtype;
  llvm::Value* inner = f.Product(shape, axis + 1, shape.size());
  llvm::Value* length = f.DimValue(shape[axis]);
  llvm::Value* lines = b.CreateMul(f.Product(shape, 0, axis), inner);
  llvm::Value* per_task = f.ItemsPerTask(lines);
  llvm::Value* begin = b.CreateMul(task, per_task);
  llvm::Value* end = f.Min(b.CreateAdd(begin, per_task), lines);
  llvm::Value* x = BufferOf(f, node_.operand(0));
  // The result element at `index`, then each node of the chain, stored where materialised.
  auto store = [&](llvm::Value* value, llvm::Value* index) {
    const Node* n = &node_;
    for (size_t i = 0;; ++i) {
      const DType dtype = n->result()->type().tensor().dtype;
      if (mc_.schedule.materialized.contains(n->result())) {
        StoreFromF32(b, dtype, value, BufferOf(f, n->result()), index);
      }
      if (i == chain_.size()) break;
      value = RoundTripF32(b, dtype, value);
      n = chain_[i];
      value = n->op() == OpKind::kConvert ? value : EmitPointwise(b, n->op(), {value});
      value = RoundTripF32(b, n->result()->type().tensor().dtype, value);
    }
  };
  llvm::Value* w = node_.op() == OpKind::kRmsNorm ? BufferOf(f, node_.operand(1)) : nullptr;
  const OpKind op = node_.op();
  // Sums may be reassociated, so the loop vectoriser can split them into lanes.
  llvm::FastMathFlags reassoc;
  reassoc.setAllowReassoc();

  f.For(begin, end, 1, "line", [&](llvm::Value* line) {
    // Line (o, i): elements at o*R*inner + i + k*inner, k < R.
    llvm::Value* o = b.CreateUDiv(line, inner);
    llvm::Value* i = b.CreateURem(line, inner);
    llvm::Value* base = b.CreateAdd(b.CreateMul(b.CreateMul(o, length), inner), i);
    auto at = [&](llvm::Value* k) { return b.CreateAdd(base, b.CreateMul(k, inner)); };
    auto load = [&](llvm::Value* k) { return LoadAsF32(b, in_dtype, x, at(k)); };
    // A pass over the line folding every element into `slot`.
    auto fold = [&](llvm::Value* slot, double init, const std::function<llvm::Value*(llvm::Value*, llvm::Value*)>& step) {
      b.CreateStore(f.F32(init), slot);
      f.For(f.I64(0), length, 1, "k", [&](llvm::Value* k) {
        b.CreateStore(step(b.CreateLoad(b.getFloatTy(), slot), k), slot);
      });
      return b.CreateLoad(b.getFloatTy(), slot);
    };
    auto sum = [&](llvm::Value* a, llvm::Value* v) {
      llvm::IRBuilder<>::FastMathFlagGuard guard(b);
      b.setFastMathFlags(reassoc);
      return b.CreateFAdd(a, v);
    };
    auto maximum = [&](llvm::Value* a, llvm::Value* k) {
      return b.CreateBinaryIntrinsic(llvm::Intrinsic::maximum, a, load(k));  // NaN propagates
    };
    // rsqrt(mean(x*x) + eps) of the line: rms_norm's factor, rms_scale's result.
    auto inverse_rms = [&]() {
      llvm::Value* squares = fold(acc, 0.0, [&](llvm::Value* a, llvm::Value* k) {
        llvm::Value* v = load(k);
        return sum(a, b.CreateFMul(v, v));
      });
      llvm::Value* mean = b.CreateFDiv(squares, b.CreateSIToFP(length, b.getFloatTy()));
      return EmitPointwise(b, OpKind::kRsqrt, {b.CreateFAdd(mean, f.F32(*node_.FloatAttr("eps")))});
    };
    const double kNegInf = -std::numeric_limits<double>::infinity();
    switch (op) {
      case OpKind::kReduceSum:
      case OpKind::kReduceMean: {
        llvm::Value* total = fold(acc, 0.0, [&](llvm::Value* a, llvm::Value* k) { return sum(a, load(k)); });
        if (op == OpKind::kReduceMean) total = b.CreateFDiv(total, b.CreateSIToFP(length, b.getFloatTy()));
        store(total, line);
        break;
      }
      case OpKind::kReduceMax:
        store(fold(acc, kNegInf, maximum), line);
        break;
      case OpKind::kQuantScale: {
        llvm::Value* absmax = fold(acc, 0.0, [&](llvm::Value* a, llvm::Value* k) {  // NaN propagates
          return b.CreateBinaryIntrinsic(llvm::Intrinsic::maximum, a,
                                         b.CreateUnaryIntrinsic(llvm::Intrinsic::fabs, load(k)));
        });
        store(b.CreateFDiv(absmax, f.F32(127.0)), line);
        break;
      }
      case OpKind::kSoftmax: {
        llvm::Value* m = fold(max, kNegInf, maximum);
        auto shifted_exp = [&](llvm::Value* k) { return EmitPointwise(b, OpKind::kExp, {b.CreateFSub(load(k), m)}); };
        llvm::Value* total = fold(acc, 0.0, [&](llvm::Value* a, llvm::Value* k) { return sum(a, shifted_exp(k)); });
        f.For(f.I64(0), length, 1, "k", [&](llvm::Value* k) {
          store(b.CreateFDiv(shifted_exp(k), total), at(k));
        });
        break;
      }
      case OpKind::kRmsScale:
        store(inverse_rms(), line);
        break;
      case OpKind::kRmsNorm: {
        llvm::Value* inv = inverse_rms();
        f.For(f.I64(0), length, 1, "k", [&](llvm::Value* k) {
          llvm::Value* scaled = b.CreateFMul(b.CreateFMul(load(k), inv), LoadAsF32(b, in_dtype, w, k));
          store(scaled, at(k));
        });
        break;
      }
      default:
        BRAID_CHECK(false, "ReductionKernel: not a reduction");
    }
  });
  b.CreateRetVoid();
  return f.fn();
}

}  // namespace braid
