// Weight prepacking.
#include "codegen/packing.h"

#include <algorithm>
#include <cstring>

#include <emmintrin.h>
#include <sys/mman.h>

#include "ir/scalar_convert.h"
#include "ir/status_macros.h"

namespace braid {
namespace {

// The common full micro-panel of six rows: dst[kk·6 + i] = r_i[kk]. Four k at a time, rows 0-3
// transposed as a 4x4 block (one 16-byte store per k) and rows 4-5 interleaved in pairs (one
// 8-byte store per k): 6 loads and 8 stores per four k instead of 24 of each, which measured
// 0.28 -> ~0.1 ns per packed element (the packer otherwise costs ~5 % of a large-M GEMM). SSE2
// only, so it runs on any x86-64 host.
void PackSixRows(const float* r0, const float* r1, const float* r2, const float* r3, const float* r4,
                 const float* r5, int64_t kb, float* dst) {
  int64_t kk = 0;
  for (; kk + 4 <= kb; kk += 4) {
    __m128 a = _mm_loadu_ps(r0 + kk), b = _mm_loadu_ps(r1 + kk);
    __m128 c = _mm_loadu_ps(r2 + kk), d = _mm_loadu_ps(r3 + kk);
    const __m128 e = _mm_loadu_ps(r4 + kk), f = _mm_loadu_ps(r5 + kk);
    _MM_TRANSPOSE4_PS(a, b, c, d);  // a = column kk: (r0, r1, r2, r3)[kk], b = kk + 1, ...
    const __m128 ef_lo = _mm_unpacklo_ps(e, f);  // e0 f0 e1 f1
    const __m128 ef_hi = _mm_unpackhi_ps(e, f);  // e2 f2 e3 f3
    float* out = dst + kk * 6;
    _mm_storeu_ps(out, a);
    _mm_storel_pi(reinterpret_cast<__m64*>(out + 4), ef_lo);
    _mm_storeu_ps(out + 6, b);
    _mm_storeh_pi(reinterpret_cast<__m64*>(out + 10), ef_lo);
    _mm_storeu_ps(out + 12, c);
    _mm_storel_pi(reinterpret_cast<__m64*>(out + 16), ef_hi);
    _mm_storeu_ps(out + 18, d);
    _mm_storeh_pi(reinterpret_cast<__m64*>(out + 22), ef_hi);
  }
  for (; kk < kb; ++kk) {
    float* out = dst + kk * 6;
    out[0] = r0[kk];
    out[1] = r1[kk];
    out[2] = r2[kk];
    out[3] = r3[kk];
    out[4] = r4[kk];
    out[5] = r5[kk];
  }
}

// PackSixRows on 32-bit units: dst[p·6 + i] = pair p of row i (bf16 k pairs, `pairs` of them),
// the float transposes run on the bits (SSE2 casts, no conversion).
void PackSixPairRows(const uint16_t* r0, const uint16_t* r1, const uint16_t* r2, const uint16_t* r3,
                     const uint16_t* r4, const uint16_t* r5, int64_t pairs, uint16_t* dst) {
  auto load = [](const uint16_t* r, int64_t p) {
    return _mm_castsi128_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(r + 2 * p)));
  };
  auto store = [](uint16_t* d, __m128 v) { _mm_storeu_si128(reinterpret_cast<__m128i*>(d), _mm_castps_si128(v)); };
  auto store_low = [](uint16_t* d, __m128 v) { _mm_storel_epi64(reinterpret_cast<__m128i*>(d), _mm_castps_si128(v)); };
  int64_t p = 0;
  for (; p + 4 <= pairs; p += 4) {
    __m128 a = load(r0, p), b = load(r1, p), c = load(r2, p), d = load(r3, p);
    const __m128 e = load(r4, p), f = load(r5, p);
    _MM_TRANSPOSE4_PS(a, b, c, d);
    const __m128 ef_lo = _mm_unpacklo_ps(e, f), ef_hi = _mm_unpackhi_ps(e, f);
    uint16_t* o = dst + p * 12;  // six pairs of two bf16 per pair index
    store(o, a);
    store_low(o + 8, ef_lo);
    store(o + 12, b);
    store_low(o + 20, _mm_movehl_ps(ef_lo, ef_lo));
    store(o + 24, c);
    store_low(o + 32, ef_hi);
    store(o + 36, d);
    store_low(o + 44, _mm_movehl_ps(ef_hi, ef_hi));
  }
  const uint16_t* rows[6] = {r0, r1, r2, r3, r4, r5};
  for (; p < pairs; ++p) {
    for (int i = 0; i < 6; ++i) std::memcpy(dst + (p * 6 + i) * 2, rows[i] + 2 * p, 4);
  }
}

