// Parser and printer: round trips, inferred types, and every class of malformed input ending in
// a located error (never a crash).
#include "ir/parser.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "ir/printer.h"
#include "ir/verifier.h"
#include "tests/status_matchers.h"

namespace braid {
namespace {

using ::braid::testing::IsOk;
using ::braid::testing::StatusIs;
using ::testing::HasSubstr;
using ::testing::StartsWith;

constexpr char kMlp[] = R"(// a comment
graph @mlp(%x: f32[M, 8], %wg: const f32[16, 8], %wu: const f32[16, 8]) -> (f32[M, 16]) {
  %g = linear(%x, %wg)          // type inferred
  %u = linear(%x, %wu) : f32[M, 16]
  %s = silu(%g)
  %h = mul(%s, %u)
  return %h
}
)";

std::string RoundTrip(const std::string& text) {
  auto module = ParseModule("t.ir", text);
  EXPECT_THAT(module, IsOk());
  if (!module.ok()) return "";
  EXPECT_THAT(VerifyModule(*module), IsOk());
  return PrintModule(*module);
}

TEST(ParserTest, PrintsCanonicalFormWithTypes) {
  EXPECT_EQ(RoundTrip(kMlp),
            "graph @mlp(%x: f32[M, 8], %wg: const f32[16, 8], %wu: const f32[16, 8]) -> "
            "(f32[M, 16]) {\n"
            "  %g = linear(%x, %wg) : f32[M, 16]\n"
            "  %u = linear(%x, %wu) : f32[M, 16]\n"
            "  %s = silu(%g) : f32[M, 16]\n"
            "  %h = mul(%s, %u) : f32[M, 16]\n"
            "  return %h\n"
            "}\n");
}

TEST(ParserTest, PrintIsAFixedPoint) {
  const std::string once = RoundTrip(kMlp);
  EXPECT_EQ(RoundTrip(once), once);
}

TEST(ParserTest, GroupedGemmFormRoundTrips) {
  const std::string text = R"(
graph @gqa(%x: f32[B, T, 64], %wq: const f32[64, 64], %wk: const f32[32, 64], %bk: const f32[32],
           %wv: const f32[64, 32]) {
  %qkv = grouped_gemm(%x, %wq, %wk, %bk, %wv)
      {kind = [linear, linear, matmul], act = [0, 0, 0], weight = [1, 2, 4], bias = [-1, 3, -1]}
  %q = multi_output(%qkv) {index = 0}
  %k = multi_output(%qkv) {index = 1}
  %v = multi_output(%qkv) {index = 2}
  return %q, %k, %v
})";
  const std::string printed = RoundTrip(text);
  EXPECT_THAT(printed, HasSubstr("%qkv = grouped_gemm(%x, %wq, %wk, %bk, %wv) {act = [0, 0, 0], "
                                 "bias = [-1, 3, -1], kind = [linear, linear, matmul], weight = "
                                 "[1, 2, 4]} : multi_output_layout(f32[B, T, 64], f32[B, T, 32], "
                                 "f32[B, T, 32])"));
  EXPECT_THAT(printed, HasSubstr("%k = multi_output(%qkv) {index = 1} : f32[B, T, 32]"));
  EXPECT_EQ(RoundTrip(printed), printed);
}

TEST(ParserTest, MultipleGraphsAndScalars) {
  const std::string text =
      "graph @a(%x: f32[]) { %y = neg(%x) return %y }\n"
      "graph @b(%x: f32[2, 3], %b: f32[3]) { %y = add(%x, %b) return %y, %x }";
  const std::string printed = RoundTrip(text);
  EXPECT_THAT(printed, HasSubstr("graph @a(%x: f32[]) -> (f32[]) {"));
  EXPECT_THAT(printed, HasSubstr("graph @b(%x: f32[2, 3], %b: f32[3]) -> (f32[2, 3], f32[2, 3])"));
  EXPECT_EQ(RoundTrip(printed), printed);
}

TEST(ParserTest, KeepsSourceLocations) {
  ASSERT_OK_AND_ASSIGN(Module module, ParseModule("t.ir", kMlp));
  const Node& g = *module.graphs[0]->nodes()[0];
  EXPECT_EQ(g.loc().line, 3);
  EXPECT_EQ(g.loc().col, 8);
  EXPECT_EQ(module.graphs[0]->params()[1]->loc().col, 27);
}

// Each malformed input: the exact located message (file:line:col, message, quoted line, caret).
struct BadInput {
  const char* name;
  const char* text;
  const char* error;  // the first line of the message
};

class ParserErrorTest : public ::testing::TestWithParam<BadInput> {};

TEST_P(ParserErrorTest, ReportsLocatedError) {
  auto module = ParseModule("bad.ir", GetParam().text);
  absl::Status status = module.ok() ? VerifyModule(*module) : module.status();
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kInvalidArgument, StartsWith(GetParam().error)));
  EXPECT_THAT(std::string(status.message()), HasSubstr("\n"));  // quoted line and caret
}

