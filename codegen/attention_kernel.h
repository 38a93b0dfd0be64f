// The attention template: softmax(q·kᵀ·scale + mask)·v for every (batch, query head) without
// materialising the T×S scores (flash attention's online softmax). A task takes up to kRowBlock
// query rows of one KV head — the rows of every query head that shares it under grouped-query
// attention, so K and V are read once for all of them, with no repeat_kv copy — and walks the
// keys in blocks of kKeyBlock: scores for the block (a dot product per row and key), the
// running maximum and sum rescaled once per block, then the block's V rows accumulated into the
// rows' f32 outputs. Causal tasks stop at the last key their rows can see. Everything is f32 in
// registers. Two renderings: register-tiled micro-GEMMs over vectors (attention_tiled.cc) when
// the head dim is a compile-time multiple of the vector width, else scalar loops.
#ifndef BRAID_CODEGEN_ATTENTION_KERNEL_H_
#define BRAID_CODEGEN_ATTENTION_KERNEL_H_

#include <string>
#include <vector>

#include "codegen/node_kernel.h"

namespace braid {

class AttentionKernel : public NodeKernel {
 public:
  static constexpr int64_t kRowBlock = 8;        // query rows per task, scalar path
  static constexpr int64_t kTiledRowBlock = 32;  // query rows per task, vector path
  static constexpr int64_t kKeyBlock = 64;

  AttentionKernel(ModuleContext& mc, const Kernel& kernel);
  llvm::Function* Render(const std::string& name) override;
  llvm::Value* NumTasks(FunctionEmitter& f) const override;

 private:
  // The vector path (attention_tiled.cc) when the head dim is a compile-time multiple of the
  // vector width; else the scalar loops.
  bool Tiled() const;
  int TileRows() const;  // rows of a register tile: 4 with 32 vector registers, 2 with 16
  llvm::Function* RenderTiled(const std::string& name);
  int64_t RowBlock() const { return Tiled() ? kTiledRowBlock : kRowBlock; }
  // Tasks per (batch, KV head): ceil(group * T / RowBlock()).
  llvm::Value* TasksPerHead(FunctionEmitter& f) const;
  // A task's rows: its batch and KV head, and its block of `rows` query rows from `row_begin`
  // (row = rep * T + t over the query heads sharing the KV head).
  struct TaskRows {
    llvm::Value* batch;
    llvm::Value* kv_head;
    llvm::Value* row_begin;
    llvm::Value* rows;
  };
  TaskRows RowsOf(FunctionEmitter& f, llvm::Value* task) const;
  // The mask's element strides over [B, Hq, T, S]: trailing-aligned, 0 where it broadcasts.
  std::vector<llvm::Value*> MaskStrides(FunctionEmitter& f) const;
  // Query heads per KV head (1 when there are no KV heads: nothing to compute).
  static llvm::Value* GroupSize(FunctionEmitter& f, llvm::Value* hq, llvm::Value* hkv);
  // The element offset in the stored output of query row (batch, head, t): [B, Hq, T, D], or
  // [B, T, Hq, D] when the kernel stores the head transpose the scheduler gave it.
  llvm::Value* OutputOffset(FunctionEmitter& f, llvm::Value* batch, llvm::Value* head, llvm::Value* t) const;
  // The keys a task reads: S, or under `causal` up to its latest row's position.
  llvm::Value* KeyEnd(FunctionEmitter& f, const TaskRows& rows) const;
  const Value* stored_;         // the attention's result, or its head transpose's
  bool heads_inner_ = false;    // stored as [B, T, Hq, D]
  const TensorType& Q() const { return Operand(0); }
  const TensorType& K() const { return Operand(1); }
};

}  // namespace braid

#endif  // BRAID_CODEGEN_ATTENTION_KERNEL_H_
