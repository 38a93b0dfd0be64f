// For every example and test graph, before and after the default pipeline: executing the
// schedule kernel by kernel (with and without fusion), honouring its buffer plan, gives the
// interpreter's numbers; and the schedule text is deterministic.
#include <iostream>

#include "gtest/gtest.h"
#include "ir/interpreter.h"
#include "ir/parser.h"
#include "passes/pipeline.h"
#include "scheduler/fusion.h"
#include "scheduler/schedule_executor.h"
#include "tests/graph_corpus.h"

namespace braid {
namespace {

TEST(ScheduleEquivalenceTest, ScheduledExecutionMatchesTheInterpreter) {
  int checked = 0, fused_kernels = 0, eliminated = 0;
  for (const testing::CorpusEntry& entry : testing::LoadCorpus()) {
    for (bool optimize : {false, true}) {
      Module module = *ParseModule(entry.file, entry.text);
      if (optimize) {
        for (auto& g : module.graphs) ASSERT_TRUE(RunDefaultPipeline(*g).ok());
      }
      for (const auto& graph : module.graphs) {
        const std::string where = entry.file + " @" + graph->name() + (optimize ? " (--O)" : "");
        const DimBindings dims = testing::SmallDims(*graph);
        const std::vector<Tensor> inputs = testing::RandomInputs(*graph, dims);
        auto want = Interpret(*graph, inputs, dims);
        ASSERT_TRUE(want.ok()) << where << ": " << want.status();
        for (bool fuse : {true, false}) {
          ScheduleOptions options;
          options.fuse_epilogues = options.fuse_pointwise = fuse;
          auto schedule = BuildSchedule(*graph, options);
          ASSERT_TRUE(schedule.ok()) << where << ": " << schedule.status();
          auto got = ExecuteSchedule(*schedule, inputs, dims);
          ASSERT_TRUE(got.ok()) << where << ": " << got.status();
          testing::ExpectNear(*want, *got, where + (fuse ? " fused" : " unfused"), 0.0f);
          auto again = BuildSchedule(*graph, options);
          EXPECT_EQ(PrintSchedule(*schedule, dims), PrintSchedule(*again, dims)) << where;
          if (fuse) {
            eliminated += schedule->eliminated.size();
            for (const Kernel& k : schedule->kernels) fused_kernels += k.nodes.size() > 1;
          } else {
            for (const Kernel& k : schedule->kernels) {
              EXPECT_TRUE(k.epilogues.empty()) << where;
            }
          }
        }
        ++checked;
      }
    }
  }
  std::cout << "checked " << checked << " graphs; " << fused_kernels << " fused kernels, "
            << eliminated << " values never materialised\n";
  EXPECT_GE(checked, 40);
  EXPECT_GE(eliminated, 20);
}

}  // namespace
}  // namespace braid
