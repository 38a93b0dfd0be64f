// linear(x, convert(w_bf16)) -> linear(x, w_bf16).
#include "passes/fold_weight_convert.h"

#include <ostream>
#include <string>
#include <vector>

#include "ir/gemm.h"

namespace braid {
namespace {

// Why `convert` (feeding a GEMM weight) cannot be folded, or empty if it can.
std::string WhyNotFolded(const Node& convert, const Value& act) {
  const Value* source = convert.operand(0);
  const DType from = source->type().tensor().dtype;
  const DType to = convert.result()->type().tensor().dtype;
  if (to != DType::kF32) return "it converts to " + std::string(DTypeName(to)) + ", not f32";
  if (from == DType::kI8) return "an i8 weight folds with its scale (not yet)";
  if (from != DType::kBF16 && from != DType::kF16) {
    return "its source is " + std::string(DTypeName(from)) + " (bf16 or f16 fold)";
  }
  if (!source->is_const()) return "its source %" + source->name() + " is not a constant";
  if (act.type().tensor().dtype != DType::kF32) return "the activation is not f32";
  return "";
}

}  // namespace

absl::StatusOr<bool> FoldWeightConvert::Run(Graph& graph) {
  bool changed = false;
  std::vector<Node*> gemms;
  for (const auto& node : graph.nodes()) {
    if (node->info().Has(kTraitGemm)) gemms.push_back(node.get());
  }
  for (Node* node : gemms) {
    for (const GemmOperands& gemm : GemmsOf(*node)) {
      Value* weight = node->operand(gemm.weight);
      Node* convert = weight->def();
      if (convert == nullptr || convert->op() != OpKind::kConvert) continue;
      const std::string why = WhyNotFolded(*convert, *node->operand(gemm.act));
      if (!why.empty()) {
        if (debug() != nullptr) {
          *debug() << "fold-weight-convert: not folding %" << weight->name() << " into %"
                   << node->result()->name() << ": " << why << "\n";
        }
        continue;
      }
      graph.SetOperand(node, gemm.weight, convert->operand(0));
      changed = true;
      if (debug() != nullptr) {
        *debug() << "fold-weight-convert: %" << node->result()->name() << " reads %"
                 << convert->operand(0)->name() << " in "
                 << DTypeName(convert->operand(0)->type().tensor().dtype) << "\n";
      }
    }
  }
  return changed;
}

}  // namespace braid
