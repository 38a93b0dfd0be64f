// libFuzzer target: text -> parse -> verify -> print round trip -> default pipeline ->
// scheduler -> schedule executor vs interpreter, and for some small graphs codegen + run vs
// the interpreter. Any crash, sanitizer report, or broken invariant (abort) is a finding.
// Run with tools/fuzz.sh (builds with clang-19, -fsanitize=fuzzer,address,undefined).
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "codegen/compiled_graph.h"
#include "ir/compare.h"
#include "ir/interpreter.h"
#include "ir/parser.h"
#include "ir/printer.h"
#include "ir/verifier.h"
#include "passes/pipeline.h"
#include "scheduler/fusion.h"
#include "scheduler/schedule_executor.h"

namespace braid {
namespace {

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "ir_fuzzer: invariant broken: %s\n", what.c_str());
  std::abort();
}

constexpr int64_t kMaxBytes = 64 << 20;

// Binds every symbol to 3.
DimBindings Dims(const Graph& g) {
  DimBindings dims;
  for (const Value* p : g.params()) {
    for (const Dim& d : p->type().tensor().shape) {
      for (const std::string& name : d.Symbols()) dims[name] = 3;
    }
  }
  return dims;
}

bool Small(const Graph& g, const DimBindings& dims, int64_t limit) {
  int64_t total = 0;
  for (const Value* p : g.params()) {
    auto shape = BindShape(p->type().tensor().shape, dims);
    if (!shape.ok()) return false;
    auto n = CheckedElementCount(*shape, limit);
    if (!n.ok()) return false;
    total += *n;
  }
  return total <= limit;
}

void CheckGraph(Graph& g, uint64_t hash) {
  const DimBindings dims = Dims(g);
  if (!Small(g, dims, 1 << 16)) return;
  std::vector<Tensor> inputs;
  auto shapes = BindParamShapes(g, dims);
  if (!shapes.ok()) Die("BindParamShapes failed on a small graph");
  for (size_t i = 0; i < shapes->size(); ++i) {
    Tensor t(DType::kF32, (*shapes)[i]);
    for (int64_t j = 0; j < t.size(); ++j) t.f32()[j] = static_cast<float>((j * 7 + i * 3) % 11) / 8.0f - 0.6f;
    // Inputs of the parameter's dtype (the values above are small integers over 8: exact in
    // every float dtype; integer parameters get them rounded).
    const DType dtype = g.params()[i]->type().tensor().dtype;
    inputs.push_back(dtype == DType::kF32 ? std::move(t) : ConvertTensor(t, dtype));
  }
  InterpretOptions options;
  options.max_total_bytes = kMaxBytes;
  auto want = Interpret(g, inputs, dims, options);
  if (!want.ok()) return;  // e.g. over the memory cap: a clean refusal
  auto schedule = BuildSchedule(g);
  if (!schedule.ok()) Die("BuildSchedule failed on a verified graph");
  auto scheduled = ExecuteSchedule(*schedule, inputs, dims);
  if (!scheduled.ok() || !CompareOutputs(*want, *scheduled).ok) Die("the schedule executor differs");
  // Codegen is slow next to parsing: compile one valid small graph in eight, of those the
  // compiler takes (f32 values only, no conversions; it refuses the rest with an error).
  if (hash % 8 != 0 || g.nodes().size() > 12 || !CheckCompilable(g).ok()) return;
  const auto [constants, runtime] = SplitByConstness(g, ViewsOf(inputs));
  CompileOptions compile;
  compile.threads = 1;
  compile.opt_level = hash % 16 == 0 ? 3 : 1;
  compile.max_run_bytes = kMaxBytes;
  auto compiled = CompiledGraph::Compile(g, compile, constants);
  if (!compiled.ok()) Die("compiling a verified graph failed: " + std::string(compiled.status().message()));
  auto got = (*compiled)->Run(runtime, dims);
  if (!got.ok()) Die("running a compiled graph failed: " + std::string(got.status().message()));
  Comparison c = CompareOutputs(*want, *got);
  if (!c.ok) Die("compiled code differs from the interpreter: " + c.first_mismatch);
}

}  // namespace
}  // namespace braid

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace braid;
  const std::string text(reinterpret_cast<const char*>(data), size);
  auto module = ParseModule("fuzz.ir", text);
  if (!module.ok()) {
    if (module.status().message().rfind("fuzz.ir:", 0) != 0) Die("a parse error without a location");
    return 0;
  }
  if (!VerifyModule(*module).ok()) return 0;
  const std::string printed = PrintModule(*module);
  auto again = ParseModule("printed.ir", printed);
  if (!again.ok() || !VerifyModule(*again).ok() || PrintModule(*again) != printed) {
    Die("the printed IR does not parse back to the same print");
  }
  uint64_t hash = 1469598103934665603ull;
  for (size_t i = 0; i < size; ++i) hash = (hash ^ data[i]) * 1099511628211ull;
  for (auto& graph : module->graphs) {
    // The pass manager verifies after every pass; a failure is an internal error.
    auto changed = RunDefaultPipeline(*graph);
    if (!changed.ok()) Die("the default pipeline failed: " + std::string(changed.status().message()));
    CheckGraph(*graph, hash);
  }
  return 0;
}