// Columns [0, 4·groups) of a linear weight's panel from the `4·groups` rows of w starting at
// `rows` (row stride k): dst[kk·nr + j] = rows[j·k + kk]. Four k by four columns at a time as
// SSE 4x4 transposes, so each source row is read 16 bytes at a time and each panel row written
// 16 bytes at a time; callers pass up to 16 columns (one 64-byte line of a panel row) so the
// 16 source rows read side by side stay few enough for the hardware prefetcher.
void TransposeColumns(const float* rows, int64_t k, int groups, int nr, float* dst) {
  int64_t kk = 0;
  for (; kk + 4 <= k; kk += 4) {
    for (int q = 0; q < groups; ++q) {
      const float* r = rows + 4 * q * k + kk;
      __m128 a = _mm_loadu_ps(r), b = _mm_loadu_ps(r + k), c = _mm_loadu_ps(r + 2 * k), d = _mm_loadu_ps(r + 3 * k);
      _MM_TRANSPOSE4_PS(a, b, c, d);  // a = (rows 4q..4q+3)[kk], b = [kk + 1], ...
      float* out = dst + kk * nr + 4 * q;
      _mm_storeu_ps(out, a);
      _mm_storeu_ps(out + nr, b);
      _mm_storeu_ps(out + 2 * nr, c);
      _mm_storeu_ps(out + 3 * nr, d);
    }
  }
  for (; kk < k; ++kk) {
    for (int j = 0; j < 4 * groups; ++j) dst[kk * nr + j] = rows[j * k + kk];
  }
}

// Columns [n0, n0 + width) of a 16- or 8-bit weight into one panel of `nr` columns, k single
// (columns past `width` zero).
template <typename T>
void PackNarrowPanel(OpKind kind, int nr, const T* w, int64_t k, int64_t n, int64_t n0, int64_t width, T* panel) {
  if (kind == OpKind::kMatmul) {
    for (int64_t kk = 0; kk < k; ++kk) {
      std::memcpy(panel + kk * nr, w + kk * n + n0, width * sizeof(T));
      std::fill(panel + kk * nr + width, panel + (kk + 1) * nr, T{0});
    }
    return;
  }
  // w[N, K]: a transpose in blocks of 64 k by the panel's columns, so the rows read side by
  // side (one per column) and the panel rows written stay in L1. Scalar: a bf16 weight is
  // packed once, at compile time.
  constexpr int64_t kBlock = 64;
  for (int64_t k0 = 0; k0 < k; k0 += kBlock) {
    const int64_t k1 = std::min(k, k0 + kBlock);
    for (int64_t j = 0; j < width; ++j) {
      const T* row = w + (n0 + j) * k;
      for (int64_t kk = k0; kk < k1; ++kk) panel[kk * nr + j] = row[kk];
    }
    for (int64_t kk = k0; kk < k1; ++kk) std::fill(panel + kk * nr + width, panel + (kk + 1) * nr, T{0});
  }
}

}  // namespace

AlignedBuffer::AlignedBuffer(int64_t floats) : size_(floats) {
  // Large buffers (prepacked weights) go on 2 MiB boundaries and ask for transparent huge pages:
  // the GEMM streams them panel by panel, and 4 KiB pages would cost a TLB miss every 4 KiB.
  constexpr size_t kHugePage = size_t{2} << 20;
  const size_t bytes = static_cast<size_t>(std::max<int64_t>(floats, 1)) * 4;
  const size_t align = bytes >= kHugePage ? kHugePage : 64;
  data_.reset(static_cast<float*>(std::aligned_alloc(align, (bytes + align - 1) / align * align)));
  if (align == kHugePage && data_ != nullptr) madvise(data_.get(), bytes, MADV_HUGEPAGE);
}

