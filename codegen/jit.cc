// The ORC LLJIT wrapper.
#include "codegen/jit.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <atomic>
#include <mutex>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "codegen/packing.h"
#include "codegen/perf_map.h"
#include "codegen/runtime.h"
#include "ir/status_macros.h"
#include "llvm/Analysis/CGSCCPassManager.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Analysis/LoopInfo.h"
#include "llvm/IR/Dominators.h"
#include "llvm/Analysis/LoopAnalysisManager.h"
#include "llvm/Bitcode/BitcodeReader.h"
#include "llvm/Bitcode/BitcodeWriter.h"
#include "llvm/ExecutionEngine/Orc/JITTargetMachineBuilder.h"
#include "llvm/IR/LegacyPassManager.h"
#include "llvm/IR/PassManager.h"
#include "llvm/Passes/PassBuilder.h"
#include "llvm/Support/SmallVectorMemoryBuffer.h"
#include "llvm/Transforms/InstCombine/InstCombine.h"
#include "llvm/Transforms/Scalar.h"
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

// The backend's pass manager, minus loop strength reduction. LSR was the single most expensive
// codegen pass on our kernels (a sixth of all compile instructions under callgrind), and the
// loops we generate already walk plain base+index addresses, so it buys nothing at run time.
// LLVM 19 offers no per-TargetMachine switch for it (only the process-global `-disable-lsr`
// option, which an embedding application does not expect us to change), but TargetPassConfig
// adds every IR pass through PassManagerBase::add, so this manager simply declines LSR.
class CodegenPassManager : public llvm::legacy::PassManager {
 public:
  void add(llvm::Pass* pass) override {
    if (pass->getPassID() == LsrId()) {
      delete pass;
      return;
    }
    llvm::legacy::PassManager::add(pass);
  }

 private:
  static const void* LsrId() {
    static const void* const id = [] {
      std::unique_ptr<llvm::Pass> lsr(llvm::createLoopStrengthReducePass());
      return lsr->getPassID();
    }();
    return id;
  }
};

// Machine code for `module` as an object file in memory (what orc::SimpleCompiler does, with
// the pass manager above).
absl::StatusOr<std::unique_ptr<llvm::MemoryBuffer>> CompileToObject(llvm::Module& module,
                                                                    llvm::TargetMachine& machine) {
  llvm::SmallVector<char, 0> object;
  llvm::raw_svector_ostream os(object);
  CodegenPassManager passes;
  llvm::MCContext* context = nullptr;
  if (machine.addPassesToEmitMC(passes, context, os)) {
    return absl::InternalError("this target cannot emit object files");
  }
  passes.run(module);
  return std::make_unique<llvm::SmallVectorMemoryBuffer>(std::move(object), module.getModuleIdentifier() + "-jitted-objectbuffer",
                                                         /*RequiresNullTerminator=*/false);
}

// An estimate of what compiling `f` costs, in instructions: those in loops of scalar code count
// four times, because the loop vectoriser turns each such loop into a vector body, a remainder
// and runtime checks, all of which the backend then compiles. Fitted to the LLaMA-7B MLP's
// functions compiled one at a time (opt + codegen, 2026-11-25): the task functions (scalar
// loops) took 0.05 ms per IR instruction, the block functions (loops of vector code) 0.013.
constexpr char kCostAttribute[] = "braid-compile-cost";

uint64_t EstimatedCompileCost(llvm::Function& f) {
  llvm::DominatorTree dominators(f);
  llvm::LoopInfo loops(dominators);
  llvm::DenseMap<const llvm::Loop*, bool> has_vectors;
  for (llvm::Loop* loop : loops.getLoopsInPreorder()) {
    bool vectors = false;
    for (llvm::BasicBlock* bb : loop->blocks()) {
      for (llvm::Instruction& in : *bb) vectors |= in.getType()->isVectorTy();
    }
    has_vectors[loop] = vectors;
  }
  uint64_t cost = 0;
  for (llvm::BasicBlock& bb : f) {
    const llvm::Loop* loop = loops.getLoopFor(&bb);
    cost += bb.size() * (loop != nullptr && !has_vectors[loop] ? 4 : 1);
  }
  return cost;
}

