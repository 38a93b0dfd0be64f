// A schedule: the graph cut into kernels, and which values reach memory. Built by
// BuildSchedule (fusion.h); printed by `--emit=schedule`, drawn by `--emit=dot`, executed by
// the schedule executor and, later, by codegen.
#ifndef BRAID_SCHEDULER_SCHEDULE_H_
#define BRAID_SCHEDULER_SCHEDULE_H_

#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "ir/graph.h"

namespace braid {

enum class KernelKind {
  kGemm,         // one linear/matmul template (+ epilogues)
  kGroupedGemm,  // a grouped_gemm template fused with its multi_outputs (+ epilogues)
  kPointwise,    // a loop over one iteration space running a chain of pointwise ops
  kAllReduce,    // one all_reduce: a call into the graph's Collective (nothing fuses into it)
  kCopy,         // one shape op (reshape, transpose, slice, concat, expand): elements moved
  kReduction,    // one reduction (reduce_*, softmax, rms_norm): a loop over rows of its axis
  kBatchMatmul,  // one batch_matmul of two activations
  kAttention,    // one attention template (online softmax, scores never in memory)
  kView,         // one reshape that is not a graph output: no code, its result is its operand's
                 // buffer seen with another shape (row-major order is the same)
};
// Kernels of one node that nothing fuses into yet (collectives, shape ops, reductions,
// batch_matmul, attention).
inline bool RunsAlone(KernelKind kind) {
  return kind == KernelKind::kAllReduce || kind == KernelKind::kCopy || kind == KernelKind::kReduction ||
         kind == KernelKind::kBatchMatmul || kind == KernelKind::kAttention || kind == KernelKind::kView;
}
const char* KernelKindName(KernelKind kind);

struct Kernel {
  KernelKind kind = KernelKind::kPointwise;
  // Every node the kernel computes, in graph order. For GEMM kernels the template node comes
  // first, then its multi_outputs, then `epilogues`.
  std::vector<const Node*> nodes;
  // The pointwise nodes fused after the template (empty for pointwise kernels).
  std::vector<const Node*> epilogues;
  // Values read from memory: graph parameters or values another kernel materialised.
  std::vector<const Value*> inputs;
  // Values this kernel writes to memory (graph outputs and values other kernels read).
  std::vector<const Value*> outputs;

  bool is_template() const { return kind == KernelKind::kGemm || kind == KernelKind::kGroupedGemm; }
  const Node* template_node() const { return is_template() ? nodes.front() : nullptr; }
};

struct Schedule {
  const Graph* graph = nullptr;
  std::vector<Kernel> kernels;  // in execution order
  absl::flat_hash_set<const Value*> materialized;
  std::vector<const Value*> eliminated;  // node results never written to memory, graph order
};

// Bytes of the eliminated intermediates as a sum of monomials over the symbolic dims, e.g.
// "132096*M"; with every symbol bound by `dims`, also the number: "132096*M = 16908288 at M=128".
std::string EliminatedBytes(const Schedule& schedule, const DimBindings& dims);

// `--emit=schedule`: one `kernel <i>: ...` line per kernel, then `eliminated: ...` and
// `bytes saved: ...`. Deterministic.
std::string PrintSchedule(const Schedule& schedule, const DimBindings& dims);

// `--emit=dot`: Graphviz, one cluster per kernel; dashed edges carry values that never reach
// memory.
std::string ScheduleToDot(const Schedule& schedule);

}  // namespace braid

#endif  // BRAID_SCHEDULER_SCHEDULE_H_
