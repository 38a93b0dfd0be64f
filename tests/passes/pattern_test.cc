// The pattern matcher: captures, `Same`, commutativity, constraints, and the variable-count
// multi-output pattern.
#include "passes/pattern.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "ir/parser.h"
#include "tests/status_matchers.h"

namespace braid {
namespace {

using ::testing::ElementsAre;
using ::testing::SizeIs;

Module Parse(const char* text) {
  auto m = ParseModule("t.ir", text);
  EXPECT_TRUE(m.ok()) << m.status();
  return *std::move(m);
}

Value* ResultNamed(const Graph& g, const std::string& name) {
  for (const auto& n : g.nodes()) {
    if (n->result()->name() == name) return n->result();
  }
  return nullptr;
}

constexpr char kSwish[] = R"(graph @g(%x: f32[4], %y: f32[4]) {
  %s = sigmoid(%x)
  %a = mul(%x, %s)
  %b = mul(%s, %x)
  %c = mul(%y, %s)
  return %a, %b, %c
})";

Pattern Swish() {
  return Pattern::Op(OpKind::kMul, {Pattern::Any().Capture("x"),
                                    Pattern::Op(OpKind::kSigmoid, {Pattern::Same("x")})});
}

TEST(PatternTest, MatchesWithCapturesAndSame) {
  Module m = Parse(kSwish);
  const Graph& g = *m.graphs[0];
  PatternMatch match;
  EXPECT_TRUE(Swish().Match(ResultNamed(g, "a"), match));
  EXPECT_EQ(match["x"]->name(), "x");
  PatternMatch none;
  EXPECT_FALSE(Swish().Match(ResultNamed(g, "b"), none));  // operands swapped
  EXPECT_FALSE(Swish().Match(ResultNamed(g, "c"), none));  // sigmoid of another value
  EXPECT_TRUE(none.captures.empty());                       // failures leave no captures
}

TEST(PatternTest, CommutativeTriesBothOrders) {
  Module m = Parse(kSwish);
  const Graph& g = *m.graphs[0];
  Pattern p = Swish().Commutative();
  PatternMatch match;
  EXPECT_TRUE(p.Match(ResultNamed(g, "b"), match));
  EXPECT_EQ(match["x"]->name(), "x");
  PatternMatch none;
  EXPECT_FALSE(p.Match(ResultNamed(g, "c"), none));
}

TEST(PatternTest, WhereAndTraits) {
  Module m = Parse(R"(graph @g(%x: f32[M, 4], %w: f32[8, 4], %b: f32[8]) {
  %y = linear(%x, %w, %b)
  %z = linear(%x, %w)
  return %y, %z
})");
  const Graph& g = *m.graphs[0];
  Pattern with_bias = Pattern::OpWithTraits(kTraitGemm, {Pattern::Any().Capture("act")})
                          .Where([](const Value& v) { return v.def()->operands().size() == 3; });
  PatternMatch m1, m2;
  EXPECT_TRUE(with_bias.Match(ResultNamed(g, "y"), m1));
  EXPECT_FALSE(with_bias.Match(ResultNamed(g, "z"), m2));
  EXPECT_FALSE(Pattern::Op(OpKind::kMatmul).Match(ResultNamed(g, "y"), m2));
  EXPECT_FALSE(Pattern::Op(OpKind::kRelu).Match(g.params()[0], m2));  // a parameter
}

TEST(PatternTest, MultiOutputMatchesAnyNumberOfSiblings) {
  Module m = Parse(R"(graph @g(%x: f32[M, 4], %x2: f32[M, 4], %w: f32[8, 4]) {
  %a = linear(%x, %w)
  %r = relu(%x)
  %b = linear(%x, %w)
  %c = linear(%x2, %w)
  %d = linear(%x, %w)
  %e = linear(%x, %w)
  return %a, %b, %c, %d, %e, %r
})");
  const Graph& g = *m.graphs[0];
  auto buckets = MatchMultiOutput(
      g, SiblingsSharing(Pattern::OpWithTraits(kTraitGemm, {Pattern::Any().Capture("act")}), "act"));
  ASSERT_THAT(buckets, SizeIs(2));
  EXPECT_EQ(buckets[0].key, "%x");
  std::vector<std::string> names;
  for (const Node* n : buckets[0].nodes) names.push_back(n->result()->name());
  EXPECT_THAT(names, ElementsAre("a", "b", "d", "e"));  // four siblings, not a fixed count
  EXPECT_EQ(buckets[1].key, "%x2");
  EXPECT_THAT(buckets[1].nodes, SizeIs(1));
}

TEST(PatternTest, RewriteRulesRunToAFixedPoint) {
  Module m = Parse(R"(graph @g(%x: f32[4]) {
  %a = neg(%x)
  %b = neg(%a)
  %c = neg(%b)
  %d = neg(%c)
  return %d
})");
  Graph& g = *m.graphs[0];
  // neg(neg(v)) -> v
  RewriteRule rule{"double negation",
                   Pattern::Op(OpKind::kNeg, {Pattern::Op(OpKind::kNeg, {Pattern::Any().Capture("v")})}),
                   [](Graph& graph, Node& root, const PatternMatch& match) -> absl::StatusOr<bool> {
                     graph.ReplaceAllUsesWith(root.result(), match["v"]);
                     return true;
                   }};
  ASSERT_OK_AND_ASSIGN(bool changed, ApplyRewriteRules(g, {rule}, nullptr));
  EXPECT_TRUE(changed);
  EXPECT_EQ(g.outputs()[0]->name(), "x");
}

}  // namespace
}  // namespace braid
