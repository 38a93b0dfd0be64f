// softmax(q·kᵀ·c + mask)·v written out -> attention(q·c, k, v, mask); also with the softmax
// taken in f32 between converts, as bf16 models write it.
#include "passes/fold_attention.h"

#include <ostream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "ir/tensor_op_types.h"
#include "ir/type_inference.h"

namespace braid {
namespace {

Node* DefOf(Value* v, OpKind op) {
  Node* def = v->def();
  return def != nullptr && def->op() == op ? def : nullptr;
}

bool OnlyUse(const Value* v, const Graph& graph) {
  if (v->users().size() != 1) return false;
  for (const Value* out : graph.outputs()) {
    if (out == v) return false;
  }
  return true;
}

bool AllOnes(const Shape& shape) {
  for (const Dim& d : shape) {
    if (d != Dim::Const(1)) return false;
  }
  return true;
}

// `x` itself, or the [B, Hkv, S, D] tensor a repeat_kv chain reshape(expand(reshape(k)))
// repeats; null if `x` is not rank 4.
Value* UnrepeatKv(Value* x) {
  if (x->type().tensor().rank() != 4) return nullptr;
  Node* widen = DefOf(x, OpKind::kReshape);
  Node* expand = widen != nullptr ? DefOf(widen->operand(0), OpKind::kExpand) : nullptr;
  Node* narrow = expand != nullptr ? DefOf(expand->operand(0), OpKind::kReshape) : nullptr;
  if (narrow == nullptr) return x;
  Value* k = narrow->operand(0);
  const Shape& ks = k->type().tensor().shape;
  const Shape& five = narrow->result()->type().tensor().shape;
  const Shape& wide = expand->result()->type().tensor().shape;
  // [B, Hkv, S, D] -> [B, Hkv, 1, S, D] -> [B, Hkv, n, S, D] -> [B, Hkv*n, S, D]
  if (ks.size() != 4 || five.size() != 5 || five != Shape{ks[0], ks[1], Dim::Const(1), ks[2], ks[3]} ||
      wide.size() != 5 || wide[0] != ks[0] || wide[1] != ks[1] || wide[3] != ks[2] || wide[4] != ks[3]) {
    return x;
  }
  // ... and the result is the heads side by side: [B, Hkv*n, S, D], not another regrouping of
  // the same elements.
  auto heads = Dim::Multiply(ks[1], wide[2]);
  if (!heads.ok() || x->type().tensor().shape != Shape{ks[0], *heads, ks[2], ks[3]}) return x;
  return k;
}

class Folder {
 public:
  Folder(Graph& graph, std::ostream* debug) : graph_(graph), debug_(debug) {}

