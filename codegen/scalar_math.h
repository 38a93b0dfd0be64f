// The fp32 meaning of every pointwise op as straight-line scalar LLVM IR, with exp, tanh, erf
// and friends expanded into branch-free polynomial code (no libm calls), so the loop
// vectoriser turns epilogue and pointwise loops into full-width vector code. Accuracy: a few
// ulp for exp/sigmoid/silu, ~1.5e-7 absolute for erf (GELU); see tests/codegen.
#ifndef BRAID_CODEGEN_SCALAR_MATH_H_
#define BRAID_CODEGEN_SCALAR_MATH_H_

#include "ir/op_table.h"
#include "llvm/ADT/ArrayRef.h"
#include "llvm/IR/IRBuilder.h"

namespace braid {

// `args` are float values (one for unary ops, two for binary ones).
llvm::Value* EmitPointwise(llvm::IRBuilder<>& b, OpKind op, llvm::ArrayRef<llvm::Value*> args);

// exp(x) as EmitPointwise(kExp) computes it, for a float or a vector of floats.
llvm::Value* EmitExp(llvm::IRBuilder<>& b, llvm::Value* x);

}  // namespace braid

#endif  // BRAID_CODEGEN_SCALAR_MATH_H_
