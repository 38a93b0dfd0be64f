// Host ISA detection through LLVM; cache sizes from CPUID (sysfs where CPUID says nothing).
#include "codegen/target.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

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
  if (name == "avx512-bf16") return Isa::kAvx512Bf16;
  return absl::InvalidArgumentError(
      absl::StrCat("unknown ISA '", name, "' (expected auto, avx2, avx512 or avx512-bf16)"));
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

// L1d and L2 from the CPU's deterministic cache parameters: CPUID leaf 4 (Intel), else leaf
// 0x8000001D (AMD with topology extensions), else AMD's legacy leaves 0x80000005/6. Zero where
// the CPU does not say. On the project's AMD VMs /sys/devices/system/cpu/cpu0/cache is missing,
// which is why CPUID comes first.
CacheSizes CpuidCacheSizes() {
  CacheSizes caches;
#if defined(__x86_64__) || defined(__i386__)
  unsigned a = 0, b = 0, c = 0, d = 0;
  auto walk = [&](unsigned leaf) {
    for (unsigned index = 0; index < 16; ++index) {
      __cpuid_count(leaf, index, a, b, c, d);
      const unsigned type = a & 31;  // 0: no more caches, 1: data, 2: instruction, 3: unified
      if (type == 0) break;
      const unsigned level = (a >> 5) & 7;
      const int64_t ways = ((b >> 22) & 0x3ff) + 1, partitions = ((b >> 12) & 0x3ff) + 1;
      const int64_t line = (b & 0xfff) + 1, sets = int64_t{c} + 1;
      const int64_t bytes = ways * partitions * line * sets;
      if (level == 1 && type == 1) caches.l1d_bytes = bytes;
      if (level == 2 && type != 2) caches.l2_bytes = bytes;
    }
  };
  const unsigned max_leaf = __get_cpuid_max(0, nullptr);
  const unsigned max_extended = __get_cpuid_max(0x80000000, nullptr);
  if (max_leaf >= 4) walk(4);
  if ((caches.l1d_bytes == 0 || caches.l2_bytes == 0) && max_extended >= 0x8000001D) walk(0x8000001D);
  if (caches.l1d_bytes == 0 && max_extended >= 0x80000005) {
    __cpuid(0x80000005, a, b, c, d);
    caches.l1d_bytes = int64_t{c >> 24} << 10;  // ECX[31:24]: L1d KiB (AMD; 0 on Intel)
  }
  if (caches.l2_bytes == 0 && max_extended >= 0x80000006) {
    __cpuid(0x80000006, a, b, c, d);
    caches.l2_bytes = int64_t{c >> 16} << 10;  // ECX[31:16]: L2 KiB
  }
#endif
  return caches;
}

// The same from /sys/devices/system/cpu/cpu0/cache; zero where it is missing.
CacheSizes SysfsCacheSizes() {
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
  return caches;
}

}  // namespace

std::string CacheSizes::ToString() const {
  return absl::StrCat("L1d ", l1d_bytes >> 10, " KiB, L2 ", l2_bytes >> 10, " KiB (", source, ")");
}

CacheSizes HostCacheSizes() {
  CacheSizes caches = CpuidCacheSizes();
  if (caches.l1d_bytes > 0 && caches.l2_bytes > 0) {
    caches.source = "cpuid";
    return caches;
  }
  caches = SysfsCacheSizes();
  if (caches.l1d_bytes > 0 && caches.l2_bytes > 0) {
    caches.source = "sysfs";
    return caches;
  }
  return CacheSizes{32 << 10, 1 << 20, "assumed: neither CPUID nor sysfs gives L1d/L2 sizes"};
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
  // The dot-product level: AVX512-BF16 (vdpbf16ps) and AVX512-VNNI (vpdpbusd) together, as
  // every CPU with the first has (Cooper Lake, Sapphire Rapids, Zen 4 and 5).
  const bool host_bf16 = host_avx512 && has("avx512bf16") && has("avx512vnni");
  Isa isa = requested;
  if (isa == Isa::kAuto) isa = host_bf16 ? Isa::kAvx512Bf16 : host_avx512 ? Isa::kAvx512 : Isa::kAvx2;
  if ((isa == Isa::kAvx512 || isa == Isa::kAvx512Bf16) && !host_avx512) {
    return absl::FailedPreconditionError("this CPU has no AVX-512F; use --isa=avx2 or --isa=auto");
  }
  // LLVM aborts the process on an instruction the target lacks: never ask for vdpbf16ps
  // without the host's AVX512-BF16.
  if (isa == Isa::kAvx512Bf16 && !host_bf16) {
    return absl::FailedPreconditionError(
        "this CPU lacks AVX512-BF16 or AVX512-VNNI (the avx512-bf16 level uses both); use --isa=avx512 or --isa=auto");
  }
  if (!host_avx2) {
    return absl::FailedPreconditionError("braid's kernels need AVX2 and FMA, which this CPU lacks");
  }
  TargetInfo target;
  target.isa = isa;
  target.caches = HostCacheSizes();
  if (isa == Isa::kAvx512 || isa == Isa::kAvx512Bf16) {
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
