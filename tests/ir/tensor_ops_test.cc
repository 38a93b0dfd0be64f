// Polynomial dims, and the interpreter's shape ops, reductions and batch_matmul against values
// computed by hand.
#include "ir/tensor_ops.h"

#include <cmath>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "ir/interpreter.h"
#include "ir/parser.h"
#include "ir/verifier.h"
#include "tests/status_matchers.h"

namespace braid {
namespace {

using ::braid::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::FloatNear;
using ::testing::HasSubstr;
using ::testing::Pointwise;

absl::StatusOr<std::vector<Tensor>> RunText(const std::string& text, std::vector<Tensor> inputs,
                                            DimBindings dims = {}) {
  auto module = ParseModule("t.ir", text);
  if (!module.ok()) return module.status();
  absl::Status verified = VerifyModule(*module);
  if (!verified.ok()) return verified;
  return Interpret(*module->graphs[0], inputs, dims);
}

Tensor T(std::vector<int64_t> shape, std::vector<float> data) { return Tensor::F32(std::move(shape), data); }

TEST(DimTest, ProductsAndSumsAreCanonical) {
  ASSERT_OK_AND_ASSIGN(Dim bt, Dim::Multiply(Dim::Symbol("T"), Dim::Symbol("B")));
  ASSERT_OK_AND_ASSIGN(Dim tb, Dim::Multiply(Dim::Symbol("B"), Dim::Symbol("T")));
  EXPECT_EQ(bt, tb);
  EXPECT_EQ(bt.ToString(), "B*T");
  EXPECT_TRUE(bt.is_symbolic());
  EXPECT_FALSE(bt.is_symbol());
  ASSERT_OK_AND_ASSIGN(Dim four_bt, Dim::Multiply(bt, Dim::Const(4)));
  EXPECT_EQ(four_bt.ToString(), "4*B*T");
  ASSERT_OK_AND_ASSIGN(Dim p_t, Dim::Add(Dim::Symbol("T"), Dim::Symbol("P")));
  EXPECT_EQ(p_t.ToString(), "P + T");
  ASSERT_OK_AND_ASSIGN(Dim p_t_1, Dim::Add(p_t, Dim::Const(1)));
  EXPECT_EQ(p_t_1.ToString(), "P + T + 1");
  ASSERT_OK_AND_ASSIGN(Dim two_t, Dim::Add(Dim::Symbol("T"), Dim::Symbol("T")));
  EXPECT_EQ(two_t.ToString(), "2*T");
  ASSERT_OK_AND_ASSIGN(Dim constant, Dim::Multiply(Dim::Const(32), Dim::Const(128)));
  EXPECT_FALSE(constant.is_symbolic());
  EXPECT_EQ(constant.value(), 4096);
  EXPECT_EQ(Dim::Const(0).ToString(), "0");
  EXPECT_THAT(p_t.Symbols(), ElementsAre("P", "T"));
}

TEST(DimTest, Evaluates) {
  ASSERT_OK_AND_ASSIGN(Dim bt, Dim::Multiply(Dim::Symbol("B"), Dim::Symbol("T")));
  ASSERT_OK_AND_ASSIGN(Dim poly, Dim::Add(bt, Dim::Symbol("P")));
  ASSERT_OK_AND_ASSIGN(int64_t value, poly.Evaluate({{"B", 2}, {"T", 7}, {"P", 5}}));
  EXPECT_EQ(value, 19);
  EXPECT_THAT(poly.Evaluate({{"B", 2}, {"T", 7}}), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("'P'")));
  EXPECT_THAT(bt.Evaluate({{"B", int64_t{1} << 32}, {"T", int64_t{1} << 32}}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("is above")));
}

TEST(DimTest, CoefficientOverflowIsAnError) {
  ASSERT_OK_AND_ASSIGN(Dim big, Dim::Multiply(Dim::Symbol("M"), Dim::Const(int64_t{1} << 32)));
  EXPECT_THAT(Dim::Multiply(big, Dim::Const(int64_t{1} << 32)), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("coefficient above")));
}

TEST(TensorOpsTest, ReshapeTransposeSlice) {
  const char* text =
      "graph @g(%x: f32[B, 6]) {\n"
      "  %r = reshape(%x) : f32[B, 2, 3]\n"
      "  %t = transpose(%r) {perm = [0, 2, 1]}\n"
      "  %s = slice(%t) {axis = -1, start = 1, end = 2}\n"
      "  return %r, %t, %s\n}";
  ASSERT_OK_AND_ASSIGN(auto out, RunText(text, {T({1, 6}, {0, 1, 2, 3, 4, 5})}, {{"B", 1}}));
  EXPECT_THAT(out[0].shape(), ElementsAre(1, 2, 3));
  EXPECT_THAT(out[1].shape(), ElementsAre(1, 3, 2));
  EXPECT_THAT(out[1].f32_values(), ElementsAre(0, 3, 1, 4, 2, 5));
  EXPECT_THAT(out[2].shape(), ElementsAre(1, 3, 1));
  EXPECT_THAT(out[2].f32_values(), ElementsAre(3, 4, 5));
}

