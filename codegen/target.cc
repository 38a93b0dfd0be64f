// Host ISA detection through LLVM.
#include "codegen/target.h"

#include "absl/strings/str_cat.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/TargetParser/Host.h"

namespace braid {

absl::StatusOr<Isa> ParseIsa(const std::string& name) {
  if (name == "auto") return Isa::kAuto;
  if (name == "avx2") return Isa::kAvx2;
  if (name == "avx512") return Isa::kAvx512;
  return absl::InvalidArgumentError(absl::StrCat("unknown ISA '", name, "' (expected auto, avx2 or avx512)"));
}

absl::StatusOr<TargetInfo> SelectTarget(Isa requested) {
  llvm::StringMap<bool> host = llvm::sys::getHostCPUFeatures();
  auto has = [&](const char* f) { auto it = host.find(f); return it != host.end() && it->second; };
  const bool host_avx2 = has("avx2") && has("fma");
  const bool host_avx512 = host_avx2 && has("avx512f");
  Isa isa = requested;
  if (isa == Isa::kAuto) isa = host_avx512 ? Isa::kAvx512 : Isa::kAvx2;
  if (isa == Isa::kAvx512 && !host_avx512) {
    return absl::FailedPreconditionError("this CPU has no AVX-512F; use --isa=avx2 or --isa=auto");
  }
  if (!host_avx2) {
    return absl::FailedPreconditionError("braid's kernels need AVX2 and FMA, which this CPU lacks");
  }
  TargetInfo target;
  target.isa = isa;
  if (isa == Isa::kAvx512) {
    target.vector_width = 16;
    target.cpu = llvm::sys::getHostCPUName().str();
    for (const auto& f : host) target.features.push_back((f.second ? "+" : "-") + f.first().str());
  } else {
    // A generic AVX2 target, so a forced AVX2 build never touches AVX-512 even on a host that
    // has it.
    target.vector_width = 8;
    target.cpu = "x86-64-v3";
  }
  return target;
}

}  // namespace braid
