// A GEMM result seen as attention heads, the way PyTorch models write it:
//
//   %q0 = linear(%h, %wq)                        f32[B, T, H*D]   the GEMM's tile space
//   %q1 = reshape(%q0) : f32[B, T, H, D]         split: the same elements, the same order
//   %q  = transpose(%q1) {perm = [0, 2, 1, 3]}   heads: [B, H, T, D], T and H swapped
//   %r  = rotate_half(%q)                        heads: x[..., d ± D/2], half of them negated
//
// A GEMM kernel whose tasks cover whole heads computes these (and pointwise nodes on them:
// the rotary embedding's x·cos + rotate_half(x)·sin) in its epilogue and stores the heads
// layout directly (codegen/head_epilogue.h): no copy kernels for the transposes and the
// rotate_half. The scheduler decides which nodes join; codegen reads the same classification.
#ifndef BRAID_SCHEDULER_HEAD_VIEW_H_
#define BRAID_SCHEDULER_HEAD_VIEW_H_

#include <cstdint>

#include "ir/graph.h"

namespace braid {

// Where a value of a GEMM kernel lives relative to the GEMM's [L..., N] tile space.
enum class HeadLayout : uint8_t {
  kTile,   // the tile space itself (GEMM results and their pointwise epilogues)
  kSplit,  // [L..., H, D]: a reshape splitting N
  kHeads,  // [L[:-1]..., H, L[-1], D]: the split with its last two axes but one swapped
};

// D if `node` is a reshape of a rank >= 2 tensor [L..., N] into [L..., H, D] with H and D
// static and H·D = N; else 0.
int64_t HeadSplitDim(const Node& node);

// Does `node` transpose the two axes before the last of a rank >= 3 tensor (perm
// [0, ..., R-2, R-3, R-1])?
bool IsHeadTranspose(const Node& node);

}  // namespace braid

#endif  // BRAID_SCHEDULER_HEAD_VIEW_H_
