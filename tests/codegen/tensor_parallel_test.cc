// Tensor-parallel graphs compiled and run: every rank (a thread here, summing through a
// LocalGroup) JIT-runs its shard, and each rank's result equals the interpreter's on the
// single-process graph. Also: whole and per-rank-sliced constants, the collective checks, a
// failing rank, and what each rank packs.
#include <thread>

#include "absl/strings/str_cat.h"
#include "braid.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "ir/local_collective.h"
#include "ir/tensor_slice.h"
#include "passes/tensor_parallel_ranks.h"
#include "tests/graph_corpus.h"
#include "tests/status_matchers.h"

namespace braid {
namespace {

using ::braid::testing::IsOk;
using ::braid::testing::StatusIs;
using ::testing::HasSubstr;

// LLaMA's MLP with a residual, gate/up 100 wide (uneven over 3 and 4 ranks).
constexpr char kMlp[] = R"(
graph @mlp(%x: f32[M, 64], %wg: const f32[100, 64], %wu: const f32[100, 64],
           %wd: const f32[64, 100]) {
  %g = linear(%x, %wg)
  %u = linear(%x, %wu)
  %s = silu(%g)
  %h = mul(%s, %u)
  %d = linear(%h, %wd)
  %y = add(%d, %x)
  return %y
}
)";

// Q/K/V of unequal widths with biases into row-parallel projections with a bias.
constexpr char kQkv[] = R"(
graph @qkv(%x: f32[M, 48], %wq: const f32[64, 48], %bq: const f32[64], %wk: const f32[16, 48],
           %wv: const f32[16, 48], %bv: const f32[16], %wo: const f32[48, 64], %bo: const f32[48],
           %wkv: const f32[48, 16]) {
  %q = linear(%x, %wq, %bq)
  %k = linear(%x, %wk)
  %v = linear(%x, %wv, %bv)
  %kv = mul(%k, %v)
  %o = linear(%q, %wo, %bo)
  %p = linear(%kv, %wkv)
  %y = add(%o, %p)
  return %y
}
)";

struct RankRun {
  absl::Status status;
  std::vector<Tensor> outputs;
  int64_t packed_bytes = 0;
};

// Runs `text` as `size` ranks with the full constants (or, with `per_rank_slices`, each rank
// its own slices), `threads` threads per rank.
std::vector<RankRun> RunRanks(const char* text, int size, const DimBindings& dims,
                              bool per_rank_slices = false, std::vector<Tensor>* inputs_out = nullptr) {
  auto module = ParseAndVerify("t.ir", text);
  EXPECT_THAT(module.status(), IsOk());
  const Graph& graph = *module->graphs[0];
  const std::vector<Tensor> inputs = testing::RandomInputs(graph, dims, 7);
  if (inputs_out != nullptr) *inputs_out = inputs;
  LocalGroup group(size);
  std::vector<RankRun> runs(size);
  auto rank = [&](int r) {
    RankRun& run = runs[r];
    auto fail = [&](absl::Status s) {
      run.status = s;
      group.Abort(absl::StrCat("rank ", r, " failed"));
    };
    auto shard = ShardGraph(graph, r, size);
    if (!shard.ok()) return fail(shard.status());
    PipelineOptions pipeline;
    if (auto changed = Optimize(**shard, pipeline); !changed.ok()) return fail(changed.status());
    std::map<std::string, Tensor> owned;
    std::vector<TensorView> runtime;
    for (size_t i = 0; i < graph.params().size(); ++i) {
      const Value* p = graph.params()[i];
      if (!p->is_const()) {
        runtime.push_back(inputs[i].view());
        continue;
      }
      static const std::map<std::string, ConstSlice> kNone;
      const auto& tp = (*shard)->tensor_parallel();
      const auto& slices = tp ? tp->slices : kNone;
      auto it = slices.find(p->name());
      if (per_rank_slices && it != slices.end()) {
        owned[p->name()] = *SliceTensor(inputs[i].view(), it->second);
      } else {
        owned[p->name()] = inputs[i];
      }
    }
    CompileOptions options;
    options.threads = 1;
    if (size > 1) options.collective = std::shared_ptr<Collective>(&group.rank(r), [](Collective*) {});
    auto compiled = CompiledGraph::Compile(**shard, options, owned);
    if (!compiled.ok()) return fail(compiled.status());
    run.packed_bytes = (*compiled)->prepacked_bytes();
    auto outputs = (*compiled)->Run(runtime, dims);
    if (!outputs.ok()) return fail(outputs.status());
    run.outputs = *std::move(outputs);
  };
  std::vector<std::thread> threads;
  for (int r = 1; r < size; ++r) threads.emplace_back(rank, r);
  rank(0);
  for (std::thread& t : threads) t.join();
  return runs;
}