// Splits `module` into up to `parts` modules that together define what it defines, dealing
// the functions out by estimated cost so that the parts take about equally long to compile:
// the costliest function first, each to the part with the least so far. Local symbols become
// external (hidden) so that parts can call each other; global variables live in part 0.
// LLVM's SplitModule deals functions out by name hash or round robin, blind to their size: with
// the GEMM kernels of the LLaMA-7B MLP, the two task functions landed in one part, which took
// 43 ms while the other took 26.
std::vector<std::unique_ptr<llvm::Module>> SplitByCost(llvm::Module& module, int parts) {
  std::vector<llvm::Function*> functions;
  for (llvm::Function& f : module) {
    if (!f.isDeclaration()) functions.push_back(&f);
  }
  parts = std::max(1, std::min<int>(parts, functions.size()));
  for (llvm::GlobalValue& gv : module.global_values()) {
    if (!gv.hasLocalLinkage()) continue;
    if (!gv.hasName()) gv.setName("braid.local");
    gv.setLinkage(llvm::GlobalValue::ExternalLinkage);
    gv.setVisibility(llvm::GlobalValue::HiddenVisibility);
  }
  llvm::DenseMap<const llvm::Function*, uint64_t> cost;
  for (llvm::Function* f : functions) {
    // The estimate PrepareModule recorded, before any optimisation, so that a module optimised
    // whole (keep_text) splits exactly like one optimised part by part.
    uint64_t recorded = 0;
    if (!llvm::to_integer(f->getFnAttribute(kCostAttribute).getValueAsString(), recorded)) {
      recorded = EstimatedCompileCost(*f);
    }
    cost[f] = recorded;
  }
  std::stable_sort(functions.begin(), functions.end(),
                   [&](const llvm::Function* a, const llvm::Function* b) { return cost[a] > cost[b]; });
  std::vector<uint64_t> load(parts, 0);
  llvm::DenseMap<const llvm::GlobalValue*, int> part_of;
  for (llvm::Function* f : functions) {
    const int least = static_cast<int>(std::min_element(load.begin(), load.end()) - load.begin());
    part_of[f] = least;
    load[least] += cost[f];
  }
  std::vector<std::unique_ptr<llvm::Module>> result;
  for (int p = 0; p < parts; ++p) {
    llvm::ValueToValueMapTy map;
    result.push_back(llvm::CloneModule(module, map, [&](const llvm::GlobalValue* gv) {
      auto it = part_of.find(gv);
      return it == part_of.end() ? p == 0 : it->second == p;
    }));
  }
  return result;
}

}  // namespace

absl::StatusOr<std::unique_ptr<llvm::orc::LLJIT>> CreateSharedLljit() {
  static std::once_flag init;
  std::call_once(init, [] {
    llvm::InitializeNativeTarget();
    llvm::InitializeNativeTargetAsmPrinter();
    llvm::InitializeNativeTargetAsmParser();
  });
  // The LLJIT compiles nothing itself (every Jit hands it finished objects), so its target
  // machine only fixes the triple and data layout, which all of braid's targets share.
  auto host = llvm::orc::JITTargetMachineBuilder::detectHost();
  if (!host) return ToStatus(host.takeError(), "detecting the host for the JIT");
  auto lljit = llvm::orc::LLJITBuilder().setJITTargetMachineBuilder(std::move(*host)).create();
  if (!lljit) return ToStatus(lljit.takeError(), "creating the JIT");
  if (PerfMapRequested()) AddPerfMapWriter(**lljit);
  return std::move(*lljit);
}

