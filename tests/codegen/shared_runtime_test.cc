// braid::Runtime (codegen/shared_runtime.h): many compiled graphs share one pool and one JIT;
// graphs on one runtime run concurrently and still match the interpreter; destroying a graph
// leaves the others' code alone. tools/sanitize.sh tsan //tests/codegen:shared_runtime_test
// checks the concurrent runs for races.
#include <dirent.h>

#include <chrono>
#include <memory>
#include <thread>
#include <vector>

#include "braid.h"
#include "gtest/gtest.h"
#include "tests/graph_corpus.h"
#include "tests/status_matchers.h"

namespace braid {
namespace {

using ::braid::testing::IsOk;

// The threads of this process now (entries of /proc/self/task).
int ThreadCount() {
  int count = 0;
  if (DIR* dir = opendir("/proc/self/task")) {
    while (dirent* entry = readdir(dir)) count += entry->d_name[0] != '.';
    closedir(dir);
  }
  return count;
}

// The thread count once it has held still for 50 ms (a thread that has just been joined can
// linger in /proc/self/task for a moment on a loaded machine; one test run saw it there).
int SettledThreadCount() {
  int count = ThreadCount();
  for (int same = 0, tries = 0; same < 5 && tries < 200; ++tries) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    const int now = ThreadCount();
    same = now == count ? same + 1 : 0;
    count = now;
  }
  return count;
}

// relu(x·wᵀ + b) + x with x[M, k], w[n, k] (n = k for the residual add).
struct Layer {
  std::unique_ptr<Graph> graph;
  std::map<std::string, Tensor> weights;
};

Layer MakeLayer(int k, unsigned seed) {
  GraphBuilder b("layer");
  Value* x = b.Input("x", {Dim::Symbol("M"), Dim::Const(k)});
  Value* w = b.Constant("w", {Dim::Const(k), Dim::Const(k)});
  Value* bias = b.Constant("b", {Dim::Const(k)});
  Value* y = b.Add(b.Relu(b.Linear(x, w, bias)), x);
  auto graph = b.Build({y});
  EXPECT_THAT(graph, IsOk());
  Layer layer{*std::move(graph), {}};
  auto inputs = testing::RandomInputs(*layer.graph, {{"M", 1}}, seed);
  layer.weights = {{"w", inputs[1]}, {"b", inputs[2]}};
  return layer;
}

// Runs `compiled` (compiled from `layer`) `rounds` times at M = m; true if every result matches
// the interpreter.
bool RunsMatch(const Layer& layer, const CompiledGraph& compiled, int64_t m, int rounds, unsigned seed) {
  const DimBindings dims = {{"M", m}};
  auto all = testing::RandomInputs(*layer.graph, dims, seed);
  all[1] = layer.weights.at("w");
  all[2] = layer.weights.at("b");
  auto want = Interpret(*layer.graph, all, dims);
  if (!want.ok()) return false;
  for (int i = 0; i < rounds; ++i) {
    auto got = compiled.Run({all[0]}, dims);
    if (!got.ok() || !CompareOutputs(*want, *got).ok) return false;
  }
  return true;
}

TEST(SharedRuntimeTest, ThirtyTwoGraphsShareOnePool) {
  // A first thread, so that helpers started with it (ThreadSanitizer's background thread) are
  // counted in `before`.
  std::thread([] {}).join();
  const int before = SettledThreadCount();
  Runtime::Options pool;
  pool.threads = 3;
  auto runtime = Runtime::Create(pool);
  ASSERT_THAT(runtime.status(), IsOk());
  const int with_pool = SettledThreadCount();
  EXPECT_EQ(with_pool, before + 2);  // the caller is the third
  CompileOptions options;
  options.runtime = *runtime;
  std::vector<Layer> layers;
  std::vector<std::unique_ptr<CompiledGraph>> compiled;
  for (int i = 0; i < 32; ++i) {
    layers.push_back(MakeLayer(8 + 8 * (i % 4), 10 + i));
    auto c = CompiledGraph::Compile(*layers.back().graph, options, layers.back().weights);
    ASSERT_THAT(c.status(), IsOk());
    EXPECT_EQ((*c)->runtime(), *runtime);
    EXPECT_EQ((*c)->threads(), 3);
    compiled.push_back(*std::move(c));
  }
  for (int i = 0; i < 32; ++i) EXPECT_TRUE(RunsMatch(layers[i], *compiled[i], 33, 1, 100 + i)) << "graph " << i;
  // The compile threads have finished; only the runtime's two workers are new.
  EXPECT_EQ(SettledThreadCount(), with_pool);
}

TEST(SharedRuntimeTest, GraphsUseTheDefaultRuntimeUnlessGivenOne) {
  auto shared = Runtime::Default();
  ASSERT_THAT(shared.status(), IsOk());
  const int before = SettledThreadCount();
  std::vector<Layer> layers;
  std::vector<std::unique_ptr<CompiledGraph>> compiled;
  for (int i = 0; i < 4; ++i) {
    layers.push_back(MakeLayer(16, 20 + i));
    auto c = CompiledGraph::Compile(*layers.back().graph, {}, layers.back().weights);
    ASSERT_THAT(c.status(), IsOk());
    EXPECT_EQ((*c)->runtime(), *shared);
    compiled.push_back(*std::move(c));
  }
  EXPECT_EQ(SettledThreadCount(), before);
  for (int i = 0; i < 4; ++i) EXPECT_TRUE(RunsMatch(layers[i], *compiled[i], 9, 1, 200 + i));
}

// Four caller threads, each running a graph of its own and two sharing one, on a 3-thread
// runtime: one graph capped at one thread, one built for AVX2 whatever the host has.
TEST(SharedRuntimeTest, ConcurrentRunsOnGraphsSharingARuntime) {
  Runtime::Options pool;
  pool.threads = 3;
  auto runtime = Runtime::Create(pool);
  ASSERT_THAT(runtime.status(), IsOk());
  std::vector<Layer> layers;
  std::vector<std::unique_ptr<CompiledGraph>> compiled;
  for (int i = 0; i < 3; ++i) {
    CompileOptions options;
    options.runtime = *runtime;
    if (i == 1) options.threads = 1;
    if (i == 2) options.isa = Isa::kAvx2;
    layers.push_back(MakeLayer(16 + 8 * i, 30 + i));
    auto c = CompiledGraph::Compile(*layers.back().graph, options, layers.back().weights);
    ASSERT_THAT(c.status(), IsOk());
    compiled.push_back(*std::move(c));
  }
  EXPECT_EQ(compiled[1]->threads(), 1);
  const int graph_of_caller[] = {0, 1, 2, 2};
  std::vector<int> ok(4, 0);
  std::vector<std::thread> callers;
  for (int t = 0; t < 4; ++t) {
    callers.emplace_back([&, t] {
      const int g = graph_of_caller[t];
      ok[t] = RunsMatch(layers[g], *compiled[g], 40 + t, 10, 300 + t);
    });
  }
  for (std::thread& t : callers) t.join();
  EXPECT_EQ(ok, std::vector<int>(4, 1));
}

// Each graph has its own JITDylib: destroying one (which removes its code) leaves the others,
// whose symbols have the same names, running.
TEST(SharedRuntimeTest, DestroyingAGraphLeavesTheOthersRunning) {
  Runtime::Options pool;
  pool.threads = 2;
  auto runtime = Runtime::Create(pool);
  ASSERT_THAT(runtime.status(), IsOk());
  CompileOptions options;
  options.runtime = *runtime;
  Layer first = MakeLayer(8, 40), second = MakeLayer(8, 41);
  auto a = CompiledGraph::Compile(*first.graph, options, first.weights);
  auto b = CompiledGraph::Compile(*second.graph, options, second.weights);
  ASSERT_THAT(a.status(), IsOk());
  ASSERT_THAT(b.status(), IsOk());
  a->reset();
  EXPECT_TRUE(RunsMatch(second, **b, 7, 2, 400));
  auto c = CompiledGraph::Compile(*first.graph, options, first.weights);
  ASSERT_THAT(c.status(), IsOk());
  EXPECT_TRUE(RunsMatch(first, **c, 7, 2, 401));
  EXPECT_TRUE(RunsMatch(second, **b, 5, 1, 402));
}

}  // namespace
}  // namespace braid
