// GEMM block functions: the tiled block and the streaming (decode) block.
#include "codegen/gemm_block.h"

#include <algorithm>
#include <functional>
#include <vector>

#include "absl/strings/str_cat.h"
#include "codegen/element_storage.h"
#include "codegen/packing.h"
#include "llvm/IR/Intrinsics.h"
#include "llvm/IR/IntrinsicsX86.h"

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

DType WeightDType(GemmPath path) { return PanelFormatFor(path, 16).dtype; }

// The element type of a packed weight panel: f32, bf16 held as i16 bits, or i8.
llvm::Type* WeightElementType(llvm::IRBuilder<>& b, GemmPath path) {
  return WeightDType(path) == DType::kI8 ? b.getInt8Ty() : StorageType(b, WeightDType(path));
}

// The element type of the packed activation: f32, bf16 pairs held as i16 bits, or u8 quads.
llvm::Type* ActElementType(llvm::IRBuilder<>& b, GemmPath path) {
  if (path == GemmPath::kI8Dot) return b.getInt8Ty();
  return path == GemmPath::kBf16Dot || path == GemmPath::kI8Bf16Dot ? static_cast<llvm::Type*>(b.getInt16Ty())
                                                                     : b.getFloatTy();
}

// What a micro-kernel step's weight row holds per column, for prefetch plans: on the dot paths
// 32 bits (a bf16 pair, an i8 quad: an f32's worth) or an i8 pair (a bf16's worth).
DType StepRowDType(GemmPath path) {
  if (path == GemmPath::kI8Bf16Dot) return DType::kBF16;
  return GemmKStep(path) > 1 ? DType::kF32 : WeightDType(path);
}

// 32 i8 weights as bf16, exactly (an integer of at most 8 bits is an f32 whose bf16 rounding
// changes nothing): widened to two f32 vectors, narrowed by one vcvtne2ps2bf16 (this path runs
// on AVX512-BF16 hosts only) — fewer instructions than shifting out the f32s' low halves, which
// matters where the conversion is amortised over few micro-tiles (M = 16).
llvm::Value* I8ToBf16(llvm::IRBuilder<>& b, llvm::Value* i8s, int n) {
  BRAID_CHECK(n == 32, "I8ToBf16: one 512-bit vector of bf16");
  llvm::Value* f = b.CreateSIToFP(i8s, llvm::FixedVectorType::get(b.getFloatTy(), n));
  llvm::Value* low = b.CreateShuffleVector(f, {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15});
  llvm::Value* high = b.CreateShuffleVector(f, {16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31});
  // Result lanes 0..15 come from the second operand, 16..31 from the first.
  return b.CreateIntrinsic(llvm::Intrinsic::x86_avx512bf16_cvtne2ps2bf16_512, {}, {high, low});
}


// `vw` weights at `address` as f32 lanes. bf16 widens exactly in registers (element_storage.h):
// three cheap vector ops per load on any AVX2 or AVX-512 host, and half the bytes from memory;
// i8 sign-extends and converts (vpmovsxbd + vcvtdq2ps, exact), a quarter of the bytes.
llvm::Value* LoadWeightVector(llvm::IRBuilder<>& b, DType weight, int vw, llvm::Value* address) {
  llvm::Type* element = weight == DType::kI8 ? b.getInt8Ty() : StorageType(b, weight);
  auto* stored = b.CreateAlignedLoad(llvm::FixedVectorType::get(element, vw), address,
                                     llvm::Align(vw * DTypeBytes(weight)));
  if (weight == DType::kI8) return b.CreateSIToFP(stored, llvm::FixedVectorType::get(b.getFloatTy(), vw));
  return WidenToF32(b, weight, stored);
}

