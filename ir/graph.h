// The SSA graph: `Value`s defined once (graph parameters or node results), `Node`s kept in
// topological order, each remembering its source location. The graph keeps every value's
// use-list (the nodes reading it) up to date through all of its mutators, and can deep-copy
// itself (`Clone`). A `Module` is what one file holds: several graphs sharing one source buffer.
#ifndef BRAID_IR_GRAPH_H_
#define BRAID_IR_GRAPH_H_

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "ir/op_table.h"
#include "ir/source.h"
#include "ir/types.h"

namespace braid {

class Graph;
class Node;

// Attribute values: an integer, an identifier, a float (`1e-05`, `-0.5`, `2.0`), or a list of
// one kind (`[0, 0]`, `[linear, matmul]`, `[0.5, 2.0]`). An empty list `[]` is an integer list.
using AttrValue = std::variant<int64_t, std::string, std::vector<int64_t>, std::vector<std::string>,
                               double, std::vector<double>>;
// Ordered by name, so printing is canonical.
using Attributes = std::map<std::string, AttrValue>;
std::string AttrValueToString(const AttrValue& value);
// The shortest text that reads back as exactly `v`, always with a '.' or an exponent so it
// reads back as a float (`2.0`, `1e-05`, `-0.5`). Non-finite values print as `inf`, `-inf`,
// `nan`, which the text format does not read (the parser makes only finite floats).
std::string FloatToString(double v);
// What kind of value it is, as the op table names kinds.
AttrKind KindOf(const AttrValue& value);

class Value {
 public:
  const std::string& name() const { return name_; }  // without the '%'
  const Type& type() const { return type_; }
  void set_type(Type type) { type_ = std::move(type); }
  Node* def() const { return def_; }          // null for graph parameters
  bool is_param() const { return def_ == nullptr; }
  bool is_const() const { return is_const_; }  // a `const` parameter (weight)
  SourceLoc loc() const { return loc_; }
  // The nodes reading this value, one entry per operand slot (a node reading it twice, as in
  // `mul(%x, %x)`, appears twice), in the order the uses were made: deterministic, but not
  // necessarily graph order. Graph outputs are not users. Kept up to date by `Graph`.
  const std::vector<Node*>& users() const { return users_; }
  bool has_users() const { return !users_.empty(); }

 private:
  friend class Graph;
  std::string name_;
  Type type_;
  Node* def_ = nullptr;
  bool is_const_ = false;
  SourceLoc loc_;
  std::vector<Node*> users_;
};

class Node {
 public:
  OpKind op() const { return op_; }
  const OpInfo& info() const { return GetOpInfo(op_); }
  const std::vector<Value*>& operands() const { return operands_; }
  Value* operand(int i) const { return operands_[i]; }
  // Goes through the owning graph, so use-lists stay right.
  void set_operand(int i, Value* v);
  Value* result() const { return result_; }
  const Attributes& attrs() const { return attrs_; }
  Attributes& mutable_attrs() { return attrs_; }
  SourceLoc loc() const { return loc_; }
  // True once Graph::RemoveNode took it out (passes may still hold the pointer).
  bool is_removed() const { return removed_; }

  // Typed attribute access; null if absent or of another kind.
  const int64_t* IntAttr(const std::string& name) const { return Attr<int64_t>(name); }
  const std::vector<int64_t>* IntListAttr(const std::string& name) const {
    return Attr<std::vector<int64_t>>(name);
  }
  const std::vector<std::string>* IdentListAttr(const std::string& name) const {
    return Attr<std::vector<std::string>>(name);
  }
  const double* FloatAttr(const std::string& name) const { return Attr<double>(name); }
  const std::vector<double>* FloatListAttr(const std::string& name) const {
    return Attr<std::vector<double>>(name);
  }

 private:
  friend class Graph;
  template <typename T>
  const T* Attr(const std::string& name) const {
    auto it = attrs_.find(name);
    return it == attrs_.end() ? nullptr : std::get_if<T>(&it->second);
  }

  Graph* graph_ = nullptr;
  uint64_t order_ = 0;  // increases along Graph::nodes(), with gaps (see Graph::Order)
  OpKind op_ = OpKind::kAdd;
  std::vector<Value*> operands_;
  Value* result_ = nullptr;
  Attributes attrs_;
  SourceLoc loc_;
  bool removed_ = false;
};

// Told about every structural change of the graph it is attached to (a rewrite driver uses it
// to know what to revisit). Callbacks run after the change.
class GraphListener {
 public:
  virtual ~GraphListener() = default;
  virtual void NodeInserted(Node* node) {}
  virtual void NodeRemoved(Node* node) {}
  // One of `user`'s operands now reads another value (set_operand, ReplaceAllUsesWith).
  virtual void OperandChanged(Node* user) {}
};

// One rank's share of a tensor-parallel graph (passes/tensor_parallel.h): which rank of how
// many, and which slice of the full tensor each sliced `const` parameter holds — elements
// [begin, end) along `axis` of a tensor whose `axis` dim is `full` (the other dims are the
// parameter's). Compile takes either the full tensor (and slices it) or the slice itself.
struct ConstSlice {
  int axis = 0;
  int64_t begin = 0, end = 0, full = 0;
};
struct TensorParallelInfo {
  int rank = 0;
  int size = 1;
  std::map<std::string, ConstSlice> slices;  // by parameter name
};

class Graph {
 public:
  explicit Graph(std::string name, std::shared_ptr<const SourceFile> source = nullptr)
      : name_(std::move(name)), source_(std::move(source)) {}
  Graph(const Graph&) = delete;
  Graph& operator=(const Graph&) = delete;

