// The pattern matcher.
#include "passes/pattern.h"

#include <algorithm>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "ir/status_macros.h"

namespace braid {

Pattern Pattern::Any() { return Pattern(); }

Pattern Pattern::Op(OpKind op, std::vector<Pattern> operands) {
  Pattern p;
  p.kind_ = Kind::kOp;
  p.op_ = op;
  p.operands_ = std::move(operands);
  return p;
}

Pattern Pattern::OpWithTraits(uint32_t traits, std::vector<Pattern> operands) {
  Pattern p;
  p.kind_ = Kind::kTraits;
  p.traits_ = traits;
  p.operands_ = std::move(operands);
  return p;
}

Pattern Pattern::Same(std::string capture) {
  Pattern p;
  p.kind_ = Kind::kSame;
  p.same_ = std::move(capture);
  return p;
}

Pattern& Pattern::Capture(std::string name) {
  capture_ = std::move(name);
  return *this;
}

Pattern& Pattern::Where(std::function<bool(const Value&)> constraint) {
  constraints_.push_back(std::move(constraint));
  return *this;
}

Pattern& Pattern::Commutative() {
  commutative_ = true;
  return *this;
}

bool Pattern::Match(Value* value, PatternMatch& match) const {
  PatternMatch attempt = match;
  if (!MatchImpl(value, attempt)) return false;
  match = std::move(attempt);
  return true;
}

bool Pattern::MatchOperands(const Node& node, PatternMatch& match, bool swapped) const {
  if (node.operands().size() < operands_.size()) return false;
  for (size_t i = 0; i < operands_.size(); ++i) {
    size_t source = swapped ? 1 - i : i;
    if (!operands_[i].MatchImpl(node.operand(source), match)) return false;
  }
  return true;
}

bool Pattern::MatchImpl(Value* value, PatternMatch& match) const {
  switch (kind_) {
    case Kind::kAny:
      break;
    case Kind::kSame: {
      auto it = match.captures.find(same_);
      if (it == match.captures.end() || it->second != value) return false;
      break;
    }
    case Kind::kOp:
    case Kind::kTraits: {
      const Node* node = value->def();
      if (node == nullptr) return false;
      if (kind_ == Kind::kOp ? node->op() != op_ : (node->info().traits & traits_) != traits_) {
        return false;
      }
      PatternMatch attempt = match;
      bool ok = MatchOperands(*node, attempt, /*swapped=*/false);
      if (!ok && commutative_ && operands_.size() == 2 && node->operands().size() == 2) {
        attempt = match;
        ok = MatchOperands(*node, attempt, /*swapped=*/true);
      }
      if (!ok) return false;
      match = std::move(attempt);
      break;
    }
  }
  for (const auto& constraint : constraints_) {
    if (!constraint(*value)) return false;
  }
  if (!capture_.empty()) {
    auto [it, inserted] = match.captures.emplace(capture_, value);
    if (!inserted && it->second != value) return false;
  }
  return true;
}

namespace {

// Collects the nodes a rewrite inserted or whose operands it changed: the places where a
// pattern may newly match.
class ChangeLog : public GraphListener {
 public:
  void NodeInserted(Node* node) override { touched.push_back(node); }
  void OperandChanged(Node* user) override { touched.push_back(user); }
  std::vector<Node*> touched;
};

// The live nodes whose match may have changed: each touched node and its users up to
// `depth - 1` levels up (a pattern of depth d looks that far below its root), in graph order.
std::vector<Node*> NodesToRevisit(const Graph& graph, const std::vector<Node*>& touched, int depth) {
  absl::flat_hash_set<Node*> seen;
  std::vector<Node*> frontier;
  for (Node* n : touched) {
    if (!n->is_removed() && seen.insert(n).second) frontier.push_back(n);
  }
  std::vector<Node*> out = frontier;
  for (int level = 1; level < depth && !frontier.empty(); ++level) {
    std::vector<Node*> next;
    for (const Node* n : frontier) {
      for (Node* user : n->result()->users()) {
        if (seen.insert(user).second) next.push_back(user);
      }
    }
    out.insert(out.end(), next.begin(), next.end());
    frontier = std::move(next);
  }
  std::sort(out.begin(), out.end(),
            [&](const Node* a, const Node* b) { return graph.Order(a) < graph.Order(b); });
  return out;
}

}  // namespace

int Pattern::depth() const {
  int below = 0;
  for (const Pattern& operand : operands_) below = std::max(below, operand.depth());
  return below + 1;
}

absl::StatusOr<bool> ApplyRewriteRules(Graph& graph, const std::vector<RewriteRule>& rules,
                                       std::ostream* debug) {
  int depth = 1;
  for (const RewriteRule& rule : rules) depth = std::max(depth, rule.pattern.depth());
  ChangeLog log;
  GraphListener* previous = graph.listener();
  graph.set_listener(&log);
  struct Restore {
    Graph& graph;
    GraphListener* previous;
    ~Restore() { graph.set_listener(previous); }
  } restore{graph, previous};

  bool changed_any = false;
  const size_t max_rounds = graph.nodes().size() + 1;
  // Round 1 visits every node in graph order; later rounds only the nodes a firing touched
  // (and their users within the patterns' depth), again in graph order.
  std::vector<Node*> work;
  for (const auto& n : graph.nodes()) work.push_back(n.get());
  for (size_t round = 0; round < max_rounds && !work.empty(); ++round) {
    log.touched.clear();
    for (Node* node : work) {
      for (const RewriteRule& rule : rules) {
        if (node->is_removed()) break;
        PatternMatch match;
        if (!rule.pattern.Match(node->result(), match)) continue;
        BRAID_ASSIGN_OR_RETURN(bool fired, rule.rewrite(graph, *node, match));
        if (fired && debug != nullptr) {
          *debug << "  " << rule.name << " fired at %" << node->result()->name() << "\n";
        }
        changed_any |= fired;
      }
    }
    work = NodesToRevisit(graph, log.touched, depth);
  }
  return changed_any;
}

std::vector<MultiOutputMatch> MatchMultiOutput(const Graph& graph,
                                               const MultiOutputPattern& pattern) {
  std::vector<MultiOutputMatch> buckets;
  absl::flat_hash_map<std::string, size_t> index;
  for (const auto& node : graph.nodes()) {
    PatternMatch match;
    if (!pattern.member.Match(node->result(), match)) continue;
    std::optional<std::string> key = pattern.key(*node, match);
    if (!key) continue;
    auto [it, inserted] = index.emplace(*key, buckets.size());
    if (inserted) buckets.push_back(MultiOutputMatch{*key, {}, {}});
    buckets[it->second].nodes.push_back(node.get());
    buckets[it->second].matches.push_back(std::move(match));
  }
  return buckets;
}

MultiOutputPattern SiblingsSharing(Pattern member, std::string anchor) {
  return MultiOutputPattern{
      std::move(member),
      [anchor = std::move(anchor)](const Node&, const PatternMatch& m) -> std::optional<std::string> {
        auto it = m.captures.find(anchor);
        if (it == m.captures.end()) return std::nullopt;
        return "%" + it->second->name();
      }};
}

}  // namespace braid
