// Every corpus graph (examples and test .ir files), compiled and run, matches the interpreter:
// at M = 1, 3, 37, 129 (other symbolic dims 5 and 7), as written and after --O (grouped),
// with and without fusion, on the AVX2 and the AVX-512 code paths (the latter where the host
// has it). Graphs whose GEMMs exceed a work budget at a given M are checked at the smaller Ms;
// the LLaMA-7B-sized examples run only grouped, fused and on the host's best ISA.
#include <iostream>

#include "codegen/compiled_graph.h"
#include "gtest/gtest.h"
#include "ir/compare.h"
#include "ir/interpreter.h"
#include "ir/parser.h"
#include "passes/pipeline.h"
#include "tests/graph_corpus.h"

namespace braid {
namespace {

constexpr double kFlopBudget = 4e9;  // per interpreter run

double Flops(const Graph& g, const DimBindings& dims) {
  double flops = 0;
  for (const auto& node : g.nodes()) {
    if (!node->info().Has(kTraitTemplate)) continue;
    for (const TensorType& t : node->result()->type().layout()) {
      auto out = BindShape(t.shape, dims);
      auto in = BindShape(node->operand(0)->type().tensor().shape, dims);
      if (!out.ok() || !in.ok()) return 0;
      double n = 2.0 * in->back();
      for (int64_t d : *out) n *= d;
      flops += n;
    }
  }
  return flops;
}

// The code paths a graph can take on this host: AVX2, AVX-512 and, for graphs with bf16
// values on AVX512-BF16 hosts, the bf16 dot-product path (for f32 graphs it is AVX-512's code).
std::vector<Isa> Isas(bool has_bf16) {
  std::vector<Isa> isas = {Isa::kAvx2};
  if (SelectTarget(Isa::kAvx512).ok()) {
    isas.push_back(Isa::kAvx512);
  } else {
    std::cout << "note: this host has no AVX-512; only the AVX2 path is checked\n";
  }
  if (has_bf16 && SelectTarget(Isa::kAvx512Bf16).ok()) isas.push_back(Isa::kAvx512Bf16);
  return isas;
}

TEST(CodegenEquivalenceTest, CompiledGraphsMatchTheInterpreter) {
  int compiled_count = 0, runs = 0;
  for (const testing::CorpusEntry& entry : testing::LoadCorpus()) {
    for (bool optimize : {false, true}) {
      if (!optimize && !entry.compiles_as_written) continue;
      Module module = *ParseModule(entry.file, entry.text);
      if (optimize) {
        for (auto& g : module.graphs) ASSERT_TRUE(RunDefaultPipeline(*g).ok());
      }
      for (const auto& graph : module.graphs) {
        DimBindings dims;
        for (const Value* p : graph->params()) {
          for (const Dim& d : p->type().tensor().shape) {
            for (const std::string& name : d.Symbols()) {
              if (name != "M" && !dims.count(name)) dims[name] = dims.size() % 2 ? 7 : 5;
            }
          }
        }
        // Constants from a fixed seed (their dims never involve M here).
        dims["M"] = 1;
        std::vector<Tensor> base = testing::RandomInputs(*graph, dims, 7);
        std::map<std::string, Tensor> constants;
        for (size_t i = 0; i < graph->params().size(); ++i) {
          if (graph->params()[i]->is_const()) constants[graph->params()[i]->name()] = base[i];
        }
        // The LLaMA-7B examples (hundreds of MB of weights) run one variant: grouped, fused, on
        // the host's best ISA; everything else runs all eight.
        int64_t constant_bytes = 0;
        for (const auto& [name, t] : constants) constant_bytes += t.size() * DTypeBytes(t.dtype());
        const bool heavy = constant_bytes > (int64_t{64} << 20);
        if (heavy && !optimize) continue;
        const std::vector<Isa> isas = Isas(entry.text.find("bf16") != std::string::npos);
        for (Isa isa : isas) {
          if (heavy && isa != isas.back()) continue;
          for (bool fuse : {true, false}) {
            if (heavy && !fuse) continue;
            CompileOptions options;
            options.isa = isa;
            options.fuse_epilogues = options.fuse_pointwise = fuse;
            const std::string where = entry.file + " @" + graph->name() + (optimize ? " --O" : "") +
                                      (fuse ? "" : " --nofusion") + " " + SelectTarget(isa)->IsaName();
            auto compiled = CompiledGraph::Compile(*graph, options, constants);
            ASSERT_TRUE(compiled.ok()) << where << ": " << compiled.status();
            ++compiled_count;
            for (int64_t m : {1, 3, 37, 129}) {
              dims["M"] = m;
              if (Flops(*graph, dims) > kFlopBudget) continue;
              std::vector<Tensor> inputs = testing::RandomInputs(*graph, dims, 11);
              std::vector<Tensor> runtime_inputs;
              for (size_t i = 0; i < graph->params().size(); ++i) {
                if (graph->params()[i]->is_const()) {
                  inputs[i] = constants[graph->params()[i]->name()];
                } else {
                  runtime_inputs.push_back(inputs[i]);
                }
              }
              auto want = Interpret(*graph, inputs, dims);
              ASSERT_TRUE(want.ok()) << where << ": " << want.status();
              auto got = (*compiled)->Run(runtime_inputs, dims);
              ASSERT_TRUE(got.ok()) << where << " M=" << m << ": " << got.status();
              Comparison c = CompareOutputs(*want, *got);
              EXPECT_TRUE(c.ok) << where << " M=" << m << ": " << c.first_mismatch;
              ++runs;
            }
          }
        }
      }
    }
  }
  std::cout << "compiled " << compiled_count << " variants, " << runs << " runs checked\n";
  EXPECT_GE(runs, 400);
}

}  // namespace
}  // namespace braid
