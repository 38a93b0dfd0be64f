// The pass registry and the default pipeline.
#include "passes/pipeline.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "passes/dce.h"
#include "passes/fold_attention.h"
#include "passes/fold_rms_norm.h"
#include "passes/fold_rotate_half.h"
#include "passes/fold_silu.h"
#include "passes/fold_weight_convert.h"
#include "passes/grouped_gemm.h"
#include "passes/pass_manager.h"
#include "passes/tensor_parallel.h"

namespace braid {

std::vector<std::pair<std::string, std::string>> ListPasses() {
  return {
      {"fold-silu", "mul(x, sigmoid(x)) -> silu(x)"},
      {"fold-attention", "softmax(q·repeat_kv(k)ᵀ·c + mask)·repeat_kv(v) -> attention(q·c, k, v, mask)"},
      {"fold-rotate-half", "concat(neg(x[..., h:]), x[..., :h]) -> rotate_half(x)"},
      {"fold-weight-convert",
       "linear(x, convert(w_bf16)) -> linear(x, w_bf16), linear(x, mul(convert(q_i8), s)) -> linear(x, q_i8, s) "
       "{scale}: weights stay in their storage dtype"},
      {"fold-rms-norm", "linear(x·r·c, W) -> linear(x, W·c)·r: RMSNorm's row factor after the GEMM, its weight in the "
                        "GEMM's constant weight (also for rms_norm(x, w))"},
      {"grouped-gemm", "group GEMMs that read one activation into grouped_gemm + multi_output"},
      {"dce", "remove nodes nothing reads"},
  };
}

absl::StatusOr<std::unique_ptr<Pass>> CreatePass(absl::string_view name,
                                                 const PipelineOptions& options) {
  if (name == "fold-silu") return std::make_unique<FoldSilu>();
  if (name == "fold-attention") return std::make_unique<FoldAttention>();
  if (name == "fold-rotate-half") return std::make_unique<FoldRotateHalf>();
  if (name == "fold-weight-convert") return std::make_unique<FoldWeightConvert>();
  if (name == "fold-rms-norm") return std::make_unique<FoldRmsNorm>();
  if (name == "grouped-gemm") {
    return std::make_unique<GroupedGemm>(GroupedGemmOptions{options.group_independent});
  }
  if (name == "dce") return std::make_unique<DeadCodeElimination>();
  std::vector<std::string> known;
  for (const auto& [n, description] : ListPasses()) known.push_back(n);
  return absl::InvalidArgumentError(absl::StrCat("unknown pass '", name, "' (known: ",
                                                 absl::StrJoin(known, ", "), ")"));
}

// tensor-parallel is not in the registry: it needs a rank (the driver runs it for --tp=N before
// the other passes; API users set PipelineOptions::tp_rank/tp_size or call ShardGraph).
std::vector<std::unique_ptr<Pass>> ShardingPasses(int rank, int size) {
  std::vector<std::unique_ptr<Pass>> passes;
  passes.push_back(std::make_unique<FoldWeightConvert>());
  passes.push_back(std::make_unique<DeadCodeElimination>());
  passes.push_back(std::make_unique<TensorParallel>(rank, size));
  return passes;
}

std::vector<std::unique_ptr<Pass>> DefaultPipeline(const PipelineOptions& options) {
  std::vector<std::unique_ptr<Pass>> passes;
  // Sharding first (fold-weight-convert, dce, tensor-parallel: an int8 weight is then a
  // constant with its scale, sliced with the weight's rows), so that the slices still group.
  if (options.tp_size > 1) passes = ShardingPasses(options.tp_rank, options.tp_size);
  passes.push_back(std::make_unique<FoldSilu>());
  passes.push_back(std::make_unique<FoldAttention>());
  passes.push_back(std::make_unique<FoldRotateHalf>());
  passes.push_back(std::make_unique<FoldWeightConvert>());
  passes.push_back(std::make_unique<FoldRmsNorm>());
  passes.push_back(std::make_unique<GroupedGemm>(GroupedGemmOptions{options.group_independent}));
  passes.push_back(std::make_unique<DeadCodeElimination>());
  return passes;
}

absl::StatusOr<bool> RunDefaultPipeline(Graph& graph, const PipelineOptions& options) {
  PassManager manager;
  for (auto& pass : DefaultPipeline(options)) manager.Add(std::move(pass));
  return manager.Run(graph);
}

}  // namespace braid