  const std::string& name() const { return name_; }  // without the '@'
  const SourceFile* source() const { return source_.get(); }
  SourceLoc loc() const { return loc_; }
  void set_loc(SourceLoc loc) { loc_ = loc; }

  // Builders. Names must be unique in the graph (the verifier checks; `UniqueName` helps).
  Value* AddParam(std::string name, TensorType type, bool is_const, SourceLoc loc = {});
  // Appends a node at the end (topological order is the caller's duty; the verifier checks).
  Node* AddNode(OpKind op, std::vector<Value*> operands, Attributes attrs, std::string result_name,
                Type result_type, SourceLoc loc = {});
  // Inserts a node just before `before` (or at the end when null).
  Node* InsertNode(Node* before, OpKind op, std::vector<Value*> operands, Attributes attrs,
                   std::string result_name, Type result_type, SourceLoc loc = {});
  // Removes a node; its result must have no remaining uses (checked). Its name becomes free
  // again. The node stays owned by the graph, so pointers passes hold do not dangle.
  void RemoveNode(Node* node);
  // Every operand slot reading `from` reads `to` instead, and so does every graph output.
  void ReplaceAllUsesWith(Value* from, Value* to);
  // Operand `i` of `node` reads `value` from now on.
  void SetOperand(Node* node, int i, Value* value);
  // Moves every use of `old`'s result to `replacement`, removes `old`, and gives `replacement`
  // the old result's name, so the rest of the IR reads the same.
  void ReplaceNode(Node* old, Value* replacement);
  // Renames a value; `name` must not be used by another live value.
  void RenameValue(Value* value, std::string name);
  // Restores topological order after a rewrite moved definitions: a stable sort that keeps
  // every node as early in the current order as its operands allow. Fails (changing nothing)
  // if the graph has a cycle.
  absl::Status TopologicalSort();

  // A name not yet used by any value of this graph, derived from `base`.
  std::string UniqueName(absl::string_view base) const;

  // A deep copy: parameters, nodes, names, types, attributes, locations, const-ness, outputs
  // and declared output types; the source file is shared. Removed nodes are not copied.
  std::unique_ptr<Graph> Clone() const;

  // A key that increases along nodes(): `a` comes before `b` iff Order(a) < Order(b). Not an
  // index (keys have gaps, so inserting a node rarely renumbers the others). O(1).
  uint64_t Order(const Node* node) const;

  // At most one listener; null detaches. The graph does not own it.
  void set_listener(GraphListener* listener) { listener_ = listener; }
  GraphListener* listener() const { return listener_; }

  const std::vector<Value*>& params() const { return params_; }
  const std::vector<std::unique_ptr<Node>>& nodes() const { return nodes_; }
  const std::vector<Value*>& outputs() const { return outputs_; }
  void set_outputs(std::vector<Value*> outputs) { outputs_ = std::move(outputs); }
  // Result types written after `->` in the text (empty if not written; printed from outputs).
  const std::vector<Type>& declared_output_types() const { return declared_output_types_; }
  void set_declared_output_types(std::vector<Type> t) { declared_output_types_ = std::move(t); }
  // Set on one rank's graph by the tensor-parallel pass; printed as comments.
  const std::optional<TensorParallelInfo>& tensor_parallel() const { return tensor_parallel_; }
  void set_tensor_parallel(TensorParallelInfo info) { tensor_parallel_ = std::move(info); }

 private:
  void AddUse(Node* user, Value* value);
  void DropUse(Node* user, Value* value);
  // Index of `node` in nodes_ (checked to be there); a binary search on the order keys.
  size_t IndexOf(const Node* node) const;
  void Renumber();

  std::string name_;
  std::shared_ptr<const SourceFile> source_;
  SourceLoc loc_;
  std::vector<std::unique_ptr<Value>> values_;
  absl::flat_hash_set<std::string> names_;
  std::vector<Value*> params_;
  std::vector<std::unique_ptr<Node>> nodes_;
  std::vector<std::unique_ptr<Node>> removed_nodes_;
  std::vector<Value*> outputs_;
  std::vector<Type> declared_output_types_;
  std::optional<TensorParallelInfo> tensor_parallel_;
  GraphListener* listener_ = nullptr;
};

// Everything one input file defines.
struct Module {
  std::shared_ptr<const SourceFile> source;
  std::vector<std::unique_ptr<Graph>> graphs;
};

}  // namespace braid

#endif  // BRAID_IR_GRAPH_H_
