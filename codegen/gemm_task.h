// One task of a GEMM template, rendered as LLVM IR: an M block of one output class times up to
// kMaxPanelsPerTask N panels, for every GEMM of the class (gemm_template.h describes the
// template as a whole). The task body is a frame (which rows and panels, its tiles, the
// operands, the K-block lengths) followed by one of three loop orders, each its own emitter:
//
//   panel-major  a few micro-tiles whose whole-K activations fit the thread's scratch buffer:
//                activations packed once, then per panel and GEMM all of K in one call
//                (weights stream in one sequential run per panel);
//   streaming    one micro-tile (decoding): per K block and GEMM, one call over all the task's
//                panels, several at a time;
//   tiled        otherwise: per K block, panel and GEMM, one register-blocked call over the M
//                block's micro-tiles, prefetching the weight block the next call reads (the
//                activation block from the kernel's shared packed copy when the entry made
//                one, shared_pack.h);
//
// and then the epilogue binder, which reads the finished tiles (plus bias) into the fused
// pointwise nodes and stores what must be materialised.
#ifndef BRAID_CODEGEN_GEMM_TASK_H_
#define BRAID_CODEGEN_GEMM_TASK_H_

#include <functional>
#include <vector>

#include "codegen/emit_util.h"
#include "codegen/gemm_block.h"

namespace braid {

// The GEMMs of a template kernel with one output type, and the epilogue nodes on that type.
// Cross-output epilogues combine tiles of one class; unequal widths (GQA Q/K/V) are separate
// classes of one kernel.
struct GemmOutputClass {
  const TensorType* type = nullptr;
  std::vector<const GemmSpec*> gemms;
  std::vector<const Node*> epilogues;
  // Epilogue nodes on the result viewed as heads of `head_dim` columns (scheduler/head_view.h,
  // codegen/head_epilogue.h); with any, the class's tasks cover whole heads.
  std::vector<const Node*> head_nodes;
  int64_t head_dim = 0;
};

// The most N panels one task covers (its tile buffer holds that many per GEMM). A task that
// packs its own activation block packs it once for all of them: 8 instead of 4 halved that cost
// (it was ~5 % of a large-M GEMM before the packer was vectorised); large M blocks now read a
// copy packed once per kernel run (shared_pack.h).
inline constexpr int kMaxPanelsPerTask = 8;
// The most a small M block's packed activations (all of K) may take in the thread's scratch
// buffer for the panel-major order: 4 MiB, e.g. 24 rows of K = 43690.
inline constexpr int64_t kPanelMajorMaxFloats = 1024 * 1024;

// Rows of each of `m_blocks` M blocks splitting `m` rows evenly in whole micro-tiles of `mr`
// (the last block takes what is left); the tasks and the shared packing pass both use it.
llvm::Value* MBlockRows(FunctionEmitter& f, llvm::Value* m, llvm::Value* m_blocks, int mr);

// N panels per task for a class with `m_blocks` M blocks and `panels` panels: enough tasks for
// the threads (about 16 in all), at most kMaxPanelsPerTask.
llvm::Value* PanelsPerTask(FunctionEmitter& f, llvm::Value* m_blocks, llvm::Value* panels);

// For a class viewed as heads: whole heads per task, as many as `per_task` panels of `nr`
// hold wherever they start (a head width that is neither a multiple nor a divisor of nr may
// straddle one panel more), at least one.
llvm::Value* HeadsPerTask(FunctionEmitter& f, llvm::Value* per_task, int nr, int64_t head_dim);
// The most panels a task of class `c` spans: kMaxPanelsPerTask, or more for one head wider
// than that.
int64_t MaxTaskPanels(const GemmOutputClass& c, int nr);
// Tasks per M block of class `c` (runs of panels, or of whole heads) for `m_blocks` M blocks.
llvm::Value* ColumnGroups(FunctionEmitter& f, const GemmOutputClass& c, int nr, llvm::Value* m_blocks);

class SharedPack;

class GemmTaskEmitter {
 public:
  // `task` counts within class `c`; `tile` is the task's tile buffer (AllocateTile);
  // `shared_buffer` the kernel's shared packed activations, or null at run time (shared_pack.h).
  GemmTaskEmitter(ModuleContext& mc, const Kernel& kernel, FunctionEmitter& f, const GemmOutputClass& c,
                  const TileConfig& config, llvm::Value* task, llvm::Value* tile, SharedPack* shared,
                  llvm::Value* shared_buffer);
  void Emit();

