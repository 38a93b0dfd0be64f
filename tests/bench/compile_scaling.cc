// Compile-time scaling: the `--O` pipeline plus scheduling on N stacked LLaMA MLP blocks
// (tests/bench/mlp_stack.h), N = 1, 8, 32 by default (or the N given as arguments). Prints one
// line per N with the median over several runs; the times should grow about linearly in N.
//
//   bazel run -c opt //tests/bench:compile_scaling [-- 1 8 32 128]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "ir/graph.h"
#include "passes/pipeline.h"
#include "scheduler/fusion.h"
#include "tests/bench/mlp_stack.h"

namespace braid {
namespace {

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

int Run(const std::vector<int>& sizes) {
  using Clock = std::chrono::steady_clock;
  auto ms = [](Clock::time_point a, Clock::time_point b) {
    return std::chrono::duration<double, std::milli>(b - a).count();
  };
  for (int n : sizes) {
    std::vector<double> pipeline_ms, schedule_ms;
    size_t nodes = 0, groups = 0, kernels = 0;
    const int reps = n <= 8 ? 21 : 7;
    for (int rep = 0; rep < reps; ++rep) {
      auto graph = BuildMlpStack(n);  // not timed
      if (!graph.ok()) {
        std::fprintf(stderr, "building the graph: %s\n", graph.status().ToString().c_str());
        return 1;
      }
      const auto t0 = Clock::now();
      auto changed = RunDefaultPipeline(**graph);
      const auto t1 = Clock::now();
      if (!changed.ok()) {
        std::fprintf(stderr, "pipeline: %s\n", changed.status().ToString().c_str());
        return 1;
      }
      auto schedule = BuildSchedule(**graph);
      const auto t2 = Clock::now();
      if (!schedule.ok()) {
        std::fprintf(stderr, "schedule: %s\n", schedule.status().ToString().c_str());
        return 1;
      }
      pipeline_ms.push_back(ms(t0, t1));
      schedule_ms.push_back(ms(t1, t2));
      nodes = (*graph)->nodes().size();
      groups = std::count_if((*graph)->nodes().begin(), (*graph)->nodes().end(),
                             [](const auto& node) { return node->op() == OpKind::kGroupedGemm; });
      kernels = schedule->kernels.size();
    }
    const double p = Median(pipeline_ms), s = Median(schedule_ms);
    std::printf("N=%-4d nodes=%-5zu groups=%-4zu kernels=%-4zu O_ms=%.3f schedule_ms=%.3f total_ms=%.3f\n",
                n, nodes, groups, kernels, p, s, p + s);
  }
  return 0;
}

}  // namespace
}  // namespace braid

int main(int argc, char** argv) {
  std::vector<int> sizes;
  for (int i = 1; i < argc; ++i) sizes.push_back(std::atoi(argv[i]));
  if (sizes.empty()) sizes = {1, 8, 32};
  return braid::Run(sizes);
}
