// The code-generation target: which vector ISA the kernels are built for, the CPU name and
// features handed to LLVM, and the cache sizes the GEMM blocking is derived from. Chosen from LLVM's view of the host (so one binary runs correctly on
// AVX2-only and AVX-512 machines), or forced (`--isa=avx2`) so tests cover both paths.
#ifndef BRAID_CODEGEN_TARGET_H_
#define BRAID_CODEGEN_TARGET_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace braid {

// The code paths: AVX2 (8-wide), AVX-512 (16-wide), and AVX-512 with the dot products: bf16
// GEMMs use AVX512-BF16 (`vdpbf16ps`, two products per lane) and i8 x i8 GEMMs AVX512-VNNI
// (`vpdpbusd`, four) instead of widening to f32.
enum class Isa { kAuto, kAvx2, kAvx512, kAvx512Bf16 };

// The data caches one core has to itself, which the GEMM template blocks for
// (GemmTemplate::Choose): the K block from L1d, the tile buffer from L2.
struct CacheSizes {
  int64_t l1d_bytes = 0;
  int64_t l2_bytes = 0;
  std::string source;  // "cpuid", "sysfs", "--caches", or "assumed: <why>"
  std::string ToString() const;  // e.g. "L1d 48 KiB, L2 2048 KiB (cpuid)"
};

struct TargetInfo {
  Isa isa = Isa::kAvx2;
  int vector_width = 8;  // fp32 lanes per register
  std::string cpu;       // for LLVM, e.g. "znver5" or "x86-64-v3"
  std::vector<std::string> features;  // "+avx2", "-avx512f", ...
  CacheSizes caches;

  // bf16 x bf16 GEMMs use vdpbf16ps and i8 x i8 ones vpdpbusd (Isa::kAvx512Bf16).
  bool bf16_dot() const { return isa == Isa::kAvx512Bf16; }
  const char* IsaName() const {
    return isa == Isa::kAvx512Bf16 ? "avx512-bf16" : isa == Isa::kAvx512 ? "avx512" : "avx2";
  }
};

absl::StatusOr<Isa> ParseIsa(const std::string& name);  // auto | avx2 | avx512 | avx512-bf16

// The level-1 data and level-2 caches of the core this runs on, from CPUID (leaf 4 on Intel,
// 0x8000001D or 0x80000005/6 on AMD), else from /sys/devices/system/cpu/cpu0/cache. Where
// neither says, a common small configuration (32 KiB, 1 MiB), saying so in `source`.
CacheSizes HostCacheSizes();
// "L1D,L2" sizes with an optional K or M suffix (powers of 1024), e.g. "48K,2M", each from
// 4 KiB to 1 GiB.
absl::StatusOr<CacheSizes> ParseCacheSizes(const std::string& text);

// The target for `requested` on this host, with the host's caches. kAuto picks AVX-512 when the
// host has AVX512F, else AVX2; asking for an ISA the host lacks is an error (the code would not
// run).
absl::StatusOr<TargetInfo> SelectTarget(Isa requested);

}  // namespace braid

#endif  // BRAID_CODEGEN_TARGET_H_
