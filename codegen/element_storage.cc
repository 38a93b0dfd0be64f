// f32 and bf16 in memory, f32 in registers.
#include "codegen/element_storage.h"

#include "ir/status_macros.h"

namespace braid {
namespace {

// The integer type with the lanes of `like` (scalar or vector) and `bits` bits each.
llvm::Type* IntLike(llvm::Type* like, unsigned bits) {
  llvm::Type* element = llvm::IntegerType::get(like->getContext(), bits);
  if (auto* vector = llvm::dyn_cast<llvm::VectorType>(like)) return llvm::VectorType::get(element, vector);
  return element;
}

llvm::Value* Splat(llvm::IRBuilder<>& b, llvm::Type* type, uint64_t value) {
  return llvm::ConstantInt::get(type, value);  // splats for vector types
}

}  // namespace

bool IsStorageDType(DType dtype) { return dtype == DType::kF32 || dtype == DType::kBF16 || dtype == DType::kI8; }

llvm::Type* StorageType(llvm::IRBuilder<>& b, DType dtype) {
  BRAID_CHECK(IsStorageDType(dtype), "generated code stores f32, bf16 and i8 only");
  if (dtype == DType::kI8) return b.getInt8Ty();
  return dtype == DType::kBF16 ? static_cast<llvm::Type*>(b.getInt16Ty()) : b.getFloatTy();
}

llvm::Value* WidenToF32(llvm::IRBuilder<>& b, DType dtype, llvm::Value* stored) {
  if (dtype == DType::kF32) return stored;
  if (dtype == DType::kI8) {
    llvm::Type* f32 = b.getFloatTy();
    if (auto* vector = llvm::dyn_cast<llvm::VectorType>(stored->getType())) f32 = llvm::VectorType::get(f32, vector);
    return b.CreateSIToFP(stored, f32);
  }
  BRAID_CHECK(dtype == DType::kBF16, "WidenToF32: f32 or bf16");
  llvm::Type* i32 = IntLike(stored->getType(), 32);
  llvm::Value* bits = b.CreateShl(b.CreateZExt(stored, i32), Splat(b, i32, 16));
  llvm::Type* f32 = b.getFloatTy();
  if (auto* vector = llvm::dyn_cast<llvm::VectorType>(i32)) f32 = llvm::VectorType::get(f32, vector);
  return b.CreateBitCast(bits, f32);
}

llvm::Value* RoundFromF32(llvm::IRBuilder<>& b, DType dtype, llvm::Value* value) {
  if (dtype == DType::kF32) return value;
  if (dtype == DType::kI8) {
    // The interpreter's i8 conversion: nearest even, saturated to [-128, 127], NaN to 0 (the
    // clamp first, so the conversion is always defined; minnum/maxnum pass a NaN through, which
    // the select then replaces).
    llvm::Type* type = value->getType();
    llvm::Value* clamped = b.CreateBinaryIntrinsic(
        llvm::Intrinsic::minnum,
        b.CreateBinaryIntrinsic(llvm::Intrinsic::maxnum, b.CreateUnaryIntrinsic(llvm::Intrinsic::rint, value),
                                llvm::ConstantFP::get(type, -128.0)),
        llvm::ConstantFP::get(type, 127.0));
    llvm::Value* zeroed = b.CreateSelect(b.CreateFCmpUNO(value, value), llvm::ConstantFP::get(type, 0.0), clamped);
    return b.CreateFPToSI(zeroed, IntLike(type, 8));
  }
  BRAID_CHECK(dtype == DType::kBF16, "RoundFromF32: f32 or bf16");
  llvm::Type* i32 = IntLike(value->getType(), 32);
  llvm::Type* i16 = IntLike(value->getType(), 16);
  llvm::Value* u = b.CreateBitCast(value, i32);
  // Nearest even on the 16 discarded bits: add 0x7fff plus the lowest kept bit; a carry into
  // the exponent rounds up to the next binade (or to infinity), as it should.
  llvm::Value* lowest_kept = b.CreateAnd(b.CreateLShr(u, Splat(b, i32, 16)), Splat(b, i32, 1));
  llvm::Value* rounded = b.CreateLShr(b.CreateAdd(u, b.CreateAdd(lowest_kept, Splat(b, i32, 0x7fff))),
                                      Splat(b, i32, 16));
  // NaNs keep their sign and top payload bits and become quiet (the rounding could carry a
  // NaN's payload into an infinity).
  llvm::Value* quiet_nan = b.CreateOr(b.CreateLShr(u, Splat(b, i32, 16)), Splat(b, i32, 0x40));
  llvm::Value* is_nan = b.CreateFCmpUNO(value, value);
  return b.CreateTrunc(b.CreateSelect(is_nan, quiet_nan, rounded), i16);
}

llvm::Value* RoundTripF32(llvm::IRBuilder<>& b, DType dtype, llvm::Value* value) {
  return WidenToF32(b, dtype, RoundFromF32(b, dtype, value));
}

llvm::Value* LoadAsF32(llvm::IRBuilder<>& b, DType dtype, llvm::Value* base, llvm::Value* index) {
  llvm::Type* type = StorageType(b, dtype);
  return WidenToF32(b, dtype, b.CreateLoad(type, b.CreateInBoundsGEP(type, base, index)));
}

void StoreFromF32(llvm::IRBuilder<>& b, DType dtype, llvm::Value* value, llvm::Value* base, llvm::Value* index) {
  llvm::Type* type = StorageType(b, dtype);
  b.CreateStore(RoundFromF32(b, dtype, value), b.CreateInBoundsGEP(type, base, index));
}

}  // namespace braid
