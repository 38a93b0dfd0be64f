// GEMM block functions: the tiled block and the streaming (decode) block.
#include "codegen/gemm_block.h"

#include <algorithm>
#include <functional>
#include <vector>

#include "absl/strings/str_cat.h"
#include "codegen/packing.h"
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

// The most weight panels a streaming call reads at once, and the accumulators (vector
// registers) it may use: with one row, four 64-wide panels are 16 of AVX-512's 32 registers.
// Measured standalone on the 7B gate/up panels (1 thread, M = 1, 2026-11-25): one panel at a
// time 21.9 GB/s, two 32.9, four 35.3 while a plain sequential sum read 28.8 GB/s (a busy
// moment); at a quiet moment 40.8 / 43.3 / 43.0 against 41.5. A core keeps more misses in
// flight over several streams, and it matters most when the memory system is shared.
constexpr int kMaxStreams = 4;

int AccumulatorBudget(int vector_width) { return vector_width >= 16 ? 16 : 8; }

// Panels a streaming call reads at once for micro-tiles of `rows` rows: a power of two.
int StreamsPerCall(int rows, int nv, int vector_width) {
  int streams = 1;
  while (streams * 2 <= kMaxStreams && streams * 2 * rows * nv <= AccumulatorBudget(vector_width)) streams *= 2;
  return streams;
}

