// The tiled block function (codegen/gemm_block.h) in isolation: how close braid's inner GEMM
// gets to the FMA peak when its weight blocks come from L1/L2 and when they stream from DRAM,
// with everything else (packing, epilogue, the task queue) left out. It splits the gap between
// braid's large-M GEMM and the peak into the block function's share and the rest.
//
//   bazel run -c opt //tests/bench:block_bench
//
// Each call computes `rows` rows (a whole M block) against one K block of a 64-wide weight
// panel, reading the packed activation and tile from cache and prefetching the next call's
// block like the GEMM template does. `blocks` distinct weight blocks are cycled: 1 keeps the
// block in L1, 16 (512 KiB) in L2, 4096 (128 MiB) streams them from DRAM. The tile cycles over
// 16 M blocks' worth, as a task's eight panels of two GEMMs do.
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>

#include "benchmark/benchmark.h"
#include "codegen/gemm_block.h"
#include "codegen/jit.h"
#include "codegen/shared_runtime.h"
#include "codegen/packing.h"
#include "tools/machine_limits.h"

namespace braid {
namespace {

using BlockFn = void (*)(const float* a_packed, const float* b_panel, int64_t kb, float* tile,
                         int64_t m_rows, const float* next_b, int64_t a_kc);

constexpr int kTiles = 16;

// The block function for the host's tile configuration, JIT-compiled once per process.
struct Compiled {
  std::unique_ptr<Jit> jit;
  BlockFn fn = nullptr;
  TileConfig config;
  int nr = 0;
};

const Compiled& Block() {
  static const Compiled* compiled = [] {
    auto* c = new Compiled;
    auto target = SelectTarget(Isa::kAuto);
    if (!target.ok()) return c;
    auto runtime = Runtime::Default();
    if (!runtime.ok()) return c;
    auto jit = Jit::Create((*runtime)->lljit(), *target);
    if (!jit.ok()) return c;
    c->jit = std::move(*jit);
    llvm::LLVMContext context;
    auto module = std::make_unique<llvm::Module>("block_bench", context);
    BufferPlan plan;
    Schedule schedule;
    ModuleContext mc{*module, *target, plan, schedule};
    // The GEMM template's choice (GemmTemplate::Choose): 6 x 4 vectors, kc 128.
    c->config = TileConfig{6, target->vector_width == 16 ? 4 : 2, 96, 128};
    c->nr = GemmPanelFormat(c->config, target->vector_width).width;
    const std::string name = GemmTiledBlockFunction(mc, c->config, GemmPath::kF32)->getName().str();
    c->jit->PrepareModule(*module);
    if (!c->jit->CompileAndAdd(*module, 1, /*optimize=*/true).ok()) return c;
    auto address = c->jit->Lookup(name);
    if (address.ok()) c->fn = reinterpret_cast<BlockFn>(*address);
    return c;
  }();
  return *compiled;
}

// This machine's 1-thread FMA peak, measured once before the benchmarks run.
double FmaPeak() {
  static const double peak = MeasureFmaPeakGflops(1);
  return peak;
}

// Arguments: rows per call, K block, distinct weight blocks.
void BM_TiledBlock(benchmark::State& state) {
  const Compiled& c = Block();
  if (c.fn == nullptr) {
    state.SkipWithError("could not compile the block function");
    return;
  }
  const int64_t rows = state.range(0), kb = state.range(1), blocks = state.range(2);
  const int64_t block_floats = kb * c.nr;
  // The packed activation holds whole micro-panels: rows rounded up to mr.
  const int64_t padded_rows = (rows + c.config.mr - 1) / c.config.mr * c.config.mr;
  AlignedBuffer a(padded_rows * kb), b(blocks * block_floats), tile(kTiles * padded_rows * c.nr);
  for (int64_t i = 0; i < a.size(); ++i) a.data()[i] = 0.001f * static_cast<float>(i % 7);
  for (int64_t i = 0; i < b.size(); ++i) b.data()[i] = 0.001f * static_cast<float>(i % 5);
  for (int64_t i = 0; i < tile.size(); ++i) tile.data()[i] = 0.0f;
  int64_t call = 0;
  const auto start = std::chrono::steady_clock::now();
  for (auto _ : state) {
    const int64_t p = call % blocks, next = (call + 1) % blocks;
    c.fn(a.data(), b.data() + p * block_floats, kb, tile.data() + (call % kTiles) * padded_rows * c.nr, rows,
         b.data() + next * block_floats, kb);
    ++call;
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const double gflops = 2.0 * rows * kb * c.nr * static_cast<double>(call) / seconds / 1e9;
  state.counters["GFLOP/s"] = gflops;
  if (FmaPeak() > 0) state.counters["of_peak_%"] = 100 * gflops / FmaPeak();
}

// M blocks of 48 and 96 rows with the large-M K block (128), and of 16 rows with the small-M
// one (512); each from L1 (except at kc 512, whose 128 KiB block does not fit), L2 and DRAM.
BENCHMARK(BM_TiledBlock)
    ->ArgNames({"rows", "kc", "blocks"})
    ->Args({96, 128, 1})
    ->Args({96, 128, 16})
    ->Args({96, 128, 4096})
    ->Args({48, 128, 16})
    ->Args({48, 128, 4096})
    ->Args({16, 512, 4})
    ->Args({16, 512, 1024})
    ->MinTime(0.5);

}  // namespace
}  // namespace braid

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  std::printf("measured: fp32 FMA peak %.0f GFLOP/s (1 thread)\n", braid::FmaPeak());
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
