// For every example and test graph: the interpreter gives the same numbers before and after
// the default pipeline (and with independent-activation grouping), and the pipeline is
// deterministic. Graphs that do not parse (the negative tests) and bf16 graphs are skipped.
#include <filesystem>
#include <fstream>
#include <iostream>
#include <random>
#include <sstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "ir/interpreter.h"
#include "ir/parser.h"
#include "ir/printer.h"
#include "ir/verifier.h"
#include "passes/pass_manager.h"
#include "passes/pipeline.h"
#include "tests/status_matchers.h"

namespace braid {
namespace {

std::vector<std::string> IrFiles() {
  const char* srcdir = std::getenv("TEST_SRCDIR");
  const char* workspace = std::getenv("TEST_WORKSPACE");
  std::filesystem::path root = std::filesystem::path(srcdir ? srcdir : ".") / (workspace ? workspace : "braid");
  std::vector<std::string> files;
  for (const char* dir : {"examples", "tests/lit"}) {
    for (const auto& entry : std::filesystem::recursive_directory_iterator(root / dir)) {
      if (entry.path().extension() == ".ir") files.push_back(entry.path().string());
    }
  }
  std::sort(files.begin(), files.end());
  return files;
}

std::string Read(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Binds every symbolic dim to a small odd value.
DimBindings SmallDims(const Graph& g) {
  DimBindings dims;
  auto bind = [&](const TensorType& t) {
    for (const Dim& d : t.shape) {
      if (d.is_symbolic()) dims.emplace(d.symbol(), 3 + 2 * (dims.size() % 2));
    }
  };
  for (const Value* p : g.params()) bind(p->type().tensor());
  return dims;
}

std::vector<HostTensor> RandomInputs(const Graph& g, const DimBindings& dims) {
  std::mt19937 rng(42);
  std::uniform_real_distribution<float> dist(-1, 1);
  std::vector<HostTensor> inputs;
  auto shapes = BindParamShapes(g, dims);
  EXPECT_TRUE(shapes.ok()) << shapes.status();
  for (const auto& shape : *shapes) {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    HostTensor t{shape, std::vector<float>(n)};
    for (float& x : t.data) x = dist(rng);
    inputs.push_back(std::move(t));
  }
  return inputs;
}

bool Executable(const Graph& g) {
  for (const Value* p : g.params()) {
    if (p->type().tensor().dtype != DType::kF32) return false;
  }
  return true;
}

void ExpectSameOutputs(const std::vector<HostTensor>& want, const std::vector<HostTensor>& got,
                       const std::string& where) {
  ASSERT_EQ(want.size(), got.size()) << where;
  for (size_t i = 0; i < want.size(); ++i) {
    ASSERT_EQ(want[i].shape, got[i].shape) << where;
    for (size_t j = 0; j < want[i].data.size(); ++j) {
      const float a = want[i].data[j], b = got[i].data[j];
      ASSERT_NEAR(a, b, 1e-5f * std::max(1.0f, std::fabs(a))) << where << " output " << i << "[" << j << "]";
    }
  }
}

absl::StatusOr<std::string> Optimize(Graph& g, bool independent) {
  PassManager pm;
  PipelineOptions options;
  options.group_independent = independent;
  for (auto& pass : DefaultPipeline(options)) pm.Add(std::move(pass));
  auto changed = pm.Run(g);
  if (!changed.ok()) return changed.status();
  return PrintGraph(g);
}

TEST(PipelineEquivalenceTest, EveryGraphComputesTheSameAfterTheDefaultPipeline) {
  int checked = 0, grouped = 0;
  for (const std::string& file : IrFiles()) {
    for (const std::string& chunk : SplitInputFile(Read(file))) {
      auto module = ParseModule(file, chunk);
      if (!module.ok() || !VerifyModule(*module).ok()) continue;  // negative tests
      for (const auto& graph : module->graphs) {
        if (!Executable(*graph)) continue;
        const std::string where = file + " @" + graph->name();
        const DimBindings dims = SmallDims(*graph);
        const std::vector<HostTensor> inputs = RandomInputs(*graph, dims);
        auto before = Interpret(*graph, inputs, dims);
        ASSERT_TRUE(before.ok()) << where << ": " << before.status();
        for (bool independent : {false, true}) {
          auto copy = ParseModule(file, chunk);
          Graph& g = *copy->graphs[&graph - &module->graphs[0]];
          auto printed = Optimize(g, independent);
          ASSERT_TRUE(printed.ok()) << where << ": " << printed.status();
          grouped += printed->find("grouped_gemm") != std::string::npos;
          auto after = Interpret(g, inputs, dims);
          ASSERT_TRUE(after.ok()) << where << ": " << after.status();
          ExpectSameOutputs(*before, *after, where + (independent ? " (independent)" : ""));
          // Deterministic: optimising a fresh parse again prints the same bytes.
          auto again = ParseModule(file, chunk);
          auto printed_again = Optimize(*again->graphs[&graph - &module->graphs[0]], independent);
          ASSERT_TRUE(printed_again.ok());
          EXPECT_EQ(*printed, *printed_again) << where;
        }
        ++checked;
      }
    }
  }
  std::cout << "checked " << checked << " graphs, " << grouped << " optimised forms with a grouped_gemm\n";
  // Guard against the test silently checking nothing (e.g. runfiles not found).
  EXPECT_GE(checked, 20);
  EXPECT_GE(grouped, 10);
}

}  // namespace
}  // namespace braid
