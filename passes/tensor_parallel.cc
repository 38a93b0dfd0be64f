// Column-parallel linears, the pointwise ops between them and row-parallel linears; partial
// sums reduced where a consumer needs the whole value.
#include "passes/tensor_parallel.h"

#include <algorithm>
#include <map>
#include <ostream>
#include <set>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "ir/gemm.h"
#include "ir/status_macros.h"

namespace braid {
namespace {

// How a rank holds a value: whole (every rank the same), sliced along its last dim, or a
// partial sum (the whole value is the sum over ranks).
enum class Layout { kWhole, kSliced, kPartial };

struct Range {
  int64_t begin, end;
  int64_t width() const { return end - begin; }
};

Range SliceOf(int64_t full, int rank, int size) { return {full * rank / size, full * (rank + 1) / size}; }

std::optional<int64_t> StaticLastDim(const Value* v) {
  const Shape& shape = v->type().tensor().shape;
  if (shape.empty() || shape.back().is_symbolic()) return std::nullopt;
  return shape.back().value();
}

// The constant parameter a GEMM weight (or bias, or pointwise operand) is, directly or through
// one `convert`, if it is read by nothing else; else null.
Value* SliceableConstant(Value* v) {
  if (v->users().size() != 1) return nullptr;
  if (v->is_param()) return v->is_const() ? v : nullptr;
  const Node* def = v->def();
  if (def->op() != OpKind::kConvert) return nullptr;
  Value* source = def->operand(0);
  return source->is_const() && source->users().size() == 1 ? source : nullptr;
}

bool IsLinearOp(const Node& node) { return node.op() == OpKind::kLinear; }

// A linear's bias and weight scale (an int8 weight's, one per output channel), or null.
Value* BiasOf(const Node& node) {
  const GemmOperands gemm = GemmsOf(node).front();
  return gemm.has_bias() ? node.operand(gemm.bias) : nullptr;
}
Value* ScaleOf(const Node& node) {
  const GemmOperands gemm = GemmsOf(node).front();
  return gemm.has_scale() ? node.operand(gemm.scale) : nullptr;
}

// Why a candidate reading a slice is not column-parallel: it is row-parallel (said later).
constexpr char kRowParallel[] = "its activation is a slice";

class Sharder {
 public:
  Sharder(Graph& graph, int rank, int size, std::ostream* debug)
      : graph_(graph), rank_(rank), size_(size), debug_(debug) {}

  absl::StatusOr<bool> Run() {
    for (const auto& node : graph_.nodes()) {
      if (node->op() == OpKind::kGroupedGemm) {
        return absl::FailedPreconditionError(
            "tensor-parallel runs before grouped-gemm (it slices single linears)");
      }
      if (node->op() == OpKind::kAllReduce) {
        return absl::FailedPreconditionError(absl::StrCat(
            "@", graph_.name(), " already has an all_reduce (%", node->result()->name(),
            "): tensor-parallel shards a single-process graph"));
      }
    }
    ChooseColumnParallel();
    const bool changed = Rewrite();
    return changed;
  }

 private:
  // A linear every rank could slice by rows: its weight a constant only it reads, its result
  // static, at least N wide and its activation whole (decided in Propagate).
  std::string WhyNotColumnCandidate(const Node& node) {
    if (!IsLinearOp(node)) return "not a linear";
    if (SliceableConstant(node.operand(1)) == nullptr) {
      return "its weight is not a constant read only by it";
    }
    if (BiasOf(node) != nullptr && SliceableConstant(BiasOf(node)) == nullptr) {
      return "its bias is not a constant read only by it";
    }
    if (ScaleOf(node) != nullptr && SliceableConstant(ScaleOf(node)) == nullptr) {
      return "its weight scale is not a constant read only by it";
    }
    std::optional<int64_t> width = StaticLastDim(node.result());
    if (!width) return "its width is symbolic";
    if (*width < size_) return absl::StrCat("it is ", *width, " wide, narrower than ", size_, " ranks");
    return "";
  }

