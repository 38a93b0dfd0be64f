// Result-type inference: what each op produces from its operand types and attributes. The
// parser uses it for results written without a type; the verifier uses it to check declared
// types. Errors carry no location; callers attach the node's.
#ifndef BRAID_IR_TYPE_INFERENCE_H_
#define BRAID_IR_TYPE_INFERENCE_H_

#include <vector>

#include "absl/status/statusor.h"
#include "ir/graph.h"

namespace braid {

// Checks the attributes of `op` (names, kinds, ranges) and infers its result type. `declared`
// is the type written after ':' (null if none): reshape and expand take their shape from it.
absl::StatusOr<Type> InferResultType(OpKind op, const std::vector<const Type*>& operands,
                                     const Attributes& attrs, const Type* declared = nullptr);

// NumPy broadcasting of two shapes: trailing-aligned dims must be equal or a literal 1.
absl::StatusOr<Shape> BroadcastShapes(const Shape& a, const Shape& b);

// One GEMM's result: `linear` (w is [N, K], optional bias [N]) or `matmul` (b is [K, N]),
// with an optional weight scale (f32, one per output column).
absl::StatusOr<TensorType> InferGemmType(OpKind kind, const TensorType& x, const TensorType& w,
                                         const TensorType* bias, const TensorType* scale = nullptr);

}  // namespace braid

#endif  // BRAID_IR_TYPE_INFERENCE_H_
