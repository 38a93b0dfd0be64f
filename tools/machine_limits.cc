// FMA, bf16 and VNNI dot-product peaks and DRAM read-bandwidth probes.
#include "tools/machine_limits.h"

#include <immintrin.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <thread>
#include <vector>

#include "codegen/packing.h"

namespace braid {
namespace {

using Clock = std::chrono::steady_clock;

// The sum of v's lanes. Not _mm512_reduce_add_ps: GCC 12's version extracts halves from an
// _mm256_undefined_pd() and warns (-Wuninitialized) in every optimised build.
__attribute__((target("avx512f"))) float LaneSum(__m512 v) {
  alignas(64) float lanes[16];
  _mm512_store_ps(lanes, v);
  float sum = 0;
  for (float lane : lanes) sum += lane;
  return sum;
}

// 16 independent chains of 16-lane FMAs: enough to cover FMA latency x throughput on every
// AVX-512 core we know of. Written out (no array) so the chains live in registers; the empty
// asm keeps the compiler from folding the loop. Returns a value derived from the chains.
__attribute__((target("avx512f"))) float FmaLoop(int64_t iterations) {
  const __m512 a = _mm512_set1_ps(0.999999f);
  const __m512 b = _mm512_set1_ps(1e-7f);
  __m512 c0 = _mm512_set1_ps(1.0f), c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0, c6 = c0, c7 = c0;
  __m512 c8 = c0, c9 = c0, c10 = c0, c11 = c0, c12 = c0, c13 = c0, c14 = c0, c15 = c0;
  for (int64_t it = 0; it < iterations; ++it) {
    c0 = _mm512_fmadd_ps(c0, a, b);
    c1 = _mm512_fmadd_ps(c1, a, b);
    c2 = _mm512_fmadd_ps(c2, a, b);
    c3 = _mm512_fmadd_ps(c3, a, b);
    c4 = _mm512_fmadd_ps(c4, a, b);
    c5 = _mm512_fmadd_ps(c5, a, b);
    c6 = _mm512_fmadd_ps(c6, a, b);
    c7 = _mm512_fmadd_ps(c7, a, b);
    c8 = _mm512_fmadd_ps(c8, a, b);
    c9 = _mm512_fmadd_ps(c9, a, b);
    c10 = _mm512_fmadd_ps(c10, a, b);
    c11 = _mm512_fmadd_ps(c11, a, b);
    c12 = _mm512_fmadd_ps(c12, a, b);
    c13 = _mm512_fmadd_ps(c13, a, b);
    c14 = _mm512_fmadd_ps(c14, a, b);
    c15 = _mm512_fmadd_ps(c15, a, b);
    __asm__ volatile("" : "+v"(c0), "+v"(c1), "+v"(c2), "+v"(c3), "+v"(c4), "+v"(c5), "+v"(c6), "+v"(c7));
    __asm__ volatile("" : "+v"(c8), "+v"(c9), "+v"(c10), "+v"(c11), "+v"(c12), "+v"(c13), "+v"(c14), "+v"(c15));
  }
  const __m512 s0 = _mm512_add_ps(_mm512_add_ps(c0, c1), _mm512_add_ps(c2, c3));
  const __m512 s1 = _mm512_add_ps(_mm512_add_ps(c4, c5), _mm512_add_ps(c6, c7));
  const __m512 s2 = _mm512_add_ps(_mm512_add_ps(c8, c9), _mm512_add_ps(c10, c11));
  const __m512 s3 = _mm512_add_ps(_mm512_add_ps(c12, c13), _mm512_add_ps(c14, c15));
  return LaneSum(_mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3)));
}