absl::StatusOr<std::unique_ptr<Jit>> Jit::Create(llvm::orc::LLJIT& lljit, const TargetInfo& target, int opt_level) {
  std::unique_ptr<Jit> jit(new Jit());
  jit->target_ = target;
  jit->opt_level_ = opt_level;
  auto machine = MachineBuilder(target, opt_level).createTargetMachine();
  if (!machine) return ToStatus(machine.takeError(), "creating the target machine");
  jit->machine_ = std::move(*machine);
  // JITDylib names must be unique within the session; the graphs' symbols (the entry function
  // has the same name in every graph) are then kept apart by their JITDylibs.
  static std::atomic<uint64_t> next_id{0};
  auto dylib = lljit.createJITDylib(absl::StrCat("braid.graph.", next_id.fetch_add(1)));
  if (!dylib) return ToStatus(dylib.takeError(), "creating a JITDylib");
  jit->lljit_ = &lljit;
  jit->dylib_ = &*dylib;
  // The runtime functions generated code calls.
  llvm::orc::SymbolMap runtime;
  auto define = [&](const char* name, auto* function) {
    runtime[lljit.mangleAndIntern(name)] = llvm::orc::ExecutorSymbolDef(
        llvm::orc::ExecutorAddr::fromPtr(function), llvm::JITSymbolFlags::Exported);
  };
  define("braid_parallel_for", &braid_parallel_for);
  // libc and libm functions LLVM may call from generated code: copy loops become memcpy /
  // memset, and `pow` is llvm.pow, a powf call.
  define("memcpy", &memcpy);
  define("memmove", &memmove);
  define("memset", &memset);
  define("powf", static_cast<float (*)(float, float)>(&powf));
  define("braid_all_reduce", &braid_all_reduce);
  define("braid_alloc_tile", &braid_alloc_tile);
  define("braid_free_tile", &braid_free_tile);
  define("braid_thread_scratch", &braid_thread_scratch);
  define("braid_shared_pack_buffer", &braid_shared_pack_buffer);
  define("braid_pack_activation", &braid_pack_activation);
  define("braid_pack_activation_bf16", &braid_pack_activation_bf16);
  define("braid_pack_activation_bf16_pairs", &braid_pack_activation_bf16_pairs);
  define("braid_pack_activation_u8_quads", &braid_pack_activation_u8_quads);
  define("braid_pack_activation_i8", &braid_pack_activation_i8);
  define("braid_pack_weights", &braid_pack_weights);
  define("braid_pack_weights_bf16", &braid_pack_weights_bf16);
  define("braid_pack_weights_bf16_pairs", &braid_pack_weights_bf16_pairs);
  if (auto err = jit->dylib_->define(llvm::orc::absoluteSymbols(std::move(runtime)))) {
    return ToStatus(std::move(err), "defining the runtime symbols");
  }
  return jit;
}

Jit::~Jit() {
  if (dylib_ == nullptr) return;
  // Frees the linked code and data. An error here (a JITDylib still being linked into) cannot
  // be returned from a destructor; the memory then stays with the session.
  llvm::consumeError(lljit_->getExecutionSession().removeJITDylib(*dylib_));
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
    f.addFnAttr(kCostAttribute, absl::StrCat(EstimatedCompileCost(f)));
  }
}

void Jit::Optimize(llvm::Module& module) const { RunPipeline(module, *machine_, opt_level_); }

absl::StatusOr<std::string> Jit::EmitAssembly(const llvm::Module& module) const {
  std::unique_ptr<llvm::Module> copy = llvm::CloneModule(module);
  llvm::SmallString<0> text;
  llvm::raw_svector_ostream os(text);
  CodegenPassManager passes;
  if (machine_->addPassesToEmitFile(passes, os, nullptr, llvm::CodeGenFileType::AssemblyFile)) {
    return absl::InternalError("this target cannot emit assembly");
  }
  passes.run(*copy);
  return std::string(text.str());
}

absl::Status Jit::CompileAndAdd(llvm::Module& module, int threads, bool optimize) {
  // The parts as bitcode: a module's LLVMContext is not thread-safe, so every thread parses its
  // part into a context of its own.
  std::vector<llvm::SmallString<0>> bitcode;
  for (std::unique_ptr<llvm::Module>& part : SplitByCost(module, threads)) {
    llvm::raw_svector_ostream os(bitcode.emplace_back());
    llvm::WriteBitcodeToFile(*part, os);
  }
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
    auto object = CompileToObject(**part, **machine);
    if (!object.ok()) {
      results[i] = object.status();
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
    BRAID_RETURN_IF_ERROR(ToStatus(lljit_->addObjectFile(*dylib_, std::move(objects[i])),
                                   "adding compiled code to the JIT"));
  }
  return absl::OkStatus();
}

absl::StatusOr<void*> Jit::Lookup(const std::string& name) {
  auto address = lljit_->lookup(*dylib_, name);
  if (!address) return ToStatus(address.takeError(), absl::StrCat("looking up ", name));
  return address->toPtr<void*>();
}

}  // namespace braid
