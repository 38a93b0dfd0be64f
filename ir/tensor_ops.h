// The reference meaning of the shape ops, reductions and batch_matmul, on f32 tensors (the
// interpreter widens narrower operands first and rounds the result after, as for every op).
// Plain loops; reductions accumulate in double.
#ifndef BRAID_IR_TENSOR_OPS_H_
#define BRAID_IR_TENSOR_OPS_H_

#include <vector>

#include "absl/status/statusor.h"
#include "ir/graph.h"
#include "ir/tensor.h"

namespace braid {

// Evaluates `node` (kTraitShape, kTraitReduction or kTraitBatchMatmul) on f32 operands. `dims`
// binds the symbols of result types written in the graph (reshape, expand).
absl::StatusOr<Tensor> EvaluateTensorOp(const Node& node, const std::vector<const Tensor*>& operands,
                                        const DimBindings& dims);

}  // namespace braid

#endif  // BRAID_IR_TENSOR_OPS_H_
