// mul(x, sigmoid(x)) -> silu(x).
#include "passes/fold_silu.h"

#include "passes/pattern.h"

namespace braid {

absl::StatusOr<bool> FoldSilu::Run(Graph& graph) {
  // mul(x, sigmoid(x)), either operand order. The result keeps mul's type: a broadcast mul
  // (x smaller than its own sigmoid cannot happen, both have x's shape) is the same shape.
  RewriteRule rule{
      "mul(x, sigmoid(x)) -> silu(x)",
      Pattern::Op(OpKind::kMul, {Pattern::Any().Capture("x"),
                                 Pattern::Op(OpKind::kSigmoid, {Pattern::Same("x")})})
          .Commutative(),
      [](Graph& g, Node& mul, const PatternMatch& m) -> absl::StatusOr<bool> {
        Value* x = m["x"];
        Node* silu = g.InsertNode(&mul, OpKind::kSilu, {x}, {}, g.UniqueName("silu"), x->type(),
                                  mul.loc());
        g.ReplaceNode(&mul, silu->result());
        return true;
      }};
  return ApplyRewriteRules(graph, {rule}, debug());
}

}  // namespace braid