// 16 independent chains of zmm vdpbf16ps (each chain c += a·b over 16 lanes x 2 bf16 pairs),
// written out like FmaLoop. The sums grow by 2e-6 per step: no overflow, no denormals.
__attribute__((target("avx512f,avx512bf16"))) float Bf16DotLoop(int64_t iterations) {
  const __m512bh a = _mm512_cvtne2ps_pbh(_mm512_set1_ps(1e-3f), _mm512_set1_ps(1e-3f));
  const __m512bh b = a;
  __m512 c0 = _mm512_setzero_ps(), c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0, c6 = c0, c7 = c0;
  __m512 c8 = c0, c9 = c0, c10 = c0, c11 = c0, c12 = c0, c13 = c0, c14 = c0, c15 = c0;
  for (int64_t it = 0; it < iterations; ++it) {
    c0 = _mm512_dpbf16_ps(c0, a, b);
    c1 = _mm512_dpbf16_ps(c1, a, b);
    c2 = _mm512_dpbf16_ps(c2, a, b);
    c3 = _mm512_dpbf16_ps(c3, a, b);
    c4 = _mm512_dpbf16_ps(c4, a, b);
    c5 = _mm512_dpbf16_ps(c5, a, b);
    c6 = _mm512_dpbf16_ps(c6, a, b);
    c7 = _mm512_dpbf16_ps(c7, a, b);
    c8 = _mm512_dpbf16_ps(c8, a, b);
    c9 = _mm512_dpbf16_ps(c9, a, b);
    c10 = _mm512_dpbf16_ps(c10, a, b);
    c11 = _mm512_dpbf16_ps(c11, a, b);
    c12 = _mm512_dpbf16_ps(c12, a, b);
    c13 = _mm512_dpbf16_ps(c13, a, b);
    c14 = _mm512_dpbf16_ps(c14, a, b);
    c15 = _mm512_dpbf16_ps(c15, a, b);
    __asm__ volatile("" : "+v"(c0), "+v"(c1), "+v"(c2), "+v"(c3), "+v"(c4), "+v"(c5), "+v"(c6), "+v"(c7));
    __asm__ volatile("" : "+v"(c8), "+v"(c9), "+v"(c10), "+v"(c11), "+v"(c12), "+v"(c13), "+v"(c14), "+v"(c15));
  }
  const __m512 s0 = _mm512_add_ps(_mm512_add_ps(c0, c1), _mm512_add_ps(c2, c3));
  const __m512 s1 = _mm512_add_ps(_mm512_add_ps(c4, c5), _mm512_add_ps(c6, c7));
  const __m512 s2 = _mm512_add_ps(_mm512_add_ps(c8, c9), _mm512_add_ps(c10, c11));
  const __m512 s3 = _mm512_add_ps(_mm512_add_ps(c12, c13), _mm512_add_ps(c14, c15));
  return LaneSum(_mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3)));
}

// The same with zmm vpdpbusd (each chain's 16 i32 lanes += 4 u8 x s8 products); the i32 sums
// wrap harmlessly.
__attribute__((target("avx512f,avx512vnni"))) float VnniLoop(int64_t iterations) {
  const __m512i a = _mm512_set1_epi8(3), b = _mm512_set1_epi8(-2);
  __m512i c0 = _mm512_setzero_si512(), c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0, c6 = c0, c7 = c0;
  __m512i c8 = c0, c9 = c0, c10 = c0, c11 = c0, c12 = c0, c13 = c0, c14 = c0, c15 = c0;
  for (int64_t it = 0; it < iterations; ++it) {
    c0 = _mm512_dpbusd_epi32(c0, a, b);
    c1 = _mm512_dpbusd_epi32(c1, a, b);
    c2 = _mm512_dpbusd_epi32(c2, a, b);
    c3 = _mm512_dpbusd_epi32(c3, a, b);
    c4 = _mm512_dpbusd_epi32(c4, a, b);
    c5 = _mm512_dpbusd_epi32(c5, a, b);
    c6 = _mm512_dpbusd_epi32(c6, a, b);
    c7 = _mm512_dpbusd_epi32(c7, a, b);
    c8 = _mm512_dpbusd_epi32(c8, a, b);
    c9 = _mm512_dpbusd_epi32(c9, a, b);
    c10 = _mm512_dpbusd_epi32(c10, a, b);
    c11 = _mm512_dpbusd_epi32(c11, a, b);
    c12 = _mm512_dpbusd_epi32(c12, a, b);
    c13 = _mm512_dpbusd_epi32(c13, a, b);
    c14 = _mm512_dpbusd_epi32(c14, a, b);
    c15 = _mm512_dpbusd_epi32(c15, a, b);
    __asm__ volatile("" : "+v"(c0), "+v"(c1), "+v"(c2), "+v"(c3), "+v"(c4), "+v"(c5), "+v"(c6), "+v"(c7));
    __asm__ volatile("" : "+v"(c8), "+v"(c9), "+v"(c10), "+v"(c11), "+v"(c12), "+v"(c13), "+v"(c14), "+v"(c15));
  }
  const __m512i s0 = _mm512_add_epi32(_mm512_add_epi32(c0, c1), _mm512_add_epi32(c2, c3));
  const __m512i s1 = _mm512_add_epi32(_mm512_add_epi32(c4, c5), _mm512_add_epi32(c6, c7));
  const __m512i s2 = _mm512_add_epi32(_mm512_add_epi32(c8, c9), _mm512_add_epi32(c10, c11));
  const __m512i s3 = _mm512_add_epi32(_mm512_add_epi32(c12, c13), _mm512_add_epi32(c14, c15));
  // Not _mm512_cvtepi32_ps: GCC 12's warns like _mm512_reduce_add_ps (see LaneSum).
  alignas(64) int32_t lanes[16];
  _mm512_store_si512(lanes, _mm512_add_epi32(_mm512_add_epi32(s0, s1), _mm512_add_epi32(s2, s3)));
  float sum = 0;
  for (int32_t lane : lanes) sum += static_cast<float>(lane);
  return sum;
}

