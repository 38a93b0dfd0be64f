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

// GB/s of summing an array of `bytes` (make it far larger than the last-level cache) split
// across `threads` threads, each reading its share as four streams side by side (AVX-512 or
// AVX2 loads; 0 if the host has neither).
double MeasureReadBandwidthGBs(int threads, int64_t bytes = int64_t{1} << 30);

}  // namespace braid

#endif  // BRAID_TOOLS_MACHINE_LIMITS_H_
