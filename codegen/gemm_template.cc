// GEMM template rendering.
#include "codegen/gemm_template.h"

#include <algorithm>
#include <cstdint>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "codegen/element_loop.h"
#include "codegen/packing.h"
#include "ir/status_macros.h"

namespace braid {
namespace {

// The runtime's activation packer (PackActivation in packing.h): plain data movement, cheaper
// to call than to generate and compile per GEMM.
llvm::FunctionCallee PackActivationFunction(ModuleContext& mc) {
  llvm::LLVMContext& ctx = mc.module.getContext();
  llvm::Type* ptr = llvm::PointerType::getUnqual(ctx);
  llvm::Type* i64 = llvm::Type::getInt64Ty(ctx);
  auto* type = llvm::FunctionType::get(llvm::Type::getVoidTy(ctx), {ptr, i64, i64, i64, i64, i64, i64, i64, ptr}, false);
  return mc.module.getOrInsertFunction("braid_pack_activation", type);
}

// The runtime's per-thread scratch buffer (braid_thread_scratch in runtime.h).
llvm::FunctionCallee ThreadScratchFunction(ModuleContext& mc) {
  llvm::LLVMContext& ctx = mc.module.getContext();
  llvm::Type* ptr = llvm::PointerType::getUnqual(ctx);
  return mc.module.getOrInsertFunction("braid_thread_scratch",
                                       llvm::FunctionType::get(ptr, {llvm::Type::getInt64Ty(ctx)}, false));
}

}  // namespace

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

int64_t GemmTemplate::StaticWeightBytes() const {
  int64_t bytes = 0;
  for (const OutputClass& c : classes_) {
    for (const GemmSpec* spec : c.gemms) {
      int64_t weight_bytes = sizeof(float);  // times each dim (saturating: any size is "large")
      for (const Dim& d : spec->weight->type().tensor().shape) {
        if (d.is_symbolic()) return 0;
        if (__builtin_mul_overflow(weight_bytes, d.value(), &weight_bytes)) return INT64_MAX;
      }
      if (__builtin_add_overflow(bytes, weight_bytes, &bytes)) return INT64_MAX;
    }
  }
  return bytes;
}

int GemmTemplate::KBlockFor(const CacheSizes& caches, int panel_width) {
  const int64_t fit = caches.l1d_bytes * 2 / 3 / (int64_t{panel_width} * 4) / 32 * 32;
  return static_cast<int>(std::clamp<int64_t>(fit, 32, kMaxKBlock));
}

int64_t GemmTemplate::TileBudgetFloats(const CacheSizes& caches) {
  return std::max<int64_t>(std::min<int64_t>(kMaxTileBudgetFloats, caches.l2_bytes / 2 / 4), 1024);
}

std::vector<TileConfig> GemmTemplate::Choices() const {
  // 6 rows x 4 vectors = 24 accumulators: near peak for both widths (PERF_NOTES.md). kc = 128
  // keeps a K block of a 64-wide B panel (32 KiB) in L1 across the M block's micro-tiles;
  // mc = 96 reuses it 16 times. Measured on the 7B gate/up (tests/bench): kc 256 -> 128 and
  // mc 48 -> 96 each gave a few per cent at M = 128 and 512. A smaller L1d (KBlockFor) gets a
  // shorter K block, so the block still leaves room for the A micro-panel and the C tile.
  const bool avx512 = mc_.target.vector_width == 16;
  TileConfig first = avx512 ? TileConfig{6, 4, 96, 128} : TileConfig{6, 2, 96, 128};
  TileConfig second = avx512 ? TileConfig{12, 2, 96, 128} : TileConfig{4, 3, 96, 128};
  const int64_t bytes = StaticWeightBytes();
  const std::string mib = bytes >= (1 << 20) ? absl::StrCat(bytes >> 20, " MiB of weights")
                                             : absl::StrCat(bytes >> 10, " KiB of weights");
  std::vector<TileConfig> choices;
  if (bytes > kStreamedWeightBytes) {
    TileConfig tall = first;
    tall.mc = kLargeBlockRows;
    tall.why = absl::StrCat(mib, " stream from memory: M blocks of up to ", kLargeBlockRows, " rows");
    first.why = second.why = "M blocks of up to 96 rows";
    choices = {tall, first, second};
  } else {
    first.why = second.why = bytes > 0 ? absl::StrCat(mib, " stay in cache: M blocks of up to 96 rows")
                                       : "weight shapes known at run time: M blocks of up to 96 rows";
    choices = {first, second};
  }
  for (TileConfig& t : choices) {
    t.kc = KBlockFor(mc_.target.caches, PanelWidth(t));
    if (t.kc < kMaxKBlock) {
      absl::StrAppend(&t.why, "; K blocks of ", t.kc, " for the ", mc_.target.caches.l1d_bytes >> 10, " KiB L1d");
    }
  }
  return choices;
}

std::vector<TileConfig> GroupedGemmTemplate::Choices() const {
  std::vector<TileConfig> choices = GemmTemplate::Choices();
  size_t widest = 1;
  for (const OutputClass& c : classes_) widest = std::max(widest, c.gemms.size());
  // Several GEMMs share a task's tile buffer (on the task's stack): shrink the M block so the
  // buffer stays within the tile budget (576 KiB with a 2 MiB L2) — mc 132 for two GEMMs, 96
  // for three, 72 for four, down to one micro-tile for very wide groups.
  const int64_t budget = TileBudgetFloats(mc_.target.caches);
  for (TileConfig& t : choices) {
    const int64_t rows = budget / (static_cast<int64_t>(widest) * PanelWidth(t) * kMaxPanelsPerTask);
    const int mc = static_cast<int>(std::max<int64_t>(t.mr, std::min<int64_t>(t.mc, rows / t.mr * t.mr)));
    if (mc < t.mc) {
      absl::StrAppend(&t.why, "; ", mc, " for the tiles of a group of ", widest, " within ", budget * 4 >> 10, " KiB");
    }
    t.mc = mc;
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
  // K block length and block function by the M block's size:
  // - A single micro-tile (M <= mr: decoding, where the GEMM only streams weights) runs the
  //   streaming block function, several panels of a weight per pass over k, without software
  //   prefetch, with K blocks mc/mr times longer than kc (the packed-activation buffer of mc x kc
  //   floats holds that much): each panel is read in long sequential runs instead of kc rows at
  //   a time interleaved with the task's other panels (measured on the 7B shape's panels:
  //   interleaved 32 KiB runs read ~25 % slower than long ones).
  // - A few micro-tiles (up to kSmallBlockTiles, e.g. M = 16) take K blocks as long as the
  //   buffer holds for that many: with so little reuse of each weight block per call, the
  //   calls' fixed costs (tile loads and stores, the first micro-tile's wait for the block)
  //   weigh more than L1 residency of the block (4·kc = 512 for the defaults). Measured on the
  //   7B gate/up (braid --bench, alternating binaries, 3 rounds, 1 and 2 threads; faster in 17
  //   of 18 pairs): M = 12 51-60 -> 57-65 % of peak, M = 16 60-65 -> 66-72 %, M = 24 78-85 ->
  //   78-91 %.
  // - Otherwise kc, with the tiled block function.
  constexpr int kSmallBlockTiles = 4;
  // (Capped at the lengths measured for mc = 96: the taller M blocks of kLargeBlockRows were
  // measured at M >= 128 only.)
  const int64_t long_kc = std::min<int64_t>(16, cfg.mc / cfg.mr) * cfg.kc;
  const int64_t small_block_kc = std::max<int64_t>(cfg.kc, std::min(4, cfg.mc / (kSmallBlockTiles * cfg.mr)) * cfg.kc);
  llvm::Value* single_tile = b.CreateICmpSLE(m_rows, f.I64(cfg.mr), "single_tile");
  llvm::Value* small_block = b.CreateICmpSLE(m_rows, f.I64(kSmallBlockTiles * cfg.mr), "small_block");
  llvm::Value* tiled_kc = b.CreateSelect(small_block, f.I64(small_block_kc), f.I64(cfg.kc), "tiled_kc");
  llvm::Value* kc = b.CreateSelect(single_tile, f.I64(long_kc), tiled_kc, "kc");
  // Panel `panel` of GEMM g's packed weight is [K][nr]; its K block at k0 starts k0 rows in.
  // (Computed without inbounds: the next block's address may lie past the weight, and is then
  // only prefetched, which never faults.)
  auto weight_block = [&](llvm::Value* panel, size_t g, llvm::Value* k_start) {
    llvm::Value* offset = b.CreateMul(b.CreateAdd(b.CreateMul(panel, ops[g].k), k_start), f.I64(nr));
    return b.CreateGEP(fty, ops[g].packed, offset);
  };
  // Small M blocks (a few micro-tiles, not one) run panel-major when the whole K of their
  // activations fits the thread's scratch buffer: the activations are packed once for all of K,
  // then per panel and GEMM the K blocks run back to back, so the weights stream from memory in
  // one sequential run per panel (K·nr floats) and the tile stays in L1, instead of a K block of
  // each of the task's panels and GEMMs in turn (a jump every 128 KiB at kc 512).
  llvm::Value* rows_padded = b.CreateMul(f.CeilDiv(m_rows, cfg.mr), f.I64(cfg.mr));
  llvm::Value* act_floats = b.CreateMul(rows_padded, k_max, "act_floats");
  llvm::Value* panel_major =
      b.CreateAnd(b.CreateAnd(small_block, b.CreateNot(single_tile)),
                  b.CreateICmpSLE(b.CreateMul(act_floats, f.I64(acts.size())), f.I64(kPanelMajorMaxFloats)),
                  "panel_major");
  llvm::BasicBlock* panel_major_bb = llvm::BasicBlock::Create(f.ctx(), "panel_major", f.fn());
  llvm::BasicBlock* k_outer_bb = llvm::BasicBlock::Create(f.ctx(), "k_outer", f.fn());
  llvm::BasicBlock* computed = llvm::BasicBlock::Create(f.ctx(), "computed", f.fn());
  b.CreateCondBr(panel_major, panel_major_bb, k_outer_bb);
  b.SetInsertPoint(panel_major_bb);
  {
    llvm::Value* scratch = b.CreateCall(ThreadScratchFunction(mc_), {b.CreateMul(b.CreateMul(act_floats, f.I64(acts.size())), f.I64(4))});
    std::vector<llvm::Value*> packed_act;
    for (size_t a = 0; a < acts.size(); ++a) {
      packed_act.push_back(b.CreateInBoundsGEP(fty, scratch, b.CreateMul(act_floats, f.I64(a))));
      b.CreateCall(PackActivationFunction(mc_), {acts[a].data, acts[a].k, m0, m_rows, f.I64(0), acts[a].k,
                                                 f.I64(cfg.mr), acts[a].k, packed_act.back()});
    }
    f.For(f.I64(0), task_panels, 1, "pm.pp", [&](llvm::Value* pp) {
      llvm::Value* panel = b.CreateAdd(first_panel, pp);
      for (size_t g = 0; g < gemms; ++g) {
        // After a panel comes the next GEMM's (or, after the last GEMM, the next panel's).
        llvm::Value* after = g + 1 < gemms ? weight_block(panel, g + 1, f.I64(0))
                                           : weight_block(b.CreateAdd(panel, f.I64(1)), 0, f.I64(0));
        b.CreateCall(GemmPanelRunFunction(mc_, cfg), {packed_act[ops[g].act], weight_block(panel, g, f.I64(0)),
                                                      ops[g].k, tile_of(pp, g), m_rows, after, f.I64(small_block_kc)});
      }
    });
  }
  b.CreateBr(computed);
  b.SetInsertPoint(k_outer_bb);
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
                     {act.data, act.k, m0, m_rows, k0, kb, f.I64(cfg.mr), tiled_kc, act.packed});
      });
    }
    llvm::BasicBlock* streaming = llvm::BasicBlock::Create(f.ctx(), "streaming", f.fn());
    llvm::BasicBlock* tiled = llvm::BasicBlock::Create(f.ctx(), "tiled", f.fn());
    llvm::BasicBlock* done = llvm::BasicBlock::Create(f.ctx(), "kblock.done", f.fn());
    b.CreateCondBr(single_tile, streaming, tiled);
    // Decoding: per GEMM, all the task's panels (consecutive in the weight, K·nr floats apart;
    // their tiles gemms·tile_floats apart), several at a time.
    b.SetInsertPoint(streaming);
    for (size_t g = 0; g < gemms; ++g) {
      const Operands& op = ops[g];
      if_in_range(op.k, [&](llvm::Value* kb) {
        b.CreateCall(GemmStreamingBlockFunction(mc_, cfg),
                     {acts[op.act].packed, weight_block(first_panel, g, k0), b.CreateMul(op.k, f.I64(nr)), kb,
                      tile_of(f.I64(0), g), b.CreateMul(tile_floats, f.I64(gemms)), m_rows, task_panels});
      });
    }
    b.CreateBr(done);
    // Otherwise: per panel, per GEMM, one tiled block call over the M block's micro-tiles.
    b.SetInsertPoint(tiled);
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
          b.CreateCall(GemmTiledBlockFunction(mc_, cfg),
                       {acts[op.act].packed, weight_block(panel, g, k0), kb, tile_of(pp, g), m_rows, next, tiled_kc});
        });
      }
    });
    b.CreateBr(done);
    b.SetInsertPoint(done);
  });
  b.CreateBr(computed);
  b.SetInsertPoint(computed);

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
      if (node->info().Has(kTraitProjection) && *node->IntAttr("index") == c.gemms[g]->index) {
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
