// Verifier rules on graphs built through the API (which bypasses the parser's own checks):
// one positive and at least one negative case per rule.
#include "ir/verifier.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "ir/parser.h"
#include "ir/type_inference.h"
#include "tests/status_matchers.h"

namespace braid {
namespace {

using ::braid::testing::IsOk;
using ::braid::testing::StatusIs;
using ::testing::HasSubstr;

TensorType F32(std::vector<Dim> dims) { return TensorType{DType::kF32, std::move(dims)}; }
Dim C(int64_t v) { return Dim::Const(v); }
Dim S(const char* s) { return Dim::Symbol(s); }

absl::Status Fails(const Graph& g) { return VerifyGraph(g); }
auto Error(const char* text) {
  return StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(text));
}

// x[M, 8] -> linear with w[16, 8] -> relu.
struct Mlp {
  Graph g{"mlp"};
  Value* x = g.AddParam("x", F32({S("M"), C(8)}), false);
  Value* w = g.AddParam("w", F32({C(16), C(8)}), true);
};

TEST(VerifierTest, AcceptsWellFormedGraph) {
  Mlp m;
  Node* y = m.g.AddNode(OpKind::kLinear, {m.x, m.w}, {}, "y", Type::Tensor(F32({S("M"), C(16)})));
  Node* r = m.g.AddNode(OpKind::kRelu, {y->result()}, {}, "r", y->result()->type());
  m.g.set_outputs({r->result()});
  EXPECT_THAT(VerifyGraph(m.g), IsOk());
}

TEST(VerifierTest, RejectsUseBeforeDefinition) {
  Mlp m;
  Node* late = m.g.AddNode(OpKind::kRelu, {m.x}, {}, "late", m.x->type());
  Node* early = m.g.InsertNode(late, OpKind::kNeg, {late->result()}, {}, "early", m.x->type());
  m.g.set_outputs({early->result()});
  EXPECT_THAT(Fails(m.g), Error("operand #0 of 'neg' (%late) is not defined before its use"));
}

TEST(VerifierTest, RejectsDuplicateNames) {
  Mlp m;
  Node* a = m.g.AddNode(OpKind::kRelu, {m.x}, {}, "x", m.x->type());
  m.g.set_outputs({a->result()});
  EXPECT_THAT(Fails(m.g), Error("%x is defined more than once"));
}

TEST(VerifierTest, RejectsBadArity) {
  Mlp m;
  Node* a = m.g.AddNode(OpKind::kAdd, {m.x}, {}, "a", m.x->type());
  m.g.set_outputs({a->result()});
  EXPECT_THAT(Fails(m.g), Error("'add' takes 2 operands, got 1"));
}

TEST(VerifierTest, RejectsDeclaredTypeMismatch) {
  Mlp m;
  Node* y = m.g.AddNode(OpKind::kLinear, {m.x, m.w}, {}, "y", Type::Tensor(F32({S("M"), C(8)})));
  m.g.set_outputs({y->result()});
  EXPECT_THAT(Fails(m.g), Error("declared type f32[M, 8] does not match the inferred type f32[M, 16]"));
}

TEST(VerifierTest, RejectsSymbolicDimMismatch) {
  Graph g("g");
  Value* x = g.AddParam("x", F32({S("M"), S("K")}), false);
  Value* w = g.AddParam("w", F32({C(4), S("J")}), true);
  Node* y = g.AddNode(OpKind::kLinear, {x, w}, {}, "y", Type::Tensor(F32({S("M"), C(4)})));
  g.set_outputs({y->result()});
  EXPECT_THAT(Fails(g), Error("reduction dims differ"));
}

TEST(VerifierTest, RejectsDtypeMismatch) {
  Graph g("g");
  Value* a = g.AddParam("a", F32({C(2)}), false);
  Value* b = g.AddParam("b", TensorType{DType::kBF16, {C(2)}}, false);
  Node* y = g.AddNode(OpKind::kAdd, {a, b}, {}, "y", a->type());
  g.set_outputs({y->result()});
  EXPECT_THAT(Fails(g), Error("dtype mismatch"));
}

TEST(VerifierTest, RejectsNegativeAndAbsurdDimsFromTheApi) {
  Graph g("g");
  Value* a = g.AddParam("a", F32({C(-1)}), false);
  g.set_outputs({a});
  EXPECT_THAT(Fails(g), Error("dimension -1 is out of range"));
  Graph h("h");
  Value* b = h.AddParam("b", F32({C(kMaxDimValue), C(kMaxDimValue)}), false);
  h.set_outputs({b});
  EXPECT_THAT(Fails(h), Error("elements"));
}

TEST(VerifierTest, RejectsMissingOutputs) {
  Mlp m;
  EXPECT_THAT(Fails(m.g), Error("the graph returns nothing"));
}

TEST(VerifierTest, RejectsReturningAValueOfAnotherGraph) {
  Mlp m;
  Mlp other;
  m.g.set_outputs({other.x});
  EXPECT_THAT(Fails(m.g), Error("returned value %x is not defined in the graph"));
}

TEST(VerifierTest, RejectsDeclaredResultTypes) {
  Mlp m;
  m.g.set_outputs({m.x});
  m.g.set_declared_output_types({Type::Tensor(F32({C(1)}))});
  EXPECT_THAT(Fails(m.g), Error("result #0 is declared f32[1] but %x is f32[M, 8]"));
  m.g.set_declared_output_types({m.x->type()});
  EXPECT_THAT(VerifyGraph(m.g), IsOk());
}

// grouped_gemm: three GEMMs of unequal width, mixed bias, one matmul, one independent input.
class GroupedGemmTest : public ::testing::Test {
 protected:
  Graph g{"grouped"};
  Value* x = g.AddParam("x", F32({S("M"), C(8)}), false);
  Value* x2 = g.AddParam("x2", F32({S("M"), C(8)}), false);
  Value* wq = g.AddParam("wq", F32({C(16), C(8)}), true);
  Value* wk = g.AddParam("wk", F32({C(4), C(8)}), true);
  Value* bk = g.AddParam("bk", F32({C(4)}), true);
  Value* wv = g.AddParam("wv", F32({C(8), C(4)}), true);

