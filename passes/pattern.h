// A small declarative pattern matcher, in the spirit of tinygrad's rewrite rules and LLVM's
// PatternMatch: a pattern is a tree over ops with operand sub-patterns, captures and
// constraints; a rule pairs a pattern with a rewrite callback that returns whether it fired.
//
//   // mul(x, sigmoid(x)) -> silu(x)
//   Pattern::Op(OpKind::kMul, {Pattern::Any().Capture("x"),
//                              Pattern::Op(OpKind::kSigmoid, {Pattern::Same("x")})})
//       .Commutative()
//
// Beyond single-rooted patterns, `MultiOutputPattern` matches a *variable* number of sibling
// nodes that share something (typically one anchor value) — the piece Inductor's
// MultiOutputPattern lacks (it needs a fixed output count), which is why its grouped-GEMM pass
// had to be hand-written.
#ifndef BRAID_PASSES_PATTERN_H_
#define BRAID_PASSES_PATTERN_H_

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "ir/graph.h"

namespace braid {

// The values a match bound, by capture name.
struct PatternMatch {
  std::map<std::string, Value*> captures;
  Value* operator[](const std::string& name) const { return captures.at(name); }
};

class Pattern {
 public:
  // Any value (a parameter or a node result).
  static Pattern Any();
  // A value produced by `op`; `operands` match the node's first operands in order (extra
  // operands, such as linear's optional bias, are allowed; constrain them with Where).
  static Pattern Op(OpKind op, std::vector<Pattern> operands = {});
  // A value produced by any op that has all of `traits` (e.g. kTraitGemm: linear or matmul).
  static Pattern OpWithTraits(uint32_t traits, std::vector<Pattern> operands = {});
  // The very value captured earlier in the same match under `capture`.
  static Pattern Same(std::string capture);

  // Binds the matched value to `name`.
  Pattern& Capture(std::string name);
  // An extra condition on the matched value.
  Pattern& Where(std::function<bool(const Value&)> constraint);
  // For a binary op: also try the two operand patterns swapped.
  Pattern& Commutative();

  // Matches `value`, adding captures to `match` (left unchanged on failure).
  bool Match(Value* value, PatternMatch& match) const;
  // Levels of nodes the pattern looks at, counting its root as 1 (mul(x, sigmoid(x)) is 3).
  int depth() const;

 private:
  enum class Kind { kAny, kOp, kTraits, kSame };
  bool MatchImpl(Value* value, PatternMatch& match) const;
  bool MatchOperands(const Node& node, PatternMatch& match, bool swapped) const;

  Kind kind_ = Kind::kAny;
  OpKind op_ = OpKind::kAdd;
  uint32_t traits_ = 0;
  std::string same_;
  std::string capture_;
  std::vector<Pattern> operands_;
  std::vector<std::function<bool(const Value&)>> constraints_;
  bool commutative_ = false;
};

// A rewrite rule: `rewrite` runs on every node whose result matches `pattern` and returns true
// if it changed the graph, false if not applicable after all.
struct RewriteRule {
  std::string name;
  Pattern pattern;
  std::function<absl::StatusOr<bool>(Graph&, Node& root, const PatternMatch&)> rewrite;
};

// Applies `rules` to every node in graph order, then, round by round, to the nodes a firing
// touched (inserted or re-pointed by the rewrite, plus their users within the patterns' depth),
// in graph order, until none fires (at most one round per node, so it terminates). Each node is
// visited a bounded number of times; there are no whole-graph rescans. Contract: a rule's match
// and decision depend only on the root and what its pattern looks at below it, and a rewrite
// changes the graph through Graph's mutators (which tell the driver what they touched). The
// result is what sweeping the whole graph until no rule fires would give. Notes each firing on
// `debug` when non-null.
absl::StatusOr<bool> ApplyRewriteRules(Graph& graph, const std::vector<RewriteRule>& rules,
                                       std::ostream* debug);

// A variable number of sibling nodes: every node whose result matches `member`, bucketed by
// `key` (nodes for which it returns nullopt are left out).
struct MultiOutputPattern {
  Pattern member;
  std::function<std::optional<std::string>(const Node&, const PatternMatch&)> key;
};

// One bucket: the matching nodes in graph order, with their matches.
struct MultiOutputMatch {
  std::string key;
  std::vector<Node*> nodes;
  std::vector<PatternMatch> matches;
};

// Every bucket with at least one node, in order of first appearance (deterministic).
std::vector<MultiOutputMatch> MatchMultiOutput(const Graph& graph, const MultiOutputPattern& pattern);

// The common case: siblings that share the value captured as `anchor` in `member`.
MultiOutputPattern SiblingsSharing(Pattern member, std::string anchor);

}  // namespace braid

#endif  // BRAID_PASSES_PATTERN_H_