void ExpectRanksMatchInterpreter(const char* text, int size, const DimBindings& dims,
                                 bool per_rank_slices = false) {
  std::vector<Tensor> inputs;
  std::vector<RankRun> runs = RunRanks(text, size, dims, per_rank_slices, &inputs);
  auto module = ParseAndVerify("t.ir", text);
  auto want = Interpret(*module->graphs[0], inputs, dims);
  ASSERT_THAT(want.status(), IsOk());
  for (int r = 0; r < size; ++r) {
    ASSERT_THAT(runs[r].status, IsOk()) << "rank " << r << " of " << size;
    const Comparison c = CompareOutputs(*want, runs[r].outputs);
    EXPECT_TRUE(c.ok) << "rank " << r << " of " << size << ": " << c.first_mismatch;
  }
}

TEST(TensorParallelCodegenTest, MlpAtTwoThreeAndFourRanks) {
  for (int size : {2, 3, 4}) {
    for (int64_t m : {1, 7, 33}) ExpectRanksMatchInterpreter(kMlp, size, {{"M", m}});
  }
}

TEST(TensorParallelCodegenTest, UnequalQkvWithBiases) {
  for (int size : {2, 4}) ExpectRanksMatchInterpreter(kQkv, size, {{"M", 5}});
}

TEST(TensorParallelCodegenTest, PerRankSlicesInsteadOfWholeConstants) {
  ExpectRanksMatchInterpreter(kMlp, 3, {{"M", 4}}, /*per_rank_slices=*/true);
}

TEST(TensorParallelCodegenTest, EachRankPacksItsShareOfTheWeights) {
  const int64_t whole = RunRanks(kMlp, 1, {{"M", 2}})[0].packed_bytes;
  std::vector<RankRun> runs = RunRanks(kMlp, 4, {{"M", 2}});
  int64_t sum = 0;
  for (const RankRun& run : runs) {
    ASSERT_THAT(run.status, IsOk());
    sum += run.packed_bytes;
    // 1/4 of the weights, plus at most one panel of padding per GEMM.
    EXPECT_LT(run.packed_bytes, whole / 4 + 3 * 64 * 64 * 4) << run.packed_bytes << " of " << whole;
  }
  EXPECT_GE(sum, whole * 9 / 10);
}

TEST(TensorParallelCodegenTest, TheCollectiveMustBeTheGraphs) {
  auto module = ParseAndVerify("t.ir", kMlp);
  auto shard = ShardGraph(*module->graphs[0], 1, 2);
  ASSERT_THAT(shard.status(), IsOk());
  const std::vector<Tensor> inputs = testing::RandomInputs(*module->graphs[0], {{"M", 1}});
  std::map<std::string, Tensor> constants{{"wg", inputs[1]}, {"wu", inputs[2]}, {"wd", inputs[3]}};
  EXPECT_THAT(CompiledGraph::Compile(**shard, {}, constants).status(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("@mlp is rank 1 of 2 ranks, but the collective given is none")));
  LocalGroup three(3);
  CompileOptions options;
  options.collective = std::shared_ptr<Collective>(&three.rank(1), [](Collective*) {});
  EXPECT_THAT(CompiledGraph::Compile(**shard, options, constants).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("rank 1 of 3")));
  // A constant neither whole nor this rank's slice.
  LocalGroup two(2);
  options.collective = std::shared_ptr<Collective>(&two.rank(1), [](Collective*) {});
  constants["wd"] = Tensor(DType::kF32, {64, 30});
  EXPECT_THAT(CompiledGraph::Compile(**shard, options, constants).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("the constant for %wd has shape [64, 30]")));
}

