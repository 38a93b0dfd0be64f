// The reference interpreter: it defines what every op means. Simple loops, accumulation in
// double, no cleverness — it is the oracle every compiled result is compared against.
//
// Dtypes: every op computes in f32 — operands of a narrower dtype (bf16, f16) are widened
// exactly first — and its result is rounded to the op's declared dtype (to nearest even). GEMMs
// accumulate in double and round once. `convert` is exactly that rounding (or an exact widening:
// i8/i32 -> f32 and bf16/f16 -> f32 are exact).
#ifndef BRAID_IR_INTERPRETER_H_
#define BRAID_IR_INTERPRETER_H_

#include <functional>
#include <vector>

#include "absl/status/statusor.h"
#include "ir/collective.h"
#include "ir/graph.h"
#include "ir/tensor.h"

namespace braid {

struct InterpretOptions {
  // Every value of the graph at the bound dims must fit in this many bytes together; checked
  // before anything is allocated.
  int64_t max_total_bytes = int64_t{16} << 30;
  // The group `all_reduce` sums over (this process is its rank()); null: one rank, so
  // all_reduce is the identity.
  Collective* collective = nullptr;
};

// Runs a verified `graph` with one input per parameter (in order) and `dims` binding its
// symbolic dims. Returns one tensor per graph output.
absl::StatusOr<std::vector<Tensor>> Interpret(const Graph& graph,
                                                  const std::vector<Tensor>& inputs,
                                                  const DimBindings& dims,
                                                  const InterpretOptions& options = {});

// Reads part `part` of a value (0 for tensors; the GEMM index for a multi_output_layout).
using OperandLookup = std::function<const Tensor&(const Value*, int part)>;

// Evaluates one node of a verified graph: one tensor, or one per GEMM for grouped_gemm. The
// building block of Interpret and of the schedule executor. `collective` as in InterpretOptions.
// `dims` binds the symbols of result types the graph writes (reshape, expand).
absl::StatusOr<std::vector<Tensor>> EvaluateNode(const Node& node, const OperandLookup& lookup,
                                                 const DimBindings& dims, Collective* collective = nullptr);

// Checks that `inputs` fit `graph` at `dims` (count, f32, shapes) with located errors.
absl::Status ValidateInputs(const Graph& graph, const std::vector<Tensor>& inputs,
                            const DimBindings& dims);

// The concrete shape of each graph parameter under `dims`, with a located error for an unbound
// symbol or an oversized tensor.
absl::StatusOr<std::vector<std::vector<int64_t>>> BindParamShapes(const Graph& graph,
                                                                  const DimBindings& dims);

}  // namespace braid

#endif  // BRAID_IR_INTERPRETER_H_
