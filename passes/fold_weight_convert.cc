// linear(x, convert(w_bf16)) -> linear(x, w_bf16);
// linear(x, mul(convert(w_i8), s)) -> linear(x, w_i8, s) {scale}.
#include "passes/fold_weight_convert.h"

#include <ostream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "ir/gemm.h"

namespace braid {
namespace {

// Why `convert` (feeding a GEMM weight, directly or through its scale) cannot be folded, or
// empty if it can.
std::string WhyNotFolded(const Node& convert, const Value& act) {
  const Value* source = convert.operand(0);
  const DType from = source->type().tensor().dtype;
  const DType to = convert.result()->type().tensor().dtype;
  const DType act_dtype = act.type().tensor().dtype;
  // f32 GEMMs keep bf16, f16 or i8 weights; bf16 GEMMs keep i8 weights (exact in bf16).
  if (act_dtype == DType::kBF16) {
    if (to != DType::kBF16) return "it converts to " + std::string(DTypeName(to)) + ", not the activation's bf16";
    if (from != DType::kI8) return "its source is " + std::string(DTypeName(from)) + " (i8 folds into a bf16 GEMM)";
  } else {
    if (to != DType::kF32) return "it converts to " + std::string(DTypeName(to)) + ", not f32";
    if (from != DType::kBF16 && from != DType::kF16 && from != DType::kI8) {
      return "its source is " + std::string(DTypeName(from)) + " (bf16, f16 or i8 fold)";
    }
    if (act_dtype != DType::kF32) return "the activation is not f32 or bf16";
  }
  if (!source->is_const()) return "its source %" + source->name() + " is not a constant";
  return "";
}

// A dequantised weight `mul(convert(q), s)` (either operand order) feeding GEMM `gemm` of
// `node`: the convert and the scale, or why the scale cannot fold (`convert` null when `w` is
// not such a product).
struct ScaledWeight {
  Node* convert = nullptr;
  Value* scale = nullptr;
  std::string why_not;
};

ScaledWeight MatchScaledWeight(const Node& node, const GemmOperands& gemm, Value* w) {
  ScaledWeight match;
  Node* mul = w->def();
  if (mul == nullptr || mul->op() != OpKind::kMul) return match;
  for (int i = 0; i < 2; ++i) {
    Node* c = mul->operand(i)->def();
    if (c != nullptr && c->op() == OpKind::kConvert) {
      match.convert = c;
      match.scale = mul->operand(1 - i);
      break;
    }
  }
  if (match.convert == nullptr) return match;
  // The product must not broadcast the quantised tensor (q[1, K] · s[N, 1] is [N, K] too).
  if (match.convert->result()->type().tensor().shape != w->type().tensor().shape) {
    match.why_not = absl::StrCat("%", match.convert->result()->name(), " is not of the weight's shape (the scale ",
                                 "broadcasts it)");
    return match;
  }
  const TensorType& s = match.scale->type().tensor();
  const Dim& n = GemmWeightN(gemm.kind, w->type().tensor().shape);
  // One scale per output channel, broadcast along K: [N, 1] against w[N, K]; [1, N] or [N]
  // against b[K, N].
  const bool per_channel = gemm.kind == OpKind::kLinear
                               ? s.rank() == 2 && s.shape[0] == n && s.shape[1] == Dim::Const(1)
                               : (s.rank() == 1 && s.shape[0] == n) ||
                                     (s.rank() == 2 && s.shape[0] == Dim::Const(1) && s.shape[1] == n);
  if (s.dtype != DType::kF32 && s.dtype != w->type().tensor().dtype) {
    match.why_not = absl::StrCat("its scale %", match.scale->name(), " is ", s.ToString(), ", not f32 or the weight's dtype");
  } else if (!per_channel) {
    match.why_not = absl::StrCat("its scale %", match.scale->name(), " is ", s.ToString(),
                                 ": only one scale per output channel folds (",
                                 gemm.kind == OpKind::kLinear ? "[N, 1]" : "[1, N]", "), not per group or per element");
  } else if (gemm.has_scale()) {
    match.why_not = absl::StrCat("%", node.result()->name(), " already has a weight scale");
  }
  return match;
}

}  // namespace

absl::StatusOr<bool> FoldWeightConvert::Run(Graph& graph) {
  bool changed = false;
  std::vector<Node*> gemms;
  for (const auto& node : graph.nodes()) {
    // Lone GEMMs (the pass runs before grouped-gemm; a grouped node's operands may be shared
    // between roles, so rewriting one would change another).
    if (node->info().Has(kTraitGemm)) gemms.push_back(node.get());
  }
  auto explain = [&](Node* node, Value* weight, const std::string& why) {
    if (debug() != nullptr) {
      *debug() << "fold-weight-convert: not folding %" << weight->name() << " into %" << node->result()->name()
               << ": " << why << "\n";
    }
  };
  for (Node* node : gemms) {
    for (const GemmOperands& gemm : GemmsOf(*node)) {
      Value* weight = node->operand(gemm.weight);
      const Value& act = *node->operand(gemm.act);
      Node* convert = weight->def();
      if (convert != nullptr && convert->op() == OpKind::kConvert) {
        const std::string why = WhyNotFolded(*convert, act);
        if (!why.empty()) {
          explain(node, weight, why);
          continue;
        }
        graph.SetOperand(node, gemm.weight, convert->operand(0));
        changed = true;
        if (debug() != nullptr) {
          *debug() << "fold-weight-convert: %" << node->result()->name() << " reads %" << convert->operand(0)->name()
                   << " in " << DTypeName(convert->operand(0)->type().tensor().dtype) << "\n";
        }
        continue;
      }
      const ScaledWeight scaled = MatchScaledWeight(*node, gemm, weight);
      if (scaled.convert == nullptr) continue;
      std::string why = WhyNotFolded(*scaled.convert, act);
      if (why.empty()) why = scaled.why_not;
      if (!why.empty()) {
        explain(node, weight, why);
        continue;
      }
      // kind(x, q[, b], s) {scale = last}, in place of the GEMM (which keeps its name).
      Value* source = scaled.convert->operand(0);
      std::vector<Value*> operands = {node->operand(gemm.act), source};
      if (gemm.has_bias()) operands.push_back(node->operand(gemm.bias));
      operands.push_back(scaled.scale);
      const int64_t scale_index = static_cast<int64_t>(operands.size()) - 1;
      Node* folded = graph.InsertNode(node, node->op(), std::move(operands), {{"scale", scale_index}},
                                      graph.UniqueName(node->result()->name()), node->result()->type(), node->loc());
      const std::string name = node->result()->name();
      graph.ReplaceNode(node, folded->result());
      changed = true;
      if (debug() != nullptr) {
        *debug() << "fold-weight-convert: %" << name << " reads %" << source->name() << " in "
                 << DTypeName(source->type().tensor().dtype) << ", scaled by %" << scaled.scale->name() << "\n";
      }
      break;  // a lone GEMM: its one weight
    }
  }
  return changed;
}

}  // namespace braid
