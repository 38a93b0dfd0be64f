// Element loops with broadcasting reads.
#include "codegen/element_loop.h"

#include "absl/container/flat_hash_map.h"
#include "codegen/element_storage.h"
#include "codegen/scalar_math.h"
#include "ir/status_macros.h"

namespace braid {
namespace {

bool IsOne(const Dim& d) { return !d.is_symbolic() && d.value() == 1; }

// How a memory-resident operand of type `s` is indexed inside iteration space `t`.
struct Access {
  llvm::Value* base = nullptr;     // the buffer, of the value's dtype
  llvm::Value* row_offset = nullptr;
  bool col_stride_one = false;
};

// Element offset of the start of global row `row` of `t` in an operand of type `s`.
llvm::Value* RowOffset(FunctionEmitter& f, const TensorType& s, const TensorType& t, llvm::Value* row) {
  const int R = t.rank(), r = s.rank();
  if (R <= 1) return f.I64(0);
  // Same leading dims and last dim: the operand is laid out exactly like the space.
  if (s.shape == t.shape) return f.b().CreateMul(row, f.Cols(t));
  bool any = false;
  for (int d = 0; d < R - 1; ++d) {
    const int sd = d - (R - r);
    any |= sd >= 0 && !IsOne(s.shape[sd]);
  }
  if (!any) return f.I64(0);
  // Decompose the row into indices of t's leading dims, innermost first.
  llvm::Value* offset = f.I64(0);
  llvm::Value* rest = row;
  for (int d = R - 2; d >= 0; --d) {
    llvm::Value* extent = f.DimValue(t.shape[d]);
    llvm::Value* index = f.b().CreateURem(rest, extent);
    rest = f.b().CreateUDiv(rest, extent);
    const int sd = d - (R - r);
    if (sd < 0 || IsOne(s.shape[sd])) continue;
    llvm::Value* stride = f.Product(s.shape, sd + 1, r);
    offset = f.b().CreateAdd(offset, f.b().CreateMul(index, stride));
  }
  return offset;
}

}  // namespace

void EmitElementLoop(FunctionEmitter& f, const ElementLoop& loop) {
  llvm::IRBuilder<>& b = f.b();
  const TensorType& space = *loop.space;
  absl::flat_hash_set<const Value*> computed;
  for (const Node* n : loop.nodes) computed.insert(n->result());
  llvm::Value* cols = f.Cols(space);
  // Buffer pointers are loop-invariant: load them once, before the loops.
  absl::flat_hash_map<const Value*, llvm::Value*> base;
  auto base_of = [&](const Value* v) {
    auto it = base.find(v);
    if (it != base.end()) return it->second;
    auto slot = f.mc().plan.value_slot.find(v);
    BRAID_CHECK(slot != f.mc().plan.value_slot.end(), "an element loop reads a value with no buffer");
    return base[v] = f.Buffer(slot->second);
  };
  std::vector<const Value*> leaves;
  for (const Node* n : loop.nodes) {
    for (const Value* v : n->operands()) {
      if (computed.contains(v) || std::find(leaves.begin(), leaves.end(), v) != leaves.end()) continue;
      leaves.push_back(v);
    }
  }
  for (const Value* v : leaves) {
    if (!loop.tile_values.contains(v)) base_of(v);
  }
  for (const Value* v : loop.stores) base_of(v);

  f.For(loop.row_begin, loop.row_end, 1, "row", [&](llvm::Value* row) {
    absl::flat_hash_map<const Value*, Access> access;
    for (const Value* v : leaves) {
      if (loop.tile_values.contains(v)) continue;
      const TensorType& s = v->type().tensor();
      Access a;
      a.base = base_of(v);
      a.row_offset = RowOffset(f, s, space, row);
      a.col_stride_one = s.rank() >= 1 && space.rank() >= 1 && !IsOne(s.shape.back());
      access[v] = a;
    }
    llvm::Value* out_row = b.CreateMul(row, cols);
    f.For(loop.col_begin, loop.col_end, 1, "col", [&](llvm::Value* col) {
      absl::flat_hash_map<const Value*, llvm::Value*> value;
      auto get = [&](const Value* v) -> llvm::Value* {
        auto it = value.find(v);
        if (it != value.end()) return it->second;
        llvm::Value* x;
        if (loop.tile_values.contains(v)) {
          // A GEMM result (plus bias) is rounded to its dtype, as the GEMM's own result is.
          x = RoundTripF32(b, v->type().tensor().dtype, loop.read_tile(v, row, col));
        } else {
          const Access& a = access.at(v);
          llvm::Value* index = a.col_stride_one ? b.CreateAdd(a.row_offset, col) : a.row_offset;
          x = LoadAsF32(b, v->type().tensor().dtype, a.base, index);
        }
        return value[v] = x;
      };
      for (const Node* n : loop.nodes) {
        std::vector<llvm::Value*> args;
        for (const Value* v : n->operands()) args.push_back(get(v));
        // Computed in f32 and rounded to the node's dtype, as the interpreter defines every op
        // (and eager PyTorch computes): a fused chain gives what the same nodes give unfused,
        // each result stored and reloaded. Rounding only when a value is stored (Inductor's
        // choice) was measured first: more accurate, but fused and unfused bf16 results then
        // differed, and a random graph ((a + b) - a with |a| >> |b|) showed the interpreter
        // and the kernel 0.7 apart on an output of rms ~1e-2. For f32 the round trip is nothing.
        llvm::Value* x = n->op() == OpKind::kConvert ? args[0] : EmitPointwise(b, n->op(), args);
        value[n->result()] = RoundTripF32(b, n->result()->type().tensor().dtype, x);
      }
      for (const Value* v : loop.stores) {
        StoreFromF32(b, v->type().tensor().dtype, get(v), base_of(v), b.CreateAdd(out_row, col));
      }
    });
  });
}

}  // namespace braid