// For each of `streams` panels s (the B panel at b_panel + s·b_stride, the tile at
// tile + s·tile_stride; strides in floats, unused for one stream):
// C_s[rows x nr] (row stride nr) += Apacked[0:kb, 0:rows] * B_s[0:kb, 0:nr], where the packed A
// micro-panel holds `mr` floats per k (rows interleaved) and a B panel `nr`.
// Step k also prefetches, into L2, a line (64 bytes) of each of `prefetch_streams`: line k, or
// with `prefetch_shift` (an i64 s, or null), line k >> s at the steps k that are multiples of
// 2^s only (a branch in the loop, which the predictor learns, rather than an unrolled copy).
void EmitMicroKernel(FunctionEmitter& f, int rows, int streams, int mr, int nv, int vw, GemmPath path,
                     const std::vector<llvm::Value*>& prefetch_streams, llvm::Value* prefetch_shift,
                     llvm::Value* a_panel, llvm::Value* b_panel, llvm::Value* b_stride, llvm::Value* kb,
                     llvm::Value* tile, llvm::Value* tile_stride) {
  llvm::IRBuilder<>& b = f.b();
  llvm::Type* fty = b.getFloatTy();
  llvm::Type* wty = WeightElementType(b, path);
  const DType weight = WeightDType(path);
  // The accumulators: f32 lanes, or exact i32 sums on the int8 dot path (its tile holds i32).
  const bool int8_dot = path == GemmPath::kI8Dot;
  auto* vty = llvm::FixedVectorType::get(int8_dot ? static_cast<llvm::Type*>(b.getInt32Ty()) : fty, vw);
  const int nr = nv * vw;
  const llvm::Align valign(vw * 4);
  std::vector<llvm::Value*> b_panels, tiles;
  for (int s = 0; s < streams; ++s) {
    b_panels.push_back(s == 0 ? b_panel : b.CreateInBoundsGEP(wty, b_panel, b.CreateMul(b_stride, f.I64(s))));
    tiles.push_back(s == 0 ? tile : b.CreateInBoundsGEP(fty, tile, b.CreateMul(tile_stride, f.I64(s))));
  }
  // Accumulator (s, i, j): stream s, row i, vector j.
  auto index = [&](int s, int i, int j) { return (s * rows + i) * nv + j; };
  auto tile_ptr = [&](int s, int i, int j) { return b.CreateConstInBoundsGEP1_64(fty, tiles[s], i * nr + j * vw); };
  std::vector<llvm::Value*> acc;
  for (int s = 0; s < streams; ++s) {
    for (int i = 0; i < rows; ++i) {
      for (int j = 0; j < nv; ++j) acc.push_back(b.CreateAlignedLoad(vty, tile_ptr(s, i, j), valign));
    }
  }
  // One k step: acc += A[k] * B[k]. On a dot path a step is a group of k filling 32 bits per
  // row and column — a bf16 pair (vdpbf16ps: each f32 lane adds a[2p]·b[2p] + a[2p+1]·b[2p+1])
  // or a u8 x i8 quad (vpdpbusd: each i32 lane adds four products) — A's group of row i
  // broadcast to every lane, B's groups of vw columns one vector.
  auto step = [&](llvm::Value* k, std::vector<llvm::Value*>& values) {
    if (GemmKStep(path) > 1) {
      llvm::Type* i8 = b.getInt8Ty();
      llvm::Type* operands = int8_dot ? static_cast<llvm::Type*>(vty)
                                      : llvm::FixedVectorType::get(b.getBFloatTy(), 2 * vw);
      const llvm::Intrinsic::ID dot =
          int8_dot ? llvm::Intrinsic::x86_avx512_vpdpbusd_512 : llvm::Intrinsic::x86_avx512bf16_dpbf16ps_512;
      llvm::Value* a_row = b.CreateInBoundsGEP(i8, a_panel, b.CreateMul(k, f.I64(4 * mr)));
      std::vector<llvm::Value*> av;
      for (int i = 0; i < rows; ++i) {
        llvm::Value* group = b.CreateLoad(b.getInt32Ty(), b.CreateConstInBoundsGEP1_64(i8, a_row, 4 * i));
        av.push_back(b.CreateBitCast(b.CreateVectorSplat(vw, group), operands));
      }
      // int8 weights in k pairs (two bytes per column) become bf16 pairs in registers.
      const bool i8_pairs = path == GemmPath::kI8Bf16Dot;
      const int row_bytes = i8_pairs ? 2 : 4;
      for (int s = 0; s < streams; ++s) {
        llvm::Value* b_row = b.CreateInBoundsGEP(i8, b_panels[s], b.CreateMul(k, f.I64(row_bytes * nr)));
        for (int j = 0; j < nv; ++j) {
          llvm::Value* at = b.CreateConstInBoundsGEP1_64(i8, b_row, row_bytes * j * vw);
          llvm::Value* bv = i8_pairs ? I8ToBf16(b, b.CreateAlignedLoad(llvm::FixedVectorType::get(i8, 2 * vw), at,
                                                                       llvm::Align(2 * vw)),
                                                2 * vw)
                                     : b.CreateAlignedLoad(operands, at, valign);
          for (int i = 0; i < rows; ++i) {
            values[index(s, i, j)] = b.CreateIntrinsic(dot, {}, {values[index(s, i, j)], av[i], bv});
          }
        }
      }
      return;
    }
    llvm::Value* a_row = b.CreateInBoundsGEP(fty, a_panel, b.CreateMul(k, f.I64(mr)));
    std::vector<llvm::Value*> av;
    for (int i = 0; i < rows; ++i) {
      av.push_back(b.CreateVectorSplat(vw, b.CreateLoad(fty, b.CreateConstInBoundsGEP1_64(fty, a_row, i))));
    }
    for (int s = 0; s < streams; ++s) {
      llvm::Value* b_row = b.CreateInBoundsGEP(wty, b_panels[s], b.CreateMul(k, f.I64(nr)));
      std::vector<llvm::Value*> bv;
      for (int j = 0; j < nv; ++j) {
        bv.push_back(LoadWeightVector(b, weight, vw, b.CreateConstInBoundsGEP1_64(wty, b_row, j * vw)));
      }
      for (int i = 0; i < rows; ++i) {
        for (int j = 0; j < nv; ++j) {
          values[index(s, i, j)] = b.CreateIntrinsic(llvm::Intrinsic::fma, {vty}, {av[i], bv[j], values[index(s, i, j)]});
        }
      }
    }
  };
  // The loop runs over k, or over k pairs on the dot path (kb odd: the packers zero the last
  // pair's second half).
  if (GemmKStep(path) > 1) kb = b.CreateSDiv(b.CreateAdd(kb, f.I64(GemmKStep(path) - 1)), f.I64(GemmKStep(path)), "steps");
  llvm::Value* mask = nullptr;  // k & mask == 0: a step that prefetches
  if (prefetch_shift != nullptr) mask = b.CreateSub(b.CreateShl(f.I64(1), prefetch_shift), f.I64(1), "prefetch.mask");
  llvm::BasicBlock* pre = b.GetInsertBlock();
  llvm::BasicBlock* header = llvm::BasicBlock::Create(f.ctx(), "uk.header", f.fn());
  llvm::BasicBlock* body = llvm::BasicBlock::Create(f.ctx(), "uk.body", f.fn());
  llvm::BasicBlock* exit = llvm::BasicBlock::Create(f.ctx(), "uk.exit", f.fn());
  b.CreateBr(header);
  b.SetInsertPoint(header);
  llvm::PHINode* k = b.CreatePHI(b.getInt64Ty(), 2, "k");
  k->addIncoming(f.I64(0), pre);
  std::vector<llvm::PHINode*> phis;
  for (llvm::Value* v : acc) {
    phis.push_back(b.CreatePHI(vty, 2, "acc"));
    phis.back()->addIncoming(v, pre);
  }
  b.CreateCondBr(b.CreateICmpSLT(k, kb), body, exit);
  b.SetInsertPoint(body);
  if (!prefetch_streams.empty()) {
    llvm::Value* line = k;
    llvm::BasicBlock* compute = nullptr;
    if (mask != nullptr) {
      llvm::BasicBlock* fetch = llvm::BasicBlock::Create(f.ctx(), "uk.fetch", f.fn());
      compute = llvm::BasicBlock::Create(f.ctx(), "uk.compute", f.fn());
      b.CreateCondBr(b.CreateICmpEQ(b.CreateAnd(k, mask), f.I64(0)), fetch, compute);
      b.SetInsertPoint(fetch);
      line = b.CreateLShr(k, prefetch_shift);
    }
    for (llvm::Value* stream : prefetch_streams) {
      b.CreateIntrinsic(llvm::Intrinsic::prefetch, {b.getPtrTy()},
                        {b.CreateGEP(b.getInt8Ty(), stream, b.CreateMul(line, f.I64(64))), b.getInt32(0),
                         b.getInt32(2), b.getInt32(1)});
    }
    if (compute != nullptr) {
      b.CreateBr(compute);
      b.SetInsertPoint(compute);
    }
  }
  std::vector<llvm::Value*> values(phis.begin(), phis.end());
  step(k, values);
  for (size_t i = 0; i < phis.size(); ++i) phis[i]->addIncoming(values[i], b.GetInsertBlock());
  k->addIncoming(b.CreateAdd(k, f.I64(1), "k.next", true, true), b.GetInsertBlock());
  b.CreateBr(header);
  b.SetInsertPoint(exit);
  acc.assign(phis.begin(), phis.end());
  for (int s = 0; s < streams; ++s) {
    for (int i = 0; i < rows; ++i) {
      for (int j = 0; j < nv; ++j) b.CreateAlignedStore(acc[index(s, i, j)], tile_ptr(s, i, j), valign);
    }
  }
}

