// GEMM templates, rendered as LLVM IR (the RFC's CppGemmTemplate / CppGroupedGemmTemplate).
//
// A template kernel is a task function over output tiles: task -> (output class, M block of
// at most `mc` rows (M split evenly in whole micro-tiles), up to kMaxPanelsPerTask N panels of
// `nr` columns). Per task, for each K block: each activation block is packed once (runtime
// PackActivation: micro-panels of `mr` interleaved rows) — or, for large M, read from the copy
// a pass packed once for all tasks before they ran (shared_pack.h) — then the block functions
// of gemm_block.h accumulate into a per-task tile buffer, so the shared activation is packed
// once for every panel and every GEMM of the group:
// - M block of one micro-tile (decoding, M <= mr): per GEMM, one streaming call reads the
//   task's panels several at a time, in K blocks mc/mr times kc;
// - otherwise, per panel and per GEMM, one tiled call runs the `mr` x `nr` register-blocked
//   micro-kernel (`nv` vectors of the host's width per row, broadcast-A x packed-B FMAs) over
//   the M block's micro-tiles while it prefetches into L2 the weight block the next call reads;
//   K blocks are kc, or 4·kc for M blocks of at most four micro-tiles (gemm_task.cc says why).
// After the last K block the epilogue (bias, then the fused pointwise nodes, cross-output ones
// included) runs over each panel's tiles and writes only what must be materialised.
// Remainders: a micro-tile with r < mr rows runs the smallest row variant >= r (powers of two,
// so M = 1 computes one row); N remainders come from zero-padded packed panels; K remainders
// shorten the last K block.
//
// An "output class" is the set of GEMMs of the kernel with one output type: cross-output
// epilogues combine tiles of one class; unequal widths (GQA Q/K/V) are separate classes of one
// kernel, sharing its activation.
#ifndef BRAID_CODEGEN_GEMM_TEMPLATE_H_
#define BRAID_CODEGEN_GEMM_TEMPLATE_H_

#include <string>
#include <vector>

#include "codegen/emit_util.h"
#include "codegen/gemm_block.h"
#include "codegen/gemm_task.h"

namespace braid {

class GemmTemplate {
 public:
  GemmTemplate(ModuleContext& mc, const Kernel& kernel);
  virtual ~GemmTemplate() = default;

  // The tile configuration for this kernel on this target, saying why (`--bench` prints it).
  virtual TileConfig Choose() const;
  // Emits `void name(ptr ctx, i64 task)`.
  virtual llvm::Function* Render(const TileConfig& config, const std::string& name);
  // IR (in the entry function) computing how many tasks Render's function takes.
  llvm::Value* NumTasks(FunctionEmitter& f, const TileConfig& config) const;
  // IR (in the entry function, before the tasks run): the pass packing the activations once for
  // all tasks when M is large, its buffer (or null) stored in the third slot of `task_ctx`
  // (shared_pack.h); `parallel_for(pool, fn, ctx, n)` runs it.
  void EmitSharedPack(FunctionEmitter& f, const TileConfig& config, const std::string& name, llvm::Value* task_ctx,
                      llvm::FunctionCallee parallel_for, llvm::Value* pool);

  // The packed-weight format the micro-kernels of `config` read on this target.
  PanelFormat Panel(const TileConfig& config, GemmPath path = GemmPath::kF32) const {
    return GemmPanelFormat(config, mc_.target.vector_width, path);
  }
  int PanelWidth(const TileConfig& config) const { return Panel(config).width; }

  // The K block (a multiple of 32, at most kMaxKBlock, at least 32) whose block of a
  // `panel_width`-column weight panel fills at most 2/3 of the L1d: 128 for 64-wide panels in
  // 48 KiB (the measured choice on both VM kinds), 64 in 32 KiB.
  static int KBlockFor(const CacheSizes& caches, int panel_width);
  static constexpr int kMaxKBlock = 128;
  // The tile buffer a grouped template aims to keep a task's stack within (floats): half the L2,
  // at most kMaxTileBudgetFloats (576 KiB, room for two GEMMs' tiles of kLargeBlockRows rows; a
  // 2 MiB L2 gets that, a 1 MiB L2 512 KiB, the budget measured on the AMD VMs).
  static int64_t TileBudgetFloats(const CacheSizes& caches);
  static constexpr int64_t kMaxTileBudgetFloats = 144 * 1024;

 protected:
  // M block rows for kernels whose weights stream from memory (Choose): one M block up to
  // M = 132, e.g. a 128-token prefill, instead of two of 64 rows. Every task reads its panels'
  // weights once, so fewer, taller M blocks read the weights fewer times and amortise each
  // block call's wait for its weight block (measured on Intel SPR-class VMs, alternating runs:
  // 7B gate/up M = 128 +3-13 %, M = 256/512 on 2 threads +5-7 %, the 7B down projection M = 128
  // +5-13 %; neutral on 1 thread at M >= 256). Weights that stay in cache gain nothing and
  // lose the panels per task that two M blocks allow (1024x2816 gate/up M = 128: -4 %).
  static constexpr int kLargeBlockRows = 132;
  // Above this many bytes of GEMM weights a kernel's weights are taken to stream from memory:
  // the 1024x2816 gate/up's 23 MB behave cache-resident on these VMs (M = 1 reads them at
  // ~1.6x the DRAM bandwidth), the 7B shapes' 180-360 MB do not.
  static constexpr int64_t kStreamedWeightBytes = int64_t{64} << 20;
  // k per micro-kernel step shared by all the kernel's GEMMs (2 or 4 when all take one dot
  // path), else 1.
  int CommonKStep() const;
  // The bytes of the kernel's GEMM weights if all their shapes are static, else 0.
  int64_t StaticWeightBytes() const;
  llvm::Value* ClassTasks(FunctionEmitter& f, const GemmOutputClass& c, const TileConfig& config) const;
  // The body of one task of class `c` (GemmTaskEmitter); `task` counts within the class.
  void RenderClass(FunctionEmitter& f, const GemmOutputClass& c, const TileConfig& config,
                   llvm::Value* task, llvm::Value* tile);
  // Allocates the per-task tile buffer (in the entry block) for the largest class: on the stack,
  // or from the heap when it would exceed kMaxStackTileFloats.
  llvm::Value* AllocateTile(FunctionEmitter& f, const TileConfig& config) const;
  // Frees a heap tile, then returns from the task function.
  void ReturnFromTask(FunctionEmitter& f, llvm::Value* tile) const;
  static constexpr uint64_t kMaxStackTileFloats = 256 * 1024;  // 1 MiB

  ModuleContext& mc_;
  const Kernel& kernel_;
  std::vector<GemmOutputClass> classes_;
};

class GroupedGemmTemplate : public GemmTemplate {
 public:
  using GemmTemplate::GemmTemplate;
  // Several GEMMs share a class's tile buffer: smaller M blocks for wider groups.
  TileConfig Choose() const override;
  // Dispatches each task to its output class.
  llvm::Function* Render(const TileConfig& config, const std::string& name) override;
};

}  // namespace braid

#endif  // BRAID_CODEGEN_GEMM_TEMPLATE_H_
