// Module generation and the entry function.
#include "codegen/graph_codegen.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "codegen/attention_kernel.h"
#include "codegen/batch_matmul_kernel.h"
#include "codegen/copy_kernel.h"
#include "codegen/pointwise_kernel.h"
#include "codegen/reduction_kernel.h"
#include "ir/gemm.h"
#include "llvm/IR/Verifier.h"

namespace braid {

GeneratedModule GenerateModule(const Schedule& schedule, const BufferPlan& plan,
                               const TargetInfo& target) {
  GeneratedModule out;
  out.context = std::make_unique<llvm::LLVMContext>();
  out.module = std::make_unique<llvm::Module>(absl::StrCat("braid.", schedule.graph->name()), *out.context);
  out.panel_format.assign(plan.gemms.size(), PanelFormat{});
  ModuleContext mc{*out.module, target, plan, schedule};
  llvm::LLVMContext& ctx = *out.context;
  llvm::Type* ptr = llvm::PointerType::getUnqual(ctx);
  llvm::Type* i64 = llvm::Type::getInt64Ty(ctx);
  auto* entry_type = llvm::FunctionType::get(llvm::Type::getVoidTy(ctx), {ptr, ptr, ptr}, false);
  llvm::Function* entry =
      llvm::Function::Create(entry_type, llvm::Function::ExternalLinkage, kEntryName, *out.module);
  auto* parallel_for_type = llvm::FunctionType::get(llvm::Type::getVoidTy(ctx), {ptr, ptr, ptr, i64}, false);
  llvm::FunctionCallee parallel_for = out.module->getOrInsertFunction("braid_parallel_for", parallel_for_type);
  auto* pack_type = llvm::FunctionType::get(llvm::Type::getVoidTy(ctx),
                                            {llvm::Type::getInt32Ty(ctx), ptr, ptr, i64, i64, i64}, false);
  llvm::FunctionCallee pack = out.module->getOrInsertFunction("braid_pack_weights", pack_type);
  llvm::FunctionCallee pack_bf16 = out.module->getOrInsertFunction("braid_pack_weights_bf16", pack_type);
  llvm::FunctionCallee pack_bf16_pairs = out.module->getOrInsertFunction("braid_pack_weights_bf16_pairs", pack_type);
  auto* all_reduce_type = llvm::FunctionType::get(llvm::Type::getInt32Ty(ctx),
                                                  {ptr, ptr, ptr, i64, llvm::Type::getInt32Ty(ctx)}, false);
  llvm::FunctionCallee all_reduce = out.module->getOrInsertFunction("braid_all_reduce", all_reduce_type);

  llvm::BasicBlock::Create(ctx, "entry", entry);
  FunctionEmitter f(mc, entry, entry->getArg(0), entry->getArg(1));
  llvm::IRBuilder<>& b = f.b();
  // A task's context: the buffers, the dims, and a GEMM kernel's shared packed activations
  // (shared_pack.h: set, or nulled, before each GEMM kernel; only its tasks read it).
  llvm::Value* task_ctx = b.CreateAlloca(llvm::ArrayType::get(ptr, 3), nullptr, "ctx");
  b.CreateStore(entry->getArg(0), task_ctx);
  b.CreateStore(entry->getArg(1), b.CreateConstInBoundsGEP1_64(ptr, task_ctx, 1));
  b.CreateStore(llvm::ConstantPointerNull::get(b.getPtrTy()), b.CreateConstInBoundsGEP1_64(ptr, task_ctx, 2));

  for (size_t k = 0; k < schedule.kernels.size(); ++k) {
    const Kernel& kernel = schedule.kernels[k];
    const std::string name = absl::StrCat("kernel", k, "_", KernelKindName(kernel.kind));
    llvm::Function* task_fn;
    llvm::Value* tasks;
    // No code for a view (the buffer plan aliased its result) nor for a one-node kernel whose
    // result nothing reads (dead code when the graph was not optimised: it has no buffer).
    if (kernel.kind == KernelKind::kView || (RunsAlone(kernel.kind) && kernel.kind != KernelKind::kAllReduce &&
                                             kernel.outputs.empty())) {
      out.choices.push_back("");
      continue;
    }
    if (kernel.kind == KernelKind::kAllReduce) {
      // A call into the graph's Collective on the entry's thread; if it fails (a rank gone),
      // the run stops here and Execute reports the error.
      const Node& node = *kernel.nodes.front();
      const TensorType& type = node.result()->type().tensor();
      llvm::Value* failed = b.CreateCall(
          all_reduce, {entry->getArg(2), f.Buffer(plan.value_slot.at(node.operand(0))),
                       f.Buffer(plan.value_slot.at(node.result())), f.Product(type.shape, 0, type.shape.size()),
                       b.getInt32(static_cast<int32_t>(type.dtype))});
      llvm::BasicBlock* stop = llvm::BasicBlock::Create(ctx, "collective_failed", entry);
      llvm::BasicBlock* next = llvm::BasicBlock::Create(ctx, "collective_done", entry);
      b.CreateCondBr(b.CreateICmpNE(failed, b.getInt32(0)), stop, next);
      b.SetInsertPoint(stop);
      b.CreateRetVoid();
      b.SetInsertPoint(next);
      out.choices.push_back("");
      continue;
    }
    // The loop kernels: one task function each, no tile choice to report.
    auto render = [&](auto emitter) {
      task_fn = emitter.Render(name);
      tasks = emitter.NumTasks(f);
      out.choices.push_back("");
    };
    if (kernel.kind == KernelKind::kPointwise) {
      render(PointwiseKernel(mc, kernel));
    } else if (kernel.kind == KernelKind::kCopy) {
      render(CopyKernel(mc, kernel));
    } else if (kernel.kind == KernelKind::kReduction) {
      render(ReductionKernel(mc, kernel));
    } else if (kernel.kind == KernelKind::kBatchMatmul) {
      render(BatchMatmulKernel(mc, kernel));
    } else if (kernel.kind == KernelKind::kAttention) {
      render(AttentionKernel(mc, kernel));
    } else {
      std::unique_ptr<GemmTemplate> tmpl =
          kernel.kind == KernelKind::kGroupedGemm ? std::make_unique<GroupedGemmTemplate>(mc, kernel)
                                                  : std::make_unique<GemmTemplate>(mc, kernel);
      const TileConfig config = tmpl->Choose();
      task_fn = tmpl->Render(config, name);
      tmpl->EmitSharedPack(f, config, name, task_ctx, parallel_for, entry->getArg(2));
      tasks = tmpl->NumTasks(f, config);
      out.choices.push_back(config.ToString(target.vector_width));
      std::vector<std::string> paths;  // each GEMM's, said when any is not f32's
      bool narrow = false;
      for (size_t g = 0; g < plan.gemms.size(); ++g) {
        const GemmSpec& spec = plan.gemms[g];
        if (spec.template_node != kernel.template_node()) continue;
        const GemmPath path =
            GemmPathFor(spec.act->type().tensor().dtype, spec.weight->type().tensor().dtype, target.bf16_dot());
        paths.push_back(GemmPathName(path));
        narrow |= path != GemmPath::kF32;
        out.panel_format[g] = tmpl->Panel(config, path);
        if (spec.weight->is_const()) continue;  // prepacked at compile time
        // A weight known only at run time (an input, or computed by an earlier kernel) is packed
        // here, after its producer ran.
        const Shape& w = spec.weight->type().tensor().shape;
        const bool linear = spec.kind == OpKind::kLinear;
        const PanelFormat& format = out.panel_format[g];
        llvm::FunctionCallee packer = format.dtype == DType::kF32 ? pack
                                      : format.k_interleave == 2   ? pack_bf16_pairs
                                                                   : pack_bf16;
        b.CreateCall(packer, {b.getInt32(linear ? 1 : 0), f.Buffer(plan.value_slot.at(spec.weight)),
                            f.Buffer(spec.packed_slot), f.DimValue(GemmWeightK(spec.kind, w)),
                            f.DimValue(GemmWeightN(spec.kind, w)), f.I64(out.panel_format[g].width)});
      }
      if (narrow) absl::StrAppend(&out.choices.back(), "; GEMMs: ", absl::StrJoin(paths, ", "));
    }
    b.CreateCall(parallel_for, {entry->getArg(2), task_fn, task_ctx, tasks});
  }
  b.CreateRetVoid();
  return out;
}

}  // namespace braid
