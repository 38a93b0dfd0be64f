// One GEMM template task: frame, the three loop orders, the epilogue binder.
#include "codegen/gemm_task.h"

#include <algorithm>

#include "absl/container/flat_hash_map.h"
#include "codegen/element_loop.h"
#include "codegen/element_storage.h"
#include "codegen/head_epilogue.h"
#include "codegen/shared_pack.h"
#include "ir/status_macros.h"

namespace braid {
namespace {

// K rounded up to whole steps of `k_step` (a power of two).
llvm::Value* RoundUpToSteps(llvm::IRBuilder<>& b, llvm::Value* k, int k_step) {
  if (k_step == 1) return k;
  return b.CreateAnd(b.CreateAdd(k, b.getInt64(k_step - 1)), b.getInt64(-k_step));
}

// The runtime's per-thread scratch buffer (braid_thread_scratch in runtime.h).
llvm::FunctionCallee ThreadScratchFunction(ModuleContext& mc) {
  llvm::LLVMContext& ctx = mc.module.getContext();
  llvm::Type* ptr = llvm::PointerType::getUnqual(ctx);
  return mc.module.getOrInsertFunction("braid_thread_scratch",
                                       llvm::FunctionType::get(ptr, {llvm::Type::getInt64Ty(ctx)}, false));
}

// A buffer (in the entry block) for one packed activation block, mc x kc.
llvm::Value* PackBuffer(FunctionEmitter& f, const TileConfig& config) {
  llvm::IRBuilder<> entry(&f.fn()->getEntryBlock(), f.fn()->getEntryBlock().begin());
  llvm::AllocaInst* packed =
      entry.CreateAlloca(llvm::ArrayType::get(entry.getFloatTy(), config.mc * config.kc), nullptr, "a.packed");
  packed->setAlignment(llvm::Align(64));
  return packed;
}

}  // namespace

llvm::Value* MBlockRows(FunctionEmitter& f, llvm::Value* m, llvm::Value* m_blocks, int mr) {
  llvm::IRBuilder<>& b = f.b();
  llvm::Value* rows_per_block = b.CreateSDiv(b.CreateAdd(m, b.CreateSub(m_blocks, f.I64(1))), m_blocks);
  return b.CreateMul(f.CeilDiv(rows_per_block, mr), f.I64(mr), "block_rows");
}

llvm::Value* PanelsPerTask(FunctionEmitter& f, llvm::Value* m_blocks, llvm::Value* panels) {
  llvm::Value* p = f.b().CreateSDiv(f.b().CreateMul(m_blocks, panels), f.I64(16));
  p = f.Min(p, f.I64(kMaxPanelsPerTask));
  return f.b().CreateSelect(f.b().CreateICmpSLT(p, f.I64(1)), f.I64(1), p);
}

namespace {
// Whether heads of `head_dim` can start anywhere in a panel of `nr` relative to its edges.
bool Straddles(int nr, int64_t head_dim) { return head_dim % nr != 0 && nr % head_dim != 0; }
}  // namespace

llvm::Value* HeadsPerTask(FunctionEmitter& f, llvm::Value* per_task, int nr, int64_t head_dim) {
  llvm::Value* usable = f.b().CreateSub(per_task, f.I64(Straddles(nr, head_dim) ? 1 : 0));
  llvm::Value* heads = f.b().CreateSDiv(f.b().CreateMul(usable, f.I64(nr)), f.I64(head_dim));
  return f.b().CreateSelect(f.b().CreateICmpSLT(heads, f.I64(1)), f.I64(1), heads);
}

int64_t MaxTaskPanels(const GemmOutputClass& c, int nr) {
  if (c.head_dim == 0) return kMaxPanelsPerTask;
  return std::max<int64_t>(kMaxPanelsPerTask, (c.head_dim + nr - 1) / nr + (Straddles(nr, c.head_dim) ? 1 : 0));
}

llvm::Value* ColumnGroups(FunctionEmitter& f, const GemmOutputClass& c, int nr, llvm::Value* m_blocks) {
  llvm::Value* panels = f.CeilDiv(f.Cols(*c.type), nr);
  llvm::Value* per_task = PanelsPerTask(f, m_blocks, panels);
  if (c.head_dim == 0) return f.b().CreateSDiv(f.b().CreateAdd(panels, f.b().CreateSub(per_task, f.I64(1))), per_task);
  llvm::Value* heads = f.b().CreateSDiv(f.Cols(*c.type), f.I64(c.head_dim));
  llvm::Value* per = HeadsPerTask(f, per_task, nr, c.head_dim);
  return f.b().CreateSDiv(f.b().CreateAdd(heads, f.b().CreateSub(per, f.I64(1))), per);
}

GemmTaskEmitter::GemmTaskEmitter(ModuleContext& mc, const Kernel& kernel, FunctionEmitter& f,
                                 const GemmOutputClass& c, const TileConfig& config, llvm::Value* task,
                                 llvm::Value* tile, SharedPack* shared, llvm::Value* shared_buffer)
    : mc_(mc),
      kernel_(kernel),
      f_(f),
      b_(f.b()),
      c_(c),
      cfg_(config),
      task_(task),
      tile_(tile),
      shared_(shared),
      shared_buffer_(shared_buffer),
      nr_(config.nv * mc.target.vector_width),
      gemms_(c.gemms.size()) {}

void GemmTaskEmitter::Emit() {
  EmitFrame();
  EmitOperands();
  EmitKBlockLengths();
  // Small M blocks (a few micro-tiles, not one) run panel-major when the whole K of their
  // activations fits the thread's scratch buffer: the activations are packed once for all of K,
  // then per panel and GEMM the K blocks run back to back, so the weights stream from memory in
  // one sequential run per panel (K·nr floats) and the tile stays in L1, instead of a K block of
  // each of the task's panels and GEMMs in turn (a jump every 128 KiB at kc 512).
  llvm::Value* rows_padded = b_.CreateMul(f_.CeilDiv(m_rows_, cfg_.mr), f_.I64(cfg_.mr));
  act_floats_ = b_.CreateMul(rows_padded, k_max_, "act_floats");
  llvm::Value* panel_major =
      b_.CreateAnd(b_.CreateAnd(small_block_, b_.CreateNot(single_tile_)),
                   b_.CreateICmpSLE(b_.CreateMul(act_floats_, f_.I64(acts_.size())), f_.I64(kPanelMajorMaxFloats)),
                   "panel_major");
  llvm::BasicBlock* panel_major_bb = llvm::BasicBlock::Create(f_.ctx(), "panel_major", f_.fn());
  llvm::BasicBlock* k_outer_bb = llvm::BasicBlock::Create(f_.ctx(), "k_outer", f_.fn());
  llvm::BasicBlock* computed = llvm::BasicBlock::Create(f_.ctx(), "computed", f_.fn());
  b_.CreateCondBr(panel_major, panel_major_bb, k_outer_bb);
  b_.SetInsertPoint(panel_major_bb);
  EmitPanelMajor();
  b_.CreateBr(computed);
  b_.SetInsertPoint(k_outer_bb);
  EmitKBlocks();
  b_.CreateBr(computed);
  b_.SetInsertPoint(computed);
  BindEpilogue();
}

void GemmTaskEmitter::EmitFrame() {
  m_ = f_.Rows(*c_.type);
  n_ = f_.Cols(*c_.type);
  llvm::Value* m_blocks = f_.CeilDiv(m_, cfg_.mc);
  llvm::Value* panels = f_.CeilDiv(n_, nr_);
  llvm::Value* per_task = PanelsPerTask(f_, m_blocks, panels);
  llvm::Value* group = b_.CreateSDiv(task_, m_blocks);
  if (c_.head_dim == 0) {
    first_panel_ = b_.CreateMul(group, per_task, "first_panel");
    task_panels_ = f_.Min(per_task, b_.CreateSub(panels, first_panel_));
    col_begin_ = b_.CreateMul(first_panel_, f_.I64(nr_));
    col_end_ = f_.Min(n_, b_.CreateMul(b_.CreateAdd(first_panel_, task_panels_), f_.I64(nr_)));
  } else {
    // Whole heads: the heads-view epilogue reads a head's columns together.
    llvm::Value* per = HeadsPerTask(f_, per_task, nr_, c_.head_dim);
    head_begin_ = b_.CreateMul(group, per, "head_begin");
    head_end_ = f_.Min(b_.CreateAdd(head_begin_, per), b_.CreateSDiv(n_, f_.I64(c_.head_dim)));
    col_begin_ = b_.CreateMul(head_begin_, f_.I64(c_.head_dim));
    col_end_ = b_.CreateMul(head_end_, f_.I64(c_.head_dim));
    first_panel_ = b_.CreateUDiv(col_begin_, f_.I64(nr_), "first_panel");
    task_panels_ = b_.CreateSub(f_.CeilDiv(col_end_, nr_), first_panel_);
  }
  // The M blocks split M evenly (in whole micro-tiles) instead of mc, ..., mc, rest: M = 128
  // is two blocks of 66 and 62 rows, not 96 and 32, so the tasks the threads share are of
  // about one size and no thread is left with a long one at the end (4 % of the 2-thread time
  // at M = 128 on the 1024x2816 shape, by a simulation of the task queue).
  llvm::Value* block_rows = MBlockRows(f_, m_, m_blocks, cfg_.mr);
  m0_ = b_.CreateMul(b_.CreateSRem(task_, m_blocks), block_rows, "m0");
  m_rows_ = f_.Min(block_rows, b_.CreateSub(m_, m0_));
  // Tiles hold the task's rows rounded up to whole micro-tiles (a row variant never reaches
  // past that), so a small M zeroes, and keeps in cache, only the rows it computes.
  tile_floats_ = b_.CreateMul(f_.CeilDiv(m_rows_, cfg_.mr), f_.I64(cfg_.mr * nr_), "tile_floats");
  b_.CreateMemSet(tile_, b_.getInt8(0),
                  b_.CreateMul(b_.CreateMul(task_panels_, tile_floats_), f_.I64(gemms_ * 4)), llvm::Align(64));
}

void GemmTaskEmitter::EmitOperands() {
  k_max_ = f_.I64(0);
  for (size_t g = 0; g < gemms_; ++g) {
    const GemmSpec& spec = *c_.gemms[g];
    llvm::Value* k = f_.DimValue(spec.act->type().tensor().shape.back());
    const GemmPath path = GemmPathFor(spec.act->type().tensor().dtype, spec.weight->type().tensor().dtype,
                                      mc_.target.bf16_dot());
    const int k_step = GemmKStep(path);
    auto act = std::find_if(acts_.begin(), acts_.end(), [&](const Activation& a) { return a.value == spec.act; });
    if (act == acts_.end()) {
      acts_.push_back({spec.act, f_.Buffer(mc_.plan.value_slot.at(spec.act)), k, PackBuffer(f_, cfg_), k_step});
      act = acts_.end() - 1;
    }
    BRAID_CHECK(act->k_step == k_step, "GEMMs sharing an activation share its packing");
    ops_.push_back({k, RoundUpToSteps(b_, k, k_step), f_.Buffer(spec.packed_slot),
                    static_cast<size_t>(act - acts_.begin()), path});
    k_max_ = b_.CreateSelect(b_.CreateICmpSGT(k, k_max_), k, k_max_);
  }
}

// K blocks outside, panels and GEMMs inside: each activation block is packed once and reused by
// every panel of the task and every GEMM that reads it while it is hot. K block length and
// block function by the M block's size:
// - A single micro-tile (M <= mr: decoding, where the GEMM only streams weights) runs the
//   streaming block function, several panels of a weight per pass over k, without software
//   prefetch, with K blocks mc/mr times longer than kc (the packed-activation buffer of mc x kc
//   floats holds that much): each panel is read in long sequential runs instead of kc rows at
//   a time interleaved with the task's other panels (measured on the 7B shape's panels:
//   interleaved 32 KiB runs read ~25 % slower than long ones).
// - A few micro-tiles (up to kSmallBlockTiles, e.g. M = 16) take K blocks as long as the
//   buffer holds for that many: with so little reuse of each weight block per call, the calls'
//   fixed costs (tile loads and stores, the first micro-tile's wait for the block) weigh more
//   than L1 residency of the block (4·kc = 512 for the defaults). Measured on the 7B gate/up
//   (braid --bench, alternating binaries, 3 rounds, 1 and 2 threads; faster in 17 of 18
//   pairs): M = 12 51-60 -> 57-65 % of peak, M = 16 60-65 -> 66-72 %, M = 24 78-85 -> 78-91 %.
// - Otherwise kc, with the tiled block function.
void GemmTaskEmitter::EmitKBlockLengths() {
  // (Capped at the lengths measured for mc = 96: the taller M blocks of 132 rows were measured
  // at M >= 128 only.)
  const int64_t long_kc = std::min<int64_t>(16, cfg_.mc / cfg_.mr) * cfg_.kc;
  small_block_kc_ = std::max<int64_t>(cfg_.kc, std::min(4, cfg_.mc / (kSmallBlockTiles * cfg_.mr)) * cfg_.kc);
  single_tile_ = b_.CreateICmpSLE(m_rows_, f_.I64(cfg_.mr), "single_tile");
  small_block_ = b_.CreateICmpSLE(m_rows_, f_.I64(kSmallBlockTiles * cfg_.mr), "small_block");
  tiled_kc_ = b_.CreateSelect(small_block_, f_.I64(small_block_kc_), f_.I64(cfg_.kc), "tiled_kc");
  kc_ = b_.CreateSelect(single_tile_, f_.I64(long_kc), tiled_kc_, "kc");
}

llvm::Value* GemmTaskEmitter::TileOf(llvm::Value* pp, size_t g) {
  // The tile of GEMM g for the task's panel pp is at (pp·gemms + g)·tile_floats.
  llvm::Value* index = b_.CreateAdd(b_.CreateMul(pp, f_.I64(gemms_)), f_.I64(g));
  return b_.CreateInBoundsGEP(b_.getFloatTy(), tile_, b_.CreateMul(index, tile_floats_));
}

llvm::Value* GemmTaskEmitter::WeightBlock(llvm::Value* panel, size_t g, llvm::Value* k_start) {
  // Computed without inbounds: the next block's address may lie past the weight, and is then
  // only prefetched, which never faults.
  llvm::Value* offset = b_.CreateMul(b_.CreateAdd(b_.CreateMul(panel, ops_[g].k_panel), k_start), f_.I64(nr_));
  // (f32, else an integer of the panel element's width: the address arithmetic only needs its size.)
  const DType dtype = PanelFormatFor(ops_[g].path, nr_).dtype;
  llvm::Type* element = dtype == DType::kF32 ? b_.getFloatTy() : b_.getIntNTy(8 * DTypeBytes(dtype));
  return b_.CreateGEP(element, ops_[g].packed, offset);
}

void GemmTaskEmitter::IfKInRange(llvm::Value* k0, llvm::Value* k,
                                 const std::function<void(llvm::Value* kb)>& body) {
  llvm::BasicBlock* then = llvm::BasicBlock::Create(f_.ctx(), "kblock", f_.fn());
  llvm::BasicBlock* after = llvm::BasicBlock::Create(f_.ctx(), "kblock.end", f_.fn());
  b_.CreateCondBr(b_.CreateICmpSLT(k0, k), then, after);
  b_.SetInsertPoint(then);
  body(f_.Min(kc_, b_.CreateSub(k, k0)));
  b_.CreateBr(after);
  b_.SetInsertPoint(after);
}

void GemmTaskEmitter::EmitPanelMajor() {
  llvm::Value* scratch = b_.CreateCall(ThreadScratchFunction(mc_),
                                       {b_.CreateMul(b_.CreateMul(act_floats_, f_.I64(acts_.size())), f_.I64(4))});
  std::vector<llvm::Value*> packed_act;
  for (size_t a = 0; a < acts_.size(); ++a) {
    packed_act.push_back(b_.CreateInBoundsGEP(b_.getFloatTy(), scratch, b_.CreateMul(act_floats_, f_.I64(a))));
    // All of K per micro-panel (whole pairs / quads on the dot paths, as the panel run reads it).
    llvm::Value* panel_k = RoundUpToSteps(b_, acts_[a].k, acts_[a].k_step);
    b_.CreateCall(PackActivationFunction(mc_, acts_[a].value->type().tensor().dtype, acts_[a].k_step),
                  {acts_[a].data, acts_[a].k, m0_, m_rows_, f_.I64(0), acts_[a].k, f_.I64(cfg_.mr), panel_k,
                   packed_act.back()});
  }
  f_.For(f_.I64(0), task_panels_, 1, "pm.pp", [&](llvm::Value* pp) {
    llvm::Value* panel = b_.CreateAdd(first_panel_, pp);
    for (size_t g = 0; g < gemms_; ++g) {
      // After a panel comes the next GEMM's (or, after the last GEMM, the next panel's).
      llvm::Value* after = g + 1 < gemms_ ? WeightBlock(panel, g + 1, f_.I64(0))
                                          : WeightBlock(b_.CreateAdd(panel, f_.I64(1)), 0, f_.I64(0));
      b_.CreateCall(GemmPanelRunFunction(mc_, cfg_, ops_[g].path), {packed_act[ops_[g].act], WeightBlock(panel, g, f_.I64(0)),
                                                      ops_[g].k, TileOf(pp, g), m_rows_, after, f_.I64(small_block_kc_)});
    }
  });
}

void GemmTaskEmitter::EmitKBlocks() {
  // Large M blocks read their blocks from the kernel's shared packed copy when the entry made
  // one (shared_pack.h); the others pack their own.
  llvm::Value* use_shared = b_.CreateAnd(b_.CreateNot(small_block_), b_.CreateIsNotNull(shared_buffer_), "use_shared");
  f_.For(f_.I64(0), k_max_, kc_, "k0", [&](llvm::Value* k0) {
    act_blocks_.clear();
    for (const Activation& act : acts_) {
      act_blocks_.push_back(
          b_.CreateSelect(use_shared, shared_->Block(f_, shared_buffer_, act.value, m0_, k0), act.packed, "a.block"));
      IfKInRange(k0, act.k, [&](llvm::Value* kb) {
        llvm::BasicBlock* pack = llvm::BasicBlock::Create(f_.ctx(), "pack", f_.fn());
        llvm::BasicBlock* packed = llvm::BasicBlock::Create(f_.ctx(), "packed", f_.fn());
        b_.CreateCondBr(use_shared, packed, pack);
        b_.SetInsertPoint(pack);
        b_.CreateCall(PackActivationFunction(mc_, act.value->type().tensor().dtype, act.k_step),
                      {act.data, act.k, m0_, m_rows_, k0, kb, f_.I64(cfg_.mr), tiled_kc_, act.packed});
        b_.CreateBr(packed);
        b_.SetInsertPoint(packed);
      });
    }
    llvm::BasicBlock* streaming = llvm::BasicBlock::Create(f_.ctx(), "streaming", f_.fn());
    llvm::BasicBlock* tiled = llvm::BasicBlock::Create(f_.ctx(), "tiled", f_.fn());
    llvm::BasicBlock* done = llvm::BasicBlock::Create(f_.ctx(), "kblock.done", f_.fn());
    b_.CreateCondBr(single_tile_, streaming, tiled);
    b_.SetInsertPoint(streaming);
    EmitStreaming(k0);
    b_.CreateBr(done);
    b_.SetInsertPoint(tiled);
    EmitTiled(k0);
    b_.CreateBr(done);
    b_.SetInsertPoint(done);
  });
}

// Decoding: per GEMM, all the task's panels (consecutive in the weight, K·nr floats apart; their
// tiles gemms·tile_floats apart), several at a time.
void GemmTaskEmitter::EmitStreaming(llvm::Value* k0) {
  for (size_t g = 0; g < gemms_; ++g) {
    const Operands& op = ops_[g];
    IfKInRange(k0, op.k, [&](llvm::Value* kb) {
      b_.CreateCall(GemmStreamingBlockFunction(mc_, cfg_, op.path),
                    {act_blocks_[op.act], WeightBlock(first_panel_, g, k0), b_.CreateMul(op.k_panel, f_.I64(nr_)), kb,
                     TileOf(f_.I64(0), g), b_.CreateMul(tile_floats_, f_.I64(gemms_)), m_rows_, task_panels_});
    });
  }
}

// Per panel, per GEMM, one tiled block call over the M block's micro-tiles.
void GemmTaskEmitter::EmitTiled(llvm::Value* k0) {
  f_.For(f_.I64(0), task_panels_, 1, "pp", [&](llvm::Value* pp) {
    llvm::Value* panel = b_.CreateAdd(first_panel_, pp);
    for (size_t g = 0; g < gemms_; ++g) {
      const Operands& op = ops_[g];
      IfKInRange(k0, op.k, [&](llvm::Value* kb) {
        // The weight block the next call reads, prefetched into L2 while this one computes.
        llvm::Value* next;
        if (g + 1 < gemms_) {
          next = WeightBlock(panel, g + 1, k0);
        } else {
          llvm::Value* last_panel = b_.CreateICmpEQ(b_.CreateAdd(pp, f_.I64(1)), task_panels_);
          next = b_.CreateSelect(last_panel, WeightBlock(first_panel_, 0, b_.CreateAdd(k0, kc_)),
                                 WeightBlock(b_.CreateAdd(panel, f_.I64(1)), 0, k0));
        }
        llvm::Value* weights = WeightBlock(panel, g, k0);
        GemmPath block_path = op.path;
        if (op.path == GemmPath::kI8Widen) {
          // An int8 block is widened once into an f32 block (kc x nr floats: L1 at the default
          // kc, L2 for the longer blocks of small M) and multiplied by the f32 micro-kernels,
          // instead of every micro-tile of the M block widening it again.
          b_.CreateCall(GemmWidenI8BlockFunction(mc_), {weights, b_.CreateMul(kb, f_.I64(nr_)), WidenedBlock()});
          weights = WidenedBlock();
          block_path = GemmPath::kF32;
        } else if (op.path == GemmPath::kI8Bf16Dot) {
          // The same for bf16 activations: the block (whole k pairs; the packer zeroed an odd
          // K's last half pair) becomes a bf16-pair block, half an f32 block's bytes, for the
          // vdpbf16ps micro-kernels.
          llvm::Value* pairs = b_.CreateSDiv(b_.CreateAdd(kb, f_.I64(1)), f_.I64(2));
          b_.CreateCall(GemmI8ToBf16BlockFunction(mc_), {weights, b_.CreateMul(pairs, f_.I64(2 * nr_)), WidenedBlock()});
          weights = WidenedBlock();
          block_path = GemmPath::kBf16Dot;
        }
        b_.CreateCall(GemmTiledBlockFunction(mc_, cfg_, block_path),
                      {act_blocks_[op.act], weights, kb, TileOf(pp, g), m_rows_, next, tiled_kc_});
      });
    }
  });
}

llvm::Value* GemmTaskEmitter::WidenedBlock() {
  if (widened_ == nullptr) {
    // The longest tiled K block (kc, or the small blocks' longer one) by nr floats.
    const int64_t floats = std::max<int64_t>(cfg_.kc, small_block_kc_) * nr_;
    llvm::IRBuilder<> entry(&f_.fn()->getEntryBlock(), f_.fn()->getEntryBlock().begin());
    llvm::AllocaInst* block = entry.CreateAlloca(llvm::ArrayType::get(entry.getFloatTy(), floats), nullptr, "b.widened");
    block->setAlignment(llvm::Align(64));
    widened_ = block;
  }
  return widened_;
}

// The epilogue over the finished tiles: each GEMM result (and any duplicate multi_output of it)
// is bound to its tile times its weight scale plus its bias; the fused pointwise nodes read those; what must be
// materialised is stored. One pass per panel of the task.
void GemmTaskEmitter::BindEpilogue() {
  llvm::Type* fty = b_.getFloatTy();
  ElementLoop loop;
  loop.space = c_.type;
  loop.row_begin = m0_;
  loop.row_end = b_.CreateAdd(m0_, m_rows_);
  loop.nodes = c_.epilogues;
  absl::flat_hash_map<const Value*, size_t> gemm_of;
  for (size_t g = 0; g < gemms_; ++g) {
    gemm_of[c_.gemms[g]->result] = g;
    // Duplicate multi_outputs of the same GEMM read the same tile.
    for (const Node* node : kernel_.nodes) {
      if (node->info().Has(kTraitProjection) && *node->IntAttr("index") == c_.gemms[g]->index) {
        gemm_of[node->result()] = g;
      }
    }
  }
  absl::flat_hash_map<size_t, llvm::Value*> bias_base, scale_base, column_sums;
  for (size_t g = 0; g < gemms_; ++g) {
    if (c_.gemms[g]->bias != nullptr) bias_base[g] = f_.Buffer(mc_.plan.value_slot.at(c_.gemms[g]->bias));
    if (c_.gemms[g]->scale != nullptr) scale_base[g] = f_.Buffer(mc_.plan.value_slot.at(c_.gemms[g]->scale));
    if (ops_[g].path == GemmPath::kI8Dot) {
      // The i32 column sums follow the panels: ceil(N / nr) panels of k_panel x nr bytes.
      llvm::Value* panel_bytes = b_.CreateMul(b_.CreateMul(f_.CeilDiv(n_, nr_), ops_[g].k_panel), f_.I64(nr_));
      column_sums[g] = b_.CreateInBoundsGEP(b_.getInt8Ty(), ops_[g].packed, panel_bytes);
    }
  }
  for (const auto& [value, g] : gemm_of) loop.tile_values.insert(value);
  // GEMM g's result from its tile element at `element` (global column `col`).
  auto tile_value = [&](size_t g, llvm::Value* element, llvm::Value* col) -> llvm::Value* {
    llvm::Value* x;
    if (auto sums = column_sums.find(g); sums != column_sums.end()) {
      // The int8 dot path's exact i32 sum, less what the u8 shift of the activations added.
      llvm::Type* i32 = b_.getInt32Ty();
      llvm::Value* sum = b_.CreateLoad(i32, element);
      x = b_.CreateSIToFP(b_.CreateSub(sum, b_.CreateLoad(i32, b_.CreateInBoundsGEP(i32, sums->second, col))), fty);
    } else {
      x = b_.CreateLoad(fty, element);
    }
    // The weight scale (one f32 per column: an int8 weight's) multiplies the sum, then the bias.
    if (auto scale = scale_base.find(g); scale != scale_base.end()) {
      x = b_.CreateFMul(x, LoadAsF32(b_, c_.gemms[g]->scale->type().tensor().dtype, scale->second, col));
    }
    auto bias = bias_base.find(g);
    if (bias != bias_base.end()) {
      x = b_.CreateFAdd(x, LoadAsF32(b_, c_.gemms[g]->bias->type().tensor().dtype, bias->second, col));
    }
    return x;
  };
  llvm::Value* n0 = nullptr;
  llvm::Value* pp = nullptr;
  loop.read_tile = [&](const Value* v, llvm::Value* row, llvm::Value* col) -> llvm::Value* {
    const size_t g = gemm_of.at(v);
    llvm::Value* index = b_.CreateAdd(b_.CreateMul(b_.CreateSub(row, m0_), f_.I64(nr_)), b_.CreateSub(col, n0));
    return tile_value(g, b_.CreateInBoundsGEP(fty, TileOf(pp, g), index), col);
  };
  std::vector<const Value*> candidates;
  for (const auto& node : kernel_.nodes) {
    if (gemm_of.contains(node->result())) candidates.push_back(node->result());
  }
  for (const Node* e : c_.epilogues) candidates.push_back(e->result());
  for (const Value* v : candidates) {
    if (mc_.schedule.materialized.contains(v)) loop.stores.push_back(v);
  }
  if (!loop.stores.empty()) {
    f_.For(f_.I64(0), task_panels_, 1, "epilogue.pp", [&](llvm::Value* panel_index) {
      pp = panel_index;
      n0 = b_.CreateMul(b_.CreateAdd(first_panel_, pp), f_.I64(nr_), "n0");
      // Only the task's own columns: viewed as heads, a panel may be shared with the next task.
      loop.col_begin = b_.CreateSelect(b_.CreateICmpSGT(col_begin_, n0), col_begin_, n0);
      loop.col_end = f_.Min(col_end_, b_.CreateAdd(n0, f_.I64(nr_)));
      EmitElementLoop(f_, loop);
    });
  }
  if (c_.head_dim == 0) return;
  HeadEpilogue heads;
  heads.cls = &c_;
  heads.row_begin = m0_;
  heads.row_end = loop.row_end;
  heads.head_begin = head_begin_;
  heads.head_end = head_end_;
  heads.first_panel = first_panel_;
  heads.nr = nr_;
  heads.tile_of = [&](llvm::Value* panel_index, size_t g) { return TileOf(panel_index, g); };
  heads.tile_value = tile_value;
  heads.gemm_of = gemm_of;
  for (const Node* n : c_.head_nodes) {
    if (mc_.schedule.materialized.contains(n->result())) heads.stores.push_back(n->result());
  }
  if (!heads.stores.empty()) EmitHeadEpilogue(f_, heads);
}

}  // namespace braid
