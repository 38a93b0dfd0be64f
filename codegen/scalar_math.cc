// Scalar fp32 math for pointwise ops.
#include "codegen/scalar_math.h"

#include "ir/status_macros.h"
#include "llvm/IR/Intrinsics.h"

namespace braid {
namespace {

llvm::Value* F(llvm::IRBuilder<>& b, double v) { return llvm::ConstantFP::get(b.getFloatTy(), v); }

// A float constant of x's type (a splat when x is a vector).
llvm::Value* Like(llvm::Value* x, double v) { return llvm::ConstantFP::get(x->getType(), v); }

// Horner evaluation of sum c[i] x^i.
llvm::Value* Poly(llvm::IRBuilder<>& b, llvm::Value* x, std::initializer_list<double> coeffs_high_to_low) {
  llvm::Value* acc = nullptr;
  for (double c : coeffs_high_to_low) {
    acc = acc == nullptr ? Like(x, c) : b.CreateFAdd(b.CreateFMul(acc, x), Like(x, c));
  }
  return acc;
}

// exp(x), Cephes-style: x = n ln2 + r, e^r by a degree-6 polynomial, 2^n through the exponent
// bits. Overflow gives +inf, NaN stays NaN, inputs below -87 give exp(-87) ~ 1.6e-38 instead
// of a denormal (absolute error below 1.7e-38). x may be a float or a vector of floats.
llvm::Value* Exp(llvm::IRBuilder<>& b, llvm::Value* x) {
  llvm::Type* type = x->getType();
  llvm::Type* i32 = b.getInt32Ty();
  if (auto* vector = llvm::dyn_cast<llvm::VectorType>(type)) i32 = llvm::VectorType::get(i32, vector);
  llvm::Value* clamped = b.CreateMinNum(b.CreateMaxNum(x, Like(x, -87.0)), Like(x, 88.72283935546875));
  llvm::Value* fx = b.CreateUnaryIntrinsic(
      llvm::Intrinsic::floor, b.CreateFAdd(b.CreateFMul(clamped, Like(x, 1.44269504088896341)), Like(x, 0.5)));
  llvm::Value* r = b.CreateFSub(clamped, b.CreateFMul(fx, Like(x, 0.693359375)));
  r = b.CreateFSub(r, b.CreateFMul(fx, Like(x, -2.12194440e-4)));
  llvm::Value* r2 = b.CreateFMul(r, r);
  llvm::Value* p = Poly(b, r, {1.9875691500e-4, 1.3981999507e-3, 8.3334519073e-3, 4.1665795894e-2,
                               1.6666665459e-1, 5.0000001201e-1});
  llvm::Value* y = b.CreateFAdd(b.CreateFAdd(b.CreateFMul(p, r2), r), Like(x, 1.0));
  // 2^n as 2^(n/2) * 2^(n - n/2): n reaches 128 at the top of the range, one past the largest
  // float exponent.
  llvm::Value* n = b.CreateFPToSI(fx, i32);
  llvm::Value* half = b.CreateAShr(n, 1);
  auto pow2 = [&](llvm::Value* e) {
    return b.CreateBitCast(b.CreateShl(b.CreateAdd(e, llvm::ConstantInt::get(i32, 127)), 23), type);
  };
  llvm::Value* result = b.CreateFMul(b.CreateFMul(y, pow2(half)), pow2(b.CreateSub(n, half)));
  result = b.CreateSelect(b.CreateFCmpOGT(x, Like(x, 88.72283935546875)), llvm::ConstantFP::getInfinity(type), result);
  return b.CreateSelect(b.CreateFCmpUNO(x, x), x, result);
}

}  // namespace

llvm::Value* EmitExp(llvm::IRBuilder<>& b, llvm::Value* x) { return Exp(b, x); }

namespace {

llvm::Value* Sigmoid(llvm::IRBuilder<>& b, llvm::Value* x) {
  return b.CreateFDiv(F(b, 1.0), b.CreateFAdd(F(b, 1.0), Exp(b, b.CreateFNeg(x))));
}

// tanh(x) = sign(x) (1 - e) / (1 + e), e = exp(-2|x|).
llvm::Value* Tanh(llvm::IRBuilder<>& b, llvm::Value* x) {
  llvm::Value* ax = b.CreateUnaryIntrinsic(llvm::Intrinsic::fabs, x);
  llvm::Value* e = Exp(b, b.CreateFMul(ax, F(b, -2.0)));
  llvm::Value* t = b.CreateFDiv(b.CreateFSub(F(b, 1.0), e), b.CreateFAdd(F(b, 1.0), e));
  return b.CreateBinaryIntrinsic(llvm::Intrinsic::copysign, t, x);
}

// erf(x), Abramowitz & Stegun 7.1.26 (absolute error < 1.5e-7).
llvm::Value* Erf(llvm::IRBuilder<>& b, llvm::Value* x) {
  llvm::Value* ax = b.CreateUnaryIntrinsic(llvm::Intrinsic::fabs, x);
  llvm::Value* t = b.CreateFDiv(F(b, 1.0), b.CreateFAdd(F(b, 1.0), b.CreateFMul(ax, F(b, 0.3275911))));
  llvm::Value* p = b.CreateFMul(Poly(b, t, {1.061405429, -1.453152027, 1.421413741, -0.284496736, 0.254829592}), t);
  llvm::Value* e = Exp(b, b.CreateFNeg(b.CreateFMul(ax, ax)));
  llvm::Value* y = b.CreateFSub(F(b, 1.0), b.CreateFMul(p, e));
  return b.CreateBinaryIntrinsic(llvm::Intrinsic::copysign, y, x);
}

}  // namespace

llvm::Value* EmitPointwise(llvm::IRBuilder<>& b, OpKind op, llvm::ArrayRef<llvm::Value*> args) {
  // Which ops are pointwise, and of how many operands, is the op table's to say; the switch
  // below only spells out each one's math.
  const OpInfo& info = GetOpInfo(op);
  BRAID_CHECK(info.Has(kTraitPointwise), "EmitPointwise: not a pointwise op");
  BRAID_CHECK(args.size() == (info.Has(kTraitBinary) ? 2u : 1u), "EmitPointwise: wrong operand count");
  llvm::Value* x = args[0];
  switch (op) {
    case OpKind::kRelu:
      // x > 0 ? x : 0 (NaN -> 0, as in the interpreter).
      return b.CreateSelect(b.CreateFCmpOGT(x, F(b, 0.0)), x, F(b, 0.0));
    case OpKind::kSilu:
      return b.CreateFMul(x, Sigmoid(b, x));
    case OpKind::kGelu:
      return b.CreateFMul(b.CreateFMul(F(b, 0.5), x),
                          b.CreateFAdd(F(b, 1.0), Erf(b, b.CreateFMul(x, F(b, 0.70710678118654752)))));
    case OpKind::kGeluTanh: {
      llvm::Value* inner = b.CreateFMul(
          F(b, 0.79788456080286536),
          b.CreateFAdd(x, b.CreateFMul(F(b, 0.044715), b.CreateFMul(x, b.CreateFMul(x, x)))));
      return b.CreateFMul(b.CreateFMul(F(b, 0.5), x), b.CreateFAdd(F(b, 1.0), Tanh(b, inner)));
    }
    case OpKind::kSigmoid:
      return Sigmoid(b, x);
    case OpKind::kTanh:
      return Tanh(b, x);
    case OpKind::kExp:
      return Exp(b, x);
    case OpKind::kNeg:
      return b.CreateFNeg(x);
    case OpKind::kAdd:
      return b.CreateFAdd(x, args[1]);
    case OpKind::kSub:
      return b.CreateFSub(x, args[1]);
    case OpKind::kMul:
      return b.CreateFMul(x, args[1]);
    case OpKind::kDiv:
    case OpKind::kQuantize:  // x / s; storing it as i8 rounds and saturates (element_storage.h)
      return b.CreateFDiv(x, args[1]);
    case OpKind::kAbs:
      return b.CreateUnaryIntrinsic(llvm::Intrinsic::fabs, x);
    case OpKind::kRsqrt:
      return b.CreateFDiv(F(b, 1.0), b.CreateUnaryIntrinsic(llvm::Intrinsic::sqrt, x));
    case OpKind::kPow:
      return b.CreateBinaryIntrinsic(llvm::Intrinsic::pow, x, args[1]);
    case OpKind::kMaximum:
      // NaN-propagating, like torch.maximum and the interpreter.
      return b.CreateBinaryIntrinsic(llvm::Intrinsic::maximum, x, args[1]);
    default:
      BRAID_CHECK(false, "EmitPointwise: a pointwise op of the table has no emitter");
      return nullptr;
  }
}

}  // namespace braid