TEST(TensorOpsTest, ConcatAndExpand) {
  const char* text =
      "graph @g(%a: f32[2, 1], %b: f32[2, 2]) {\n"
      "  %c = concat(%a, %b) {axis = 1}\n"
      "  %e = expand(%a) : f32[3, 2, 2]\n"
      "  return %c, %e\n}";
  ASSERT_OK_AND_ASSIGN(auto out, RunText(text, {T({2, 1}, {1, 2}), T({2, 2}, {10, 11, 20, 21})}));
  EXPECT_THAT(out[0].f32_values(), ElementsAre(1, 10, 11, 2, 20, 21));
  EXPECT_THAT(out[1].shape(), ElementsAre(3, 2, 2));
  EXPECT_THAT(out[1].f32_values(), ElementsAre(1, 1, 2, 2, 1, 1, 2, 2, 1, 1, 2, 2));
}

TEST(TensorOpsTest, Reductions) {
  const char* text =
      "graph @g(%x: f32[2, 3]) {\n"
      "  %s = reduce_sum(%x) {axis = 0}\n"
      "  %m = reduce_mean(%x) {axis = 1, keepdim = true}\n"
      "  %x2 = reduce_max(%x) {axis = -1}\n"
      "  return %s, %m, %x2\n}";
  ASSERT_OK_AND_ASSIGN(auto out, RunText(text, {T({2, 3}, {1, 2, 3, -4, 8, 5})}));
  EXPECT_THAT(out[0].f32_values(), ElementsAre(-3, 10, 8));
  EXPECT_THAT(out[1].shape(), ElementsAre(2, 1));
  EXPECT_THAT(out[1].f32_values(), ElementsAre(2, 3));
  EXPECT_THAT(out[2].f32_values(), ElementsAre(3, 8));
}

TEST(TensorOpsTest, ReduceMaxPropagatesNaN) {
  const char* text = "graph @g(%x: f32[1, 3]) {\n  %m = reduce_max(%x) {axis = 1}\n  return %m\n}";
  ASSERT_OK_AND_ASSIGN(auto out, RunText(text, {T({1, 3}, {1, NAN, 3})}));
  EXPECT_TRUE(std::isnan(out[0].f32()[0]));
}

TEST(TensorOpsTest, SoftmaxIsStable) {
  // exp(1000) overflows; shifted by the maximum it does not.
  const char* text = "graph @g(%x: f32[2, 3]) {\n  %p = softmax(%x) {axis = 1}\n  return %p\n}";
  ASSERT_OK_AND_ASSIGN(auto out, RunText(text, {T({2, 3}, {1, 2, 3, 1000, 1000, -INFINITY})}));
  const double z = std::exp(-2.0) + std::exp(-1.0) + 1.0;
  EXPECT_THAT(out[0].f32_values(), Pointwise(FloatNear(1e-6f), std::vector<float>{
      static_cast<float>(std::exp(-2.0) / z), static_cast<float>(std::exp(-1.0) / z), static_cast<float>(1.0 / z),
      0.5f, 0.5f, 0.0f}));
}

TEST(TensorOpsTest, RmsNorm) {
  // Row [3, 4]: mean of squares 12.5, so y = x / sqrt(12.5 + eps) * w.
  const char* text = "graph @g(%x: f32[1, 2], %w: f32[2]) {\n  %y = rms_norm(%x, %w) {eps = 0.5}\n  return %y\n}";
  ASSERT_OK_AND_ASSIGN(auto out, RunText(text, {T({1, 2}, {3, 4}), T({2}, {1, 2})}));
  EXPECT_THAT(out[0].f32_values(), Pointwise(FloatNear(1e-6f), std::vector<float>{
      static_cast<float>(3 / std::sqrt(13.0)), static_cast<float>(8 / std::sqrt(13.0))}));
}

TEST(TensorOpsTest, RmsScaleIsRmsNormsFactorPerRow) {
  // Rows [3, 4] and [0, 0]: rsqrt(12.5 + 0.5) and rsqrt(0 + 0.5), as f32[2, 1] whatever x's dtype.
  const char* text = "graph @g(%x: bf16[2, 2]) {\n  %r = rms_scale(%x) {eps = 0.5}\n  return %r\n}";
  ASSERT_OK_AND_ASSIGN(auto out, RunText(text, {ConvertTensor(T({2, 2}, {3, 4, 0, 0}), DType::kBF16)}));
  EXPECT_EQ(out[0].dtype(), DType::kF32);
  EXPECT_THAT(out[0].shape(), ElementsAre(2, 1));
  EXPECT_THAT(out[0].f32_values(), Pointwise(FloatNear(1e-6f), std::vector<float>{
      static_cast<float>(1 / std::sqrt(13.0)), static_cast<float>(1 / std::sqrt(0.5))}));
}