 private:
  // A GEMM's operands; GEMMs reading the same activation share one packed copy of its block.
  struct Operands {
    llvm::Value* k;
    llvm::Value* k_panel;  // K rows per packed panel: K, rounded up to pairs / quads on the dot paths
    llvm::Value* packed;   // all panels of the packed weight
    size_t act;            // index into acts_
    GemmPath path;         // how its block functions read and multiply (panel_format.h)
  };
  struct Activation {
    const Value* value;
    llvm::Value* data;
    llvm::Value* k;
    llvm::Value* packed;  // one packed block (mc x kc)
    int k_step;           // packed as f32 (1), bf16 k pairs (2) or u8 k quads (4): the dot paths
  };

  void EmitFrame();
  void EmitOperands();
  void EmitKBlockLengths();
  void EmitPanelMajor();
  void EmitKBlocks();
  void EmitStreaming(llvm::Value* k0);
  void EmitTiled(llvm::Value* k0);
  void BindEpilogue();

  // The tile of GEMM g for the task's panel pp.
  llvm::Value* TileOf(llvm::Value* pp, size_t g);
  // The K block at k_start of panel `panel` of GEMM g's packed weight ([K][nr] per panel).
  llvm::Value* WeightBlock(llvm::Value* panel, size_t g, llvm::Value* k_start);
  // Runs `body(kb)` for the K block at k0 if it starts before `k`, kb = its length.
  void IfKInRange(llvm::Value* k0, llvm::Value* k, const std::function<void(llvm::Value* kb)>& body);

  ModuleContext& mc_;
  const Kernel& kernel_;
  FunctionEmitter& f_;
  llvm::IRBuilder<>& b_;
  const GemmOutputClass& c_;
  const TileConfig& cfg_;
  llvm::Value* task_;
  llvm::Value* tile_;
  SharedPack* shared_;
  llvm::Value* shared_buffer_;
  const int nr_;
  const size_t gemms_;

  // The frame.
  llvm::Value* m_ = nullptr;
  llvm::Value* n_ = nullptr;
  llvm::Value* first_panel_ = nullptr;
  llvm::Value* task_panels_ = nullptr;
  // The task's columns (its panels', or its whole heads'; a head may share a panel with the
  // next task's, whose columns that task stores) and, viewed as heads, its heads.
  llvm::Value* col_begin_ = nullptr;
  llvm::Value* col_end_ = nullptr;
  llvm::Value* head_begin_ = nullptr;
  llvm::Value* head_end_ = nullptr;
  llvm::Value* m0_ = nullptr;
  llvm::Value* m_rows_ = nullptr;
  llvm::Value* tile_floats_ = nullptr;
  std::vector<Operands> ops_;
  std::vector<Activation> acts_;
  // Per K block: each activation's packed block (its own, or the shared copy's).
  std::vector<llvm::Value*> act_blocks_;
  llvm::Value* k_max_ = nullptr;
  int64_t small_block_kc_ = 0;
  // An f32 buffer (entry-block alloca) for one int8 weight block widened for the tiled path.
  llvm::Value* WidenedBlock();
  llvm::Value* widened_ = nullptr;
  llvm::Value* single_tile_ = nullptr;
  llvm::Value* small_block_ = nullptr;
  llvm::Value* tiled_kc_ = nullptr;
  llvm::Value* kc_ = nullptr;
  llvm::Value* act_floats_ = nullptr;
};

}  // namespace braid

#endif  // BRAID_CODEGEN_GEMM_TASK_H_
