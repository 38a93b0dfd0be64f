// The ORC LLJIT wrapper.
#include "codegen/jit.h"

#include <mutex>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "codegen/packing.h"
#include "codegen/runtime.h"
#include "ir/status_macros.h"
#include "llvm/Analysis/CGSCCPassManager.h"
#include "llvm/Analysis/LoopAnalysisManager.h"
#include "llvm/Bitcode/BitcodeReader.h"
#include "llvm/Bitcode/BitcodeWriter.h"
#include "llvm/ExecutionEngine/Orc/CompileUtils.h"
#include "llvm/ExecutionEngine/Orc/JITTargetMachineBuilder.h"
#include "llvm/IR/LegacyPassManager.h"
#include "llvm/IR/PassManager.h"
#include "llvm/Passes/PassBuilder.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Transforms/InstCombine/InstCombine.h"
#include "llvm/Transforms/Scalar/EarlyCSE.h"
#include "llvm/Transforms/Scalar/LICM.h"
#include "llvm/Transforms/Scalar/LoopPassManager.h"
#include "llvm/Transforms/Scalar/LoopRotation.h"
#include "llvm/Transforms/Scalar/SimplifyCFG.h"
#include "llvm/Transforms/Vectorize/LoopVectorize.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/Support/raw_ostream.h"
#include "llvm/TargetParser/Host.h"
#include "llvm/Transforms/Utils/Cloning.h"
#include "llvm/Transforms/Utils/SplitModule.h"

