// Compile-time constant folding: nodes that read only constants become constants, computed by
// the interpreter's rules (so the compiled graph still matches the interpreter on the
// original), and a GEMM weight computed from constants is prepacked like any other.
#include <cmath>
#include <deque>
#include <map>
#include <string>
#include <vector>

#include "braid.h"
#include "codegen/fold_constants.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/status_matchers.h"

namespace braid {
namespace {

Tensor Ramp(std::vector<int64_t> shape, float step, float start = -1.0f) {
  Tensor t(DType::kF32, std::move(shape));
  for (int64_t i = 0; i < t.size(); ++i) t.f32()[i] = start + step * static_cast<float>(i % 37);
  return t;
}

bool HasNode(const Graph& g, const std::string& name) {
  for (const auto& node : g.nodes()) {
    if (node->result()->name() == name) return true;
  }
  return false;
}

const Value* Param(const Graph& g, const std::string& name) {
  for (const Value* p : g.params()) {
    if (p->name() == name) return p;
  }
  return nullptr;
}

TEST(FoldConstantsTest, WeightComputedFromConstantsIsPrepackedAndMatchesTheInterpreter) {
  // The weight times a per-K factor (what fold-rms-norm makes), a returned constant product,
  // and an expand to the run's M, which cannot fold (M is not a constant's dim).
  const std::string text =
      "graph @g(%x: f32[M, 16], %w: const f32[24, 16], %c: const f32[16], %b: const f32[1, 16]) {\n"
      "  %wn = mul(%w, %c)\n"
      "  %y = linear(%x, %wn)\n"
      "  %cc = add(%c, %c)\n"
      "  %e = expand(%b) : f32[M, 16]\n"
      "  %z = add(%x, %e)\n"
      "  return %y, %cc, %z\n"
      "}\n";
  ASSERT_OK_AND_ASSIGN(Module module, ParseAndVerify("t.ir", text));
  const Graph& graph = *module.graphs[0];
  std::map<std::string, Tensor> constants = {
      {"w", Ramp({24, 16}, 0.05f)}, {"c", Ramp({16}, 0.1f, 0.3f)}, {"b", Ramp({1, 16}, 0.2f)}};
  ASSERT_OK_AND_ASSIGN(auto compiled, CompiledGraph::Compile(graph, CompileOptions{}, constants));
  const Graph& folded = compiled->graph();
  EXPECT_FALSE(HasNode(folded, "wn"));
  EXPECT_FALSE(HasNode(folded, "cc"));
  EXPECT_TRUE(HasNode(folded, "e"));
  ASSERT_NE(Param(folded, "wn"), nullptr);
  EXPECT_TRUE(Param(folded, "wn")->is_const());
  // Only the folded weight is packed (w itself is read by nothing any more): as many bytes as
  // when the graph reads a constant weight of that shape directly.
  ASSERT_OK_AND_ASSIGN(Module plain, ParseAndVerify("p.ir", "graph @p(%x: f32[M, 16], %w: const f32[24, 16]) {\n"
                                                           "  %y = linear(%x, %w)\n  return %y\n}\n"));
  ASSERT_OK_AND_ASSIGN(auto plain_compiled,
                       CompiledGraph::Compile(*plain.graphs[0], CompileOptions{}, {{"w", constants["w"]}}));
  EXPECT_EQ(compiled->prepacked_bytes(), plain_compiled->prepacked_bytes());
  // Run-time inputs keep their order: one, %x.
  const Tensor x = Ramp({5, 16}, 0.07f);
  ASSERT_OK_AND_ASSIGN(auto got, compiled->Run(std::vector<Tensor>{x}, {{"M", 5}}));
  ASSERT_OK_AND_ASSIGN(auto want, Interpret(graph, {x, constants["w"], constants["c"], constants["b"]}, {{"M", 5}}));
  ASSERT_EQ(got.size(), 3u);
  for (size_t i = 0; i < got.size(); ++i) {
    ASSERT_EQ(got[i].shape(), want[i].shape());
    for (int64_t j = 0; j < got[i].size(); ++j) {
      EXPECT_NEAR(got[i].f32()[j], want[i].f32()[j], 1e-5 + 1e-5 * std::fabs(want[i].f32()[j])) << i << ":" << j;
    }
  }
}

TEST(FoldConstantsTest, WithoutDataTheGraphIsRewrittenTheSameWay) {
  const std::string text =
      "graph @g(%x: f32[M, 16], %w: const f32[24, 16], %c: const bf16[16]) {\n"
      "  %cf = convert(%c) : f32[16]\n"
      "  %wn = mul(%w, %cf)\n"
      "  %y = linear(%x, %wn)\n"
      "  return %y\n"
      "}\n";
  ASSERT_OK_AND_ASSIGN(Module module, ParseAndVerify("t.ir", text));
  std::unique_ptr<Graph> structural = module.graphs[0]->Clone();
  ASSERT_THAT(FoldConstants(*structural, {}, nullptr, nullptr), testing::IsOk());
  EXPECT_FALSE(HasNode(*structural, "cf"));
  EXPECT_FALSE(HasNode(*structural, "wn"));
  ASSERT_NE(Param(*structural, "wn"), nullptr);
  // The same with data: the folded values are the interpreter's (bf16 widened exactly).
  std::unique_ptr<Graph> evaluated = module.graphs[0]->Clone();
  Tensor w = Ramp({24, 16}, 0.05f);
  Tensor c = ConvertTensor(Ramp({16}, 0.1f, 0.3f), DType::kBF16);
  std::map<std::string, TensorView> views = {{"w", w.view()}, {"c", c.view()}};
  std::deque<Tensor> folded;
  ASSERT_THAT(FoldConstants(*evaluated, {}, &views, &folded), testing::IsOk());
  ASSERT_EQ(folded.size(), 2u);
  const Tensor& wn = folded.back();
  const Tensor cf = ConvertTensor(c, DType::kF32);
  for (int64_t n = 0; n < 24; ++n) {
    for (int64_t k = 0; k < 16; ++k) EXPECT_EQ(wn.f32()[n * 16 + k], w.f32()[n * 16 + k] * cf.f32()[k]);
  }
  EXPECT_EQ(views.at("wn").data, wn.view().data);
}

}  // namespace
}  // namespace braid
