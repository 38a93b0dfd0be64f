// The reference interpreter.
#include "ir/interpreter.h"

#include <deque>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "ir/status_macros.h"

namespace braid {
namespace {

// A value at run time: one tensor, or one per part of a multi_output_layout. Tensors are owned
// by the interpreter's arena (or are the caller's inputs) and never copied between values.
using RuntimeValue = std::vector<const HostTensor*>;

absl::Status LocError(const Graph& g, SourceLoc loc, absl::string_view msg) {
  return LocatedError(g.source(), loc, msg, absl::StrCat("@", g.name()));
}

// y[r, n] = sum_k x[r, k] * w(n, k) (+ bias[n]), with x flattened to [rows, K].
HostTensor Gemm(OpKind kind, const HostTensor& x, const HostTensor& w, const HostTensor* bias) {
  const int64_t k_dim = x.shape.back();
  const bool is_linear = kind == OpKind::kLinear;
  const int64_t n_dim = is_linear ? w.shape[0] : w.shape[1];
  HostTensor y;
  y.shape = x.shape;
  y.shape.back() = n_dim;
  int64_t y_rows = 1;
  for (size_t i = 0; i + 1 < x.shape.size(); ++i) y_rows *= x.shape[i];
  y.data.assign(y_rows * n_dim, 0.0f);
  std::vector<double> acc(n_dim);
  for (int64_t r = 0; r < y_rows; ++r) {
    const float* xr = x.data.data() + r * k_dim;
    if (is_linear) {
      for (int64_t n = 0; n < n_dim; ++n) {
        const float* wn = w.data.data() + n * k_dim;
        double sum = 0;
        for (int64_t k = 0; k < k_dim; ++k) sum += static_cast<double>(xr[k]) * wn[k];
        acc[n] = sum;
      }
    } else {
      std::fill(acc.begin(), acc.end(), 0.0);
      for (int64_t k = 0; k < k_dim; ++k) {
        const double a = xr[k];
        const float* wk = w.data.data() + k * n_dim;
        for (int64_t n = 0; n < n_dim; ++n) acc[n] += a * wk[n];
      }
    }
    for (int64_t n = 0; n < n_dim; ++n) {
      y.data[r * n_dim + n] = static_cast<float>(acc[n] + (bias ? bias->data[n] : 0.0));
    }
  }
  return y;
}

HostTensor Unary(double (*fn)(double), const HostTensor& x) {
  HostTensor y{x.shape, std::vector<float>(x.data.size())};
  for (size_t i = 0; i < x.data.size(); ++i) y.data[i] = static_cast<float>(fn(x.data[i]));
  return y;
}

// NumPy-broadcast binary op over concrete shapes (compatibility was checked statically and
// again here, since a symbol may bind to 1).
absl::StatusOr<HostTensor> Binary(double (*fn)(double, double), const HostTensor& a,
                                  const HostTensor& b) {
  const size_t rank = std::max(a.shape.size(), b.shape.size());
  std::vector<int64_t> shape(rank), stride_a(rank, 0), stride_b(rank, 0);
  int64_t sa = 1, sb = 1;
  for (size_t i = 0; i < rank; ++i) {
    const size_t d = rank - 1 - i;
    const int64_t da = i < a.shape.size() ? a.shape[a.shape.size() - 1 - i] : 1;
    const int64_t db = i < b.shape.size() ? b.shape[b.shape.size() - 1 - i] : 1;
    if (da != db && da != 1 && db != 1) {
      return absl::InvalidArgumentError(absl::StrCat("cannot broadcast ", ShapeToString(a.shape),
                                                     " with ", ShapeToString(b.shape)));
    }
    shape[d] = std::max(da, db);
    if (da == 0 || db == 0) shape[d] = 0;
    stride_a[d] = da == 1 ? 0 : sa;
    stride_b[d] = db == 1 ? 0 : sb;
    sa *= da;
    sb *= db;
  }
  BRAID_ASSIGN_OR_RETURN(int64_t count, CheckedElementCount(shape));
  HostTensor y{shape, std::vector<float>(count)};
  std::vector<int64_t> index(rank, 0);
  int64_t off_a = 0, off_b = 0;
  for (int64_t i = 0; i < count; ++i) {
    y.data[i] = static_cast<float>(fn(a.data[off_a], b.data[off_b]));
    // Odometer increment, innermost dim first.
    for (size_t d = rank; d-- > 0;) {
      ++index[d];
      off_a += stride_a[d];
      off_b += stride_b[d];
      if (index[d] < shape[d]) break;
      off_a -= stride_a[d] * index[d];
      off_b -= stride_b[d] * index[d];
      index[d] = 0;
    }
  }
  return y;
}

// Total bytes of every value at the bound dims, checked against the cap before running.
absl::Status CheckMemoryBudget(const Graph& graph, const DimBindings& dims, int64_t cap) {
  int64_t total = 0;
  auto add = [&](const TensorType& t, SourceLoc loc) -> absl::Status {
    auto shape = BindShape(t.shape, dims);
    if (!shape.ok()) return LocError(graph, loc, shape.status().message());
    auto count = CheckedElementCount(*shape);
    if (!count.ok()) return LocError(graph, loc, count.status().message());
    if (__builtin_add_overflow(total, *count * 4, &total) || total > cap) {
      return LocError(graph, loc,
                      absl::StrCat("running the graph at these dims needs more than ", cap,
                                   " bytes (the interpreter's memory limit)"));
    }
    return absl::OkStatus();
  };
  for (const Value* p : graph.params()) BRAID_RETURN_IF_ERROR(add(p->type().tensor(), p->loc()));
  for (const auto& node : graph.nodes()) {
    for (const TensorType& t : node->result()->type().layout()) {
      BRAID_RETURN_IF_ERROR(add(t, node->loc()));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::vector<HostTensor>> EvaluateNode(const Node& node,
                                                     const OperandLookup& lookup) {
  const OpInfo& info = node.info();
  auto in = [&](int i) -> const HostTensor& { return lookup(node.operand(i), 0); };
  std::vector<HostTensor> out;
  switch (node.op()) {
    case OpKind::kLinear:
    case OpKind::kMatmul:
      out.push_back(Gemm(node.op(), in(0), in(1), node.operands().size() == 3 ? &in(2) : nullptr));
      break;
    case OpKind::kGroupedGemm: {
      const auto& kinds = *node.IdentListAttr("kind");
      const auto& act = *node.IntListAttr("act");
      const auto& weight = *node.IntListAttr("weight");
      const auto& bias = *node.IntListAttr("bias");
      for (size_t g = 0; g < kinds.size(); ++g) {
        OpKind kind = kinds[g] == "linear" ? OpKind::kLinear : OpKind::kMatmul;
        out.push_back(Gemm(kind, in(act[g]), in(weight[g]), bias[g] >= 0 ? &in(bias[g]) : nullptr));
      }
      break;
    }
    case OpKind::kMultiOutput:
      out.push_back(lookup(node.operand(0), static_cast<int>(*node.IntAttr("index"))));
      break;
    default:
      BRAID_CHECK(info.Has(kTraitPointwise), "interpreter: op without semantics");
      if (info.unary != nullptr) {
        out.push_back(Unary(info.unary, in(0)));
      } else {
        auto y = Binary(info.binary, in(0), in(1));
        if (!y.ok()) return y.status();
        out.push_back(*std::move(y));
      }
      break;
  }
  return out;
}

absl::Status ValidateInputs(const Graph& graph, const std::vector<HostTensor>& inputs,
                            const DimBindings& dims) {
  if (inputs.size() != graph.params().size()) {
    return absl::InvalidArgumentError(absl::StrCat("@", graph.name(), " takes ",
                                                   graph.params().size(), " inputs, got ",
                                                   inputs.size()));
  }
  for (const Value* p : graph.params()) {
    if (p->type().tensor().dtype != DType::kF32) {
      return LocError(graph, p->loc(), "only f32 graphs can be executed so far");
    }
  }
  BRAID_ASSIGN_OR_RETURN(auto param_shapes, BindParamShapes(graph, dims));
  for (size_t i = 0; i < inputs.size(); ++i) {
    const Value* p = graph.params()[i];
    int64_t expected_size = 1;
    for (int64_t d : param_shapes[i]) expected_size *= d;
    if (inputs[i].shape != param_shapes[i] || inputs[i].size() != expected_size) {
      return LocError(graph, p->loc(),
                      absl::StrCat("input %", p->name(), " has shape ",
                                   ShapeToString(inputs[i].shape), " but the graph expects ",
                                   ShapeToString(param_shapes[i])));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::vector<int64_t>>> BindParamShapes(const Graph& graph,
                                                                  const DimBindings& dims) {
  std::vector<std::vector<int64_t>> shapes;
  for (const Value* p : graph.params()) {
    auto shape = BindShape(p->type().tensor().shape, dims);
    if (!shape.ok()) return LocError(graph, p->loc(), shape.status().message());
    auto count = CheckedElementCount(*shape);
    if (!count.ok()) return LocError(graph, p->loc(), count.status().message());
    shapes.push_back(*std::move(shape));
  }
  return shapes;
}

absl::StatusOr<std::vector<HostTensor>> Interpret(const Graph& graph,
                                                  const std::vector<HostTensor>& inputs,
                                                  const DimBindings& dims,
                                                  const InterpretOptions& options) {
  BRAID_RETURN_IF_ERROR(ValidateInputs(graph, inputs, dims));
  BRAID_RETURN_IF_ERROR(CheckMemoryBudget(graph, dims, options.max_total_bytes));
  absl::flat_hash_map<const Value*, RuntimeValue> env;
  std::deque<HostTensor> arena;  // stable addresses
  auto own = [&](HostTensor t) { arena.push_back(std::move(t)); return &arena.back(); };
  for (size_t i = 0; i < inputs.size(); ++i) env[graph.params()[i]] = {&inputs[i]};
  for (const auto& node_ptr : graph.nodes()) {
    const Node& node = *node_ptr;
    RuntimeValue out;
    if (node.op() == OpKind::kMultiOutput) {
      // A projection: alias the part, no copy.
      out.push_back(env.at(node.operand(0)).at(*node.IntAttr("index")));
    } else {
      auto results = EvaluateNode(node, [&](const Value* v, int part) -> const HostTensor& {
        return *env.at(v).at(part);
      });
      if (!results.ok()) return LocError(graph, node.loc(), results.status().message());
      for (HostTensor& t : *results) out.push_back(own(std::move(t)));
    }
    env[node.result()] = std::move(out);
  }
  std::vector<HostTensor> results;
  for (const Value* v : graph.outputs()) results.push_back(*env.at(v).front());
  return results;
}

}  // namespace braid