  // Layouts of every value with the current candidates; records, for each sliced value, the
  // candidates it derives from, and returns the candidates some use of a sliced value rules
  // out (with reasons).
  std::map<const Node*, std::string> Propagate() {
    layout_.clear();
    origins_.clear();
    std::map<const Node*, std::string> rejected;
    auto reject = [&](const Value* v, const std::string& why) {
      for (const Node* origin : origins_[v]) rejected.emplace(origin, why);
    };
    for (const auto& node_ptr : graph_.nodes()) {
      const Node* node = node_ptr.get();
      const Value* result = node->result();
      if (columns_.count(node) && LayoutOf(node->operand(0)) != Layout::kSliced) {
        layout_[result] = Layout::kSliced;
        origins_[result] = {node};
        continue;
      }
      std::vector<const Value*> sliced;
      for (const Value* v : node->operands()) {
        if (LayoutOf(v) == Layout::kSliced) sliced.push_back(v);
      }
      if (columns_.count(node)) {
        rejected.emplace(node, kRowParallel);
      }
      if (sliced.empty()) {
        bool partial = false;
        for (const Value* v : node->operands()) partial |= LayoutOf(v) == Layout::kPartial;
        if (partial && StaysPartial(*node)) layout_[result] = Layout::kPartial;
        continue;
      }
      // A row-parallel linear: reads a sliced activation with a constant weight.
      if (IsLinearOp(*node) && sliced.size() == 1 && sliced[0] == node->operand(0) &&
          SliceableConstant(node->operand(1)) != nullptr &&
          (BiasOf(*node) == nullptr || SliceableConstant(BiasOf(*node)) != nullptr)) {
        layout_[result] = Layout::kPartial;
        continue;
      }
      std::string why;
      if (!node->info().Has(kTraitPointwise)) {
        why = absl::StrCat("%", node->result()->name(), " (", node->info().name,
                           ") would read a slice");
        if (IsLinearOp(*node)) absl::StrAppend(&why, " with a weight that is not a constant only it reads");
      } else {
        why = WhyNotSlicedPointwise(*node, sliced);
      }
      if (!why.empty()) {
        for (const Value* v : sliced) reject(v, why);
        continue;
      }
      layout_[result] = Layout::kSliced;
      for (const Value* v : sliced) origins_[result].insert(origins_[v].begin(), origins_[v].end());
    }
    for (const Value* out : graph_.outputs()) {
      if (LayoutOf(out) == Layout::kSliced) {
        reject(out, absl::StrCat("a slice of it, %", out->name(), ", would be returned (no all_gather)"));
      }
    }
    return rejected;
  }

  // Why a pointwise op over sliced operands cannot run on slices, or empty.
  std::string WhyNotSlicedPointwise(const Node& node, const std::vector<const Value*>& sliced) {
    const int64_t width = *StaticLastDim(sliced[0]);
    const Shape& out = node.result()->type().tensor().shape;
    for (const Value* v : sliced) {
      if (v->type().tensor().shape.size() != out.size() || *StaticLastDim(v) != width) {
        return absl::StrCat("%", node.result()->name(), " mixes slices of different widths or broadcasts one");
      }
    }
    for (const Value* v : node.operands()) {
      if (LayoutOf(v) == Layout::kPartial) {
        return absl::StrCat("%", node.result()->name(), " mixes a slice with a partial sum");
      }
      if (layout_.count(v)) continue;
      const Shape& shape = v->type().tensor().shape;
      const bool broadcast = shape.empty() || (!shape.back().is_symbolic() && shape.back().value() == 1);
      if (broadcast) continue;
      if (SliceableConstant(const_cast<Value*>(v)) == nullptr) {
        return absl::StrCat("%", node.result()->name(), " reads the whole-width %", v->name(),
                            ", which is not a constant only it reads");
      }
    }
    return "";
  }

  Layout LayoutOf(const Value* v) const {
    auto it = layout_.find(v);
    return it == layout_.end() ? Layout::kWhole : it->second;
  }

  // Whether `node`, reading a partial sum (and no slice), may stay partial on every rank.
  bool StaysPartial(const Node& node) const {
    auto partial = [&](const Value* v) { return LayoutOf(v) == Layout::kPartial; };
    switch (node.op()) {
      case OpKind::kNeg:
        return true;
      case OpKind::kAdd:
        return true;  // partial + partial, or a whole value added on rank 0 only
      case OpKind::kSub:
        return partial(node.operand(0));  // whole - partial would need a neg on other ranks
      case OpKind::kMul:
        return !(partial(node.operand(0)) && partial(node.operand(1)));
      case OpKind::kDiv:
        return partial(node.operand(0)) && !partial(node.operand(1));
      default:
        return false;
    }
  }

