// The machine's limits, measured in the process that reports a speed (the benchmark suite,
// `braid --bench`) so every ratio is against a figure taken on the same machine at the same time
// (these machines are shared and noisy).
#ifndef BRAID_TOOLS_MACHINE_LIMITS_H_
#define BRAID_TOOLS_MACHINE_LIMITS_H_

#include <cstdint>

namespace braid {

// fp32 GFLOP/s of a hand-written loop of independent FMA chains on `threads` threads, in the
// host's widest vectors (AVX-512, else AVX2 + FMA; 0 if it has neither).
double MeasureFmaPeakGflops(int threads);

// Low-precision dot-product peaks, measured like MeasureFmaPeakGflops (independent chains on
// `threads` threads); 0 when the host lacks the instruction (it is then never executed).
//   bf16: GFLOP/s of zmm vdpbf16ps, 64 FLOP each (16 lanes x 2 products x multiply-add).
//   VNNI: GOP/s of zmm vpdpbusd (u8 x s8), 128 ops each (16 lanes x 4 products x 2).
double MeasureBf16DotPeakGflops(int threads);
double MeasureVnniPeakGops(int threads);

// GB/s of summing an array of `bytes` (make it far larger than the last-level cache) split
// across `threads` threads, each reading its share as four streams side by side (AVX-512 or
// AVX2 loads; 0 if the host has neither).
double MeasureReadBandwidthGBs(int threads, int64_t bytes = int64_t{1} << 30);

}  // namespace braid

#endif  // BRAID_TOOLS_MACHINE_LIMITS_H_