// Where micro-tile `ms` of a block call streams its prefetches of the next block
// (lines_per_k · kb lines, contiguous), in one of two ways:
// - sparse, one line every `e` k steps for the largest e of kSparseSteps for which the call
//   has at least e · lines_per_k micro-tiles and kb is a multiple of e (on AVX-512, M blocks of
//   96 rows and more take 4, of 48 to 95 rows 2): micro-tile t takes lines [t·kb/e,
//   (t+1)·kb/e), so the block is requested at an even pace over the call's first micro-tiles.
//   One line per k step asks a core for ~20 GB/s, more than it gets from DRAM on the Intel VMs
//   (17-18 GB/s): perf samples of the 7B gate/up at M = 128 showed each prefetching micro-tile
//   taking 1.9x as long as a plain one. Measured (block_bench, 96 rows, weights from DRAM,
//   alternating binaries): 76-80 -> 84-86 % of peak; driver, 7B gate/up M = 128, 2 threads,
//   300-313 -> 330-336 GFLOP/s, M = 64 279-286 -> 315-318. The sparse micro-kernel tests k
//   against the step in its loop (an unrolled loop per step count measured at most ~2 %
//   faster and cost 2-4 ms of compile for the 7B MLP); only full micro-tiles have one, to keep
//   the code small, and a short last one prefetches its lines (and some beyond) densely.
// - dense otherwise: the first micro-tiles each take a `kb`-line chunk, one line per k step in
//   each of up to kPrefetchSlots streams (two when the call has fewer micro-tiles than the
//   block has lines per k row, so that M = 16 still covers the whole block); a slot with no
//   chunk left points at the current panel, which is in L1, so its prefetches cost an L1 hit.
// Micro-tiles with no lines run a micro-kernel without prefetch instructions, which cost the
// FMA rate on Intel cores even when they hit L1 (block_bench on an SPR-class VM, data in L1:
// 80-83 % of peak with every micro-tile prefetching, 88-92 % with none; measured with the
// split, 3 alternating rounds: block_bench 48 rows from L2 78-84 -> 85-90 %, 16 rows 74 -> 79 %;
// driver, 7B gate/up 1 thread M = 16 93-100 -> 103-111 GFLOP/s, M = 128 162-171 -> 177-181).
constexpr int kSparseSteps[] = {4, 2};  // powers of two, largest first