INSTANTIATE_TEST_SUITE_P(
    AllClasses, ParserErrorTest,
    ::testing::Values(
        BadInput{"Empty", "", "bad.ir:1:1: error: the input is empty"},
        BadInput{"OnlyComment", "// nothing\n", "bad.ir:2:1: error: the input is empty"},
        BadInput{"Garbage", "\x7f\x45LF\x02\x01", "bad.ir:1:1: error: unexpected byte 0x7f"},
        BadInput{"NotAGraph", "graf @g() {}", "bad.ir:1:1: error: expected 'graph', found 'graf'"},
        BadInput{"MissingParen", "graph @g(%x: f32[2] { return %x }",
                 "bad.ir:1:21: error: expected ',' or ')', found '{'"},
        BadInput{"Truncated", "graph @g(%x: f32[2]) {\n  %y = relu(%x)\n",
                 "bad.ir:3:1: error: expected a statement ('%name = op(...)') or 'return', found end of file"},
        BadInput{"TruncatedType", "graph @g(%x: f32[2", "bad.ir:1:19: error: expected ',' or ']', found end of file"},
        BadInput{"UnknownOp", "graph @g(%x: f32[2]) {\n  %y = frobnicate(%x)\n  return %y\n}",
                 "bad.ir:2:8: error: unknown op 'frobnicate'"},
        BadInput{"BadArityUnary", "graph @g(%x: f32[2]) { %y = relu(%x, %x) return %y }",
                 "bad.ir:1:29: error: 'relu' takes 1 operand, got 2"},
        BadInput{"BadArityLinear", "graph @g(%x: f32[2]) { %y = linear(%x) return %y }",
                 "bad.ir:1:29: error: 'linear' takes 2 or 3 operands, got 1"},
        BadInput{"ShapeMismatch",
                 "graph @g(%x: f32[M, 8], %w: f32[4, 7]) { %y = linear(%x, %w) return %y }",
                 "bad.ir:1:47: error: reduction dims differ"},
        BadInput{"BroadcastMismatch", "graph @g(%a: f32[M, 3], %b: f32[4]) { %y = add(%a, %b) return %y }",
                 "bad.ir:1:44: error: cannot broadcast dimension 3 against 4"},
        BadInput{"SymbolMismatch", "graph @g(%a: f32[M], %b: f32[N]) { %y = add(%a, %b) return %y }",
                 "bad.ir:1:41: error: cannot broadcast dimension M against N"},
        BadInput{"NegativeDim", "graph @g(%x: f32[-3]) { return %x }",
                 "bad.ir:1:18: error: dimension -3 is negative"},
        BadInput{"AbsurdDim", "graph @g(%x: f32[99999999999999]) { return %x }",
                 "bad.ir:1:18: error: dimension 99999999999999 is too large"},
        BadInput{"AbsurdElementCount", "graph @g(%x: f32[4294967296, 4294967296]) { return %x }",
                 "bad.ir:1:14: error: tensor type has more than"},
        BadInput{"IntegerOverflow", "graph @g(%x: f32[99999999999999999999999]) { return %x }",
                 "bad.ir:1:18: error: integer literal is too large"},
        BadInput{"UnknownDType", "graph @g(%x: f64[2]) { return %x }",
                 "bad.ir:1:14: error: unknown dtype 'f64'"},
        BadInput{"Undefined", "graph @g(%x: f32[2]) { %y = relu(%z) return %y }",
                 "bad.ir:1:34: error: use of undefined value %z"},
        BadInput{"UseBeforeDef", "graph @g(%x: f32[2]) { %y = relu(%z) %z = relu(%x) return %y }",
                 "bad.ir:1:34: error: use of undefined value %z"},
        BadInput{"Redefinition", "graph @g(%x: f32[2]) { %x = relu(%x) return %x }",
                 "bad.ir:1:24: error: redefinition of %x"},
        BadInput{"DuplicateParam", "graph @g(%x: f32[2], %x: f32[2]) { return %x }",
                 "bad.ir:1:22: error: parameter %x is declared twice"},
        BadInput{"DuplicateGraph", "graph @g(%x: f32[2]) { return %x }\ngraph @g(%x: f32[2]) { return %x }",
                 "bad.ir:2:1: error: graph @g is defined twice"},
        BadInput{"DuplicateAttr",
                 "graph @g(%x: f32[2]) { %y = relu(%x) {a = 1, a = 2} return %y }",
                 "bad.ir:1:46: error: attribute 'a' is given twice"},
        BadInput{"UnknownAttr", "graph @g(%x: f32[2]) { %y = relu(%x) {a = 1} return %y }",
                 "bad.ir:1:29: error: 'relu' has no attribute 'a'"},
        BadInput{"MixedList", "graph @g(%x: f32[2]) { %y = relu(%x) {a = [1, b]} return %y }",
                 "bad.ir:1:47: error: expected a list element of the same kind as the first"},
        BadInput{"StrayMinus", "graph @g(%x: f32[2]) - { return %x }",
                 "bad.ir:1:22: error: expected a digit after '-'"},
        BadInput{"BadNumber", "graph @g(%x: f32[2x]) { return %x }",
                 "bad.ir:1:19: error: unexpected 'x' in a number"},
        BadInput{"EmptyName", "graph @g(% : f32[2]) { return %x }",
                 "bad.ir:1:10: error: expected a name after '%'"},
        BadInput{"NoReturnValue", "graph @g(%x: f32[2]) { return }",
                 "bad.ir:1:31: error: expected a value name such as %x, found '}'"},
        BadInput{"DeclaredTypeMismatch", "graph @g(%x: f32[2]) { %y = relu(%x) : f32[3] return %y }",
                 "bad.ir:1:29: error: declared type f32[3] does not match the inferred type f32[2]"},
        BadInput{"ResultTypeMismatch", "graph @g(%x: f32[2]) -> (f32[3]) { return %x }",
                 "bad.ir:1:1: error: result #0 is declared f32[3] but %x is f32[2]"},
        BadInput{"ResultCountMismatch", "graph @g(%x: f32[2]) -> (f32[2], f32[2]) { return %x }",
                 "bad.ir:1:1: error: the signature declares 2 results but 'return' has 1"},
        BadInput{"IndexOutOfRange",
                 "graph @g(%x: f32[2, 4], %a: f32[3, 4], %b: f32[5, 4]) {\n"
                 "  %t = grouped_gemm(%x, %a, %b) {kind = [linear, linear], act = [0, 0], "
                 "weight = [1, 2], bias = [-1, -1]}\n"
                 "  %y = multi_output(%t) {index = 2}\n  return %y\n}",
                 "bad.ir:3:8: error: index 2 is out of range: the layout has 2 outputs"},
        BadInput{"LayoutReturned",
                 "graph @g(%x: f32[2, 4], %a: f32[3, 4], %b: f32[5, 4]) {\n"
                 "  %t = grouped_gemm(%x, %a, %b) {kind = [linear, linear], act = [0, 0], "
                 "weight = [1, 2], bias = [-1, -1]}\n  return %t\n}",
                 "bad.ir:1:1: error: returned value %t is a multi_output_layout, not a tensor"},
        BadInput{"LayoutToPointwise",
                 "graph @g(%x: f32[2, 4], %a: f32[3, 4], %b: f32[5, 4]) {\n"
                 "  %t = grouped_gemm(%x, %a, %b) {kind = [linear, linear], act = [0, 0], "
                 "weight = [1, 2], bias = [-1, -1]}\n  %y = relu(%t)\n  return %y\n}",
                 "bad.ir:3:8: error: operand #0 is a multi_output_layout"}),
    [](const ::testing::TestParamInfo<BadInput>& info) { return info.param.name; });

