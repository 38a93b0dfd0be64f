// A graph compiled to native code: schedule, buffer plan, JIT-compiled entry and prepacked
// constant weights; its code lives in, and its runs use the pool of, a braid::Runtime shared
// with other graphs (codegen/shared_runtime.h). `Run` may be called concurrently from several
// threads; each call owns its buffers.
//
// Memory: constants are given as views of the caller's memory and read once, during
// `Compile`: GEMM weights are prepacked from them (the only copy braid keeps); constants read
// in any other way (biases, pointwise operands, returned constants) are copied. The views need
// not outlive `Compile`. `RunInto` reads its inputs from, and writes its outputs into, the
// caller's memory without copies; `Run` allocates the outputs.
#ifndef BRAID_CODEGEN_COMPILED_GRAPH_H_
#define BRAID_CODEGEN_COMPILED_GRAPH_H_

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "codegen/buffer_plan.h"
#include "codegen/jit.h"
#include "codegen/packing.h"
#include "codegen/runtime.h"
#include "codegen/shared_runtime.h"
#include "ir/collective.h"
#include "ir/graph.h"
#include "ir/tensor.h"
#include "scheduler/fusion.h"

namespace braid {

struct CompileOptions {
  Isa isa = Isa::kAuto;
  // Block the GEMMs for these caches instead of the host's (CPUID): to reproduce another
  // machine's tile choice. The code runs correctly either way.
  std::optional<CacheSizes> caches;
  // The runtime whose pool runs the graph and whose JIT holds its code; null: Runtime::Default().
  // The pool's size and spin budget are the runtime's (Runtime::Options).
  std::shared_ptr<Runtime> runtime;
  // At most this many of the runtime's threads (the calling thread included) work on one Run,
  // and as many compile the graph; 0 (or more than the pool has): all of the pool's.
  int threads = 0;
  int opt_level = 3;  // LLVM backend level 0..3; 0 also skips the IR pass pipeline
  bool fuse_epilogues = true;
  bool fuse_pointwise = true;
  bool keep_text = false;  // keep LLVM IR (before/after optimisation) and assembly for --emit
  int64_t max_run_bytes = int64_t{16} << 30;  // all buffers of one Run, checked before allocating
  // The group a tensor-parallel graph's all_reduce sums over: required when the graph is one
  // rank's (Graph::tensor_parallel; its rank and size must match), e.g. braid::MpiCollective
  // (//mpi) or a CallbackCollective; null otherwise (all_reduce then copies: one rank). Every
  // rank must Run its graph the same number of times, in the same order.
  std::shared_ptr<Collective> collective;
};

// OK if codegen takes every value and op of `graph`: f32 and bf16 values (bf16 computed in
// f32 and rounded when stored; `convert` between them), GEMM weights in f32 or bf16; else a
// located error saying what it does not take (the interpreter runs the rest).
absl::Status CheckCompilable(const Graph& graph);

// One view per parameter, split into what Compile takes (constants, by name) and what Run
// takes (the other parameters, in order).
struct SplitViews {
  std::map<std::string, TensorView> constants;
  std::vector<TensorView> runtime;
};
SplitViews SplitByConstness(const Graph& graph, const std::vector<TensorView>& all);

class CompiledGraph {
 public:
  // Compiles a verified `graph`. `constants` views a tensor for every `const` parameter (by
  // name), of the parameter's dtype and shape; they are read only during this call. For one
  // rank of a tensor-parallel graph, a sliced constant may also be given whole: Compile copies
  // out the rank's slice (ir/tensor_slice.h) and packs only that.
  static absl::StatusOr<std::unique_ptr<CompiledGraph>> Compile(
      const Graph& graph, const CompileOptions& options,
      const std::map<std::string, TensorView>& constants);
  // The same with owned tensors (a convenience; they are read the same way).
  static absl::StatusOr<std::unique_ptr<CompiledGraph>> Compile(
      const Graph& graph, const CompileOptions& options,
      const std::map<std::string, Tensor>& constants);

  // Runs with one view per non-const parameter, in parameter order (each of the parameter's
  // dtype and shape), writing one view per graph output (of the output's dtype and shape, not
  // overlapping the inputs). `dims` binds the symbolic dims (those of constants are already
  // bound). Nothing is copied in or out.
  absl::Status RunInto(const std::vector<TensorView>& inputs, const DimBindings& dims,
                       const std::vector<TensorView>& outputs) const;
  // Same, into newly allocated outputs.
  absl::StatusOr<std::vector<Tensor>> Run(const std::vector<TensorView>& inputs,
                                          const DimBindings& dims) const;
  absl::StatusOr<std::vector<Tensor>> Run(const std::vector<Tensor>& inputs,
                                          const DimBindings& dims) const {
    return Run(ViewsOf(inputs), dims);
  }

  const Graph& graph() const { return *module_.graphs.front(); }
  // Symbolic dims the constants' shapes bound at Compile (Run adds them to its own).
  const DimBindings& constant_dims() const { return constant_dims_; }
  const Schedule& schedule() const { return schedule_; }
  const TargetInfo& target() const { return jit_->target(); }
  int threads() const { return threads_; }  // that one Run uses
  const std::shared_ptr<Runtime>& runtime() const { return runtime_; }
  double compile_ms() const { return compile_ms_; }     // parse copy -> JIT-ready, no prepack
  double prepack_ms() const { return prepack_ms_; }
  int64_t prepacked_bytes() const { return prepacked_bytes_; }
  // Bytes of the object files the JIT linked (machine code, data, relocations).
  int64_t object_bytes() const;
  const std::vector<std::string>& tile_choices() const { return choices_; }
  const std::string& llvm_before() const { return llvm_before_; }
  const std::string& llvm_after() const { return llvm_after_; }
  const std::string& assembly() const { return assembly_; }

 private:
  CompiledGraph() = default;
  absl::Status Execute(const std::vector<TensorView>& inputs, const DimBindings& dims,
                       const std::vector<TensorView>& outputs) const;
  // The concrete shape of each output at `dims`, checked against the run memory cap.
  absl::StatusOr<std::vector<std::vector<int64_t>>> OutputShapes(const DimBindings& dims) const;
  absl::StatusOr<DimBindings> MergeDims(const DimBindings& dims) const;

  Module module_;  // a private copy of the graph
  Schedule schedule_;
  BufferPlan plan_;
  CompileOptions options_;
  std::shared_ptr<Runtime> runtime_;  // declared before jit_: outlives the code jit_ removes
  std::unique_ptr<Jit> jit_;
  int threads_ = 1;
  PoolShare pool_share_{};  // what the entry function receives: runtime_'s pool, threads_
  void (*entry_)(void** buffers, const int64_t* dims, void* pool) = nullptr;
  std::vector<PanelFormat> panel_format_;           // per plan_.gemms
  std::map<int, AlignedBuffer> packed_;             // packed_slot -> prepacked constant weight
  std::map<const Value*, Tensor> constants_;        // const parameters read unpacked (copies)
  DimBindings constant_dims_;                       // symbols bound by constants' shapes
  std::vector<std::string> choices_;
  double compile_ms_ = 0, prepack_ms_ = 0;
  int64_t prepacked_bytes_ = 0;
  std::string llvm_before_, llvm_after_, assembly_;
};

}  // namespace braid

#endif  // BRAID_CODEGEN_COMPILED_GRAPH_H_