// Sums data[0, n) as kStreams contiguous parts read side by side: one sequential stream per
// core measured well under what the core can pull (26 vs 36-38 GB/s on 1 thread, 50 vs
// 66-72 GB/s on 2 here, 2026-11-25), as a core keeps more misses in flight over several
// streams; braid's decode kernel reads four panels at once for the same reason.
constexpr int kStreams = 4;

// The sum of 64 consecutive floats (four vectors, four cache lines) as one vector.
__attribute__((target("avx512f"), always_inline)) inline __m512 SumLine(const float* p) {
  return _mm512_add_ps(_mm512_add_ps(_mm512_load_ps(p), _mm512_load_ps(p + 16)),
                       _mm512_add_ps(_mm512_load_ps(p + 32), _mm512_load_ps(p + 48)));
}

// Written out (no arrays) so the sums stay in registers.
__attribute__((target("avx512f"))) float SumRange(const float* data, int64_t n) {
  static_assert(kStreams == 4, "SumRange reads four streams");
  const int64_t part = n / kStreams / 64 * 64;
  __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
  for (int64_t i = 0; i < part; i += 64) {
    a0 = _mm512_add_ps(a0, SumLine(data + i));
    a1 = _mm512_add_ps(a1, SumLine(data + part + i));
    a2 = _mm512_add_ps(a2, SumLine(data + 2 * part + i));
    a3 = _mm512_add_ps(a3, SumLine(data + 3 * part + i));
  }
  return LaneSum(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)));
}

// The same probes for AVX2 hosts (8-lane FMAs, two FMA pipes): 12 chains of the 16 ymm
// registers cover latency x throughput on AVX2 cores (4-5 cycles x 2).
__attribute__((target("avx2,fma"))) float FmaLoopAvx2(int64_t iterations) {
  const __m256 a = _mm256_set1_ps(0.999999f);
  const __m256 b = _mm256_set1_ps(1e-7f);
  __m256 c0 = _mm256_set1_ps(1.0f), c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0, c6 = c0, c7 = c0;
  __m256 c8 = c0, c9 = c0, c10 = c0, c11 = c0;
  for (int64_t it = 0; it < iterations; ++it) {
    c0 = _mm256_fmadd_ps(c0, a, b);
    c1 = _mm256_fmadd_ps(c1, a, b);
    c2 = _mm256_fmadd_ps(c2, a, b);
    c3 = _mm256_fmadd_ps(c3, a, b);
    c4 = _mm256_fmadd_ps(c4, a, b);
    c5 = _mm256_fmadd_ps(c5, a, b);
    c6 = _mm256_fmadd_ps(c6, a, b);
    c7 = _mm256_fmadd_ps(c7, a, b);
    c8 = _mm256_fmadd_ps(c8, a, b);
    c9 = _mm256_fmadd_ps(c9, a, b);
    c10 = _mm256_fmadd_ps(c10, a, b);
    c11 = _mm256_fmadd_ps(c11, a, b);
    __asm__ volatile("" : "+x"(c0), "+x"(c1), "+x"(c2), "+x"(c3), "+x"(c4), "+x"(c5));
    __asm__ volatile("" : "+x"(c6), "+x"(c7), "+x"(c8), "+x"(c9), "+x"(c10), "+x"(c11));
  }
  const __m256 s0 = _mm256_add_ps(_mm256_add_ps(c0, c1), _mm256_add_ps(c2, c3));
  const __m256 s1 = _mm256_add_ps(_mm256_add_ps(c4, c5), _mm256_add_ps(c6, c7));
  const __m256 s2 = _mm256_add_ps(_mm256_add_ps(c8, c9), _mm256_add_ps(c10, c11));
  alignas(32) float lanes[8];
  _mm256_store_ps(lanes, _mm256_add_ps(_mm256_add_ps(s0, s1), s2));
  float sum = 0;
  for (float lane : lanes) sum += lane;
  return sum;
}

