// Groups GEMMs that read the same activation into one `grouped_gemm` template node with one
// `multi_output` per GEMM; the old GEMMs' uses move to the `multi_output`s (which keep their
// names). Built on the matcher's variable-count MultiOutputPattern.
//
//   before                                   after
//   %q = linear(%x, %wq, %bq)                %q_k_v = grouped_gemm(%x, %wq, %bq, %wk, %wv)
//   %k = linear(%x, %wk)                         {act = [0, 0, 0], bias = [2, -1, -1],
//   %v = linear(%x, %wv)                          kind = [linear, linear, linear],
//   %r = add(%x, %q)                              weight = [1, 3, 4]}
//                                                : multi_output_layout(f32[M, 64], f32[M, 16], f32[M, 16])
//                                            %q = multi_output(%q_k_v) {index = 0}
//                                            %k = multi_output(%q_k_v) {index = 1}
//                                            %v = multi_output(%q_k_v) {index = 2}
//                                            %r = add(%x, %q)
//
// Groups: `linear` and `matmul` (any rank of activation) whose operand #0 is the same value;
// unequal output widths, mixed bias and mixed kinds group without concatenating weights, and
// other users of the activation (the residual `add` above) do not prevent grouping. A GEMM
// that depends on another one of the group (through any path) is left out, so grouping never
// creates a cycle. With `group_independent`, GEMMs whose activations are different values of
// the same type (same dims and dtype) group too.
//
// Not applicable: an activation read by a single GEMM. Output is deterministic: candidates are
// visited in graph order and names derive from the GEMMs'. Cost: the GEMMs are matched once and
// each bucket of siblings is looked at once per group it forms plus once; dependence checks
// walk use-lists no further than the bucket's last GEMM (about linear in the number of layers).
#ifndef BRAID_PASSES_GROUPED_GEMM_H_
#define BRAID_PASSES_GROUPED_GEMM_H_

#include "passes/pass.h"

namespace braid {

struct GroupedGemmOptions {
  bool group_independent = false;
};

class GroupedGemm : public Pass {
 public:
  explicit GroupedGemm(GroupedGemmOptions options = {}) : options_(options) {}
  absl::string_view name() const override { return "grouped-gemm"; }
  absl::StatusOr<bool> Run(Graph& graph) override;

 private:
  GroupedGemmOptions options_;
};

}  // namespace braid

#endif  // BRAID_PASSES_GROUPED_GEMM_H_
