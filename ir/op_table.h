// The one op table: every op's enum, text name, arity, traits, required attributes and (for
// pointwise ops) its reference scalar meaning. The parser, printer, verifier, interpreter and
// codegen read this table instead of repeating op lists.
//
// Op forms (result types after `:` are optional on input and always printed):
//
//   linear(x[..., K], w[N, K])            -> [..., N]    y = x·wᵀ        (nn.Linear)
//   linear(x[..., K], w[N, K], b[N])      -> [..., N]    y = x·wᵀ + b
//   matmul(a[..., K], b[K, N])            -> [..., N]    y = a·b
//   linear(x, w, [b,] s) {scale = i}      -> [..., N]    y = (x·wᵀ)·s + b, s = operand i (the
//   matmul(a, b, s) {scale = 2}           -> [..., N]    last): a weight scale per output channel
//                                                        (int8 weights carry one), f32 (or the
//                                                        activation's dtype) [N], or [N, 1] for
//                                                        linear / [1, N] for matmul, applied to
//                                                        the f32 sum before the bias. Weights
//                                                        may be narrower than the activation:
//                                                        bf16/f16/i8 under f32, i8 under bf16
//   relu silu gelu gelu_tanh sigmoid tanh exp neg (x)   -> same type as x
//   add sub mul div maximum (a, b)        -> NumPy broadcast of a and b (equal dims or a
//                                            literal 1; symbols must match by name)
//   convert(x) {to = T}                   -> x's shape in dtype T (a float dtype; narrowing rounds
//                                            to nearest even, widening is exact)
//
//   grouped_gemm(operands...) {kind = [k0, ..., kG-1], act = [a0, ...], weight = [w0, ...],
//                              bias = [b0, ...], scale = [s0, ...]} : multi_output_layout(T0, ..., TG-1)
//     G GEMMs as one template node. GEMM i is `ki(operands[ai], operands[wi])` with ki one of
//     `linear` / `matmul`, plus `operands[bi]` as bias when bi >= 0 (only for linear; -1 = no
//     bias), scaled by `operands[si]` when si >= 0 (`scale` may be absent: no scales). The
//     index lists express shared activations (all ai equal), independent ones (different ai),
//     per-GEMM optional bias and unequal output widths; Ti is GEMM i's result.
//     Every operand must be referenced by at least one index.
//   multi_output(%t) {index = i}          -> the i-th tensor of layout %t
//   all_reduce(x)                         -> x's type: the sum of x over every rank of a
//                                            tensor-parallel group (f32 or bf16, summed in f32);
//                                            in a single process (one rank) x itself
//   rsqrt(x)                              -> 1 / sqrt(x)
//   pow(a, b)                             -> a^b, broadcast like add (b is often a 1-element
//                                            constant: x.pow(2))
//   abs(x)                                -> |x|
//   quantize(x, s)                        -> i8: x / s rounded to nearest even, saturated to
//                                            [-128, 127], NaN to 0; s broadcasts (f32[M, 1] per
//                                            token) and may differ from x in float dtype
//   linear(q: i8[M, K], w: i8[N, K])      -> f32[M, N]: the exact integer sum rounded once (no
//                                            bias): dynamic int8 (W8A8), scaled by the graph's muls
//
// Shape ops (every result element is an operand element; `axis` may be negative, from the end):
//   reshape(x) : T                        -> T, x's elements in row-major order; T's shape is
//                                            written and holds as many elements ([B, T, 4096] ->
//                                            [B*T, 4096] or [B, T, 32, 128])
//   transpose(x) {perm = [p0, ...]}       -> result dim i is x's dim p_i
//   slice(x) {axis = a, start = s, end = e} -> x[..., s:e, ...] along a (a static dim)
//   concat(x0, x1, ...) {axis = a}        -> the operands one after another along a
//   expand(x) : T                         -> x broadcast to T (size-1 dims repeat; leading dims
//                                            may be added), like torch.expand
//   rotate_half(x[..., D])                -> concat(-x[..., D/2:], x[..., :D/2]) (D static, even):
//                                            the rotary embedding's x·cos + rotate_half(x)·sin
// Reductions (computed in f32):
//   reduce_sum / reduce_mean / reduce_max (x) {axis = a, keepdim = true|false}
//                                         -> x without dim a (or with it as 1 under keepdim)
//   softmax(x) {axis = a}                 -> exp(x - max) / sum(exp(x - max)) along a
//   rms_norm(x[..., D], w[D]) {eps = e}   -> x * rsqrt(mean(x*x over D) + e) * w
//   rms_scale(x[..., D]) {eps = e}         -> f32[..., 1]: rsqrt(mean(x*x over D) + e), RMSNorm's
//                                            per-row factor (what fold-rms-norm moves into a
//                                            GEMM's epilogue)
//   quant_scale(x) {axis = a}             -> f32, dim a kept as 1: max(|x|) / 127 along a (NaN
//                                            propagates): the symmetric per-token scale
//   batch_matmul(a[..., T, K], b[..., K, S]) -> [..., T, S]; the batch dims broadcast
//   attention(q[B, Hq, T, D], k[B, Hkv, S, D], v[B, Hkv, S, D] [, mask]) {causal = true|false, scale = f}
//                                         -> [B, Hq, T, D] = softmax(q·kᵀ·scale + mask)·v per head;
//                                            query head h reads KV head h / (Hq / Hkv) (grouped-
//                                            query attention, as repeat_kv); causal: query t sits
//                                            at position S - T + t and sees keys 0 ..= S - T + t
//                                            (decode against a cache; torch's is_causal when
//                                            S = T); mask: additive, broadcast to [B, Hq, T, S];
//                                            scale absent: 1 / sqrt(D)
#ifndef BRAID_IR_OP_TABLE_H_
#define BRAID_IR_OP_TABLE_H_