// For each of `streams` panels s (the B panel at b_panel + s·b_stride, the tile at
// tile + s·tile_stride; strides in floats, unused for one stream):
// C_s[rows x nr] (row stride nr) += Apacked[0:kb, 0:rows] * B_s[0:kb, 0:nr], where the packed A
// micro-panel holds `mr` floats per k (rows interleaved) and a B panel `nr`.
// Step k also prefetches, into L2, the line k·64 bytes past each of `prefetch_streams`.
void EmitMicroKernel(FunctionEmitter& f, int rows, int streams, int mr, int nv, int vw,
                     const std::vector<llvm::Value*>& prefetch_streams, llvm::Value* a_panel,
                     llvm::Value* b_panel, llvm::Value* b_stride, llvm::Value* kb, llvm::Value* tile,
                     llvm::Value* tile_stride) {
  llvm::IRBuilder<>& b = f.b();
  llvm::Type* fty = b.getFloatTy();
  auto* vty = llvm::FixedVectorType::get(fty, vw);
  const int nr = nv * vw;
  const llvm::Align valign(vw * 4);
  std::vector<llvm::Value*> b_panels, tiles;
  for (int s = 0; s < streams; ++s) {
    b_panels.push_back(s == 0 ? b_panel : b.CreateInBoundsGEP(fty, b_panel, b.CreateMul(b_stride, f.I64(s))));
    tiles.push_back(s == 0 ? tile : b.CreateInBoundsGEP(fty, tile, b.CreateMul(tile_stride, f.I64(s))));
  }
  // Accumulator (s, i, j): stream s, row i, vector j.
  auto index = [&](int s, int i, int j) { return (s * rows + i) * nv + j; };
  auto tile_ptr = [&](int s, int i, int j) { return b.CreateConstInBoundsGEP1_64(fty, tiles[s], i * nr + j * vw); };
  std::vector<llvm::Value*> init;
  for (int s = 0; s < streams; ++s) {
    for (int i = 0; i < rows; ++i) {
      for (int j = 0; j < nv; ++j) init.push_back(b.CreateAlignedLoad(vty, tile_ptr(s, i, j), valign));
    }
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
  for (llvm::Value* stream : prefetch_streams) {
    llvm::Value* line = b.CreateGEP(b.getInt8Ty(), stream, b.CreateMul(k, f.I64(64)));
    b.CreateIntrinsic(llvm::Intrinsic::prefetch, {b.getPtrTy()},
                      {line, b.getInt32(0), b.getInt32(2), b.getInt32(1)});
  }
  llvm::Value* a_row = b.CreateInBoundsGEP(fty, a_panel, b.CreateMul(k, f.I64(mr)));
  std::vector<llvm::Value*> av;
  for (int i = 0; i < rows; ++i) {
    av.push_back(b.CreateVectorSplat(vw, b.CreateLoad(fty, b.CreateConstInBoundsGEP1_64(fty, a_row, i))));
  }
  std::vector<llvm::Value*> next(acc.size());
  for (int s = 0; s < streams; ++s) {
    llvm::Value* b_row = b.CreateInBoundsGEP(fty, b_panels[s], b.CreateMul(k, f.I64(nr)));
    std::vector<llvm::Value*> bv;
    for (int j = 0; j < nv; ++j) {
      bv.push_back(b.CreateAlignedLoad(vty, b.CreateConstInBoundsGEP1_64(fty, b_row, j * vw), valign));
    }
    for (int i = 0; i < rows; ++i) {
      for (int j = 0; j < nv; ++j) {
        next[index(s, i, j)] = b.CreateIntrinsic(llvm::Intrinsic::fma, {vty}, {av[i], bv[j], acc[index(s, i, j)]});
      }
    }
  }
  for (size_t i = 0; i < acc.size(); ++i) acc[i]->addIncoming(next[i], body);
  k->addIncoming(b.CreateAdd(k, f.I64(1), "k.next", true, true), body);
  b.CreateBr(header);
  b.SetInsertPoint(exit);
  for (int s = 0; s < streams; ++s) {
    for (int i = 0; i < rows; ++i) {
      for (int j = 0; j < nv; ++j) b.CreateAlignedStore(acc[index(s, i, j)], tile_ptr(s, i, j), valign);
    }
  }
}

// Where micro-tile `ms` of a block call streams its prefetches (kPrefetchSlots): chunk c of the
// next block is its lines [c·kb, (c+1)·kb); a slot with no chunk left points at the current
// panel, which is in L1, so its prefetches cost an L1 hit. `any` says whether the micro-tile
// has a chunk at all: those that do not run a micro-kernel without prefetch instructions, which
// cost the FMA rate on Intel cores even when they hit L1 (block_bench on an SPR-class VM, data
// in L1: 80-83 % of peak with every micro-tile prefetching, 88-92 % with none). Measured with
// the split (3 alternating rounds): block_bench 48 rows from L2 78-84 -> 85-90 %, 16 rows
// 74 -> 79 %; driver, 7B gate/up 1 thread M = 16 93-100 -> 103-111 GFLOP/s, M = 128 162-171 ->
// 177-181; compile of the 7B MLP +4 ms (twice the micro-kernels).
struct PrefetchPlan {
  std::vector<llvm::Value*> streams;
  llvm::Value* any = nullptr;
};

PrefetchPlan NextBlockPrefetchStreams(FunctionEmitter& f, const TileConfig& cfg, int nr, llvm::Value* ms,
                                      llvm::Value* m_rows, llvm::Value* kb, llvm::Value* next_b,
                                      llvm::Value* b_panel) {
  llvm::IRBuilder<>& b = f.b();
  const int lines_per_k = nr * 4 / 64;
  llvm::Value* tile_index = b.CreateSDiv(ms, f.I64(cfg.mr));
  llvm::Value* tiles = f.CeilDiv(m_rows, cfg.mr);
  llvm::Value* chunks_per_tile =
      b.CreateSelect(b.CreateICmpSLT(tiles, f.I64(lines_per_k)), f.I64(kPrefetchSlots), f.I64(1));
  PrefetchPlan plan;
  llvm::Value* first_chunk = b.CreateMul(tile_index, chunks_per_tile);
  plan.any = b.CreateICmpSLT(first_chunk, f.I64(lines_per_k), "prefetching");
  for (int slot = 0; slot < std::min(kPrefetchSlots, lines_per_k); ++slot) {
    llvm::Value* chunk = b.CreateAdd(first_chunk, f.I64(slot));
    llvm::Value* used = b.CreateAnd(b.CreateICmpSLT(chunk, f.I64(lines_per_k)),
                                    b.CreateICmpSLT(f.I64(slot), chunks_per_tile));
    llvm::Value* start = b.CreateGEP(b.getInt8Ty(), next_b, b.CreateMul(chunk, b.CreateMul(kb, f.I64(64))));
    plan.streams.push_back(b.CreateSelect(used, start, b_panel));
  }
  return plan;
}

// Declares an internal, never-inlined block function with an empty entry block: one per tile
// configuration, shared by every GEMM of the module, so the code LLVM optimises and compiles
// does not grow with the number of GEMMs.
// Parameters are pointers where `is_ptr` says so, i64 otherwise.
llvm::Function* DeclareBlockFunction(ModuleContext& mc, const std::string& name, const std::vector<bool>& is_ptr,
                                     const std::vector<unsigned>& noalias) {
  llvm::LLVMContext& ctx = mc.module.getContext();
  std::vector<llvm::Type*> types;
  for (bool ptr : is_ptr) {
    types.push_back(ptr ? static_cast<llvm::Type*>(llvm::PointerType::getUnqual(ctx)) : llvm::Type::getInt64Ty(ctx));
  }
  auto* type = llvm::FunctionType::get(llvm::Type::getVoidTy(ctx), types, false);
  llvm::Function* fn = llvm::Function::Create(type, llvm::Function::InternalLinkage, name, mc.module);
  fn->addFnAttr(llvm::Attribute::NoUnwind);
  fn->addFnAttr(llvm::Attribute::NoInline);
  for (unsigned i : noalias) fn->addParamAttr(i, llvm::Attribute::NoAlias);
  llvm::BasicBlock::Create(ctx, "entry", fn);
  return fn;
}

// Emits a chain of tests: the first `option` whose `test(option)` holds (the last one always)
// emits its code with `run(option)`, which must end its block with a branch.
void EmitFirstMatching(FunctionEmitter& f, const std::vector<int>& options,
                       const std::function<llvm::Value*(int)>& test, const std::function<void(int)>& run) {
  llvm::IRBuilder<>& b = f.b();
  for (size_t v = 0; v < options.size(); ++v) {
    llvm::BasicBlock* then = llvm::BasicBlock::Create(f.ctx(), "case", f.fn());
    llvm::BasicBlock* other = v + 1 < options.size() ? llvm::BasicBlock::Create(f.ctx(), "try", f.fn()) : nullptr;
    if (other != nullptr) {
      b.CreateCondBr(test(options[v]), then, other);
    } else {
      b.CreateBr(then);
    }
    b.SetInsertPoint(then);
    run(options[v]);
    if (other != nullptr) b.SetInsertPoint(other);
  }
}

}  // namespace

