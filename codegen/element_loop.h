// The loop nest every fused pointwise computation is emitted as: rows x columns of an
// iteration space (all dims but the last folded into rows), a body that computes a chain of
// pointwise nodes per element, reads of values from memory with NumPy broadcasting (per-row
// offset, column stride 0 or 1), and stores of the values that must be materialised. The inner
// column loop is straight-line scalar IR, left to LLVM's loop vectoriser. Values are f32 in
// registers whatever their dtype; every bf16 result is rounded to bf16 where it is computed, as
// the interpreter defines it, so fusing changes no result (codegen/element_storage.h).
#ifndef BRAID_CODEGEN_ELEMENT_LOOP_H_
#define BRAID_CODEGEN_ELEMENT_LOOP_H_

#include <functional>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "codegen/emit_util.h"

namespace braid {

struct ElementLoop {
  const TensorType* space = nullptr;
  // Global row and column ranges to cover.
  llvm::Value* row_begin = nullptr;
  llvm::Value* row_end = nullptr;
  llvm::Value* col_begin = nullptr;
  llvm::Value* col_end = nullptr;
  // Pointwise nodes computed per element, in graph order.
  std::vector<const Node*> nodes;
  // Values not computed by `nodes` and not in memory (GEMM accumulator tiles), and how to read
  // their element at global (row, col).
  absl::flat_hash_set<const Value*> tile_values;
  std::function<llvm::Value*(const Value* value, llvm::Value* row, llvm::Value* col)> read_tile;
  // Values (computed by `nodes` or read through `read_tile`) to store to their buffers.
  std::vector<const Value*> stores;
};

void EmitElementLoop(FunctionEmitter& f, const ElementLoop& loop);

}  // namespace braid

#endif  // BRAID_CODEGEN_ELEMENT_LOOP_H_
