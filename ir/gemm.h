// What each GEMM of a node reads: the one description of GEMM operands. A lone `linear` /
// `matmul` holds one GEMM; a `grouped_gemm` holds one per entry of its index lists. Everything
// that needs a GEMM's activation, weight or bias (type inference, the interpreter, buffer
// planning, codegen, the driver's FLOP count) asks `GemmsOf` instead of decoding attributes;
// K and N of a weight come from `GemmWeightK` / `GemmWeightN`, the only place that knows
// `linear` weights are [N, K] and `matmul` weights [K, N].
#ifndef BRAID_IR_GEMM_H_
#define BRAID_IR_GEMM_H_

#include <optional>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "ir/graph.h"

namespace braid {

// One GEMM: `kind(operand(act), operand(weight))` (· `operand(scale)`) (+ `operand(bias)`), as
// operand indices of its node. `kind` is OpKind::kLinear (y = x·wᵀ, w[N, K]) or
// OpKind::kMatmul (y = a·b, b[K, N]); the scale holds one f32 per output column.
struct GemmOperands {
  OpKind kind = OpKind::kLinear;
  int act = 0;
  int weight = 1;
  int bias = -1;   // -1: no bias (only linear takes one)
  int scale = -1;  // -1: no weight scale

  bool has_bias() const { return bias >= 0; }
  bool has_scale() const { return scale >= 0; }
};

// A lone linear / matmul with `num_operands` operands: (x, w[, b][, s]), the scale being the
// last operand when `scale_attr` (its `scale` attribute, or null) is set. Type inference
// checks that the attribute names the last operand.
GemmOperands LoneGemmOperands(OpKind kind, int num_operands, const int64_t* scale_attr);

// The GEMMs of `node`, in GEMM-index order: one for linear/matmul, one per GEMM for
// grouped_gemm, none for any other op. `node` must have passed type inference (a malformed
// grouped_gemm is a bug here).
std::vector<GemmOperands> GemmsOf(const Node& node);

// Operand values of one GEMM of `node`.
struct GemmValues {
  OpKind kind;
  const Value* act;
  const Value* weight;
  const Value* bias;   // null if none
  const Value* scale;  // null if none
};
GemmValues GemmValuesOf(const Node& node, const GemmOperands& gemm);

// The name of a GEMM kind in grouped_gemm's `kind` list, and back (nullopt for a non-GEMM).
absl::string_view GemmKindName(OpKind kind);
std::optional<OpKind> ParseGemmKind(absl::string_view name);

// K and N of a GEMM weight of `kind` with this (rank-2) shape.
template <typename D>
const D& GemmWeightK(OpKind kind, const std::vector<D>& weight_shape) {
  return kind == OpKind::kLinear ? weight_shape[1] : weight_shape[0];
}
template <typename D>
const D& GemmWeightN(OpKind kind, const std::vector<D>& weight_shape) {
  return kind == OpKind::kLinear ? weight_shape[0] : weight_shape[1];
}

// True if operand `index` of `node` is read only as a GEMM weight (never as an activation or
// bias): what prepacking may consume.
bool IsOnlyGemmWeight(const Node& node, int index);

}  // namespace braid

#endif  // BRAID_IR_GEMM_H_
