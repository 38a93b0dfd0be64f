// Reference shape ops, reductions and batch_matmul.
#include "ir/tensor_ops.h"

#include <cmath>
#include <cstring>
#include <limits>

#include "absl/strings/str_cat.h"
#include "ir/status_macros.h"
#include "ir/tensor_op_types.h"

namespace braid {
namespace {

// Row-major strides of `shape`, in elements.
std::vector<int64_t> Strides(const std::vector<int64_t>& shape) {
  std::vector<int64_t> strides(shape.size(), 1);
  for (size_t d = shape.size(); d-- > 1;) strides[d - 1] = strides[d] * shape[d];
  return strides;
}

int64_t Product(const std::vector<int64_t>& shape, size_t begin, size_t end) {
  int64_t p = 1;
  for (size_t d = begin; d < end; ++d) p *= shape[d];
  return p;
}

// out[i] = src[base + sum_d index_d(i) * stride[d]] over out's shape: every shape op but concat
// is such a gather. Elements are copied as bytes, in src's dtype.
Tensor Gather(const Tensor& src, std::vector<int64_t> shape, int64_t base, const std::vector<int64_t>& stride) {
  Tensor out(src.dtype(), std::move(shape));
  const std::vector<int64_t>& dims = out.shape();
  const int64_t bytes = DTypeBytes(src.dtype());
  const uint8_t* s = static_cast<const uint8_t*>(src.raw_data());
  uint8_t* o = static_cast<uint8_t*>(out.raw_data());
  std::vector<int64_t> index(dims.size(), 0);
  int64_t offset = base;
  for (int64_t i = 0; i < out.size(); ++i) {
    std::memcpy(o + i * bytes, s + offset * bytes, bytes);
    for (size_t d = dims.size(); d-- > 0;) {  // odometer, innermost first
      ++index[d];
      offset += stride[d];
      if (index[d] < dims[d]) break;
      offset -= stride[d] * index[d];
      index[d] = 0;
    }
  }
  return out;
}

Tensor Concat(const std::vector<const Tensor*>& xs, int axis) {
  std::vector<int64_t> shape = xs.front()->shape();
  shape[axis] = 0;
  for (const Tensor* x : xs) shape[axis] += x->shape()[axis];
  Tensor out(xs.front()->dtype(), shape);
  const int64_t bytes = DTypeBytes(out.dtype());
  const int64_t outer = Product(shape, 0, axis), inner = Product(shape, axis + 1, shape.size());
  int64_t at = 0;  // offset of this operand's block along the axis
  for (const Tensor* x : xs) {
    const int64_t block = x->shape()[axis] * inner;
    const uint8_t* src = static_cast<const uint8_t*>(x->raw_data());
    uint8_t* dst = static_cast<uint8_t*>(out.raw_data());
    for (int64_t o = 0; o < outer; ++o) {
      std::memcpy(dst + (o * shape[axis] * inner + at * inner) * bytes, src + o * block * bytes, block * bytes);
    }
    at += x->shape()[axis];
  }
  return out;
}

// reduce_* and softmax over `axis`: x viewed as [outer, R, inner].
Tensor Reduce(OpKind op, const Tensor& x, int axis, std::vector<int64_t> out_shape) {
  const std::vector<int64_t>& shape = x.shape();
  const int64_t outer = Product(shape, 0, axis), r = shape[axis], inner = Product(shape, axis + 1, shape.size());
  Tensor out(DType::kF32, std::move(out_shape));
  const float* xd = x.f32();
  float* od = out.f32();
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t i = 0; i < inner; ++i) {
      const float* row = xd + o * r * inner + i;
      auto at = [&](int64_t k) { return static_cast<double>(row[k * inner]); };
      if (op == OpKind::kSoftmax) {
        // Numerically stable: shift by the maximum, so exp never overflows.
        double max = -std::numeric_limits<double>::infinity();
        for (int64_t k = 0; k < r; ++k) max = std::isnan(at(k)) || at(k) > max ? at(k) : max;
        double sum = 0;
        for (int64_t k = 0; k < r; ++k) sum += std::exp(at(k) - max);
        float* orow = od + o * r * inner + i;
        for (int64_t k = 0; k < r; ++k) orow[k * inner] = static_cast<float>(std::exp(at(k) - max) / sum);
        continue;
      }
      double acc = op == OpKind::kReduceMax ? -std::numeric_limits<double>::infinity() : 0.0;
      for (int64_t k = 0; k < r; ++k) {
        if (op == OpKind::kQuantScale) {
          acc = std::isnan(acc) || std::isnan(at(k)) ? NAN : std::max(acc, std::fabs(at(k)));  // NaN propagates
        } else if (op == OpKind::kReduceMax) {
          acc = std::isnan(acc) || std::isnan(at(k)) ? NAN : std::max(acc, at(k));  // NaN propagates
        } else {
          acc += at(k);
        }
      }
      if (op == OpKind::kReduceMean) acc /= static_cast<double>(r);  // 0/0: NaN, as torch.mean
      if (op == OpKind::kQuantScale) acc = static_cast<float>(acc) / 127.0f;  // in f32, as compiled code
      od[o * inner + i] = static_cast<float>(acc);
    }
  }
  return out;
}

