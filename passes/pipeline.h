// The pass registry and the default pipeline, as plain code in one place (no static
// registration): what `--passes=`, `--list-passes` and `--O` see.
#ifndef BRAID_PASSES_PIPELINE_H_
#define BRAID_PASSES_PIPELINE_H_

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "passes/pass.h"

namespace braid {

struct PipelineOptions {
  bool group_independent = false;  // grouped-gemm: also group different activations of one type
  // tensor-parallel: shard for this rank of this many (1: the pass does nothing).
  int tp_rank = 0;
  int tp_size = 1;
};

// (name, one-line description) of every pass, in registry order.
std::vector<std::pair<std::string, std::string>> ListPasses();

// The pass called `name`, or an error listing the known names.
absl::StatusOr<std::unique_ptr<Pass>> CreatePass(absl::string_view name,
                                                 const PipelineOptions& options);

// `--O`: the sharding passes (when tp_size > 1), fold-silu, fold-attention, fold-rotate-half,
// fold-weight-convert, fold-rms-norm, grouped-gemm, dce.
std::vector<std::unique_ptr<Pass>> DefaultPipeline(const PipelineOptions& options);

// Runs DefaultPipeline on `graph` with a verifying pass manager; true if it changed.
// What sharding for tensor parallelism runs: fold-weight-convert and dce (so a bf16 or int8
// weight is a constant — with its scale — that the slicing reads directly), then the
// tensor-parallel pass for `rank` of `size`.
std::vector<std::unique_ptr<Pass>> ShardingPasses(int rank, int size);

absl::StatusOr<bool> RunDefaultPipeline(Graph& graph, const PipelineOptions& options = {});

}  // namespace braid

#endif  // BRAID_PASSES_PIPELINE_H_
