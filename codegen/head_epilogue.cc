// Heads-view epilogues.
#include "codegen/head_epilogue.h"

#include <numeric>
#include <tuple>

#include "absl/container/flat_hash_set.h"
#include "codegen/element_storage.h"
#include "codegen/scalar_math.h"
#include "ir/status_macros.h"
#include "scheduler/head_view.h"

namespace braid {
namespace {

bool IsOne(const Dim& d) { return !d.is_symbolic() && d.value() == 1; }

// Per dim of a space of rank `rank`, the element stride of an operand of shape `s` read with
// NumPy broadcasting (s aligned to the right), or null where it repeats (its size-1 dims and
// missing leading dims).
std::vector<llvm::Value*> BroadcastStrides(FunctionEmitter& f, const Shape& s, int rank) {
  const int r = static_cast<int>(s.size());
  std::vector<llvm::Value*> strides(rank, nullptr);
  for (int d = 0; d < rank; ++d) {
    const int sd = d - (rank - r);
    if (sd >= 0 && !IsOne(s[sd])) strides[d] = f.Product(s, sd + 1, r);
  }
  return strides;
}

class HeadBody {
 public:
  HeadBody(FunctionEmitter& f, const HeadEpilogue& e) : f_(f), b_(f.b()), e_(e), d_(e.cls->head_dim) {
    for (const Node* n : e.cls->head_nodes) {
      head_[n->result()] = n;
      HeadLayout layout = HeadLayout::kSplit;
      if (n->op() == OpKind::kTranspose) {
        layout = HeadLayout::kHeads;
      } else if (n->op() != OpKind::kReshape) {
        for (const Value* v : n->operands()) {
          if (auto it = layout_.find(v); it != layout_.end()) layout = it->second;
        }
      }
      layout_[n->result()] = layout;
    }
    for (const Node* n : e.cls->epilogues) tile_node_[n->result()] = n;
    for (const Node* n : e.cls->head_nodes) rotates_ |= n->op() == OpKind::kRotateHalf;
  }

  // Per task row and head: the index of the row's leading dims, the head.
  void Emit() {
    const Shape& shape = e_.cls->type->shape;
    const size_t lead_dims = shape.size() - 1;
    // Buffers, dims and strides before the loops: loaded inside, they could alias the stores,
    // and the loop vectoriser would give up.
    const int rank = static_cast<int>(shape.size());
    auto prepare = [&](const Value* v) {
      if (base_.contains(v)) return;
      base_[v] = f_.Buffer(f_.mc().plan.value_slot.at(v));
      for (int r : {rank, rank + 1}) strides_[{v, r}] = BroadcastStrides(f_, v->type().tensor().shape, r);
    };
    for (const Node* n : e_.cls->head_nodes) {
      for (const Value* v : n->operands()) {
        if (InMemory(v)) prepare(v);
      }
    }
    for (const Node* n : e_.cls->epilogues) {
      for (const Value* v : n->operands()) {
        if (InMemory(v)) prepare(v);
      }
    }
    for (const Value* v : e_.stores) prepare(v);
    std::vector<llvm::Value*> extents;
    for (size_t i = 0; i < lead_dims; ++i) extents.push_back(f_.DimValue(shape[i]));
    f_.For(e_.row_begin, e_.row_end, 1, "heads.row", [&](llvm::Value* row) {
      lead_.assign(lead_dims, nullptr);
      llvm::Value* rest = row;
      for (size_t i = lead_dims; i-- > 0;) {
        lead_[i] = i == 0 ? rest : b_.CreateURem(rest, extents[i]);
        rest = b_.CreateUDiv(rest, extents[i]);
      }
      row_ = row;
      f_.For(e_.head_begin, e_.head_end, 1, "heads.h", [&](llvm::Value* h) {
        h_ = h;
        if (rotates_) {
          for (int half = 0; half < 2; ++half) EmitColumns(half, d_ / 2, half == 0 ? d_ / 2 : -d_ / 2);
        } else {
          EmitColumns(0, d_, 0);
        }
      });
    });
  }

 private:
  // Columns [h·D + half·width, +width), partners `partner` columns away: the lower and upper
  // halves (width D/2, partners D/2 up and down) for rotate_half, else the head in one run.
  void EmitColumns(int half, int64_t width, int64_t partner) {
    half_ = half;
    const int64_t chunk = std::gcd(width, static_cast<int64_t>(e_.nr));
    llvm::Value* begin = b_.CreateAdd(b_.CreateMul(h_, f_.I64(d_)), f_.I64(half * width));
    llvm::Value* end = b_.CreateAdd(begin, f_.I64(width));
    f_.For(begin, end, chunk, "heads.chunk", [&](llvm::Value* c) {
      // Each chunk lies in one panel, and so does its partner chunk: tile elements at j.
      for (int s = 0; s < (rotates_ ? 2 : 1); ++s) {
        llvm::Value* col = s == 0 ? c : b_.CreateAdd(c, f_.I64(partner));
        chunk_col_[s] = col;
        llvm::Value* pp = b_.CreateSub(b_.CreateUDiv(col, f_.I64(e_.nr)), e_.first_panel);
        llvm::Value* within = b_.CreateAdd(b_.CreateMul(b_.CreateSub(row_, e_.row_begin), f_.I64(e_.nr)),
                                           b_.CreateURem(col, f_.I64(e_.nr)));
        tile_rows_[s].clear();
        for (const auto& [v, g] : e_.gemm_of) {
          if (!tile_rows_[s].contains(g)) {
            tile_rows_[s][g] = b_.CreateInBoundsGEP(b_.getFloatTy(), e_.tile_of(pp, g), within);
          }
        }
      }
      f_.For(f_.I64(0), f_.I64(chunk), 1, "heads.j", [&](llvm::Value* j) {
        j_ = j;
        memo_.clear();
        for (const Value* v : e_.stores) Store(v);
      });
    });
  }

