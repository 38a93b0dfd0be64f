// The embedding API end to end: build the LLaMA-2-7B MLP block with the GraphBuilder, optimise
// it (gate/up become one grouped GEMM with silu·mul fused), compile it with the JIT binding the
// weights, run it, and check the result against the reference interpreter.
//
//   bazel run //examples:embed            (M = 4 tokens; pass a number for another M)
#include <cstdlib>
#include <iostream>
#include <random>

#include "braid.h"

namespace {

braid::Tensor Random(std::vector<int64_t> shape, float scale, std::mt19937& rng) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  std::uniform_real_distribution<float> dist(-scale, scale);
  braid::Tensor t(braid::DType::kF32, std::move(shape));
  for (float& x : t.f32_span()) x = dist(rng);
  return t;
}

int Fail(const absl::Status& status) {
  std::cerr << "embed: " << status << "\n";
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  const int64_t m = argc > 1 ? std::atoll(argv[1]) : 4;
  constexpr int64_t kHidden = 4096, kIntermediate = 11008;
  using braid::Dim;

  // y = down(silu(gate(x)) * up(x)) + x
  braid::GraphBuilder b("llama_mlp");
  braid::Value* x = b.Input("x", {Dim::Symbol("M"), Dim::Const(kHidden)});
  braid::Value* wg = b.Constant("wg", {Dim::Const(kIntermediate), Dim::Const(kHidden)});
  braid::Value* wu = b.Constant("wu", {Dim::Const(kIntermediate), Dim::Const(kHidden)});
  braid::Value* wd = b.Constant("wd", {Dim::Const(kHidden), Dim::Const(kIntermediate)});
  braid::Value* h = b.Mul(b.Silu(b.Linear(x, wg)), b.Linear(x, wu));
  braid::Value* y = b.Add(b.Linear(h, wd), x);
  auto graph = b.Build({y});
  if (!graph.ok()) return Fail(graph.status());
  auto changed = braid::Optimize(**graph);
  if (!changed.ok()) return Fail(changed.status());

  std::mt19937 rng(1);
  std::map<std::string, braid::Tensor> weights = {
      {"wg", Random({kIntermediate, kHidden}, 0.02f, rng)},
      {"wu", Random({kIntermediate, kHidden}, 0.02f, rng)},
      {"wd", Random({kHidden, kIntermediate}, 0.02f, rng)},
  };
  // No runtime given: the graph shares the process's braid::Runtime (pool and JIT) with any
  // other graph compiled the same way.
  auto compiled = braid::CompiledGraph::Compile(**graph, {}, weights);
  if (!compiled.ok()) return Fail(compiled.status());
  std::cout << "compiled @llama_mlp for " << (*compiled)->target().IsaName() << " in "
            << (*compiled)->compile_ms() << " ms (+" << (*compiled)->prepack_ms()
            << " ms prepacking " << (*compiled)->prepacked_bytes() / (1 << 20) << " MiB of weights), "
            << (*compiled)->schedule().kernels.size() << " kernels, runs on "
            << (*compiled)->threads() << " threads\n";

  braid::Tensor input = Random({m, kHidden}, 1.0f, rng);
  const braid::DimBindings dims = {{"M", m}};
  auto outputs = (*compiled)->Run({input}, dims);
  if (!outputs.ok()) return Fail(outputs.status());

  auto reference = braid::Interpret(**graph, {input, weights["wg"], weights["wu"], weights["wd"]}, dims);
  if (!reference.ok()) return Fail(reference.status());
  const braid::Comparison c = braid::CompareOutputs(*reference, *outputs);
  const braid::Tensor& out = (*outputs)[0];
  std::cout << "y[0, 0:4] = " << out.f32()[0] << " " << out.f32()[1] << " " << out.f32()[2] << " "
            << out.f32()[3] << "  (shape [" << out.shape()[0] << ", " << out.shape()[1] << "])\n"
            << "vs interpreter: max_abs_err=" << c.max_abs_error << " max_rel_err=" << c.max_rel_error
            << (c.ok ? "  OK\n" : "  MISMATCH\n");
  return c.ok ? 0 : 1;
}
