// A long soak of the differential tester:
//   bazel run -c opt //tests/fuzz:differential_soak -- --graphs=5000 --first_seed=1000
// Prints progress; on the first failure prints the graph (to reproduce with the driver) and
// exits 1.
#include <iostream>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "tests/fuzz/differential.h"
#include "tests/fuzz/random_graph.h"

ABSL_FLAG(int64_t, graphs, 5000, "How many random graphs to check.");
ABSL_FLAG(uint64_t, first_seed, 1000, "Seed of the first graph (the CI seed set is 0..199).");
ABSL_FLAG(bool, print_graph, false, "Print graph --first_seed and exit.");

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  const uint64_t first = absl::GetFlag(FLAGS_first_seed);
  if (absl::GetFlag(FLAGS_print_graph)) {
    std::cout << braid::testing::RandomGraphText(first);
    return 0;
  }
  braid::testing::DifferentialStats stats;
  const int64_t n = absl::GetFlag(FLAGS_graphs);
  for (int64_t i = 0; i < n; ++i) {
    const uint64_t seed = first + i;
    absl::Status s = braid::testing::CheckGraphEverywhere(braid::testing::RandomGraphText(seed), seed, stats);
    if (!s.ok()) {
      std::cerr << "seed " << seed << ": " << s.message() << "\n";
      return 1;
    }
    if ((i + 1) % 250 == 0) {
      std::cerr << (i + 1) << " graphs ok (" << stats.compiled_runs << " compiled runs, " << stats.grouped
                << " grouped)\n";
    }
  }
  std::cout << "soak: " << stats.graphs << " graphs passed, " << stats.compiled_runs << " compiled runs, "
            << stats.grouped << " with a grouped_gemm after --O\n";
  return 0;
}
