// Weight prepacking: a GEMM's weight rearranged into the micro-kernel's panels, so the inner
// loop reads B with aligned, contiguous vector loads. Layout: ceil(N / nr) panels, each
// [K][nr] row-major, columns past N zero. `linear` weights are w[N, K] (transposed while
// packing); `matmul` weights are b[K, N].
#ifndef BRAID_CODEGEN_PACKING_H_
#define BRAID_CODEGEN_PACKING_H_

#include <cstdint>
#include <cstdlib>
#include <memory>

#include "ir/op_table.h"

namespace braid {

// 64-byte aligned float storage.
class AlignedBuffer {
 public:
  AlignedBuffer() = default;
  explicit AlignedBuffer(int64_t floats);
  float* data() const { return data_.get(); }
  int64_t size() const { return size_; }

 private:
  struct Free {
    void operator()(float* p) const { std::free(p); }
  };
  std::unique_ptr<float[], Free> data_;
  int64_t size_ = 0;
};

int64_t PackedFloats(int64_t k, int64_t n, int nr);
void PackWeights(OpKind kind, const float* w, int64_t k, int64_t n, int nr, float* out);

}  // namespace braid

// Called by generated code to pack a weight computed at run time (not a constant) just before
// the kernel that reads it. `transposed` is 1 for linear weights w[N, K], 0 for matmul b[K, N].
extern "C" void braid_pack_weights(int32_t transposed, const float* w, float* out, int64_t k,
                                   int64_t n, int64_t nr);

#endif  // BRAID_CODEGEN_PACKING_H_
