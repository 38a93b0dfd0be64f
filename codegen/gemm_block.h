// The block functions the GEMM templates call: register-blocked micro-kernels over one K block,
// emitted once per tile configuration and shared by every GEMM of the module.
//
// - The tiled block: every micro-tile of an M block against one packed weight panel, while it
//   prefetches into L2 the weight block the next call reads (the compute-bound shape).
// - The streaming block, for decoding (a single micro-tile, M <= mr): one micro-tile against
//   several panels of one weight at once, so the core keeps several weight streams in flight
//   (the GEMM there only streams weights; one stream at a time leaves DRAM bandwidth unused).
#ifndef BRAID_CODEGEN_GEMM_BLOCK_H_
#define BRAID_CODEGEN_GEMM_BLOCK_H_

#include <string>

#include "codegen/emit_util.h"
#include "codegen/panel_format.h"

namespace braid {

struct TileConfig {
  int mr = 6;    // micro-kernel rows
  int nv = 4;    // vectors per micro-kernel row: nr = nv * vector width
  int mc = 96;   // rows per task (a multiple of mr)
  int kc = 128;  // K block
  std::string why;  // why the template chose this configuration (for --bench and the API)
  std::string ToString(int vector_width) const;
};

// The packed-weight panels the micro-kernels of `cfg` read on a target with this vector width
// (floats per vector): nr = nv · vector width columns, one k per row, elements in the weight's
// storage dtype (f32, or bf16 widened in registers).
PanelFormat GemmPanelFormat(const TileConfig& cfg, int vector_width, GemmPath path = GemmPath::kF32);

// Each block function exists per GemmPath (panel_format.h): f32; bf16 panels widened to f32 as
// they are loaded (A f32); or, on AVX512-BF16 hosts, bf16 k pairs of A and B multiplied by
// vdpbf16ps (A packed as pairs, `kb` counting k, odd ones padded with zeros). The tile and the
// accumulation are f32 on every path.

// `void block(ptr a_packed, ptr b_panel, i64 kb, ptr tile, i64 m_rows, ptr next_b, i64 a_kc)`:
// tile[m_rows x nr] (row stride nr) += A[m_rows x kb] * B[kb x nr], A packed by PackActivation
// (micro-panels of `mr` interleaved rows, `mr`·a_kc floats apart), B one K block of a packed
// panel; meanwhile it prefetches `next_b`, the block the next call reads (any address: a
// prefetch never faults).
llvm::Function* GemmTiledBlockFunction(ModuleContext& mc, const TileConfig& cfg, GemmPath path);

// `void run(ptr a_packed, ptr b_panel, i64 k, ptr tile, i64 m_rows, ptr after, i64 kc)`: the
// tiled block over all of K in blocks of `kc`, back to back: tile[m_rows x nr] += A[m_rows x k]
// * B[k x nr], A packed for all of K (micro-panel stride mr·k), B a whole packed panel; each
// block call prefetches the next block of the panel, the last one `after` (the panel read next).
llvm::Function* GemmPanelRunFunction(ModuleContext& mc, const TileConfig& cfg, GemmPath path);

// `void block(ptr a_packed, ptr b_panel, i64 b_stride, i64 kb, ptr tile, i64 tile_stride,
//             i64 m_rows, i64 panels)`, m_rows <= mr: for p < panels,
// tile[p·tile_stride : +m_rows x nr] += A[m_rows x kb] * (b_panel + p·b_stride)[kb x nr],
// up to four panels in one pass over k (fewer as m_rows grows: at most 16 accumulators on
// AVX-512, 8 on AVX2).
llvm::Function* GemmStreamingBlockFunction(ModuleContext& mc, const TileConfig& cfg, GemmPath path);

// `void (const int8_t* src, i64 count, float* dst)`: dst[i] = src[i] for i < count (a multiple
// of the vector width; src and dst aligned to it): an int8 weight block widened once for the
// tiled path, whose micro-tiles then read f32.
llvm::Function* GemmWidenI8BlockFunction(ModuleContext& mc);
// braid_i8_block_to_bf16(src, count, dst): `count` i8 weights (a whole number of panel rows of k
// pairs) as bf16 (exact), layout kept: an int8 block made a bf16-pair block once per M block.
llvm::Function* GemmI8ToBf16BlockFunction(ModuleContext& mc);

}  // namespace braid

#endif  // BRAID_CODEGEN_GEMM_BLOCK_H_
