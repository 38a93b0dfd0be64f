// The `braid` driver: parse, verify and print textual IR, or run it. Flags follow mlir-opt /
// LLVM naming; every user error is printed as a located message and exits with status 1.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <set>
#include <sstream>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "codegen/fold_constants.h"
#include "ir/interpreter.h"
#include "ir/parser.h"
#include "ir/printer.h"
#include "ir/status_macros.h"
#include "ir/verifier.h"
#include "passes/pass_manager.h"
#include "passes/pipeline.h"
#include "scheduler/fusion.h"
#include "tools/cli.h"
#include "tools/npy.h"
#include "tools/run_graph.h"
#include "tools/run_inputs.h"
#include "tools/tensor_parallel_driver.h"
#include "passes/tensor_parallel.h"

ABSL_FLAG(bool, run, false,
          "JIT-compile and execute every graph (or the one named by --graph) on seeded random "
          "inputs; print each output's shape and checksum. `const` parameters are compiled in "
          "(their weights prepacked).");
ABSL_FLAG(bool, interpret, false,
          "With --run: execute with the reference interpreter (the oracle) instead of the JIT.");
ABSL_FLAG(bool, verify, false,
          "With --run: also run the interpreter on the same inputs, print the max absolute and "
          "relative error, and exit 1 if any element differs by more than 1e-4 * (|want| + "
          "rms(want)) + 1e-6.");
ABSL_FLAG(bool, bench, false,
          "With --run: time repeated runs; print 'bench: median_ms=<x> gflops=<y> "
          "compile_ms=<z> prepack_ms=<p>' (GFLOP = 2*M*K*N per GEMM; compile = JIT-ready, "
          "without prepacking; a process's first compile runs LLVM's code cold and takes longer "
          "than later ones, up to twice as long), then the run against this machine's "
          "FMA peak and read bandwidth, measured on the spot with as many threads, and each "
          "GEMM kernel's tile configuration with the reason it was chosen (and, where a GEMM does not take "
          "the f32 path, each GEMM's: bf16 or i8 weights widened to f32, bf16 vdpbf16ps).");
ABSL_FLAG(int32_t, threads, 0,
          "Threads of the runtime that compiles and runs the graphs (0: the hardware's concurrency).");
ABSL_FLAG(int32_t, spin_us, 200,
          "How long idle threads of the runtime's pool (and a run waiting for them) poll "
          "before they sleep, in microseconds; 0 never busy-waits (slower hand-offs between "
          "small runs, no CPU burnt while idle).");
ABSL_FLAG(std::string, isa, "auto",
          "Vector ISA for compiled kernels: auto (the host's best), avx2, avx512, or avx512-bf16 (bf16 GEMMs on the AVX512-BF16 dot product and i8 x i8 GEMMs on AVX512-VNNI; auto picks it where the host has both).");
ABSL_FLAG(std::string, caches, "",
          "Block the GEMMs for these per-core cache sizes, L1D,L2 (e.g. 48K,2M), instead of "
          "the host's, read from the CPU (CPUID) (the K block fills at most 2/3 "
          "of the L1d, a group's tile buffer at most half the L2). Results are the same; "
          "speed and --bench's tile lines change.");
ABSL_FLAG(std::string, emit, "ir",
          "What to print: 'ir' (the canonical IR), 'schedule' (one 'kernel <i>:' line per "
          "kernel, then the eliminated values and the bytes saved), 'dot' (Graphviz, kernels as "
          "clusters), 'llvm' (the generated LLVM IR before and after LLVM's optimisation) or "
          "'asm' (the host assembly).");
ABSL_FLAG(bool, fusion, true,
          "Fuse epilogues into GEMM templates and pointwise chains into loop kernels; "
          "--nofusion gives one kernel per template or pointwise op.");
ABSL_FLAG(bool, debug_fusion, false, "Explain on stderr why each rejected fusion was rejected.");
ABSL_FLAG(std::string, dims, "",
          "Bind symbolic dims for --run, e.g. --dims=M=128,T=7. Binding a name no graph uses "
          "is a warning. Dims of parameters given by --inputs are bound from the files.");