TEST(TensorParallelCodegenTest, AFailedAllReduceFailsTheRun) {
  auto module = ParseAndVerify("t.ir", kMlp);
  auto shard = ShardGraph(*module->graphs[0], 0, 2);
  ASSERT_THAT(shard.status(), IsOk());
  const std::vector<Tensor> inputs = testing::RandomInputs(*module->graphs[0], {{"M", 3}});
  CompileOptions options;
  options.collective = std::make_shared<CallbackCollective>(
      0, 2, [](DType, const void*, void*, int64_t) { return absl::UnavailableError("rank 1 is gone"); });
  auto compiled = CompiledGraph::Compile(**shard, options, {{"wg", inputs[1]}, {"wu", inputs[2]}, {"wd", inputs[3]}});
  ASSERT_THAT(compiled.status(), IsOk());
  EXPECT_THAT((*compiled)->Run(std::vector<Tensor>{inputs[0]}, {{"M", 3}}).status(),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("all_reduce failed: rank 1 is gone")));
}

TEST(TensorParallelCodegenTest, ACallbackCollectiveSeesEveryReduction) {
  // One rank standing for two whose partner contributes the same partial: the sum doubles it.
  auto module = ParseAndVerify("t.ir", R"(
graph @f(%x: f32[M, 8], %w: const f32[8, 8], %v: const f32[8, 8]) {
  %h = linear(%x, %w)
  %y = linear(%h, %v)
  return %y
})");
  auto shard = ShardGraph(*module->graphs[0], 0, 2);
  ASSERT_THAT(shard.status(), IsOk());
  int calls = 0;
  CompileOptions options;
  options.collective = std::make_shared<CallbackCollective>(
      0, 2, [&](DType dtype, const void* in, void* out, int64_t count) {
        ++calls;
        EXPECT_EQ(dtype, DType::kF32);
        EXPECT_EQ(count, 3 * 8);
        for (int64_t i = 0; i < count; ++i) static_cast<float*>(out)[i] = 2 * static_cast<const float*>(in)[i];
        return absl::OkStatus();
      });
  const std::vector<Tensor> inputs = testing::RandomInputs(*module->graphs[0], {{"M", 3}});
  auto compiled = CompiledGraph::Compile(**shard, options, {{"w", inputs[1]}, {"v", inputs[2]}});
  ASSERT_THAT(compiled.status(), IsOk());
  auto got = (*compiled)->Run(std::vector<Tensor>{inputs[0]}, {{"M", 3}});
  ASSERT_THAT(got.status(), IsOk());
  EXPECT_EQ(calls, 1);
  // Rank 0's partial, doubled, is what the interpreter computes on rank 0's graph with the same
  // collective.
  InterpretOptions interpret;
  CallbackCollective doubling(0, 2, [](DType, const void* in, void* out, int64_t count) {
    for (int64_t i = 0; i < count; ++i) static_cast<float*>(out)[i] = 2 * static_cast<const float*>(in)[i];
    return absl::OkStatus();
  });
  interpret.collective = &doubling;
  std::vector<Tensor> rank0_inputs = {inputs[0], *SliceTensor(inputs[1].view(), (*shard)->tensor_parallel()->slices.at("w")),
                                      *SliceTensor(inputs[2].view(), (*shard)->tensor_parallel()->slices.at("v"))};
  auto want = Interpret(**shard, rank0_inputs, {{"M", 3}}, interpret);
  ASSERT_THAT(want.status(), IsOk());
  EXPECT_TRUE(CompareOutputs(*want, *got).ok);
}

}  // namespace
}  // namespace braid
