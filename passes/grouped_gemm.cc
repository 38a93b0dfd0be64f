// The grouped-GEMM pass.
#include "passes/grouped_gemm.h"

#include <deque>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "ir/status_macros.h"
#include "passes/pattern.h"

namespace braid {
namespace {

std::string Names(const std::vector<Node*>& nodes) {
  return absl::StrJoin(nodes, ", ", [](std::string* out, const Node* n) {
    absl::StrAppend(out, "%", n->result()->name());
  });
}

// Nodes reachable from `from` through uses, up to (and including) position `limit`.
absl::flat_hash_set<const Node*> Descendants(
    const Node* from, size_t limit, const absl::flat_hash_map<const Node*, size_t>& position,
    const absl::flat_hash_map<const Value*, std::vector<Node*>>& users) {
  absl::flat_hash_set<const Node*> seen;
  std::deque<const Node*> work = {from};
  while (!work.empty()) {
    const Node* n = work.front();
    work.pop_front();
    auto it = users.find(n->result());
    if (it == users.end()) continue;
    for (const Node* user : it->second) {
      if (position.at(user) <= limit && seen.insert(user).second) work.push_back(user);
    }
  }
  return seen;
}

// The largest subset of `bucket` (in graph order, greedily from the first) in which no GEMM
// depends on another. Explains every GEMM it leaves out.
std::vector<Node*> IndependentPrefixGroup(const Graph& graph, const std::vector<Node*>& bucket,
                                          std::vector<std::string>& reasons) {
  absl::flat_hash_map<const Node*, size_t> position;
  for (size_t i = 0; i < graph.nodes().size(); ++i) position[graph.nodes()[i].get()] = i;
  const auto users = graph.ComputeUsers();
  const size_t limit = position.at(bucket.back());
  std::vector<Node*> group;
  absl::flat_hash_map<const Node*, const Node*> reached_from;  // descendant -> group member
  for (Node* candidate : bucket) {
    auto it = reached_from.find(candidate);
    if (it != reached_from.end()) {
      reasons.push_back(absl::StrCat("%", candidate->result()->name(), " is not grouped with %",
                                     it->second->result()->name(),
                                     ": it depends on it, grouping would make a cycle"));
      continue;
    }
    group.push_back(candidate);
    for (const Node* d : Descendants(candidate, limit, position, users)) reached_from.emplace(d, candidate);
  }
  return group;
}

// Replaces `group` (in graph order) by one grouped_gemm and a multi_output per GEMM.
absl::Status Rewrite(Graph& graph, const std::vector<Node*>& group) {
  std::vector<Value*> operands;
  absl::flat_hash_map<const Value*, int64_t> operand_index;
  auto index_of = [&](Value* v) {
    auto [it, inserted] = operand_index.emplace(v, operands.size());
    if (inserted) operands.push_back(v);
    return it->second;
  };
  std::vector<std::string> kinds;
  std::vector<int64_t> act, weight, bias;
  std::vector<TensorType> layout;
  std::vector<std::string> names;
  for (Node* gemm : group) {
    kinds.push_back(gemm->info().name);
    act.push_back(index_of(gemm->operand(0)));
    weight.push_back(index_of(gemm->operand(1)));
    bias.push_back(gemm->operands().size() == 3 ? index_of(gemm->operand(2)) : -1);
    layout.push_back(gemm->result()->type().tensor());
    names.push_back(gemm->result()->name());
  }
  std::string name = absl::StrJoin(names, "_");
  if (name.size() > 40) name = names.front() + "_group";
  Attributes attrs = {{"kind", kinds}, {"act", act}, {"weight", weight}, {"bias", bias}};
  Node* first = group.front();
  Node* grouped = graph.InsertNode(first, OpKind::kGroupedGemm, operands, std::move(attrs),
                                   graph.UniqueName(name), Type::Layout(layout), first->loc());
  std::vector<Node*> outputs;
  for (size_t i = 0; i < group.size(); ++i) {
    outputs.push_back(graph.InsertNode(first, OpKind::kMultiOutput, {grouped->result()},
                                       {{"index", static_cast<int64_t>(i)}},
                                       graph.UniqueName(names[i] + ".out"),
                                       Type::Tensor(layout[i]), group[i]->loc()));
  }
  for (size_t i = 0; i < group.size(); ++i) graph.ReplaceNode(group[i], outputs[i]->result());
  // The grouped node sits where the first GEMM was, but later GEMMs' weights may be defined
  // after that point; restore topological order (no cycle: the group is independent).
  return graph.TopologicalSort();
}

}  // namespace

absl::StatusOr<bool> GroupedGemm::Run(Graph& graph) {
  // Every linear / matmul, its activation captured.
  Pattern gemm = Pattern::OpWithTraits(kTraitGemm, {Pattern::Any().Capture("act")});
  MultiOutputPattern siblings =
      options_.group_independent
          ? MultiOutputPattern{gemm,
                               [](const Node&, const PatternMatch& m) -> std::optional<std::string> {
                                 return "activations of type " + m["act"]->type().ToString();
                               }}
          : SiblingsSharing(gemm, "act");
  // Rounds re-match, so the same reason may come up again; say each once.
  absl::flat_hash_set<std::string> said;
  auto explain = [&](const std::string& reason) {
    if (debug() && said.insert(reason).second) *debug() << "  " << reason << "\n";
  };
  bool changed = false;
  // Each round groups at most one bucket, then re-matches; GEMMs left out for a dependence
  // can group with each other in a later round. Every round removes at least one GEMM.
  for (bool progress = true; progress;) {
    progress = false;
    for (const MultiOutputMatch& bucket : MatchMultiOutput(graph, siblings)) {
      if (bucket.nodes.size() < 2) {
        explain(absl::StrCat(bucket.key, ": only one GEMM reads it (", Names(bucket.nodes),
                             "); nothing to group"));
        continue;
      }
      std::vector<std::string> reasons;
      std::vector<Node*> group = IndependentPrefixGroup(graph, bucket.nodes, reasons);
      for (const std::string& reason : reasons) explain(reason);
      if (group.size() < 2) continue;
      explain(absl::StrCat(bucket.key, ": grouping ", Names(group)));
      BRAID_RETURN_IF_ERROR(Rewrite(graph, group));
      changed = progress = true;
      break;
    }
  }
  return changed;
}

}  // namespace braid
