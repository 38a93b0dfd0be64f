// --run, --verify and --bench for one graph.
#include "tools/run_graph.h"

#include <algorithm>
#include <chrono>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "ir/compare.h"
#include "ir/gemm.h"
#include "ir/interpreter.h"
#include "ir/status_macros.h"
#include "tools/machine_limits.h"
#include "tools/run_inputs.h"

namespace braid {
namespace {

double Rows(const TensorType& t, const DimBindings& dims) {
  double rows = 1;
  auto shape = BindShape(t.shape, dims);
  if (!shape.ok()) return 0;
  for (size_t i = 0; i + 1 < shape->size(); ++i) rows *= (*shape)[i];
  return rows;
}

double Gemm(const GemmValues& gemm, const DimBindings& dims) {
  auto w = BindShape(gemm.weight->type().tensor().shape, dims);
  if (!w.ok()) return 0;
  const double k = GemmWeightK(gemm.kind, *w);
  const double n = GemmWeightN(gemm.kind, *w);
  return 2.0 * Rows(gemm.act->type().tensor(), dims) * k * n;
}

}  // namespace

double GemmWeightBytes(const Graph& graph, const DimBindings& dims) {
  double bytes = 0;
  for (const auto& node : graph.nodes()) {
    for (size_t i = 0; i < node->operands().size(); ++i) {
      const Value* operand = node->operand(i);
      if (!operand->is_param() || !operand->is_const()) continue;
      if (!IsOnlyGemmWeight(*node, static_cast<int>(i))) continue;
      auto shape = BindShape(operand->type().tensor().shape, dims);
      if (!shape.ok()) continue;
      double elements = 1;
      for (int64_t d : *shape) elements *= d;
      bytes += DTypeBytes(operand->type().tensor().dtype) * elements;
    }
  }
  return bytes;
}

double GemmFlops(const Graph& graph, const DimBindings& dims) {
  double flops = 0;
  for (const auto& node : graph.nodes()) {
    for (const GemmOperands& gemm : GemmsOf(*node)) flops += Gemm(GemmValuesOf(*node, gemm), dims);
  }
  return flops;
}

absl::StatusOr<std::vector<Tensor>> RunGraph(const Graph& graph, const RunRequest& request,
                                                 std::ostream& out) {
  DimBindings dims = request.dims;
  BRAID_ASSIGN_OR_RETURN(std::vector<Tensor> inputs, MakeInputs(graph, request.files, request.seed, dims));
  if (request.interpret) {
    BRAID_ASSIGN_OR_RETURN(auto outputs, Interpret(graph, inputs, dims));
    out << "@" << graph.name() << " (interpreter):\n";
    return outputs;
  }
  auto [constants, runtime_inputs] = SplitByConstness(graph, ViewsOf(inputs));
  BRAID_ASSIGN_OR_RETURN(auto compiled, CompiledGraph::Compile(graph, request.compile, constants));
  BRAID_ASSIGN_OR_RETURN(auto outputs, compiled->Run(runtime_inputs, dims));
  out << "@" << graph.name() << " (jit " << compiled->target().IsaName() << ", "
      << compiled->threads() << " threads, " << compiled->schedule().kernels.size() << " kernels):\n";
  if (request.verify) {
    BRAID_ASSIGN_OR_RETURN(auto reference, Interpret(graph, inputs, dims));
    Comparison c = CompareOutputs(reference, outputs);
    double tolerance = 0;  // the loosest of the outputs' dtypes (each output is judged by its own)
    for (const Tensor& t : outputs) tolerance = std::max(tolerance, RelTolerance(t.dtype()));
    out << absl::StrFormat("verify: max_abs_err=%.3g max_rel_err=%.3g (tolerance %.0e relative + %.0e): %s\n",
                           c.max_abs_error, c.max_rel_error, tolerance, kAbsTolerance, c.ok ? "ok" : "MISMATCH");
    if (!c.ok) {
      return absl::InvalidArgumentError(absl::StrCat("--verify: @", graph.name(), " differs from the interpreter: ",
                                                     c.first_mismatch));
    }
  }
  if (request.bench) {
    using Clock = std::chrono::steady_clock;
    std::vector<double> ms;
    const auto begin = Clock::now();
    // At least 5 runs, then until half a second has passed (at most 1000).
    while (ms.size() < 5 || (ms.size() < 1000 && Clock::now() - begin < std::chrono::milliseconds(500))) {
      const auto start = Clock::now();
      BRAID_RETURN_IF_ERROR(compiled->Run(runtime_inputs, dims).status());
      ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - start).count());
    }
    std::nth_element(ms.begin(), ms.begin() + ms.size() / 2, ms.end());
    const double median = ms[ms.size() / 2];
    const double gflops = GemmFlops(graph, dims) / (median * 1e6);
    out << absl::StrFormat("bench: median_ms=%.4f gflops=%.2f compile_ms=%.1f prepack_ms=%.1f\n", median,
                           gflops, compiled->compile_ms(), compiled->prepack_ms());
    // The same run against this machine's limits, measured now on as many threads: compute-bound
    // graphs compare with the FMA peak, memory-bound ones (small M) with the read bandwidth
    // over the bytes of GEMM weights that every run must stream.
    const int threads = compiled->threads();
    const double peak = MeasureFmaPeakGflops(threads);
    const double bandwidth = MeasureReadBandwidthGBs(threads, int64_t{256} << 20);
    const double weight_gbs = GemmWeightBytes(graph, dims) / (median * 1e6);
    if (peak > 0) {
      out << absl::StrFormat(
          "bench: of_fma_peak=%.1f%% (peak %.0f GFLOP/s) weight_gbs=%.1f of_read_bw=%.1f%% (%.1f GB/s), %d threads\n",
          100 * gflops / peak, peak, weight_gbs, 100 * weight_gbs / bandwidth, bandwidth, threads);
    }
    // The caches the GEMMs were blocked for, then each GEMM kernel's tile configuration and
    // why it was chosen.
    if (!compiled->tile_choices().empty()) out << "bench: caches " << compiled->target().caches.ToString() << "\n";
    for (size_t k = 0; k < compiled->tile_choices().size(); ++k) {
      if (!compiled->tile_choices()[k].empty()) out << "bench: kernel " << k << " tiles: " << compiled->tile_choices()[k] << "\n";
    }
  }
  return outputs;
}

}  // namespace braid
