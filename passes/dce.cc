// Dead-code elimination.
#include "passes/dce.h"

#include "absl/container/flat_hash_set.h"

namespace braid {

absl::StatusOr<bool> DeadCodeElimination::Run(Graph& graph) {
  // One backward sweep: a node is live if an output or a live node reads it.
  absl::flat_hash_set<const Value*> live(graph.outputs().begin(), graph.outputs().end());
  std::vector<Node*> dead;
  for (auto it = graph.nodes().rbegin(); it != graph.nodes().rend(); ++it) {
    Node* node = it->get();
    if (!live.contains(node->result())) {
      dead.push_back(node);
      if (debug()) *debug() << "  removing %" << node->result()->name() << ": never read\n";
      continue;
    }
    for (const Value* operand : node->operands()) live.insert(operand);
  }
  for (Node* node : dead) graph.RemoveNode(node);
  return !dead.empty();
}

}  // namespace braid
