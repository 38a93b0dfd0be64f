// Compiled graphs work on views of the caller's memory: constants are read only during
// Compile, inputs are read from and outputs written into the caller's arrays, dtypes and shapes
// of views are checked.
#include <cstring>

#include "braid.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/graph_corpus.h"
#include "tests/status_matchers.h"

namespace braid {
namespace {

using ::braid::testing::IsOk;
using ::braid::testing::StatusIs;
using ::testing::HasSubstr;

constexpr int64_t kM = 21, kK = 24, kN = 40;

// relu(x·wᵀ + b) with x[M, 24], w[40, 24], b[40].
std::unique_ptr<Graph> LinearRelu() {
  GraphBuilder b("linear_relu");
  Value* x = b.Input("x", {Dim::Symbol("M"), Dim::Const(kK)});
  Value* w = b.Constant("w", {Dim::Const(kN), Dim::Const(kK)});
  Value* bias = b.Constant("b", {Dim::Const(kN)});
  auto graph = b.Build({b.Relu(b.Linear(x, w, bias))});
  EXPECT_THAT(graph, IsOk());
  return *std::move(graph);
}

std::vector<float> Ramp(int64_t n, float scale, float offset) {
  std::vector<float> v(n);
  for (int64_t i = 0; i < n; ++i) v[i] = scale * static_cast<float>((i * 13) % 17) + offset;
  return v;
}

Tensor Reference(const Graph& g, const std::vector<float>& x, const std::vector<float>& w,
                 const std::vector<float>& b) {
  auto out = Interpret(g, {Tensor::F32({kM, kK}, x), Tensor::F32({kN, kK}, w), Tensor::F32({kN}, b)},
                       {{"M", kM}});
  EXPECT_THAT(out, IsOk());
  return (*out)[0];
}

TEST(ViewsTest, ConstantsAreReadDuringCompileOnlyAndRunsUseTheCallersMemory) {
  auto graph = LinearRelu();
  std::vector<float> w = Ramp(kN * kK, 0.05f, -0.4f), b = Ramp(kN, 0.1f, -0.5f);
  const std::vector<float> w0 = w, b0 = b;
  ASSERT_OK_AND_ASSIGN(auto compiled,
                       CompiledGraph::Compile(*graph, {},
                                              {{"w", TensorView{DType::kF32, {kN, kK}, w.data()}},
                                               {"b", TensorView{DType::kF32, {kN}, b.data()}}}));
  // The caller may reuse its memory once Compile returned.
  std::fill(w.begin(), w.end(), 1e30f);
  std::fill(b.begin(), b.end(), 1e30f);

  std::vector<float> x = Ramp(kM * kK, 0.1f, -0.7f);
  std::vector<float> y(kM * kN, -7.0f);
  const TensorView x_view{DType::kF32, {kM, kK}, x.data()};
  const TensorView y_view{DType::kF32, {kM, kN}, y.data()};
  ASSERT_THAT(compiled->RunInto({x_view}, {{"M", kM}}, {y_view}), IsOk());
  // The result is in the caller's array.
  Tensor want = Reference(*graph, x, w0, b0);
  EXPECT_TRUE(CompareOutputs({want}, {Tensor::F32({kM, kN}, y)}).ok);

  // Inputs are read in place: change the caller's array, run again through the same views.
  for (float& v : x) v = -v;
  ASSERT_THAT(compiled->RunInto({x_view}, {{"M", kM}}, {y_view}), IsOk());
  Tensor want2 = Reference(*graph, x, w0, b0);
  EXPECT_FALSE(CompareOutputs({want}, {want2}).ok);  // the change matters
  EXPECT_TRUE(CompareOutputs({want2}, {Tensor::F32({kM, kN}, y)}).ok);

  // Run (owning outputs) from the same views agrees.
  ASSERT_OK_AND_ASSIGN(auto owned, compiled->Run({x_view}, {{"M", kM}}));
  EXPECT_TRUE(CompareOutputs({want2}, owned).ok);
}

TEST(ViewsTest, ViewsOfTheWrongDtypeShapeOrWithoutDataAreErrors) {
  auto graph = LinearRelu();
  std::vector<float> w(kN * kK, 0.5f), b(kN, 0.0f);
  std::vector<uint16_t> w_bf16(kN * kK);
  EXPECT_THAT(CompiledGraph::Compile(*graph, {},
                                     {{"w", TensorView{DType::kBF16, {kN, kK}, w_bf16.data()}},
                                      {"b", TensorView{DType::kF32, {kN}, b.data()}}}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("the constant for %w is bf16")));
  EXPECT_THAT(CompiledGraph::Compile(*graph, {},
                                     {{"w", TensorView{DType::kF32, {kN, kK}, nullptr}},
                                      {"b", TensorView{DType::kF32, {kN}, b.data()}}}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("has no data")));
  ASSERT_OK_AND_ASSIGN(auto compiled,
                       CompiledGraph::Compile(*graph, {},
                                              {{"w", TensorView{DType::kF32, {kN, kK}, w.data()}},
                                               {"b", TensorView{DType::kF32, {kN}, b.data()}}}));
  std::vector<float> x(kM * kK), y(kM * kN);
  std::vector<int32_t> x_i32(kM * kK);
  const DimBindings dims = {{"M", kM}};
  const TensorView y_view{DType::kF32, {kM, kN}, y.data()};
  EXPECT_THAT(compiled->RunInto({TensorView{DType::kI32, {kM, kK}, x_i32.data()}}, dims, {y_view}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("input %x is i32")));
  EXPECT_THAT(compiled->RunInto({TensorView{DType::kF32, {kM, kK}, nullptr}}, dims, {y_view}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("input %x has no data")));
  const TensorView x_view{DType::kF32, {kM, kK}, x.data()};
  EXPECT_THAT(compiled->RunInto({x_view}, dims, {TensorView{DType::kF32, {kM, kN + 1}, y.data()}}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("must be f32[21, 40], got f32[21, 41]")));
  EXPECT_THAT(compiled->RunInto({x_view}, dims, {TensorView{DType::kF16, {kM, kN}, y.data()}}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("got f16[21, 40]")));
  EXPECT_THAT(compiled->RunInto({x_view}, dims, {TensorView{DType::kF32, {kM, kN}, nullptr}}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("without data")));
  EXPECT_THAT(compiled->RunInto({x_view}, dims, {}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("has 1 outputs, got 0 buffers")));
}

}  // namespace
}  // namespace braid
