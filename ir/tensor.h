// Tensors in host memory, row-major (C order). `Tensor` owns its bytes (64-byte aligned, so
// compiled code may use aligned vector loads); `TensorView` describes memory someone else owns —
// a caller's array, a PyTorch tensor's storage — so constants can be prepacked and inputs and
// outputs read and written in place, without a copy.
#ifndef BRAID_IR_TENSOR_H_
#define BRAID_IR_TENSOR_H_

#include <cstdint>
#include <memory>
#include <vector>

#include "absl/types/span.h"
#include "ir/types.h"

namespace braid {

// The product of `shape` (1 for rank 0). The caller has checked it does not overflow.
int64_t ElementCount(absl::Span<const int64_t> shape);

// A dense tensor in memory owned by someone else. A view never frees, copies or keeps alive
// what it points at; an input view is only read.
struct TensorView {
  DType dtype = DType::kF32;
  std::vector<int64_t> shape;
  void* data = nullptr;

  int64_t size() const { return ElementCount(shape); }
  int64_t num_bytes() const { return size() * DTypeBytes(dtype); }
  template <typename T>
  T* data_as() const { return static_cast<T*>(data); }
};

// A dense tensor that owns its bytes. Copying copies them; moving is cheap. A default tensor is
// an empty f32 tensor of shape [0].
class Tensor {
 public:
  Tensor() : shape_{0} {}
  // Zero-filled. The caller has checked the byte count against its memory cap.
  Tensor(DType dtype, std::vector<int64_t> shape);
  // An f32 tensor holding `values` (whose count must match `shape`; a mismatch is a bug).
  static Tensor F32(std::vector<int64_t> shape, absl::Span<const float> values);
  // A copy of the memory `view` describes.
  static Tensor CopyOf(const TensorView& view);

  Tensor(const Tensor& other);
  Tensor& operator=(const Tensor& other);
  Tensor(Tensor&&) noexcept = default;
  Tensor& operator=(Tensor&&) noexcept = default;

  DType dtype() const { return dtype_; }
  const std::vector<int64_t>& shape() const { return shape_; }
  int rank() const { return static_cast<int>(shape_.size()); }
  int64_t size() const { return ElementCount(shape_); }
  int64_t num_bytes() const { return size() * DTypeBytes(dtype_); }

  void* raw_data() { return bytes_.get(); }
  const void* raw_data() const { return bytes_.get(); }
  // The elements as `T`; the dtype must be T's (checked: a mismatch is a bug).
  float* f32();
  const float* f32() const;
  absl::Span<float> f32_span() { return {f32(), static_cast<size_t>(size())}; }
  absl::Span<const float> f32_span() const { return {f32(), static_cast<size_t>(size())}; }
  // A copy of the f32 elements (for tests and small tensors).
  std::vector<float> f32_values() const { return {f32(), f32() + size()}; }

  // A view of this tensor's memory (valid while the tensor lives and is not reassigned).
  TensorView view() const { return TensorView{dtype_, shape_, bytes_.get()}; }

 private:
  struct Free {
    void operator()(uint8_t* p) const;
  };
  void Allocate();

  DType dtype_ = DType::kF32;
  std::vector<int64_t> shape_;
  std::unique_ptr<uint8_t[], Free> bytes_;
};

// `t`'s values in `dtype`: each element read exactly, rounded to f32, then (for bf16/f16) to
// nearest even; to an integer dtype, rounded to nearest even and saturated. The interpreter's
// `convert`, and how it widens narrow operands and rounds results.
Tensor ConvertTensor(const Tensor& t, DType dtype);

// Views of each tensor, in order.
std::vector<TensorView> ViewsOf(const std::vector<Tensor>& tensors);

}  // namespace braid

#endif  // BRAID_IR_TENSOR_H_
