// What the driver feeds a graph when it runs it: dim bindings from `--dims`, tensors from
// `--inputs` .npy files (which may also bind symbolic dims), seeded random data for the rest;
// and the checksum it prints for each output.
#ifndef BRAID_TOOLS_RUN_INPUTS_H_
#define BRAID_TOOLS_RUN_INPUTS_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "ir/graph.h"
#include "ir/tensor.h"

namespace braid {

// Parses "M=128,T=7". Values must be integers in [0, kMaxDimValue].
absl::StatusOr<DimBindings> ParseDimsFlag(absl::string_view text);

// Parses "x=a.npy,wg=w.npy" (names with or without '%') into name -> path.
absl::StatusOr<std::map<std::string, std::string>> ParseInputsFlag(absl::string_view text);

// One tensor per parameter of `graph`: loaded from `files` where named there, else uniform
// random in [-1, 1) from a generator seeded by (seed, parameter name). Symbolic dims not in
// `dims` are bound from the loaded files' shapes (and added to `dims`).
absl::StatusOr<std::vector<Tensor>> MakeInputs(const Graph& graph,
                                                   const std::map<std::string, Tensor>& files,
                                                   uint64_t seed, DimBindings& dims);

// Tensors for the `const` parameters only (as MakeInputs would make them), by name: enough to
// compile a graph without binding the dims of its runtime inputs.
absl::StatusOr<std::map<std::string, Tensor>> MakeConstants(
    const Graph& graph, const std::map<std::string, Tensor>& files, uint64_t seed,
    const DimBindings& dims);

// "sum=<s> abs_sum=<a>", computed in double in element order.
std::string Checksum(const Tensor& tensor);

}  // namespace braid

#endif  // BRAID_TOOLS_RUN_INPUTS_H_