ABSL_FLAG(uint64_t, seed, 0,
          "Seed for the random inputs of --run (uniform in [-1, 1); a float const of rank >= 2, a weight, "
          "scaled by 1/sqrt(its last dim)).");
ABSL_FLAG(std::string, inputs, "",
          "With --run: read parameters from NumPy files, e.g. --inputs=x=x.npy,wg=wg.npy "
          "(little-endian float32 '<f4', C order). Parameters not named are random. Under "
          "`mpirun ... --tp=N`, '%r' in a path is the rank (per-rank inputs).");
ABSL_FLAG(std::string, output_dir, "",
          "With --run: write each graph output to DIR/<name>.npy ('<f4', C order). When "
          "several graphs run, DIR/<graph>/<name>.npy.");
ABSL_FLAG(std::string, graph, "", "With --run: run only the graph with this name (without '@').");
ABSL_FLAG(std::string, passes, "",
          "Run these passes in order, comma-separated (e.g. --passes=grouped-gemm,dce), then "
          "print or run the result. See --list-passes.");
ABSL_FLAG(bool, O, false, "Run the default pipeline: fold-silu, fold-attention, fold-rotate-half, fold-weight-convert, fold-rms-norm, grouped-gemm, dce.");
ABSL_FLAG(bool, list_passes, false, "List the available passes and exit.");
ABSL_FLAG(bool, print_after_all, false, "Print the IR to stderr after every pass.");
ABSL_FLAG(std::string, debug_only, "",
          "Comma-separated pass names whose decisions are explained on stderr (why a candidate "
          "was or was not rewritten).");
ABSL_FLAG(bool, group_independent_gemms, false,
          "grouped-gemm: also group GEMMs whose activations are different values of the same "
          "type (off by default).");
ABSL_FLAG(int32_t, tp, 1,
          "Tensor parallelism over N ranks: shard every graph with the tensor-parallel pass "
          "(column-/row-parallel linears, all_reduce of partial sums; before any other pass). "
          "With --run, one rank per process: `mpirun -np N braid --tp=N --run ...` (each rank "
          "makes the same seeded full inputs and weights, packs only its slices, and --verify "
          "compares its result with the single-process interpreter); with --run --interpret, "
          "every rank's shard is interpreted in this process instead (no MPI). Without --run, "
          "prints rank --tp-rank's graph.");
ABSL_FLAG(int32_t, tp_rank, 0, "With --tp and without --run: which rank's graph to print or schedule.");
ABSL_FLAG(bool, split_input_file, false,
          "Split the input at lines '// -----' and process each chunk on its own, as mlir-opt "
          "does; errors keep the line numbers of the whole file. Exits 1 if any chunk failed.");

