// The graph's data structures: use-lists after every mutator, node positions, and Clone.
#include "ir/graph.h"

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "ir/parser.h"
#include "ir/printer.h"
#include "ir/verifier.h"
#include "tests/status_matchers.h"

namespace braid {
namespace {

using ::braid::testing::IsOk;
using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAreArray;

constexpr char kMlp[] = R"(graph @mlp(%x: f32[M, 8], %wg: const f32[16, 8], %wu: const f32[16, 8]) -> (f32[M, 16], f32[M, 16]) {
  %g = linear(%x, %wg)
  %u = linear(%x, %wu)
  %s = silu(%g)
  %h = mul(%s, %u)
  %q = mul(%h, %h)
  return %q, %g
}
)";

std::unique_ptr<Graph> Parse(const char* text) {
  auto module = ParseModule("t.ir", text);
  EXPECT_THAT(module, IsOk());
  if (!module.ok()) return nullptr;
  return std::move(module->graphs.front());
}

Node* NodeNamed(const Graph& g, const std::string& name) {
  for (const auto& n : g.nodes()) {
    if (n->result()->name() == name) return n.get();
  }
  return nullptr;
}

Value* ValueNamed(const Graph& g, const std::string& name) {
  for (Value* p : g.params()) {
    if (p->name() == name) return p;
  }
  Node* n = NodeNamed(g, name);
  return n == nullptr ? nullptr : n->result();
}

size_t Index(const Graph& g, const Node* n) {
  for (size_t i = 0; i < g.nodes().size(); ++i) {
    if (g.nodes()[i].get() == n) return i;
  }
  return g.nodes().size();
}

std::vector<std::string> UserNames(const Value* v) {
  std::vector<std::string> names;
  for (const Node* n : v->users()) names.push_back(n->result()->name());
  return names;
}

// Every value's use-list holds exactly one entry per operand slot of a live node reading it,
// and the order keys increase along the node list.
void ExpectUseListsRight(const Graph& g) {
  std::map<const Value*, std::vector<const Node*>> expected;
  for (const Value* p : g.params()) expected[p];
  for (size_t i = 0; i < g.nodes().size(); ++i) {
    const Node* n = g.nodes()[i].get();
    if (i > 0) {
      EXPECT_LT(g.Order(g.nodes()[i - 1].get()), g.Order(n));
    }
    expected[n->result()];
    for (const Value* v : n->operands()) expected[v].push_back(n);
  }
  for (const auto& [value, users] : expected) {
    std::vector<const Node*> actual(value->users().begin(), value->users().end());
    EXPECT_THAT(actual, UnorderedElementsAreArray(users)) << "users of %" << value->name();
  }
}

TEST(GraphTest, UseListsAfterParsing) {
  auto g = Parse(kMlp);
  ExpectUseListsRight(*g);
  EXPECT_THAT(UserNames(ValueNamed(*g, "x")), ElementsAre("g", "u"));
  EXPECT_THAT(UserNames(ValueNamed(*g, "h")), ElementsAre("q", "q"));  // read twice: listed twice
  EXPECT_THAT(UserNames(ValueNamed(*g, "q")), IsEmpty());                // outputs are not users
  EXPECT_FALSE(ValueNamed(*g, "q")->has_users());
  EXPECT_TRUE(ValueNamed(*g, "wg")->has_users());
}

TEST(GraphTest, UseListsAfterInsertAndSetOperand) {
  auto g = Parse(kMlp);
  Value* x = ValueNamed(*g, "x");
  Node* s = NodeNamed(*g, "s");
  Node* r = g->InsertNode(s, OpKind::kRelu, {ValueNamed(*g, "g")}, {}, "r", ValueNamed(*g, "g")->type());
  ExpectUseListsRight(*g);
  EXPECT_EQ(Index(*g, r) + 1, Index(*g, s));
  EXPECT_LT(g->Order(r), g->Order(s));
  EXPECT_THAT(UserNames(ValueNamed(*g, "g")), ElementsAre("s", "r"));  // order of use creation
  s->set_operand(0, r->result());  // through the graph
  ExpectUseListsRight(*g);
  EXPECT_THAT(UserNames(ValueNamed(*g, "g")), ElementsAre("r"));
  EXPECT_THAT(UserNames(r->result()), ElementsAre("s"));
  g->SetOperand(NodeNamed(*g, "u"), 0, r->result());  // setting one slot of several
  ExpectUseListsRight(*g);
  EXPECT_THAT(UserNames(x), ElementsAre("g"));
  g->SetOperand(NodeNamed(*g, "q"), 1, ValueNamed(*g, "s"));  // one of two slots reading %h
  ExpectUseListsRight(*g);
  EXPECT_THAT(UserNames(ValueNamed(*g, "h")), ElementsAre("q"));
}