Tensor RmsNorm(const Tensor& x, const Tensor& w, double eps) {
  Tensor out(DType::kF32, x.shape());
  const int64_t d = x.shape().back();
  const int64_t rows = d == 0 ? 0 : x.size() / d;
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x.f32() + r * d;
    double sum = 0;
    for (int64_t k = 0; k < d; ++k) sum += static_cast<double>(xr[k]) * xr[k];
    const double inv = 1.0 / std::sqrt(sum / static_cast<double>(d) + eps);
    for (int64_t k = 0; k < d; ++k) out.f32()[r * d + k] = static_cast<float>(xr[k] * inv * w.f32()[k]);
  }
  return out;
}

// rms_norm's factor alone: rsqrt(mean(x*x) + eps) per row, in double, rounded once to f32.
Tensor RmsScale(const Tensor& x, double eps, std::vector<int64_t> out_shape) {
  Tensor out(DType::kF32, std::move(out_shape));
  const int64_t d = x.shape().back();
  for (int64_t r = 0; r < out.size(); ++r) {
    const float* xr = x.f32() + r * d;
    double sum = 0;
    for (int64_t k = 0; k < d; ++k) sum += static_cast<double>(xr[k]) * xr[k];
    out.f32()[r] = static_cast<float>(1.0 / std::sqrt(sum / static_cast<double>(d) + eps));
  }
  return out;
}