// Every prefix of a valid file (a truncated file) parses or fails cleanly.
TEST(ParserTest, EveryTruncationFailsCleanly) {
  const std::string text = kMlp;
  for (size_t len = 0; len < text.size(); ++len) {
    auto module = ParseModule("cut.ir", text.substr(0, len));
    if (module.ok()) continue;
    EXPECT_THAT(std::string(module.status().message()), StartsWith("cut.ir:")) << len;
  }
}

// Every single-byte corruption of a valid file parses or fails cleanly.
TEST(ParserTest, EveryByteFlipFailsCleanly) {
  const std::string text = kMlp;
  for (size_t i = 0; i < text.size(); ++i) {
    for (char c : {'\0', '\xff', '%', '(', '-', '9', '@'}) {
      std::string bad = text;
      bad[i] = c;
      auto module = ParseModule("flip.ir", bad);
      if (module.ok()) {
        (void)VerifyModule(*module);
        continue;
      }
      EXPECT_THAT(std::string(module.status().message()), StartsWith("flip.ir:")) << i;
    }
  }
}

TEST(ParserTest, LongChainParsesVerifiesAndPrints) {
  constexpr int kLength = 20000;
  std::string text = "graph @chain(%v0: f32[M, 4]) {\n";
  for (int i = 1; i <= kLength; ++i) {
    absl::StrAppend(&text, "  %v", i, " = ", i % 2 ? "relu" : "neg", "(%v", i - 1, ")\n");
  }
  absl::StrAppend(&text, "  return %v", kLength, "\n}\n");
  ASSERT_OK_AND_ASSIGN(Module module, ParseModule("chain.ir", text));
  EXPECT_THAT(VerifyModule(module), IsOk());
  EXPECT_EQ(module.graphs[0]->nodes().size(), kLength);
  const std::string printed = PrintModule(module);
  ASSERT_OK_AND_ASSIGN(Module again, ParseModule("chain.ir", printed));
  EXPECT_EQ(PrintModule(again), printed);
}

TEST(ParserTest, LongLineErrorIsQuotedInAWindow) {
  std::string text = "graph @g(%x: f32[2]) { " + std::string(5000, ' ') + "$ }";
  auto module = ParseModule("wide.ir", text);
  ASSERT_FALSE(module.ok());
  EXPECT_THAT(std::string(module.status().message()), StartsWith("wide.ir:1:5024: error: unexpected '$'"));
  EXPECT_LT(module.status().message().size(), 500u);
}

}  // namespace
}  // namespace braid
