// The attention template: softmax(q·kᵀ·scale + mask)·v for every (batch, query head) without
// materialising the T×S scores (flash attention's online softmax). A task takes up to kRowBlock
// query rows of one KV head — the rows of every query head that shares it under grouped-query
// attention, so K and V are read once for all of them, with no repeat_kv copy — and walks the
// keys in blocks of kKeyBlock: scores for the block (a dot product per row and key), the
// running maximum and sum rescaled once per block, then the block's V rows accumulated into the
// rows' f32 outputs. Causal tasks stop at the last key their rows can see. Everything is f32 in
// registers; the D-long dot products and updates are loops the vectoriser widens.
#ifndef BRAID_CODEGEN_ATTENTION_KERNEL_H_
#define BRAID_CODEGEN_ATTENTION_KERNEL_H_

#include <string>

#include "codegen/node_kernel.h"

namespace braid {

class AttentionKernel : public NodeKernel {
 public:
  static constexpr int64_t kRowBlock = 8;
  static constexpr int64_t kKeyBlock = 64;

  using NodeKernel::NodeKernel;
  llvm::Function* Render(const std::string& name) override;
  llvm::Value* NumTasks(FunctionEmitter& f) const override;

 private:
  // Tasks per (batch, KV head): ceil(group * T / kRowBlock).
  llvm::Value* TasksPerHead(FunctionEmitter& f) const;
  const TensorType& Q() const { return Operand(0); }
  const TensorType& K() const { return Operand(1); }
};

}  // namespace braid

#endif  // BRAID_CODEGEN_ATTENTION_KERNEL_H_
