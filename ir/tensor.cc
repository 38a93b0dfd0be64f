// Owning tensors: aligned allocation, copies.
#include "ir/tensor.h"

#include <cstdlib>
#include <algorithm>
#include <cmath>
#include <cstring>

#include "ir/scalar_convert.h"
#include "ir/status_macros.h"

namespace braid {

int64_t ElementCount(absl::Span<const int64_t> shape) {
  int64_t count = 1;
  for (int64_t d : shape) count *= d;
  return count;
}

void Tensor::Free::operator()(uint8_t* p) const { std::free(p); }

void Tensor::Allocate() {
  const int64_t bytes = num_bytes();
  BRAID_CHECK(bytes >= 0, "tensor with a negative size");
  // aligned_alloc wants a multiple of the alignment; never 0 bytes, so data is never null.
  const size_t rounded = (static_cast<size_t>(bytes) + 63) / 64 * 64 + 64;
  bytes_.reset(static_cast<uint8_t*>(std::aligned_alloc(64, rounded)));
  BRAID_CHECK(bytes_ != nullptr, "out of memory allocating a tensor");
}

Tensor::Tensor(DType dtype, std::vector<int64_t> shape) : dtype_(dtype), shape_(std::move(shape)) {
  Allocate();
  std::memset(bytes_.get(), 0, num_bytes());
}

Tensor Tensor::F32(std::vector<int64_t> shape, absl::Span<const float> values) {
  Tensor t;
  t.dtype_ = DType::kF32;
  t.shape_ = std::move(shape);
  BRAID_CHECK(t.size() == static_cast<int64_t>(values.size()), "Tensor::F32: value count != shape");
  t.Allocate();
  if (!values.empty()) std::memcpy(t.bytes_.get(), values.data(), values.size() * sizeof(float));
  return t;
}

Tensor Tensor::CopyOf(const TensorView& view) {
  Tensor t;
  t.dtype_ = view.dtype;
  t.shape_ = view.shape;
  t.Allocate();
  if (t.num_bytes() > 0) std::memcpy(t.bytes_.get(), view.data, t.num_bytes());
  return t;
}

Tensor::Tensor(const Tensor& other) : dtype_(other.dtype_), shape_(other.shape_) {
  Allocate();
  if (num_bytes() > 0) std::memcpy(bytes_.get(), other.bytes_.get(), num_bytes());
}

Tensor& Tensor::operator=(const Tensor& other) {
  if (this != &other) *this = Tensor(other);
  return *this;
}

float* Tensor::f32() {
  BRAID_CHECK(dtype_ == DType::kF32, "f32 access to a tensor of another dtype");
  return reinterpret_cast<float*>(bytes_.get());
}

const float* Tensor::f32() const {
  BRAID_CHECK(dtype_ == DType::kF32, "f32 access to a tensor of another dtype");
  return reinterpret_cast<const float*>(bytes_.get());
}

Tensor ConvertTensor(const Tensor& t, DType dtype) {
  Tensor out(dtype, t.shape());
  const int64_t n = t.size();
  void* dst = out.raw_data();
  for (int64_t i = 0; i < n; ++i) {
    const float v = static_cast<float>(LoadAsDouble(t.dtype(), t.raw_data(), i));
    switch (dtype) {
      case DType::kF32:
        static_cast<float*>(dst)[i] = v;
        break;
      case DType::kBF16:
        static_cast<uint16_t*>(dst)[i] = F32ToBf16(v);
        break;
      case DType::kF16:
        static_cast<uint16_t*>(dst)[i] = F32ToF16(v);
        break;
      case DType::kI8:
        static_cast<int8_t*>(dst)[i] = static_cast<int8_t>(std::isnan(v) ? 0 : std::clamp(std::nearbyint(v), -128.0f, 127.0f));
        break;
      case DType::kI32:
        static_cast<int32_t*>(dst)[i] = static_cast<int32_t>(
            std::isnan(v) ? 0.0 : std::clamp<double>(std::nearbyint(v), -2147483648.0, 2147483647.0));
        break;
    }
  }
  return out;
}

std::vector<TensorView> ViewsOf(const std::vector<Tensor>& tensors) {
  std::vector<TensorView> views;
  views.reserve(tensors.size());
  for (const Tensor& t : tensors) views.push_back(t.view());
  return views;
}

}  // namespace braid