  Attributes Attrs() {
    return {{"kind", std::vector<std::string>{"linear", "linear", "matmul"}},
            {"act", std::vector<int64_t>{0, 0, 1}},
            {"weight", std::vector<int64_t>{2, 3, 5}},
            {"bias", std::vector<int64_t>{-1, 4, -1}}};
  }
  absl::StatusOr<Type> Infer(const Attributes& attrs) {
    std::vector<const Type*> types;
    for (Value* v : {x, x2, wq, wk, bk, wv}) types.push_back(&v->type());
    return InferResultType(OpKind::kGroupedGemm, types, attrs);
  }
};

TEST_F(GroupedGemmTest, InfersOneTensorPerGemm) {
  ASSERT_OK_AND_ASSIGN(Type t, Infer(Attrs()));
  EXPECT_EQ(t.ToString(), "multi_output_layout(f32[M, 16], f32[M, 4], f32[M, 4])");
  Node* gg = g.AddNode(OpKind::kGroupedGemm, {x, x2, wq, wk, bk, wv}, Attrs(), "t", t);
  Node* k = g.AddNode(OpKind::kMultiOutput, {gg->result()}, {{"index", int64_t{1}}}, "k",
                      Type::Tensor(F32({S("M"), C(4)})));
  g.set_outputs({k->result()});
  EXPECT_THAT(VerifyGraph(g), IsOk());
}

TEST_F(GroupedGemmTest, RejectsMalformedIndexLists) {
  Attributes a = Attrs();
  a["act"] = std::vector<int64_t>{0, 0};
  EXPECT_THAT(Infer(a), Error("attribute 'act' has 2 entries but 'kind' has 3"));
  a = Attrs();
  a["weight"] = std::vector<int64_t>{2, 3, 9};
  EXPECT_THAT(Infer(a), Error("weight[2] = 9 is out of range: there are 6 operands"));
  a = Attrs();
  a["bias"] = std::vector<int64_t>{-1, -1, -1};
  EXPECT_THAT(Infer(a), Error("operand #4 is not used by any GEMM"));
  a = Attrs();
  a["bias"] = std::vector<int64_t>{-1, 4, 4};
  EXPECT_THAT(Infer(a), Error("GEMM 2 is a matmul; only linear takes a bias"));
  a = Attrs();
  a["kind"] = std::vector<std::string>{"linear", "conv", "matmul"};
  EXPECT_THAT(Infer(a), Error("kind[1] = conv is not `linear` or `matmul`"));
  a = Attrs();
  a.erase("bias");
  EXPECT_THAT(Infer(a), Error("'grouped_gemm' requires attribute 'bias'"));
  a = Attrs();
  a["weight"] = std::vector<int64_t>{2, 2, 5};
  a["bias"] = std::vector<int64_t>{-1, -1, -1};
  EXPECT_THAT(Infer(a), Error("operand #3 is not used by any GEMM"));
  a = Attrs();
  a["weight"] = std::vector<int64_t>{2, 5, 3};
  a["bias"] = std::vector<int64_t>{-1, 4, -1};
  EXPECT_THAT(Infer(a), Error("GEMM 1: reduction dims differ"));
  a = Attrs();
  a["kind"] = int64_t{3};
  EXPECT_THAT(Infer(a), Error("attribute 'kind' must be a list"));
}

TEST_F(GroupedGemmTest, RejectsLayoutMisuse) {
  ASSERT_OK_AND_ASSIGN(Type t, Infer(Attrs()));
  Node* gg = g.AddNode(OpKind::kGroupedGemm, {x, x2, wq, wk, bk, wv}, Attrs(), "t", t);
  Node* bad = g.AddNode(OpKind::kRelu, {gg->result()}, {}, "r", Type::Tensor(F32({S("M"), C(4)})));
  g.set_outputs({bad->result()});
  EXPECT_THAT(Fails(g), Error("%t is a multi_output_layout; only multi_output may read it"));
}

TEST_F(GroupedGemmTest, RejectsMultiOutputOfATensor) {
  Node* k = g.AddNode(OpKind::kMultiOutput, {x}, {{"index", int64_t{0}}}, "k", x->type());
  g.set_outputs({k->result()});
  EXPECT_THAT(Fails(g), Error("multi_output reads a multi_output_layout value"));
}

TEST(VerifierTest, ErrorsOfParsedGraphsQuoteTheSource) {
  ASSERT_OK_AND_ASSIGN(Module m, ParseModule("v.ir", "graph @g(%x: f32[2]) {\n  %y = relu(%x) : f32[3]\n  return %y\n}\n"));
  EXPECT_THAT(VerifyModule(m), StatusIs(absl::StatusCode::kInvalidArgument,
                                        "v.ir:2:8: error: declared type f32[3] does not match "
                                        "the inferred type f32[2]\n  %y = relu(%x) : f32[3]\n       ^"));
}

}  // namespace
}  // namespace braid
