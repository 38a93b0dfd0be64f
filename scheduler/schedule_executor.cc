// Kernel-by-kernel execution of a schedule.
#include "scheduler/schedule_executor.h"

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "ir/interpreter.h"
#include "ir/status_macros.h"

namespace braid {

absl::StatusOr<std::vector<Tensor>> ExecuteSchedule(const Schedule& schedule,
                                                        const std::vector<Tensor>& inputs,
                                                        const DimBindings& dims) {
  const Graph& graph = *schedule.graph;
  BRAID_RETURN_IF_ERROR(ValidateInputs(graph, inputs, dims));
  absl::flat_hash_map<const Value*, const Tensor*> params;
  for (size_t i = 0; i < inputs.size(); ++i) params[graph.params()[i]] = &inputs[i];
  absl::flat_hash_map<const Value*, Tensor> memory;  // materialised values
  for (const Kernel& kernel : schedule.kernels) {
    const absl::flat_hash_set<const Value*> allowed(kernel.inputs.begin(), kernel.inputs.end());
    absl::flat_hash_map<const Value*, std::vector<Tensor>> local;  // lives for this kernel
    for (const Node* node : kernel.nodes) {
      auto results = EvaluateNode(*node, [&](const Value* v, int part) -> const Tensor& {
        auto in_kernel = local.find(v);
        if (in_kernel != local.end()) return in_kernel->second.at(part);
        BRAID_CHECK(allowed.contains(v), "a kernel reads a value that is not among its inputs");
        if (v->is_param()) return *params.at(v);
        auto stored = memory.find(v);
        BRAID_CHECK(stored != memory.end(), "a kernel reads a value no earlier kernel materialised");
        return stored->second;
      }, dims);
      if (!results.ok()) {
        return LocatedError(graph.source(), node->loc(), results.status().message(),
                            absl::StrCat("@", graph.name()));
      }
      local[node->result()] = *std::move(results);
    }
    for (const Value* out : kernel.outputs) memory[out] = std::move(local.at(out).front());
  }
  std::vector<Tensor> results;
  for (const Value* v : graph.outputs()) {
    if (v->is_param()) {
      results.push_back(*params.at(v));
      continue;
    }
    auto it = memory.find(v);
    BRAID_CHECK(it != memory.end(), "a graph output was not materialised");
    results.push_back(it->second);
  }
  return results;
}

}  // namespace braid
