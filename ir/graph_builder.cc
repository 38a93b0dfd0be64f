// The C++ graph builder.
#include "ir/graph_builder.h"

#include "absl/strings/str_cat.h"
#include "ir/type_inference.h"
#include "ir/verifier.h"

namespace braid {

Value* GraphBuilder::Param(const std::string& name, Shape shape, bool is_const) {
  if (!status_.ok()) return nullptr;
  for (const Value* p : graph_->params()) {
    if (p->name() == name) {
      status_ = absl::InvalidArgumentError(absl::StrCat("@", graph_->name(), ": parameter %", name, " is declared twice"));
      return nullptr;
    }
  }
  return graph_->AddParam(name, TensorType{DType::kF32, std::move(shape)}, is_const);
}

Value* GraphBuilder::Linear(Value* x, Value* w, Value* bias) {
  if (bias == nullptr) return Op(OpKind::kLinear, {x, w});
  return Op(OpKind::kLinear, {x, w, bias});
}

Value* GraphBuilder::Op(OpKind op, std::vector<Value*> operands, Attributes attrs, const TensorType* result) {
  if (!status_.ok()) return nullptr;
  std::vector<const Type*> types;
  for (Value* v : operands) {
    if (v == nullptr) {
      status_ = absl::InvalidArgumentError(absl::StrCat("@", graph_->name(), ": a null operand to '",
                                                        GetOpInfo(op).name, "'"));
      return nullptr;
    }
    types.push_back(&v->type());
  }
  const Type declared = result != nullptr ? Type::Tensor(*result) : Type();
  auto type = InferResultType(op, types, attrs, result != nullptr ? &declared : nullptr);
  if (!type.ok()) {
    status_ = absl::InvalidArgumentError(absl::StrCat("@", graph_->name(), ": ", GetOpInfo(op).name,
                                                      ": ", type.status().message()));
    return nullptr;
  }
  return graph_->AddNode(op, std::move(operands), std::move(attrs), graph_->UniqueName("v"), *type)->result();
}

absl::StatusOr<std::unique_ptr<Graph>> GraphBuilder::Build(std::vector<Value*> outputs) {
  if (!status_.ok()) return status_;
  for (Value* v : outputs) {
    if (v == nullptr) return absl::InvalidArgumentError(absl::StrCat("@", graph_->name(), ": a null output"));
  }
  graph_->set_outputs(std::move(outputs));
  absl::Status verified = VerifyGraph(*graph_);
  if (!verified.ok()) return verified;
  return std::move(graph_);
}

}  // namespace braid
