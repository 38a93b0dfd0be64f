// Result-type rules of the shape ops, reductions and batch_matmul.
#include "ir/tensor_op_types.h"

#include <cmath>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "ir/status_macros.h"
#include "ir/type_inference.h"

namespace braid {
namespace {

absl::Status Error(absl::string_view msg) { return absl::InvalidArgumentError(msg); }

int64_t IntAttr(const Attributes& attrs, const char* name) { return std::get<int64_t>(attrs.at(name)); }

absl::StatusOr<int> Axis(const Attributes& attrs, const TensorType& x) {
  return NormalizeAxis(IntAttr(attrs, "axis"), x.rank());
}

absl::StatusOr<const TensorType*> Declared(OpKind op, const Type* declared) {
  if (declared == nullptr || declared->is_layout()) {
    return Error(absl::StrCat("'", GetOpInfo(op).name, "' takes its shape from its result type: write it after ':' (",
                              op == OpKind::kReshape ? "%y = reshape(%x) : f32[B*T, 4096]"
                                                     : "%y = expand(%x) : f32[M, 4096]",
                              ")"));
  }
  return &declared->tensor();
}

// reshape(x) : T — the same elements, as polynomials in the symbols.
absl::StatusOr<TensorType> Reshape(const TensorType& x, const TensorType& to) {
  if (to.dtype != x.dtype) {
    return Error(absl::StrCat("reshape keeps the dtype: ", x.ToString(), " cannot become ", to.ToString()));
  }
  BRAID_ASSIGN_OR_RETURN(Dim from_count, ShapeProduct(x.shape));
  BRAID_ASSIGN_OR_RETURN(Dim to_count, ShapeProduct(to.shape));
  if (from_count != to_count) {
    return Error(absl::StrCat("reshape from ", x.ToString(), " to ", to.ToString(), " changes the element count (",
                              from_count.ToString(), " vs ", to_count.ToString(), ")"));
  }
  return to;
}

absl::StatusOr<TensorType> Transpose(const TensorType& x, const Attributes& attrs) {
  const auto* perm = std::get_if<std::vector<int64_t>>(&attrs.at("perm"));
  if (perm == nullptr || static_cast<int>(perm->size()) != x.rank()) {
    return Error(absl::StrCat("'perm' must list each of the ", x.rank(), " dims of ", x.ToString(), " once"));
  }
  std::set<int64_t> seen;
  TensorType out{x.dtype, {}};
  for (int64_t p : *perm) {
    if (p < 0 || p >= x.rank() || !seen.insert(p).second) {
      return Error(absl::StrCat("perm [", absl::StrJoin(*perm, ", "), "] is not a permutation of the ", x.rank(),
                                " dims of ", x.ToString()));
    }
    out.shape.push_back(x.shape[p]);
  }
  return out;
}

absl::StatusOr<TensorType> Slice(const TensorType& x, const Attributes& attrs) {
  BRAID_ASSIGN_OR_RETURN(int axis, Axis(attrs, x));
  const Dim& dim = x.shape[axis];
  if (dim.is_symbolic()) {
    return Error(absl::StrCat("slice needs a static size along its axis; dim ", axis, " of ", x.ToString(), " is ",
                              dim.ToString()));
  }
  const int64_t start = IntAttr(attrs, "start"), end = IntAttr(attrs, "end");
  if (start < 0 || start > end || end > dim.value()) {
    return Error(absl::StrCat("slice [", start, ", ", end, ") is not within [0, ", dim.value(), "] of dim ", axis,
                              " of ", x.ToString()));
  }
  TensorType out = x;
  out.shape[axis] = Dim::Const(end - start);
  return out;
}

absl::StatusOr<TensorType> Concat(const std::vector<const TensorType*>& xs, const Attributes& attrs) {
  const TensorType& first = *xs.front();
  BRAID_ASSIGN_OR_RETURN(int axis, Axis(attrs, first));
  TensorType out = first;
  for (size_t i = 1; i < xs.size(); ++i) {
    const TensorType& x = *xs[i];
    bool same = x.dtype == first.dtype && x.rank() == first.rank();
    for (int d = 0; same && d < x.rank(); ++d) same = d == axis || x.shape[d] == first.shape[d];
    if (!same) {
      return Error(absl::StrCat("concat along dim ", axis, ": operand #", i, " ", x.ToString(),
                                " does not match operand #0 ", first.ToString(), " in dtype, rank or other dims"));
    }
    BRAID_ASSIGN_OR_RETURN(out.shape[axis], Dim::Add(out.shape[axis], x.shape[axis]));
  }
  return out;
}

absl::StatusOr<TensorType> Expand(const TensorType& x, const TensorType& to) {
  bool ok = to.dtype == x.dtype && x.rank() <= to.rank();
  for (int i = 0; ok && i < x.rank(); ++i) {
    const Dim& from = x.shape[x.rank() - 1 - i];
    ok = from == Dim::Const(1) || from == to.shape[to.rank() - 1 - i];
  }
  if (!ok) {
    return Error(absl::StrCat("expand cannot broadcast ", x.ToString(), " to ", to.ToString(),
                              " (each dim must equal the target's or be 1; the dtype stays)"));
  }
  return to;
}

absl::StatusOr<TensorType> Reduce(OpKind op, const TensorType& x, const Attributes& attrs) {
  BRAID_ASSIGN_OR_RETURN(int axis, Axis(attrs, x));
  if (auto it = attrs.find("keepdim"); it != attrs.end()) {
    const std::string& keep = std::get<std::string>(it->second);
    if (keep != "true" && keep != "false") {
      return Error(absl::StrCat("'keepdim' is true or false, not ", keep));
    }
  }
  if (op == OpKind::kSoftmax) return x;
  TensorType out = x;
  if (op == OpKind::kQuantScale) out.dtype = DType::kF32;  // a scale is f32 whatever x is
  if (KeepDim(attrs) || op == OpKind::kQuantScale) {
    out.shape[axis] = Dim::Const(1);
  } else {
    out.shape.erase(out.shape.begin() + axis);
  }
  return out;
}

absl::StatusOr<TensorType> RmsNorm(const TensorType& x, const TensorType& w) {
  if (x.rank() < 1 || w.rank() != 1 || w.shape[0] != x.shape.back() || w.dtype != x.dtype) {
    return Error(absl::StrCat("rms_norm normalises the last dim: the weight must be ", DTypeName(x.dtype), "[",
                              x.rank() < 1 ? "?" : x.shape.back().ToString(), "], got ", w.ToString(), " for ",
                              x.ToString()));
  }
  return x;
}

absl::StatusOr<TensorType> BatchMatmul(const TensorType& a, const TensorType& b) {
  if (a.dtype != b.dtype) {
    return Error(absl::StrCat("dtype mismatch: ", a.ToString(), " vs ", b.ToString(), " (state the conversion with convert)"));
  }
  if (a.rank() < 2 || b.rank() < 2) {
    return Error(absl::StrCat("batch_matmul multiplies the last two dims: both operands need rank >= 2, got ",
                              a.ToString(), " and ", b.ToString()));
  }
  const Dim& k = a.shape[a.rank() - 1];
  const Dim& kb = b.shape[b.rank() - 2];
  if (k != kb) {
    return Error(absl::StrCat("reduction dims differ: ", a.ToString(), " has K = ", k.ToString(), " but ",
                              b.ToString(), " has K = ", kb.ToString(), " (batch_matmul wants a[..., T, K], b[..., K, S])"));
  }
  const Shape a_batch(a.shape.begin(), a.shape.end() - 2), b_batch(b.shape.begin(), b.shape.end() - 2);
  auto batch = BroadcastShapes(a_batch, b_batch);
  if (!batch.ok()) return Error(absl::StrCat("batch dims: ", batch.status().message()));
  TensorType out{a.dtype, *std::move(batch)};
  out.shape.push_back(a.shape[a.rank() - 2]);
  out.shape.push_back(b.shape.back());
  return out;
}

absl::StatusOr<TensorType> Attention(const std::vector<const TensorType*>& xs, const Attributes& attrs) {
  const TensorType& q = *xs[0];
  const TensorType& k = *xs[1];
  const TensorType& v = *xs[2];
  for (const TensorType* t : xs) {
    if (t->dtype != q.dtype) {
      return Error(absl::StrCat("dtype mismatch: ", q.ToString(), " vs ", t->ToString(), " (state the conversion with convert)"));
    }
  }
  if (q.rank() != 4 || k.rank() != 4 || v.rank() != 4) {
    return Error(absl::StrCat("attention takes q[B, Hq, T, D], k and v[B, Hkv, S, D]; got ", q.ToString(), ", ",
                              k.ToString(), ", ", v.ToString()));
  }
  if (k != v || k.shape[0] != q.shape[0] || k.shape[3] != q.shape[3]) {
    return Error(absl::StrCat("attention: k and v must both be [B, Hkv, S, D] with q's B and D; got q ", q.ToString(),
                              ", k ", k.ToString(), ", v ", v.ToString()));
  }
  const Dim& hq = q.shape[1];
  const Dim& hkv = k.shape[1];
  if (hq != hkv && (hq.is_symbolic() || hkv.is_symbolic() || hkv.value() == 0 || hq.value() % hkv.value() != 0)) {
    return Error(absl::StrCat("attention: ", hq.ToString(), " query heads cannot share ", hkv.ToString(),
                              " KV heads (the query heads must be a multiple of the KV heads)"));
  }
  const Shape scores = {q.shape[0], hq, q.shape[2], k.shape[2]};
  if (xs.size() == 4) {
    const TensorType& mask = *xs[3];
    auto broadcast = BroadcastShapes(mask.shape, scores);
    if (mask.rank() > 4 || !broadcast.ok() || *broadcast != scores) {
      return Error(absl::StrCat("attention: the mask ", mask.ToString(), " does not broadcast to the scores [",
                                scores[0].ToString(), ", ", scores[1].ToString(), ", ", scores[2].ToString(), ", ",
                                scores[3].ToString(), "]"));
    }
  }
  if (auto it = attrs.find("causal"); it != attrs.end()) {
    const std::string& causal = std::get<std::string>(it->second);
    if (causal != "true" && causal != "false") return Error(absl::StrCat("'causal' is true or false, not ", causal));
  }
  if (auto it = attrs.find("masked_rows"); it != attrs.end()) {
    const std::string& rows = std::get<std::string>(it->second);
    if (rows != "nan" && rows != "zero") return Error(absl::StrCat("'masked_rows' is nan or zero, not ", rows));
  }
  return q;
}

}  // namespace

absl::StatusOr<int> NormalizeAxis(int64_t axis, int rank) {
  if (axis < -rank || axis >= rank) {
    return Error(absl::StrCat("axis ", axis, " is out of range for rank ", rank, " (valid: ", -rank, " to ", rank - 1,
                              ")"));
  }
  return static_cast<int>(axis < 0 ? axis + rank : axis);
}

bool KeepDim(const Attributes& attrs) {
  auto it = attrs.find("keepdim");
  return it != attrs.end() && std::get<std::string>(it->second) == "true";
}

bool AttentionCausal(const Attributes& attrs) {
  auto it = attrs.find("causal");
  return it != attrs.end() && std::get<std::string>(it->second) == "true";
}

bool AttentionZeroMaskedRows(const Attributes& attrs) {
  auto it = attrs.find("masked_rows");
  return it != attrs.end() && std::get<std::string>(it->second) == "zero";
}

double AttentionScale(const Attributes& attrs, int64_t head_dim) {
  auto it = attrs.find("scale");
  return it != attrs.end() ? std::get<double>(it->second) : 1.0 / std::sqrt(static_cast<double>(head_dim));
}

absl::StatusOr<Dim> ShapeProduct(const Shape& shape) {
  Dim product = Dim::Const(1);
  for (const Dim& d : shape) {
    BRAID_ASSIGN_OR_RETURN(product, Dim::Multiply(product, d));
  }
  return product;
}

absl::StatusOr<TensorType> InferTensorOpType(OpKind op, const std::vector<const TensorType*>& operands,
                                             const Attributes& attrs, const Type* declared) {
  const TensorType& x = *operands.front();
  if (GetOpInfo(op).Has(kTraitReduction) || op == OpKind::kBatchMatmul || op == OpKind::kAttention) {
    for (const TensorType* t : operands) {
      if (!IsFloatDType(t->dtype)) {
        return Error(absl::StrCat("'", GetOpInfo(op).name, "' computes on floating-point tensors, got ",
                                  t->ToString(), "; convert it to f32 first"));
      }
    }
  }
  switch (op) {
    case OpKind::kReshape: {
      BRAID_ASSIGN_OR_RETURN(const TensorType* to, Declared(op, declared));
      return Reshape(x, *to);
    }
    case OpKind::kExpand: {
      BRAID_ASSIGN_OR_RETURN(const TensorType* to, Declared(op, declared));
      return Expand(x, *to);
    }
    case OpKind::kTranspose: return Transpose(x, attrs);
    case OpKind::kRotateHalf:
      if (!IsFloatDType(x.dtype) || x.rank() < 1 || x.shape.back().is_symbolic() || x.shape.back().value() % 2 != 0) {
        return Error(absl::StrCat("rotate_half needs a floating-point tensor with a static, even last dim; got ",
                                  x.ToString()));
      }
      return x;
    case OpKind::kSlice: return Slice(x, attrs);
    case OpKind::kConcat: return Concat(operands, attrs);
    case OpKind::kReduceSum:
    case OpKind::kReduceMean:
    case OpKind::kReduceMax:
    case OpKind::kSoftmax:
    case OpKind::kQuantScale: return Reduce(op, x, attrs);
    case OpKind::kRmsNorm: return RmsNorm(x, *operands[1]);
    case OpKind::kRmsScale: {
      if (!IsFloatDType(x.dtype) || x.rank() < 1) {
        return Error(absl::StrCat("rms_scale reduces the last dim of a floating-point tensor, got ", x.ToString()));
      }
      TensorType out = x;
      out.dtype = DType::kF32;
      out.shape.back() = Dim::Const(1);
      return out;
    }
    case OpKind::kBatchMatmul: return BatchMatmul(x, *operands[1]);
    case OpKind::kAttention: return Attention(operands, attrs);
    default: break;
  }
  return Error(absl::StrCat("no type rule for '", GetOpInfo(op).name, "'"));
}

}  // namespace braid
