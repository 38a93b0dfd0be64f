// Every rank of a tensor-parallel run in one process: what proves the tensor-parallel pass
// changes no result (tests, and `braid --tp=N --interpret`, which needs no MPI).
#ifndef BRAID_PASSES_TENSOR_PARALLEL_RANKS_H_
#define BRAID_PASSES_TENSOR_PARALLEL_RANKS_H_

#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "ir/graph.h"
#include "ir/tensor.h"

namespace braid {

// Rank `rank` of `size`'s graph: a copy of the single-process `graph` after ShardingPasses
// (passes/pipeline.h; verified).
absl::StatusOr<std::unique_ptr<Graph>> ShardGraph(const Graph& graph, int rank, int size);

// Interprets `graph` (single-process; `inputs` one per parameter, constants full) as `size`
// ranks, each its own sharded graph with its slices of the constants on a thread of its own,
// summing through a LocalGroup. Returns every rank's outputs: each should equal the
// single-process graph's within f32 reassociation. A rank's error (e.g. a shape) fails all.
absl::StatusOr<std::vector<std::vector<Tensor>>> InterpretTensorParallel(
    const Graph& graph, const std::vector<Tensor>& inputs, const DimBindings& dims, int size);

}  // namespace braid

#endif  // BRAID_PASSES_TENSOR_PARALLEL_RANKS_H_
