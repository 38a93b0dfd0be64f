// braid::Runtime: what many compiled graphs share — one thread pool that runs them and one ORC
// LLJIT that holds their code. 32 compiled layers then mean one pool, not 32 pools spinning
// against each other, and one JIT session instead of 32.
//
//   // The default: one per process, created on first use (hardware concurrency, 200 us spin).
//   auto a = braid::CompiledGraph::Compile(graph_a, {}, weights_a);
//   // An explicit runtime, e.g. a 4-thread pool that never busy-waits, for some graphs:
//   braid::Runtime::Options pool;
//   pool.threads = 4;
//   pool.spin_us = 0;
//   auto runtime = braid::Runtime::Create(pool);
//   braid::CompileOptions options;
//   options.runtime = *runtime;
//   auto b = braid::CompiledGraph::Compile(graph_b, options, weights_b);
//
// Graphs may differ in target ISA and opt level: the shared LLJIT only links objects (braid
// compiles them itself, per graph, for that graph's target), and every compiled graph gets a
// JITDylib of its own inside it (codegen/jit.h), so the same symbol names never clash and
// destroying a CompiledGraph frees its code. A CompiledGraph holds its Runtime (shared_ptr), so
// the pool and the JIT live as long as any graph using them.
//
// Per graph, CompileOptions::threads caps how many of the pool's threads one Run uses (0: all);
// the pool's size and its spin budget are the runtime's (Options below).
#ifndef BRAID_CODEGEN_SHARED_RUNTIME_H_
#define BRAID_CODEGEN_SHARED_RUNTIME_H_

#include <memory>

#include "absl/status/statusor.h"
#include "codegen/runtime.h"
#include "llvm/ExecutionEngine/Orc/LLJIT.h"

namespace braid {

class Runtime {
 public:
  struct Options {
    int threads = 0;  // pool threads, the calling thread included; 0: the hardware's concurrency
    // How long idle pool threads (and a Run waiting for them) poll before they sleep, in
    // microseconds: faster hand-offs for small runs, paid in CPU time while idle; 0: never spin.
    int spin_us = static_cast<int>(ThreadPool::kDefaultSpin.count());
  };

  static absl::StatusOr<std::shared_ptr<Runtime>> Create(const Options& options);
  // The process's runtime, created with default Options on first use. It is never destroyed
  // (its threads idle until the process exits), so graphs in static storage may use it.
  static absl::StatusOr<std::shared_ptr<Runtime>> Default();

  Runtime(const Runtime&) = delete;
  Runtime& operator=(const Runtime&) = delete;
  ~Runtime();

  ThreadPool& pool() { return *pool_; }
  int threads() const { return pool_->threads(); }
  llvm::orc::LLJIT& lljit() { return *lljit_; }

 private:
  Runtime() = default;
  // The pool is destroyed first, the JIT last (every graph, and so every JITDylib, is gone by
  // then: each holds the Runtime).
  std::unique_ptr<llvm::orc::LLJIT> lljit_;
  std::unique_ptr<ThreadPool> pool_;
};

}  // namespace braid

#endif  // BRAID_CODEGEN_SHARED_RUNTIME_H_
