// The part of a GEMM epilogue that works on the result viewed as attention heads
// (scheduler/head_view.h): the reshape to [L..., H, D], the transpose to heads, rotate_half and
// the pointwise nodes on them (the rotary embedding x·cos + rotate_half(x)·sin, a scale), with
// each materialised value stored in its own layout — the [B, H, T, D] heads written straight
// from the tiles, no copy kernels.
//
//   before (4 kernels):  gemm -> %q0 [B, T, H·D];  copy %q = transpose(reshape(%q0));
//                        copy %q_rot = rotate_half(%q);  pointwise %q_r = q·cos + q_rot·sin
//   after (1 kernel):    gemm, epilogue for each task row and head h (whole heads per task):
//                          q_r[b, h, t, d] = tile[t][h·D + d]·cos[b, 0, t, d]
//                                          ∓ tile[t][h·D + (d ± D/2)]·sin[b, 0, t, d]
//
// rotate_half(x)[d] is -x[d + D/2] in the lower half and x[d - D/2] in the upper one: the body
// is emitted twice, once per half, reading each value at its own column and at the partner
// column. Columns run in chunks of gcd(D/2, nr), which stay inside one tile panel for both.
#ifndef BRAID_CODEGEN_HEAD_EPILOGUE_H_
#define BRAID_CODEGEN_HEAD_EPILOGUE_H_

#include <functional>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "codegen/emit_util.h"
#include "codegen/gemm_task.h"

namespace braid {

struct HeadEpilogue {
  const GemmOutputClass* cls = nullptr;  // its type [L..., N], head_dim, head and tile epilogues
  llvm::Value* row_begin = nullptr;      // the task's global rows (the tiles' first row)
  llvm::Value* row_end = nullptr;
  llvm::Value* head_begin = nullptr;  // the task's heads
  llvm::Value* head_end = nullptr;
  llvm::Value* first_panel = nullptr;  // the task's first panel (tile pp covers panel first + pp)
  int nr = 0;
  // The tile of GEMM g for the task's panel pp.
  std::function<llvm::Value*(llvm::Value* pp, size_t g)> tile_of;
  // GEMM g's result at global column `col` from its tile element at `element` (weight scale
  // and bias applied).
  std::function<llvm::Value*(size_t g, llvm::Value* element, llvm::Value* col)> tile_value;
  // The values read from the tiles, and their GEMM.
  absl::flat_hash_map<const Value*, size_t> gemm_of;
  // Heads-view values to store, each in its own layout.
  std::vector<const Value*> stores;
};

void EmitHeadEpilogue(FunctionEmitter& f, const HeadEpilogue& e);

}  // namespace braid

#endif  // BRAID_CODEGEN_HEAD_EPILOGUE_H_