absl::StatusOr<Tensor> BatchMatmul(const Tensor& a, const Tensor& b, std::vector<int64_t> out_shape) {
  const size_t rank = out_shape.size();
  const int64_t t = out_shape[rank - 2], s = out_shape[rank - 1], k = a.shape().back();
  // Broadcast strides of each operand's batch dims over the result's (one matrix = one unit).
  std::vector<int64_t> batch(out_shape.begin(), out_shape.end() - 2), a_stride(batch.size(), 0),
      b_stride(batch.size(), 0);
  for (const auto& [x, stride, matrix] :
       {std::tuple{&a, &a_stride, t * k}, std::tuple{&b, &b_stride, k * s}}) {
    const std::vector<int64_t>& shape = x->shape();
    const size_t xb = shape.size() - 2;
    int64_t step = matrix;
    for (size_t i = 0; i < xb; ++i) {
      const size_t d = batch.size() - 1 - i, xd = xb - 1 - i;
      if (shape[xd] != 1 && shape[xd] != batch[d]) {
        return absl::InvalidArgumentError(absl::StrCat("batch_matmul cannot broadcast ", ShapeToString(shape),
                                                       " to the batch ", ShapeToString(batch)));
      }
      (*stride)[d] = shape[xd] == 1 ? 0 : step;
      step *= shape[xd];
    }
  }
  Tensor out(DType::kF32, out_shape);
  const int64_t count = Product(batch, 0, batch.size());
  std::vector<int64_t> index(batch.size(), 0);
  std::vector<double> acc(s);
  for (int64_t m = 0; m < count; ++m) {
    int64_t a_off = 0, b_off = 0, rest = m;
    for (size_t d = batch.size(); d-- > 0;) {
      const int64_t i = rest % batch[d];
      rest /= batch[d];
      a_off += i * a_stride[d];
      b_off += i * b_stride[d];
    }
    const float* am = a.f32() + a_off;
    const float* bm = b.f32() + b_off;
    float* om = out.f32() + m * t * s;
    for (int64_t row = 0; row < t; ++row) {
      std::fill(acc.begin(), acc.end(), 0.0);
      for (int64_t kk = 0; kk < k; ++kk) {
        const double av = am[row * k + kk];
        for (int64_t col = 0; col < s; ++col) acc[col] += av * bm[kk * s + col];
      }
      for (int64_t col = 0; col < s; ++col) om[row * s + col] = static_cast<float>(acc[col]);
    }
  }
  return out;
}

// softmax(q·kᵀ·scale + mask)·v per (batch, query head), scores materialised, in double.
Tensor Attention(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor* mask, bool causal, double scale,
                 bool zero_masked_rows) {
  const int64_t batch = q.shape()[0], hq = q.shape()[1], t_len = q.shape()[2], d = q.shape()[3];
  const int64_t hkv = k.shape()[1], s_len = k.shape()[2];
  const int64_t group = hkv == 0 ? 1 : hq / hkv;  // no heads at all: nothing to compute
  // The mask's strides over [B, Hq, T, S] (trailing-aligned, 0 where it broadcasts).
  std::vector<int64_t> mask_stride(4, 0);
  if (mask != nullptr) {
    const std::vector<int64_t>& shape = mask->shape();
    const std::vector<int64_t> strides = Strides(shape);
    for (size_t i = 0; i < shape.size(); ++i) {
      if (shape[shape.size() - 1 - i] != 1) mask_stride[3 - i] = strides[shape.size() - 1 - i];
    }
  }
  Tensor out(DType::kF32, q.shape());
  std::vector<double> scores(s_len), acc(d);
  for (int64_t b = 0; b < batch; ++b) {
    for (int64_t h = 0; h < hq; ++h) {
      const float* kh = k.f32() + (b * hkv + h / group) * s_len * d;
      const float* vh = v.f32() + (b * hkv + h / group) * s_len * d;
      for (int64_t t = 0; t < t_len; ++t) {
        const float* qt = q.f32() + ((b * hq + h) * t_len + t) * d;
        double max = -std::numeric_limits<double>::infinity();
        for (int64_t j = 0; j < s_len; ++j) {
          double s = 0;
          for (int64_t i = 0; i < d; ++i) s += static_cast<double>(qt[i]) * kh[j * d + i];
          s *= scale;
          if (mask != nullptr) {
            s += mask->f32()[b * mask_stride[0] + h * mask_stride[1] + t * mask_stride[2] + j * mask_stride[3]];
          }
          if (causal && j > s_len - t_len + t) s = -std::numeric_limits<double>::infinity();
          scores[j] = s;
          max = std::max(max, s);
        }
        double sum = 0;
        std::fill(acc.begin(), acc.end(), 0.0);
        for (int64_t j = 0; j < s_len; ++j) {
          const double p = std::exp(scores[j] - max);  // a row with no visible key: 0/0, NaN
          sum += p;
          for (int64_t i = 0; i < d; ++i) acc[i] += p * vh[j * d + i];
        }
        float* ot = out.f32() + ((b * hq + h) * t_len + t) * d;
        const bool no_key = max == -std::numeric_limits<double>::infinity();
        for (int64_t i = 0; i < d; ++i) ot[i] = no_key && zero_masked_rows ? 0.0f : static_cast<float>(acc[i] / sum);
      }
    }
  }
  return out;
}

}  // namespace

