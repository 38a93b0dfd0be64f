// The test-graph corpus: every `.ir` file under examples/ and tests/lit/ (split at `// -----`),
// with helpers to bind small dims, make seeded inputs and compare outputs. Differential tests
// (pipeline, schedule, later codegen) run over all of it.
#ifndef BRAID_TESTS_GRAPH_CORPUS_H_
#define BRAID_TESTS_GRAPH_CORPUS_H_

#include <string>
#include <vector>

#include "ir/graph.h"
#include "ir/tensor.h"

namespace braid::testing {

struct CorpusEntry {
  std::string file;
  std::string text;  // one chunk that parses, verifies and compiles (as written or after --O)
  // False for graphs that compile only once the default pipeline has run (an int8 weight's
  // dequantisation must fold into its GEMM first).
  bool compiles_as_written = true;
};

// Every executable chunk of every corpus file, in a fixed order.
std::vector<CorpusEntry> LoadCorpus();

// Binds every symbolic dim of `graph` to a small odd value (3 or 5).
DimBindings SmallDims(const Graph& graph);

// Uniform [-1, 1) inputs for every parameter at `dims`, from a fixed seed (i8 parameters:
// uniform integers in [-127, 127]).
std::vector<Tensor> RandomInputs(const Graph& graph, const DimBindings& dims, unsigned seed = 42);

// gtest assertions: same shapes, and values within `rel_tol` (relative, floored at 1); NaN
// matches NaN.
void ExpectNear(const std::vector<Tensor>& want, const std::vector<Tensor>& got,
                const std::string& where, float rel_tol = 1e-5f);

}  // namespace braid::testing

#endif  // BRAID_TESTS_GRAPH_CORPUS_H_