struct PrefetchPlan {
  llvm::Value* sparse = nullptr;        // this micro-tile runs the sparse micro-kernel
  llvm::Value* sparse_shift = nullptr;  // log2 of its steps per line
  llvm::Value* sparse_stream = nullptr;  // its first line
  llvm::Value* dense = nullptr;  // otherwise, this micro-tile prefetches `streams` densely
  std::vector<llvm::Value*> streams;
};

PrefetchPlan NextBlockPrefetchStreams(FunctionEmitter& f, const TileConfig& cfg, int nr, DType weight,
                                      llvm::Value* ms, llvm::Value* m_rows, llvm::Value* kb,
                                      llvm::Value* next_b, llvm::Value* b_panel) {
  llvm::IRBuilder<>& b = f.b();
  const int lines_per_k = std::max<int>(1, nr * DTypeBytes(weight) / 64);
  llvm::Value* tile_index = b.CreateSDiv(ms, f.I64(cfg.mr));
  llvm::Value* tiles = f.CeilDiv(m_rows, cfg.mr);
  llvm::Value* full_tile = b.CreateICmpSGE(b.CreateSub(m_rows, ms), f.I64(cfg.mr));
  PrefetchPlan plan;
  llvm::Value* sparse_call = b.getFalse();   // some sparse mode applies to this call
  llvm::Value* sparse_share = b.getFalse();  // and this micro-tile has lines in it
  plan.sparse_shift = f.I64(0);
  plan.sparse_stream = b_panel;
  for (int every : kSparseSteps) {
    llvm::Value* applies = b.CreateAnd(
        b.CreateNot(sparse_call), b.CreateAnd(b.CreateICmpSGE(tiles, f.I64(every * lines_per_k)),
                                              b.CreateICmpEQ(b.CreateSRem(kb, f.I64(every)), f.I64(0))));
    // kb / every lines of 64 bytes per micro-tile.
    llvm::Value* stream =
        b.CreateGEP(b.getInt8Ty(), next_b, b.CreateMul(tile_index, b.CreateMul(b.CreateSDiv(kb, f.I64(every)), f.I64(64))));
    plan.sparse_stream = b.CreateSelect(applies, stream, plan.sparse_stream);
    plan.sparse_shift = b.CreateSelect(applies, f.I64(__builtin_ctz(every)), plan.sparse_shift);
    sparse_share = b.CreateOr(sparse_share, b.CreateAnd(applies, b.CreateICmpSLT(tile_index, f.I64(every * lines_per_k))));
    sparse_call = b.CreateOr(sparse_call, applies);
  }
  plan.sparse = b.CreateAnd(sparse_share, full_tile, "sparse");
  llvm::Value* chunks_per_tile =
      b.CreateSelect(b.CreateICmpSLT(tiles, f.I64(lines_per_k)), f.I64(kPrefetchSlots), f.I64(1));
  llvm::Value* first_chunk = b.CreateMul(tile_index, chunks_per_tile);
  plan.dense = b.CreateOr(b.CreateAnd(b.CreateNot(sparse_call), b.CreateICmpSLT(first_chunk, f.I64(lines_per_k))),
                          sparse_share, "dense");
  for (int slot = 0; slot < std::min(kPrefetchSlots, lines_per_k); ++slot) {
    llvm::Value* chunk = b.CreateAdd(first_chunk, f.I64(slot));
    llvm::Value* used = b.CreateAnd(b.CreateICmpSLT(chunk, f.I64(lines_per_k)),
                                    b.CreateICmpSLT(f.I64(slot), chunks_per_tile));
    llvm::Value* start = b.CreateGEP(b.getInt8Ty(), next_b, b.CreateMul(chunk, b.CreateMul(kb, f.I64(64))));
    // A short micro-tile of a sparse call takes its share in the first slot.
    plan.streams.push_back(
        b.CreateSelect(sparse_call, slot == 0 ? plan.sparse_stream : b_panel, b.CreateSelect(used, start, b_panel)));
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

PanelFormat GemmPanelFormat(const TileConfig& cfg, int vector_width, GemmPath path) {
  return PanelFormatFor(path, cfg.nv * vector_width);
}

namespace {
// Block functions exist per path; f32's keep their historical names.
std::string PathSuffix(GemmPath path) {
  switch (path) {
    case GemmPath::kF32:
      return "";
    case GemmPath::kBf16Widen:
      return "_bf16";
    case GemmPath::kBf16Dot:
      return "_bf16dot";
    case GemmPath::kI8Widen:
      return "_i8";
    case GemmPath::kI8Dot:
      return "_i8dot";
    case GemmPath::kI8Bf16Dot:
      return "_i8bf16dot";
  }
  return "";
}
}  // namespace

std::string TileConfig::ToString(int vector_width) const {
  return absl::StrCat(mr, "x", nv * vector_width, " micro-kernel, mc=", mc, ", kc=", kc,
                      why.empty() ? "" : absl::StrCat(" (", why, ")"));
}

llvm::Function* GemmTiledBlockFunction(ModuleContext& mc, const TileConfig& cfg, GemmPath path) {
  const int vw = mc.target.vector_width;
  const int nr = GemmPanelFormat(cfg, vw, path).width;
  const std::string name = absl::StrCat("braid_gemm_block_", cfg.mr, "x", nr, PathSuffix(path));
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
    llvm::Value* a_panel = b.CreateInBoundsGEP(ActElementType(b, path), a_packed, b.CreateMul(ms, a_kc));
    llvm::Value* tile_rows = b.CreateInBoundsGEP(fty, tile, b.CreateMul(ms, f.I64(nr)));
    llvm::Value* rows_left = b.CreateSub(m_rows, ms);
    // The plan counts micro-kernel steps: on the dot path a step is a k pair, whose weight row
    // (nr pairs of bf16) is as long as an f32 row, so the plan is f32's over kb / 2 steps.
    // Measured on the bf16 7B gate/up (AMD VM, 3 alternating rounds): without prefetch on the
    // dot path M = 16 19.1-20.4 ms (1 thread) and 9.7-11.4 (2), M = 128 134-212 and 75-79;
    // with it 14.9-15.2 and 7.5-7.8, 128-133 and 65.
    // (The int8 dot path's quad rows, nr i32, are f32 rows too.)
    const bool dot = GemmKStep(path) > 1;
    llvm::Value* steps = dot ? b.CreateSDiv(b.CreateAdd(kb, f.I64(GemmKStep(path) - 1)), f.I64(GemmKStep(path))) : kb;
    const PrefetchPlan prefetch = NextBlockPrefetchStreams(f, cfg, nr, StepRowDType(path), ms,
                                                           m_rows, steps, next_b, b_panel);
    // Sparse, dense or no prefetches, then the smallest row variant that covers what is left.
    llvm::BasicBlock* join = llvm::BasicBlock::Create(f.ctx(), "uk.join", fn);
    llvm::BasicBlock* sparse = llvm::BasicBlock::Create(f.ctx(), "uk.sparse", fn);
    llvm::BasicBlock* other = llvm::BasicBlock::Create(f.ctx(), "uk.other", fn);
    b.CreateCondBr(prefetch.sparse, sparse, other);
    b.SetInsertPoint(sparse);
    EmitMicroKernel(f, cfg.mr, 1, cfg.mr, cfg.nv, vw, path, {prefetch.sparse_stream}, prefetch.sparse_shift, a_panel, b_panel,
                    nullptr, kb, tile_rows, nullptr);
    b.CreateBr(join);
    b.SetInsertPoint(other);
    llvm::BasicBlock* prefetching = llvm::BasicBlock::Create(f.ctx(), "uk.prefetching", fn);
    llvm::BasicBlock* plain = llvm::BasicBlock::Create(f.ctx(), "uk.plain", fn);
    b.CreateCondBr(prefetch.dense, prefetching, plain);
    for (llvm::BasicBlock* start : {prefetching, plain}) {
      b.SetInsertPoint(start);
      const std::vector<llvm::Value*> streams = start == prefetching ? prefetch.streams : std::vector<llvm::Value*>{};
      EmitFirstMatching(
          f, MicroKernelRowVariants(cfg.mr), [&](int rows) { return b.CreateICmpSLE(rows_left, f.I64(rows)); },
          [&](int rows) {
            EmitMicroKernel(f, rows, 1, cfg.mr, cfg.nv, vw, path, streams, nullptr, a_panel, b_panel, nullptr, kb,
                            tile_rows, nullptr);
            b.CreateBr(join);
          });
    }
    b.SetInsertPoint(join);
  });
  b.CreateRetVoid();
  return fn;
}

