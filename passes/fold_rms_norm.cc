// linear(x·r·c, W) -> linear(x, W·c)·r for per-row factors r and constant per-K factors c;
// rms_norm(x, w) is x·rms_scale(x)·w.
#include "passes/fold_rms_norm.h"

#include <map>
#include <ostream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "ir/gemm.h"
#include "ir/status_macros.h"
#include "ir/type_inference.h"

namespace braid {
namespace {

// True if `v` is a constant, or is computed from constants by pointwise and shape ops alone:
// what the compiler evaluates once when it compiles (codegen/fold_constants.h).
bool IsConstant(const Value* v, int depth = 0) {
  if (v->is_param()) return v->is_const();
  const Node* n = v->def();
  if (depth > 8 || !(n->info().Has(kTraitPointwise) || n->info().Has(kTraitShape))) return false;
  for (const Value* o : n->operands()) {
    if (!IsConstant(o, depth + 1)) return false;
  }
  return true;
}

// A factor of the activation `of` (a mul's result) that is the same along each row: [..., 1],
// each leading dim 1 or `of`'s — so it broadcasts over the GEMM's result just the same.
bool IsRowFactor(const Value& factor, const Value& of) {
  const Shape& f = factor.type().tensor().shape;
  const Shape& a = of.type().tensor().shape;
  if (f.empty() || f.size() > a.size() || f.back() != Dim::Const(1) || a.size() < 2) return false;
  for (size_t i = 0; i + 1 < f.size(); ++i) {
    const Dim& d = f[f.size() - 2 - i];
    if (d != Dim::Const(1) && d != a[a.size() - 2 - i]) return false;
  }
  return true;
}

// A constant factor that is the same for every row: [K] or [1, .., 1, K].
bool IsColumnConstant(const Value& factor, const Value& of) {
  const Shape& f = factor.type().tensor().shape;
  const Shape& a = of.type().tensor().shape;
  if (f.empty() || f.size() > a.size() || f.back() != a.back()) return false;
  for (size_t i = 0; i + 1 < f.size(); ++i) {
    if (f[i] != Dim::Const(1)) return false;
  }
  return IsConstant(&factor);
}

// A GEMM activation taken apart: inner · rows... · columns....
struct Factors {
  Value* inner = nullptr;
  std::vector<Value*> rows;     // per-row factors (any dtype: converted to the result's)
  std::vector<Value*> columns;  // constant per-K factors
  std::vector<Node*> norms;     // the rms_norm nodes taken apart (their row factor is made once)
};

Factors Decompose(Value* activation) {
  Factors f;
  Value* v = activation;
  while (Node* n = v->def()) {
    const Shape& shape = v->type().tensor().shape;
    if (n->op() == OpKind::kRmsNorm && IsConstant(n->operand(1))) {
      f.norms.push_back(n);
      f.rows.push_back(nullptr);  // rms_scale(x), made by the rewrite
      f.columns.push_back(n->operand(1));
      v = n->operand(0);
      continue;
    }
    if (n->op() == OpKind::kConvert) {
      // A bf16 model's RMSNorm: x·r in f32, rounded back to x's dtype — convert(mul(convert(x),
      // r)). The row factor moves out and x is read as it is.
      Value* x = nullptr;
      Node* mul = n->operand(0)->def();
      for (int i = 0; mul != nullptr && mul->op() == OpKind::kMul && x == nullptr && i < 2; ++i) {
        const Node* widen = mul->operand(i)->def();
        if (widen != nullptr && widen->op() == OpKind::kConvert &&
            widen->operand(0)->type().tensor() == v->type().tensor() &&
            IsRowFactor(*mul->operand(1 - i), *mul->result())) {
          x = widen->operand(0);
          f.rows.push_back(mul->operand(1 - i));
        }
      }
      if (x == nullptr) break;
      v = x;
      continue;
    }
    if (n->op() != OpKind::kMul) break;
    Value* next = nullptr;
    for (int i = 0; i < 2 && next == nullptr; ++i) {
      Value* kept = n->operand(i);
      Value* factor = n->operand(1 - i);
      if (kept->type().tensor().shape != shape) continue;  // the factor must not broadcast it
      if (IsRowFactor(*factor, *v)) {
        f.rows.push_back(factor);
        next = kept;
      } else if (IsColumnConstant(*factor, *v)) {
        f.columns.push_back(factor);
        next = kept;
      }
    }
    if (next == nullptr) break;
    v = next;
  }
  f.inner = v;
  return f;
}

// Inserts `op(operands)` before `before`, typed by inference (the operands are well typed, so
// inference only fails on a bug here).
absl::StatusOr<Value*> Emit(Graph& graph, Node* before, OpKind op, std::vector<Value*> operands,
                            Attributes attrs, const std::string& base, const Type* declared = nullptr) {
  std::vector<const Type*> types;
  for (const Value* v : operands) types.push_back(&v->type());
  BRAID_ASSIGN_OR_RETURN(Type type, InferResultType(op, types, attrs, declared));
  return graph.InsertNode(before, op, std::move(operands), std::move(attrs), graph.UniqueName(base), std::move(type),
                          before->loc())
      ->result();
}

// A value converted or reshaped for the rewrite, made once and shared by the GEMMs that need it
// (the Q/K/V siblings all multiply by the same converted row factor).
using Derived = std::map<std::pair<Value*, std::string>, Value*>;

absl::StatusOr<Value*> ConvertTo(Graph& graph, Node* before, Value* v, DType dtype, Derived& made) {
  if (v->type().tensor().dtype == dtype) return v;
  Value*& result = made[{v, absl::StrCat("convert ", DTypeName(dtype))}];
  if (result == nullptr) {
    BRAID_ASSIGN_OR_RETURN(result, Emit(graph, before, OpKind::kConvert, {v}, {{"to", std::string(DTypeName(dtype))}},
                                        v->name() + "_c"));
  }
  return result;
}

absl::StatusOr<Value*> ReshapeTo(Graph& graph, Node* before, Value* v, Shape shape, Derived& made) {
  TensorType t = v->type().tensor();
  if (t.shape == shape) return v;
  t.shape = std::move(shape);
  const Type declared = Type::Tensor(t);
  Value*& result = made[{v, "reshape " + declared.ToString()}];
  if (result == nullptr) {
    BRAID_ASSIGN_OR_RETURN(result, Emit(graph, before, OpKind::kReshape, {v}, {}, v->name() + "_r", &declared));
  }
  return result;
}

// Why GEMM `gemm` of `node` cannot take the factors' columns into its weight, or empty.
std::string WhyNotFolded(const Node& node, const GemmOperands& gemm, const Factors& f) {
  const Value* w = node.operand(gemm.weight);
  if (f.columns.empty()) return "";
  if (gemm.has_scale()) return absl::StrCat("its weight %", w->name(), " is quantised (the norm weight cannot join it)");
  if (!IsConstant(w)) return absl::StrCat("its weight %", w->name(), " is not a constant");
  const DType dtype = w->type().tensor().dtype;
  if (dtype != DType::kF32 && dtype != DType::kBF16) {
    return absl::StrCat("its weight %", w->name(), " is ", DTypeName(dtype), " (f32 and bf16 weights take the norm weight)");
  }
  // A narrower stored weight (bf16 under an f32 activation) would round the product to bf16:
  // more error than the f32 graph had.
  if (dtype != node.operand(gemm.act)->type().tensor().dtype) {
    return absl::StrCat("its weight %", w->name(), " is stored in ", DTypeName(dtype),
                        " under a wider activation (the product would be rounded to it)");
  }
  return "";
}

}  // namespace

absl::StatusOr<bool> FoldRmsNorm::Run(Graph& graph) {
  std::vector<Node*> gemms;
  for (const auto& node : graph.nodes()) {
    if (node->info().Has(kTraitGemm)) gemms.push_back(node.get());  // lone GEMMs: before grouped-gemm
  }
  std::map<Node*, Value*> row_factor_of_norm;  // one rms_scale per rms_norm, shared by its GEMMs
  Derived made;
  bool changed = false;
  for (Node* node : gemms) {
    const GemmOperands gemm = GemmsOf(*node).front();
    Factors f = Decompose(node->operand(gemm.act));
    if (f.rows.empty() && f.columns.empty()) continue;
    const std::string name = node->result()->name();
    if (const std::string why = WhyNotFolded(*node, gemm, f); !why.empty()) {
      if (debug() != nullptr) *debug() << "fold-rms-norm: not folding the norm into %" << name << ": " << why << "\n";
      continue;
    }
    Value* weight = node->operand(gemm.weight);
    const DType weight_dtype = weight->type().tensor().dtype;
    const Dim k = weight->type().tensor().shape[gemm.kind == OpKind::kLinear ? 1 : 0];
    // The weight times every column factor, as [K] (linear's w[N, K]) or [K, 1] (matmul's b[K, N]).
    for (Value* c : f.columns) {
      BRAID_ASSIGN_OR_RETURN(
          c, ReshapeTo(graph, node, c, gemm.kind == OpKind::kLinear ? Shape{k} : Shape{k, Dim::Const(1)}, made));
      BRAID_ASSIGN_OR_RETURN(c, ConvertTo(graph, node, c, weight_dtype, made));
      BRAID_ASSIGN_OR_RETURN(weight, Emit(graph, node, OpKind::kMul, {weight, c}, {}, weight->name() + "_n"));
    }
    std::vector<Value*> operands = {f.inner, weight};
    const bool bias_after = gemm.has_bias() && !f.rows.empty();
    if (gemm.has_bias() && !bias_after) operands.push_back(node->operand(gemm.bias));
    // A weight scale (an int8 weight's; only row factors move then) stays the GEMM's, applied
    // before the row factors and the bias as before.
    Attributes attrs;
    if (gemm.has_scale()) {
      operands.push_back(node->operand(gemm.scale));
      attrs["scale"] = static_cast<int64_t>(operands.size()) - 1;
    }
    BRAID_ASSIGN_OR_RETURN(Value* y, Emit(graph, node, node->op(), std::move(operands), std::move(attrs), name + "_x"));
    const DType dtype = y->type().tensor().dtype;
    size_t next_norm = 0;
    for (Value* r : f.rows) {
      if (r == nullptr) {  // rms_norm's own factor
        Node* norm = f.norms[next_norm++];
        Value*& made = row_factor_of_norm[norm];
        if (made == nullptr) {
          BRAID_ASSIGN_OR_RETURN(made, Emit(graph, norm, OpKind::kRmsScale, {norm->operand(0)},
                                            {{"eps", *norm->FloatAttr("eps")}}, norm->result()->name() + "_r"));
        }
        r = made;
      }
      BRAID_ASSIGN_OR_RETURN(r, ConvertTo(graph, node, r, dtype, made));
      BRAID_ASSIGN_OR_RETURN(y, Emit(graph, node, OpKind::kMul, {y, r}, {}, name + "_s"));
    }
    if (bias_after) {
      BRAID_ASSIGN_OR_RETURN(y, Emit(graph, node, OpKind::kAdd, {y, node->operand(gemm.bias)}, {}, name + "_b"));
    }
    graph.ReplaceNode(node, y);
    changed = true;
    if (debug() != nullptr) {
      *debug() << "fold-rms-norm: %" << name << " reads %" << f.inner->name() << ": " << f.rows.size()
               << " row factor(s) after the GEMM, " << f.columns.size() << " weight factor(s) in its weight\n";
    }
  }
  return changed;
}

}  // namespace braid