  // Folds the attention whose second batch_matmul is `root`; false (with a reason on the debug
  // stream) if it is not one.
  bool Fold(Node& root) {
    Node* softmax = DefOf(root.operand(0), OpKind::kSoftmax);
    // A bf16 model's eager attention takes the softmax in f32: convert(softmax(convert(s) to
    // f32)) back to bf16. The template computes scores and softmax in f32 anyway; the two
    // roundings of the probabilities and of the widened scores are what it skips.
    Node* narrow = DefOf(root.operand(0), OpKind::kConvert);
    Node* widen = nullptr;
    if (softmax == nullptr && narrow != nullptr && (softmax = DefOf(narrow->operand(0), OpKind::kSoftmax))) {
      widen = DefOf(softmax->operand(0), OpKind::kConvert);
      const DType dtype = root.result()->type().tensor().dtype;
      if (widen == nullptr || widen->operand(0)->type().tensor().dtype != dtype ||
          widen->result()->type().tensor().dtype != DType::kF32 || narrow->result()->type().tensor().dtype != dtype) {
        return Skip(root, "the softmax's operand and result convert between other dtypes");
      }
      if (!OnlyUse(narrow->result(), graph_) || !OnlyUse(widen->result(), graph_)) {
        return Skip(root, "the converted scores or probabilities are read elsewhere");
      }
    }
    if (softmax == nullptr || root.result()->type().tensor().rank() != 4) return false;
    if (*NormalizeAxis(*softmax->IntAttr("axis"), 4) != 3) return Skip(root, "the softmax is not over the keys");
    if (!OnlyUse(softmax->result(), graph_)) return Skip(root, "the probabilities are read elsewhere");
    Value* scores = widen != nullptr ? widen->operand(0) : softmax->operand(0);
    Value* mask = nullptr;
    Value* scale = nullptr;
    std::vector<Node*> chain = {softmax};
    if (Node* add = DefOf(scores, OpKind::kAdd)) {
      const int side = DefOf(add->operand(0), OpKind::kBatchMatmul) || DefOf(add->operand(0), OpKind::kMul) ? 0 : 1;
      mask = add->operand(1 - side);
      scores = add->operand(side);
      if (!OnlyUse(add->result(), graph_)) return Skip(root, "the masked scores are read elsewhere");
      chain.push_back(add);
    }
    if (Node* mul = DefOf(scores, OpKind::kMul)) {
      const int side = DefOf(mul->operand(0), OpKind::kBatchMatmul) ? 0 : 1;
      scale = mul->operand(1 - side);
      scores = mul->operand(side);
      if (!AllOnes(scale->type().tensor().shape)) return Skip(root, "the scores are multiplied by more than one scale");
      if (!OnlyUse(mul->result(), graph_)) return Skip(root, "the scaled scores are read elsewhere");
      chain.push_back(mul);
    }
    Node* qk = DefOf(scores, OpKind::kBatchMatmul);
    if (qk == nullptr) return Skip(root, "the softmax does not read q·kᵀ");
    if (!OnlyUse(qk->result(), graph_)) return Skip(root, "the scores q·kᵀ are read elsewhere");
    Node* kt = DefOf(qk->operand(1), OpKind::kTranspose);
    if (kt == nullptr || *kt->IntListAttr("perm") != std::vector<int64_t>{0, 1, 3, 2}) {
      return Skip(root, "q·kᵀ does not read k transposed as {perm = [0, 1, 3, 2]}");
    }
    Value* q = qk->operand(0);
    Value* k = UnrepeatKv(kt->operand(0));
    Value* v = UnrepeatKv(root.operand(1));
    if (k == nullptr || v == nullptr || q->type().tensor().rank() != 4) return Skip(root, "q, k or v is not rank 4");
    if (k->type() != v->type()) {  // one of them repeated, the other not: use both as written
      k = kt->operand(0);
      v = root.operand(1);
    }
    std::vector<Value*> operands = {q, k, v};
    if (mask != nullptr) operands.push_back(mask);
    std::vector<const Type*> types;
    for (Value* x : operands) types.push_back(&x->type());
    const Attributes attrs = {{"scale", 1.0}};
    auto type = InferResultType(OpKind::kAttention, types, attrs);
    if (!type.ok() || *type != root.result()->type()) {
      return Skip(root, absl::StrCat("attention does not take these operands (",
                                     type.ok() ? "another result type" : type.status().message(), ")"));
    }
    if (scale != nullptr) {
      Node* scaled = graph_.InsertNode(&root, OpKind::kMul, {q, scale}, {}, graph_.UniqueName(q->name() + "_scaled"),
                                       q->type(), root.loc());
      operands[0] = scaled->result();
    }
    Node* attention = graph_.InsertNode(&root, OpKind::kAttention, operands, attrs, graph_.UniqueName("attention"),
                                        root.result()->type(), root.loc());
    graph_.ReplaceNode(&root, attention->result());
    if (debug_ != nullptr) *debug_ << "fold-attention: %" << attention->result()->name() << " folded\n";
    return true;
  }

 private:
  bool Skip(const Node& root, const std::string& why) {
    if (debug_ != nullptr) *debug_ << "fold-attention: not folding %" << root.result()->name() << ": " << why << "\n";
    return false;
  }

  Graph& graph_;
  std::ostream* debug_;
};

}  // namespace

absl::StatusOr<bool> FoldAttention::Run(Graph& graph) {
  std::vector<Node*> roots;
  for (const auto& node : graph.nodes()) {
    if (node->op() == OpKind::kBatchMatmul) roots.push_back(node.get());
  }
  Folder folder(graph, debug());
  bool changed = false;
  for (Node* root : roots) {
    if (!root->is_removed()) changed |= folder.Fold(*root);
  }
  return changed;  // dce removes the unfolded chain
}

}  // namespace braid
