// Tensor parallelism, Megatron-LM's recipe: rewrites a graph into rank r's share of N. A
// linear whose activation every rank holds and whose result reaches memory only through
// pointwise ops and other linears is *column-parallel* (each rank keeps a slice of the weight's
// rows, so of the result's columns); the pointwise ops after it stay local (`silu(g) * u` needs
// no communication); a linear reading such a sliced activation is *row-parallel* (each rank
// keeps the matching slice of the weight's columns and computes a partial sum); one
// `all_reduce` sums a partial where a consumer needs the whole value.
//
//   before (N = 2)                              after, rank 1 of 2
//   %wg: const f32[11008, 4096]                 %wg: const f32[5504, 4096]     rows [5504, 11008)
//   %wu: const f32[11008, 4096]                 %wu: const f32[5504, 4096]     rows [5504, 11008)
//   %wd: const f32[4096, 11008]                 %wd: const f32[4096, 5504]  columns [5504, 11008)
//   %g = linear(%x, %wg) : f32[M, 11008]        %g = linear(%x, %wg) : f32[M, 5504]
//   %u = linear(%x, %wu) : f32[M, 11008]        %u = linear(%x, %wu) : f32[M, 5504]
//   %s = silu(%g)                               %s = silu(%g) : f32[M, 5504]
//   %h = mul(%s, %u)                            %h = mul(%s, %u) : f32[M, 5504]
//   %d = linear(%h, %wd) : f32[M, 4096]         %d_partial = linear(%h, %wd) : f32[M, 4096]
//   %y = add(%d, %x)                            %y = all_reduce(%d_partial) : f32[M, 4096]
//   return %y                                   return %y
//
// Rank 0 keeps the row-parallel bias and `add`s of a whole value to a partial (the residual),
// so they are added once and stay fused in the GEMM's epilogue; on the other ranks they
// vanish (above, rank 0 computes %y_partial = add(%d, %x) and reduces that). A reduced value
// keeps its name, so outputs keep theirs; the partial is renamed `<name>_partial`. Products and quotients by a whole value (`mul(%d, %s)`), sums and differences of
// partials and `neg` stay partial; everything else reads the reduced value. A width W splits as
// [W*r/N, W*(r+1)/N), so an uneven W gives ranks slices one element apart; the same W always
// splits the same way, so a column-parallel result and the row-parallel weight reading it agree.
//
// What stays whole (and why, on `--debug-only=tensor-parallel`): a linear whose sliced result
// would be returned or read by anything but pointwise ops and linears (there is no all_gather),
// whose weight is not a constant (or convert of one) read only by it, whose result is narrower
// than N or symbolic, or that is mixed in a pointwise op with a non-constant whole-width value.
// The graph's `tensor_parallel()` records every constant's slice; Compile slices full tensors.
// A GEMM's weight scale (int8 weights, after fold-weight-convert) is sliced with a
// column-parallel weight's rows and stays whole for a row-parallel one (each rank scales its
// partial). It runs before grouped-gemm, so the slices of gate/up and Q/K/V still group.
#ifndef BRAID_PASSES_TENSOR_PARALLEL_H_
#define BRAID_PASSES_TENSOR_PARALLEL_H_

#include "passes/pass.h"

namespace braid {

class TensorParallel : public Pass {
 public:
  TensorParallel(int rank, int size) : rank_(rank), size_(size) {}
  absl::string_view name() const override { return "tensor-parallel"; }
  // Errors: a rank outside [0, size), a graph already sharded or already grouped.
  absl::StatusOr<bool> Run(Graph& graph) override;

 private:
  int rank_, size_;
};

}  // namespace braid

#endif  // BRAID_PASSES_TENSOR_PARALLEL_H_
