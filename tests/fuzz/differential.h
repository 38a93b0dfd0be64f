// Differential testing of one graph: the reference interpreter against every execution path —
// the schedule executor, and the JIT as written and after --O (grouped), fused and unfused, on
// the AVX2 path and the host's best ISA. A mismatch or any failure is an error that quotes the
// graph so it reproduces with `braid --run --verify`.
#ifndef BRAID_TESTS_FUZZ_DIFFERENTIAL_H_
#define BRAID_TESTS_FUZZ_DIFFERENTIAL_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"

namespace braid::testing {

struct DifferentialStats {
  int graphs = 0;
  int compiled_runs = 0;
  int grouped = 0;  // graphs where --O produced a grouped_gemm
};

// Checks the graph in `text` with M (and B, T) chosen from `seed`.
absl::Status CheckGraphEverywhere(const std::string& text, uint64_t seed, DifferentialStats& stats);

}  // namespace braid::testing

#endif  // BRAID_TESTS_FUZZ_DIFFERENTIAL_H_