namespace braid {

absl::Status ToStatus(llvm::Error error, const std::string& what) {
  if (!error) return absl::OkStatus();
  return absl::InternalError(absl::StrCat(what, ": ", llvm::toString(std::move(error))));
}

namespace {

llvm::CodeGenOptLevel CodeGenLevel(int level) {
  switch (level) {
    case 0: return llvm::CodeGenOptLevel::None;
    case 1: return llvm::CodeGenOptLevel::Less;
    case 2: return llvm::CodeGenOptLevel::Default;
    default: return llvm::CodeGenOptLevel::Aggressive;
  }
}

llvm::orc::JITTargetMachineBuilder MachineBuilder(const TargetInfo& target, int opt_level) {
  llvm::orc::JITTargetMachineBuilder builder{llvm::Triple(llvm::sys::getProcessTriple())};
  builder.setCPU(target.cpu);
  builder.addFeatures(target.features);
  builder.setCodeGenOptLevel(CodeGenLevel(opt_level));
  return builder;
}

// braid's LLVM IR pipeline for `module`, compiled for `machine` (see Jit::Optimize).
void RunPipeline(llvm::Module& module, llvm::TargetMachine& machine, int opt_level) {
  llvm::LoopAnalysisManager lam;
  llvm::FunctionAnalysisManager fam;
  llvm::CGSCCAnalysisManager cgam;
  llvm::ModuleAnalysisManager mam;
  // No loop unrolling: the micro-kernel already does 24 FMAs per iteration, and measured on the
  // LLaMA gate/up GEMMs unrolling changed run time by nothing while costing a third of the
  // compile time.
  llvm::PipelineTuningOptions tuning;
  tuning.LoopUnrolling = false;
  llvm::PassBuilder builder(&machine, tuning);
  builder.registerModuleAnalyses(mam);
  builder.registerCGSCCAnalyses(cgam);
  builder.registerFunctionAnalyses(fam);
  builder.registerLoopAnalyses(lam);
  builder.crossRegisterProxies(lam, fam, cgam, mam);
  if (opt_level <= 0) {
    builder.buildO0DefaultPipeline(llvm::OptimizationLevel::O0).run(module, mam);
    return;
  }
  // Our own short pipeline instead of -O3's: generated code is already in SSA form with no
  // calls to inline, and needs only clean-up, loop-invariant code motion and the loop
  // vectoriser (for the pointwise loops). Measured on the LLaMA-7B MLP: the same run time as
  // -O3, at a fraction of its compile time.
  llvm::FunctionPassManager fpm;
  fpm.addPass(llvm::EarlyCSEPass(/*UseMemorySSA=*/false));
  fpm.addPass(llvm::InstCombinePass());
  fpm.addPass(llvm::SimplifyCFGPass());
  llvm::LoopPassManager loops;
  loops.addPass(llvm::LoopRotatePass());
  loops.addPass(llvm::LICMPass(llvm::LICMOptions()));
  fpm.addPass(llvm::createFunctionToLoopPassAdaptor(std::move(loops), /*UseMemorySSA=*/true));
  fpm.addPass(llvm::LoopVectorizePass());
  fpm.addPass(llvm::EarlyCSEPass(/*UseMemorySSA=*/false));
  fpm.addPass(llvm::InstCombinePass());
  fpm.addPass(llvm::SimplifyCFGPass(llvm::SimplifyCFGOptions().hoistCommonInsts(true)));
  llvm::ModulePassManager passes;
  passes.addPass(llvm::createModuleToFunctionPassAdaptor(std::move(fpm)));
  passes.run(module, mam);
}

}  // namespace

absl::StatusOr<std::unique_ptr<Jit>> Jit::Create(const TargetInfo& target, int opt_level) {
  static std::once_flag init;
  std::call_once(init, [] {
    llvm::InitializeNativeTarget();
    llvm::InitializeNativeTargetAsmPrinter();
    llvm::InitializeNativeTargetAsmParser();
    // Loop strength reduction was the single most expensive codegen pass on our kernels (a
    // sixth of all compile instructions under callgrind); the loops we generate already walk
    // plain base+index addresses, so it buys nothing at run time. LLVM exposes it only as a
    // command-line option.
    auto& options = llvm::cl::getRegisteredOptions();
    if (auto it = options.find("disable-lsr"); it != options.end()) {
      static_cast<llvm::cl::opt<bool>*>(it->second)->setValue(true);
    }
  });
  std::unique_ptr<Jit> jit(new Jit());
  jit->target_ = target;
  jit->opt_level_ = opt_level;
  auto machine = MachineBuilder(target, opt_level).createTargetMachine();
  if (!machine) return ToStatus(machine.takeError(), "creating the target machine");
  jit->machine_ = std::move(*machine);
  auto lljit = llvm::orc::LLJITBuilder()
                   .setJITTargetMachineBuilder(MachineBuilder(target, opt_level))
                   .create();
  if (!lljit) return ToStatus(lljit.takeError(), "creating the JIT");
  jit->jit_ = std::move(*lljit);
  // The runtime functions generated code calls.
  llvm::orc::SymbolMap runtime;
  runtime[jit->jit_->mangleAndIntern("braid_parallel_for")] = llvm::orc::ExecutorSymbolDef(
      llvm::orc::ExecutorAddr::fromPtr(&braid_parallel_for), llvm::JITSymbolFlags::Exported);
  runtime[jit->jit_->mangleAndIntern("braid_alloc_tile")] = llvm::orc::ExecutorSymbolDef(
      llvm::orc::ExecutorAddr::fromPtr(&braid_alloc_tile), llvm::JITSymbolFlags::Exported);
  runtime[jit->jit_->mangleAndIntern("braid_free_tile")] = llvm::orc::ExecutorSymbolDef(
      llvm::orc::ExecutorAddr::fromPtr(&braid_free_tile), llvm::JITSymbolFlags::Exported);
  runtime[jit->jit_->mangleAndIntern("braid_pack_activation")] = llvm::orc::ExecutorSymbolDef(
      llvm::orc::ExecutorAddr::fromPtr(&braid_pack_activation), llvm::JITSymbolFlags::Exported);
  runtime[jit->jit_->mangleAndIntern("braid_pack_weights")] = llvm::orc::ExecutorSymbolDef(
      llvm::orc::ExecutorAddr::fromPtr(&braid_pack_weights), llvm::JITSymbolFlags::Exported);
  if (auto err = jit->jit_->getMainJITDylib().define(llvm::orc::absoluteSymbols(std::move(runtime)))) {
    return ToStatus(std::move(err), "defining the runtime symbols");
  }
  return jit;
}

void Jit::PrepareModule(llvm::Module& module) const {
  module.setTargetTriple(machine_->getTargetTriple().str());
  module.setDataLayout(machine_->createDataLayout());
  const std::string features = absl::StrJoin(target_.features, ",");
  for (llvm::Function& f : module) {
    if (f.isDeclaration()) continue;
    f.addFnAttr("target-cpu", target_.cpu);
    if (!features.empty()) f.addFnAttr("target-features", features);
    f.addFnAttr("prefer-vector-width", absl::StrCat(target_.vector_width * 32));
    f.addFnAttr("min-legal-vector-width", absl::StrCat(target_.vector_width * 32));
  }
}

void Jit::Optimize(llvm::Module& module) const { RunPipeline(module, *machine_, opt_level_); }

absl::StatusOr<std::string> Jit::EmitAssembly(const llvm::Module& module) const {
  std::unique_ptr<llvm::Module> copy = llvm::CloneModule(module);
  llvm::SmallString<0> text;
  llvm::raw_svector_ostream os(text);
  llvm::legacy::PassManager passes;
  if (machine_->addPassesToEmitFile(passes, os, nullptr, llvm::CodeGenFileType::AssemblyFile)) {
    return absl::InternalError("this target cannot emit assembly");
  }
  passes.run(*copy);
  return std::string(text.str());
}

absl::Status Jit::CompileAndAdd(llvm::Module& module, int threads, bool optimize) {
  int functions = 0;
  for (const llvm::Function& f : module) functions += f.isDeclaration() ? 0 : 1;
  const int parts = std::max(1, std::min(threads, functions));
  // Partitions of the module, each as bitcode: a module's LLVMContext is not thread-safe, so
  // every thread parses its part into a context of its own. Round robin, not LLVM's default hash
  // of the names (which can put every kernel in one part), deals the functions out evenly.
  std::vector<llvm::SmallString<0>> bitcode;
  llvm::SplitModule(
      module, parts,
      [&](std::unique_ptr<llvm::Module> part) {
        llvm::raw_svector_ostream os(bitcode.emplace_back());
        llvm::WriteBitcodeToFile(*part, os);
      },
      /*PreserveLocals=*/false, /*RoundRobin=*/true);
  std::vector<std::unique_ptr<llvm::MemoryBuffer>> objects(bitcode.size());
  std::vector<absl::Status> results(bitcode.size());
  auto compile = [&](size_t i) {
    llvm::LLVMContext context;
    auto part = llvm::parseBitcodeFile(llvm::MemoryBufferRef(bitcode[i].str(), "braid.part"), context);
    if (!part) {
      results[i] = ToStatus(part.takeError(), "reading back a module partition");
      return;
    }
    // A TargetMachine per part (it caches subtargets, so threads must not share one).
    auto machine = MachineBuilder(target_, opt_level_).createTargetMachine();
    if (!machine) {
      results[i] = ToStatus(machine.takeError(), "creating a target machine");
      return;
    }
    if (optimize) RunPipeline(**part, **machine, opt_level_);
    llvm::orc::SimpleCompiler compiler(**machine);
    auto object = compiler(**part);
    if (!object) {
      results[i] = ToStatus(object.takeError(), "compiling a module partition");
      return;
    }
    objects[i] = std::move(*object);
  };
  std::vector<std::thread> workers;
  for (size_t i = 1; i < bitcode.size(); ++i) workers.emplace_back(compile, i);
  if (!bitcode.empty()) compile(0);
  for (std::thread& t : workers) t.join();
  for (size_t i = 0; i < objects.size(); ++i) {
    if (!results[i].ok()) return results[i];
    object_bytes_ += static_cast<int64_t>(objects[i]->getBufferSize());
    BRAID_RETURN_IF_ERROR(ToStatus(jit_->addObjectFile(std::move(objects[i])), "adding compiled code to the JIT"));
  }
  return absl::OkStatus();
}

absl::StatusOr<void*> Jit::Lookup(const std::string& name) {
  auto address = jit_->lookup(name);
  if (!address) return ToStatus(address.takeError(), absl::StrCat("looking up ", name));
  return address->toPtr<void*>();
}

}  // namespace braid
