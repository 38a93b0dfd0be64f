// concat(neg(x[..., h:]), x[..., :h]) -> rotate_half(x).
#include "passes/fold_rotate_half.h"

#include "ir/tensor_op_types.h"
#include "passes/pattern.h"

namespace braid {
namespace {

// `v` is computed along the last dim of its (first) operand, with attribute `axis` naming it.
bool AlongLastDim(const Value& v) {
  const Node* node = v.def();
  const int rank = node->operand(0)->type().tensor().rank();
  auto axis = NormalizeAxis(*node->IntAttr("axis"), rank);
  return axis.ok() && *axis == rank - 1;
}

// A slice of the last dim, [start, end) in halves of it: `first` the lower half, else the upper.
std::function<bool(const Value&)> Half(bool first) {
  return [first](const Value& v) {
    if (!AlongLastDim(v)) return false;
    const Dim& d = v.def()->operand(0)->type().tensor().shape.back();
    if (d.is_symbolic() || d.value() % 2 != 0) return false;
    const int64_t half = d.value() / 2;
    return *v.def()->IntAttr("start") == (first ? 0 : half) && *v.def()->IntAttr("end") == (first ? half : 2 * half);
  };
}

}  // namespace

absl::StatusOr<bool> FoldRotateHalf::Run(Graph& graph) {
  RewriteRule rule{
      "concat(neg(x[..., h:]), x[..., :h]) -> rotate_half(x)",
      Pattern::Op(OpKind::kConcat,
                  {Pattern::Op(OpKind::kNeg, {Pattern::Op(OpKind::kSlice, {Pattern::Any().Capture("x")})
                                                  .Where(Half(/*first=*/false))}),
                   Pattern::Op(OpKind::kSlice, {Pattern::Same("x")}).Where(Half(/*first=*/true))})
          .Where([](const Value& v) { return v.def()->operands().size() == 2 && AlongLastDim(v); }),
      [](Graph& g, Node& concat, const PatternMatch& m) -> absl::StatusOr<bool> {
        Value* x = m["x"];
        Node* rotate = g.InsertNode(&concat, OpKind::kRotateHalf, {x}, {}, g.UniqueName("rotate_half"), x->type(),
                                    concat.loc());
        g.ReplaceNode(&concat, rotate->result());
        return true;
      }};
  return ApplyRewriteRules(graph, {rule}, debug());
}

}  // namespace braid
