// The GEMM template's loop orders, each against the interpreter on shapes with a remainder
// everywhere (K not a multiple of any K block, a partial last panel, M blocks ending in a partial
// micro-tile), on both ISAs:
// - one micro-tile (M <= 6): the streaming order;
// - a few micro-tiles (M 7..24): panel-major, activations packed for all of K at once;
// - the same M with K too long for the thread's scratch buffer: K blocks outermost;
// - more rows: K blocks outermost with the large-M K block.
#include <string>

#include "absl/strings/str_cat.h"
#include "codegen/compiled_graph.h"
#include "codegen/gemm_template.h"
#include "gtest/gtest.h"
#include "ir/compare.h"
#include "ir/interpreter.h"
#include "ir/parser.h"
#include "passes/pipeline.h"
#include "tests/graph_corpus.h"

namespace braid {
namespace {

// gate/up of one activation, grouped by --O: silu(x·wgᵀ) * (x·wuᵀ), x[M, k], 70 outputs (one
// full 64-wide panel on AVX-512, then 6 columns).
std::string GateUp(int64_t k) {
  return absl::StrCat("graph @gate_up(%x: f32[M, ", k, "], %wg: const f32[70, ", k, "], %wu: const f32[70, ", k,
                      "]) -> (f32[M, 70]) {\n"
                      "  %g = linear(%x, %wg) : f32[M, 70]\n"
                      "  %u = linear(%x, %wu) : f32[M, 70]\n"
                      "  %s = silu(%g) : f32[M, 70]\n"
                      "  %h = mul(%s, %u) : f32[M, 70]\n"
                      "  return %h\n}\n");
}

// One group of two GEMMs reading different activations of different K (1100 and 600): each
// activation is packed on its own and each GEMM walks its own K.
constexpr char kTwoActivations[] = R"(
graph @two(%x: f32[M, 1100], %z: f32[M, 600], %wa: const f32[70, 1100], %wb: const f32[600, 70]) -> (f32[M, 70]) {
  %ab = grouped_gemm(%x, %z, %wa, %wb) {act = [0, 1], bias = [-1, -1], kind = [linear, matmul], weight = [2, 3]} : multi_output_layout(f32[M, 70], f32[M, 70])
  %a = multi_output(%ab) {index = 0} : f32[M, 70]
  %b = multi_output(%ab) {index = 1} : f32[M, 70]
  %y = add(%a, %b) : f32[M, 70]
  return %y
}
)";

std::vector<Isa> Isas() {
  std::vector<Isa> isas = {Isa::kAvx2};
  if (SelectTarget(Isa::kAvx512).ok()) isas.push_back(Isa::kAvx512);
  return isas;
}

// Compiles `text` after --O on every ISA and checks each M against the interpreter; returns
// how many runs were checked.
int CheckAgainstInterpreter(const std::string& name, const std::string& text, const std::vector<int64_t>& ms) {
  auto module = ParseModule(name, text);
  EXPECT_TRUE(module.ok()) << module.status();
  if (!module.ok()) return 0;
  Graph& graph = *module->graphs[0];
  EXPECT_TRUE(RunDefaultPipeline(graph).ok());
  bool grouped = false;
  for (const auto& node : graph.nodes()) grouped |= node->op() == OpKind::kGroupedGemm;
  EXPECT_TRUE(grouped) << name << ": --O did not leave a grouped_gemm";
  std::vector<Tensor> base = testing::RandomInputs(graph, {{"M", 1}}, 7);
  std::map<std::string, Tensor> constants;
  for (size_t i = 0; i < graph.params().size(); ++i) {
    if (graph.params()[i]->is_const()) constants[graph.params()[i]->name()] = base[i];
  }
  int runs = 0;
  for (Isa isa : Isas()) {
    CompileOptions options;
    options.isa = isa;
    options.threads = 2;
    auto compiled = CompiledGraph::Compile(graph, options, constants);
    EXPECT_TRUE(compiled.ok()) << name << ": " << compiled.status();
    if (!compiled.ok()) continue;
    for (int64_t m : ms) {
      const DimBindings dims = {{"M", m}};
      std::vector<Tensor> inputs = testing::RandomInputs(graph, dims, 11);
      std::vector<Tensor> runtime_inputs;
      for (size_t i = 0; i < graph.params().size(); ++i) {
        if (graph.params()[i]->is_const()) {
          inputs[i] = constants[graph.params()[i]->name()];
        } else {
          runtime_inputs.push_back(inputs[i]);
        }
      }
      auto want = Interpret(graph, inputs, dims);
      auto got = (*compiled)->Run(runtime_inputs, dims);
      EXPECT_TRUE(want.ok() && got.ok()) << name << " M=" << m;
      if (!want.ok() || !got.ok()) continue;
      Comparison c = CompareOutputs(*want, *got);
      EXPECT_TRUE(c.ok) << name << " " << (isa == Isa::kAvx2 ? "avx2" : "avx512") << " M=" << m << ": "
                        << c.first_mismatch;
      ++runs;
    }
  }
  return runs;
}

// Streaming (1, 5), panel-major (7, 13, 16, 24: up to four 6-row micro-tiles, the last partial
// but for 24), K blocks outermost (25, 37, and 97 = two M blocks).
const std::vector<int64_t> kMs = {1, 5, 7, 13, 16, 24, 25, 37, 97};

TEST(GemmOrdersTest, OneActivationEveryOrder) {
  // K = 1100: two K blocks of 512 and a 76-long one for the panel-major order, eight of 128 and
  // a 76 for the large-M one.
  EXPECT_EQ(CheckAgainstInterpreter("gate_up_1100", GateUp(1100), kMs), static_cast<int>(Isas().size() * kMs.size()));
}

TEST(GemmOrdersTest, ActivationsOfDifferentK) {
  EXPECT_EQ(CheckAgainstInterpreter("two", kTwoActivations, kMs), static_cast<int>(Isas().size() * kMs.size()));
}

TEST(GemmOrdersTest, SmallMBlocksWithKBeyondTheScratchBuffer) {
  // Even two micro-tiles (12 rows) of this K exceed the panel-major limit, so M 7..24 fall back
  // to K blocks outermost.
  const int64_t k = kPanelMajorMaxFloats / 12 + 1;
  const std::vector<int64_t> ms = {7, 16, 24};
  EXPECT_EQ(CheckAgainstInterpreter("gate_up_long_k", GateUp(k), ms), static_cast<int>(Isas().size() * ms.size()));
}

}  // namespace
}  // namespace braid
