// The reference interpreter: every op against hand-computed values or formulas, grouped_gemm
// against separate GEMMs, and its errors.
#include "ir/interpreter.h"

#include <cmath>
#include <cstring>
#include <random>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "ir/parser.h"
#include "ir/verifier.h"
#include "tests/status_matchers.h"

namespace braid {
namespace {

using ::braid::testing::IsOk;
using ::braid::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::FloatNear;
using ::testing::HasSubstr;
using ::testing::Pointwise;

absl::StatusOr<std::vector<Tensor>> RunText(const std::string& text, std::vector<Tensor> inputs,
                                            DimBindings dims = {}, InterpretOptions options = {}) {
  auto module = ParseModule("t.ir", text);
  if (!module.ok()) return module.status();
  absl::Status verified = VerifyModule(*module);
  if (!verified.ok()) return verified;
  return Interpret(*module->graphs[0], inputs, dims, options);
}

Tensor T(std::vector<int64_t> shape, std::vector<float> data) { return Tensor::F32(std::move(shape), data); }

Tensor Random(std::vector<int64_t> shape, std::mt19937& rng) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  std::uniform_real_distribution<float> dist(-1, 1);
  Tensor t(DType::kF32, std::move(shape));
  for (float& x : t.f32_span()) x = dist(rng);
  return t;
}

TEST(InterpreterTest, LinearWithAndWithoutBias) {
  const char* text = "graph @g(%x: f32[M, 2], %w: f32[3, 2], %b: f32[3]) {\n"
                     "  %y = linear(%x, %w)\n  %z = linear(%x, %w, %b)\n  return %y, %z\n}";
  ASSERT_OK_AND_ASSIGN(auto out, RunText(text, {T({1, 2}, {1, 2}), T({3, 2}, {1, 0, 0, 1, 1, 1}),
                                            T({3}, {10, 20, 30})}, {{"M", 1}}));
  EXPECT_THAT(out[0].shape(), ElementsAre(1, 3));
  EXPECT_THAT(out[0].f32_values(), ElementsAre(1, 2, 3));
  EXPECT_THAT(out[1].f32_values(), ElementsAre(11, 22, 33));
}

// y = (x·wᵀ)·s + b: the scale multiplies the sum, before the bias; an i8 weight is widened
// exactly. The same as the dequantised graph (w = f32(q)·s) up to f32 rounding.
TEST(InterpreterTest, LinearWithWeightScale) {
  const char* text = "graph @g(%x: f32[1, 2], %q: i8[3, 2], %s: f32[3, 1], %b: f32[3]) {\n"
                     "  %y = linear(%x, %q, %b, %s) {scale = 3}\n"
                     "  %c = convert(%q) : f32[3, 2]\n  %w = mul(%c, %s)\n  %z = linear(%x, %w, %b)\n"
                     "  return %y, %z\n}";
  Tensor q(DType::kI8, {3, 2});
  const int8_t qv[] = {1, -2, 127, -128, 0, 3};
  std::memcpy(q.raw_data(), qv, sizeof(qv));
  ASSERT_OK_AND_ASSIGN(auto out, RunText(text, {T({1, 2}, {1, 2}), q, T({3, 1}, {0.5f, 2, -1}), T({3}, {10, 20, 30})}));
  // x·qᵀ = (-3, -129, 6); · s = (-1.5, -258, -6); + b.
  EXPECT_THAT(out[0].f32_values(), ElementsAre(8.5f, -238, 24));
  EXPECT_THAT(out[1].f32_values(), ElementsAre(8.5f, -238, 24));
}

TEST(InterpreterTest, MatmulWith3dInput) {
  const char* text = "graph @g(%a: f32[B, 2, 2], %b: f32[2, 1]) { %y = matmul(%a, %b) return %y }";
  ASSERT_OK_AND_ASSIGN(auto out, RunText(text, {T({2, 2, 2}, {1, 2, 3, 4, 5, 6, 7, 8}), T({2, 1}, {1, 10})},
                                     {{"B", 2}}));
  EXPECT_THAT(out[0].shape(), ElementsAre(2, 2, 1));
  EXPECT_THAT(out[0].f32_values(), ElementsAre(21, 43, 65, 87));
}

TEST(InterpreterTest, UnaryOpsMatchTheirDefinitions) {
  const std::vector<float> xs = {-2.0f, -0.5f, 0.0f, 0.75f, 3.0f};
  struct Case {
    const char* op;
    double (*ref)(double);
  };
  const Case cases[] = {
      {"relu", [](double x) { return x > 0 ? x : 0.0; }},
      {"silu", [](double x) { return x / (1 + std::exp(-x)); }},
      {"gelu", [](double x) { return 0.5 * x * std::erfc(-x / std::sqrt(2.0)); }},
      {"gelu_tanh", [](double x) { return 0.5 * x * (1 + std::tanh(0.7978845608028654 * (x + 0.044715 * x * x * x))); }},
      {"sigmoid", [](double x) { return 1 / (1 + std::exp(-x)); }},
      {"tanh", [](double x) { return std::tanh(x); }},
      {"exp", [](double x) { return std::exp(x); }},
      {"neg", [](double x) { return -x; }},
  };
  for (const Case& c : cases) {
    std::string text = std::string("graph @g(%x: f32[5]) { %y = ") + c.op + "(%x) return %y }";
    ASSERT_OK_AND_ASSIGN(auto out, RunText(text, {T({5}, xs)}));
    std::vector<float> expected;
    for (float x : xs) expected.push_back(static_cast<float>(c.ref(x)));
    EXPECT_THAT(out[0].f32_values(), Pointwise(FloatNear(1e-6), expected)) << c.op;
  }
  // Spot values from the literature.
  ASSERT_OK_AND_ASSIGN(auto gelu, RunText("graph @g(%x: f32[1]) { %y = gelu(%x) return %y }", {T({1}, {1})}));
  EXPECT_NEAR(gelu[0].f32()[0], 0.8413447, 1e-6);
  ASSERT_OK_AND_ASSIGN(auto silu, RunText("graph @g(%x: f32[1]) { %y = silu(%x) return %y }", {T({1}, {1})}));
  EXPECT_NEAR(silu[0].f32()[0], 0.7310586, 1e-6);
}

TEST(InterpreterTest, BinaryOpsBroadcastLikeNumpy) {
  ASSERT_OK_AND_ASSIGN(auto add, RunText("graph @g(%a: f32[2, 3], %b: f32[3]) { %y = add(%a, %b) return %y }",
                                     {T({2, 3}, {0, 1, 2, 3, 4, 5}), T({3}, {10, 20, 30})}));
  EXPECT_THAT(add[0].f32_values(), ElementsAre(10, 21, 32, 13, 24, 35));
  ASSERT_OK_AND_ASSIGN(auto outer, RunText("graph @g(%a: f32[2, 1], %b: f32[1, 3]) { %y = mul(%a, %b) return %y }",
                                       {T({2, 1}, {1, 2}), T({1, 3}, {1, 10, 100})}));
  EXPECT_THAT(outer[0].shape(), ElementsAre(2, 3));
  EXPECT_THAT(outer[0].f32_values(), ElementsAre(1, 10, 100, 2, 20, 200));
  ASSERT_OK_AND_ASSIGN(auto rest, RunText("graph @g(%a: f32[3], %b: f32[]) {\n"
                                      "  %s = sub(%a, %b)\n  %d = div(%s, %b)\n"
                                      "  %m = maximum(%d, %a)\n  return %s, %d, %m\n}",
                                      {T({3}, {4, -8, NAN}), T({}, {2})}));
  EXPECT_THAT(rest[0].f32()[0], 2);
  EXPECT_THAT(rest[1].f32()[1], -5);
  EXPECT_THAT(rest[2].f32()[0], 4);
  EXPECT_THAT(rest[2].f32()[1], -5);
  EXPECT_TRUE(std::isnan(rest[2].f32()[2]));  // maximum propagates NaN
}

TEST(InterpreterTest, SymbolBoundToOneBroadcastsAtRunTime) {
  ASSERT_OK_AND_ASSIGN(auto out, RunText("graph @g(%a: f32[M, 2], %b: f32[1, 2]) { %y = add(%a, %b) return %y }",
                                     {T({1, 2}, {1, 2}), T({1, 2}, {3, 4})}, {{"M", 1}}));
  EXPECT_THAT(out[0].f32_values(), ElementsAre(4, 6));
}

TEST(InterpreterTest, GroupedGemmMatchesSeparateGemms) {
  const char* separate = R"(graph @g(%x: f32[M, 8], %x2: f32[M, 8], %wq: f32[16, 8], %wk: f32[4, 8],
          %bk: f32[4], %wv: f32[8, 5]) {
  %q = linear(%x, %wq)
  %k = linear(%x, %wk, %bk)
  %v = matmul(%x2, %wv)
  return %q, %k, %v
})";
  const char* grouped = R"(graph @g(%x: f32[M, 8], %x2: f32[M, 8], %wq: f32[16, 8], %wk: f32[4, 8],
          %bk: f32[4], %wv: f32[8, 5]) {
  %t = grouped_gemm(%x, %x2, %wq, %wk, %bk, %wv)
      {kind = [linear, linear, matmul], act = [0, 0, 1], weight = [2, 3, 5], bias = [-1, 4, -1]}
  %q = multi_output(%t) {index = 0}
  %k = multi_output(%t) {index = 1}
  %v = multi_output(%t) {index = 2}
  return %q, %k, %v
})";
  std::mt19937 rng(7);
  std::vector<Tensor> inputs = {Random({5, 8}, rng), Random({5, 8}, rng), Random({16, 8}, rng),
                                    Random({4, 8}, rng), Random({4}, rng), Random({8, 5}, rng)};
  ASSERT_OK_AND_ASSIGN(auto a, RunText(separate, inputs, {{"M", 5}}));
  ASSERT_OK_AND_ASSIGN(auto b, RunText(grouped, inputs, {{"M", 5}}));
  ASSERT_EQ(a.size(), 3u);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(a[i].shape(), b[i].shape());
    EXPECT_EQ(a[i].f32_values(), b[i].f32_values());  // same loops, bit-identical
  }
  EXPECT_THAT(a[2].shape(), ElementsAre(5, 5));
}

