// GEMM template rendering.
#include "codegen/gemm_template.h"

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "codegen/element_loop.h"
#include "codegen/packing.h"
#include "ir/status_macros.h"
#include "llvm/IR/Intrinsics.h"

namespace braid {
namespace {

// Software prefetch: while a block call computes, its micro-tiles prefetch into L2 the weight
// block the *next* call reads (the next GEMM's or panel's, or the next K block's), so that
// block's first micro-tile finds it in L2 instead of waiting on DRAM at ~70 GB/s of demand.
// The first micro-tiles of the call each take a `kb`-line chunk of it, one line per k step in
// each of up to kPrefetchSlots prefetch streams (two when the call has fewer micro-tiles than
// the block has lines per k row, so that M = 16 still covers the whole block). Measured on
// gate/up (tests/bench, alternating binaries, 2026-11-25): 7B M = 128, 2 threads, 300–311 →
// 358–369 GFLOP/s; M = 16 from ~1.0–1.1× to 1.1–1.4× of oneDNN. It replaced prefetching 32 k
// rows ahead in the current panel, which came too late for a block streamed from DRAM and
// was redundant for every later micro-tile (that panel is then in L1).
constexpr int kPrefetchSlots = 2;

// C[rows x nr] (in `tile`, row stride nr) += Apacked[0:kb, 0:rows] * Bpanel[0:kb, 0:nr], where
// the packed A micro-panel holds `mr` floats per k (rows interleaved) and the B panel `nr`.
// Step k also prefetches, into L2, the line k·64 bytes past each of `prefetch_streams`.
void EmitMicroKernel(FunctionEmitter& f, int rows, int mr, int nv, int vw,
                     const std::vector<llvm::Value*>& prefetch_streams, llvm::Value* a_panel,
                     llvm::Value* b_panel, llvm::Value* kb, llvm::Value* tile) {
  llvm::IRBuilder<>& b = f.b();
  llvm::Type* fty = b.getFloatTy();
  auto* vty = llvm::FixedVectorType::get(fty, vw);
  const int nr = nv * vw;
  const llvm::Align valign(vw * 4);
  auto tile_ptr = [&](int i, int j) { return b.CreateConstInBoundsGEP1_64(fty, tile, i * nr + j * vw); };
  std::vector<llvm::Value*> init;
  for (int i = 0; i < rows; ++i) {
    for (int j = 0; j < nv; ++j) init.push_back(b.CreateAlignedLoad(vty, tile_ptr(i, j), valign));
  }
  llvm::BasicBlock* pre = b.GetInsertBlock();
  llvm::BasicBlock* header = llvm::BasicBlock::Create(f.ctx(), "uk.header", f.fn());
  llvm::BasicBlock* body = llvm::BasicBlock::Create(f.ctx(), "uk.body", f.fn());
  llvm::BasicBlock* exit = llvm::BasicBlock::Create(f.ctx(), "uk.exit", f.fn());
  b.CreateBr(header);
  b.SetInsertPoint(header);
  llvm::PHINode* k = b.CreatePHI(b.getInt64Ty(), 2, "k");
  k->addIncoming(f.I64(0), pre);
  std::vector<llvm::PHINode*> acc;
  for (llvm::Value* v : init) {
    acc.push_back(b.CreatePHI(vty, 2, "acc"));
    acc.back()->addIncoming(v, pre);
  }
  b.CreateCondBr(b.CreateICmpSLT(k, kb), body, exit);
  b.SetInsertPoint(body);
  std::vector<llvm::Value*> bv;
  llvm::Value* b_row = b.CreateInBoundsGEP(fty, b_panel, b.CreateMul(k, f.I64(nr)));
  for (int j = 0; j < nv; ++j) {
    bv.push_back(b.CreateAlignedLoad(vty, b.CreateConstInBoundsGEP1_64(fty, b_row, j * vw), valign));
  }
  for (llvm::Value* stream : prefetch_streams) {
    llvm::Value* line = b.CreateGEP(b.getInt8Ty(), stream, b.CreateMul(k, f.I64(64)));
    b.CreateIntrinsic(llvm::Intrinsic::prefetch, {b.getPtrTy()},
                      {line, b.getInt32(0), b.getInt32(2), b.getInt32(1)});
  }
  llvm::Value* a_row = b.CreateInBoundsGEP(fty, a_panel, b.CreateMul(k, f.I64(mr)));
  std::vector<llvm::Value*> next;
  for (int i = 0; i < rows; ++i) {
    llvm::Value* av = b.CreateVectorSplat(vw, b.CreateLoad(fty, b.CreateConstInBoundsGEP1_64(fty, a_row, i)));
    for (int j = 0; j < nv; ++j) {
      next.push_back(b.CreateIntrinsic(llvm::Intrinsic::fma, {vty}, {av, bv[j], acc[i * nv + j]}));
    }
  }
  for (size_t i = 0; i < acc.size(); ++i) acc[i]->addIncoming(next[i], body);
  k->addIncoming(b.CreateAdd(k, f.I64(1), "k.next", true, true), body);
  b.CreateBr(header);
  b.SetInsertPoint(exit);
  for (int i = 0; i < rows; ++i) {
    for (int j = 0; j < nv; ++j) b.CreateAlignedStore(acc[i * nv + j], tile_ptr(i, j), valign);
  }
}

// The runtime's activation packer (PackActivation in packing.h): plain data movement, cheaper
// to call than to generate and compile per GEMM.
llvm::FunctionCallee PackActivationFunction(ModuleContext& mc) {
  llvm::LLVMContext& ctx = mc.module.getContext();
  llvm::Type* ptr = llvm::PointerType::getUnqual(ctx);
  llvm::Type* i64 = llvm::Type::getInt64Ty(ctx);
  auto* type = llvm::FunctionType::get(llvm::Type::getVoidTy(ctx), {ptr, i64, i64, i64, i64, i64, i64, i64, ptr}, false);
  return mc.module.getOrInsertFunction("braid_pack_activation", type);
}

// Where micro-tile `ms` of a block call streams its prefetches (kPrefetchSlots): chunk c of the
// next block is its lines [c·kb, (c+1)·kb); a slot with no chunk left points at the current
// panel, which is in L1, so its prefetches cost an L1 hit.
std::vector<llvm::Value*> NextBlockPrefetchStreams(FunctionEmitter& f, const TileConfig& cfg, int nr,
                                                   llvm::Value* ms, llvm::Value* m_rows, llvm::Value* kb,
                                                   llvm::Value* next_b, llvm::Value* b_panel) {
  llvm::IRBuilder<>& b = f.b();
  const int lines_per_k = nr * 4 / 64;
  llvm::Value* tile_index = b.CreateSDiv(ms, f.I64(cfg.mr));
  llvm::Value* tiles = f.CeilDiv(m_rows, cfg.mr);
  llvm::Value* chunks_per_tile =
      b.CreateSelect(b.CreateICmpSLT(tiles, f.I64(lines_per_k)), f.I64(kPrefetchSlots), f.I64(1));
  std::vector<llvm::Value*> streams;
  for (int slot = 0; slot < std::min(kPrefetchSlots, lines_per_k); ++slot) {
    llvm::Value* chunk = b.CreateAdd(b.CreateMul(tile_index, chunks_per_tile), f.I64(slot));
    llvm::Value* used = b.CreateAnd(b.CreateICmpSLT(chunk, f.I64(lines_per_k)),
                                    b.CreateICmpSLT(f.I64(slot), chunks_per_tile));
    llvm::Value* start = b.CreateGEP(b.getInt8Ty(), next_b, b.CreateMul(chunk, b.CreateMul(kb, f.I64(64))));
    streams.push_back(b.CreateSelect(used, start, b_panel));
  }
  return streams;
}

// `void block(ptr a_packed, ptr b_panel, i64 kb, ptr tile, i64 m_rows, ptr next_b)`: one K
// block of one GEMM over an M block — every micro-tile of `m_rows` rows against one packed B
// panel — prefetching `next_b`, the block the next call reads, when `prefetch` is set. One
// function per tile configuration, shared by every GEMM of the module and never inlined: the
// code LLVM must optimise and compile no longer grows with the number of GEMMs.
llvm::Function* GemmBlockFunction(ModuleContext& mc, const TileConfig& cfg, bool prefetch) {
  const int vw = mc.target.vector_width;
  const int nr = cfg.nv * vw;
  const std::string name = absl::StrCat("braid_gemm_block_", cfg.mr, "x", nr, "_kc", cfg.kc, prefetch ? "" : "_noprefetch");
  if (llvm::Function* existing = mc.module.getFunction(name)) return existing;
  llvm::LLVMContext& ctx = mc.module.getContext();
  llvm::Type* ptr = llvm::PointerType::getUnqual(ctx);
  llvm::Type* i64 = llvm::Type::getInt64Ty(ctx);
  auto* type = llvm::FunctionType::get(llvm::Type::getVoidTy(ctx), {ptr, ptr, i64, ptr, i64, ptr}, false);
  llvm::Function* fn = llvm::Function::Create(type, llvm::Function::InternalLinkage, name, mc.module);
  fn->addFnAttr(llvm::Attribute::NoUnwind);
  fn->addFnAttr(llvm::Attribute::NoInline);
  for (unsigned i : {0u, 1u, 3u}) fn->addParamAttr(i, llvm::Attribute::NoAlias);
  llvm::BasicBlock::Create(ctx, "entry", fn);
  FunctionEmitter f(mc, fn, nullptr, nullptr);
  llvm::IRBuilder<>& b = f.b();
  llvm::Type* fty = b.getFloatTy();
  llvm::Value* a_packed = fn->getArg(0);
  llvm::Value* b_panel = fn->getArg(1);
  llvm::Value* kb = fn->getArg(2);
  llvm::Value* tile = fn->getArg(3);
  llvm::Value* m_rows = fn->getArg(4);
  llvm::Value* next_b = fn->getArg(5);
  const std::vector<int> variants = MicroKernelRowVariants(cfg.mr);
  f.For(f.I64(0), m_rows, cfg.mr, "ms", [&](llvm::Value* ms) {
    llvm::Value* a_panel = b.CreateInBoundsGEP(fty, a_packed, b.CreateMul(ms, f.I64(cfg.kc)));
    llvm::Value* tile_rows = b.CreateInBoundsGEP(fty, tile, b.CreateMul(ms, f.I64(nr)));
    llvm::Value* rows_left = b.CreateSub(m_rows, ms);
    std::vector<llvm::Value*> streams;
    if (prefetch) streams = NextBlockPrefetchStreams(f, cfg, nr, ms, m_rows, kb, next_b, b_panel);
    // Dispatch to the smallest row variant that covers what is left.
    llvm::BasicBlock* join = llvm::BasicBlock::Create(ctx, "uk.join", fn);
    for (size_t v = 0; v < variants.size(); ++v) {
      llvm::BasicBlock* run = llvm::BasicBlock::Create(ctx, "uk.rows", fn);
      llvm::BasicBlock* next = v + 1 < variants.size() ? llvm::BasicBlock::Create(ctx, "uk.try", fn) : nullptr;
      if (next != nullptr) {
        b.CreateCondBr(b.CreateICmpSLE(rows_left, f.I64(variants[v])), run, next);
      } else {
        b.CreateBr(run);
      }
      b.SetInsertPoint(run);
      EmitMicroKernel(f, variants[v], cfg.mr, cfg.nv, vw, streams, a_panel, b_panel, kb, tile_rows);
      b.CreateBr(join);
      if (next != nullptr) b.SetInsertPoint(next);
    }
    b.SetInsertPoint(join);
  });
  b.CreateRetVoid();
  return fn;
}

}  // namespace

std::string TileConfig::ToString(int vector_width) const {
  return absl::StrCat(mr, "x", nv * vector_width, " micro-kernel, mc=", mc, ", kc=", kc);
}

GemmTemplate::GemmTemplate(ModuleContext& mc, const Kernel& kernel) : mc_(mc), kernel_(kernel) {
  for (const GemmSpec* spec : GemmsOf(mc.plan, kernel)) {
    const TensorType& type = spec->result->type().tensor();
    auto it = std::find_if(classes_.begin(), classes_.end(),
                           [&](const OutputClass& c) { return *c.type == type; });
    if (it == classes_.end()) {
      classes_.push_back(OutputClass{&type, {}, {}});
      it = classes_.end() - 1;
    }
    it->gemms.push_back(spec);
  }
  for (const Node* e : kernel.epilogues) {
    for (OutputClass& c : classes_) {
      if (*c.type == e->result()->type().tensor()) c.epilogues.push_back(e);
    }
  }
}

std::vector<TileConfig> GemmTemplate::Choices() const {
  // 6 rows x 4 vectors = 24 accumulators: near peak for both widths (PERF_NOTES.md). kc = 128
  // keeps a K block of a 64-wide B panel (32 KiB) in L1 across the M block's micro-tiles;
  // mc = 96 reuses it 16 times. Measured on the 7B gate/up (tests/bench): kc 256 -> 128 and
  // mc 48 -> 96 each gave a few per cent at M = 128 and 512.
  if (mc_.target.vector_width == 16) return {TileConfig{6, 4, 96, 128}, TileConfig{12, 2, 96, 128}};
  return {TileConfig{6, 2, 96, 128}, TileConfig{4, 3, 96, 128}};
}

std::vector<TileConfig> GroupedGemmTemplate::Choices() const {
  std::vector<TileConfig> choices = GemmTemplate::Choices();
  size_t widest = 1;
  for (const OutputClass& c : classes_) widest = std::max(widest, c.gemms.size());
  // Several GEMMs share a task's tile buffer (on the task's stack): shrink the M block so the
  // buffer stays within kTileBudgetFloats (512 KiB) — mc 96 for two GEMMs, 60 for four, down to
  // one micro-tile for very wide groups.
  for (TileConfig& t : choices) {
    const int64_t rows = kTileBudgetFloats / (static_cast<int64_t>(widest) * PanelWidth(t) * kMaxPanelsPerTask);
    t.mc = static_cast<int>(std::max<int64_t>(t.mr, std::min<int64_t>(t.mc, rows / t.mr * t.mr)));
  }
  return choices;
}

llvm::Value* GemmTemplate::PanelsPerTask(FunctionEmitter& f, llvm::Value* m_blocks, llvm::Value* panels) {
  llvm::Value* p = f.b().CreateSDiv(f.b().CreateMul(m_blocks, panels), f.I64(16));
  p = f.Min(p, f.I64(kMaxPanelsPerTask));
  return f.b().CreateSelect(f.b().CreateICmpSLT(p, f.I64(1)), f.I64(1), p);
}

llvm::Value* GemmTemplate::ClassTasks(FunctionEmitter& f, const OutputClass& c,
                                      const TileConfig& config) const {
  llvm::Value* m_blocks = f.CeilDiv(f.Rows(*c.type), config.mc);
  llvm::Value* panels = f.CeilDiv(f.Cols(*c.type), PanelWidth(config));
  llvm::Value* per_task = PanelsPerTask(f, m_blocks, panels);
  llvm::Value* groups = f.b().CreateSDiv(f.b().CreateAdd(panels, f.b().CreateSub(per_task, f.I64(1))), per_task);
  return f.b().CreateMul(m_blocks, groups);
}

llvm::Value* GemmTemplate::NumTasks(FunctionEmitter& f, const TileConfig& config) const {
  llvm::Value* total = f.I64(0);
  for (const OutputClass& c : classes_) total = f.b().CreateAdd(total, ClassTasks(f, c, config));
  return total;
}

llvm::Value* GemmTemplate::PackBuffer(FunctionEmitter& f, const TileConfig& config) const {
  llvm::IRBuilder<> entry(&f.fn()->getEntryBlock(), f.fn()->getEntryBlock().begin());
  llvm::AllocaInst* packed =
      entry.CreateAlloca(llvm::ArrayType::get(entry.getFloatTy(), config.mc * config.kc), nullptr, "a.packed");
  packed->setAlignment(llvm::Align(64));
  return packed;
}

llvm::Value* GemmTemplate::AllocateTile(FunctionEmitter& f, const TileConfig& config) const {
  size_t widest = 1;
  for (const OutputClass& c : classes_) widest = std::max(widest, c.gemms.size());
  const uint64_t floats = widest * config.mc * PanelWidth(config) * kMaxPanelsPerTask;
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

void GemmTemplate::RenderClass(FunctionEmitter& f, const OutputClass& c, const TileConfig& cfg,
                               llvm::Value* task, llvm::Value* tile) {
  llvm::IRBuilder<>& b = f.b();
  llvm::Type* fty = b.getFloatTy();
  const int nr = PanelWidth(cfg);
  const int vw = mc_.target.vector_width;
  llvm::Value* m = f.Rows(*c.type);
  llvm::Value* n = f.Cols(*c.type);
  llvm::Value* m_blocks = f.CeilDiv(m, cfg.mc);
  llvm::Value* panels = f.CeilDiv(n, nr);
  llvm::Value* per_task = PanelsPerTask(f, m_blocks, panels);
  llvm::Value* first_panel = b.CreateMul(b.CreateSDiv(task, m_blocks), per_task, "first_panel");
  llvm::Value* task_panels = f.Min(per_task, b.CreateSub(panels, first_panel));
  // The M blocks split M evenly (in whole micro-tiles) instead of mc, ..., mc, rest: M = 128
  // is two blocks of 66 and 62 rows, not 96 and 32, so the tasks the threads share are of
  // about one size and no thread is left with a long one at the end (4 % of the 2-thread time
  // at M = 128 on the 1024x2816 shape, by a simulation of the task queue).
  llvm::Value* rows_per_block = b.CreateSDiv(b.CreateAdd(m, b.CreateSub(m_blocks, f.I64(1))), m_blocks);
  llvm::Value* block_rows = b.CreateMul(f.CeilDiv(rows_per_block, cfg.mr), f.I64(cfg.mr), "block_rows");
  llvm::Value* m0 = b.CreateMul(b.CreateSRem(task, m_blocks), block_rows, "m0");
  llvm::Value* m_rows = f.Min(block_rows, b.CreateSub(m, m0));
  // Tiles hold the task's rows rounded up to whole micro-tiles (a row variant never reaches
  // past that), so a small M zeroes, and keeps in cache, only the rows it computes.
  llvm::Value* tile_floats = b.CreateMul(f.CeilDiv(m_rows, cfg.mr), f.I64(cfg.mr * nr), "tile_floats");
  const size_t gemms = c.gemms.size();
  // The tile of GEMM g for the task's panel pp is at (pp·gemms + g)·tile_floats.
  auto tile_of = [&](llvm::Value* pp, size_t g) {
    llvm::Value* index = b.CreateAdd(b.CreateMul(pp, f.I64(gemms)), f.I64(g));
    return b.CreateInBoundsGEP(fty, tile, b.CreateMul(index, tile_floats));
  };
  b.CreateMemSet(tile, b.getInt8(0), b.CreateMul(b.CreateMul(task_panels, tile_floats), f.I64(gemms * 4)),
                 llvm::Align(64));

  // Operands per GEMM; GEMMs reading the same activation share one packed copy of its block.
  struct Operands {
    llvm::Value* k;
    llvm::Value* packed;  // all panels of the packed weight
    size_t act;           // index into `acts`
  };
  struct Activation {
    const Value* value;
    llvm::Value* data;
    llvm::Value* k;
    llvm::Value* packed;
  };
  std::vector<Operands> ops;
  std::vector<Activation> acts;
  llvm::Value* k_max = f.I64(0);
  for (size_t g = 0; g < c.gemms.size(); ++g) {
    const GemmSpec& spec = *c.gemms[g];
    llvm::Value* k = f.DimValue(spec.act->type().tensor().shape.back());
    auto act = std::find_if(acts.begin(), acts.end(), [&](const Activation& a) { return a.value == spec.act; });
    if (act == acts.end()) {
      acts.push_back({spec.act, f.Buffer(mc_.plan.value_slot.at(spec.act)), k, PackBuffer(f, cfg)});
      act = acts.end() - 1;
    }
    ops.push_back({k, f.Buffer(spec.packed_slot), static_cast<size_t>(act - acts.begin())});
    k_max = b.CreateSelect(b.CreateICmpSGT(k, k_max), k, k_max);
  }
  // K blocks outside, panels and GEMMs inside: each activation block is packed once and reused
  // by every panel of the task and every GEMM that reads it while it is hot.
  // K block length: kc, except for a task of a single micro-tile (M <= mr: decoding, where the
  // GEMM only streams weights). There the packed-activation buffer (mc x kc floats) holds mc/mr
  // times more K, and each weight panel is read in runs that long instead of kc rows at a time
  // interleaved with the task's other panels: measured on the 7B shape's panels, interleaved
  // 32 KiB runs read ~25 % slower than long sequential ones.
  const int64_t long_kc = static_cast<int64_t>(cfg.mc) / cfg.mr * cfg.kc;
  // Such a task also runs the micro-kernels without software prefetch: streaming one panel at a
  // time, the hardware prefetcher keeps up, and the prefetch instructions cost ~10 % of the
  // read bandwidth (measured standalone on the 7B panels, 1 thread: ~29 vs ~26.5 GB/s).
  llvm::Value* single_tile = b.CreateICmpSLE(m_rows, f.I64(cfg.mr), "single_tile");
  llvm::Value* kc = b.CreateSelect(single_tile, f.I64(long_kc), f.I64(cfg.kc), "kc");
  llvm::Function* prefetching_block = GemmBlockFunction(mc_, cfg, /*prefetch=*/true);
  llvm::Value* block = b.CreateSelect(single_tile, GemmBlockFunction(mc_, cfg, /*prefetch=*/false), prefetching_block);
  f.For(f.I64(0), k_max, kc, "k0", [&](llvm::Value* k0) {
    auto if_in_range = [&](llvm::Value* k, const std::function<void(llvm::Value* kb)>& body) {
      llvm::BasicBlock* then = llvm::BasicBlock::Create(f.ctx(), "kblock", f.fn());
      llvm::BasicBlock* after = llvm::BasicBlock::Create(f.ctx(), "kblock.end", f.fn());
      b.CreateCondBr(b.CreateICmpSLT(k0, k), then, after);
      b.SetInsertPoint(then);
      body(f.Min(kc, b.CreateSub(k, k0)));
      b.CreateBr(after);
      b.SetInsertPoint(after);
    };
    for (const Activation& act : acts) {
      if_in_range(act.k, [&](llvm::Value* kb) {
        b.CreateCall(PackActivationFunction(mc_),
                     {act.data, act.k, m0, m_rows, k0, kb, f.I64(cfg.mr), f.I64(cfg.kc), act.packed});
      });
    }
    // Panel `panel` of GEMM g's packed weight is [K][nr]; its K block at k0 starts k0 rows in.
    // (Computed without inbounds: the next block's address may lie past the weight, and is
    // then only prefetched, which never faults.)
    auto weight_block = [&](llvm::Value* panel, size_t g, llvm::Value* k_start) {
      llvm::Value* offset = b.CreateMul(b.CreateAdd(b.CreateMul(panel, ops[g].k), k_start), f.I64(nr));
      return b.CreateGEP(fty, ops[g].packed, offset);
    };
    f.For(f.I64(0), task_panels, 1, "pp", [&](llvm::Value* pp) {
      llvm::Value* panel = b.CreateAdd(first_panel, pp);
      for (size_t g = 0; g < gemms; ++g) {
        const Operands& op = ops[g];
        if_in_range(op.k, [&](llvm::Value* kb) {
          // The weight block the next call reads, prefetched into L2 while this one computes.
          llvm::Value* next;
          if (g + 1 < gemms) {
            next = weight_block(panel, g + 1, k0);
          } else {
            llvm::Value* last_panel = b.CreateICmpEQ(b.CreateAdd(pp, f.I64(1)), task_panels);
            next = b.CreateSelect(last_panel, weight_block(first_panel, 0, b.CreateAdd(k0, kc)),
                                  weight_block(b.CreateAdd(panel, f.I64(1)), 0, k0));
          }
          b.CreateCall(prefetching_block->getFunctionType(), block,
                       {acts[op.act].packed, weight_block(panel, g, k0), kb, tile_of(pp, g), m_rows, next});
        });
      }
    });
  });

  // Epilogue over the tile: bias first, then the fused pointwise nodes.
  ElementLoop loop;
  loop.space = c.type;
  loop.row_begin = m0;
  loop.row_end = b.CreateAdd(m0, m_rows);
  loop.nodes = c.epilogues;
  absl::flat_hash_map<const Value*, size_t> gemm_of;
  for (size_t g = 0; g < c.gemms.size(); ++g) {
    gemm_of[c.gemms[g]->result] = g;
    // Duplicate multi_outputs of the same GEMM read the same tile.
    for (const Node* node : kernel_.nodes) {
      if (node->op() == OpKind::kMultiOutput && *node->IntAttr("index") == c.gemms[g]->index) {
        gemm_of[node->result()] = g;
      }
    }
  }
  absl::flat_hash_map<size_t, llvm::Value*> bias_base;
  for (size_t g = 0; g < c.gemms.size(); ++g) {
    if (c.gemms[g]->bias != nullptr) bias_base[g] = f.Buffer(mc_.plan.value_slot.at(c.gemms[g]->bias));
  }
  for (const auto& [value, g] : gemm_of) loop.tile_values.insert(value);
  llvm::Value* n0 = nullptr;
  llvm::Value* pp = nullptr;
  loop.read_tile = [&](const Value* v, llvm::Value* row, llvm::Value* col) -> llvm::Value* {
    const size_t g = gemm_of.at(v);
    llvm::Value* index = b.CreateAdd(b.CreateMul(b.CreateSub(row, m0), f.I64(nr)), b.CreateSub(col, n0));
    llvm::Value* x = b.CreateLoad(fty, b.CreateInBoundsGEP(fty, tile_of(pp, g), index));
    auto bias = bias_base.find(g);
    if (bias != bias_base.end()) {
      x = b.CreateFAdd(x, b.CreateLoad(fty, b.CreateInBoundsGEP(fty, bias->second, col)));
    }
    return x;
  };
  std::vector<const Value*> candidates;
  for (const auto& node : kernel_.nodes) {
    if (gemm_of.contains(node->result())) candidates.push_back(node->result());
  }
  for (const Node* e : c.epilogues) candidates.push_back(e->result());
  for (const Value* v : candidates) {
    if (mc_.schedule.materialized.contains(v)) loop.stores.push_back(v);
  }
  // One pass per panel of the task, each over its own tiles.
  f.For(f.I64(0), task_panels, 1, "epilogue.pp", [&](llvm::Value* panel_index) {
    pp = panel_index;
    n0 = b.CreateMul(b.CreateAdd(first_panel, pp), f.I64(nr), "n0");
    loop.col_begin = n0;
    loop.col_end = b.CreateAdd(n0, f.Min(f.I64(nr), b.CreateSub(n, n0)));
    EmitElementLoop(f, loop);
  });
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
  for (const OutputClass& c : classes_) {
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
