// What ops mean in dtypes other than f32: `convert`, bf16/f16 ops computed in f32 and rounded
// to their declared dtype, and the verifier's mixed-dtype rules (each with a located error).
#include <cmath>

#include "absl/strings/str_cat.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "ir/interpreter.h"
#include "ir/parser.h"
#include "ir/printer.h"
#include "ir/scalar_convert.h"
#include "ir/verifier.h"
#include "tests/status_matchers.h"

namespace braid {
namespace {

using ::braid::testing::StatusIs;
using ::testing::HasSubstr;

absl::StatusOr<Module> Parse(const std::string& text) {
  auto module = ParseModule("t.ir", text);
  if (!module.ok()) return module.status();
  if (absl::Status s = VerifyModule(*module); !s.ok()) return s;
  return module;
}

Tensor Bf16(std::vector<int64_t> shape, const std::vector<float>& values) {
  return ConvertTensor(Tensor::F32(std::move(shape), values), DType::kBF16);
}

float Bf16At(const Tensor& t, int64_t i) { return Bf16ToF32(static_cast<const uint16_t*>(t.raw_data())[i]); }

TEST(DtypeTest, ConvertTakesItsTargetFromTheWrittenTypeAndPrintsIt) {
  ASSERT_OK_AND_ASSIGN(Module m, Parse("graph @g(%x: f32[2]) { %c = convert(%x) : bf16[2] return %c }"));
  EXPECT_THAT(PrintGraph(*m.graphs[0]), HasSubstr("%c = convert(%x) {to = bf16} : bf16[2]"));
  ASSERT_OK_AND_ASSIGN(Module m2, Parse("graph @g(%x: i8[2]) { %c = convert(%x) {to = f32} return %c }"));
  EXPECT_THAT(PrintGraph(*m2.graphs[0]), HasSubstr("%c = convert(%x) {to = f32} : f32[2]"));
}

TEST(DtypeTest, ConvertRoundsToNearestEvenAndWidensExactly) {
  ASSERT_OK_AND_ASSIGN(Module m, Parse(R"(
graph @g(%x: f32[4], %q: i8[3]) {
  %b = convert(%x) : bf16[4]
  %h = convert(%x) : f16[4]
  %w = convert(%b) : f32[4]
  %d = convert(%q) : f32[3]
  return %b, %h, %w, %d
})"));
  // 1 + 2^-8 is halfway between two bf16 values: ties to even (1.0); 1 + 3·2^-8 rounds up.
  const float half = std::ldexp(1.0f, -8);
  Tensor x = Tensor::F32({4}, {1.0f + half, 1.0f + 3 * half, -0.0f, 65520.0f});
  Tensor q(DType::kI8, {3});
  const int8_t qs[] = {-128, 0, 127};
  std::memcpy(q.raw_data(), qs, 3);
  ASSERT_OK_AND_ASSIGN(auto out, Interpret(*m.graphs[0], {x, q}, {}));
  ASSERT_EQ(out.size(), 4u);
  EXPECT_EQ(out[0].dtype(), DType::kBF16);
  EXPECT_EQ(Bf16At(out[0], 0), 1.0f);
  EXPECT_EQ(Bf16At(out[0], 1), 1.0f + 4 * half);
  EXPECT_TRUE(std::signbit(Bf16At(out[0], 2)));
  EXPECT_EQ(out[1].dtype(), DType::kF16);
  EXPECT_TRUE(std::isinf(F16ToF32(static_cast<const uint16_t*>(out[1].raw_data())[3])));  // > f16 max
  EXPECT_EQ(out[2].f32()[1], 1.0f + 4 * half);  // widening back is exact
  EXPECT_THAT(out[3].f32_values(), ::testing::ElementsAre(-128.0f, 0.0f, 127.0f));
}

// A bf16 graph: each op computes in f32 from its (exact) bf16 operands and rounds its result.
TEST(DtypeTest, Bf16OpsComputeInF32AndRoundTheirResult) {
  ASSERT_OK_AND_ASSIGN(Module m, Parse(R"(
graph @g(%x: bf16[M, 3], %w: bf16[2, 3], %b: bf16[2]) {
  %y = linear(%x, %w, %b)
  %z = silu(%y)
  return %y, %z
})"));
  Tensor x = Bf16({1, 3}, {1.0f, 2.0f, 3.0f});
  Tensor w = Bf16({2, 3}, {0.5f, 0.25f, 0.125f, 1.0f, 1.0f, 1.0f / 3});
  Tensor b = Bf16({2}, {0.001f, -2.0f});
  ASSERT_OK_AND_ASSIGN(auto out, Interpret(*m.graphs[0], {x, w, b}, {{"M", 1}}));
  ASSERT_EQ(out[0].dtype(), DType::kBF16);
  // Exact reference from the bf16 operands, rounded once.
  const float w5 = Bf16ToF32(F32ToBf16(1.0f / 3)), b0 = Bf16ToF32(F32ToBf16(0.001f));
  const double y0 = 0.5 + 0.5 + 0.375 + b0, y1 = 1.0 + 2.0 + 3.0 * w5 - 2.0;
  EXPECT_EQ(Bf16At(out[0], 0), Bf16ToF32(F32ToBf16(static_cast<float>(y0))));
  EXPECT_EQ(Bf16At(out[0], 1), Bf16ToF32(F32ToBf16(static_cast<float>(y1))));
  const float s0 = Bf16At(out[0], 0);
  EXPECT_EQ(Bf16At(out[1], 0), Bf16ToF32(F32ToBf16(static_cast<float>(s0 / (1.0 + std::exp(-s0))))));
}

TEST(DtypeTest, MixedAndIntegerArithmeticAreLocatedErrors) {
  EXPECT_THAT(Parse("graph @g(%x: bf16[M, 4], %w: f32[2, 4]) {\n  %y = linear(%x, %w)\n  return %y\n}"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("t.ir:2:8: error: dtype mismatch: bf16[M, 4] vs f32[2, 4] (state the "
                                 "conversion with convert)")));
  EXPECT_THAT(Parse("graph @g(%x: bf16[M, 4], %w: f16[2, 4]) {\n  %y = linear(%x, %w)\n  return %y\n}"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("dtype mismatch: bf16[M, 4] vs f16[2, 4]")));
  // The mixes allowed: an f32 GEMM keeps its weight in bf16, f16 or i8 storage, a bf16 GEMM in
  // i8 (widened exactly); the result is the activation's dtype.
  for (const auto& [act, storage] : std::vector<std::pair<const char*, const char*>>{
           {"f32", "bf16"}, {"f32", "f16"}, {"f32", "i8"}, {"bf16", "i8"}}) {
    ASSERT_OK_AND_ASSIGN(Module m, Parse(absl::StrCat("graph @g(%x: ", act, "[M, 4], %w: ", storage,
                                                      "[2, 4]) {\n  %y = linear(%x, %w)\n  return %y\n}")));
    EXPECT_EQ(m.graphs[0]->outputs()[0]->type().tensor().ToString(), absl::StrCat(act, "[M, 2]"));
  }
  EXPECT_THAT(Parse("graph @g(%x: i8[4]) {\n  %y = relu(%x)\n  return %y\n}"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("t.ir:2:8: error: 'relu' computes on floating-point tensors, got i8[4]")));
  EXPECT_THAT(Parse("graph @g(%x: i32[2, 4], %w: i32[3, 4]) {\n  %y = linear(%x, %w)\n  return %y\n}"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("GEMMs compute on floating-point tensors")));
  // i8 x i8 (dynamic quantisation): summed exactly, an f32 result; no bias.
  {
    ASSERT_OK_AND_ASSIGN(Module m, Parse("graph @g(%x: i8[2, 4], %w: i8[3, 4]) {\n  %y = linear(%x, %w)\n  return %y\n}"));
    EXPECT_EQ(m.graphs[0]->outputs()[0]->type().tensor().ToString(), "f32[2, 3]");
  }
  EXPECT_THAT(Parse("graph @g(%x: i8[2, 4], %w: i8[3, 4], %b: f32[3]) {\n  %y = linear(%x, %w, %b)\n  return %y\n}"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("t.ir:2:8: error: an i8 x i8 GEMM takes no bias")));
  EXPECT_THAT(Parse("graph @g(%x: i8[2, 4], %w: f32[3, 4]) {\n  %y = linear(%x, %w)\n  return %y\n}"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("dtype mismatch: i8[2, 4] vs f32[3, 4]")));
  EXPECT_THAT(Parse("graph @g(%x: f32[4]) {\n  %y = convert(%x) : i8[4]\n  return %y\n}"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("convert to i8 is not defined: converting to an integer type is quantization")));
  EXPECT_THAT(Parse("graph @g(%x: f32[4]) {\n  %y = convert(%x) {to = f64}\n  return %y\n}"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("'f64' is not a dtype")));
  EXPECT_THAT(Parse("graph @g(%x: f32[4]) {\n  %y = convert(%x)\n  return %y\n}"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("'convert' requires attribute 'to'")));
  // The written type must agree with `to`.
  EXPECT_THAT(Parse("graph @g(%x: f32[4]) {\n  %y = convert(%x) {to = bf16} : f16[4]\n  return %y\n}"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("does not match the inferred type bf16[4]")));
}

}  // namespace
}  // namespace braid
