// A GEMM kernel's activations packed once per run, before its tasks, and shared by them.
//
// Before, every task (an M block times up to kMaxPanelsPerTask panels) packed its M block of
// each activation itself, K block by K block: for the 7B gate/up (2 x 172 panels) each M block
// was packed 22 times. On the dot paths a packed byte feeds 2-4x less arithmetic time than an
// f32 does, so the packer grew to ~6 % of the W8A8 GEMM's samples and ~4 % of bf16's (perf,
// cpu-clock, AMD VM, M = 512, 1 thread).
//
// After, when the tasks' M blocks are large (more than kSmallBlockTiles micro-tiles: such a task
// runs the tiled order with K blocks of kc) and the packed copy is at most kMaxSharedPackBytes,
// the kernel first runs a parallel pass packing every activation whole, then the tasks with
// large M blocks read their blocks from that copy (a small last M block still packs its own).
// The copy has the layout a task's own packed block has, K block after K block:
//
//   activation a, K block j (k0 = j·kc), micro-panel t (rows t·mr .. t·mr + mr - 1):
//     at offset(a) + (j·M_pad + t·mr)·kc elements, mr x kc elements (packing.h's interleave),
//
// so a task's block for rows m0.. and K block k0 is one contiguous run of micro-panels read
// with the stride kc, as before. Element size: 4 bytes (f32, also for activations widened to
// f32 while packed), 2 (bf16 k pairs), 1 (u8 k quads). The buffer belongs to the thread that
// runs the graph (braid_shared_pack_buffer), its address in the task context's third slot
// (null: the tasks pack their own blocks).
#ifndef BRAID_CODEGEN_SHARED_PACK_H_
#define BRAID_CODEGEN_SHARED_PACK_H_

#include <string>
#include <vector>

#include "codegen/emit_util.h"
#include "codegen/gemm_block.h"
#include "codegen/gemm_task.h"

namespace braid {

// Tasks whose M block has at most this many micro-tiles run the small-block orders (longer K
// blocks, panel-major or streaming) and pack their own activations.
inline constexpr int kSmallBlockTiles = 4;
// The most bytes one kernel's shared packed activations may take (larger ones are packed per
// task as before): 64 MiB, e.g. 4096 rows of K = 4096 in f32.
inline constexpr int64_t kMaxSharedPackBytes = int64_t{64} << 20;
// Rows each task of the packing pass packs (whole micro-tiles).
inline constexpr int kSharedPackRowsPerTask = 24;

// The runtime's activation packer for an activation of `act` dtype packed for a path of
// `k_step` (packing.h: f32 (widening bf16 / i8), bf16 k pairs, u8 k quads).
llvm::FunctionCallee PackActivationFunction(ModuleContext& mc, DType act, int k_step);

class SharedPack {
 public:
  // The distinct activations of a template's classes, in order of first use.
  SharedPack(ModuleContext& mc, const std::vector<GemmOutputClass>& classes, const TileConfig& config);

  // In the entry function, before the kernel's tasks run: decides whether the pass applies,
  // and if so gets the buffer and runs the pass (`parallel_for(pool, fn, ctx, n)`); stores the
  // buffer, or null, in ctx's third slot.
  void EmitPass(FunctionEmitter& f, const std::string& kernel_name, llvm::Value* task_ctx,
                llvm::FunctionCallee parallel_for, llvm::Value* pool);

  // In a task function: the shared buffer (null when the tasks pack for themselves).
  static llvm::Value* LoadBuffer(FunctionEmitter& f);
  // In a task function: activation `value`'s packed block for rows from m0 (a multiple of mr)
  // and the K block at k0 (a multiple of kc) in `buffer`.
  llvm::Value* Block(FunctionEmitter& f, llvm::Value* buffer, const Value* value, llvm::Value* m0, llvm::Value* k0);

 private:
  struct Activation {
    const Value* value;
    int k_step;
  };
  int ElementBytes(const Activation& a) const { return a.k_step == 1 ? 4 : 4 / a.k_step; }
  // Bytes of activation a's packed copy, rounded up to 64.
  llvm::Value* Bytes(FunctionEmitter& f, const Activation& a);
  // Where activation `index`'s copy starts in the buffer, in bytes.
  llvm::Value* Offset(FunctionEmitter& f, size_t index);
  llvm::Function* RenderPassTask(const std::string& name);

  ModuleContext& mc_;
  const TileConfig config_;
  std::vector<Activation> acts_;
};

}  // namespace braid

#endif  // BRAID_CODEGEN_SHARED_PACK_H_
