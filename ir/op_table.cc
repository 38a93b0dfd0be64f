// The op table and the reference scalar semantics of every pointwise op.
#include "ir/op_table.h"

#include <cmath>

#include "ir/status_macros.h"

namespace braid {
namespace {

double Relu(double x) { return x > 0 ? x : 0; }
double Sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }
double Silu(double x) { return x * Sigmoid(x); }
double Gelu(double x) { return 0.5 * x * (1.0 + std::erf(x / std::sqrt(2.0))); }
double GeluTanh(double x) {
  const double k = std::sqrt(2.0 / M_PI);
  return 0.5 * x * (1.0 + std::tanh(k * (x + 0.044715 * x * x * x)));
}
double Tanh(double x) { return std::tanh(x); }
double Exp(double x) { return std::exp(x); }
double Neg(double x) { return -x; }
double Abs(double x) { return std::fabs(x); }
double Rsqrt(double x) { return 1.0 / std::sqrt(x); }
double Pow(double a, double b) { return std::pow(a, b); }
double Add(double a, double b) { return a + b; }
double Sub(double a, double b) { return a - b; }
double Mul(double a, double b) { return a * b; }
double Div(double a, double b) { return a / b; }
// NaN-propagating, like torch.maximum.
// IEEE 754-2019 maximum: NaN-propagating, and +0 above -0 (so the result does not depend on
// the operand order; compiled code uses llvm.maximum, which is this).
double Maximum(double a, double b) {
  if (std::isnan(a) || std::isnan(b)) return NAN;
  if (a == b) return std::signbit(a) ? b : a;
  return a > b ? a : b;
}

OpInfo Unary(OpKind k, const char* name, double (*fn)(double)) {
  return OpInfo{k, name, 1, 1, kTraitPointwise | kTraitUnary, {}, fn, nullptr};
}
OpInfo Binary(OpKind k, const char* name, double (*fn)(double, double)) {
  return OpInfo{k, name, 2, 2, kTraitPointwise | kTraitBinary, {}, nullptr, fn};
}

OpInfo Reduction(OpKind k, const char* name) {
  return OpInfo{k, name, 1, 1, kTraitReduction, {{"axis", AttrKind::kInt}, {"keepdim", AttrKind::kIdent, true}}};
}

// Indexed by OpKind; the order must match the enum (checked in GetOpInfo).
const std::vector<OpInfo>& Table() {
  static const std::vector<OpInfo>* table = new std::vector<OpInfo>{
      {OpKind::kLinear, "linear", 2, 4, kTraitGemm | kTraitTemplate, {{"scale", AttrKind::kInt, true}}},
      {OpKind::kMatmul, "matmul", 2, 3, kTraitGemm | kTraitTemplate, {{"scale", AttrKind::kInt, true}}},
      Unary(OpKind::kRelu, "relu", Relu),
      Unary(OpKind::kSilu, "silu", Silu),
      Unary(OpKind::kGelu, "gelu", Gelu),
      Unary(OpKind::kGeluTanh, "gelu_tanh", GeluTanh),
      Unary(OpKind::kSigmoid, "sigmoid", Sigmoid),
      Unary(OpKind::kTanh, "tanh", Tanh),
      Unary(OpKind::kExp, "exp", Exp),
      Unary(OpKind::kNeg, "neg", Neg),
      Binary(OpKind::kAdd, "add", Add),
      Binary(OpKind::kSub, "sub", Sub),
      Binary(OpKind::kMul, "mul", Mul),
      Binary(OpKind::kDiv, "div", Div),
      Binary(OpKind::kMaximum, "maximum", Maximum),
      // convert(x) {to = dtype}: x's values in another dtype (type_inference.cc and the
      // interpreter define which conversions exist and how they round).
      {OpKind::kConvert, "convert", 1, 1, kTraitPointwise | kTraitUnary, {{"to", AttrKind::kIdent}}},
      {OpKind::kGroupedGemm,
       "grouped_gemm",
       2,
       kVariadic,
       kTraitTemplate | kTraitMultiOutput,
       {{"act", AttrKind::kIntList},
        {"bias", AttrKind::kIntList},
        {"kind", AttrKind::kIdentList},
        {"scale", AttrKind::kIntList, true},
        {"weight", AttrKind::kIntList}}},
      {OpKind::kMultiOutput, "multi_output", 1, 1, kTraitProjection, {{"index", AttrKind::kInt}}},
      {OpKind::kAllReduce, "all_reduce", 1, 1, kTraitCollective, {}},
      Unary(OpKind::kRsqrt, "rsqrt", Rsqrt),
      Binary(OpKind::kPow, "pow", Pow),
      {OpKind::kReshape, "reshape", 1, 1, kTraitShape | kTraitResultTyped, {}},
      {OpKind::kTranspose, "transpose", 1, 1, kTraitShape, {{"perm", AttrKind::kIntList}}},
      {OpKind::kSlice,
       "slice",
       1,
       1,
       kTraitShape,
       {{"axis", AttrKind::kInt}, {"end", AttrKind::kInt}, {"start", AttrKind::kInt}}},
      {OpKind::kConcat, "concat", 1, kVariadic, kTraitShape, {{"axis", AttrKind::kInt}}},
      {OpKind::kExpand, "expand", 1, 1, kTraitShape | kTraitResultTyped, {}},
      Reduction(OpKind::kReduceSum, "reduce_sum"),
      Reduction(OpKind::kReduceMean, "reduce_mean"),
      Reduction(OpKind::kReduceMax, "reduce_max"),
      {OpKind::kSoftmax, "softmax", 1, 1, kTraitReduction, {{"axis", AttrKind::kInt}}},
      {OpKind::kRmsNorm, "rms_norm", 2, 2, kTraitReduction, {{"eps", AttrKind::kFloat}}},
      {OpKind::kBatchMatmul, "batch_matmul", 2, 2, kTraitBatchMatmul, {}},
      {OpKind::kAttention,
       "attention",
       3,
       4,
       kTraitAttention,
       {{"causal", AttrKind::kIdent, true}, {"scale", AttrKind::kFloat, true}, {"masked_rows", AttrKind::kIdent, true}}},
      {OpKind::kRotateHalf, "rotate_half", 1, 1, kTraitShape, {}},
      Unary(OpKind::kAbs, "abs", Abs),
      // quantize(x, s): x / s as i8 (round to nearest even, saturate to [-128, 127], NaN -> 0:
      // the i8 conversion of ir/tensor.h), s broadcasting: a per-token scale is f32[M, 1].
      Binary(OpKind::kQuantize, "quantize", Div),
      // quant_scale(x) {axis}: max(|x|) / 127 along the axis, kept as a size-1 dim, in f32: the
      // symmetric per-token scale of dynamic int8 quantisation (with quantize above).
      {OpKind::kQuantScale, "quant_scale", 1, 1, kTraitReduction, {{"axis", AttrKind::kInt}}},
      // rms_scale(x) {eps}: rsqrt(mean(x*x) + eps) over the last dim, kept as a size-1 dim, in
      // f32: RMSNorm without its weight, the row factor fold-rms-norm applies after a GEMM.
      {OpKind::kRmsScale, "rms_scale", 1, 1, kTraitReduction, {{"eps", AttrKind::kFloat}}},
  };
  return *table;
}

}  // namespace

const char* AttrKindName(AttrKind kind) {
  switch (kind) {
    case AttrKind::kInt: return "an integer";
    case AttrKind::kFloat: return "a float";
    case AttrKind::kIdent: return "an identifier";
    case AttrKind::kIntList: return "a list of integers";
    case AttrKind::kFloatList: return "a list of floats";
    case AttrKind::kIdentList: return "a list of identifiers";
  }
  return "?";
}

const OpInfo& GetOpInfo(OpKind kind) {
  const OpInfo& info = Table()[static_cast<size_t>(kind)];
  BRAID_CHECK(info.kind == kind, "op table order does not match OpKind");
  return info;
}

const OpInfo* LookupOp(absl::string_view name) {
  for (const OpInfo& info : Table()) {
    if (name == info.name) return &info;
  }
  return nullptr;
}

absl::Span<const OpInfo> AllOps() { return Table(); }

}  // namespace braid
