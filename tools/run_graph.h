// What `braid --run` does with one graph: compile it with the JIT (or use the interpreter),
// run it, and optionally compare with the interpreter (--verify) and time it (--bench).
#ifndef BRAID_TOOLS_RUN_GRAPH_H_
#define BRAID_TOOLS_RUN_GRAPH_H_

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
