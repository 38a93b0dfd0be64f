// Building graphs from C++ (the embedding API's alternative to text): each method checks and
// infers its result type as the parser would. The first error is remembered; later calls that
// depend on a failed one return null, and Build reports that first error.
//
//   GraphBuilder b("mlp");
//   Value* x = b.Input("x", {Dim::Symbol("M"), Dim::Const(64)});
//   Value* w = b.Constant("w", {Dim::Const(128), Dim::Const(64)});
//   Value* y = b.Relu(b.Linear(x, w));
//   absl::StatusOr<std::unique_ptr<Graph>> graph = b.Build({y});
#ifndef BRAID_IR_GRAPH_BUILDER_H_
#define BRAID_IR_GRAPH_BUILDER_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "ir/graph.h"

namespace braid {

class GraphBuilder {
 public:
  explicit GraphBuilder(std::string name) : graph_(std::make_unique<Graph>(std::move(name))) {}

  Value* Input(const std::string& name, Shape shape) { return Param(name, std::move(shape), false); }
  // A `const` parameter: its tensor is given at compile time (weights; prepacked).
  Value* Constant(const std::string& name, Shape shape) { return Param(name, std::move(shape), true); }

  Value* Linear(Value* x, Value* w, Value* bias = nullptr);
  Value* Matmul(Value* a, Value* b) { return Op(OpKind::kMatmul, {a, b}); }
  Value* Unary(OpKind op, Value* x) { return Op(op, {x}); }
  Value* Binary(OpKind op, Value* a, Value* b) { return Op(op, {a, b}); }
  Value* Relu(Value* x) { return Op(OpKind::kRelu, {x}); }
  Value* Silu(Value* x) { return Op(OpKind::kSilu, {x}); }
  Value* Gelu(Value* x) { return Op(OpKind::kGelu, {x}); }
  Value* Add(Value* a, Value* b) { return Op(OpKind::kAdd, {a, b}); }
  Value* Mul(Value* a, Value* b) { return Op(OpKind::kMul, {a, b}); }
  // Any op of the table, with attributes (for grouped_gemm / multi_output). `result` is the
  // result type for the ops that take their shape from it (reshape, expand).
  Value* Op(OpKind op, std::vector<Value*> operands, Attributes attrs = {}, const TensorType* result = nullptr);

  // Finishes the graph with these outputs and verifies it.
  absl::StatusOr<std::unique_ptr<Graph>> Build(std::vector<Value*> outputs);

 private:
  Value* Param(const std::string& name, Shape shape, bool is_const);
  absl::Status status_;
  std::unique_ptr<Graph> graph_;
};

}  // namespace braid

#endif  // BRAID_IR_GRAPH_BUILDER_H_
