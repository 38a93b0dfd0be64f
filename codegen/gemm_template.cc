// GEMM template rendering.
#include "codegen/gemm_template.h"

#include <algorithm>
#include <cstdint>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "codegen/shared_pack.h"
#include "ir/status_macros.h"
#include "scheduler/head_view.h"

namespace braid {

GemmTemplate::GemmTemplate(ModuleContext& mc, const Kernel& kernel) : mc_(mc), kernel_(kernel) {
  for (const GemmSpec* spec : GemmsOf(mc.plan, kernel)) {
    const TensorType& type = spec->result->type().tensor();
    auto it = std::find_if(classes_.begin(), classes_.end(),
                           [&](const GemmOutputClass& c) { return *c.type == type; });
    if (it == classes_.end()) {
      classes_.push_back(GemmOutputClass{&type, {}, {}});
      it = classes_.end() - 1;
    }
    it->gemms.push_back(spec);
  }
  // Epilogues on a class's tile space have its type; heads views (scheduler/head_view.h) start
  // at a reshape of a tile value and pass through their operands.
  absl::flat_hash_map<const Value*, GemmOutputClass*> viewed;
  for (const Node* e : kernel.epilogues) {
    GemmOutputClass* owner = nullptr;
    for (const Value* v : e->operands()) {
      if (auto it = viewed.find(v); it != viewed.end()) owner = it->second;
    }
    if (owner == nullptr && HeadSplitDim(*e) > 0) {
      for (GemmOutputClass& c : classes_) {
        if (*c.type == e->operand(0)->type().tensor()) owner = &c;
      }
      BRAID_CHECK(owner != nullptr, "a heads view splits a GEMM result");
      BRAID_CHECK(owner->head_dim == 0 || owner->head_dim == HeadSplitDim(*e), "one head width per GEMM output type");
      owner->head_dim = HeadSplitDim(*e);
    }
    if (owner != nullptr) {
      owner->head_nodes.push_back(e);
      viewed[e->result()] = owner;
      continue;
    }
    for (GemmOutputClass& c : classes_) {
      if (*c.type == e->result()->type().tensor()) c.epilogues.push_back(e);
    }
  }
}

int64_t GemmTemplate::StaticWeightBytes() const {
  int64_t bytes = 0;
  for (const GemmOutputClass& c : classes_) {
    for (const GemmSpec* spec : c.gemms) {
      // Bytes of the weight in its storage dtype (saturating: any size is "large").
      int64_t weight_bytes = DTypeBytes(spec->weight->type().tensor().dtype);
      for (const Dim& d : spec->weight->type().tensor().shape) {
        if (d.is_symbolic()) return 0;
        if (__builtin_mul_overflow(weight_bytes, d.value(), &weight_bytes)) return INT64_MAX;
      }
      if (__builtin_add_overflow(bytes, weight_bytes, &bytes)) return INT64_MAX;
    }
  }
  return bytes;
}

int GemmTemplate::CommonKStep() const {
  int k_step = 0;
  for (const GemmOutputClass& c : classes_) {
    for (const GemmSpec* spec : c.gemms) {
      const int step = GemmKStep(GemmPathFor(spec->act->type().tensor().dtype, spec->weight->type().tensor().dtype,
                                             mc_.target.bf16_dot()));
      if (k_step != 0 && step != k_step) return 1;
      k_step = step;
    }
  }
  return std::max(k_step, 1);
}

int GemmTemplate::KBlockFor(const CacheSizes& caches, int panel_width) {
  const int64_t fit = caches.l1d_bytes * 2 / 3 / (int64_t{panel_width} * 4) / 32 * 32;
  return static_cast<int>(std::clamp<int64_t>(fit, 32, kMaxKBlock));
}

int64_t GemmTemplate::TileBudgetFloats(const CacheSizes& caches) {
  return std::max<int64_t>(std::min<int64_t>(kMaxTileBudgetFloats, caches.l2_bytes / 2 / 4), 1024);
}

TileConfig GemmTemplate::Choose() const {
  // 6 rows x 4 vectors (AVX-512; 6 x 2 on AVX2) = 24 accumulators: near peak for both widths
  // (12 x 2 and 4 x 3 measured no better). kc = 128 keeps a K block of a 64-wide B panel
  // (32 KiB) in L1 across the M block's micro-tiles; mc = 96 reuses it 16 times. Measured on the
  // 7B gate/up (tests/bench): kc 256 -> 128 and mc 48 -> 96 each gave a few per cent at M = 128
  // and 512. A smaller L1d (KBlockFor) gets a shorter K block, so the block still leaves room
  // for the A micro-panel and the C tile.
  const bool avx512 = mc_.target.vector_width == 16;
  TileConfig config = avx512 ? TileConfig{6, 4, 96, 128} : TileConfig{6, 2, 96, 128};
  const int64_t bytes = StaticWeightBytes();
  const std::string mib = bytes >= (1 << 20) ? absl::StrCat(bytes >> 20, " MiB of weights")
                                             : absl::StrCat(bytes >> 10, " KiB of weights");
  if (bytes > kStreamedWeightBytes) {
    config.mc = kLargeBlockRows;
    config.why = absl::StrCat(mib, " stream from memory: M blocks of up to ", kLargeBlockRows, " rows");
  } else {
    config.why = bytes > 0 ? absl::StrCat(mib, " stay in cache: M blocks of up to 96 rows")
                           : "weight shapes known at run time: M blocks of up to 96 rows";
  }
  config.kc = KBlockFor(mc_.target.caches, PanelWidth(config));
  if (config.kc < kMaxKBlock) {
    absl::StrAppend(&config.why, "; K blocks of ", config.kc, " for the ", mc_.target.caches.l1d_bytes >> 10,
                    " KiB L1d");
  }
  // On a dot path a panel row holds 2 or 4 k in an f32's bytes, so the same block bytes (and
  // micro-kernel steps) cover 2 or 4 times the k.
  if (const int k_step = CommonKStep(); k_step > 1) {
    config.kc *= k_step;
    absl::StrAppend(&config.why, "; K blocks of ", config.kc, " (", k_step, " k per dot-product step)");
  }
  return config;
}

TileConfig GroupedGemmTemplate::Choose() const {
  TileConfig config = GemmTemplate::Choose();
  size_t widest = 1;
  for (const GemmOutputClass& c : classes_) widest = std::max(widest, c.gemms.size());
  // Several GEMMs share a task's tile buffer (on the task's stack): shrink the M block so the
  // buffer stays within the tile budget (576 KiB with a 2 MiB L2) — mc 132 for two GEMMs, 96
  // for three, 72 for four, down to one micro-tile for very wide groups.
  const int64_t budget = TileBudgetFloats(mc_.target.caches);
  const int64_t rows = budget / (static_cast<int64_t>(widest) * PanelWidth(config) * kMaxPanelsPerTask);
  const int mc = static_cast<int>(std::max<int64_t>(config.mr, std::min<int64_t>(config.mc, rows / config.mr * config.mr)));
  if (mc < config.mc) {
    absl::StrAppend(&config.why, "; ", mc, " for the tiles of a group of ", widest, " within ", budget * 4 >> 10, " KiB");
  }
  config.mc = mc;
  return config;
}

llvm::Value* GemmTemplate::ClassTasks(FunctionEmitter& f, const GemmOutputClass& c,
                                      const TileConfig& config) const {
  llvm::Value* m_blocks = f.CeilDiv(f.Rows(*c.type), config.mc);
  return f.b().CreateMul(m_blocks, ColumnGroups(f, c, PanelWidth(config), m_blocks));
}

llvm::Value* GemmTemplate::NumTasks(FunctionEmitter& f, const TileConfig& config) const {
  llvm::Value* total = f.I64(0);
  for (const GemmOutputClass& c : classes_) total = f.b().CreateAdd(total, ClassTasks(f, c, config));
  return total;
}

llvm::Value* GemmTemplate::AllocateTile(FunctionEmitter& f, const TileConfig& config) const {
  uint64_t floats = 0;
  for (const GemmOutputClass& c : classes_) {
    floats = std::max<uint64_t>(floats, c.gemms.size() * config.mc * PanelWidth(config) *
                                            MaxTaskPanels(c, PanelWidth(config)));
  }
  llvm::IRBuilder<> entry(&f.fn()->getEntryBlock(), f.fn()->getEntryBlock().begin());
  if (floats > kMaxStackTileFloats) {
    // A very wide group (hundreds of GEMMs of one type) would overflow a thread's stack: its
    // tile comes from the heap, allocated per task and freed before the task returns.
    llvm::LLVMContext& ctx = f.ctx();
    llvm::Type* ptr = llvm::PointerType::getUnqual(ctx);
    llvm::FunctionCallee alloc = mc_.module.getOrInsertFunction(
        "braid_alloc_tile", llvm::FunctionType::get(ptr, {llvm::Type::getInt64Ty(ctx)}, false));
    return entry.CreateCall(alloc, {entry.getInt64(floats * 4)}, "tile");
  }
  llvm::AllocaInst* tile = entry.CreateAlloca(llvm::ArrayType::get(entry.getFloatTy(), floats), nullptr, "tile");
  tile->setAlignment(llvm::Align(64));
  return tile;
}

void GemmTemplate::ReturnFromTask(FunctionEmitter& f, llvm::Value* tile) const {
  if (llvm::isa<llvm::CallInst>(tile)) {
    llvm::LLVMContext& ctx = f.ctx();
    llvm::FunctionCallee release = mc_.module.getOrInsertFunction(
        "braid_free_tile", llvm::FunctionType::get(llvm::Type::getVoidTy(ctx), {llvm::PointerType::getUnqual(ctx)}, false));
    f.b().CreateCall(release, {tile});
  }
  f.b().CreateRetVoid();
}

void GemmTemplate::RenderClass(FunctionEmitter& f, const GemmOutputClass& c, const TileConfig& config,
                               llvm::Value* task, llvm::Value* tile) {
  SharedPack shared(mc_, classes_, config);
  GemmTaskEmitter(mc_, kernel_, f, c, config, task, tile, &shared, SharedPack::LoadBuffer(f)).Emit();
}

void GemmTemplate::EmitSharedPack(FunctionEmitter& f, const TileConfig& config, const std::string& name,
                                  llvm::Value* task_ctx, llvm::FunctionCallee parallel_for, llvm::Value* pool) {
  SharedPack(mc_, classes_, config).EmitPass(f, name, task_ctx, parallel_for, pool);
}

llvm::Function* GemmTemplate::Render(const TileConfig& config, const std::string& name) {
  llvm::Value* task;
  FunctionEmitter f = BeginTaskFunction(mc_, name, &task);
  BRAID_CHECK(classes_.size() == 1, "a lone GEMM template has one output class");
  llvm::Value* tile = AllocateTile(f, config);
  RenderClass(f, classes_[0], config, task, tile);
  ReturnFromTask(f, tile);
  return f.fn();
}

llvm::Function* GroupedGemmTemplate::Render(const TileConfig& config, const std::string& name) {
  llvm::Value* task;
  FunctionEmitter f = BeginTaskFunction(mc_, name, &task);
  llvm::IRBuilder<>& b = f.b();
  llvm::Value* tile = AllocateTile(f, config);
  llvm::BasicBlock* done = llvm::BasicBlock::Create(f.ctx(), "done", f.fn());
  // task -> (class, task within the class), classes in order.
  for (const GemmOutputClass& c : classes_) {
    llvm::Value* count = ClassTasks(f, c, config);
    llvm::BasicBlock* mine = llvm::BasicBlock::Create(f.ctx(), "class", f.fn());
    llvm::BasicBlock* next = llvm::BasicBlock::Create(f.ctx(), "next", f.fn());
    b.CreateCondBr(b.CreateICmpSLT(task, count), mine, next);
    b.SetInsertPoint(mine);
    RenderClass(f, c, config, task, tile);
    b.CreateBr(done);
    b.SetInsertPoint(next);
    task = b.CreateSub(task, count);
  }
  b.CreateBr(done);
  b.SetInsertPoint(done);
  ReturnFromTask(f, tile);
  return f.fn();
}

}  // namespace braid