namespace braid {
namespace {

// This process's rank when `--tp=N --run` runs under MPI.
std::optional<MpiRank> g_mpi_rank;

constexpr char kUsage[] =
    "braid: a graph-IR compiler for CPU inference with grouped-GEMM fusion.\n\n"
    "usage: braid [flags] FILE.ir      ('-' reads standard input)\n\n"
    "Without --run: parse, verify, run the passes asked for (--passes, --O) and print the\n"
    "canonical IR.\n"
    "With --run: JIT-compile, execute and print, per output, its shape and a checksum.\n"
    "Exit status: 0 on success, 1 on invalid input (a FILE:LINE:COL error on stderr).";

absl::Status DriverError(absl::string_view message) {
  return absl::InvalidArgumentError(message);
}

// Located errors already read "FILE:LINE:COL: error: ..."; the rest get the tool's name.
void PrintError(const absl::Status& status) {
  absl::string_view message = status.message();
  absl::string_view first_line = message.substr(0, message.find('\n'));
  // One write: under mpirun, ranks' and mpirun's own lines interleave between writes.
  const std::string line =
      absl::StrCat(absl::StrContains(first_line, ": error: ") ? "" : "braid: error: ", message, "\n");
  std::cout.flush();  // what was printed before comes first, as std::cerr's tie to cout did
  std::fwrite(line.data(), 1, line.size(), stderr);
  std::fflush(stderr);
}

absl::StatusOr<std::string> ReadInput(const std::string& path) {
  std::ostringstream buffer;
  if (path == "-") {
    buffer << std::cin.rdbuf();
    return buffer.str();
  }
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) return DriverError(absl::StrCat(path, " is a directory"));
  std::ifstream in(path, std::ios::binary);
  if (!in) return DriverError(absl::StrCat("cannot open '", path, "'"));
  buffer << in.rdbuf();
  return buffer.str();
}

// Warns about --dims names that no graph mentions (a typo, usually).
void WarnUnusedDims(const Module& module, const DimBindings& dims) {
  std::set<std::string> used;
  auto note = [&](const TensorType& t) {
    for (const Dim& d : t.shape) for (const std::string& name : d.Symbols()) used.insert(name);
  };
  for (const auto& g : module.graphs) {
    for (const Value* p : g->params()) note(p->type().tensor());
    for (const auto& n : g->nodes()) for (const TensorType& t : n->result()->type().layout()) note(t);
  }
  for (const auto& [name, value] : dims) {
    if (!used.count(name)) {
      std::cerr << "braid: warning: --dims binds '" << name << "', which no graph uses\n";
    }
  }
}

ScheduleOptions ScheduleFlags() {
  ScheduleOptions options;
  options.fuse_epilogues = options.fuse_pointwise = absl::GetFlag(FLAGS_fusion);
  if (absl::GetFlag(FLAGS_debug_fusion)) options.debug = &std::cerr;
  return options;
}

// --emit=schedule / dot for every graph.
absl::Status EmitSchedules(const Module& module, absl::string_view emit) {
  BRAID_ASSIGN_OR_RETURN(DimBindings dims, ParseDimsFlag(absl::GetFlag(FLAGS_dims)));
  for (const auto& original : module.graphs) {
    // As Compile schedules it: nodes computed from constants alone are constants by then.
    std::unique_ptr<Graph> graph = original->Clone();
    BRAID_RETURN_IF_ERROR(FoldConstants(*graph, dims, nullptr, nullptr));
    BRAID_ASSIGN_OR_RETURN(Schedule schedule, BuildSchedule(*graph, ScheduleFlags()));
    if (emit == "dot") {
      std::cout << ScheduleToDot(schedule);
    } else {
      std::cout << "@" << graph->name() << ":\n" << PrintSchedule(schedule, dims);
    }
  }
  return absl::OkStatus();
}

// The driver's one runtime, shared by every graph it compiles: --threads pool threads that
// poll --spin-us before they sleep.
absl::StatusOr<std::shared_ptr<Runtime>> DriverRuntime() {
  static const auto* const runtime = [] {
    Runtime::Options options;
    options.threads = absl::GetFlag(FLAGS_threads);
    options.spin_us = absl::GetFlag(FLAGS_spin_us);
    return new absl::StatusOr<std::shared_ptr<Runtime>>(Runtime::Create(options));
  }();
  return *runtime;
}

absl::StatusOr<CompileOptions> CompileFlags() {
  CompileOptions options;
  BRAID_ASSIGN_OR_RETURN(options.isa, ParseIsa(absl::GetFlag(FLAGS_isa)));
  if (absl::GetFlag(FLAGS_threads) < 0) return DriverError("--threads must be >= 0");
  const int spin_us = absl::GetFlag(FLAGS_spin_us);
  if (spin_us < 0 || spin_us > 1000000) return DriverError("--spin-us must be in [0, 1000000]");
  BRAID_ASSIGN_OR_RETURN(options.runtime, DriverRuntime());
  options.fuse_epilogues = options.fuse_pointwise = absl::GetFlag(FLAGS_fusion);
  if (!absl::GetFlag(FLAGS_caches).empty()) {
    auto caches = ParseCacheSizes(absl::GetFlag(FLAGS_caches));
    if (!caches.ok()) return DriverError(absl::StrCat("--caches: ", caches.status().message()));
    options.caches = *caches;
  }
  return options;
}

// --emit=llvm / asm: compile each graph (with seeded constants) and print the code.
absl::Status EmitCode(const Module& module, absl::string_view emit) {
  BRAID_ASSIGN_OR_RETURN(DimBindings dims, ParseDimsFlag(absl::GetFlag(FLAGS_dims)));
  BRAID_ASSIGN_OR_RETURN(CompileOptions options, CompileFlags());
  options.keep_text = true;
  for (const auto& graph : module.graphs) {
    BRAID_ASSIGN_OR_RETURN(auto constants, MakeConstants(*graph, {}, absl::GetFlag(FLAGS_seed), dims));
    BRAID_ASSIGN_OR_RETURN(auto compiled, CompiledGraph::Compile(*graph, options, constants));
    if (emit == "asm") {
      std::cout << compiled->assembly();
      continue;
    }
    std::cout << "; ---- @" << graph->name() << ": LLVM IR as generated\n" << compiled->llvm_before()
              << "; ---- @" << graph->name() << ": LLVM IR after optimisation (braid pipeline, "
              << compiled->target().IsaName() << ")\n" << compiled->llvm_after();
  }
  return absl::OkStatus();
}

absl::Status RunModule(const Module& module, const Module* unsharded) {
  BRAID_ASSIGN_OR_RETURN(DimBindings dims, ParseDimsFlag(absl::GetFlag(FLAGS_dims)));
  WarnUnusedDims(module, dims);
  BRAID_ASSIGN_OR_RETURN(auto input_paths, ParseInputsFlag(absl::GetFlag(FLAGS_inputs)));
  if (g_mpi_rank.has_value()) {  // per-rank files: `%r` is the rank
    for (auto& [name, path] : input_paths) path = absl::StrReplaceAll(path, {{"%r", absl::StrCat(g_mpi_rank->rank)}});
  }
  std::vector<const Graph*> graphs;
  const std::string only = absl::GetFlag(FLAGS_graph);
  for (const auto& g : module.graphs) {
    if (only.empty() || g->name() == only) graphs.push_back(g.get());
  }
  if (graphs.empty()) return DriverError(absl::StrCat("--graph: no graph named @", only));
  for (const auto& [name, path] : input_paths) {
    bool found = false;
    for (const Graph* g : graphs) {
      for (const Value* p : g->params()) found |= p->name() == name;
    }
    if (!found) return DriverError(absl::StrCat("--inputs: no graph that runs has a parameter %", name));
  }
  std::map<std::string, Tensor> files;
  for (const auto& [name, path] : input_paths) {
    auto tensor = ReadNpy(path);
    if (!tensor.ok()) return DriverError(absl::StrCat("--inputs: ", tensor.status().message()));
    files[name] = *std::move(tensor);
  }
  // Under MPI, rank 0 writes the outputs (every rank's are the same).
  const std::string output_dir = g_mpi_rank.has_value() && g_mpi_rank->rank != 0 ? "" : absl::GetFlag(FLAGS_output_dir);
  RunRequest request;
  request.dims = dims;
  request.files = std::move(files);
  request.seed = absl::GetFlag(FLAGS_seed);
  request.interpret = absl::GetFlag(FLAGS_interpret);
  request.verify = absl::GetFlag(FLAGS_verify);
  request.bench = absl::GetFlag(FLAGS_bench);
  BRAID_ASSIGN_OR_RETURN(request.compile, CompileFlags());
  if (g_mpi_rank.has_value()) SetRankHooks(*g_mpi_rank, request);
  const int tp = absl::GetFlag(FLAGS_tp);
  for (const Graph* graph : graphs) {
    if (unsharded != nullptr) {
      for (size_t i = 0; i < module.graphs.size(); ++i) {
        if (module.graphs[i].get() == graph) request.unsharded = unsharded->graphs[i].get();
      }
    }
    BRAID_ASSIGN_OR_RETURN(std::vector<Tensor> outputs,
                           tp > 1 && request.interpret ? InterpretRanks(*graph, tp, request, std::cout)
                                                       : RunGraph(*graph, request, std::cout));
    std::string dir = output_dir;
    if (!dir.empty() && graphs.size() > 1) dir = absl::StrCat(dir, "/", graph->name());
    if (!dir.empty()) {
      std::error_code ec;
      std::filesystem::create_directories(dir, ec);
      if (ec) return DriverError(absl::StrCat("--output-dir: cannot create '", dir, "': ", ec.message()));
    }
    for (size_t i = 0; i < outputs.size(); ++i) {
      const Value* v = graph->outputs()[i];
      std::cout << "  %" << v->name() << ": " << DTypeName(outputs[i].dtype())
                << ShapeToString(outputs[i].shape()) << " "
                << Checksum(outputs[i]) << "\n";
      if (!dir.empty()) {
        absl::Status written = WriteNpy(absl::StrCat(dir, "/", v->name(), ".npy"), outputs[i]);
        if (!written.ok()) return DriverError(written.message());
      }
    }
  }
  return absl::OkStatus();
}

// The passes selected by --passes or --O (none if neither).
absl::StatusOr<PassManager> BuildPassManager() {
  PassManagerOptions options;
  if (absl::GetFlag(FLAGS_print_after_all)) options.print_after_all = &std::cerr;
  for (absl::string_view name :
       absl::StrSplit(absl::GetFlag(FLAGS_debug_only), ',', absl::SkipWhitespace())) {
    options.debug_only.insert(std::string(name));
  }
  if (!options.debug_only.empty()) options.debug_stream = &std::cerr;
  PassManager manager(std::move(options));
  PipelineOptions pipeline;
  pipeline.group_independent = absl::GetFlag(FLAGS_group_independent_gemms);
  const std::string passes = absl::GetFlag(FLAGS_passes);
  if (absl::GetFlag(FLAGS_O)) {
    if (!passes.empty()) return DriverError("give either --O or --passes, not both");
    for (auto& pass : DefaultPipeline(pipeline)) manager.Add(std::move(pass));
  }
  for (absl::string_view name : absl::StrSplit(passes, ',', absl::SkipWhitespace())) {
    auto pass = CreatePass(absl::StripAsciiWhitespace(name), pipeline);
    if (!pass.ok()) return DriverError(absl::StrCat("--passes: ", pass.status().message()));
    manager.Add(*std::move(pass));
  }
  return manager;
}

// The rank this process shards for: the MPI rank when running under MPI, else --tp-rank.
int TensorParallelRank() { return g_mpi_rank.has_value() ? g_mpi_rank->rank : absl::GetFlag(FLAGS_tp_rank); }

// --tp=N: each graph becomes this rank's share (before any other pass, so its slices still
// group); `unsharded` keeps the original graphs for inputs and --verify.
absl::Status ShardModule(Module& module, Module& unsharded) {
  const int size = absl::GetFlag(FLAGS_tp);
  unsharded.source = module.source;
  for (auto& graph : module.graphs) {
    unsharded.graphs.push_back(graph->Clone());
    PassManagerOptions options;
    for (absl::string_view name : absl::StrSplit(absl::GetFlag(FLAGS_debug_only), ',', absl::SkipWhitespace())) {
      options.debug_only.insert(std::string(name));
    }
    if (!options.debug_only.empty()) options.debug_stream = &std::cerr;
    if (absl::GetFlag(FLAGS_print_after_all)) options.print_after_all = &std::cerr;
    PassManager manager(std::move(options));
    for (auto& pass : ShardingPasses(TensorParallelRank(), size)) manager.Add(std::move(pass));
    absl::Status sharded = manager.Run(*graph).status();
    if (!sharded.ok()) return DriverError(absl::StrCat("--tp: @", graph->name(), ": ", sharded.message()));
  }
  return absl::OkStatus();
}

absl::Status ProcessText(const std::string& name, std::string text) {
  BRAID_ASSIGN_OR_RETURN(Module module, ParseModule(name, std::move(text)));
  BRAID_RETURN_IF_ERROR(VerifyModule(module));
  const int tp = absl::GetFlag(FLAGS_tp);
  const bool simulate = tp > 1 && absl::GetFlag(FLAGS_run) && absl::GetFlag(FLAGS_interpret);
  Module unsharded;
  if (tp > 1 && !simulate) BRAID_RETURN_IF_ERROR(ShardModule(module, unsharded));
  BRAID_ASSIGN_OR_RETURN(PassManager passes, BuildPassManager());
  BRAID_RETURN_IF_ERROR(passes.Run(module).status());
  if (absl::GetFlag(FLAGS_run)) return RunModule(module, tp > 1 && !simulate ? &unsharded : nullptr);
  const std::string emit = absl::GetFlag(FLAGS_emit);
  if (emit == "schedule" || emit == "dot") return EmitSchedules(module, emit);
  if (emit == "llvm" || emit == "asm") return EmitCode(module, emit);
  std::cout << PrintModule(module);
  return absl::OkStatus();
}

absl::Status Main(const std::vector<std::string>& positional) {
  const std::string emit = absl::GetFlag(FLAGS_emit);
  if (emit != "ir" && emit != "schedule" && emit != "dot" && emit != "llvm" && emit != "asm") {
    return DriverError(absl::StrCat("--emit: unknown value '", emit,
                                    "' (expected ir, schedule, dot, llvm or asm)"));
  }
  if (absl::GetFlag(FLAGS_list_passes)) {
    for (const auto& [pass, description] : ListPasses()) {
      std::cout << "  " << pass << std::string(pass.size() < 14 ? 14 - pass.size() : 1, ' ')
                << description << "\n";
    }
    return absl::OkStatus();
  }
  if (positional.size() != 2) {
    return DriverError(positional.size() < 2 ? "no input file (try --help)"
                                             : "expected exactly one input file");
  }
  const std::string path = positional[1];
  const std::string name = path == "-" ? "<stdin>" : path;
  BRAID_ASSIGN_OR_RETURN(std::string text, ReadInput(path));
  if (!absl::GetFlag(FLAGS_split_input_file)) return ProcessText(name, std::move(text));
  bool failed = false;
  std::vector<std::string> chunks = SplitInputFile(text);
  for (size_t i = 0; i < chunks.size(); ++i) {
    if (i > 0) std::cout << "// -----\n";
    absl::Status status = ProcessText(name, std::move(chunks[i]));
    if (!status.ok()) {
      PrintError(status);
      failed = true;
    }
  }
  // Each failure was already printed.
  return failed ? absl::InvalidArgumentError("") : absl::OkStatus();
}

// --tp=N --run (not --interpret): join the MPI job as one of its ranks; only rank 0 prints.
absl::Status StartTensorParallel(int* argc, char*** argv) {
  const int tp = absl::GetFlag(FLAGS_tp);
  if (tp < 1 || tp > 4096) return DriverError("--tp must be in [1, 4096]");
  if (absl::GetFlag(FLAGS_tp_rank) < 0 || absl::GetFlag(FLAGS_tp_rank) >= tp) {
    return DriverError(absl::StrCat("--tp-rank must be in [0, ", tp, ")"));
  }
  if (tp == 1 || !absl::GetFlag(FLAGS_run) || absl::GetFlag(FLAGS_interpret)) return absl::OkStatus();
  absl::StatusOr<MpiRank> rank = StartMpi(tp, argc, argv);
  if (!rank.ok()) return rank.status();
  g_mpi_rank = *std::move(rank);
  if (g_mpi_rank->rank != 0) std::cout.setstate(std::ios::badbit);  // rank 0 prints for all
  return absl::OkStatus();
}

}  // namespace
}  // namespace braid

int main(int argc, char** argv) {
  std::vector<std::string> positional = braid::ParseCommandLine(argc, argv, braid::kUsage);
  absl::Status status = braid::StartTensorParallel(&argc, &argv);
  if (status.ok()) status = braid::Main(positional);
  // Under MPI every rank learns whether every rank succeeded, and only rank 0 speaks.
  const bool quiet = braid::g_mpi_rank.has_value() && braid::g_mpi_rank->rank != 0;
  status = braid::FinishMpi(status);
  if (!status.ok()) {
    if (!status.message().empty() && !quiet) braid::PrintError(status);
    return 1;
  }
  return 0;
}