__attribute__((target("avx2"), always_inline)) inline __m256 SumLineAvx2(const float* p) {
  return _mm256_add_ps(_mm256_load_ps(p), _mm256_load_ps(p + 8));
}

__attribute__((target("avx2"))) float SumRangeAvx2(const float* data, int64_t n) {
  static_assert(kStreams == 4, "SumRangeAvx2 reads four streams");
  const int64_t part = n / kStreams / 64 * 64;
  __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
  for (int64_t i = 0; i < part; i += 16) {
    a0 = _mm256_add_ps(a0, SumLineAvx2(data + i));
    a1 = _mm256_add_ps(a1, SumLineAvx2(data + part + i));
    a2 = _mm256_add_ps(a2, SumLineAvx2(data + 2 * part + i));
    a3 = _mm256_add_ps(a3, SumLineAvx2(data + 3 * part + i));
  }
  alignas(32) float lanes[8];
  _mm256_store_ps(lanes, _mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));
  float sum = 0;
  for (float lane : lanes) sum += lane;
  return sum;
}

bool HasAvx512() { return __builtin_cpu_supports("avx512f"); }
bool HasAvx2() { return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"); }

// Runs `work(thread)` on `threads` threads at once; returns the wall seconds of the slowest.
template <typename Work>
double TimeOnThreads(int threads, Work work) {
  const auto start = Clock::now();
  std::vector<std::thread> pool;
  for (int t = 1; t < threads; ++t) pool.emplace_back(work, t);
  work(0);
  for (std::thread& t : pool) t.join();
  return std::chrono::duration<double>(Clock::now() - start).count();
}

volatile float sink;

// The best of 5 runs of `loop(iterations)` on `threads` threads at once, in G(FL)OP/s, where
// one iteration is `ops` operations.
template <typename Loop>
double BestLoopRate(int threads, int64_t iterations, double ops, Loop loop) {
  double best = 0;
  for (int rep = 0; rep < 5; ++rep) {
    const double seconds = TimeOnThreads(threads, [&](int) { sink = loop(iterations); });
    best = std::max(best, threads * iterations * ops / seconds / 1e9);
  }
  return best;
}

}  // namespace

double MeasureFmaPeakGflops(int threads) {
  if (!HasAvx512() && !HasAvx2()) return 0;
  const int64_t iterations = 20'000'000;  // 5 GFLOP per thread (AVX-512): ~25 ms at peak
  // FLOPs per iteration: chains x lanes x 2.
  const double flops = HasAvx512() ? 16.0 * 16 * 2 : 12.0 * 8 * 2;
  double best = 0;
  for (int rep = 0; rep < 5; ++rep) {
    const double seconds = TimeOnThreads(threads, [&](int) {
      sink = HasAvx512() ? FmaLoop(iterations) : FmaLoopAvx2(iterations);
    });
    best = std::max(best, threads * iterations * flops / seconds / 1e9);
  }
  return best;
}

double MeasureBf16DotPeakGflops(int threads) {
  if (!HasAvx512() || !__builtin_cpu_supports("avx512bf16")) return 0;
  // 16 chains x 64 FLOP per iteration: 10 GFLOP per thread.
  return BestLoopRate(threads, 10'000'000, 16.0 * 64, Bf16DotLoop);
}

double MeasureVnniPeakGops(int threads) {
  if (!HasAvx512() || !__builtin_cpu_supports("avx512vnni")) return 0;
  // 16 chains x 128 ops per iteration: 20 GOP per thread.
  return BestLoopRate(threads, 10'000'000, 16.0 * 128, VnniLoop);
}

double MeasureReadBandwidthGBs(int threads, int64_t bytes) {
  if (!HasAvx512() && !HasAvx2()) return 0;
  const int64_t floats = bytes / 4 / (64 * kStreams) / threads * (64 * kStreams) * threads;
  // On huge pages like braid's prepacked weights (AlignedBuffer): the probe measures DRAM, not
  // the page walker.
  AlignedBuffer data(floats);
  // Touch every page from the thread that will read it (first touch places it).
  const int64_t share = floats / threads;
  TimeOnThreads(threads, [&](int t) { std::fill(data.data() + t * share, data.data() + (t + 1) * share, 1.0f); });
  double best = 0;
  for (int rep = 0; rep < 5; ++rep) {
    const double seconds =
        TimeOnThreads(threads, [&](int t) {
          sink = HasAvx512() ? SumRange(data.data() + t * share, share) : SumRangeAvx2(data.data() + t * share, share);
        });
    best = std::max(best, floats * 4.0 / seconds / 1e9);
  }
  return best;
}

}  // namespace braid