void PackPanel(OpKind kind, const PanelFormat& format, const float* w, int64_t k, int64_t n, int64_t p,
               float* out) {
  BRAID_CHECK(format.dtype == DType::kF32 && format.k_interleave == 1, "PackPanel: an f32 packer");
  const int nr = format.width;
  const int64_t n0 = p * nr;
  const int64_t width = std::min<int64_t>(nr, n - n0);
  float* panel = out + p * format.PanelElements(k);
  if (kind == OpKind::kMatmul) {
    // b[K, N]: each row of the panel is a contiguous slice of a row of b.
    for (int64_t kk = 0; kk < k; ++kk) {
      std::memcpy(panel + kk * nr, w + kk * n + n0, width * sizeof(float));
      std::fill(panel + kk * nr + width, panel + (kk + 1) * nr, 0.0f);
    }
    return;
  }
  // w[N, K]: a transpose, 16 columns (16 rows of w, one 64-byte line of each panel row) at a
  // time. Measured on the 7B gate weight into fresh huge pages (2 threads, 2026-11-25): a
  // scalar transpose in blocks of 16 k at ~5.5 GB/s, this at ~7.6 (the page faults of the
  // fresh buffer are much of the rest; memcpy into fresh pages ran at 12-14 GB/s).
  for (int64_t j0 = 0; j0 < width; j0 += 16) {
    const int64_t columns = std::min<int64_t>(16, width - j0);
    const int groups = static_cast<int>(columns / 4);
    const float* rows = w + (n0 + j0) * k;
    if (groups > 0) TransposeColumns(rows, k, groups, nr, panel + j0);
    for (int64_t j = 4 * groups; j < columns; ++j) {
      for (int64_t kk = 0; kk < k; ++kk) panel[kk * nr + j0 + j] = rows[j * k + kk];
    }
  }
  if (width < nr) {
    for (int64_t kk = 0; kk < k; ++kk) std::fill(panel + kk * nr + width, panel + (kk + 1) * nr, 0.0f);
  }
}

void PackPanel16(OpKind kind, const PanelFormat& format, const uint16_t* w, int64_t k, int64_t n, int64_t p,
                 uint16_t* out) {
  BRAID_CHECK(DTypeBytes(format.dtype) == 2 && (format.k_interleave == 1 || format.k_interleave == 2),
              "PackPanel16: a 16-bit packer, k single or in pairs");
  const int nr = format.width;
  const int64_t n0 = p * nr;
  const int64_t width = std::min<int64_t>(nr, n - n0);
  uint16_t* panel = out + p * format.PanelElements(k);
  if (format.k_interleave == 2) {
    // k pairs interleaved (vdpbf16ps): element (kk, j) at ((kk / 2)·nr + j)·2 + kk % 2; the
    // padding (columns past n, the odd k's partner) is zero.
    std::fill(panel, panel + format.PanelElements(k), uint16_t{0});
    for (int64_t j = 0; j < width; ++j) {
      for (int64_t kk = 0; kk < k; ++kk) {
        const uint16_t value = kind == OpKind::kMatmul ? w[kk * n + n0 + j] : w[(n0 + j) * k + kk];
        panel[((kk >> 1) * nr + j) * 2 + (kk & 1)] = value;
      }
    }
    return;
  }
  PackNarrowPanel(kind, nr, w, k, n, n0, width, panel);
}

