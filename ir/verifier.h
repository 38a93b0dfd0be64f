// The verifier: a graph is well formed when it is in SSA form (every value defined once,
// before its uses), every node has the arity and attributes its op table entry asks for, every
// declared type equals the inferred one, layout values are read only by `multi_output`, and
// the returned values exist, are tensors and match the declared result types.
#ifndef BRAID_IR_VERIFIER_H_
#define BRAID_IR_VERIFIER_H_

#include "absl/status/status.h"
#include "ir/graph.h"

namespace braid {

absl::Status VerifyGraph(const Graph& graph);
absl::Status VerifyModule(const Module& module);

}  // namespace braid

#endif  // BRAID_IR_VERIFIER_H_
