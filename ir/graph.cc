// Graph construction and mutation.
#include "ir/graph.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <system_error>
#include <functional>
#include <queue>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "ir/status_macros.h"

namespace braid {

std::string FloatToString(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  // The shortest round-trip form, fixed or scientific, whichever has fewer characters.
  char buffer[400];
  auto [end, error] = std::to_chars(buffer, buffer + sizeof(buffer), v);
  BRAID_CHECK(error == std::errc(), "to_chars failed");
  std::string text(buffer, end);
  if (text.find_first_of(".e") != std::string::npos) return text;
  // An integral fixed form needs ".0" to read back as a float, which may make the scientific
  // form shorter: 17949557725681909760.0 vs 1.794955772568191e+19.
  text += ".0";
  auto [sci_end, sci_error] = std::to_chars(buffer, buffer + sizeof(buffer), v, std::chars_format::scientific);
  BRAID_CHECK(sci_error == std::errc(), "to_chars failed");
  std::string scientific(buffer, sci_end);
  return scientific.size() < text.size() ? scientific : text;
}

AttrKind KindOf(const AttrValue& value) {
  struct Kind {
    AttrKind operator()(int64_t) const { return AttrKind::kInt; }
    AttrKind operator()(const std::string&) const { return AttrKind::kIdent; }
    AttrKind operator()(const std::vector<int64_t>&) const { return AttrKind::kIntList; }
    AttrKind operator()(const std::vector<std::string>&) const { return AttrKind::kIdentList; }
    AttrKind operator()(double) const { return AttrKind::kFloat; }
    AttrKind operator()(const std::vector<double>&) const { return AttrKind::kFloatList; }
  };
  return std::visit(Kind{}, value);
}

std::string AttrValueToString(const AttrValue& value) {
  struct Printer {
    std::string operator()(int64_t v) const { return absl::StrCat(v); }
    std::string operator()(double v) const { return FloatToString(v); }
    std::string operator()(const std::vector<double>& v) const {
      return absl::StrCat("[", absl::StrJoin(v, ", ", [](std::string* out, double d) {
                            out->append(FloatToString(d));
                          }), "]");
    }
    std::string operator()(const std::string& v) const { return v; }
    std::string operator()(const std::vector<int64_t>& v) const {
      return absl::StrCat("[", absl::StrJoin(v, ", "), "]");
    }
    std::string operator()(const std::vector<std::string>& v) const {
      return absl::StrCat("[", absl::StrJoin(v, ", "), "]");
    }
  };
  return std::visit(Printer{}, value);
}

Value* Graph::AddParam(std::string name, TensorType type, bool is_const, SourceLoc loc) {
  auto value = std::make_unique<Value>();
  names_.insert(name);
  value->name_ = std::move(name);
  value->type_ = Type::Tensor(std::move(type));
  value->is_const_ = is_const;
  value->loc_ = loc;
  params_.push_back(value.get());
  values_.push_back(std::move(value));
  return params_.back();
}

void Node::set_operand(int i, Value* v) {
  BRAID_CHECK(graph_ != nullptr, "set_operand on a node outside a graph");
  graph_->SetOperand(this, i, v);
}

void Graph::AddUse(Node* user, Value* value) { value->users_.push_back(user); }

void Graph::DropUse(Node* user, Value* value) {
  std::vector<Node*>& users = value->users_;
  auto it = std::find(users.begin(), users.end(), user);
  BRAID_CHECK(it != users.end(), "use-list out of date");
  users.erase(it);
}

namespace {
// The spacing of fresh order keys: 16 insertions between two neighbours before a renumbering.
constexpr uint64_t kOrderGap = uint64_t{1} << 16;
}  // namespace

void Graph::Renumber() {
  for (size_t i = 0; i < nodes_.size(); ++i) nodes_[i]->order_ = (i + 1) * kOrderGap;
}

uint64_t Graph::Order(const Node* node) const {
  BRAID_CHECK(node->graph_ == this && !node->removed_, "Order: node is not in this graph");
  return node->order_;
}

size_t Graph::IndexOf(const Node* node) const {
  BRAID_CHECK(node->graph_ == this && !node->removed_, "node is not in this graph");
  auto it = std::lower_bound(nodes_.begin(), nodes_.end(), node->order_,
                             [](const std::unique_ptr<Node>& n, uint64_t order) { return n->order_ < order; });
  BRAID_CHECK(it != nodes_.end() && it->get() == node, "node order keys out of date");
  return it - nodes_.begin();
}

Node* Graph::AddNode(OpKind op, std::vector<Value*> operands, Attributes attrs,
                     std::string result_name, Type result_type, SourceLoc loc) {
  return InsertNode(nullptr, op, std::move(operands), std::move(attrs), std::move(result_name),
                    std::move(result_type), loc);
}

Node* Graph::InsertNode(Node* before, OpKind op, std::vector<Value*> operands, Attributes attrs,
                        std::string result_name, Type result_type, SourceLoc loc) {
  auto node = std::make_unique<Node>();
  auto value = std::make_unique<Value>();
  names_.insert(result_name);
  value->name_ = std::move(result_name);
  value->type_ = std::move(result_type);
  value->def_ = node.get();
  value->loc_ = loc;
  node->graph_ = this;
  node->op_ = op;
  node->operands_ = std::move(operands);
  node->attrs_ = std::move(attrs);
  node->loc_ = loc;
  node->result_ = value.get();
  values_.push_back(std::move(value));
  Node* raw = node.get();
  for (Value* operand : raw->operands_) AddUse(raw, operand);
  if (before == nullptr) {
    raw->order_ = (nodes_.empty() ? 0 : nodes_.back()->order_) + kOrderGap;
    nodes_.push_back(std::move(node));
  } else {
    size_t index = IndexOf(before);
    uint64_t low = index == 0 ? 0 : nodes_[index - 1]->order_;
    if (before->order_ - low < 2) {
      Renumber();
      low = index == 0 ? 0 : nodes_[index - 1]->order_;
    }
    raw->order_ = low + (before->order_ - low) / 2;
    nodes_.insert(nodes_.begin() + index, std::move(node));
  }
  if (listener_ != nullptr) listener_->NodeInserted(raw);
  return raw;
}

void Graph::RemoveNode(Node* node) {
  const size_t index = IndexOf(node);
  BRAID_CHECK(!node->result()->has_users(), "RemoveNode: the node's result is still read");
  for (Value* operand : node->operands_) DropUse(node, operand);
  // The node and its Value stay owned (in removed_nodes_ / values_) so stale pointers held by
  // a pass never dangle.
  node->removed_ = true;
  names_.erase(node->result()->name());
  removed_nodes_.push_back(std::move(nodes_[index]));
  nodes_.erase(nodes_.begin() + index);
  if (listener_ != nullptr) listener_->NodeRemoved(node);
}

void Graph::SetOperand(Node* node, int i, Value* value) {
  BRAID_CHECK(node->graph_ == this, "SetOperand: node is not in this graph");
  Value*& slot = node->operands_[i];
  if (slot == value) return;
  DropUse(node, slot);
  slot = value;
  AddUse(node, value);
  if (listener_ != nullptr) listener_->OperandChanged(node);
}

void Graph::ReplaceAllUsesWith(Value* from, Value* to) {
  for (Value*& out : outputs_) {
    if (out == from) out = to;
  }
  if (from == to) return;
  std::vector<Node*> users = std::move(from->users_);
  from->users_.clear();
  for (Node* user : users) {
    // A node reading `from` twice is listed twice; its first entry moves both slots.
    bool changed = false;
    for (Value*& operand : user->operands_) {
      if (operand != from) continue;
      operand = to;
      AddUse(user, to);
      changed = true;
    }
    if (changed && listener_ != nullptr) listener_->OperandChanged(user);
  }
}

void Graph::ReplaceNode(Node* old, Value* replacement) {
  Value* old_result = old->result();
  ReplaceAllUsesWith(old_result, replacement);
  std::string name = old_result->name();
  RemoveNode(old);
  RenameValue(replacement, std::move(name));
}

void Graph::RenameValue(Value* value, std::string name) {
  BRAID_CHECK(!names_.contains(name), "RenameValue: the name is taken");
  names_.erase(value->name_);
  names_.insert(name);
  value->name_ = std::move(name);
}

absl::Status Graph::TopologicalSort() {
  // Kahn's algorithm; among ready nodes the one earliest in the current order goes first.
  const size_t n = nodes_.size();
  absl::flat_hash_map<const Value*, size_t> producer;
  for (size_t i = 0; i < n; ++i) producer[nodes_[i]->result()] = i;
  std::vector<int> pending(n, 0);
  std::vector<std::vector<size_t>> dependents(n);
  for (size_t i = 0; i < n; ++i) {
    absl::flat_hash_set<size_t> seen;
    for (const Value* operand : nodes_[i]->operands()) {
      auto it = producer.find(operand);
      if (it == producer.end() || !seen.insert(it->second).second) continue;
      ++pending[i];
      dependents[it->second].push_back(i);
    }
  }
  std::priority_queue<size_t, std::vector<size_t>, std::greater<size_t>> ready;
  for (size_t i = 0; i < n; ++i) {
    if (pending[i] == 0) ready.push(i);
  }
  std::vector<size_t> order;
  order.reserve(n);
  while (!ready.empty()) {
    size_t i = ready.top();
    ready.pop();
    order.push_back(i);
    for (size_t d : dependents[i]) {
      if (--pending[d] == 0) ready.push(d);
    }
  }
  if (order.size() != n) {
    return absl::InvalidArgumentError(absl::StrCat("graph @", name_, " has a cycle"));
  }
  std::vector<std::unique_ptr<Node>> sorted;
  sorted.reserve(n);
  for (size_t i : order) sorted.push_back(std::move(nodes_[i]));
  nodes_ = std::move(sorted);
  Renumber();
  return absl::OkStatus();
}

std::string Graph::UniqueName(absl::string_view base) const {
  if (!names_.contains(base)) return std::string(base);
  for (int i = 1;; ++i) {
    std::string candidate = absl::StrCat(base, ".", i);
    if (!names_.contains(candidate)) return candidate;
  }
}

std::unique_ptr<Graph> Graph::Clone() const {
  auto copy = std::make_unique<Graph>(name_, source_);
  copy->loc_ = loc_;
  absl::flat_hash_map<const Value*, Value*> map;
  for (const Value* p : params_) {
    Value* q = copy->AddParam(p->name_, TensorType{}, p->is_const_, p->loc_);
    q->type_ = p->type_;
    map[p] = q;
  }
  for (const auto& node : nodes_) {
    std::vector<Value*> operands;
    operands.reserve(node->operands_.size());
    for (const Value* v : node->operands_) operands.push_back(map.at(v));
    const Value* result = node->result_;
    Node* cloned = copy->AddNode(node->op_, std::move(operands), node->attrs_, result->name_,
                                 result->type_, node->loc_);
    cloned->result_->loc_ = result->loc_;
    map[result] = cloned->result_;
  }
  for (const Value* out : outputs_) copy->outputs_.push_back(map.at(out));
  copy->declared_output_types_ = declared_output_types_;
  copy->tensor_parallel_ = tensor_parallel_;
  return copy;
}

}  // namespace braid
