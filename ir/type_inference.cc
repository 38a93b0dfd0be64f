// Result-type inference for every op in the op table.
#include "ir/type_inference.h"

#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "ir/gemm.h"
#include "ir/status_macros.h"
#include "ir/tensor_op_types.h"

namespace braid {
namespace {

absl::Status Error(absl::string_view msg) { return absl::InvalidArgumentError(msg); }

absl::StatusOr<const TensorType*> AsTensor(const Type* t, int index) {
  if (t->is_layout()) {
    return Error(absl::StrCat("operand #", index, " is a multi_output_layout; extract a tensor "
                              "with multi_output first"));
  }
  return &t->tensor();
}

absl::Status SameDType(const TensorType& a, const TensorType& b) {
  if (a.dtype != b.dtype) {
    return Error(absl::StrCat("dtype mismatch: ", a.ToString(), " vs ", b.ToString(),
                              " (state the conversion with convert)"));
  }
  return absl::OkStatus();
}

// convert(x) {to = dtype}: to a floating-point dtype from any dtype (narrowing rounds to nearest
// even; widening and integers to f32 are exact). Converting to an integer dtype is
// quantization, which needs scales: not a convert.
absl::StatusOr<Type> InferConvert(const TensorType& x, const Attributes& attrs) {
  const std::string& to_name = std::get<std::string>(attrs.at("to"));
  const std::optional<DType> to = ParseDType(to_name);
  if (!to.has_value()) {
    return Error(absl::StrCat("'", to_name, "' is not a dtype (expected f32, bf16, f16, i8 or i32)"));
  }
  if (!IsFloatDType(*to)) {
    return Error(absl::StrCat("convert to ", to_name, " is not defined: converting to an integer "
                              "type is quantization, which needs scales"));
  }
  TensorType out = x;
  out.dtype = *to;
  return Type::Tensor(std::move(out));
}

// grouped_gemm: validates the index lists and infers one tensor type per GEMM.
absl::StatusOr<Type> InferGroupedGemm(const std::vector<const Type*>& operands,
                                      const Attributes& attrs) {
  auto kinds_it = attrs.find("kind");
  const auto* kinds = std::get_if<std::vector<std::string>>(&kinds_it->second);
  if (kinds == nullptr) return Error("attribute 'kind' must be a list of `linear` / `matmul`");
  const size_t count = kinds->size();
  if (count == 0) return Error("grouped_gemm needs at least one GEMM");
  std::vector<const std::vector<int64_t>*> lists;
  for (const char* name : {"act", "weight", "bias"}) {
    const auto* list = std::get_if<std::vector<int64_t>>(&attrs.find(name)->second);
    // An empty list `[]` parses as an integer list; identifiers are an error here.
    if (list == nullptr) return Error(absl::StrCat("attribute '", name, "' must be a list of integers"));
    if (list->size() != count) {
      return Error(absl::StrCat("attribute '", name, "' has ", list->size(), " entries but 'kind' has ",
                                count, "; every GEMM needs one of each"));
    }
    lists.push_back(list);
  }
  const std::vector<int64_t>* scales = nullptr;  // optional
  if (auto it = attrs.find("scale"); it != attrs.end()) {
    scales = std::get_if<std::vector<int64_t>>(&it->second);
    if (scales == nullptr) return Error("attribute 'scale' must be a list of integers");
    if (scales->size() != count) {
      return Error(absl::StrCat("attribute 'scale' has ", scales->size(), " entries but 'kind' has ", count,
                                "; every GEMM needs one (-1: no scale)"));
    }
  }
  const int num_operands = static_cast<int>(operands.size());
  std::vector<bool> referenced(num_operands, false);
  auto operand = [&](const char* what, size_t gemm, int64_t index)
      -> absl::StatusOr<const TensorType*> {
    if (index < 0 || index >= num_operands) {
      return Error(absl::StrCat(what, "[", gemm, "] = ", index, " is out of range: there are ",
                                num_operands, " operands"));
    }
    referenced[index] = true;
    return AsTensor(operands[index], static_cast<int>(index));
  };
  std::vector<TensorType> results;
  for (size_t i = 0; i < count; ++i) {
    const std::optional<OpKind> parsed = ParseGemmKind((*kinds)[i]);
    if (!parsed.has_value()) {
      return Error(absl::StrCat("kind[", i, "] = ", (*kinds)[i], " is not `linear` or `matmul`"));
    }
    const OpKind kind = *parsed;
    BRAID_ASSIGN_OR_RETURN(const TensorType* x, operand("act", i, (*lists[0])[i]));
    BRAID_ASSIGN_OR_RETURN(const TensorType* w, operand("weight", i, (*lists[1])[i]));
    const TensorType* bias = nullptr;
    int64_t bias_index = (*lists[2])[i];
    if (bias_index != -1) {
      if (kind == OpKind::kMatmul) return Error(absl::StrCat("GEMM ", i, " is a matmul; only linear takes a bias"));
      BRAID_ASSIGN_OR_RETURN(bias, operand("bias", i, bias_index));
    }
    const TensorType* scale = nullptr;
    if (scales != nullptr && (*scales)[i] != -1) {
      BRAID_ASSIGN_OR_RETURN(scale, operand("scale", i, (*scales)[i]));
    }
    auto type = InferGemmType(kind, *x, *w, bias, scale);
    if (!type.ok()) return Error(absl::StrCat("GEMM ", i, ": ", type.status().message()));
    results.push_back(*std::move(type));
  }
  for (int i = 0; i < num_operands; ++i) {
    if (!referenced[i]) return Error(absl::StrCat("operand #", i, " is not used by any GEMM"));
  }
  return Type::Layout(std::move(results));
}

}  // namespace

absl::StatusOr<Shape> BroadcastShapes(const Shape& a, const Shape& b) {
  const size_t rank = std::max(a.size(), b.size());
  Shape out(rank, Dim::Const(1));
  for (size_t i = 0; i < rank; ++i) {
    const Dim* da = i < a.size() ? &a[a.size() - 1 - i] : nullptr;
    const Dim* db = i < b.size() ? &b[b.size() - 1 - i] : nullptr;
    Dim& result = out[rank - 1 - i];
    if (da == nullptr || *da == Dim::Const(1)) {
      result = db != nullptr ? *db : Dim::Const(1);
    } else if (db == nullptr || *db == Dim::Const(1) || *da == *db) {
      result = *da;
    } else {
      return Error(absl::StrCat("cannot broadcast dimension ", da->ToString(), " against ",
                                db->ToString()));
    }
  }
  return out;
}

absl::StatusOr<TensorType> InferGemmType(OpKind kind, const TensorType& x, const TensorType& w,
                                         const TensorType* bias, const TensorType* scale) {
  // Weight storage: an f32 GEMM may keep its weight in bf16, f16 or i8, a bf16 GEMM in i8,
  // widened exactly as it is read (what fold-weight-convert makes of `linear(%x,
  // convert(%w_bf16))`, and of an int8 weight's dequantisation with its scale). Otherwise the
  // operands share a dtype.
  // An i8 x i8 GEMM (dynamically quantised activations times int8 weights) sums the products
  // exactly and gives f32: the sum rounded once; the scales are the graph's own `mul`s (or the
  // weight scale operand).
  const bool narrow_weight =
      (x.dtype == DType::kF32 && (w.dtype == DType::kBF16 || w.dtype == DType::kF16 || w.dtype == DType::kI8)) ||
      (x.dtype == DType::kBF16 && w.dtype == DType::kI8);
  const bool int8 = x.dtype == DType::kI8 && w.dtype == DType::kI8;
  if (!narrow_weight) BRAID_RETURN_IF_ERROR(SameDType(x, w));
  if (int8 && bias != nullptr) {
    return Error("an i8 x i8 GEMM takes no bias (its sum is unscaled): add the bias after the scales");
  }
  if (!IsFloatDType(x.dtype) && !int8) {
    return Error(absl::StrCat("GEMMs compute on floating-point tensors, got ", x.ToString(),
                              "; convert the operands to f32 (or bf16/f16) first, or quantize both to i8"));
  }
  if (x.rank() < 1) return Error(absl::StrCat("the input must have rank >= 1, got ", x.ToString()));
  if (w.rank() != 2) return Error(absl::StrCat("the weight must have rank 2, got ", w.ToString()));
  const Dim& k = x.shape.back();
  const bool is_linear = kind == OpKind::kLinear;
  const Dim& wk = GemmWeightK(kind, w.shape);
  const Dim& n = GemmWeightN(kind, w.shape);
  if (k != wk) {
    return Error(absl::StrCat("reduction dims differ: input ", x.ToString(), " has K = ",
                              k.ToString(), " but weight ", w.ToString(), " has K = ",
                              wk.ToString(), is_linear ? " (linear wants w[N, K])" : " (matmul wants b[K, N])"));
  }
  if (bias != nullptr) {
    BRAID_RETURN_IF_ERROR(SameDType(x, *bias));
    if (bias->rank() != 1 || bias->shape[0] != n) {
      return Error(absl::StrCat("bias must be [", n.ToString(), "], got ", bias->ToString()));
    }
  }
  if (scale != nullptr) {
    // One scale per output column: [N], or shaped like a column of the weight's N axis.
    const bool per_column =
        scale->rank() == 1 ? scale->shape[0] == n
        : scale->rank() == 2 && (is_linear ? scale->shape[0] == n && scale->shape[1] == Dim::Const(1)
                                           : scale->shape[0] == Dim::Const(1) && scale->shape[1] == n);
    // f32, or the activation's dtype (a bf16 model's scales are bf16).
    const bool scale_dtype = scale->dtype == DType::kF32 || (scale->dtype == x.dtype && IsFloatDType(x.dtype));
    if (!scale_dtype || !per_column) {
      return Error(absl::StrCat("the weight scale must be f32[", n.ToString(), "] or f32",
                                is_linear ? absl::StrCat("[", n.ToString(), ", 1]") : absl::StrCat("[1, ", n.ToString(), "]"),
                                " (one per output channel; or in the activation's dtype), got ", scale->ToString()));
    }
  }
  TensorType out = x;
  out.shape.back() = n;
  if (int8) out.dtype = DType::kF32;
  return out;
}

absl::StatusOr<Type> InferResultType(OpKind op, const std::vector<const Type*>& operands,
                                     const Attributes& attrs, const Type* declared) {
  const OpInfo& info = GetOpInfo(op);
  const int n = static_cast<int>(operands.size());
  if (n < info.min_operands || (info.max_operands != kVariadic && n > info.max_operands)) {
    std::string expected =
        info.max_operands == kVariadic ? absl::StrCat("at least ", info.min_operands)
        : info.min_operands == info.max_operands
            ? absl::StrCat(info.min_operands)
            : absl::StrCat(info.min_operands, info.max_operands == info.min_operands + 1 ? " or " : " to ",
                           info.max_operands);
    return Error(absl::StrCat("'", info.name, "' takes ", expected, " operand",
                              expected == "1" ? "" : "s", ", got ", n));
  }
  // Attributes: exactly the names the table lists, each of its kind. An empty list `[]`
  // (read as an integer list) is a list of any kind.
  std::map<std::string, AttrKind> wanted;
  for (const AttrSpec& spec : info.attributes) wanted.emplace(spec.name, spec.kind);
  for (const auto& [name, value] : attrs) {
    if (!wanted.count(name)) {
      return Error(absl::StrCat("'", info.name, "' has no attribute '", name, "'"));
    }
  }
  for (const AttrSpec& spec : info.attributes) {
    const std::string name = spec.name;
    const AttrKind kind = spec.kind;
    auto it = attrs.find(name);
    if (it == attrs.end() && spec.optional) continue;
    if (it == attrs.end()) {
      return Error(absl::StrCat("'", info.name, "' requires attribute '", name, "'"));
    }
    const AttrKind given = KindOf(it->second);
    const auto* ints = std::get_if<std::vector<int64_t>>(&it->second);
    const bool empty_list = ints != nullptr && ints->empty() &&
                            (kind == AttrKind::kFloatList || kind == AttrKind::kIdentList);
    if (given != kind && !empty_list) {
      return Error(absl::StrCat("attribute '", name, "' must be ", AttrKindName(kind), ", not ",
                                AttrKindName(given)));
    }
  }
  if (op == OpKind::kGroupedGemm) return InferGroupedGemm(operands, attrs);
  if (op == OpKind::kMultiOutput) {
    if (!operands[0]->is_layout()) {
      return Error("multi_output reads a multi_output_layout value (a grouped_gemm result)");
    }
    const int64_t* index = std::get_if<int64_t>(&attrs.at("index"));
    if (index == nullptr) return Error("attribute 'index' must be an integer");
    const auto& layout = operands[0]->layout();
    if (*index < 0 || *index >= static_cast<int64_t>(layout.size())) {
      return Error(absl::StrCat("index ", *index, " is out of range: the layout has ",
                                layout.size(), " outputs"));
    }
    return Type::Tensor(layout[*index]);
  }
  std::vector<const TensorType*> tensors;
  for (int i = 0; i < n; ++i) {
    BRAID_ASSIGN_OR_RETURN(const TensorType* t, AsTensor(operands[i], i));
    tensors.push_back(t);
  }
  if (info.Has(kTraitGemm)) {
    // (x, w[, b][, s]): `scale = i` names the scale, which must be the last operand.
    const int64_t* scale_attr = nullptr;
    if (auto it = attrs.find("scale"); it != attrs.end()) {
      scale_attr = std::get_if<int64_t>(&it->second);
      if (n < 3 || *scale_attr != n - 1) {
        return Error(absl::StrCat("attribute 'scale' must name the last operand, the weight scale (", n - 1,
                                  n < 3 ? " is the weight: add the scale" : "", "), not ", *scale_attr));
      }
    }
    if (scale_attr == nullptr && n == 4) {
      return Error("'linear' takes (x, w[, b]), or a weight scale last named by {scale = 2} or {scale = 3}; "
                   "4 operands without 'scale'");
    }
    const GemmOperands gemm = LoneGemmOperands(op, n, scale_attr);
    if (op == OpKind::kMatmul && gemm.has_bias()) {
      return Error("matmul takes no bias (only linear does); a third operand is a weight scale, named by "
                   "{scale = 2}");
    }
    BRAID_ASSIGN_OR_RETURN(TensorType t, InferGemmType(op, *tensors[gemm.act], *tensors[gemm.weight],
                                                       gemm.has_bias() ? tensors[gemm.bias] : nullptr,
                                                       gemm.has_scale() ? tensors[gemm.scale] : nullptr));
    return Type::Tensor(std::move(t));
  }
  if (op == OpKind::kAllReduce) {
    if (tensors[0]->dtype != DType::kF32 && tensors[0]->dtype != DType::kBF16) {
      return Error(absl::StrCat("all_reduce sums f32 or bf16 tensors, got ", tensors[0]->ToString()));
    }
    return Type::Tensor(*tensors[0]);
  }
  if (info.Has(kTraitShape) || info.Has(kTraitReduction) || info.Has(kTraitBatchMatmul) ||
      info.Has(kTraitAttention)) {
    BRAID_ASSIGN_OR_RETURN(TensorType t, InferTensorOpType(op, tensors, attrs, declared));
    return Type::Tensor(std::move(t));
  }
  BRAID_CHECK(info.Has(kTraitPointwise), "op without an inference rule");
  if (op == OpKind::kConvert) return InferConvert(*tensors[0], attrs);
  for (const TensorType* t : tensors) {
    if (!IsFloatDType(t->dtype)) {
      return Error(absl::StrCat("'", info.name, "' computes on floating-point tensors, got ", t->ToString(),
                                "; convert it to f32 first"));
    }
  }
  if (n == 1) return Type::Tensor(*tensors[0]);
  // quantize(x, s) is an i8 tensor; x and its (f32) scale may differ in float dtype.
  if (op != OpKind::kQuantize) BRAID_RETURN_IF_ERROR(SameDType(*tensors[0], *tensors[1]));
  BRAID_ASSIGN_OR_RETURN(Shape shape, BroadcastShapes(tensors[0]->shape, tensors[1]->shape));
  return Type::Tensor(TensorType{op == OpKind::kQuantize ? DType::kI8 : tensors[0]->dtype, std::move(shape)});
}

}  // namespace braid