TEST(TensorOpsTest, BatchMatmulBroadcastsBatchDims) {
  // a: two batches of [1, 2]; b: one [2, 2] matrix shared by both.
  const char* text = "graph @g(%a: f32[2, 1, 2], %b: f32[1, 2, 2]) {\n  %y = batch_matmul(%a, %b)\n  return %y\n}";
  ASSERT_OK_AND_ASSIGN(auto out, RunText(text, {T({2, 1, 2}, {1, 2, 3, 4}), T({1, 2, 2}, {1, 10, 100, 1000})}));
  EXPECT_THAT(out[0].shape(), ElementsAre(2, 1, 2));
  EXPECT_THAT(out[0].f32_values(), ElementsAre(201, 2010, 403, 4030));
}

TEST(TensorOpsTest, ProductDimsBindFromOtherInputs) {
  // %flat's dim B*T is checked against B and T bound by %x.
  const char* text =
      "graph @g(%x: f32[B, T, 2], %flat: f32[B*T, 2]) {\n"
      "  %r = reshape(%x) : f32[B*T, 2]\n  %y = add(%r, %flat)\n  return %y\n}";
  ASSERT_OK_AND_ASSIGN(auto out, RunText(text, {T({2, 1, 2}, {1, 2, 3, 4}), T({2, 2}, {10, 20, 30, 40})},
                                         {{"B", 2}, {"T", 1}}));
  EXPECT_THAT(out[0].f32_values(), ElementsAre(11, 22, 33, 44));
  EXPECT_THAT(RunText(text, {T({2, 1, 2}, {1, 2, 3, 4}), T({3, 2}, {0, 0, 0, 0, 0, 0})}, {{"B", 2}, {"T", 1}}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("has shape [3, 2]")));
}

TEST(TensorOpsTest, AttentionIsItsDecomposition) {
  // GQA (4 query heads on 2 KV heads), causal against a cache (T = 3 of S = 5), with a mask:
  // the op against repeat_kv + batch_matmul + softmax + batch_matmul, causal mask by hand.
  const char* text =
      "graph @g(%q: f32[1, 4, 3, 8], %k: f32[1, 2, 5, 8], %v: f32[1, 2, 5, 8], %mask: f32[1, 1, 3, 5],\n"
      "         %causal: f32[3, 5], %scale: f32[1]) {\n"
      "  %o = attention(%q, %k, %v, %mask) {causal = true, scale = 0.5}\n"
      "  %k5 = reshape(%k) : f32[1, 2, 1, 5, 8]\n"
      "  %ke = expand(%k5) : f32[1, 2, 2, 5, 8]\n"
      "  %kr = reshape(%ke) : f32[1, 4, 5, 8]\n"
      "  %v5 = reshape(%v) : f32[1, 2, 1, 5, 8]\n"
      "  %ve = expand(%v5) : f32[1, 2, 2, 5, 8]\n"
      "  %vr = reshape(%ve) : f32[1, 4, 5, 8]\n"
      "  %kt = transpose(%kr) {perm = [0, 1, 3, 2]}\n"
      "  %s0 = batch_matmul(%q, %kt)\n"
      "  %s1 = mul(%s0, %scale)\n"
      "  %s2 = add(%s1, %mask)\n"
      "  %s3 = add(%s2, %causal)\n"
      "  %p = softmax(%s3) {axis = -1}\n"
      "  %d = batch_matmul(%p, %vr)\n"
      "  return %o, %d\n}";
  std::vector<Tensor> inputs;
  uint32_t seed = 1;
  auto random = [&](std::vector<int64_t> shape) {
    Tensor t(DType::kF32, std::move(shape));
    for (float& x : t.f32_span()) {
      seed = seed * 1664525u + 1013904223u;
      x = static_cast<float>(seed >> 8) / (1 << 24) * 2 - 1;
    }
    return t;
  };
  inputs.push_back(random({1, 4, 3, 8}));
  inputs.push_back(random({1, 2, 5, 8}));
  inputs.push_back(random({1, 2, 5, 8}));
  inputs.push_back(random({1, 1, 3, 5}));
  Tensor causal(DType::kF32, {3, 5});  // query t at position 2 + t sees keys 0 ..= 2 + t
  for (int t = 0; t < 3; ++t) {
    for (int j = 0; j < 5; ++j) causal.f32()[t * 5 + j] = j > 2 + t ? -INFINITY : 0.0f;
  }
  inputs.push_back(causal);
  inputs.push_back(T({1}, {0.5f}));
  ASSERT_OK_AND_ASSIGN(auto out, RunText(text, inputs));
  EXPECT_THAT(out[0].shape(), ElementsAre(1, 4, 3, 8));
  EXPECT_THAT(out[0].f32_values(), Pointwise(FloatNear(1e-6f), out[1].f32_values()));
}

TEST(TensorOpsTest, AttentionRejectsHeadCountsThatDoNotDivide) {
  const char* text =
      "graph @g(%q: f32[1, 3, 1, 8], %k: f32[1, 2, 5, 8], %v: f32[1, 2, 5, 8]) {\n"
      "  %o = attention(%q, %k, %v)\n  return %o\n}";
  EXPECT_THAT(RunText(text, {}), StatusIs(absl::StatusCode::kInvalidArgument,
                                          HasSubstr("3 query heads cannot share 2 KV heads")));
}

}  // namespace
}  // namespace braid
