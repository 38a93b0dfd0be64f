// How generated code holds each dtype in memory and computes on it: every value is computed
// as f32 in registers; in memory f32 is itself and bf16 is the top half of an f32's bits.
// Loads widen exactly (zero-extend, shift left 16); stores round to nearest even, NaNs stay
// (quiet) NaNs — the rule of ir/scalar_convert.h; i8 (quantize's result, read by i8 GEMMs and
// convert) sign-extends, and is stored rounded to nearest even and saturated, NaN as 0, so compiled and interpreted bf16 agree bit
// for bit on what one rounding gives. Integer arithmetic only: any x86-64 host runs it, and
// the loop vectoriser widens it like the surrounding float code.
#ifndef BRAID_CODEGEN_ELEMENT_STORAGE_H_
#define BRAID_CODEGEN_ELEMENT_STORAGE_H_

#include "ir/types.h"
#include "llvm/IR/IRBuilder.h"

namespace braid {

// True for the dtypes generated code stores and loads (f32, bf16, i8).
bool IsStorageDType(DType dtype);

// The in-memory element type: float for f32, i16 for bf16, i8 for i8.
llvm::Type* StorageType(llvm::IRBuilder<>& b, DType dtype);

// `stored` (a scalar or vector of StorageType) as f32 lanes, exactly.
llvm::Value* WidenToF32(llvm::IRBuilder<>& b, DType dtype, llvm::Value* stored);
// f32 lanes `value` rounded to `dtype`'s storage (nearest even).
llvm::Value* RoundFromF32(llvm::IRBuilder<>& b, DType dtype, llvm::Value* value);
// `value` rounded to `dtype` and widened back: what `convert {to = dtype}` means in registers.
llvm::Value* RoundTripF32(llvm::IRBuilder<>& b, DType dtype, llvm::Value* value);

// Element `index` of a `dtype` buffer at `base`, as f32; and the store of an f32 into it.
llvm::Value* LoadAsF32(llvm::IRBuilder<>& b, DType dtype, llvm::Value* base, llvm::Value* index);
void StoreFromF32(llvm::IRBuilder<>& b, DType dtype, llvm::Value* value, llvm::Value* base, llvm::Value* index);

}  // namespace braid

#endif  // BRAID_CODEGEN_ELEMENT_STORAGE_H_