std::string TileConfig::ToString(int vector_width) const {
  return absl::StrCat(mr, "x", nv * vector_width, " micro-kernel, mc=", mc, ", kc=", kc,
                      why.empty() ? "" : absl::StrCat(" (", why, ")"));
}

llvm::Function* GemmTiledBlockFunction(ModuleContext& mc, const TileConfig& cfg) {
  const int vw = mc.target.vector_width;
  const int nr = cfg.nv * vw;
  const std::string name = absl::StrCat("braid_gemm_block_", cfg.mr, "x", nr);
  if (llvm::Function* existing = mc.module.getFunction(name)) return existing;
  llvm::Function* fn = DeclareBlockFunction(mc, name, {true, true, false, true, false, true, false}, {0, 1, 3});
  FunctionEmitter f(mc, fn, nullptr, nullptr);
  llvm::IRBuilder<>& b = f.b();
  llvm::Type* fty = b.getFloatTy();
  llvm::Value* a_packed = fn->getArg(0);
  llvm::Value* b_panel = fn->getArg(1);
  llvm::Value* kb = fn->getArg(2);
  llvm::Value* tile = fn->getArg(3);
  llvm::Value* m_rows = fn->getArg(4);
  llvm::Value* next_b = fn->getArg(5);
  llvm::Value* a_kc = fn->getArg(6);
  f.For(f.I64(0), m_rows, cfg.mr, "ms", [&](llvm::Value* ms) {
    llvm::Value* a_panel = b.CreateInBoundsGEP(fty, a_packed, b.CreateMul(ms, a_kc));
    llvm::Value* tile_rows = b.CreateInBoundsGEP(fty, tile, b.CreateMul(ms, f.I64(nr)));
    llvm::Value* rows_left = b.CreateSub(m_rows, ms);
    const PrefetchPlan prefetch = NextBlockPrefetchStreams(f, cfg, nr, ms, m_rows, kb, next_b, b_panel);
    // With or without prefetches, dispatch to the smallest row variant that covers what is left.
    llvm::BasicBlock* join = llvm::BasicBlock::Create(f.ctx(), "uk.join", fn);
    llvm::BasicBlock* prefetching = llvm::BasicBlock::Create(f.ctx(), "uk.prefetching", fn);
    llvm::BasicBlock* plain = llvm::BasicBlock::Create(f.ctx(), "uk.plain", fn);
    b.CreateCondBr(prefetch.any, prefetching, plain);
    for (llvm::BasicBlock* start : {prefetching, plain}) {
      b.SetInsertPoint(start);
      const std::vector<llvm::Value*> streams = start == prefetching ? prefetch.streams : std::vector<llvm::Value*>{};
      EmitFirstMatching(
          f, MicroKernelRowVariants(cfg.mr), [&](int rows) { return b.CreateICmpSLE(rows_left, f.I64(rows)); },
          [&](int rows) {
            EmitMicroKernel(f, rows, 1, cfg.mr, cfg.nv, vw, streams, a_panel, b_panel, nullptr, kb, tile_rows, nullptr);
            b.CreateBr(join);
          });
    }
    b.SetInsertPoint(join);
  });
  b.CreateRetVoid();
  return fn;
}

