// Slicing constants for one rank of a tensor-parallel graph (Graph::tensor_parallel): the user
// hands every rank the full weights, or each rank its own slices (per-rank files).
#ifndef BRAID_IR_TENSOR_SLICE_H_
#define BRAID_IR_TENSOR_SLICE_H_

#include <deque>
#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "ir/graph.h"
#include "ir/tensor.h"

namespace braid {

// A dense copy of elements [slice.begin, slice.end) along `slice.axis` of `full`, whose
// `axis` dim must be `slice.full` (checked).
absl::StatusOr<Tensor> SliceTensor(const TensorView& full, const ConstSlice& slice);

// For every constant `graph` holds a slice of: a view in `constants` with the full tensor's
// dim along the slice's axis is replaced by a view of a copy of this rank's slice, kept in
// `owned`; any other view (e.g. already the slice) is left for the caller's shape check.
absl::Status SliceConstantsForRank(const Graph& graph, std::map<std::string, TensorView>& constants,
                                   std::deque<Tensor>& owned);

}  // namespace braid

#endif  // BRAID_IR_TENSOR_SLICE_H_
