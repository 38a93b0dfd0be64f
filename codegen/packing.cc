// Weight prepacking.
#include "codegen/packing.h"

#include <algorithm>
#include <cstring>

#include <sys/mman.h>

namespace braid {

AlignedBuffer::AlignedBuffer(int64_t floats) : size_(floats) {
  // Large buffers (prepacked weights) go on 2 MiB boundaries and ask for transparent huge pages:
  // the GEMM streams them panel by panel, and 4 KiB pages would cost a TLB miss every 4 KiB.
  constexpr size_t kHugePage = size_t{2} << 20;
  const size_t bytes = static_cast<size_t>(std::max<int64_t>(floats, 1)) * 4;
  const size_t align = bytes >= kHugePage ? kHugePage : 64;
  data_.reset(static_cast<float*>(std::aligned_alloc(align, (bytes + align - 1) / align * align)));
  if (align == kHugePage && data_ != nullptr) madvise(data_.get(), bytes, MADV_HUGEPAGE);
}

int64_t PackedFloats(int64_t k, int64_t n, int nr) { return (n + nr - 1) / nr * k * nr; }

void PackPanel(OpKind kind, const float* w, int64_t k, int64_t n, int nr, int64_t p, float* out) {
  const int64_t n0 = p * nr;
  const int64_t width = std::min<int64_t>(nr, n - n0);
  float* panel = out + p * k * nr;
  if (kind == OpKind::kMatmul) {
    // b[K, N]: each row of the panel is a contiguous slice of a row of b.
    for (int64_t kk = 0; kk < k; ++kk) {
      std::memcpy(panel + kk * nr, w + kk * n + n0, width * sizeof(float));
      std::fill(panel + kk * nr + width, panel + (kk + 1) * nr, 0.0f);
    }
    return;
  }
  // w[N, K]: a transpose, in blocks of kBlock k so that both the `width` source rows being read
  // and the kBlock panel rows being written stay in L1 (a row-at-a-time transpose writes one
  // float per cache line and runs at a tenth of memcpy speed).
  constexpr int64_t kBlock = 16;
  for (int64_t k0 = 0; k0 < k; k0 += kBlock) {
    const int64_t kend = std::min(k, k0 + kBlock);
    for (int64_t j = 0; j < width; ++j) {
      const float* row = w + (n0 + j) * k;
      for (int64_t kk = k0; kk < kend; ++kk) panel[kk * nr + j] = row[kk];
    }
    for (int64_t kk = k0; kk < kend; ++kk) std::fill(panel + kk * nr + width, panel + (kk + 1) * nr, 0.0f);
  }
}

std::vector<int> MicroKernelRowVariants(int mr) {
  std::vector<int> variants;
  for (int r = 1; r < mr; r *= 2) variants.push_back(r);
  variants.push_back(mr);
  return variants;
}

void PackActivation(const float* a, int64_t lda, int64_t m0, int64_t m_rows, int64_t k0, int64_t kb,
                    int mr, int kc, float* out) {
  const std::vector<int> variants = MicroKernelRowVariants(mr);
  for (int64_t ms = 0; ms < m_rows; ms += mr) {
    const int64_t left = m_rows - ms;
    const int rows = *std::find_if(variants.begin(), variants.end(), [&](int v) { return v >= left || v == mr; });
    float* panel = out + ms * kc;
    // Row i of the micro-panel; rows past the valid ones repeat the last valid row.
    auto row = [&](int i) { return a + (m0 + ms + std::min<int64_t>(i, left - 1)) * lda + k0; };
    if (rows == 6 && mr == 6) {
      // The common full micro-panel: k outer, the six rows inner and unrolled, so the stores
      // are contiguous and each row is read sequentially (several times faster than row by row).
      const float *r0 = row(0), *r1 = row(1), *r2 = row(2), *r3 = row(3), *r4 = row(4), *r5 = row(5);
      for (int64_t kk = 0; kk < kb; ++kk) {
        float* dst = panel + kk * 6;
        dst[0] = r0[kk];
        dst[1] = r1[kk];
        dst[2] = r2[kk];
        dst[3] = r3[kk];
        dst[4] = r4[kk];
        dst[5] = r5[kk];
      }
      continue;
    }
    for (int i = 0; i < rows; ++i) {
      const float* src = row(i);
      for (int64_t kk = 0; kk < kb; ++kk) panel[kk * mr + i] = src[kk];
    }
  }
}

void PackWeights(OpKind kind, const float* w, int64_t k, int64_t n, int nr, float* out) {
  const int64_t panels = (n + nr - 1) / nr;
  for (int64_t p = 0; p < panels; ++p) PackPanel(kind, w, k, n, nr, p, out);
}

}  // namespace braid

extern "C" void braid_pack_activation(const float* a, int64_t lda, int64_t m0, int64_t m_rows,
                                      int64_t k0, int64_t kb, int64_t mr, int64_t kc, float* out) {
  braid::PackActivation(a, lda, m0, m_rows, k0, kb, static_cast<int>(mr), static_cast<int>(kc), out);
}

extern "C" void braid_pack_weights(int32_t transposed, const float* w, float* out, int64_t k,
                                   int64_t n, int64_t nr) {
  braid::PackWeights(transposed ? braid::OpKind::kLinear : braid::OpKind::kMatmul, w, k, n,
                     static_cast<int>(nr), out);
}