TEST(GraphTest, UseListsAfterReplaceAllUsesWith) {
  auto g = Parse(kMlp);
  Value* h = ValueNamed(*g, "h");
  Value* s = ValueNamed(*g, "s");
  g->ReplaceAllUsesWith(h, s);  // q = mul(h, h) reads s twice now
  ExpectUseListsRight(*g);
  EXPECT_THAT(UserNames(h), IsEmpty());
  EXPECT_THAT(UserNames(s), ElementsAre("h", "q", "q"));
  g->ReplaceAllUsesWith(ValueNamed(*g, "g"), ValueNamed(*g, "u"));  // also an output
  ExpectUseListsRight(*g);
  EXPECT_EQ(g->outputs()[1], ValueNamed(*g, "u"));
  g->ReplaceAllUsesWith(s, s);  // a no-op
  ExpectUseListsRight(*g);
}

TEST(GraphTest, UseListsAfterRemoveAndReplaceNode) {
  auto g = Parse(kMlp);
  Node* q = NodeNamed(*g, "q");
  g->set_outputs({ValueNamed(*g, "h"), ValueNamed(*g, "g")});
  g->RemoveNode(q);
  EXPECT_TRUE(q->is_removed());
  ExpectUseListsRight(*g);
  EXPECT_THAT(UserNames(ValueNamed(*g, "h")), IsEmpty());
  // silu(g) -> gelu(g), keeping the name %s.
  Node* s = NodeNamed(*g, "s");
  Node* gelu = g->InsertNode(s, OpKind::kGelu, {ValueNamed(*g, "g")}, {}, g->UniqueName("s"),
                             s->result()->type());
  g->ReplaceNode(s, gelu->result());
  ExpectUseListsRight(*g);
  EXPECT_EQ(gelu->result()->name(), "s");
  EXPECT_THAT(UserNames(ValueNamed(*g, "g")), ElementsAre("s"));
  EXPECT_EQ(ValueNamed(*g, "s"), gelu->result());
  EXPECT_THAT(UserNames(gelu->result()), ElementsAre("h"));
  EXPECT_THAT(VerifyGraph(*g), IsOk());
}

TEST(GraphTest, UseListsAndPositionsAfterTopologicalSort) {
  auto g = Parse(kMlp);
  // A node reading %h, put first: the sort moves it back after %h.
  Node* first = g->nodes().front().get();
  Node* late = g->InsertNode(first, OpKind::kNeg, {ValueNamed(*g, "h")}, {}, "late",
                             ValueNamed(*g, "h")->type());
  EXPECT_EQ(Index(*g, late), 0u);
  ASSERT_THAT(g->TopologicalSort(), IsOk());
  ExpectUseListsRight(*g);
  EXPECT_EQ(Index(*g, late), Index(*g, NodeNamed(*g, "h")) + 1);
}

TEST(GraphTest, ManyInsertionsAtOnePlaceKeepTheOrder) {
  // Each insertion halves the gap in front of %s: this runs out of gap and renumbers.
  auto g = Parse(kMlp);
  Node* s = NodeNamed(*g, "s");
  Node* before = s;
  for (int i = 0; i < 100; ++i) {
    before = g->InsertNode(before, OpKind::kRelu, {ValueNamed(*g, "g")}, {}, g->UniqueName("r"),
                           ValueNamed(*g, "g")->type());
  }
  ExpectUseListsRight(*g);
  EXPECT_EQ(Index(*g, before), 2u);  // after %g and %u, the last inserted comes first
  EXPECT_EQ(Index(*g, s), 102u);
  for (int i = 0; i < 50; ++i) g->RemoveNode(g->nodes()[2].get());
  ExpectUseListsRight(*g);
  EXPECT_EQ(Index(*g, s), 52u);
}

