// Compiling from views costs the packed weights and a small constant, not a second copy of the
// constants: peak RSS (VmHWM, reset through /proc/self/clear_refs) is measured around Compile.
// A binary of its own, so no other test's allocations blur the figure.
#include <fstream>
#include <sstream>
#include <string>

#include "braid.h"
#include "gtest/gtest.h"
#include "tests/status_matchers.h"

namespace braid {
namespace {

using ::braid::testing::IsOk;

// VmHWM of this process in bytes, or -1 if /proc does not say.
int64_t PeakRssBytes() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmHWM:", 0) == 0) {
      std::istringstream fields(line.substr(6));
      int64_t kib = -1;
      fields >> kib;
      return kib * 1024;
    }
  }
  return -1;
}

// Resets VmHWM to the current RSS (Linux >= 4.0).
bool ResetPeakRss() {
  std::ofstream clear("/proc/self/clear_refs");
  clear << "5";
  clear.flush();
  return static_cast<bool>(clear);
}

std::unique_ptr<Graph> LinearGraph(int64_t n, int64_t k) {
  GraphBuilder b("linear");
  Value* x = b.Input("x", {Dim::Symbol("M"), Dim::Const(k)});
  Value* w = b.Constant("w", {Dim::Const(n), Dim::Const(k)});
  auto graph = b.Build({b.Linear(x, w)});
  EXPECT_THAT(graph, IsOk());
  return *std::move(graph);
}

TEST(CompileMemoryTest, PeakRssGrowsByThePackedWeightsNotByACopyOfTheConstants) {
  ASSERT_TRUE(ResetPeakRss()) << "/proc/self/clear_refs is not writable";
  ASSERT_GT(PeakRssBytes(), 0);
  {
    // Warm up: LLVM's one-time initialisation and the thread pool are not what is measured.
    auto small = LinearGraph(16, 16);
    std::vector<float> w(16 * 16, 1.0f);
    ASSERT_THAT(CompiledGraph::Compile(*small, {}, {{"w", TensorView{DType::kF32, {16, 16}, w.data()}}}),
                IsOk());
  }
  constexpr int64_t kN = 4096, kK = 4096;  // 64 MiB of f32 weights
  const int64_t constant_bytes = kN * kK * 4;
  std::vector<float> w(kN * kK);
  for (int64_t i = 0; i < kN * kK; ++i) w[i] = static_cast<float>(i % 101) * 0.01f;  // resident
  auto graph = LinearGraph(kN, kK);

  ASSERT_TRUE(ResetPeakRss());
  const int64_t before = PeakRssBytes();
  ASSERT_OK_AND_ASSIGN(auto compiled,
                       CompiledGraph::Compile(*graph, {}, {{"w", TensorView{DType::kF32, {kN, kK}, w.data()}}}));
  const int64_t growth = PeakRssBytes() - before;
  const int64_t packed = compiled->prepacked_bytes();
  std::printf("constants %lld bytes, packed %lld bytes, peak RSS growth %lld bytes\n",
              static_cast<long long>(constant_bytes), static_cast<long long>(packed),
              static_cast<long long>(growth));
  EXPECT_GE(packed, constant_bytes);
  // The packed copy is there (the measurement sees allocations) ...
  EXPECT_GE(growth, packed * 9 / 10);
  // ... and nothing of the constants' size besides it: at most 16 MiB of compiler memory.
  EXPECT_LE(growth, packed + (int64_t{16} << 20));
}

}  // namespace
}  // namespace braid
