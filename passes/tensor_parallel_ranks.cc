// Ranks as threads, each interpreting its own shard.
#include "passes/tensor_parallel_ranks.h"

#include <thread>

#include "absl/strings/str_cat.h"
#include "ir/interpreter.h"
#include "ir/local_collective.h"
#include "ir/status_macros.h"
#include "ir/tensor_slice.h"
#include "ir/verifier.h"
#include "passes/pipeline.h"

namespace braid {

absl::StatusOr<std::unique_ptr<Graph>> ShardGraph(const Graph& graph, int rank, int size) {
  std::unique_ptr<Graph> shard = graph.Clone();
  for (auto& pass : ShardingPasses(rank, size)) BRAID_RETURN_IF_ERROR(pass->Run(*shard).status());
  BRAID_RETURN_IF_ERROR(VerifyGraph(*shard));
  return shard;
}

absl::StatusOr<std::vector<std::vector<Tensor>>> InterpretTensorParallel(
    const Graph& graph, const std::vector<Tensor>& inputs, const DimBindings& dims, int size) {
  BRAID_RETURN_IF_ERROR(ValidateInputs(graph, inputs, dims));
  std::vector<std::unique_ptr<Graph>> shards;
  std::vector<std::vector<Tensor>> rank_inputs(size);
  for (int r = 0; r < size; ++r) {
    BRAID_ASSIGN_OR_RETURN(shards.emplace_back(), ShardGraph(graph, r, size));
    const auto& slices = shards.back()->tensor_parallel()->slices;
    for (size_t i = 0; i < inputs.size(); ++i) {
      auto it = slices.find(graph.params()[i]->name());
      if (it == slices.end()) {
        rank_inputs[r].push_back(inputs[i]);
      } else {
        BRAID_ASSIGN_OR_RETURN(rank_inputs[r].emplace_back(), SliceTensor(inputs[i].view(), it->second));
      }
    }
  }
  LocalGroup group(size);
  std::vector<absl::StatusOr<std::vector<Tensor>>> results(size, absl::UnknownError("not run"));
  auto run = [&](int r) {
    InterpretOptions options;
    options.collective = &group.rank(r);
    results[r] = Interpret(*shards[r], rank_inputs[r], dims, options);
    if (!results[r].ok()) group.Abort(absl::StrCat("rank ", r, " failed"));
  };
  std::vector<std::thread> threads;
  for (int r = 1; r < size; ++r) threads.emplace_back(run, r);
  run(0);
  for (std::thread& t : threads) t.join();
  std::vector<std::vector<Tensor>> outputs;
  // The failing rank's own error first: the others only say they were aborted.
  std::stable_partition(results.begin(), results.end(), [](const auto& result) {
    return result.ok() || result.status().code() != absl::StatusCode::kAborted;
  });
  for (int r = 0; r < size; ++r) {
    if (!results[r].ok()) {
      return absl::Status(results[r].status().code(),
                          absl::StrCat("rank ", r, " of ", size, ": ", results[r].status().message()));
    }
    outputs.push_back(*std::move(results[r]));
  }
  return outputs;
}

}  // namespace braid