  llvm::Value* Col(int s) { return b_.CreateAdd(chunk_col_[s], j_); }
  // d of column Col(s) within the head.
  llvm::Value* D(int s) { return b_.CreateSub(Col(s), b_.CreateMul(h_, f_.I64(d_))); }

  // The index of position s in a space of `layout` (rank: the tile's, plus one for the views).
  std::vector<llvm::Value*> Index(HeadLayout layout, int s) {
    std::vector<llvm::Value*> index = lead_;
    if (layout == HeadLayout::kTile) {
      index.push_back(Col(s));
    } else if (layout == HeadLayout::kSplit) {
      index.push_back(h_);
      index.push_back(D(s));
    } else {
      index.insert(index.end() - 1, h_);
      index.push_back(D(s));
    }
    return index;
  }

  bool InMemory(const Value* v) const { return !head_.contains(v) && !tile_node_.contains(v) && !e_.gemm_of.contains(v); }

  // Element offset of `v` (prepared) at `index`.
  llvm::Value* Offset(const Value* v, const std::vector<llvm::Value*>& index) {
    const std::vector<llvm::Value*>& strides = strides_.at({v, static_cast<int>(index.size())});
    llvm::Value* offset = f_.I64(0);
    for (size_t d = 0; d < index.size(); ++d) {
      if (strides[d] != nullptr) offset = b_.CreateAdd(offset, b_.CreateMul(index[d], strides[d]));
    }
    return offset;
  }

  void Store(const Value* v) {
    const TensorType& t = v->type().tensor();
    StoreFromF32(b_, t.dtype, Eval(v, 0, HeadLayout::kTile), base_.at(v), Offset(v, Index(layout_.at(v), 0)));
  }

  // Value v at position s (0: the column, 1: its partner), as read by a node of `reader`
  // layout (which only matters for values read from memory).
  llvm::Value* Eval(const Value* v, int s, HeadLayout reader) {
    const bool in_memory = InMemory(v);
    auto key = std::make_tuple(v, s, in_memory ? reader : HeadLayout::kTile);
    if (auto it = memo_.find(key); it != memo_.end()) return it->second;
    llvm::Value* x;
    const TensorType& t = v->type().tensor();
    if (auto g = e_.gemm_of.find(v); g != e_.gemm_of.end()) {
      llvm::Value* element = b_.CreateInBoundsGEP(b_.getFloatTy(), tile_rows_[s].at(g->second), j_);
      // A GEMM result (plus bias) is rounded to its dtype, as the GEMM's own result is.
      x = RoundTripF32(b_, t.dtype, e_.tile_value(g->second, element, Col(s)));
    } else if (in_memory) {
      x = LoadAsF32(b_, t.dtype, base_.at(v), Offset(v, Index(reader, s)));
    } else {
      const Node* n = head_.contains(v) ? head_.at(v) : tile_node_.at(v);
      const HeadLayout layout = head_.contains(v) ? layout_.at(v) : HeadLayout::kTile;
      if (n->op() == OpKind::kReshape || n->op() == OpKind::kTranspose) {
        x = Eval(n->operand(0), s, layout);  // the same element
      } else if (n->op() == OpKind::kRotateHalf) {
        // Position s is in the lower half when the half and s agree: -x[d + D/2] there.
        llvm::Value* partner = Eval(n->operand(0), 1 - s, layout);
        x = (half_ == 0) == (s == 0) ? b_.CreateFNeg(partner) : partner;
      } else {
        std::vector<llvm::Value*> args;
        for (const Value* a : n->operands()) args.push_back(Eval(a, s, layout));
        // Computed in f32 and rounded to the node's dtype, as element_loop.cc does.
        x = RoundTripF32(b_, t.dtype, n->op() == OpKind::kConvert ? args[0] : EmitPointwise(b_, n->op(), args));
      }
    }
    return memo_[key] = x;
  }

  FunctionEmitter& f_;
  llvm::IRBuilder<>& b_;
  const HeadEpilogue& e_;
  const int64_t d_;
  absl::flat_hash_map<const Value*, const Node*> head_;
  absl::flat_hash_map<const Value*, HeadLayout> layout_;
  absl::flat_hash_map<const Value*, const Node*> tile_node_;
  // Prepared before the loops: buffers, and broadcast strides by (value, space rank).
  absl::flat_hash_map<const Value*, llvm::Value*> base_;
  absl::flat_hash_map<std::pair<const Value*, int>, std::vector<llvm::Value*>> strides_;
  // Loop state.
  std::vector<llvm::Value*> lead_;
  llvm::Value* row_ = nullptr;
  llvm::Value* h_ = nullptr;
  bool rotates_ = false;  // rotate_half among the nodes: partner columns are read
  int half_ = 0;
  llvm::Value* chunk_col_[2] = {nullptr, nullptr};
  absl::flat_hash_map<size_t, llvm::Value*> tile_rows_[2];
  llvm::Value* j_ = nullptr;
  absl::flat_hash_map<std::tuple<const Value*, int, HeadLayout>, llvm::Value*> memo_;
};

}  // namespace

void EmitHeadEpilogue(FunctionEmitter& f, const HeadEpilogue& e) {
  BRAID_CHECK(e.cls->head_dim > 0, "a heads view has a head width");
  HeadBody(f, e).Emit();
}

}  // namespace braid