#include <cstdint>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace braid {

enum class OpKind : uint8_t {
  kLinear,
  kMatmul,
  kRelu,
  kSilu,
  kGelu,
  kGeluTanh,
  kSigmoid,
  kTanh,
  kExp,
  kNeg,
  kAdd,
  kSub,
  kMul,
  kDiv,
  kMaximum,
  kConvert,
  kGroupedGemm,
  kMultiOutput,
  kAllReduce,
  kRsqrt,
  kPow,
  kReshape,
  kTranspose,
  kSlice,
  kConcat,
  kExpand,
  kReduceSum,
  kReduceMean,
  kReduceMax,
  kSoftmax,
  kRmsNorm,
  kBatchMatmul,
  kAttention,
  kRotateHalf,
  kAbs,
  kQuantize,
  kQuantScale,
  kRmsScale,
};

// What kind of op it is. The passes, the scheduler and codegen classify ops by these traits,
// never by listing op kinds.
enum OpTrait : uint32_t {
  kTraitPointwise = 1u << 0,    // elementwise; fusible into loops and GEMM epilogues
  kTraitGemm = 1u << 1,         // a single GEMM (linear, matmul)
  kTraitTemplate = 1u << 2,     // lowered to a GEMM template kernel (a grouped one if also
                                // kTraitMultiOutput)
  kTraitMultiOutput = 1u << 3,  // result is a MultiOutputLayout
  kTraitProjection = 1u << 4,   // extracts one tensor from a MultiOutputLayout
  kTraitUnary = 1u << 5,        // pointwise of one operand (OpInfo::unary is its meaning)
  kTraitBinary = 1u << 6,       // pointwise of two broadcast operands (OpInfo::binary)
  kTraitReduction = 1u << 7,    // reduces along an axis (reduce_*, softmax, rms_norm): a row kernel
  kTraitShape = 1u << 8,        // moves elements without arithmetic (reshape, transpose, slice,
                                // concat, expand; rotate_half also flips signs): a copy kernel,
                                // or no kernel at all (a view)
  kTraitCollective = 1u << 9,   // communicates with the other ranks (a kernel of its own)
  kTraitBatchMatmul = 1u << 10, // a matmul of two activations with batch dims (attention scores)
  kTraitResultTyped = 1u << 11, // its result's shape is the written type (reshape, expand)
  kTraitAttention = 1u << 12,   // softmax(Q·Kᵀ·scale + mask)·V as one template (tiles, online softmax)
};

inline constexpr int kVariadic = -1;

// The kind of value an attribute holds. A float where an integer is required (or the other
// way round) is an error: there is no implicit conversion.
enum class AttrKind : uint8_t { kInt, kFloat, kIdent, kIntList, kFloatList, kIdentList };
// "an integer", "a list of floats", ... (for error messages).
const char* AttrKindName(AttrKind kind);

struct AttrSpec {
  const char* name;
  AttrKind kind;
  bool optional = false;  // may be absent (required otherwise)
};

struct OpInfo {
  OpKind kind;
  const char* name;
  int min_operands;
  int max_operands;  // kVariadic: no upper bound
  uint32_t traits;
  // The attributes the op takes (and the only ones it accepts), with their kinds; all are
  // required but those marked optional.
  std::vector<AttrSpec> attributes;
  // Reference scalar meaning for pointwise ops (exactly one is set for them), else null.
  double (*unary)(double) = nullptr;
  double (*binary)(double, double) = nullptr;

  bool Has(OpTrait t) const { return (traits & t) != 0; }
};

const OpInfo& GetOpInfo(OpKind kind);
// Null if `name` is not an op.
const OpInfo* LookupOp(absl::string_view name);
absl::Span<const OpInfo> AllOps();

}  // namespace braid

#endif  // BRAID_IR_OP_TABLE_H_
