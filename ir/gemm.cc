// The GEMM operand description: decoding grouped_gemm's index lists happens here only.
#include "ir/gemm.h"

#include "ir/status_macros.h"

namespace braid {

GemmOperands LoneGemmOperands(OpKind kind, int num_operands, const int64_t* scale_attr) {
  const int scale = scale_attr != nullptr ? num_operands - 1 : -1;
  const int unscaled = scale_attr != nullptr ? num_operands - 1 : num_operands;
  return GemmOperands{kind, 0, 1, unscaled == 3 ? 2 : -1, scale};
}

std::vector<GemmOperands> GemmsOf(const Node& node) {
  if (node.info().Has(kTraitGemm)) {
    return {LoneGemmOperands(node.op(), static_cast<int>(node.operands().size()), node.IntAttr("scale"))};
  }
  if (node.op() != OpKind::kGroupedGemm) return {};
  const auto* kinds = node.IdentListAttr("kind");
  const auto* act = node.IntListAttr("act");
  const auto* weight = node.IntListAttr("weight");
  const auto* bias = node.IntListAttr("bias");
  const auto* scale = node.IntListAttr("scale");  // optional
  BRAID_CHECK(kinds && act && weight && bias, "GemmsOf: grouped_gemm without its index lists");
  std::vector<GemmOperands> gemms;
  gemms.reserve(kinds->size());
  for (size_t g = 0; g < kinds->size(); ++g) {
    std::optional<OpKind> kind = ParseGemmKind((*kinds)[g]);
    BRAID_CHECK(kind.has_value(), "GemmsOf: grouped_gemm with an unknown GEMM kind");
    gemms.push_back(GemmOperands{*kind, static_cast<int>((*act)[g]), static_cast<int>((*weight)[g]),
                                 static_cast<int>((*bias)[g]),
                                 scale != nullptr ? static_cast<int>((*scale)[g]) : -1});
  }
  return gemms;
}

GemmValues GemmValuesOf(const Node& node, const GemmOperands& gemm) {
  return GemmValues{gemm.kind, node.operand(gemm.act), node.operand(gemm.weight),
                    gemm.has_bias() ? node.operand(gemm.bias) : nullptr,
                    gemm.has_scale() ? node.operand(gemm.scale) : nullptr};
}

// A grouped GEMM's kinds are the names of the single-GEMM ops in the op table.
absl::string_view GemmKindName(OpKind kind) {
  return GetOpInfo(kind).Has(kTraitGemm) ? GetOpInfo(kind).name : "";
}

std::optional<OpKind> ParseGemmKind(absl::string_view name) {
  const OpInfo* info = LookupOp(name);
  if (info == nullptr || !info->Has(kTraitGemm)) return std::nullopt;
  return info->kind;
}

bool IsOnlyGemmWeight(const Node& node, int index) {
  bool weight = false, other = false;
  for (const GemmOperands& gemm : GemmsOf(node)) {
    weight |= gemm.weight == index;
    other |= gemm.act == index || gemm.bias == index || gemm.scale == index;
  }
  return weight && !other;
}

}  // namespace braid
