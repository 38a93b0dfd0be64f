// The embedding API (braid.h): building, compiling, running (also into caller buffers and from
// several threads at once), and its errors.
#include <thread>

#include "absl/strings/str_cat.h"
#include "braid.h"
#include "codegen/gemm_template.h"
#include "ir/status_macros.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/graph_corpus.h"
#include "tests/status_matchers.h"

namespace braid {
namespace {

using ::braid::testing::IsOk;
using ::braid::testing::StatusIs;
using ::testing::HasSubstr;

// relu(x·wᵀ + b) + x, with x[M, 8] and a 3-row weight padded out to 8 columns.
std::unique_ptr<Graph> SmallGraph() {
  GraphBuilder b("small");
  Value* x = b.Input("x", {Dim::Symbol("M"), Dim::Const(8)});
  Value* w = b.Constant("w", {Dim::Const(8), Dim::Const(8)});
  Value* bias = b.Constant("b", {Dim::Const(8)});
  Value* y = b.Add(b.Relu(b.Linear(x, w, bias)), x);
  auto graph = b.Build({y});
  EXPECT_THAT(graph, IsOk());
  return *std::move(graph);
}

std::map<std::string, Tensor> Weights(const Graph& g) {
  auto inputs = testing::RandomInputs(g, {{"M", 1}}, 3);
  return {{"w", inputs[1]}, {"b", inputs[2]}};
}

// silu(x·aᵀ) * (x·bᵀ) with x[M, k] and a, b [70, k], after Optimize: one grouped GEMM with a
// vectorised silu·mul epilogue.
absl::StatusOr<Module> GroupedGateUp(int k) {
  const std::string weight = absl::StrCat("const f32[70, ", k, "]");
  BRAID_ASSIGN_OR_RETURN(Module m, ParseAndVerify("t.ir", absl::StrCat("graph @g(%x: f32[M, ", k, "], %a: ", weight,
                                                                     ", %b: ", weight, R"() {
  %p = linear(%x, %a)
  %q = linear(%x, %b)
  %s = silu(%p)
  %r = mul(%s, %q)
  return %r
})")));
  BRAID_ASSIGN_OR_RETURN(bool changed, Optimize(*m.graphs[0]));
  if (!changed) return absl::InternalError("Optimize did not group the GEMMs");
  return m;
}

TEST(ApiTest, BuilderReportsTheFirstError) {
  GraphBuilder b("bad");
  Value* x = b.Input("x", {Dim::Const(2), Dim::Const(3)});
  Value* w = b.Constant("w", {Dim::Const(4), Dim::Const(5)});
  Value* y = b.Linear(x, w);
  EXPECT_EQ(y, nullptr);
  EXPECT_EQ(b.Relu(y), nullptr);
  EXPECT_THAT(b.Build({y}), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("reduction dims differ")));
}

TEST(ApiTest, CompileRunAndRunIntoMatchTheInterpreter) {
  auto graph = SmallGraph();
  auto weights = Weights(*graph);
  ASSERT_OK_AND_ASSIGN(auto compiled, CompiledGraph::Compile(*graph, {}, weights));
  const DimBindings dims = {{"M", 37}};
  auto all = testing::RandomInputs(*graph, dims, 5);
  all[1] = weights["w"];
  all[2] = weights["b"];
  ASSERT_OK_AND_ASSIGN(auto want, Interpret(*graph, all, dims));
  ASSERT_OK_AND_ASSIGN(auto got, compiled->Run({all[0]}, dims));
  EXPECT_TRUE(CompareOutputs(want, got).ok);
  Tensor out = Tensor::F32({37, 8}, std::vector<float>(37 * 8, -1.0f));
  ASSERT_THAT(compiled->RunInto({all[0].view()}, dims, {out.view()}), IsOk());
  EXPECT_TRUE(CompareOutputs(want, {out}).ok);
}

TEST(ApiTest, ConcurrentRunsOnOneCompiledGraph) {
  auto graph = SmallGraph();
  auto weights = Weights(*graph);
  CompileOptions options;
  options.threads = 2;
  ASSERT_OK_AND_ASSIGN(auto compiled, CompiledGraph::Compile(*graph, options, weights));
  std::vector<std::thread> threads;
  std::vector<int> ok(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      const DimBindings dims = {{"M", 50 + t}};
      auto all = testing::RandomInputs(*graph, dims, 100 + t);
      all[1] = weights.at("w");
      all[2] = weights.at("b");
      auto want = Interpret(*graph, all, dims);
      for (int i = 0; i < 20; ++i) {
        auto got = compiled->Run({all[0]}, dims);
        if (!want.ok() || !got.ok() || !CompareOutputs(*want, *got).ok) return;
      }
      ok[t] = 1;
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(ok, std::vector<int>(4, 1));
}

TEST(ApiTest, ErrorsAreStatuses) {
  auto graph = SmallGraph();
  auto weights = Weights(*graph);
  EXPECT_THAT(CompiledGraph::Compile(*graph, {}, {{"w", weights["w"]}}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("no tensor given for the constant %b")));
  EXPECT_THAT(CompiledGraph::Compile(*graph, {}, {{"w", weights["b"]}, {"b", weights["b"]}}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("the constant for %w has shape [8]")));
  ASSERT_OK_AND_ASSIGN(auto compiled, CompiledGraph::Compile(*graph, {}, weights));
  Tensor x(DType::kF32, {4, 8});
  EXPECT_THAT(compiled->Run({x}, {}), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("'M' is not bound")));
  EXPECT_THAT(compiled->Run({x}, {{"M", 5}}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("input %x has shape [4, 8] but the graph expects [5, 8]")));
  EXPECT_THAT(compiled->Run(std::vector<TensorView>{}, {{"M", 4}}), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("needs an input for %x")));
  EXPECT_THAT(compiled->Run({x}, {{"M", int64_t{1} << 32}}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("run memory limit")));
  ASSERT_OK_AND_ASSIGN(Module m, ParseAndVerify("t.ir", "graph @g(%x: f16[2]) { return %x }"));
  EXPECT_THAT(CompiledGraph::Compile(*m.graphs[0], {}, std::map<std::string, Tensor>{}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("only f32, bf16 and i8 values can be compiled so far; %x is f16[2]")));
}

TEST(ApiTest, ParseOptimizeCompile) {
  ASSERT_OK_AND_ASSIGN(Module m, ParseAndVerify("t.ir", R"(
graph @g(%x: f32[M, 8], %a: const f32[16, 8], %b: const f32[16, 8]) {
  %p = linear(%x, %a)
  %q = linear(%x, %b)
  %r = mul(%p, %q)
  return %r
})"));
  Graph& g = *m.graphs[0];
  ASSERT_OK_AND_ASSIGN(bool changed, Optimize(g));
  EXPECT_TRUE(changed);
  auto inputs = testing::RandomInputs(g, {{"M", 9}}, 1);
  ASSERT_OK_AND_ASSIGN(auto compiled, CompiledGraph::Compile(g, {}, {{"a", inputs[1]}, {"b", inputs[2]}}));
  EXPECT_EQ(compiled->schedule().kernels.size(), 1u);
  ASSERT_OK_AND_ASSIGN(auto got, compiled->Run({inputs[0]}, {{"M", 9}}));
  ASSERT_OK_AND_ASSIGN(auto want, Interpret(g, inputs, {{"M", 9}}));
  EXPECT_TRUE(CompareOutputs(want, got).ok);
}

// CompileOptions::caches blocks the GEMMs for other caches than the host's: the tile choice
// says so (on AVX-512, a 32 KiB L1d halves the K block) and the results still match.
TEST(ApiTest, CachesOptionChangesTheBlockingNotTheResults) {
  ASSERT_OK_AND_ASSIGN(Module m, GroupedGateUp(300));
  Graph& g = *m.graphs[0];
  const DimBindings dims = {{"M", 40}};
  auto inputs = testing::RandomInputs(g, dims, 11);
  ASSERT_OK_AND_ASSIGN(auto want, Interpret(g, inputs, dims));
  for (const char* sizes : {"48K,2M", "32K,1M", "16K,256K"}) {
    CompileOptions options;
    ASSERT_OK_AND_ASSIGN(options.caches, ParseCacheSizes(sizes));
    ASSERT_OK_AND_ASSIGN(auto compiled, CompiledGraph::Compile(g, options, {{"a", inputs[1]}, {"b", inputs[2]}}));
    EXPECT_EQ(compiled->target().caches.l1d_bytes, options.caches->l1d_bytes);
    ASSERT_EQ(compiled->tile_choices().size(), 1u);
    const std::string& choice = compiled->tile_choices()[0];
    // The first choice's panels: 6 x 4 vectors on AVX-512, 6 x 2 on AVX2.
    const int vw = compiled->target().vector_width;
    const int kc = GemmTemplate::KBlockFor(*options.caches, vw * (vw == 16 ? 4 : 2));
    EXPECT_THAT(choice, HasSubstr(absl::StrCat("kc=", kc, " "))) << sizes;
    if (compiled->target().vector_width == 16 && options.caches->l1d_bytes == 32 << 10) {
      EXPECT_THAT(choice, HasSubstr("kc=64 ")) << choice;
      EXPECT_THAT(choice, HasSubstr("K blocks of 64 for the 32 KiB L1d")) << choice;
    }
    ASSERT_OK_AND_ASSIGN(auto got, compiled->Run({inputs[0]}, dims));
    EXPECT_TRUE(CompareOutputs(want, got).ok) << sizes;
  }
}

// With keep_text the whole module is optimised before it is split (to print it); otherwise each
// part is optimised on its compile thread. Both must compile the same code: objects of the same
// size and bit-identical results (a grouped GEMM with a vectorised silu·mul epilogue, two
// compile threads).
TEST(ApiTest, KeepTextCompilesTheSameCode) {
  ASSERT_OK_AND_ASSIGN(Module m, GroupedGateUp(40));
  Graph& g = *m.graphs[0];
  const DimBindings dims = {{"M", 29}};
  auto inputs = testing::RandomInputs(g, dims, 7);
  std::vector<std::vector<float>> results;
  std::vector<int64_t> object_bytes;
  for (bool keep_text : {false, true}) {
    CompileOptions options;
    options.threads = 2;
    options.keep_text = keep_text;
    ASSERT_OK_AND_ASSIGN(auto compiled, CompiledGraph::Compile(g, options, {{"a", inputs[1]}, {"b", inputs[2]}}));
    EXPECT_EQ(compiled->llvm_after().empty(), !keep_text);
    object_bytes.push_back(compiled->object_bytes());
    ASSERT_OK_AND_ASSIGN(auto got, compiled->Run({inputs[0]}, dims));
    results.push_back(got[0].f32_values());
  }
  ASSERT_OK_AND_ASSIGN(auto want, Interpret(g, inputs, dims));
  EXPECT_TRUE(CompareOutputs(want, {Tensor::F32({29, 70}, results[0])}).ok);
  EXPECT_EQ(results[0], results[1]);
  EXPECT_GT(object_bytes[0], 0);
  EXPECT_EQ(object_bytes[0], object_bytes[1]);
}

}  // namespace
}  // namespace braid