llvm::Function* GemmPanelRunFunction(ModuleContext& mc, const TileConfig& cfg) {
  const int nr = cfg.nv * mc.target.vector_width;
  const std::string name = absl::StrCat("braid_gemm_panel_run_", cfg.mr, "x", nr);
  if (llvm::Function* existing = mc.module.getFunction(name)) return existing;
  llvm::Function* block = GemmTiledBlockFunction(mc, cfg);
  llvm::Function* fn = DeclareBlockFunction(mc, name, {true, true, false, true, false, true, false}, {0, 1, 3});
  FunctionEmitter f(mc, fn, nullptr, nullptr);
  llvm::IRBuilder<>& b = f.b();
  llvm::Type* fty = b.getFloatTy();
  llvm::Value* a_packed = fn->getArg(0);
  llvm::Value* b_panel = fn->getArg(1);
  llvm::Value* k = fn->getArg(2);
  llvm::Value* tile = fn->getArg(3);
  llvm::Value* m_rows = fn->getArg(4);
  llvm::Value* after = fn->getArg(5);
  llvm::Value* kc = fn->getArg(6);
  f.For(f.I64(0), k, kc, "k0", [&](llvm::Value* k0) {
    llvm::Value* k_next = b.CreateAdd(k0, kc);
    // (No inbounds: past the panel's end this address is only compared away.)
    llvm::Value* next = b.CreateSelect(b.CreateICmpSLT(k_next, k), b.CreateGEP(fty, b_panel, b.CreateMul(k_next, f.I64(nr))), after);
    b.CreateCall(block, {b.CreateInBoundsGEP(fty, a_packed, b.CreateMul(k0, f.I64(cfg.mr))),
                         b.CreateInBoundsGEP(fty, b_panel, b.CreateMul(k0, f.I64(nr))), f.Min(kc, b.CreateSub(k, k0)),
                         tile, m_rows, next, k});
  });
  b.CreateRetVoid();
  return fn;
}