void PackPanel8(OpKind kind, const PanelFormat& format, const int8_t* w, int64_t k, int64_t n, int64_t p,
                int8_t* out) {
  BRAID_CHECK(format.dtype == DType::kI8 && (format.k_interleave == 1 || format.k_interleave == 2 ||
                                              format.k_interleave == 4),
              "PackPanel8: an i8 packer, k single, in pairs or in quads");
  const int nr = format.width;
  const int64_t n0 = p * nr;
  const int64_t width = std::min<int64_t>(nr, n - n0);
  int8_t* panel = out + p * format.PanelElements(k);
  if (format.k_interleave == 1) {
    PackNarrowPanel(kind, nr, w, k, n, n0, width, panel);
  } else {
    // k groups of q = 2 (vdpbf16ps, after conversion) or 4 (vpdpbusd) interleaved: element (kk,
    // j) at ((kk / q)·nr + j)·q + kk % q; the padding (columns past n, k past K) is zero.
    const int q = format.k_interleave;
    std::fill(panel, panel + format.PanelElements(k), int8_t{0});
    for (int64_t j = 0; j < width; ++j) {
      for (int64_t kk = 0; kk < k; ++kk) {
        panel[((kk / q) * nr + j) * q + kk % q] = kind == OpKind::kMatmul ? w[kk * n + n0 + j] : w[(n0 + j) * k + kk];
      }
    }
  }
  if (format.column_sums) {
    // 128·Σk w[k][n] per column of the panel (zero past n), after all the panels.
    int32_t* sums = reinterpret_cast<int32_t*>(out + format.PanelBytes(k, n)) + p * nr;
    for (int64_t j = 0; j < nr; ++j) {
      int32_t sum = 0;
      for (int64_t kk = 0; j < width && kk < k; ++kk) sum += kind == OpKind::kMatmul ? w[kk * n + n0 + j] : w[(n0 + j) * k + kk];
      sums[j] = 128 * sum;
    }
  }
}

std::vector<int> MicroKernelRowVariants(int mr) {
  std::vector<int> variants;
  for (int r = 1; r < mr; r *= 2) variants.push_back(r);
  variants.push_back(mr);
  return variants;
}

int MicroKernelRowVariant(int64_t rows_left, int mr) {
  int rows = 1;
  while (rows < rows_left && rows < mr) rows *= 2;
  return std::min(rows, mr);
}

void PackActivation(const float* a, int64_t lda, int64_t m0, int64_t m_rows, int64_t k0, int64_t kb,
                    int mr, int kc, float* out) {
  for (int64_t ms = 0; ms < m_rows; ms += mr) {
    const int64_t left = m_rows - ms;
    const int rows = MicroKernelRowVariant(left, mr);
    float* panel = out + ms * kc;
    // Row i of the micro-panel; rows past the valid ones repeat the last valid row.
    auto row = [&](int i) { return a + (m0 + ms + std::min<int64_t>(i, left - 1)) * lda + k0; };
    if (rows == 6 && mr == 6) {
      PackSixRows(row(0), row(1), row(2), row(3), row(4), row(5), kb, panel);
      continue;
    }
    for (int i = 0; i < rows; ++i) {
      const float* src = row(i);
      for (int64_t kk = 0; kk < kb; ++kk) panel[kk * mr + i] = src[kk];
    }
  }
}

void PackActivationBf16(const uint16_t* a, int64_t lda, int64_t m0, int64_t m_rows, int64_t k0, int64_t kb,
                        int mr, int kc, float* out) {
  // Each micro-panel's rows are widened into a per-thread f32 staging block, eight at a time
  // with SSE2, then interleaved by the f32 packer's fast path. Measured on the bf16 7B gate/up
  // at M = 128 (1 thread, AMD VM, 3 alternating rounds): a scalar widen-and-interleave loop
  // 255-269 ms, this 223-225 ms, level with the same GEMM from f32 activations (226-233 ms).
  thread_local std::vector<float> staging;
  if (static_cast<int64_t>(staging.size()) < mr * kb) staging.resize(mr * kb);
  for (int64_t ms = 0; ms < m_rows; ms += mr) {
    const int64_t left = m_rows - ms;
    const int valid = static_cast<int>(std::min<int64_t>(mr, left));
    for (int i = 0; i < valid; ++i) {
      const uint16_t* src = a + (m0 + ms + i) * lda + k0;
      float* dst = staging.data() + i * kb;
      int64_t kk = 0;
      // Eight at a time: interleaving zeros below the bf16 bits is the widening (SSE2).
      const __m128i zero = _mm_setzero_si128();
      for (; kk + 8 <= kb; kk += 8) {
        const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + kk));
        _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + kk), _mm_unpacklo_epi16(zero, v));
        _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + kk + 4), _mm_unpackhi_epi16(zero, v));
      }
      for (; kk < kb; ++kk) {
        const uint32_t bits = static_cast<uint32_t>(src[kk]) << 16;
        std::memcpy(dst + kk, &bits, 4);
      }
    }
    // Rows past the valid ones repeat the last valid row (as PackActivation does).
    PackActivation(staging.data(), kb, 0, valid, 0, kb, mr, kc, out + ms * kc);
  }
}

