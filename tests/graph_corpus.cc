// The test-graph corpus.
#include "tests/graph_corpus.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include "codegen/compiled_graph.h"
#include "gtest/gtest.h"
#include "ir/interpreter.h"
#include "ir/parser.h"
#include "ir/verifier.h"
#include "passes/pipeline.h"

namespace braid::testing {
namespace {

std::string Read(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// What the compiler takes so far (CheckCompilable: f32 and bf16 values, i8 GEMM weights),
// as written or after the default pipeline.
bool Compiles(const Module& module, bool optimized) {
  for (const auto& g : module.graphs) {
    std::unique_ptr<Graph> copy = g->Clone();
    if (optimized && !RunDefaultPipeline(*copy).ok()) return false;
    if (!CheckCompilable(*copy).ok()) return false;
  }
  return true;
}

}  // namespace

std::vector<CorpusEntry> LoadCorpus() {
  const char* srcdir = std::getenv("TEST_SRCDIR");
  const char* workspace = std::getenv("TEST_WORKSPACE");
  const std::filesystem::path root =
      std::filesystem::path(srcdir ? srcdir : ".") / (workspace ? workspace : "braid");
  std::vector<std::string> files;
  for (const char* dir : {"examples", "tests/lit"}) {
    for (const auto& entry : std::filesystem::recursive_directory_iterator(root / dir)) {
      if (entry.path().extension() == ".ir") files.push_back(entry.path().string());
    }
  }
  std::sort(files.begin(), files.end());
  std::vector<CorpusEntry> corpus;
  for (const std::string& file : files) {
    for (std::string& chunk : SplitInputFile(Read(file))) {
      auto module = ParseModule(file, chunk);
      // Negative tests do not parse or verify; f16 and integer graphs cannot be compiled yet.
      if (!module.ok() || !VerifyModule(*module).ok()) continue;
      const bool as_written = Compiles(*module, false);
      if (!as_written && !Compiles(*module, true)) continue;
      corpus.push_back(CorpusEntry{file, std::move(chunk), as_written});
    }
  }
  return corpus;
}

DimBindings SmallDims(const Graph& graph) {
  DimBindings dims;
  for (const Value* p : graph.params()) {
    for (const Dim& d : p->type().tensor().shape) {
      for (const std::string& name : d.Symbols()) {
        if (!dims.count(name)) dims[name] = dims.size() % 2 ? 5 : 3;
      }
    }
  }
  return dims;
}

std::vector<Tensor> RandomInputs(const Graph& graph, const DimBindings& dims, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-1, 1);
  std::vector<Tensor> inputs;
  auto shapes = BindParamShapes(graph, dims);
  EXPECT_TRUE(shapes.ok()) << shapes.status();
  if (!shapes.ok()) return inputs;
  for (size_t i = 0; i < shapes->size(); ++i) {
    Tensor t(DType::kF32, (*shapes)[i]);
    for (float& x : t.f32_span()) x = dist(rng);
    // In the parameter's dtype (bf16 graphs compile too): the f32 values rounded; int8
    // weights over their whole range.
    const DType dtype = graph.params()[i]->type().tensor().dtype;
    if (dtype == DType::kI8) {
      for (float& x : t.f32_span()) x *= 127;
    }
    inputs.push_back(dtype == DType::kF32 ? std::move(t) : ConvertTensor(t, dtype));
  }
  return inputs;
}

void ExpectNear(const std::vector<Tensor>& want, const std::vector<Tensor>& got,
                const std::string& where, float rel_tol) {
  ASSERT_EQ(want.size(), got.size()) << where;
  for (size_t i = 0; i < want.size(); ++i) {
    ASSERT_EQ(want[i].shape(), got[i].shape()) << where << " output " << i;
    ASSERT_EQ(want[i].dtype(), got[i].dtype()) << where << " output " << i;
    const Tensor a32 = ConvertTensor(want[i], DType::kF32), b32 = ConvertTensor(got[i], DType::kF32);
    for (size_t j = 0; j < want[i].size(); ++j) {
      const float a = a32.f32()[j], b = b32.f32()[j];
      // NaN where the definition has NaN (attention rows that see no key: 0/0) is agreement.
      if (std::isnan(a) && std::isnan(b)) continue;
      ASSERT_NEAR(a, b, rel_tol * std::max(1.0f, std::fabs(a)))
          << where << " output " << i << " element " << j;
    }
  }
}

}  // namespace braid::testing
