// The grouped-GEMM pass.
#include "passes/grouped_gemm.h"

#include <algorithm>
#include <deque>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "ir/gemm.h"
#include "ir/status_macros.h"
#include "passes/pattern.h"

namespace braid {
namespace {

std::string Names(const std::vector<Node*>& nodes) {
  return absl::StrJoin(nodes, ", ", [](std::string* out, const Node* n) {
    absl::StrAppend(out, "%", n->result()->name());
  });
}

// Nodes reachable from `from` through uses, up to (and including) order key `limit`.
absl::flat_hash_set<const Node*> Descendants(const Graph& graph, const Node* from, uint64_t limit) {
  absl::flat_hash_set<const Node*> seen;
  std::deque<const Node*> work = {from};
  while (!work.empty()) {
    const Node* n = work.front();
    work.pop_front();
    for (const Node* user : n->result()->users()) {
      if (graph.Order(user) <= limit && seen.insert(user).second) work.push_back(user);
    }
  }
  return seen;
}

// The largest subset of `bucket` (in graph order, greedily from the first) in which no GEMM
// depends on another. Explains every GEMM it leaves out.
std::vector<Node*> IndependentPrefixGroup(const Graph& graph, const std::vector<Node*>& bucket,
                                          std::vector<std::string>& reasons) {
  const uint64_t limit = graph.Order(bucket.back());
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
    for (const Node* d : Descendants(graph, candidate, limit)) reached_from.emplace(d, candidate);
  }
  return group;
}

// Replaces `group` (in graph order) by one grouped_gemm and a multi_output per GEMM. True if
// the graph had to be re-sorted (the other nodes' relative order may have changed).
absl::StatusOr<bool> Rewrite(Graph& graph, const std::vector<Node*>& group) {
  std::vector<Value*> operands;
  absl::flat_hash_map<const Value*, int64_t> operand_index;
  auto index_of = [&](Value* v) {
    auto [it, inserted] = operand_index.emplace(v, operands.size());
    if (inserted) operands.push_back(v);
    return it->second;
  };
  std::vector<std::string> kinds;
  std::vector<int64_t> act, weight, bias, scale;
  bool scaled = false;
  std::vector<TensorType> layout;
  std::vector<std::string> names;
  for (Node* node : group) {
    const GemmOperands gemm = GemmsOf(*node).front();
    kinds.push_back(node->info().name);
    act.push_back(index_of(node->operand(gemm.act)));
    weight.push_back(index_of(node->operand(gemm.weight)));
    bias.push_back(gemm.has_bias() ? index_of(node->operand(gemm.bias)) : -1);
    scale.push_back(gemm.has_scale() ? index_of(node->operand(gemm.scale)) : -1);
    scaled |= gemm.has_scale();
    layout.push_back(node->result()->type().tensor());
    names.push_back(node->result()->name());
  }
  std::string name = absl::StrJoin(names, "_");
  if (name.size() > 40) name = names.front() + "_group";
  Attributes attrs = {{"kind", kinds}, {"act", act}, {"weight", weight}, {"bias", bias}};
  if (scaled) attrs["scale"] = scale;  // (absent when no GEMM has one)
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
  // The grouped node sits where the first GEMM was, but later GEMMs' operands may be defined
  // after that point; then restore topological order (no cycle: the group is independent).
  // Otherwise the order is already topological and the stable sort would change nothing.
  const uint64_t at = graph.Order(grouped);
  bool in_order = true;
  for (const Value* v : grouped->operands()) in_order &= v->is_param() || graph.Order(v->def()) < at;
  if (in_order) return false;
  BRAID_RETURN_IF_ERROR(graph.TopologicalSort());
  return true;
}

// The buckets still to look at, the one whose first GEMM comes first in the graph on top:
// the order in which matching the whole graph again would list them.
class BucketQueue {
 public:
  BucketQueue(const Graph& graph, std::vector<MultiOutputMatch>& buckets)
      : graph_(graph), buckets_(buckets) {
    for (size_t i = 0; i < buckets_.size(); ++i) Push(i);
  }
  bool empty() const { return heap_.empty(); }
  void Push(size_t i) {
    heap_.push_back(i);
    std::push_heap(heap_.begin(), heap_.end(), Later{this});
  }
  size_t Pop() {
    std::pop_heap(heap_.begin(), heap_.end(), Later{this});
    size_t i = heap_.back();
    heap_.pop_back();
    return i;
  }
  // After the graph was re-sorted: members back in graph order, and the heap rebuilt.
  void Reorder() {
    for (size_t i : heap_) {
      std::sort(buckets_[i].nodes.begin(), buckets_[i].nodes.end(), [&](const Node* a, const Node* b) {
        return graph_.Order(a) < graph_.Order(b);
      });
    }
    std::make_heap(heap_.begin(), heap_.end(), Later{this});
  }

 private:
  // Heap order: true if bucket a's first GEMM comes after bucket b's.
  struct Later {
    const BucketQueue* q;
    bool operator()(size_t a, size_t b) const {
      return q->graph_.Order(q->buckets_[a].nodes.front()) >
             q->graph_.Order(q->buckets_[b].nodes.front());
    }
  };
  const Graph& graph_;
  std::vector<MultiOutputMatch>& buckets_;
  std::vector<size_t> heap_;
};

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
  // A bucket is looked at again after each group it forms; say each reason once.
  absl::flat_hash_set<std::string> said;
  auto explain = [&](const std::string& reason) {
    if (debug() && said.insert(reason).second) *debug() << "  " << reason << "\n";
  };
  bool changed = false;
  // The GEMMs are matched once. Buckets are taken in graph order of their first GEMM; one that
  // cannot group now never can (grouping only adds dependences and never adds GEMMs), so it is
  // dropped. After a group, the bucket's left-out GEMMs (each depending on a grouped one) go
  // back in the queue and may group with each other. Each bucket is looked at once per group
  // it forms, plus once.
  std::vector<MultiOutputMatch> buckets = MatchMultiOutput(graph, siblings);
  BucketQueue queue(graph, buckets);
  while (!queue.empty()) {
    const size_t i = queue.Pop();
    MultiOutputMatch& bucket = buckets[i];
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
    BRAID_ASSIGN_OR_RETURN(bool reordered, Rewrite(graph, group));
    changed = true;
    bucket.nodes.erase(std::remove_if(bucket.nodes.begin(), bucket.nodes.end(),
                                      [](const Node* n) { return n->is_removed(); }),
                       bucket.nodes.end());
    bucket.matches.clear();  // not used past matching
    if (!bucket.nodes.empty()) queue.Push(i);
    if (reordered) queue.Reorder();
  }
  return changed;
}

}  // namespace braid
