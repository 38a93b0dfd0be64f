// Result types of the ops a whole transformer layer needs besides GEMMs and pointwise math:
// shape ops (reshape, transpose, slice, concat, expand), reductions (reduce_*, softmax,
// rms_norm) and batch_matmul. Split from type_inference.cc, which dispatches here; errors carry
// no location (the caller attaches the node's).
#ifndef BRAID_IR_TENSOR_OP_TYPES_H_
#define BRAID_IR_TENSOR_OP_TYPES_H_

#include <vector>

#include "absl/status/statusor.h"
#include "ir/graph.h"

namespace braid {

// `op` has kTraitShape, kTraitReduction, kTraitBatchMatmul or kTraitAttention. `declared` is the written result
// type (null when absent): reshape and expand take their shape from it.
absl::StatusOr<TensorType> InferTensorOpType(OpKind op, const std::vector<const TensorType*>& operands,
                                             const Attributes& attrs, const Type* declared);

// An `axis` attribute (negative counts from the end) as an index in [0, rank), or an error.
absl::StatusOr<int> NormalizeAxis(int64_t axis, int rank);

// The attribute `keepdim` of a reduction (absent: false).
bool KeepDim(const Attributes& attrs);

// attention's `causal` (absent: false) and `scale` (absent: 1 / sqrt(head_dim)).
bool AttentionCausal(const Attributes& attrs);
double AttentionScale(const Attributes& attrs, int64_t head_dim);
// `masked_rows = zero`: a query row that sees no key (every score -inf) is 0, as torch's
// scaled_dot_product_attention makes it; by default (`nan`) it is NaN, as softmax's
// decomposition gives.
bool AttentionZeroMaskedRows(const Attributes& attrs);

// The product of a shape's dims as one dim (`[B, T, 4096]` -> `4096*B*T`); an error if a
// coefficient overflows.
absl::StatusOr<Dim> ShapeProduct(const Shape& shape);

}  // namespace braid

#endif  // BRAID_IR_TENSOR_OP_TYPES_H_
