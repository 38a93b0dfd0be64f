// A GEMM kernel's activations packed once per run (shared_pack.h).
#include "codegen/shared_pack.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "ir/status_macros.h"

namespace braid {

llvm::FunctionCallee PackActivationFunction(ModuleContext& mc, DType act, int k_step) {
  // The runtime's packers (packing.h): plain data movement, cheaper to call than to generate
  // and compile per GEMM. A bf16 or i8 activation is widened to f32 as it is packed, or packed
  // as bf16 k pairs or u8 k quads for the dot paths (k_step 2 or 4).
  llvm::LLVMContext& ctx = mc.module.getContext();
  llvm::Type* ptr = llvm::PointerType::getUnqual(ctx);
  llvm::Type* i64 = llvm::Type::getInt64Ty(ctx);
  auto* type = llvm::FunctionType::get(llvm::Type::getVoidTy(ctx), {ptr, i64, i64, i64, i64, i64, i64, i64, ptr}, false);
  const char* name = k_step == 2              ? "braid_pack_activation_bf16_pairs"
                     : k_step == 4            ? "braid_pack_activation_u8_quads"
                     : act == DType::kBF16 ? "braid_pack_activation_bf16"
                     : act == DType::kI8   ? "braid_pack_activation_i8"
                                           : "braid_pack_activation";
  return mc.module.getOrInsertFunction(name, type);
}

SharedPack::SharedPack(ModuleContext& mc, const std::vector<GemmOutputClass>& classes, const TileConfig& config)
    : mc_(mc), config_(config) {
  for (const GemmOutputClass& c : classes) {
    for (const GemmSpec* spec : c.gemms) {
      const GemmPath path = GemmPathFor(spec->act->type().tensor().dtype, spec->weight->type().tensor().dtype,
                                        mc.target.bf16_dot());
      auto it = std::find_if(acts_.begin(), acts_.end(), [&](const Activation& a) { return a.value == spec->act; });
      if (it == acts_.end()) {
        acts_.push_back({spec->act, GemmKStep(path)});
      } else {
        BRAID_CHECK(it->k_step == GemmKStep(path), "GEMMs sharing an activation share its packing");
      }
    }
  }
}

llvm::Value* SharedPack::Bytes(FunctionEmitter& f, const Activation& a) {
  const TensorType& type = a.value->type().tensor();
  llvm::Value* k_blocks = f.CeilDiv(f.Cols(type), config_.kc);
  llvm::Value* rows = f.b().CreateMul(f.CeilDiv(f.Rows(type), config_.mr), f.I64(config_.mr));
  llvm::Value* bytes = f.b().CreateMul(f.b().CreateMul(k_blocks, rows), f.I64(int64_t{config_.kc} * ElementBytes(a)));
  return f.b().CreateAnd(f.b().CreateAdd(bytes, f.I64(63)), f.I64(-64));
}

llvm::Value* SharedPack::Offset(FunctionEmitter& f, size_t index) {
  llvm::Value* offset = f.I64(0);
  for (size_t a = 0; a < index; ++a) offset = f.b().CreateAdd(offset, Bytes(f, acts_[a]));
  return offset;
}

llvm::Value* SharedPack::LoadBuffer(FunctionEmitter& f) {
  llvm::Function* fn = f.fn();
  llvm::IRBuilder<> entry(&fn->getEntryBlock(), fn->getEntryBlock().begin());
  llvm::Type* ptr = entry.getPtrTy();
  return entry.CreateLoad(ptr, entry.CreateConstInBoundsGEP1_64(ptr, fn->getArg(0), 2), "shared_pack");
}

llvm::Value* SharedPack::Block(FunctionEmitter& f, llvm::Value* buffer, const Value* value, llvm::Value* m0,
                               llvm::Value* k0) {
  auto it = std::find_if(acts_.begin(), acts_.end(), [&](const Activation& a) { return a.value == value; });
  BRAID_CHECK(it != acts_.end(), "a shared packed activation the template reads");
  llvm::IRBuilder<>& b = f.b();
  const TensorType& type = value->type().tensor();
  llvm::Value* rows = b.CreateMul(f.CeilDiv(f.Rows(type), config_.mr), f.I64(config_.mr));
  llvm::Value* k_block = b.CreateSDiv(k0, f.I64(config_.kc));
  llvm::Value* element = b.CreateAdd(b.CreateMul(k_block, rows), m0);
  llvm::Value* bytes = b.CreateAdd(Offset(f, it - acts_.begin()),
                                   b.CreateMul(element, f.I64(int64_t{config_.kc} * ElementBytes(*it))));
  // (No inbounds: with a null buffer this address is computed, selected away and never read.)
  return b.CreateGEP(b.getInt8Ty(), buffer, bytes);
}

// Task t packs rows [t·R, t·R + R) of every activation, all of K, R = kSharedPackRowsPerTask.
llvm::Function* SharedPack::RenderPassTask(const std::string& name) {
  llvm::Value* task;
  FunctionEmitter f = BeginTaskFunction(mc_, name, &task);
  llvm::IRBuilder<>& b = f.b();
  llvm::Value* buffer = LoadBuffer(f);
  llvm::Value* r0 = b.CreateMul(task, f.I64(kSharedPackRowsPerTask), "r0");
  for (const Activation& a : acts_) {
    const TensorType& type = a.value->type().tensor();
    llvm::Value* rows = f.Rows(type);
    llvm::Value* k = f.Cols(type);
    llvm::BasicBlock* mine = llvm::BasicBlock::Create(f.ctx(), "pack.rows", f.fn());
    llvm::BasicBlock* next = llvm::BasicBlock::Create(f.ctx(), "pack.next", f.fn());
    b.CreateCondBr(b.CreateICmpSLT(r0, rows), mine, next);
    b.SetInsertPoint(mine);
    llvm::Value* r_rows = f.Min(f.I64(kSharedPackRowsPerTask), b.CreateSub(rows, r0));
    llvm::Value* data = f.Buffer(mc_.plan.value_slot.at(a.value));
    f.For(f.I64(0), k, config_.kc, "pack.k0", [&](llvm::Value* k0) {
      b.CreateCall(PackActivationFunction(mc_, type.dtype, a.k_step),
                   {data, k, r0, r_rows, k0, f.Min(f.I64(config_.kc), b.CreateSub(k, k0)), f.I64(config_.mr),
                    f.I64(config_.kc), Block(f, buffer, a.value, r0, k0)});
    });
    b.CreateBr(next);
    b.SetInsertPoint(next);
  }
  b.CreateRetVoid();
  return f.fn();
}

void SharedPack::EmitPass(FunctionEmitter& f, const std::string& kernel_name, llvm::Value* task_ctx,
                          llvm::FunctionCallee parallel_for, llvm::Value* pool) {
  BRAID_CHECK(kSharedPackRowsPerTask % config_.mr == 0, "the packing pass's tasks start on micro-tiles");
  llvm::IRBuilder<>& b = f.b();
  llvm::Type* ptr = b.getPtrTy();
  llvm::Value* slot = b.CreateConstInBoundsGEP1_64(ptr, task_ctx, 2);
  if (acts_.empty()) {
    b.CreateStore(llvm::ConstantPointerNull::get(b.getPtrTy()), slot);
    return;
  }
  const int64_t small_rows = int64_t{kSmallBlockTiles} * config_.mr;
  if (config_.mc <= small_rows) {
    // Every M block is small (a very wide group): the tasks pack their own.
    b.CreateStore(llvm::ConstantPointerNull::get(b.getPtrTy()), slot);
    return;
  }
  llvm::Value* rows = f.I64(0);
  for (const Activation& a : acts_) {
    llvm::Value* r = f.Rows(a.value->type().tensor());
    rows = b.CreateSelect(b.CreateICmpSGT(r, rows), r, rows);
  }
  // The M block the tasks take (MBlockRows, as GemmTaskEmitter::EmitFrame splits M in whole
  // micro-tiles): the pass pays only when it is not small, i.e. when the tasks read the copy.
  llvm::Value* m_blocks = f.CeilDiv(rows, config_.mc);
  llvm::Value* block_rows = MBlockRows(f, rows, m_blocks, config_.mr);
  llvm::Value* bytes = Offset(f, acts_.size());
  llvm::Value* applies = b.CreateAnd(b.CreateICmpSGT(block_rows, f.I64(small_rows)),
                                     b.CreateICmpSLE(bytes, f.I64(kMaxSharedPackBytes)), "shared_pack.applies");
  llvm::BasicBlock* pass = llvm::BasicBlock::Create(f.ctx(), "shared_pack", f.fn());
  llvm::BasicBlock* own = llvm::BasicBlock::Create(f.ctx(), "own_pack", f.fn());
  llvm::BasicBlock* done = llvm::BasicBlock::Create(f.ctx(), "pack_decided", f.fn());
  b.CreateCondBr(applies, pass, own);
  b.SetInsertPoint(own);
  b.CreateStore(llvm::ConstantPointerNull::get(b.getPtrTy()), slot);
  b.CreateBr(done);
  b.SetInsertPoint(pass);
  llvm::FunctionCallee buffer_fn = mc_.module.getOrInsertFunction(
      "braid_shared_pack_buffer", llvm::FunctionType::get(ptr, {b.getInt64Ty()}, false));
  b.CreateStore(b.CreateCall(buffer_fn, {bytes}), slot);
  llvm::Function* task_fn = RenderPassTask(absl::StrCat(kernel_name, "_pack"));
  b.CreateCall(parallel_for, {pool, task_fn, task_ctx, f.CeilDiv(rows, kSharedPackRowsPerTask)});
  b.CreateBr(done);
  b.SetInsertPoint(done);
}

}  // namespace braid
