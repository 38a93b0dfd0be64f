// Differential testing across execution paths.
#include "tests/fuzz/differential.h"

#include <random>

#include "absl/strings/str_cat.h"
#include "codegen/compiled_graph.h"
#include "ir/compare.h"
#include "ir/interpreter.h"
#include "ir/parser.h"
#include "ir/printer.h"
#include "ir/verifier.h"
#include "passes/pipeline.h"
#include "scheduler/fusion.h"
#include "scheduler/schedule_executor.h"
#include "tests/graph_corpus.h"
#include "tools/run_inputs.h"

namespace braid::testing {
namespace {

// `flags` are the driver flags of the failing path; the driver's --seed makes the same inputs
// (tools/run_inputs.h), so the printed command reproduces the run exactly.
absl::Status Failure(const std::string& what, const std::string& text, const DimBindings& dims,
                     uint64_t seed, const std::string& flags = "") {
  std::string bindings;
  for (const auto& [name, value] : dims) absl::StrAppend(&bindings, bindings.empty() ? "" : ",", name, "=", value);
  return absl::InternalError(absl::StrCat(what, "\nreproduce: braid --run --verify ", flags,
                                          flags.empty() ? "" : " ", "--seed=", seed,
                                          bindings.empty() ? "" : " --dims=", bindings,
                                          " graph.ir   with graph.ir =\n", text));
}

// Whether fold-weight-convert folded a dequantisation whose product the graph rounds to a
// narrow dtype: `mul(convert(q) : bf16, s : bf16)` rounds each weight q·s to bf16, the folded
// GEMM applies s to the f32 sum unrounded (passes/fold_weight_convert.h) — up to 2^-9 relative
// per weight, which an ill-conditioned graph (softmax of large logits) amplifies past any
// output tolerance (the soak's seed 977). Such an --O graph is checked against its own
// interpretation instead of the original's.
bool FoldedNarrowScale(const Graph& g) {
  auto narrow = [](const Node& node, int64_t operand) {
    return operand >= 0 && node.operand(static_cast<int>(operand))->type().tensor().dtype != DType::kF32;
  };
  for (const auto& node : g.nodes()) {
    // A GEMM's {scale = i}, or a grouped GEMM's {scale = [i, -1, ...]}.
    if (const int64_t* scale = node->IntAttr("scale"); scale != nullptr && narrow(*node, *scale)) return true;
    if (const std::vector<int64_t>* scales = node->IntListAttr("scale")) {
      for (int64_t scale : *scales) {
        if (narrow(*node, scale)) return true;
      }
    }
  }
  return false;
}

}  // namespace

absl::Status CheckGraphEverywhere(const std::string& text, uint64_t seed, DifferentialStats& stats) {
  auto module = ParseModule("random.ir", text);
  if (!module.ok()) return Failure(absl::StrCat("the generator made invalid IR: ", module.status().message()), text, {}, seed);
  if (absl::Status s = VerifyModule(*module); !s.ok()) return Failure(std::string(s.message()), text, {}, seed);
  const Graph& graph = *module->graphs[0];
  std::mt19937_64 rng(seed);
  const int64_t ms[] = {1, 2, 7, 37};
  DimBindings dims = {{"M", ms[rng() % 4]}, {"B", 2 + static_cast<int64_t>(rng() % 2)}, {"T", 3}};
  for (auto it = dims.begin(); it != dims.end();) {
    bool used = false;
    for (const Value* p : graph.params()) {
      for (const Dim& d : p->type().tensor().shape) {
        for (const std::string& name : d.Symbols()) used |= name == it->first;
      }
    }
    it = used ? std::next(it) : dims.erase(it);
  }
  auto made = MakeInputs(graph, {}, seed, dims);  // what `braid --run --seed=<seed>` uses
  if (!made.ok()) return Failure(absl::StrCat("inputs: ", made.status().message()), text, dims, seed);
  const std::vector<Tensor>& inputs = *made;
  auto want = Interpret(graph, inputs, dims);
  if (!want.ok()) return Failure(absl::StrCat("interpreter: ", want.status().message()), text, dims, seed);
  ++stats.graphs;

  const auto [constants, runtime_inputs] = SplitByConstness(graph, ViewsOf(inputs));
  std::vector<Isa> isas = {Isa::kAvx2};
  if (SelectTarget(Isa::kAvx512).ok()) isas.push_back(Isa::kAvx512);
  // bf16 graphs also take the bf16 dot-product path where the host has it.
  if (text.find("bf16") != std::string::npos && SelectTarget(Isa::kAvx512Bf16).ok()) {
    isas.push_back(Isa::kAvx512Bf16);
  }
  for (bool optimize : {false, true}) {
    auto copy = ParseModule("random.ir", text);
    Graph& g = *copy->graphs[0];
    if (optimize) {
      if (auto changed = RunDefaultPipeline(g); !changed.ok()) {
        return Failure(absl::StrCat("--O: ", changed.status().message()), text, dims, seed, "--O");
      }
      if (PrintGraph(g).find("grouped_gemm") != std::string::npos) ++stats.grouped;
    }
    const std::string path = optimize ? "--O" : "as written";
    const std::string path_flags = optimize ? "--O" : "";
    const std::vector<Tensor>* reference = &*want;
    absl::StatusOr<std::vector<Tensor>> folded;
    if (optimize && FoldedNarrowScale(g)) {
      folded = Interpret(g, inputs, dims);
      if (!folded.ok()) return Failure(absl::StrCat("--O interpreter: ", folded.status().message()), text, dims, seed, path_flags);
      reference = &*folded;
    }
    // The schedule executor (reference semantics, buffer plan honoured).
    auto schedule = BuildSchedule(g);
    if (!schedule.ok()) return Failure(absl::StrCat(path, " schedule: ", schedule.status().message()), text, dims, seed, path_flags);
    auto scheduled = ExecuteSchedule(*schedule, inputs, dims);
    if (!scheduled.ok()) {
      return Failure(absl::StrCat(path, " schedule run: ", scheduled.status().message()), text, dims, seed, path_flags);
    }
    if (Comparison c = CompareOutputs(*reference, *scheduled); !c.ok) {
      return Failure(absl::StrCat(path, " schedule executor differs: ", c.first_mismatch), text, dims, seed, path_flags);
    }
    // An int8 weight's dequantisation compiles only once --O has folded it into its GEMM.
    if (!optimize && text.find(" i8[") != std::string::npos && !CheckCompilable(g).ok()) continue;
    for (Isa isa : isas) {
      for (bool fuse : {true, false}) {
        CompileOptions options;
        options.isa = isa;
        options.threads = 2;
        options.fuse_epilogues = options.fuse_pointwise = fuse;
        const std::string isa_flag = absl::StrCat("--isa=", SelectTarget(isa)->IsaName());
        const std::string variant = absl::StrCat(path, fuse ? "" : " --nofusion", " ", isa_flag);
        const std::string flags = absl::StrCat(path_flags, path_flags.empty() ? "" : " ", fuse ? "" : "--nofusion ",
                                               isa_flag, " --threads=2");
        auto compiled = CompiledGraph::Compile(g, options, constants);
        if (!compiled.ok()) {
          return Failure(absl::StrCat(variant, " compile: ", compiled.status().message()), text, dims, seed, flags);
        }
        auto got = (*compiled)->Run(runtime_inputs, dims);
        if (!got.ok()) return Failure(absl::StrCat(variant, " run: ", got.status().message()), text, dims, seed, flags);
        if (Comparison c = CompareOutputs(*reference, *got); !c.ok) {
          return Failure(absl::StrCat(variant, " differs from the interpreter: ", c.first_mismatch), text, dims, seed, flags);
        }
        ++stats.compiled_runs;
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace braid::testing
