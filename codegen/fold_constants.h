// Constant folding at compile time: a node whose operands are all constants (weights, given to
// Compile) is evaluated once — by the reference interpreter, so it means exactly what it
// means there — and its result becomes a constant itself. What this is for: a GEMM weight
// computed from constants, such as fold-rms-norm's weight times the norm's weight, is then
// an ordinary constant, prepacked once instead of computed on every run.
//
//   before                                   after
//   %w: const f32[N, K], %g: const f32[K]    %w: const f32[N, K], %g: const f32[K],
//                                            %w_n: const f32[N, K]      // computed at compile time
//   %w_n = mul(%w, %g) : f32[N, K]
//   %y = linear(%x, %w_n) : f32[M, N]        %y = linear(%x, %w_n) : f32[M, N]
//
// Only pointwise and shape ops fold (their cost is linear in their size), and only when the
// result is not much bigger than its largest operand (an `expand` of a constant row to a
// large table is better computed where it is read), and its shape is known from the
// constants' dims.
#ifndef BRAID_CODEGEN_FOLD_CONSTANTS_H_
#define BRAID_CODEGEN_FOLD_CONSTANTS_H_

#include <deque>
#include <map>
#include <string>

#include "absl/status/status.h"
#include "ir/graph.h"
#include "ir/tensor.h"
#include "ir/types.h"

namespace braid {

// Folds the nodes of `graph` it can, given the dims the constants bind and `constants` (a
// view per constant parameter, by name). Each folded node becomes a new constant parameter
// with the node's name (appended to the parameters: the run-time inputs keep their order);
// its tensor is appended to `folded` and a view of it added to `constants`. Which nodes fold
// depends on types alone: with `constants` and `folded` null, the graph is rewritten the same
// way and nothing is computed (what `--emit=schedule` shows).
absl::Status FoldConstants(Graph& graph, const DimBindings& constant_dims,
                           std::map<std::string, TensorView>* constants, std::deque<Tensor>* folded);

}  // namespace braid

#endif  // BRAID_CODEGEN_FOLD_CONSTANTS_H_