void PackActivationBf16Pairs(const uint16_t* a, int64_t lda, int64_t m0, int64_t m_rows, int64_t k0, int64_t kb,
                             int mr, int kc, uint16_t* out) {
  // A k pair of one row is 32 bits, so a micro-panel of pairs is the f32 micro-panel's layout
  // on 32-bit units: full six-row panels whose rows start on a pair (lda and k0 even) take the
  // same 4x4 transposes as f32 (PackSixPairRows); the rest, and an odd kb's last pair, go one
  // element at a time. Measured on the bf16 7B gate/up on the dot path (1 thread, AMD VM, 3
  // alternating rounds): M = 128 177-181 -> 142-160 ms; M = 16 within noise (20-24 ms).
  const bool pair_aligned = ((lda | k0) & 1) == 0;
  for (int64_t ms = 0; ms < m_rows; ms += mr) {
    const int64_t left = m_rows - ms;
    const int rows = MicroKernelRowVariant(left, mr);
    uint16_t* panel = out + ms * kc;
    auto row = [&](int i) { return a + (m0 + ms + std::min<int64_t>(i, left - 1)) * lda + k0; };
    int64_t done = 0;  // k already packed
    if (pair_aligned && rows == 6 && mr == 6) {
      PackSixPairRows(row(0), row(1), row(2), row(3), row(4), row(5), kb / 2, panel);
      done = kb / 2 * 2;
    }
    for (int i = 0; i < rows; ++i) {
      const uint16_t* src = row(i);
      for (int64_t kk = done; kk < kb; ++kk) panel[((kk >> 1) * mr + i) * 2 + (kk & 1)] = src[kk];
      if (kb & 1) panel[((kb >> 1) * mr + i) * 2 + 1] = 0;  // the odd k's partner
    }
  }
}

void PackActivationU8Quads(const int8_t* a, int64_t lda, int64_t m0, int64_t m_rows, int64_t k0, int64_t kb, int mr,
                           int kc, uint8_t* out) {
  // A k quad of one row is 32 bits: the f32 micro-panel's layout on 32-bit units, each byte
  // shifted to unsigned (x ^ 0x80 = x + 128); a partial last quad is completed with 0x80 (an
  // activation of zero; the weights there are zero anyway).
  const int64_t quads = (kb + 3) / 4;
  for (int64_t ms = 0; ms < m_rows; ms += mr) {
    const int64_t left = m_rows - ms;
    const int rows = MicroKernelRowVariant(left, mr);
    uint8_t* panel = out + ms * kc;
    for (int i = 0; i < rows; ++i) {
      const int8_t* src = a + (m0 + ms + std::min<int64_t>(i, left - 1)) * lda + k0;
      int64_t q = 0;
      for (; q < kb / 4; ++q) {
        uint32_t bits;
        std::memcpy(&bits, src + 4 * q, 4);
        bits ^= 0x80808080u;
        std::memcpy(panel + (q * mr + i) * 4, &bits, 4);
      }
      for (; q < quads; ++q) {
        for (int64_t kk = 4 * q; kk < 4 * q + 4; ++kk) {
          panel[(q * mr + i) * 4 + (kk & 3)] = kk < kb ? static_cast<uint8_t>(src[kk] ^ 0x80) : uint8_t{0x80};
        }
      }
    }
  }
}