TEST(GraphTest, CloneIsADeepCopy) {
  auto module = ParseModule("t.ir", kMlp);
  ASSERT_THAT(module, IsOk());
  const Graph& g = *module->graphs.front();
  std::unique_ptr<Graph> copy = g.Clone();
  EXPECT_EQ(PrintGraph(*copy), PrintGraph(g));
  EXPECT_EQ(copy->name(), g.name());
  EXPECT_EQ(copy->source(), g.source());  // shared
  EXPECT_EQ(copy->loc().line, g.loc().line);
  EXPECT_EQ(copy->declared_output_types(), g.declared_output_types());
  ASSERT_EQ(copy->params().size(), g.params().size());
  for (size_t i = 0; i < g.params().size(); ++i) {
    EXPECT_NE(copy->params()[i], g.params()[i]);
    EXPECT_EQ(copy->params()[i]->is_const(), g.params()[i]->is_const());
    EXPECT_EQ(copy->params()[i]->loc().line, g.params()[i]->loc().line);
    EXPECT_EQ(copy->params()[i]->loc().col, g.params()[i]->loc().col);
  }
  ASSERT_EQ(copy->nodes().size(), g.nodes().size());
  for (size_t i = 0; i < g.nodes().size(); ++i) {
    const Node& a = *g.nodes()[i];
    const Node& b = *copy->nodes()[i];
    EXPECT_NE(&a, &b);
    EXPECT_EQ(a.loc().line, b.loc().line);
    EXPECT_EQ(a.loc().col, b.loc().col);
    EXPECT_EQ(a.result()->loc().line, b.result()->loc().line);
    for (size_t k = 0; k < a.operands().size(); ++k) {
      EXPECT_EQ(a.operand(k)->name(), b.operand(k)->name());
      EXPECT_NE(a.operand(k), b.operand(k));  // the copy's own values
    }
  }
  EXPECT_EQ(copy->outputs()[1], ValueNamed(*copy, "g"));
  ExpectUseListsRight(*copy);
  EXPECT_THAT(UserNames(ValueNamed(*copy, "h")), ElementsAre("q", "q"));
  EXPECT_THAT(VerifyGraph(*copy), IsOk());
}

TEST(GraphTest, CloneKeepsAttributesAndLayouts) {
  auto g = Parse(R"(graph @qkv(%x: f32[M, 8], %wq: const f32[16, 8], %bq: const f32[16], %wk: const f32[4, 8]) {
  %t = grouped_gemm(%x, %wq, %bq, %wk) {act = [0, 0], bias = [2, -1], kind = [linear, linear], weight = [1, 3]}
  %q = multi_output(%t) {index = 0}
  %k = multi_output(%t) {index = 1}
  return %q, %k
}
)");
  std::unique_ptr<Graph> copy = g->Clone();
  EXPECT_EQ(PrintGraph(*copy), PrintGraph(*g));
  EXPECT_EQ(copy->nodes()[0]->attrs(), g->nodes()[0]->attrs());
  ExpectUseListsRight(*copy);
}

TEST(GraphTest, MutatingTheCloneLeavesTheOriginal) {
  auto g = Parse(kMlp);
  const std::string before = PrintGraph(*g);
  std::unique_ptr<Graph> copy = g->Clone();
  Node* s = NodeNamed(*copy, "s");
  Node* relu = copy->InsertNode(s, OpKind::kRelu, {ValueNamed(*copy, "g")}, {}, copy->UniqueName("s"),
                                s->result()->type());
  copy->ReplaceNode(s, relu->result());
  copy->RenameValue(ValueNamed(*copy, "u"), "up");
  copy->nodes()[0]->mutable_attrs()["note"] = int64_t{1};
  copy->set_outputs({ValueNamed(*copy, "h")});
  EXPECT_EQ(PrintGraph(*g), before);
  EXPECT_NE(PrintGraph(*copy), before);
  ExpectUseListsRight(*g);
  ExpectUseListsRight(*copy);
  EXPECT_THAT(UserNames(ValueNamed(*g, "g")), ElementsAre("s"));
  EXPECT_EQ(NodeNamed(*g, "s")->op(), OpKind::kSilu);
}

// Tells what a listener hears.
class Recorder : public GraphListener {
 public:
  void NodeInserted(Node* node) override { events.push_back("insert %" + node->result()->name()); }
  void NodeRemoved(Node* node) override { events.push_back("remove %" + node->result()->name()); }
  void OperandChanged(Node* user) override { events.push_back("operand %" + user->result()->name()); }
  std::vector<std::string> events;
};

TEST(GraphTest, ListenerHearsEveryStructuralChange) {
  auto g = Parse(kMlp);
  Recorder recorder;
  g->set_listener(&recorder);
  Node* s = NodeNamed(*g, "s");
  Node* relu = g->InsertNode(s, OpKind::kRelu, {ValueNamed(*g, "g")}, {}, "r", s->result()->type());
  g->ReplaceNode(s, relu->result());
  g->set_listener(nullptr);
  EXPECT_THAT(recorder.events, ElementsAre("insert %r", "operand %h", "remove %s"));
}

}  // namespace
}  // namespace braid
