// Cache sizes (codegen/target.h) and the GEMM blocking derived from them
// (GemmTemplate::KBlockFor, TileBudgetFloats).
#include <cstdint>

#include "codegen/gemm_template.h"
#include "codegen/target.h"
#include "gtest/gtest.h"

namespace braid {
namespace {

TEST(CacheSizesTest, ParsesSizesWithSuffixes) {
  auto caches = ParseCacheSizes("48K,2M");
  ASSERT_TRUE(caches.ok()) << caches.status();
  EXPECT_EQ(caches->l1d_bytes, 48 << 10);
  EXPECT_EQ(caches->l2_bytes, 2 << 20);
  EXPECT_EQ(caches->source, "--caches");
  EXPECT_EQ(caches->ToString(), "L1d 48 KiB, L2 2048 KiB (--caches)");
  caches = ParseCacheSizes("32768, 1024k");
  ASSERT_TRUE(caches.ok()) << caches.status();
  EXPECT_EQ(caches->l1d_bytes, 32 << 10);
  EXPECT_EQ(caches->l2_bytes, 1 << 20);
}

TEST(CacheSizesTest, RejectsMalformedOrImplausibleSizes) {
  for (const char* bad : {"", "48K", "48K,2M,32M", "K,2M", "48K,", "-48K,2M", "48K,2G", "1K,2M", "0,2M",
                          "48KK,2M", "99999999999999999999,2M", "2048M,2M"}) {
    auto caches = ParseCacheSizes(bad);
    EXPECT_FALSE(caches.ok()) << "'" << bad << "' parsed as " << caches->ToString();
  }
}

TEST(CacheSizesTest, HostSizesArePlausible) {
  const CacheSizes host = HostCacheSizes();
  EXPECT_GE(host.l1d_bytes, 4096);
  EXPECT_GE(host.l2_bytes, host.l1d_bytes);
  EXPECT_FALSE(host.source.empty());
#if defined(__x86_64__)
  // Every x86-64 CPU braid runs on (AVX2 and later) describes its caches through CPUID.
  EXPECT_EQ(host.source, "cpuid");
#endif
}

TEST(CacheBlockingTest, KBlockFillsAtMostTwoThirdsOfL1d) {
  // 64-wide panels (AVX-512): 48 KiB -> 128 rows (32 KiB), 32 KiB -> 64 (16 KiB of 21.3).
  EXPECT_EQ(GemmTemplate::KBlockFor({48 << 10, 2 << 20, ""}, 64), 128);
  EXPECT_EQ(GemmTemplate::KBlockFor({32 << 10, 1 << 20, ""}, 64), 64);
  // Never above the measured 128, never below 32.
  EXPECT_EQ(GemmTemplate::KBlockFor({1 << 20, 2 << 20, ""}, 64), 128);
  EXPECT_EQ(GemmTemplate::KBlockFor({4 << 10, 2 << 20, ""}, 64), 32);
  // 16-wide panels (AVX2) keep 128 in a 32 KiB L1d.
  EXPECT_EQ(GemmTemplate::KBlockFor({32 << 10, 1 << 20, ""}, 16), 128);
  for (int64_t l1d = 16 << 10; l1d <= 256 << 10; l1d += 4 << 10) {
    const int kc = GemmTemplate::KBlockFor({l1d, 2 << 20, ""}, 64);
    EXPECT_EQ(kc % 32, 0);
    EXPECT_LE(int64_t{kc} * 64 * 4, l1d * 2 / 3) << l1d;
  }
}

TEST(CacheBlockingTest, TileBudgetIsHalfTheL2UpTo576KiB) {
  EXPECT_EQ(GemmTemplate::TileBudgetFloats({48 << 10, 2 << 20, ""}) * 4, 576 << 10);
  EXPECT_EQ(GemmTemplate::TileBudgetFloats({48 << 10, 1 << 20, ""}) * 4, 512 << 10);
  EXPECT_EQ(GemmTemplate::TileBudgetFloats({32 << 10, 256 << 10, ""}) * 4, 128 << 10);
  EXPECT_EQ(GemmTemplate::TileBudgetFloats({32 << 10, 8 << 20, ""}) * 4, 576 << 10);
}

}  // namespace
}  // namespace braid
