// One compiled graph's code in a shared ORC LLJIT: optimises generated modules with braid's
// short LLVM pass pipeline for one target (CPU, features, opt level), compiles them for it (in
// parallel parts), links the objects into a JITDylib of its own and looks up their entry points.
// Many Jits share one LLJIT (a braid::Runtime's, see shared_runtime.h); each has its own
// JITDylib, so equal symbol names never clash, and destroying a Jit removes its JITDylib and
// frees its code. Every failure a user can cause is an absl::Status (no cantFail).
#ifndef BRAID_CODEGEN_JIT_H_
#define BRAID_CODEGEN_JIT_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "codegen/target.h"
#include "llvm/ExecutionEngine/Orc/LLJIT.h"
#include "llvm/IR/LLVMContext.h"
#include "llvm/IR/Module.h"
#include "llvm/Target/TargetMachine.h"

namespace braid {

// An LLJIT for code compiled elsewhere (Jit::CompileAndAdd hands it objects): host triple and
// data layout, the perf map writer when BRAID_PERF_MAP asks for one. Initialises LLVM's native
// target once; changes no other process-wide LLVM state.
absl::StatusOr<std::unique_ptr<llvm::orc::LLJIT>> CreateSharedLljit();

class Jit {
 public:
  // A new JITDylib in `lljit` (which must outlive the Jit) for code built for `target`.
  // `opt_level` 0..3 for the backend; 0 also skips the IR pipeline.
  static absl::StatusOr<std::unique_ptr<Jit>> Create(llvm::orc::LLJIT& lljit, const TargetInfo& target,
                                                     int opt_level = 3);
  ~Jit();  // removes the JITDylib: its code and data are freed
  Jit(const Jit&) = delete;
  Jit& operator=(const Jit&) = delete;

  // Sets the module's triple and data layout and tags every function with the target CPU and
  // features, so optimisation and codegen agree on vector widths, and with its estimated
  // compile cost (CompileAndAdd deals the functions out to its threads by it).
  void PrepareModule(llvm::Module& module) const;
  // Runs braid's short LLVM pass pipeline (clean-up, LICM, loop vectoriser; see jit.cc) on
  // `module`, or nothing at opt_level 0.
  void Optimize(llvm::Module& module) const;
  // Assembly for `module` (compiled from a copy; `module` is unchanged).
  absl::StatusOr<std::string> EmitAssembly(const llvm::Module& module) const;
  // Compiles `module` to machine code now, split into up to `threads` parts compiled in
  // parallel (functions dealt out by size; one thread, LLVMContext and TargetMachine per part), and
  // hands the objects to the JIT; with `optimize`, each part first runs the pipeline of
  // Optimize on its thread (the pipeline has function passes only, so this equals optimising
  // the whole module first). `module` is left split (its local symbols made external) and
  // should not be used again.
  absl::Status CompileAndAdd(llvm::Module& module, int threads, bool optimize);
  absl::StatusOr<void*> Lookup(const std::string& name);
  // Total size of the object files CompileAndAdd has handed to the JIT.
  int64_t object_bytes() const { return object_bytes_; }

  const TargetInfo& target() const { return target_; }

 private:
  Jit() = default;
  TargetInfo target_;
  int opt_level_ = 3;
  int64_t object_bytes_ = 0;
  std::unique_ptr<llvm::TargetMachine> machine_;
  llvm::orc::LLJIT* lljit_ = nullptr;     // shared, not owned
  llvm::orc::JITDylib* dylib_ = nullptr;  // this Jit's, in *lljit_
};

// LLVM errors as absl::Status.
absl::Status ToStatus(llvm::Error error, const std::string& what);

}  // namespace braid

#endif  // BRAID_CODEGEN_JIT_H_
