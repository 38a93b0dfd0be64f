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
//
// The dot-product paths run too where the host has them: `bf16` (vdpbf16ps over bf16 pairs)
// and `i8` (vpdpbusd, u8 activations x i8 weights, i32 tile), against their own peaks; their
// K block is counted in k (2 or 4 per micro-kernel step), so a dot block of kc·step k holds the
// bytes and steps of an f32 block of kc.
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "benchmark/benchmark.h"
#include "codegen/gemm_block.h"
#include "codegen/jit.h"
#include "codegen/shared_runtime.h"
#include "codegen/packing.h"
#include "tools/machine_limits.h"

namespace braid {
namespace {

using BlockFn = void (*)(const void* a_packed, const void* b_panel, int64_t kb, void* tile, int64_t m_rows,
                         const void* next_b, int64_t a_kc);

constexpr GemmPath kPaths[] = {GemmPath::kF32, GemmPath::kBf16Dot, GemmPath::kI8Dot};

constexpr int kTiles = 16;

// The block functions for the host's tile configuration, JIT-compiled once per process; a
// path's function is null where the host lacks its instructions.
struct Compiled {
  std::unique_ptr<Jit> jit;
  BlockFn fn[3] = {nullptr, nullptr, nullptr};
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
    std::string names[3];
    for (int p = 0; p < 3; ++p) {
      if (kPaths[p] == GemmPath::kF32 || target->bf16_dot()) {
        names[p] = GemmTiledBlockFunction(mc, c->config, kPaths[p])->getName().str();
      }
    }
    c->jit->PrepareModule(*module);
    if (!c->jit->CompileAndAdd(*module, 1, /*optimize=*/true).ok()) return c;
    for (int p = 0; p < 3; ++p) {
      if (names[p].empty()) continue;
      auto address = c->jit->Lookup(names[p]);
      if (address.ok()) c->fn[p] = reinterpret_cast<BlockFn>(*address);
    }
    return c;
  }();
  return *compiled;
}

// This machine's 1-thread peak for a path (FMA, vdpbf16ps, vpdpbusd), measured once.
double Peak(int path) {
  static const double peaks[3] = {MeasureFmaPeakGflops(1), MeasureBf16DotPeakGflops(1), MeasureVnniPeakGops(1)};
  return peaks[path];
}

// Arguments: rows per call, K block (in f32 steps: a dot path's block holds GemmKStep times
// the k), distinct weight blocks, path (an index into kPaths).
void BM_TiledBlock(benchmark::State& state) {
  const Compiled& c = Block();
  const int path = static_cast<int>(state.range(3));
  if (c.fn[path] == nullptr) {
    state.SkipWithError("this host lacks the path's instructions (or it did not compile)");
    return;
  }
  const int step = GemmKStep(kPaths[path]);
  const int64_t rows = state.range(0), kb = state.range(1) * step, blocks = state.range(2);
  // Every element is 4 bytes per micro-kernel step whatever the path (a float, a bf16 pair, an
  // i8 quad), so the buffers are sized in floats over the block's steps.
  const int64_t block_floats = state.range(1) * c.nr;
  // Blocks `spacing` floats apart: contiguous, or 32 blocks apart as a K block of the next
  // panel lies in a packed weight (so the hardware's stream prefetch cannot follow).
  const int64_t spacing = state.range(4) == 0 ? block_floats : 32 * block_floats;
  // The packed activation holds whole micro-panels: rows rounded up to mr.
  const int64_t padded_rows = (rows + c.config.mr - 1) / c.config.mr * c.config.mr;
  AlignedBuffer a(padded_rows * state.range(1)), b(blocks * spacing), tile(kTiles * padded_rows * c.nr);
  // Small values whose bit patterns are finite in every path's reading (f32, bf16, i8).
  for (int64_t i = 0; i < a.size(); ++i) a.data()[i] = 0.001f * static_cast<float>(i % 7);
  for (int64_t i = 0; i < b.size(); ++i) b.data()[i] = 0.001f * static_cast<float>(i % 5);
  for (int64_t i = 0; i < tile.size(); ++i) tile.data()[i] = 0.0f;
  int64_t call = 0;
  const auto start = std::chrono::steady_clock::now();
  for (auto _ : state) {
    const int64_t p = call % blocks, next = (call + 1) % blocks;
    c.fn[path](a.data(), b.data() + p * spacing, kb, tile.data() + (call % kTiles) * padded_rows * c.nr,
               rows, b.data() + next * spacing, kb);
    ++call;
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const double gflops = 2.0 * rows * kb * c.nr * static_cast<double>(call) / seconds / 1e9;
  state.counters["GFLOP/s"] = gflops;
  if (Peak(path) > 0) state.counters["of_peak_%"] = 100 * gflops / Peak(path);
}

// M blocks of 48 and 96 rows with the large-M K block (128), and of 16 rows with the small-M
// one (512); each from L1 (except at kc 512, whose 128 KiB block does not fit), L2 and DRAM;
// 126 rows with kc 64 (a 32 KiB L1d's K block; two GEMMs' M block in a 1 MiB L2) and 128;
// 108 rows with blocks spread as a packed weight's K blocks of successive panels are
// (`spread`); per path (0 f32, 1 bf16, 2 i8).
void BlockShapes(benchmark::internal::Benchmark* bench) {
  for (int path = 0; path < 3; ++path) {
    for (const auto& shape : std::vector<std::vector<int64_t>>{
             {96, 128, 1}, {96, 128, 16}, {96, 128, 4096}, {126, 64, 1}, {126, 64, 16}, {126, 64, 4096}, {126, 128, 4096}, {48, 128, 16}, {48, 128, 4096}, {16, 512, 4}, {16, 512, 1024}}) {
      bench->Args({shape[0], shape[1], shape[2], path, 0});
    }
    bench->Args({108, 64, 128, path, 1});
  }
}
BENCHMARK(BM_TiledBlock)->ArgNames({"rows", "kc", "blocks", "path", "spread"})->Apply(BlockShapes)->MinTime(0.5);

}  // namespace
}  // namespace braid

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  std::printf("measured (1 thread): fp32 FMA peak %.0f GFLOP/s, vdpbf16ps %.0f GFLOP/s, vpdpbusd %.0f GOP/s\n",
              braid::Peak(0), braid::Peak(1), braid::Peak(2));
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