  void ChooseColumnParallel() {
    for (const auto& node : graph_.nodes()) {
      if (!IsLinearOp(*node)) continue;
      const std::string why = WhyNotColumnCandidate(*node);
      if (why.empty()) {
        columns_.insert(node.get());
      } else {
        Explain(absl::StrCat("%", node->result()->name(), " stays whole: ", why));
      }
    }
    for (;;) {
      std::map<const Node*, std::string> rejected = Propagate();
      if (rejected.empty()) break;
      for (const auto& [node, why] : rejected) {
        columns_.erase(node);
        if (why != kRowParallel) Explain(absl::StrCat("%", node->result()->name(), " stays whole: ", why));
      }
    }
  }

  void Explain(const std::string& text) {
    if (debug_ != nullptr) *debug_ << "tensor-parallel: " << text << "\n";
  }

  // Gives `param` (a constant) this rank's slice along `axis` and records it.
  void SliceConstant(Value* param, int axis) {
    if (slices_.count(param->name())) return;
    TensorType type = param->type().tensor();
    const int64_t full = type.shape[axis].value();
    const Range range = SliceOf(full, rank_, size_);
    type.shape[axis] = Dim::Const(range.width());
    param->set_type(Type::Tensor(type));
    slices_[param->name()] = ConstSlice{axis, range.begin, range.end, full};
  }

  // The same for a weight read directly or through `convert`.
  void SliceOperand(Value* v, int axis) {
    Value* param = SliceableConstant(v);
    SliceConstant(param, axis);
    if (v != param) {
      TensorType type = v->type().tensor();
      type.shape[axis] = param->type().tensor().shape[axis];
      v->set_type(Type::Tensor(type));
    }
  }

  void SetLastDim(Value* v, int64_t width) {
    TensorType type = v->type().tensor();
    type.shape.back() = Dim::Const(width);
    v->set_type(Type::Tensor(type));
  }

