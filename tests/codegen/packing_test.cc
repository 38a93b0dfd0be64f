// The packed layouts the micro-kernel reads, checked element by element against their
// definitions in codegen/packing.h (the end-to-end tests would only see a wrong answer).
#include "codegen/packing.h"

#include <algorithm>
#include <cstring>
#include <tuple>
#include <utility>
#include <vector>

#include "gtest/gtest.h"

namespace braid {
namespace {

// out[ms / mr][kk][i] = a[m0 + ms + i][k0 + kk] for the rows the row variant reads; rows past
// m_rows repeat the last valid row.
TEST(PackActivationTest, MatchesDefinitionForEveryRemainder) {
  const int64_t lda = 300, k0 = 5, m0 = 2;
  for (int mr : {4, 6, 12, 14}) {
    const std::vector<int> variants = MicroKernelRowVariants(mr);
    for (int64_t m_rows : {1, 2, 3, 5, 6, 7, 13, 20, 96}) {
      for (int64_t kb : {1, 3, 4, 5, 8, 127, 128}) {
        std::vector<float> a((m0 + m_rows) * lda);
        for (size_t i = 0; i < a.size(); ++i) a[i] = static_cast<float>(i);
        const int kc = 128;
        std::vector<float> out((m_rows + mr) * kc, -1.0f);
        PackActivation(a.data(), lda, m0, m_rows, k0, kb, mr, kc, out.data());
        for (int64_t ms = 0; ms < m_rows; ms += mr) {
          const int64_t left = m_rows - ms;
          const int rows = *std::find_if(variants.begin(), variants.end(), [&](int v) { return v >= left || v == mr; });
          for (int64_t kk = 0; kk < kb; ++kk) {
            for (int i = 0; i < rows; ++i) {
              const float want = a[(m0 + ms + std::min<int64_t>(i, left - 1)) * lda + k0 + kk];
              ASSERT_EQ(out[ms * kc + kk * mr + i], want)
                  << "mr=" << mr << " m_rows=" << m_rows << " kb=" << kb << " ms=" << ms << " kk=" << kk << " i=" << i;
            }
          }
        }
      }
    }
  }
}

// The bf16 packer is the f32 one on the widened values, bit for bit.
TEST(PackActivationTest, Bf16IsTheF32PackerOnWidenedValues) {
  const int64_t lda = 300, k0 = 5, m0 = 2;
  for (int mr : {4, 6}) {
    for (int64_t m_rows : {1, 5, 6, 7, 13, 96}) {
      for (int64_t kb : {1, 4, 5, 128}) {
        std::vector<uint16_t> a((m0 + m_rows) * lda);
        std::vector<float> wide(a.size());
        for (size_t i = 0; i < a.size(); ++i) {
          a[i] = static_cast<uint16_t>(0x3f80 + (i * 7) % 200);
          const uint32_t bits = static_cast<uint32_t>(a[i]) << 16;
          std::memcpy(&wide[i], &bits, 4);
        }
        const int kc = 128;
        std::vector<float> want((m_rows + mr) * kc, -1.0f), got((m_rows + mr) * kc, -1.0f);
        PackActivation(wide.data(), lda, m0, m_rows, k0, kb, mr, kc, want.data());
        PackActivationBf16(a.data(), lda, m0, m_rows, k0, kb, mr, kc, got.data());
        ASSERT_EQ(got, want) << "mr=" << mr << " m_rows=" << m_rows << " kb=" << kb;
      }
    }
  }
}

TEST(PackActivationTest, RowVariantsArePowersOfTwoThenMr) {
  EXPECT_EQ(MicroKernelRowVariants(6), (std::vector<int>{1, 2, 4, 6}));
  EXPECT_EQ(MicroKernelRowVariants(4), (std::vector<int>{1, 2, 4}));
  EXPECT_EQ(MicroKernelRowVariants(14), (std::vector<int>{1, 2, 4, 8, 14}));
}

// Panel p of a packed weight is [K][nr]: packed[p][kk][j] = B[kk][p·nr + j], zero past N; for a
// linear weight w[N, K], B = wᵀ. The panel widths are the AVX2 (16, 24) and AVX-512 (32, 64)
// ones; the sizes cover the transposer's 4x4 blocks, their k and column remainders, and
// partial panels.
TEST(PackWeightsTest, PanelsMatchDefinitionWithZeroPadding) {
  for (OpKind kind : {OpKind::kLinear, OpKind::kMatmul}) {
    for (int nr : {16, 24, 32, 64}) {
      for (int64_t k : {1, 3, 4, 15, 16, 17, 40}) {
        for (int64_t n : {1, 5, 16, 17, 23, 100, 130}) {
          std::vector<float> w(k * n);
          for (size_t i = 0; i < w.size(); ++i) w[i] = static_cast<float>(i + 1);
          const PanelFormat format{DType::kF32, nr, 1};
          std::vector<float> out(format.PackedElements(k, n), -1.0f);
          PackWeights(kind, format, w.data(), k, n, out.data());
          for (int64_t p = 0; p * nr < n; ++p) {
            for (int64_t kk = 0; kk < k; ++kk) {
              for (int j = 0; j < nr; ++j) {
                const int64_t col = p * nr + j;
                const float want = col >= n ? 0.0f : kind == OpKind::kLinear ? w[col * k + kk] : w[kk * n + col];
                ASSERT_EQ(out[(p * k + kk) * nr + j], want)
                    << "nr=" << nr << " k=" << k << " n=" << n << " p=" << p << " kk=" << kk << " j=" << j;
              }
            }
          }
        }
      }
    }
  }
}

// The 16-bit packer (bf16 weights stay bf16) against the same definition; k crosses its 64-k
// blocks.
TEST(PackWeightsTest, SixteenBitPanelsMatchDefinitionWithZeroPadding) {
  for (OpKind kind : {OpKind::kLinear, OpKind::kMatmul}) {
    for (int nr : {16, 32, 64}) {
      for (int64_t k : {1, 3, 63, 64, 65, 130}) {
        for (int64_t n : {1, 5, 16, 17, 100}) {
          std::vector<uint16_t> w(k * n);
          for (size_t i = 0; i < w.size(); ++i) w[i] = static_cast<uint16_t>(i + 1);
          const PanelFormat format{DType::kBF16, nr, 1};
          std::vector<uint16_t> out(format.PackedElements(k, n), 0xFFFF);
          for (int64_t p = 0; p < format.Panels(n); ++p) PackPanel16(kind, format, w.data(), k, n, p, out.data());
          for (int64_t p = 0; p * nr < n; ++p) {
            for (int64_t kk = 0; kk < k; ++kk) {
              for (int j = 0; j < nr; ++j) {
                const int64_t col = p * nr + j;
                const uint16_t want = col >= n ? 0 : kind == OpKind::kLinear ? w[col * k + kk] : w[kk * n + col];
                ASSERT_EQ(out[(p * k + kk) * nr + j], want)
                    << "nr=" << nr << " k=" << k << " n=" << n << " p=" << p << " kk=" << kk << " j=" << j;
              }
            }
          }
        }
      }
    }
  }
}

// The 8-bit packer (int8 weights stay int8, a quarter of f32's bytes) against the same
// definition, negative values included; k crosses its 64-k blocks.
TEST(PackWeightsTest, EightBitPanelsMatchDefinitionWithZeroPadding) {
  for (OpKind kind : {OpKind::kLinear, OpKind::kMatmul}) {
    for (int nr : {16, 32, 64}) {
      for (int64_t k : {1, 3, 64, 65, 130}) {
        for (int64_t n : {1, 5, 17, 100}) {
          std::vector<int8_t> w(k * n);
          for (size_t i = 0; i < w.size(); ++i) w[i] = static_cast<int8_t>(static_cast<int>(i % 255) - 127);
          const PanelFormat format{DType::kI8, nr, 1};
          ASSERT_EQ(format.PackedBytes(k, n), format.Panels(n) * nr * k);
          std::vector<int8_t> out(format.PackedElements(k, n), int8_t{-1});
          for (int64_t p = 0; p < format.Panels(n); ++p) PackPanel8(kind, format, w.data(), k, n, p, out.data());
          for (int64_t p = 0; p * nr < n; ++p) {
            for (int64_t kk = 0; kk < k; ++kk) {
              for (int j = 0; j < nr; ++j) {
                const int64_t col = p * nr + j;
                const int8_t want = col >= n ? 0 : kind == OpKind::kLinear ? w[col * k + kk] : w[kk * n + col];
                ASSERT_EQ(out[(p * k + kk) * nr + j], want)
                    << "nr=" << nr << " k=" << k << " n=" << n << " p=" << p << " kk=" << kk << " j=" << j;
              }
            }
          }
        }
      }
    }
  }
}

// k pairs interleaved (the bf16 dot path): element (kk, j) of panel p at ((kk / 2)·nr + j)·2 +
// kk % 2, K padded to pairs, zeros in the padding.
TEST(PackWeightsTest, PairPanelsMatchDefinitionWithZeroPadding) {
  for (OpKind kind : {OpKind::kLinear, OpKind::kMatmul}) {
    for (int nr : {16, 64}) {
      for (int64_t k : {1, 2, 3, 64, 77}) {
        for (int64_t n : {1, 17, 100}) {
          std::vector<uint16_t> w(k * n);
          for (size_t i = 0; i < w.size(); ++i) w[i] = static_cast<uint16_t>(i + 1);
          const PanelFormat format{DType::kBF16, nr, 2};
          std::vector<uint16_t> out(format.PackedElements(k, n), 0xFFFF);
          for (int64_t p = 0; p < format.Panels(n); ++p) PackPanel16(kind, format, w.data(), k, n, p, out.data());
          const int64_t kp = format.PaddedK(k);
          for (int64_t p = 0; p < format.Panels(n); ++p) {
            for (int64_t kk = 0; kk < kp; ++kk) {
              for (int j = 0; j < nr; ++j) {
                const int64_t col = p * nr + j;
                const uint16_t want = col >= n || kk >= k ? 0 : kind == OpKind::kLinear ? w[col * k + kk] : w[kk * n + col];
                ASSERT_EQ(out[p * format.PanelElements(k) + ((kk / 2) * nr + j) * 2 + kk % 2], want)
                    << "nr=" << nr << " k=" << k << " n=" << n << " p=" << p << " kk=" << kk << " j=" << j;
              }
            }
          }
        }
      }
    }
  }
}

// Activations as bf16 k pairs: out[ms·kc + ((kk / 2)·mr + i)·2 + kk % 2], rows past m_rows
// repeating the last valid one, an odd kb's last pair completed with zero.
TEST(PackActivationTest, Bf16PairsMatchDefinition) {
  const int64_t lda = 300, m0 = 2;
  // k0 odd: one element at a time; k0 even (rows start on a pair): six-row transposes.
  for (auto [mr, k0] : {std::pair<int, int64_t>{4, 5}, {6, 5}, {6, 4}}) {
    const std::vector<int> variants = MicroKernelRowVariants(mr);
    for (int64_t m_rows : {1, 5, 6, 7, 13}) {
      for (int64_t kb : {1, 2, 5, 8, 9, 15, 128}) {
        std::vector<uint16_t> a((m0 + m_rows) * lda);
        for (size_t i = 0; i < a.size(); ++i) a[i] = static_cast<uint16_t>(i + 1);
        const int kc = 128;
        std::vector<uint16_t> out((m_rows + mr) * kc, 0xFFFF);
        PackActivationBf16Pairs(a.data(), lda, m0, m_rows, k0, kb, mr, kc, out.data());
        for (int64_t ms = 0; ms < m_rows; ms += mr) {
          const int64_t left = m_rows - ms;
          const int rows = *std::find_if(variants.begin(), variants.end(), [&](int v) { return v >= left || v == mr; });
          for (int64_t kk = 0; kk < (kb + 1) / 2 * 2; ++kk) {
            for (int i = 0; i < rows; ++i) {
              const int64_t row = m0 + ms + std::min<int64_t>(i, left - 1);
              const uint16_t want = kk < kb ? a[row * lda + k0 + kk] : 0;
              ASSERT_EQ(out[ms * kc + ((kk / 2) * mr + i) * 2 + kk % 2], want)
                  << "mr=" << mr << " m_rows=" << m_rows << " kb=" << kb << " ms=" << ms << " kk=" << kk;
            }
          }
        }
      }
    }
  }
}

TEST(PackActivationTest, U8QuadsMatchDefinition) {
  // Row starts on and off a quad (k0, lda), every remainder of kb, every byte value (-128 and
  // 127 included), the partial last quad completed with 128.
  const int64_t m0 = 2;
  for (auto [mr, k0, lda] : {std::tuple<int, int64_t, int64_t>{4, 5, 300}, {6, 5, 300}, {6, 4, 300}, {6, 4, 301}}) {
    const std::vector<int> variants = MicroKernelRowVariants(mr);
    for (int64_t m_rows : {1, 5, 6, 7, 13}) {
      for (int64_t kb : {1, 3, 4, 5, 8, 15, 16, 17, 128}) {
        std::vector<int8_t> a((m0 + m_rows) * lda);
        for (size_t i = 0; i < a.size(); ++i) a[i] = static_cast<int8_t>(i * 7 + 1);
        const int kc = 128;
        std::vector<uint8_t> out((m_rows + mr) * kc, 0x11);
        PackActivationU8Quads(a.data(), lda, m0, m_rows, k0, kb, mr, kc, out.data());
        for (int64_t ms = 0; ms < m_rows; ms += mr) {
          const int64_t left = m_rows - ms;
          const int rows = *std::find_if(variants.begin(), variants.end(), [&](int v) { return v >= left || v == mr; });
          for (int64_t kk = 0; kk < (kb + 3) / 4 * 4; ++kk) {
            for (int i = 0; i < rows; ++i) {
              const int64_t row = m0 + ms + std::min<int64_t>(i, left - 1);
              const uint8_t want = kk < kb ? static_cast<uint8_t>(a[row * lda + k0 + kk] + 128) : uint8_t{128};
              ASSERT_EQ(out[ms * kc + ((kk / 4) * mr + i) * 4 + kk % 4], want)
                  << "mr=" << mr << " lda=" << lda << " k0=" << k0 << " m_rows=" << m_rows << " kb=" << kb << " kk=" << kk;
            }
          }
        }
      }
    }
  }
}

}  // namespace
}  // namespace braid
