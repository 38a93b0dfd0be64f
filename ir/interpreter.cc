// The reference interpreter.
#include "ir/interpreter.h"

#include <deque>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "ir/gemm.h"
#include "ir/status_macros.h"
#include "ir/tensor_ops.h"

namespace braid {
namespace {

// A value at run time: one tensor, or one per part of a multi_output_layout. Tensors are owned
// by the interpreter's arena (or are the caller's inputs) and never copied between values.
using RuntimeValue = std::vector<const Tensor*>;

absl::Status LocError(const Graph& g, SourceLoc loc, absl::string_view msg) {
  return LocatedError(g.source(), loc, msg, absl::StrCat("@", g.name()));
}

// y[r, n] = sum_k x[r, k] * w(n, k) (* scale[n]) (+ bias[n]), with x flattened to [rows, K].
Tensor Gemm(OpKind kind, const Tensor& x, const Tensor& w, const Tensor* bias, const Tensor* scale) {
  const int64_t k_dim = x.shape().back();
  const bool is_linear = kind == OpKind::kLinear;
  const int64_t n_dim = GemmWeightN(kind, w.shape());
  std::vector<int64_t> y_shape = x.shape();
  y_shape.back() = n_dim;
  Tensor y(DType::kF32, y_shape);
  const int64_t y_rows = n_dim == 0 ? 0 : y.size() / n_dim;
  const float* xd = x.f32();
  const float* wd = w.f32();
  float* yd = y.f32();
  std::vector<double> acc(n_dim);
  for (int64_t r = 0; r < y_rows; ++r) {
    const float* xr = xd + r * k_dim;
    if (is_linear) {
      for (int64_t n = 0; n < n_dim; ++n) {
        const float* wn = wd + n * k_dim;
        double sum = 0;
        for (int64_t k = 0; k < k_dim; ++k) sum += static_cast<double>(xr[k]) * wn[k];
        acc[n] = sum;
      }
    } else {
      std::fill(acc.begin(), acc.end(), 0.0);
      for (int64_t k = 0; k < k_dim; ++k) {
        const double a = xr[k];
        const float* wk = wd + k * n_dim;
        for (int64_t n = 0; n < n_dim; ++n) acc[n] += a * wk[n];
      }
    }
    for (int64_t n = 0; n < n_dim; ++n) {
      yd[r * n_dim + n] = static_cast<float>(acc[n] * (scale ? scale->f32()[n] : 1.0) + (bias ? bias->f32()[n] : 0.0));
    }
  }
  return y;
}

Tensor Unary(double (*fn)(double), const Tensor& x) {
  Tensor y(DType::kF32, x.shape());
  const float* xd = x.f32();
  float* yd = y.f32();
  for (int64_t i = 0; i < x.size(); ++i) yd[i] = static_cast<float>(fn(xd[i]));
  return y;
}

// NumPy-broadcast binary op over concrete shapes (compatibility was checked statically and
// again here, since a symbol may bind to 1).
absl::StatusOr<Tensor> Binary(double (*fn)(double, double), const Tensor& a, const Tensor& b) {
  const std::vector<int64_t>& a_shape = a.shape();
  const std::vector<int64_t>& b_shape = b.shape();
  const size_t rank = std::max(a_shape.size(), b_shape.size());
  std::vector<int64_t> shape(rank), stride_a(rank, 0), stride_b(rank, 0);
  int64_t sa = 1, sb = 1;
  for (size_t i = 0; i < rank; ++i) {
    const size_t d = rank - 1 - i;
    const int64_t da = i < a_shape.size() ? a_shape[a_shape.size() - 1 - i] : 1;
    const int64_t db = i < b_shape.size() ? b_shape[b_shape.size() - 1 - i] : 1;
    if (da != db && da != 1 && db != 1) {
      return absl::InvalidArgumentError(absl::StrCat("cannot broadcast ", ShapeToString(a_shape),
                                                     " with ", ShapeToString(b_shape)));
    }
    shape[d] = std::max(da, db);
    if (da == 0 || db == 0) shape[d] = 0;
    stride_a[d] = da == 1 ? 0 : sa;
    stride_b[d] = db == 1 ? 0 : sb;
    sa *= da;
    sb *= db;
  }
  BRAID_ASSIGN_OR_RETURN(int64_t count, CheckedElementCount(shape));
  Tensor y(DType::kF32, shape);
  const float* ad = a.f32();
  const float* bd = b.f32();
  float* yd = y.f32();
  if (count == 0) return y;
  // Whole innermost rows at a time (a weight times a per-column factor folded at compile time
  // is 10^8 elements): the odometer advances once per row.
  const int64_t row = rank == 0 ? 1 : shape[rank - 1];
  const int64_t step_a = rank == 0 ? 0 : stride_a[rank - 1], step_b = rank == 0 ? 0 : stride_b[rank - 1];
  std::vector<int64_t> index(rank, 0);
  int64_t off_a = 0, off_b = 0;
  for (int64_t i = 0; i < count; i += row) {
    for (int64_t j = 0; j < row; ++j) yd[i + j] = static_cast<float>(fn(ad[off_a + j * step_a], bd[off_b + j * step_b]));
    // Odometer increment over the outer dims, innermost first.
    for (size_t d = rank == 0 ? 0 : rank - 1; d-- > 0;) {
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
    int64_t bytes = 0;
    if (__builtin_mul_overflow(*count, DTypeBytes(t.dtype), &bytes) ||
        __builtin_add_overflow(total, bytes, &total) || total > cap) {
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

absl::StatusOr<std::vector<Tensor>> EvaluateNode(const Node& node, const OperandLookup& lookup,
                                                 const DimBindings& dims, Collective* collective) {
  const OpInfo& info = node.info();
  // Every op computes in f32 (GEMMs accumulate in double): narrower operands are widened
  // exactly first, and each result is rounded to its declared dtype at the end.
  std::deque<Tensor> widened;
  auto in = [&](int i) -> const Tensor& {
    const Tensor& t = lookup(node.operand(i), 0);
    if (t.dtype() == DType::kF32) return t;
    widened.push_back(ConvertTensor(t, DType::kF32));
    return widened.back();
  };
  std::vector<Tensor> out;
  switch (node.op()) {
    case OpKind::kLinear:
    case OpKind::kMatmul: {
      const GemmOperands gemm = GemmsOf(node).front();
      out.push_back(Gemm(gemm.kind, in(gemm.act), in(gemm.weight),
                         gemm.has_bias() ? &in(gemm.bias) : nullptr,
                         gemm.has_scale() ? &in(gemm.scale) : nullptr));
      break;
    }
    case OpKind::kGroupedGemm:
      for (const GemmOperands& gemm : GemmsOf(node)) {
        out.push_back(Gemm(gemm.kind, in(gemm.act), in(gemm.weight),
                           gemm.has_bias() ? &in(gemm.bias) : nullptr,
                           gemm.has_scale() ? &in(gemm.scale) : nullptr));
      }
      break;
    case OpKind::kMultiOutput:
      // A projection: the part as it is (already of its dtype).
      return std::vector<Tensor>{lookup(node.operand(0), static_cast<int>(*node.IntAttr("index")))};
    case OpKind::kConvert:
      out.push_back(in(0));
      break;
    case OpKind::kAllReduce: {
      // Summed as the runtime sums: in the operand's dtype on the wire, f32 arithmetic.
      Tensor sum = lookup(node.operand(0), 0);
      if (collective != nullptr) {
        BRAID_RETURN_IF_ERROR(
            collective->AllReduceSum(sum.dtype(), sum.raw_data(), sum.raw_data(), sum.size()));
      }
      return std::vector<Tensor>{std::move(sum)};
    }
    default:
      if (info.Has(kTraitShape) || info.Has(kTraitReduction) || info.Has(kTraitBatchMatmul) ||
          info.Has(kTraitAttention)) {
        // Shape ops move elements as they are, of any dtype (an i32 above 2^24 must not pass
        // through f32); the others compute in f32.
        const bool raw = info.Has(kTraitShape) && node.op() != OpKind::kRotateHalf;
        std::vector<const Tensor*> operands;
        for (size_t i = 0; i < node.operands().size(); ++i) {
          operands.push_back(raw ? &lookup(node.operand(static_cast<int>(i)), 0) : &in(static_cast<int>(i)));
        }
        BRAID_ASSIGN_OR_RETURN(Tensor y, EvaluateTensorOp(node, operands, dims));
        out.push_back(std::move(y));
        break;
      }
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
  const auto& types = node.result()->type().layout();
  for (size_t i = 0; i < out.size(); ++i) {
    if (out[i].dtype() != types[i].dtype) out[i] = ConvertTensor(out[i], types[i].dtype);
  }
  return out;
}

absl::Status ValidateInputs(const Graph& graph, const std::vector<Tensor>& inputs,
                            const DimBindings& dims) {
  if (inputs.size() != graph.params().size()) {
    return absl::InvalidArgumentError(absl::StrCat("@", graph.name(), " takes ",
                                                   graph.params().size(), " inputs, got ",
                                                   inputs.size()));
  }
  BRAID_ASSIGN_OR_RETURN(auto param_shapes, BindParamShapes(graph, dims));
  for (size_t i = 0; i < inputs.size(); ++i) {
    const Value* p = graph.params()[i];
    if (inputs[i].dtype() != p->type().tensor().dtype) {
      return LocError(graph, p->loc(),
                      absl::StrCat("input %", p->name(), " is ", DTypeName(inputs[i].dtype()),
                                   " but the graph expects ", p->type().ToString()));
    }
    if (inputs[i].shape() != param_shapes[i]) {
      return LocError(graph, p->loc(),
                      absl::StrCat("input %", p->name(), " has shape ",
                                   ShapeToString(inputs[i].shape()), " but the graph expects ",
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

absl::StatusOr<std::vector<Tensor>> Interpret(const Graph& graph,
                                                  const std::vector<Tensor>& inputs,
                                                  const DimBindings& dims,
                                                  const InterpretOptions& options) {
  BRAID_RETURN_IF_ERROR(ValidateInputs(graph, inputs, dims));
  BRAID_RETURN_IF_ERROR(CheckMemoryBudget(graph, dims, options.max_total_bytes));
  absl::flat_hash_map<const Value*, RuntimeValue> env;
  std::deque<Tensor> arena;  // stable addresses
  auto own = [&](Tensor t) { arena.push_back(std::move(t)); return &arena.back(); };
  for (size_t i = 0; i < inputs.size(); ++i) env[graph.params()[i]] = {&inputs[i]};
  for (const auto& node_ptr : graph.nodes()) {
    const Node& node = *node_ptr;
    RuntimeValue out;
    if (node.op() == OpKind::kMultiOutput) {
      // A projection: alias the part, no copy.
      out.push_back(env.at(node.operand(0)).at(*node.IntAttr("index")));
    } else {
      auto results = EvaluateNode(
          node, [&](const Value* v, int part) -> const Tensor& { return *env.at(v).at(part); },
          dims, options.collective);
      if (!results.ok()) return LocError(graph, node.loc(), results.status().message());
      for (Tensor& t : *results) out.push_back(own(std::move(t)));
    }
    env[node.result()] = std::move(out);
  }
  std::vector<Tensor> results;
  for (const Value* v : graph.outputs()) results.push_back(*env.at(v).front());
  return results;
}

}  // namespace braid
