// GemmsOf: the one decoder of what each GEMM of a node reads.
#include "ir/gemm.h"

#include "gtest/gtest.h"
#include "ir/parser.h"
#include "ir/verifier.h"
#include "tests/status_matchers.h"

namespace braid {
namespace {

const Node& NodeNamed(const Graph& g, const std::string& name) {
  for (const auto& node : g.nodes()) {
    if (node->result()->name() == name) return *node;
  }
  ADD_FAILURE() << "no node %" << name;
  return *g.nodes().front();
}

TEST(GemmTest, DescribesLoneAndGroupedGemms) {
  ASSERT_OK_AND_ASSIGN(Module m, ParseModule("t.ir", R"(
graph @g(%x: f32[M, 8], %a: f32[16, 8], %b: f32[8, 4], %bias: f32[16]) {
  %y = linear(%x, %a, %bias)
  %z = matmul(%x, %b)
  %r = relu(%x)
  %t = grouped_gemm(%x, %b, %a, %bias)
      {act = [0, 0, 0], bias = [-1, 3, -1], kind = [matmul, linear, linear], weight = [1, 2, 2]}
  return %y, %z, %r
})"));
  ASSERT_THAT(VerifyModule(m), testing::IsOk());
  const Graph& g = *m.graphs[0];
  std::vector<GemmOperands> y = GemmsOf(NodeNamed(g, "y"));
  ASSERT_EQ(y.size(), 1u);
  EXPECT_EQ(y[0].kind, OpKind::kLinear);
  EXPECT_EQ(y[0].bias, 2);
  std::vector<GemmOperands> z = GemmsOf(NodeNamed(g, "z"));
  ASSERT_EQ(z.size(), 1u);
  EXPECT_EQ(z[0].kind, OpKind::kMatmul);
  EXPECT_FALSE(z[0].has_bias());
  EXPECT_TRUE(GemmsOf(NodeNamed(g, "r")).empty());

  const Node& t = NodeNamed(g, "t");
  std::vector<GemmOperands> group = GemmsOf(t);
  ASSERT_EQ(group.size(), 3u);
  EXPECT_EQ(group[0].kind, OpKind::kMatmul);
  EXPECT_EQ(group[1].kind, OpKind::kLinear);
  EXPECT_EQ(group[1].bias, 3);
  GemmValues v = GemmValuesOf(t, group[1]);
  EXPECT_EQ(v.act->name(), "x");
  EXPECT_EQ(v.weight->name(), "a");
  EXPECT_EQ(v.bias->name(), "bias");
  EXPECT_EQ(GemmValuesOf(t, group[0]).bias, nullptr);
  // Without a `scale` list, no GEMM has a scale.
  for (const GemmOperands& gemm : group) EXPECT_FALSE(gemm.has_scale());
  EXPECT_FALSE(y[0].has_scale());
  // %b is only a weight, %a is only a weight, %x an activation, %bias a bias.
  EXPECT_TRUE(IsOnlyGemmWeight(t, 1));
  EXPECT_TRUE(IsOnlyGemmWeight(t, 2));
  EXPECT_FALSE(IsOnlyGemmWeight(t, 0));
  EXPECT_FALSE(IsOnlyGemmWeight(t, 3));
}

// A weight scale: the last operand of a lone GEMM named by `scale`, or a grouped GEMM's
// `scale` list (absent: no scales); it is not a weight (prepacking must keep it).
TEST(GemmTest, DescribesWeightScales) {
  ASSERT_OK_AND_ASSIGN(Module m, ParseModule("t.ir", R"(
graph @g(%x: f32[M, 8], %q: const i8[16, 8], %s: const f32[16, 1], %bias: f32[16], %b: f32[8, 4], %t: f32[4]) {
  %y = linear(%x, %q, %bias, %s) {scale = 3}
  %z = linear(%x, %q, %s) {scale = 2}
  %u = matmul(%x, %b, %t) {scale = 2}
  %g = grouped_gemm(%x, %q, %s, %b) {act = [0, 0], bias = [-1, -1], kind = [linear, matmul], scale = [2, -1], weight = [1, 3]}
  return %y, %z, %u
})"));
  ASSERT_THAT(VerifyModule(m), testing::IsOk());
  const Graph& g = *m.graphs[0];
  const GemmOperands y = GemmsOf(NodeNamed(g, "y")).front();
  EXPECT_EQ(y.bias, 2);
  EXPECT_EQ(y.scale, 3);
  const GemmOperands z = GemmsOf(NodeNamed(g, "z")).front();
  EXPECT_FALSE(z.has_bias());
  EXPECT_EQ(z.scale, 2);
  EXPECT_EQ(GemmValuesOf(NodeNamed(g, "z"), z).scale->name(), "s");
  const GemmOperands u = GemmsOf(NodeNamed(g, "u")).front();
  EXPECT_FALSE(u.has_bias());
  EXPECT_EQ(u.scale, 2);
  const Node& t = NodeNamed(g, "g");
  const std::vector<GemmOperands> group = GemmsOf(t);
  EXPECT_EQ(group[0].scale, 2);
  EXPECT_FALSE(group[1].has_scale());
  EXPECT_TRUE(IsOnlyGemmWeight(t, 1));
  EXPECT_FALSE(IsOnlyGemmWeight(t, 2));
}

TEST(GemmTest, WeightDimsByKind) {
  const std::vector<int64_t> w = {16, 8};
  EXPECT_EQ(GemmWeightK(OpKind::kLinear, w), 8);
  EXPECT_EQ(GemmWeightN(OpKind::kLinear, w), 16);
  EXPECT_EQ(GemmWeightK(OpKind::kMatmul, w), 16);
  EXPECT_EQ(GemmWeightN(OpKind::kMatmul, w), 8);
  EXPECT_EQ(ParseGemmKind("linear"), OpKind::kLinear);
  EXPECT_EQ(ParseGemmKind("matmul"), OpKind::kMatmul);
  EXPECT_EQ(ParseGemmKind("relu"), std::nullopt);
  EXPECT_EQ(ParseGemmKind("conv"), std::nullopt);
  EXPECT_EQ(GemmKindName(OpKind::kMatmul), "matmul");
}

}  // namespace
}  // namespace braid
