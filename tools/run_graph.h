// What `braid --run` does with one graph: compile it with the JIT (or use the interpreter),
// run it, and optionally compare with the interpreter (--verify) and time it (--bench).
#ifndef BRAID_TOOLS_RUN_GRAPH_H_
#define BRAID_TOOLS_RUN_GRAPH_H_

#include <atomic>
#include <functional>
#include <map>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "codegen/compiled_graph.h"
#include "ir/graph.h"

namespace braid {

struct RunRequest {
  DimBindings dims;
  std::map<std::string, Tensor> files;  // --inputs
  uint64_t seed = 0;
  bool interpret = false;
  bool verify = false;
  bool bench = false;
  CompileOptions compile;
  // Tensor parallelism (--tp): `graph` is one rank's share of `unsharded`, whose inputs and
  // full constants are made (the same on every rank: same seed) and whose interpretation
  // --verify compares with. `agree` combines the ranks' statuses wherever they must not part
  // ways (a rank failing alone would leave the others waiting in an all_reduce), `agree_min`
  // their bench run counts; `all_reduce_ns` counts the time spent in the collective.
  const Graph* unsharded = nullptr;
  std::function<absl::Status(absl::Status)> agree;
  std::function<int64_t(int64_t)> agree_min;
  const std::atomic<int64_t>* all_reduce_ns = nullptr;
};

// Runs `graph`, prints a header and per-output checksums (and verify/bench lines) to `out`, and
// returns the outputs. A --verify mismatch is an error.
absl::StatusOr<std::vector<Tensor>> RunGraph(const Graph& graph, const RunRequest& request,
                                                 std::ostream& out);

// Bytes of the constant GEMM weights of `graph` at `dims` (each counted once per GEMM).
double GemmWeightBytes(const Graph& graph, const DimBindings& dims);

// 2·rows·K·N summed over every GEMM of `graph` at `dims`.
double GemmFlops(const Graph& graph, const DimBindings& dims);

}  // namespace braid

#endif  // BRAID_TOOLS_RUN_GRAPH_H_
