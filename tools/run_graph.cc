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
  const Graph& source = request.unsharded != nullptr ? *request.unsharded : graph;
  auto agree = [&](absl::Status status) { return request.agree ? request.agree(std::move(status)) : status; };
  absl::StatusOr<std::vector<Tensor>> made = MakeInputs(source, request.files, request.seed, dims);
  if (request.interpret) {
    BRAID_RETURN_IF_ERROR(made.status());
    BRAID_ASSIGN_OR_RETURN(auto outputs, Interpret(graph, *made, dims));
    out << "@" << graph.name() << " (interpreter):\n";
    return outputs;
  }
  std::vector<Tensor> inputs;
  SplitViews views;
  absl::StatusOr<std::unique_ptr<CompiledGraph>> compiled = absl::UnknownError("not compiled");
  if (!made.ok()) {
    compiled = made.status();
  } else {
    inputs = *std::move(made);
    views = SplitByConstness(source, ViewsOf(inputs));
    compiled = CompiledGraph::Compile(graph, request.compile, views.constants);
  }
  BRAID_RETURN_IF_ERROR(agree(compiled.status()));
  const std::vector<TensorView>& runtime_inputs = views.runtime;
  absl::StatusOr<std::vector<Tensor>> ran = (*compiled)->Run(runtime_inputs, dims);
  BRAID_RETURN_IF_ERROR(agree(ran.status()));
  std::vector<Tensor> outputs = *std::move(ran);
  out << "@" << graph.name() << " (jit " << (*compiled)->target().IsaName() << ", "
      << (*compiled)->threads() << " threads, " << (*compiled)->schedule().kernels.size() << " kernels";
  if (const auto& tp = graph.tensor_parallel()) out << ", rank " << tp->rank << " of " << tp->size;
  out << "):\n";
  if (request.verify) {
    absl::Status verified = [&]() -> absl::Status {
      BRAID_ASSIGN_OR_RETURN(auto reference, Interpret(source, inputs, dims));
      Comparison c = CompareOutputs(reference, outputs);
      double tolerance = 0;  // the loosest of the outputs' dtypes (each output is judged by its own)
      for (const Tensor& t : outputs) tolerance = std::max(tolerance, RelTolerance(t.dtype()));
      out << absl::StrFormat("verify: max_abs_err=%.3g max_rel_err=%.3g (tolerance %.0e relative + %.0e): %s\n",
                             c.max_abs_error, c.max_rel_error, tolerance, kAbsTolerance, c.ok ? "ok" : "MISMATCH");
      if (!c.ok) {
        return absl::InvalidArgumentError(absl::StrCat("--verify: @", graph.name(), " differs from the interpreter: ",
                                                       c.first_mismatch));
      }
      return absl::OkStatus();
    }();
    BRAID_RETURN_IF_ERROR(agree(verified));
  }
  const std::unique_ptr<CompiledGraph>& compiled_graph = *compiled;
  if (request.bench) {
    using Clock = std::chrono::steady_clock;
    std::vector<double> ms;
    const auto begin = Clock::now();
    // At least 5 runs, then until half a second has passed (at most 1000). Ranks must run
    // equally often (each run's all_reduce pairs with theirs): they agree on the count first.
    int64_t runs = 1000;
    if (request.agree_min) {
      const auto start = Clock::now();
      BRAID_RETURN_IF_ERROR(compiled_graph->Run(runtime_inputs, dims).status());
      const double first_ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
      runs = request.agree_min(std::clamp<int64_t>(static_cast<int64_t>(500 / std::max(first_ms, 1e-3)), 5, 1000));
    }
    const int64_t ns_before = request.all_reduce_ns != nullptr ? request.all_reduce_ns->load() : 0;
    while (static_cast<int64_t>(ms.size()) < std::min<int64_t>(runs, 5) ||
           (static_cast<int64_t>(ms.size()) < runs &&
            (request.agree_min || Clock::now() - begin < std::chrono::milliseconds(500)))) {
      const auto start = Clock::now();
      BRAID_RETURN_IF_ERROR(compiled_graph->Run(runtime_inputs, dims).status());
      ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - start).count());
    }
    double all_reduce_ms = 0;
    if (request.all_reduce_ns != nullptr) {
      all_reduce_ms = (request.all_reduce_ns->load() - ns_before) / 1e6 / ms.size();
    }
    std::nth_element(ms.begin(), ms.begin() + ms.size() / 2, ms.end());
    const double median = ms[ms.size() / 2];
    const double gflops = GemmFlops(graph, dims) / (median * 1e6);
    out << absl::StrFormat("bench: median_ms=%.4f gflops=%.2f compile_ms=%.1f prepack_ms=%.1f\n", median,
                           gflops, compiled_graph->compile_ms(), compiled_graph->prepack_ms());
    if (request.all_reduce_ns != nullptr) {
      // GFLOP/s above count this rank's GEMMs; the graph's whole work is the unsharded one.
      out << absl::StrFormat("bench: all_reduce_ms=%.4f (%.1f%% of the run, mean per run) whole_graph_gflops=%.2f "
                             "packed_weight_mb=%.1f\n",
                             all_reduce_ms, 100 * all_reduce_ms / median, GemmFlops(source, dims) / (median * 1e6),
                             compiled_graph->prepacked_bytes() / 1e6);
    }
    // The same run against this machine's limits, measured now on as many threads: compute-bound
    // graphs compare with the FMA peak, memory-bound ones (small M) with the read bandwidth
    // over the bytes of GEMM weights that every run must stream.
    const int threads = compiled_graph->threads();
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
    if (!compiled_graph->tile_choices().empty()) {
      out << "bench: caches " << compiled_graph->target().caches.ToString() << "\n";
    }
    for (size_t k = 0; k < compiled_graph->tile_choices().size(); ++k) {
      if (!compiled_graph->tile_choices()[k].empty()) {
        out << "bench: kernel " << k << " tiles: " << compiled_graph->tile_choices()[k] << "\n";
      }
    }
  }
  return outputs;
}

}  // namespace braid
