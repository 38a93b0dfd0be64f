// Weight prepacking: a GEMM's weight rearranged into the micro-kernel's panels, so the inner
// loop reads B with aligned, contiguous vector loads. The layout is a PanelFormat
// (panel_format.h); this packer writes f32 panels, or bf16 ones from a bf16 weight
// (k_interleave 1). `linear` weights are
// w[N, K] (transposed while packing); `matmul` weights are b[K, N].
#ifndef BRAID_CODEGEN_PACKING_H_
#define BRAID_CODEGEN_PACKING_H_

#include <cstdint>
#include <cstdlib>
#include <memory>
#include <vector>

#include "codegen/panel_format.h"
#include "ir/op_table.h"

namespace braid {

// 64-byte aligned float storage.
class AlignedBuffer {
 public:
  AlignedBuffer() = default;
  explicit AlignedBuffer(int64_t floats);
  float* data() const { return data_.get(); }
  int64_t size() const { return size_; }

 private:
  struct Free {
    void operator()(float* p) const { std::free(p); }
  };
  std::unique_ptr<float[], Free> data_;
  int64_t size_ = 0;
};

// Packs panel `p` (columns [p·width, p·width + width)) of the weight into `out` (the whole
// packed buffer, format.PackedElements(k, n) floats); panels are independent, so callers may
// pack them in parallel.
void PackPanel(OpKind kind, const PanelFormat& format, const float* w, int64_t k, int64_t n, int64_t p,
               float* out);
void PackWeights(OpKind kind, const PanelFormat& format, const float* w, int64_t k, int64_t n, float* out);
// The same for a 16-bit weight (bf16 bits) into 16-bit panels (format.dtype bf16): the weight
// keeps its storage, half the bytes of f32 panels; k_interleave 1 (the micro-kernels widen it
// as they load) or 2 (k pairs side by side for vdpbf16ps, K padded to pairs with zeros).
void PackPanel16(OpKind kind, const PanelFormat& format, const uint16_t* w, int64_t k, int64_t n, int64_t p,
                 uint16_t* out);
// The same for an int8 weight into int8 panels (format.dtype i8): a quarter of f32's bytes;
// k_interleave 1 (the micro-kernels widen it as they load and the GEMM's scale restores its
// range) or 4 (k quads for vpdpbusd, with the column sums after the panels when the format
// asks for them).
void PackPanel8(OpKind kind, const PanelFormat& format, const int8_t* w, int64_t k, int64_t n, int64_t p,
                int8_t* out);

// Row counts of the micro-kernel variants for micro-tiles of `mr` rows, ascending: powers of
// two below mr, then mr. A micro-tile with r rows left runs the smallest variant >= r.
std::vector<int> MicroKernelRowVariants(int mr);
// The variant a micro-tile with `rows_left` rows runs: the smallest of them >= rows_left (mr
// when rows_left >= mr). Computed without allocating: the packer asks once per K block.
int MicroKernelRowVariant(int64_t rows_left, int mr);

// Packs rows [m0, m0 + m_rows) x columns [k0, k0 + kb) of the activation `a` (row stride lda)
// into micro-panels of `mr` interleaved rows: out[ms / mr][kk][i] = a[m0 + ms + i][k0 + kk],
// micro-panel stride mr·kc floats. Only the rows the micro-kernel variant will read are
// written; rows past m_rows repeat the last valid row.
void PackActivation(const float* a, int64_t lda, int64_t m0, int64_t m_rows, int64_t k0, int64_t kb,
                    int mr, int kc, float* out);

// For the bf16 dot path: the same rows as bf16 k pairs, out[ms·kc + ((kk / 2)·mr + i)·2 + kk % 2]
// (uint16 units, kc even), an odd kb's last pair completed with zero.
void PackActivationBf16Pairs(const uint16_t* a, int64_t lda, int64_t m0, int64_t m_rows, int64_t k0, int64_t kb,
                             int mr, int kc, uint16_t* out);

// For the int8 dot path: an i8 activation's rows as k quads of u8 (x + 128),
// out[ms·kc + ((kk / 4)·mr + i)·4 + kk % 4] (bytes, kc a multiple of 4), a partial last quad
// completed with 128 (zero).
void PackActivationU8Quads(const int8_t* a, int64_t lda, int64_t m0, int64_t m_rows, int64_t k0, int64_t kb, int mr,
                           int kc, uint8_t* out);

// An i8 activation widened (exactly) to the f32 micro-panels: i8 x i8 GEMMs off the dot path.
void PackActivationI8(const int8_t* a, int64_t lda, int64_t m0, int64_t m_rows, int64_t k0, int64_t kb, int mr, int kc,
                      float* out);

// The same from a bf16 activation, widened (exactly) to the f32 micro-panels.
void PackActivationBf16(const uint16_t* a, int64_t lda, int64_t m0, int64_t m_rows, int64_t k0, int64_t kb,
                        int mr, int kc, float* out);

}  // namespace braid

// Called by generated code to pack an activation block (see PackActivation).
extern "C" void braid_pack_activation(const float* a, int64_t lda, int64_t m0, int64_t m_rows,
                                      int64_t k0, int64_t kb, int64_t mr, int64_t kc, float* out);
extern "C" void braid_pack_activation_u8_quads(const int8_t* a, int64_t lda, int64_t m0, int64_t m_rows, int64_t k0,
                                               int64_t kb, int64_t mr, int64_t kc, uint8_t* out);
extern "C" void braid_pack_activation_i8(const int8_t* a, int64_t lda, int64_t m0, int64_t m_rows, int64_t k0,
                                         int64_t kb, int64_t mr, int64_t kc, float* out);
extern "C" void braid_pack_activation_bf16_pairs(const uint16_t* a, int64_t lda, int64_t m0, int64_t m_rows,
                                                 int64_t k0, int64_t kb, int64_t mr, int64_t kc, uint16_t* out);
extern "C" void braid_pack_activation_bf16(const uint16_t* a, int64_t lda, int64_t m0, int64_t m_rows,
                                           int64_t k0, int64_t kb, int64_t mr, int64_t kc, float* out);

// Called by generated code to pack a weight computed at run time (not a constant) just before
// the kernel that reads it. `transposed` is 1 for linear weights w[N, K], 0 for matmul b[K, N].
extern "C" void braid_pack_weights(int32_t transposed, const float* w, float* out, int64_t k,
                                   int64_t n, int64_t nr);
// The same for a bf16 weight, into bf16 panels.
extern "C" void braid_pack_weights_bf16(int32_t transposed, const uint16_t* w, uint16_t* out, int64_t k,
                                        int64_t n, int64_t nr);
extern "C" void braid_pack_weights_bf16_pairs(int32_t transposed, const uint16_t* w, uint16_t* out, int64_t k,
                                              int64_t n, int64_t nr);

#endif  // BRAID_CODEGEN_PACKING_H_