llvm::Function* GemmPanelRunFunction(ModuleContext& mc, const TileConfig& cfg, GemmPath path) {
  const int nr = GemmPanelFormat(cfg, mc.target.vector_width, path).width;
  // int8 weights under bf16 activations: each chunk of the panel becomes bf16 once, for all the
  // M block's micro-tiles, which then run the bf16 micro-kernel (as the tiled path's blocks do;
  // converting in registers would repeat the conversion for every micro-tile). Its buffer is
  // sized by kc, so kc is part of the name (kernels of one module may block K differently).
  const bool to_bf16 = path == GemmPath::kI8Bf16Dot;
  const std::string name = absl::StrCat("braid_gemm_panel_run_", cfg.mr, "x", nr, PathSuffix(path),
                                        to_bf16 ? absl::StrCat("_kc", cfg.kc) : "");
  if (llvm::Function* existing = mc.module.getFunction(name)) return existing;
  llvm::Function* block = GemmTiledBlockFunction(mc, cfg, to_bf16 ? GemmPath::kBf16Dot : path);
  llvm::Function* fn = DeclareBlockFunction(mc, name, {true, true, false, true, false, true, false}, {0, 1, 3});
  FunctionEmitter f(mc, fn, nullptr, nullptr);
  llvm::IRBuilder<>& b = f.b();
  llvm::Value* a_packed = fn->getArg(0);
  llvm::Value* b_panel = fn->getArg(1);
  llvm::Value* k = fn->getArg(2);
  llvm::Value* tile = fn->getArg(3);
  llvm::Value* m_rows = fn->getArg(4);
  llvm::Value* after = fn->getArg(5);
  llvm::Value* kc = fn->getArg(6);
  llvm::Type* wty = WeightElementType(b, path);
  llvm::Type* aty = ActElementType(b, path);
  // The micro-panel stride of A packed for all of K: K, rounded up to whole pairs on the dot
  // path (kc is even, so every chunk but the last starts on a pair).
  const int step_k = GemmKStep(path);
  llvm::Value* a_kc = step_k > 1 ? b.CreateAnd(b.CreateAdd(k, f.I64(step_k - 1)), f.I64(-step_k)) : k;
  llvm::Value* converted = nullptr;
  if (to_bf16) {
    // The callers' chunk, GemmTaskEmitter's small-block K, is at most 4·kc (gemm_task.cc).
    llvm::IRBuilder<> entry(&fn->getEntryBlock(), fn->getEntryBlock().begin());
    auto* buffer = entry.CreateAlloca(llvm::ArrayType::get(entry.getInt16Ty(), 4 * int64_t{cfg.kc} * nr), nullptr,
                                      "b.bf16");
    buffer->setAlignment(llvm::Align(64));
    converted = buffer;
  }
  f.For(f.I64(0), k, kc, "k0", [&](llvm::Value* k0) {
    llvm::Value* k_next = b.CreateAdd(k0, kc);
    llvm::Value* kb = f.Min(kc, b.CreateSub(k, k0));
    // (No inbounds: past the panel's end this address is only compared away.)
    llvm::Value* next = b.CreateSelect(b.CreateICmpSLT(k_next, k), b.CreateGEP(wty, b_panel, b.CreateMul(k_next, f.I64(nr))), after);
    llvm::Value* weights = b.CreateInBoundsGEP(wty, b_panel, b.CreateMul(k0, f.I64(nr)));
    if (to_bf16) {
      llvm::Value* pairs = b.CreateSDiv(b.CreateAdd(kb, f.I64(1)), f.I64(2));
      b.CreateCall(GemmI8ToBf16BlockFunction(mc), {weights, b.CreateMul(pairs, f.I64(2 * nr)), converted});
      weights = converted;
    }
    b.CreateCall(block, {b.CreateInBoundsGEP(aty, a_packed, b.CreateMul(k0, f.I64(cfg.mr))), weights, kb, tile, m_rows,
                         next, a_kc});
  });
  b.CreateRetVoid();
  return fn;
}