absl::StatusOr<Tensor> EvaluateTensorOp(const Node& node, const std::vector<const Tensor*>& operands,
                                        const DimBindings& dims) {
  const Tensor& x = *operands.front();
  const std::vector<int64_t>& shape = x.shape();
  const int rank = x.rank();
  BRAID_ASSIGN_OR_RETURN(std::vector<int64_t> out_shape, BindShape(node.result()->type().tensor().shape, dims));
  auto axis = [&]() { return *NormalizeAxis(*node.IntAttr("axis"), rank); };  // verified
  switch (node.op()) {
    case OpKind::kReshape: {
      if (ElementCount(out_shape) != x.size()) {  // a product dim bound inconsistently
        return absl::InvalidArgumentError(absl::StrCat("reshape of ", ShapeToString(shape), " to ",
                                                       ShapeToString(out_shape), " at these dims changes the element count"));
      }
      return Gather(x, out_shape, 0, Strides(out_shape));
    }
    case OpKind::kTranspose: {
      const std::vector<int64_t>& perm = std::get<std::vector<int64_t>>(node.attrs().at("perm"));
      const std::vector<int64_t> src = Strides(shape);
      std::vector<int64_t> stride;
      for (int64_t p : perm) stride.push_back(src[p]);
      return Gather(x, out_shape, 0, stride);
    }
    case OpKind::kSlice: {
      const int a = axis();
      return Gather(x, out_shape, *node.IntAttr("start") * Strides(shape)[a], Strides(shape));
    }
    case OpKind::kExpand: {
      const std::vector<int64_t> src = Strides(shape);
      std::vector<int64_t> stride(out_shape.size(), 0);
      for (int i = 0; i < rank; ++i) {
        const size_t d = out_shape.size() - 1 - i, sd = rank - 1 - i;
        if (shape[sd] != 1 && shape[sd] != out_shape[d]) {
          return absl::InvalidArgumentError(absl::StrCat("expand cannot broadcast ", ShapeToString(shape), " to ",
                                                         ShapeToString(out_shape)));
        }
        stride[d] = shape[sd] == 1 ? 0 : src[sd];
      }
      return Gather(x, out_shape, 0, stride);
    }
    case OpKind::kConcat: return Concat(operands, axis());
    case OpKind::kRotateHalf: {
      Tensor out(DType::kF32, shape);
      const int64_t d = shape.back(), half = d / 2;
      for (int64_t i = 0; i < x.size(); ++i) {
        const int64_t c = i % d;
        out.f32()[i] = c < half ? -x.f32()[i + half] : x.f32()[i - half];
      }
      return out;
    }
    case OpKind::kReduceSum:
    case OpKind::kReduceMean:
    case OpKind::kReduceMax:
    case OpKind::kSoftmax:
    case OpKind::kQuantScale: return Reduce(node.op(), x, axis(), out_shape);
    case OpKind::kRmsNorm: return RmsNorm(x, *operands[1], *node.FloatAttr("eps"));
    case OpKind::kRmsScale: return RmsScale(x, *node.FloatAttr("eps"), out_shape);
    case OpKind::kBatchMatmul: return BatchMatmul(x, *operands[1], out_shape);
    case OpKind::kAttention:
      return Attention(x, *operands[1], *operands[2], operands.size() == 4 ? operands[3] : nullptr,
                       AttentionCausal(node.attrs()), AttentionScale(node.attrs(), shape[3]),
                       AttentionZeroMaskedRows(node.attrs()));
    default: break;
  }
  BRAID_CHECK(false, "EvaluateTensorOp: not a tensor op");
  return absl::InternalError("unreachable");
}

}  // namespace braid