void PackActivationI8(const int8_t* a, int64_t lda, int64_t m0, int64_t m_rows, int64_t k0, int64_t kb, int mr, int kc,
                      float* out) {
  // Each micro-panel's rows widened (exactly) into a per-thread staging block, then interleaved
  // by the f32 packer, as PackActivationBf16 does.
  thread_local std::vector<float> staging;
  if (static_cast<int64_t>(staging.size()) < mr * kb) staging.resize(mr * kb);
  for (int64_t ms = 0; ms < m_rows; ms += mr) {
    const int valid = static_cast<int>(std::min<int64_t>(mr, m_rows - ms));
    for (int i = 0; i < valid; ++i) {
      const int8_t* src = a + (m0 + ms + i) * lda + k0;
      for (int64_t kk = 0; kk < kb; ++kk) staging[i * kb + kk] = src[kk];
    }
    PackActivation(staging.data(), kb, 0, valid, 0, kb, mr, kc, out + ms * kc);
  }
}

void PackWeights(OpKind kind, const PanelFormat& format, const float* w, int64_t k, int64_t n, float* out) {
  for (int64_t p = 0; p < format.Panels(n); ++p) PackPanel(kind, format, w, k, n, p, out);
}

}  // namespace braid

extern "C" void braid_pack_activation(const float* a, int64_t lda, int64_t m0, int64_t m_rows,
                                      int64_t k0, int64_t kb, int64_t mr, int64_t kc, float* out) {
  braid::PackActivation(a, lda, m0, m_rows, k0, kb, static_cast<int>(mr), static_cast<int>(kc), out);
}

extern "C" void braid_pack_activation_bf16(const uint16_t* a, int64_t lda, int64_t m0, int64_t m_rows,
                                           int64_t k0, int64_t kb, int64_t mr, int64_t kc, float* out) {
  braid::PackActivationBf16(a, lda, m0, m_rows, k0, kb, static_cast<int>(mr), static_cast<int>(kc), out);
}

extern "C" void braid_pack_activation_bf16_pairs(const uint16_t* a, int64_t lda, int64_t m0, int64_t m_rows,
                                                 int64_t k0, int64_t kb, int64_t mr, int64_t kc, uint16_t* out) {
  braid::PackActivationBf16Pairs(a, lda, m0, m_rows, k0, kb, static_cast<int>(mr), static_cast<int>(kc), out);
}

extern "C" void braid_pack_weights(int32_t transposed, const float* w, float* out, int64_t k,
                                   int64_t n, int64_t nr) {
  const braid::PanelFormat format{braid::DType::kF32, static_cast<int>(nr), 1};
  braid::PackWeights(transposed ? braid::OpKind::kLinear : braid::OpKind::kMatmul, format, w, k, n, out);
}

extern "C" void braid_pack_weights_bf16(int32_t transposed, const uint16_t* w, uint16_t* out, int64_t k,
                                        int64_t n, int64_t nr) {
  const braid::PanelFormat format{braid::DType::kBF16, static_cast<int>(nr), 1};
  const braid::OpKind kind = transposed ? braid::OpKind::kLinear : braid::OpKind::kMatmul;
  for (int64_t p = 0; p < format.Panels(n); ++p) braid::PackPanel16(kind, format, w, k, n, p, out);
}

extern "C" void braid_pack_weights_bf16_pairs(int32_t transposed, const uint16_t* w, uint16_t* out, int64_t k,
                                              int64_t n, int64_t nr) {
  const braid::PanelFormat format{braid::DType::kBF16, static_cast<int>(nr), 2};
  const braid::OpKind kind = transposed ? braid::OpKind::kLinear : braid::OpKind::kMatmul;
  for (int64_t p = 0; p < format.Panels(n); ++p) braid::PackPanel16(kind, format, w, k, n, p, out);
}

extern "C" void braid_pack_activation_u8_quads(const int8_t* a, int64_t lda, int64_t m0, int64_t m_rows, int64_t k0,
                                               int64_t kb, int64_t mr, int64_t kc, uint8_t* out) {
  braid::PackActivationU8Quads(a, lda, m0, m_rows, k0, kb, static_cast<int>(mr), static_cast<int>(kc), out);
}

extern "C" void braid_pack_activation_i8(const int8_t* a, int64_t lda, int64_t m0, int64_t m_rows, int64_t k0,
                                         int64_t kb, int64_t mr, int64_t kc, float* out) {
  braid::PackActivationI8(a, lda, m0, m_rows, k0, kb, static_cast<int>(mr), static_cast<int>(kc), out);
}
