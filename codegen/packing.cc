// Weight prepacking.
#include "codegen/packing.h"

#include <algorithm>
#include <cstring>

namespace braid {

AlignedBuffer::AlignedBuffer(int64_t floats) : size_(floats) {
  const size_t bytes = ((static_cast<size_t>(std::max<int64_t>(floats, 1)) * 4 + 63) / 64) * 64;
  data_.reset(static_cast<float*>(std::aligned_alloc(64, bytes)));
}

int64_t PackedFloats(int64_t k, int64_t n, int nr) { return (n + nr - 1) / nr * k * nr; }

void PackWeights(OpKind kind, const float* w, int64_t k, int64_t n, int nr, float* out) {
  const int64_t panels = (n + nr - 1) / nr;
  for (int64_t p = 0; p < panels; ++p) {
    const int64_t n0 = p * nr;
    const int64_t width = std::min<int64_t>(nr, n - n0);
    float* panel = out + p * k * nr;
    if (kind == OpKind::kMatmul) {
      // b[K, N]: each row of the panel is a contiguous slice of a row of b.
      for (int64_t kk = 0; kk < k; ++kk) {
        std::memcpy(panel + kk * nr, w + kk * n + n0, width * sizeof(float));
        std::fill(panel + kk * nr + width, panel + (kk + 1) * nr, 0.0f);
      }
    } else {
      // w[N, K]: transpose; walk w row by row for sequential reads.
      for (int64_t kk = 0; kk < k; ++kk) std::fill(panel + kk * nr + width, panel + (kk + 1) * nr, 0.0f);
      for (int64_t j = 0; j < width; ++j) {
        const float* row = w + (n0 + j) * k;
        for (int64_t kk = 0; kk < k; ++kk) panel[kk * nr + j] = row[kk];
      }
    }
  }
}

}  // namespace braid

extern "C" void braid_pack_weights(int32_t transposed, const float* w, float* out, int64_t k,
                                   int64_t n, int64_t nr) {
  braid::PackWeights(transposed ? braid::OpKind::kLinear : braid::OpKind::kMatmul, w, k, n,
                     static_cast<int>(nr), out);
}
