// Host ISA detection through LLVM; cache sizes from sysfs.
#include "codegen/target.h"

#include <fstream>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
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

namespace {

// "48K", "2M", "65536" -> bytes; 0 if malformed or outside [4 KiB, 1 GiB].
int64_t ParseSize(absl::string_view text) {
  text = absl::StripAsciiWhitespace(text);
  int64_t scale = 1;
  if (absl::ConsumeSuffix(&text, "K") || absl::ConsumeSuffix(&text, "k")) {
    scale = 1024;
  } else if (absl::ConsumeSuffix(&text, "M") || absl::ConsumeSuffix(&text, "m")) {
    scale = 1024 * 1024;
  }
  int64_t value = 0;
  if (!absl::SimpleAtoi(text, &value) || value <= 0 || value > (int64_t{1} << 30) / scale) return 0;
  value *= scale;
  return value >= 4096 ? value : 0;
}

std::string ReadLine(const std::string& path) {
  std::ifstream file(path);
  std::string line;
  std::getline(file, line);
  return std::string(absl::StripAsciiWhitespace(line));
}

}  // namespace

std::string CacheSizes::ToString() const {
  return absl::StrCat("L1d ", l1d_bytes >> 10, " KiB, L2 ", l2_bytes >> 10, " KiB (", source, ")");
}

CacheSizes HostCacheSizes() {
  CacheSizes caches;
  for (int index = 0; index < 16; ++index) {
    const std::string dir = absl::StrCat("/sys/devices/system/cpu/cpu0/cache/index", index, "/");
    const std::string level = ReadLine(dir + "level");
    if (level.empty()) break;
    const std::string type = ReadLine(dir + "type");
    const int64_t size = ParseSize(ReadLine(dir + "size"));
    if (level == "1" && type == "Data") caches.l1d_bytes = size;
    if (level == "2" && (type == "Unified" || type == "Data")) caches.l2_bytes = size;
  }
  if (caches.l1d_bytes > 0 && caches.l2_bytes > 0) {
    caches.source = "sysfs";
  } else {
    caches = CacheSizes{32 << 10, 1 << 20, "assumed: sysfs has no L1d/L2 sizes"};
  }
  return caches;
}

absl::StatusOr<CacheSizes> ParseCacheSizes(const std::string& text) {
  std::vector<std::string> parts = absl::StrSplit(text, ',');
  CacheSizes caches;
  if (parts.size() == 2) {
    caches.l1d_bytes = ParseSize(parts[0]);
    caches.l2_bytes = ParseSize(parts[1]);
  }
  if (caches.l1d_bytes == 0 || caches.l2_bytes == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot read cache sizes '", text, "': expected L1D,L2 such as 48K,2M (each 4K..1024M)"));
  }
  caches.source = "--caches";
  return caches;
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
  target.caches = HostCacheSizes();
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