llvm::Function* GemmStreamingBlockFunction(ModuleContext& mc, const TileConfig& cfg) {
  const int vw = mc.target.vector_width;
  const int nr = cfg.nv * vw;
  const std::string name = absl::StrCat("braid_gemm_streaming_", cfg.mr, "x", nr);
  if (llvm::Function* existing = mc.module.getFunction(name)) return existing;
  llvm::Function* fn = DeclareBlockFunction(mc, name, {true, true, false, false, true, false, false, false}, {0, 1, 4});
  FunctionEmitter f(mc, fn, nullptr, nullptr);
  llvm::IRBuilder<>& b = f.b();
  llvm::LLVMContext& ctx = f.ctx();
  llvm::Type* fty = b.getFloatTy();
  llvm::Value* a_packed = fn->getArg(0);
  llvm::Value* b_panel = fn->getArg(1);
  llvm::Value* b_stride = fn->getArg(2);
  llvm::Value* kb = fn->getArg(3);
  llvm::Value* tile = fn->getArg(4);
  llvm::Value* tile_stride = fn->getArg(5);
  llvm::Value* m_rows = fn->getArg(6);
  llvm::Value* panels = fn->getArg(7);
  // for (p = 0; p < panels; p += streams): the smallest row variant covering m_rows, and the
  // most streams (a power of two, at most its StreamsPerCall) that panels - p still has.
  llvm::BasicBlock* entry = b.GetInsertBlock();
  llvm::BasicBlock* header = llvm::BasicBlock::Create(ctx, "panels.header", fn);
  llvm::BasicBlock* latch = llvm::BasicBlock::Create(ctx, "panels.latch", fn);
  llvm::BasicBlock* exit = llvm::BasicBlock::Create(ctx, "panels.exit", fn);
  b.CreateBr(header);
  b.SetInsertPoint(header);
  llvm::PHINode* p = b.CreatePHI(b.getInt64Ty(), 2, "p");
  p->addIncoming(f.I64(0), entry);
  llvm::BasicBlock* dispatch = llvm::BasicBlock::Create(ctx, "panels.body", fn);
  b.CreateCondBr(b.CreateICmpSLT(p, panels), dispatch, exit);
  b.SetInsertPoint(dispatch);
  llvm::Value* left = b.CreateSub(panels, p);
  llvm::Value* b_first = b.CreateInBoundsGEP(fty, b_panel, b.CreateMul(p, b_stride));
  llvm::Value* tile_first = b.CreateInBoundsGEP(fty, tile, b.CreateMul(p, tile_stride));
  b.SetInsertPoint(latch);
  llvm::PHINode* step = b.CreatePHI(b.getInt64Ty(), 8, "step");
  p->addIncoming(b.CreateAdd(p, step, "p.next", true, true), latch);
  b.CreateBr(header);
  b.SetInsertPoint(dispatch);
  EmitFirstMatching(
      f, MicroKernelRowVariants(cfg.mr), [&](int rows) { return b.CreateICmpSLE(m_rows, f.I64(rows)); },
      [&](int rows) {
        std::vector<int> counts;
        for (int s = StreamsPerCall(rows, cfg.nv, vw); s >= 1; s /= 2) counts.push_back(s);
        EmitFirstMatching(
            f, counts, [&](int streams) { return b.CreateICmpSGE(left, f.I64(streams)); },
            [&](int streams) {
              EmitMicroKernel(f, rows, streams, cfg.mr, cfg.nv, vw, {}, a_packed, b_first, b_stride, kb,
                              tile_first, tile_stride);
              step->addIncoming(f.I64(streams), b.GetInsertBlock());
              b.CreateBr(latch);
            });
      });
  b.SetInsertPoint(exit);
  b.CreateRetVoid();
  return fn;
}

}  // namespace braid