  bool Rewrite() {
    bool changed = false;
    std::vector<Node*> nodes;
    for (const auto& node : graph_.nodes()) nodes.push_back(node.get());
    absl::flat_hash_map<const Value*, Value*> reduced;  // partial -> its all_reduce
    auto whole = [&](Value* v, Node* before) {
      auto it = reduced.find(v);
      if (it != reduced.end()) return it->second;
      // The reduced value keeps the name (outputs keep theirs); the partial becomes `_partial`.
      const std::string name = v->name();
      graph_.RenameValue(v, graph_.UniqueName(absl::StrCat(name, "_partial")));
      Node* sum = graph_.InsertNode(before, OpKind::kAllReduce, {v}, {}, name, v->type(),
                                    v->def() != nullptr ? v->def()->loc() : SourceLoc{});
      reduced[v] = sum->result();
      Explain(absl::StrCat("%", name, " = all_reduce(%", v->name(), ")"));
      return sum->result();
    };
    for (Node* node : nodes) {
      if (node->is_removed()) continue;
      Value* result = node->result();
      const Layout out = LayoutOf(result);
      if (out == Layout::kSliced && columns_.count(node)) {
        const int64_t full = *StaticLastDim(result);
        const Range range = SliceOf(full, rank_, size_);
        if (LayoutOf(node->operand(0)) == Layout::kPartial) {
          graph_.SetOperand(node, 0, whole(node->operand(0), node));
        }
        SliceOperand(node->operand(1), 0);
        if (Value* bias = BiasOf(*node)) SliceOperand(bias, 0);
        if (Value* scale = ScaleOf(*node)) SliceOperand(scale, 0);  // [N, 1] or [N]: by rows
        SetLastDim(result, range.width());
        Explain(absl::StrCat("%", result->name(), " column-parallel: [", range.begin, ", ", range.end,
                             ") of its ", full, " columns"));
        changed = true;
        continue;
      }
      if (out == Layout::kSliced) {  // a pointwise op on slices
        const int64_t full = *StaticLastDim(result);
        for (int i = 0; i < static_cast<int>(node->operands().size()); ++i) {
          Value* v = node->operand(i);
          if (LayoutOf(v) != Layout::kWhole) continue;
          const Shape& shape = v->type().tensor().shape;
          if (!shape.empty() && !shape.back().is_symbolic() && shape.back().value() == full && full != 1) {
            SliceOperand(v, static_cast<int>(shape.size()) - 1);
          }
        }
        SetLastDim(result, SliceOf(full, rank_, size_).width());
        changed = true;
        continue;
      }
      if (out == Layout::kPartial && IsLinearOp(*node) && LayoutOf(node->operand(0)) == Layout::kSliced) {
        SliceOperand(node->operand(1), 1);
        // (A weight scale, one per output channel, stays whole: each rank scales its partial.)
        Value* bias = BiasOf(*node);
        Explain(absl::StrCat("%", result->name(), " row-parallel: a partial sum over this rank's slice",
                             bias != nullptr ? (rank_ == 0 ? "; adds the bias" : "; the bias is rank 0's") : ""));
        if (bias != nullptr && rank_ != 0) {
          std::vector<Value*> operands = {node->operand(0), node->operand(1)};
          Attributes attrs;
          if (Value* scale = ScaleOf(*node)) {
            operands.push_back(scale);
            attrs["scale"] = int64_t{2};
          }
          Node* without_bias = graph_.InsertNode(node, OpKind::kLinear, std::move(operands), std::move(attrs),
                                                 graph_.UniqueName(result->name()), result->type(), node->loc());
          graph_.ReplaceNode(node, without_bias->result());
          layout_[without_bias->result()] = Layout::kPartial;
        }
        changed = true;
        continue;
      }
      if (out == Layout::kPartial) {
        // An op that stays partial; a whole operand of an add/sub is rank 0's alone.
        const bool additive = node->op() == OpKind::kAdd || node->op() == OpKind::kSub;
        if (additive && rank_ != 0) {
          Value* kept = nullptr;
          bool both_partial = true;
          for (Value* v : node->operands()) {
            if (LayoutOf(v) == Layout::kPartial) kept = v; else both_partial = false;
          }
          if (!both_partial && kept->type() == result->type()) {
            layout_[kept] = Layout::kPartial;
            graph_.ReplaceNode(node, kept);  // `kept` takes the sum's name
            changed = true;
          } else if (!both_partial) {
            // The whole operand broadcasts the partial larger: reduce first instead.
            for (int i = 0; i < 2; ++i) {
              if (LayoutOf(node->operand(i)) == Layout::kPartial) graph_.SetOperand(node, i, whole(node->operand(i), node));
            }
            layout_.erase(result);
            changed = true;
          }
        }
        continue;
      }
      // A whole result: every partial operand is reduced first.
      for (int i = 0; i < static_cast<int>(node->operands().size()); ++i) {
        if (LayoutOf(node->operand(i)) == Layout::kPartial) {
          graph_.SetOperand(node, i, whole(node->operand(i), node));
          changed = true;
        }
      }
    }
    std::vector<Value*> outputs = graph_.outputs();
    for (Value*& v : outputs) {
      if (LayoutOf(v) == Layout::kPartial) {
        v = whole(v, nullptr);
        changed = true;
      }
    }
    graph_.set_outputs(outputs);
    TensorParallelInfo info;
    info.rank = rank_;
    info.size = size_;
    info.slices = slices_;
    graph_.set_tensor_parallel(std::move(info));
    return changed;
  }

  Graph& graph_;
  const int rank_, size_;
  std::ostream* debug_;
  std::set<const Node*> columns_;
  absl::flat_hash_map<const Value*, Layout> layout_;
  absl::flat_hash_map<const Value*, std::set<const Node*>> origins_;
  std::map<std::string, ConstSlice> slices_;
};

}  // namespace

absl::StatusOr<bool> TensorParallel::Run(Graph& graph) {
  if (size_ < 1 || rank_ < 0 || rank_ >= size_) {
    return absl::InvalidArgumentError(absl::StrCat("tensor-parallel: rank ", rank_, " of ", size_,
                                                   " ranks is out of range"));
  }
  if (graph.tensor_parallel()) {
    return absl::FailedPreconditionError(absl::StrCat("@", graph.name(), " is already rank ",
                                                      graph.tensor_parallel()->rank, " of ",
                                                      graph.tensor_parallel()->size));
  }
  if (size_ == 1) return false;
  return Sharder(graph, rank_, size_, debug()).Run();
}

}  // namespace braid
