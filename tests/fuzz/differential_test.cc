// The differential tester's fixed seed set (CI): 200 random graphs through every path.
#include <iostream>

#include "gtest/gtest.h"
#include "tests/fuzz/differential.h"
#include "tests/fuzz/random_graph.h"

namespace braid::testing {
namespace {

TEST(DifferentialTest, SeedSetMatchesTheInterpreterEverywhere) {
  DifferentialStats stats;
  for (uint64_t seed = 0; seed < 200; ++seed) {
    absl::Status s = CheckGraphEverywhere(RandomGraphText(seed), seed, stats);
    ASSERT_TRUE(s.ok()) << "seed " << seed << ": " << s.message();
  }
  std::cout << stats.graphs << " graphs, " << stats.compiled_runs << " compiled runs, " << stats.grouped
            << " with a grouped_gemm after --O\n";
  EXPECT_EQ(stats.graphs, 200);
  EXPECT_GE(stats.grouped, 40);  // the generator really exercises grouping
}

TEST(DifferentialTest, GeneratorIsDeterministic) {
  EXPECT_EQ(RandomGraphText(17), RandomGraphText(17));
  EXPECT_NE(RandomGraphText(17), RandomGraphText(18));
}

}  // namespace
}  // namespace braid::testing
