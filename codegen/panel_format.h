// How a GEMM weight is laid out once packed: the one description that the packer
// (packing.h), the micro-kernels (gemm_block.h), the template's address arithmetic
// (gemm_task.h) and the buffer sizes (compiled_graph.cc) all read.
//
//   ceil(N / width) panels, one after another; panel p holds columns [p·width, p·width + width)
//   (columns past N are zero) as ceil(K / k_interleave) rows of width × k_interleave elements
//   of `dtype`: element (k, n) of the panel is at ((k / ki)·width + n)·ki + k % ki.
//
// fp32 panels have k_interleave 1 (row k is the `width` weights the micro-kernel multiplies by
// A[:, k]); dot-product instructions that consume several k per lane (bf16 pairs, int8 quads)
// need 2 and 4.
#ifndef BRAID_CODEGEN_PANEL_FORMAT_H_
#define BRAID_CODEGEN_PANEL_FORMAT_H_

#include <cstdint>

#include "ir/status_macros.h"
#include "ir/types.h"

namespace braid {

struct PanelFormat {
  DType dtype = DType::kF32;
  int width = 16;        // columns per panel (the micro-kernel's nr)
  int k_interleave = 1;  // consecutive k of one column stored together
  // After the panels, one i32 per padded column: 128·Σk w[k][n], what the u8-shifted
  // activations of the int8 dot path add to each column's sum (kI8Dot).
  bool column_sums = false;

  // K rounded up to whole interleave groups.
  int64_t PaddedK(int64_t k) const { return (k + k_interleave - 1) / k_interleave * k_interleave; }
  // Elements of one panel, and of all panels of an N-column weight.
  int64_t PanelElements(int64_t k) const { return PaddedK(k) * width; }
  int64_t Panels(int64_t n) const { return (n + width - 1) / width; }
  int64_t PackedElements(int64_t k, int64_t n) const { return Panels(n) * PanelElements(k); }
  int64_t PanelBytes(int64_t k, int64_t n) const { return PackedElements(k, n) * DTypeBytes(dtype); }
  int64_t PackedBytes(int64_t k, int64_t n) const {
    return PanelBytes(k, n) + (column_sums ? Panels(n) * width * 4 : 0);
  }
  // Elements from a panel's start to its K row `k` (a multiple of k_interleave).
  int64_t RowOffset(int64_t k) const { return k * width; }
};

// How one GEMM's block functions read their operands and multiply (the panel format follows):
enum class GemmPath {
  kF32,        // f32 activations, f32 panels, f32 FMAs
  kBf16Widen,  // f32 activations (bf16 ones widened while packed), bf16 panels widened to f32
               // in registers, f32 FMAs: any AVX2/AVX-512 host
  kBf16Dot,    // bf16 activations packed as k pairs, bf16 panels with k pairs interleaved,
               // vdpbf16ps (two products per f32 lane): AVX512-BF16 hosts, bf16 x bf16 GEMMs
  kI8Widen,    // f32 activations (i8 ones widened while packed), i8 panels widened to f32 in
               // registers (exact), f32 FMAs, the GEMM's weight scale applied to the sum in the
               // epilogue: any AVX2/AVX-512 host
  kI8Dot,      // i8 activations packed as k quads of u8 (x + 128), i8 panels with k quads
               // interleaved, vpdpbusd into i32 tiles (four products per lane, exact); the
               // epilogue subtracts the panel's column sums (128·Σk w) and converts to f32:
               // AVX512-VNNI hosts, i8 x i8 GEMMs
  kI8Bf16Dot,  // bf16 activations packed as k pairs, i8 panels with k pairs interleaved, turned
               // into bf16 (exact) — once per block into a bf16 block for the tiled micro-kernels,
               // in registers for the streaming ones — then vdpbf16ps, the weight scale applied
               // in the epilogue: AVX512-BF16 hosts, bf16 GEMMs with int8 weights
};

inline PanelFormat PanelFormatFor(GemmPath path, int width) {
  switch (path) {
    case GemmPath::kF32:
      return PanelFormat{DType::kF32, width, 1};
    case GemmPath::kBf16Widen:
      return PanelFormat{DType::kBF16, width, 1};
    case GemmPath::kBf16Dot:
      return PanelFormat{DType::kBF16, width, 2};
    case GemmPath::kI8Widen:
      return PanelFormat{DType::kI8, width, 1};
    case GemmPath::kI8Dot:
      return PanelFormat{DType::kI8, width, 4, true};
    case GemmPath::kI8Bf16Dot:
      return PanelFormat{DType::kI8, width, 2};
  }
  return PanelFormat{DType::kF32, width, 1};
}

// k per micro-kernel step (and per packed activation element group): 2 on the bf16 dot paths
// (pairs), 4 on the int8 one (quads), else 1.
inline int GemmKStep(GemmPath path) {
  return path == GemmPath::kBf16Dot || path == GemmPath::kI8Bf16Dot ? 2 : path == GemmPath::kI8Dot ? 4 : 1;
}

// How --bench and the API name a path (which code ran).
inline const char* GemmPathName(GemmPath path) {
  switch (path) {
    case GemmPath::kF32:
      return "f32";
    case GemmPath::kBf16Widen:
      return "bf16 weights widened to f32";
    case GemmPath::kBf16Dot:
      return "bf16 vdpbf16ps";
    case GemmPath::kI8Widen:
      return "i8 weights widened to f32";
    case GemmPath::kI8Dot:
      return "i8 x i8 vpdpbusd";
    case GemmPath::kI8Bf16Dot:
      return "i8 weights as bf16, vdpbf16ps";
  }
  return "?";
}

// The path of a GEMM with this activation and weight dtype on a target with (or without) the
// bf16 and int8 dot products (AVX512-BF16 and AVX512-VNNI come together: the avx512-bf16 ISA).
// bf16 activations meet bf16 weights only, i8 weights f32 or i8 activations (the type rules).
inline GemmPath GemmPathFor(DType act, DType weight, bool dot_products) {
  if (weight == DType::kF32) return GemmPath::kF32;
  if (weight == DType::kI8) {
    if (!dot_products || (act != DType::kI8 && act != DType::kBF16)) return GemmPath::kI8Widen;
    return act == DType::kI8 ? GemmPath::kI8Dot : GemmPath::kI8Bf16Dot;
  }
  BRAID_CHECK(weight == DType::kBF16, "GEMM weights are f32, bf16 or i8 in codegen (CheckCompilable)");
  return act == DType::kBF16 && dot_products ? GemmPath::kBf16Dot : GemmPath::kBf16Widen;
}

}  // namespace braid

#endif  // BRAID_CODEGEN_PANEL_FORMAT_H_
