// The kernel of one shape op (reshape, transpose, slice, concat, expand, rotate_half): every
// result element is an operand element (rotate_half negates half of them: a sign-bit flip, exact
// in every float dtype), so the kernel is a strided copy of one or more boxes,
//
//   dst[dst_base + sum_d i_d * dst_stride_d] = src[src_base + sum_d i_d * src_stride_d]
//
// over a box's index space (concat copies one box per operand into its place; the others one
// box the shape of the result). Elements move as integers of their dtype's width, so any dtype
// copies exactly. Tasks are blocks of rows (all dims but the last).
#ifndef BRAID_CODEGEN_COPY_KERNEL_H_
#define BRAID_CODEGEN_COPY_KERNEL_H_

#include <string>

#include "codegen/node_kernel.h"

namespace braid {

class CopyKernel : public NodeKernel {
 public:
  using NodeKernel::NodeKernel;
  llvm::Function* Render(const std::string& name) override;
  llvm::Value* NumTasks(FunctionEmitter& f) const override;
};

}  // namespace braid

#endif  // BRAID_CODEGEN_COPY_KERNEL_H_
