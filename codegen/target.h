// The code-generation target: which vector ISA the kernels are built for, and the CPU name and
// features handed to LLVM. Chosen from LLVM's view of the host (so one binary runs correctly on
// AVX2-only and AVX-512 machines), or forced (`--isa=avx2`) so tests cover both paths.
#ifndef BRAID_CODEGEN_TARGET_H_
#define BRAID_CODEGEN_TARGET_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace braid {

enum class Isa { kAuto, kAvx2, kAvx512 };

struct TargetInfo {
  Isa isa = Isa::kAvx2;
  int vector_width = 8;  // fp32 lanes per register
  std::string cpu;       // for LLVM, e.g. "znver5" or "x86-64-v3"
  std::vector<std::string> features;  // "+avx2", "-avx512f", ...

  const char* IsaName() const { return isa == Isa::kAvx512 ? "avx512" : "avx2"; }
};

absl::StatusOr<Isa> ParseIsa(const std::string& name);  // auto | avx2 | avx512

// The target for `requested` on this host. kAuto picks AVX-512 when the host has AVX512F, else
// AVX2; asking for an ISA the host lacks is an error (the code would not run).
absl::StatusOr<TargetInfo> SelectTarget(Isa requested);

}  // namespace braid

#endif  // BRAID_CODEGEN_TARGET_H_
