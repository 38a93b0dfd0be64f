// An in-process ORC LLJIT for one target: optimises generated modules with braid's short LLVM
// pass pipeline, compiles them for the host CPU (in parallel parts), and looks up their entry
// points. Every failure a user can cause is an absl::Status (no cantFail).
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

class Jit {
 public:
  // `opt_level` 0..3 for the backend; 0 also skips the IR pipeline.
  static absl::StatusOr<std::unique_ptr<Jit>> Create(const TargetInfo& target, int opt_level = 3);

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
  std::unique_ptr<llvm::orc::LLJIT> jit_;
};

// LLVM errors as absl::Status.
absl::Status ToStatus(llvm::Error error, const std::string& what);

}  // namespace braid

#endif  // BRAID_CODEGEN_JIT_H_
