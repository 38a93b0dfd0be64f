// Compile-time evaluation of nodes that read only constants.
#include "codegen/fold_constants.h"

#include <algorithm>
#include <vector>

#include "ir/interpreter.h"
#include "ir/status_macros.h"

namespace braid {
namespace {

// Results up to this size fold whatever their operands' (a bf16 row widened to f32).
constexpr int64_t kAlwaysFoldBytes = int64_t{1} << 20;

// The bytes of `v` at `dims`, or -1 if a dim is not bound.
int64_t BytesAt(const Value& v, const DimBindings& dims) {
  const TensorType& type = v.type().tensor();
  auto shape = BindShape(type.shape, dims);
  if (!shape.ok()) return -1;
  auto count = CheckedElementCount(*shape);
  return count.ok() ? *count * DTypeBytes(type.dtype) : -1;
}

bool Foldable(const Node& node, const DimBindings& dims) {
  if (!node.info().Has(kTraitPointwise) && !node.info().Has(kTraitShape)) return false;
  if (node.result()->type().is_layout()) return false;
  int64_t largest = 0;
  for (const Value* v : node.operands()) {
    if (!v->is_const()) return false;
    largest = std::max(largest, BytesAt(*v, dims));
  }
  // A dim the constants do not bind (an expand to [M, K]) is read at the run's dims.
  const int64_t bytes = BytesAt(*node.result(), dims);
  return bytes >= 0 && (bytes <= kAlwaysFoldBytes || bytes <= 2 * largest);
}

}  // namespace

absl::Status FoldConstants(Graph& graph, const DimBindings& constant_dims,
                           std::map<std::string, TensorView>* constants, std::deque<Tensor>* folded) {
  std::vector<Node*> nodes;
  for (const auto& node : graph.nodes()) nodes.push_back(node.get());
  std::map<const Value*, const Tensor*> folded_of;  // the parameters made here, by value
  for (Node* node : nodes) {
    if (node->is_removed() || !Foldable(*node, constant_dims)) continue;
    const Tensor* result = nullptr;
    if (constants != nullptr) {
      // The interpreter reads Tensors: the caller's views are copied for the one evaluation.
      std::map<const Value*, Tensor> copies;
      auto tensor_of = [&](const Value* v) -> const Tensor& {
        if (auto it = folded_of.find(v); it != folded_of.end()) return *it->second;
        auto it = copies.find(v);
        if (it == copies.end()) it = copies.emplace(v, Tensor::CopyOf(constants->at(v->name()))).first;
        return it->second;
      };
      BRAID_ASSIGN_OR_RETURN(
          std::vector<Tensor> computed,
          EvaluateNode(*node, [&](const Value* v, int) -> const Tensor& { return tensor_of(v); }, constant_dims));
      folded->push_back(std::move(computed.front()));
      result = &folded->back();
    }
    const std::string name = node->result()->name();
    Value* param = graph.AddParam(graph.UniqueName(name + "_folded"), node->result()->type().tensor(),
                                  /*is_const=*/true, node->loc());
    graph.ReplaceAllUsesWith(node->result(), param);
    graph.RemoveNode(node);
    graph.RenameValue(param, name);
    if (result != nullptr) {
      folded_of[param] = result;
      (*constants)[name] = result->view();
    }
  }
  // Operands nothing reads any more stay parameters (their views are simply not packed).
  return absl::OkStatus();
}

}  // namespace braid