llvm::Function* GemmStreamingBlockFunction(ModuleContext& mc, const TileConfig& cfg, GemmPath path) {
  const int vw = mc.target.vector_width;
  const int nr = GemmPanelFormat(cfg, vw, path).width;
  const std::string name = absl::StrCat("braid_gemm_streaming_", cfg.mr, "x", nr, PathSuffix(path));
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
  llvm::Value* b_first = b.CreateInBoundsGEP(WeightElementType(b, path), b_panel, b.CreateMul(p, b_stride));
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
              EmitMicroKernel(f, rows, streams, cfg.mr, cfg.nv, vw, path, {}, nullptr, a_packed, b_first, b_stride, kb,
                              tile_first, tile_stride);
              step->addIncoming(f.I64(streams), b.GetInsertBlock());
              b.CreateBr(latch);
            });
      });
  b.SetInsertPoint(exit);
  b.CreateRetVoid();
  return fn;
}

llvm::Function* GemmI8ToBf16BlockFunction(ModuleContext& mc) {
  const std::string name = "braid_i8_block_to_bf16";
  if (llvm::Function* existing = mc.module.getFunction(name)) return existing;
  llvm::Function* fn = DeclareBlockFunction(mc, name, {true, false, true}, {0, 2});
  FunctionEmitter f(mc, fn, nullptr, nullptr);
  llvm::IRBuilder<>& b = f.b();
  const int n = 2 * mc.target.vector_width;  // a bf16 vector's worth (a count is whole panel rows)
  llvm::Value* src = fn->getArg(0);
  llvm::Value* count = fn->getArg(1);
  llvm::Value* dst = fn->getArg(2);
  f.For(f.I64(0), count, n, "i", [&](llvm::Value* i) {
    llvm::Value* narrow = b.CreateAlignedLoad(llvm::FixedVectorType::get(b.getInt8Ty(), n),
                                              b.CreateInBoundsGEP(b.getInt8Ty(), src, i), llvm::Align(n));
    b.CreateAlignedStore(I8ToBf16(b, narrow, n), b.CreateInBoundsGEP(b.getInt16Ty(), dst, i), llvm::Align(2 * n));
  });
  b.CreateRetVoid();
  return fn;
}

llvm::Function* GemmWidenI8BlockFunction(ModuleContext& mc) {
  const std::string name = "braid_widen_i8_block";
  if (llvm::Function* existing = mc.module.getFunction(name)) return existing;
  llvm::Function* fn = DeclareBlockFunction(mc, name, {true, false, true}, {0, 2});
  FunctionEmitter f(mc, fn, nullptr, nullptr);
  llvm::IRBuilder<>& b = f.b();
  const int vw = mc.target.vector_width;
  llvm::Value* src = fn->getArg(0);
  llvm::Value* count = fn->getArg(1);
  llvm::Value* dst = fn->getArg(2);
  f.For(f.I64(0), count, vw, "i", [&](llvm::Value* i) {
    llvm::Value* wide = LoadWeightVector(b, DType::kI8, vw, b.CreateInBoundsGEP(b.getInt8Ty(), src, i));
    b.CreateAlignedStore(wide, b.CreateInBoundsGEP(b.getFloatTy(), dst, i), llvm::Align(vw * 4));
  });
  b.CreateRetVoid();
  return fn;
}

}  // namespace braid