TEST(InterpreterTest, ZeroSizedDimsRun) {
  ASSERT_OK_AND_ASSIGN(auto out, RunText("graph @g(%x: f32[M, 4], %w: f32[2, 4]) { %y = linear(%x, %w) return %y }",
                                     {T({0, 4}, {}), T({2, 4}, std::vector<float>(8, 1))}, {{"M", 0}}));
  EXPECT_THAT(out[0].shape(), ElementsAre(0, 2));
}

TEST(InterpreterTest, ReportsRunTimeErrors) {
  const char* text = "graph @g(%x: f32[M, 4]) {\n  %y = relu(%x)\n  return %y\n}";
  EXPECT_THAT(RunText(text, {}), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("takes 1 inputs, got 0")));
  EXPECT_THAT(RunText(text, {T({2, 4}, std::vector<float>(8))}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("t.ir:1:10: error: dimension 'M' is not bound")));
  EXPECT_THAT(RunText(text, {T({2, 3}, std::vector<float>(6))}, {{"M", 2}}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("input %x has shape [2, 3] but the graph expects [2, 4]")));
  InterpretOptions small;
  small.max_total_bytes = 1000;
  EXPECT_THAT(RunText(text, {T({100, 4}, std::vector<float>(400))}, {{"M", 100}}, small),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("needs more than 1000 bytes")));
  // An absurd binding is refused before anything is allocated.
  EXPECT_THAT(RunText(text, {T({1, 4}, std::vector<float>(4))}, {{"M", int64_t{1} << 40}}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("more than")));
  EXPECT_THAT(RunText("graph @g(%x: bf16[2]) { return %x }", {T({2}, {1, 2})}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("t.ir:1:10: error: input %x is f32 but the graph expects bf16[2]")));
}

}  // namespace
}  // namespace braid
