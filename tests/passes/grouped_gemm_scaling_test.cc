// The grouped-gemm pass and the default pipeline on 32 stacked LLaMA MLP blocks: one group per
// block (correctness at scale; the timing lives in tests/bench:compile_scaling).
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "ir/printer.h"
#include "ir/verifier.h"
#include "passes/grouped_gemm.h"
#include "passes/pipeline.h"
#include "tests/bench/mlp_stack.h"
#include "tests/status_matchers.h"

namespace braid {
namespace {

using ::braid::testing::IsOk;

int Count(const Graph& g, OpKind op) {
  int n = 0;
  for (const auto& node : g.nodes()) n += node->op() == op;
  return n;
}

TEST(GroupedGemmScalingTest, ThirtyTwoBlocksGiveThirtyTwoGroups) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Graph> g, BuildMlpStack(32));
  ASSERT_OK_AND_ASSIGN(bool changed, GroupedGemm().Run(*g));
  EXPECT_TRUE(changed);
  EXPECT_THAT(VerifyGraph(*g), IsOk());
  EXPECT_EQ(Count(*g, OpKind::kGroupedGemm), 32);
  EXPECT_EQ(Count(*g, OpKind::kMultiOutput), 64);
  EXPECT_EQ(Count(*g, OpKind::kLinear), 32);  // the down projections stay alone
  // Each group is one block's gate and up projections, reading that block's activation.
  for (const auto& node : g->nodes()) {
    if (node->op() != OpKind::kGroupedGemm) continue;
    EXPECT_EQ(*node->IntListAttr("act"), (std::vector<int64_t>{0, 0}));
    ASSERT_EQ(node->operands().size(), 3u);
    const std::string wg = node->operand(1)->name(), wu = node->operand(2)->name();
    EXPECT_EQ(wg.substr(0, 2), "wg");
    EXPECT_EQ(wu, "wu" + wg.substr(2));
  }
}

TEST(GroupedGemmScalingTest, PipelineIsDeterministicAtScale) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Graph> a, BuildMlpStack(32));
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Graph> b, BuildMlpStack(32));
  ASSERT_THAT(RunDefaultPipeline(*a).status(), IsOk());
  ASSERT_THAT(RunDefaultPipeline(*b).status(), IsOk());
  EXPECT_EQ(PrintGraph(*a), PrintGraph(*b));
  EXPECT_EQ(Count(*a, OpKind::kGroupedGemm), 32);
}

}  // namespace
}  // namespace braid
