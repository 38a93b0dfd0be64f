#include "tests/bench/bench_graphs.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace braid::bench {

std::string GraphText(Workload workload, const Shape& s) {
  const std::string header = absl::StrFormat(
      "graph @bench(%%x: f32[M, %d], %%wg: const f32[%d, %d], %%wu: const f32[%d, %d]%s) -> ", s.k,
      s.n, s.k, s.n, s.k, workload == Workload::kMlp ? absl::StrFormat(", %%wd: const f32[%d, %d]", s.k, s.n) : "");
  const std::string body =
      "  %g = linear(%x, %wg)\n  %u = linear(%x, %wu)\n  %s = silu(%g)\n  %h = mul(%s, %u)\n";
  if (workload == Workload::kGateUp) return absl::StrCat(header, "(f32[M, ", s.n, "]) {\n", body, "  return %h\n}\n");
  return absl::StrCat(header, "(f32[M, ", s.k, "]) {\n", body,
                      "  %d = linear(%h, %wd)\n  %y = add(%d, %x)\n  return %y\n}\n");
}

std::string Int8GraphText(Workload workload, const Shape& s) {
  std::string text = GraphText(workload, s);
  auto replace = [&](const std::string& from, const std::string& to) {
    const size_t at = text.find(from);
    if (at == std::string::npos) {
      std::fprintf(stderr, "Int8GraphText: %s not found\n", from.c_str());
      std::exit(1);
    }
    text.replace(at, from.size(), to);
  };
  std::string dequantise;
  for (const char* w : {"wg", "wu", "wd"}) {
    if (w[1] == 'd' && workload != Workload::kMlp) continue;
    const int64_t rows = w[1] == 'd' ? s.k : s.n, cols = w[1] == 'd' ? s.n : s.k;
    replace(absl::StrFormat("%%%s: const f32[%d, %d]", w, rows, cols),
            absl::StrFormat("%%q%s: const i8[%d, %d], %%s%s: const f32[%d, 1]", w, rows, cols, w, rows));
    absl::StrAppend(&dequantise, absl::StrFormat("  %%c%s = convert(%%q%s) {to = f32}\n  %%%s = mul(%%c%s, %%s%s)\n",
                                                 w, w, w, w, w));
  }
  const size_t body = text.find("{\n") + 2;
  text.insert(body, dequantise);
  return text;
}

namespace {
// Every f32 of a graph's text (its types and conversions) made bf16.
std::string InBf16(std::string text) {
  for (size_t at = text.find("f32"); at != std::string::npos; at = text.find("f32", at)) text.replace(at, 3, "bf16");
  return text;
}
}  // namespace

std::string Bf16GraphText(Workload workload, const Shape& s) { return InBf16(GraphText(workload, s)); }

std::string Bf16Int8GraphText(Workload workload, const Shape& s) { return InBf16(Int8GraphText(workload, s)); }

std::string W8A8GraphText(Workload workload, const Shape& s) {
  const bool mlp = workload == Workload::kMlp;
  std::string text = absl::StrFormat(
      "graph @bench(%%x: f32[M, %d], %%qwg: const i8[%d, %d], %%swg: const f32[%d], %%qwu: const i8[%d, %d], "
      "%%swu: const f32[%d]%s) -> (f32[M, %d]) {\n",
      s.k, s.n, s.k, s.n, s.n, s.k, s.n,
      mlp ? absl::StrFormat(", %%qwd: const i8[%d, %d], %%swd: const f32[%d]", s.k, s.n, s.k) : "", mlp ? s.k : s.n);
  absl::StrAppend(&text,
                  "  %xs = quant_scale(%x) {axis = 1}\n  %xq = quantize(%x, %xs)\n"
                  "  %ag = linear(%xq, %qwg)\n  %au = linear(%xq, %qwu)\n"
                  "  %gx = mul(%ag, %xs)\n  %g = mul(%gx, %swg)\n  %ux = mul(%au, %xs)\n  %u = mul(%ux, %swu)\n"
                  "  %s = silu(%g)\n  %h = mul(%s, %u)\n");
  if (!mlp) return absl::StrCat(text, "  return %h\n}\n");
  return absl::StrCat(text,
                      "  %hs = quant_scale(%h) {axis = 1}\n  %hq = quantize(%h, %hs)\n  %ad = linear(%hq, %qwd)\n"
                      "  %dx = mul(%ad, %hs)\n  %d = mul(%dx, %swd)\n  %y = add(%d, %x)\n  return %y\n}\n");
}

std::map<std::string, Tensor> QuantizeWeightsPerRow(const std::map<std::string, Tensor>& weights, int scale_rank) {
  std::map<std::string, Tensor> out;
  for (const auto& [name, w] : weights) {
    const int64_t rows = w.shape()[0], cols = w.shape()[1];
    Tensor q(DType::kI8, {rows, cols});
    Tensor scale(DType::kF32, scale_rank == 2 ? std::vector<int64_t>{rows, 1} : std::vector<int64_t>{rows});
    for (int64_t r = 0; r < rows; ++r) {
      float max_abs = 0;
      for (int64_t c = 0; c < cols; ++c) max_abs = std::max(max_abs, std::fabs(w.f32()[r * cols + c]));
      const float sr = max_abs > 0 ? max_abs / 127 : 1;
      scale.f32()[r] = sr;
      for (int64_t c = 0; c < cols; ++c) {
        static_cast<int8_t*>(q.raw_data())[r * cols + c] = static_cast<int8_t>(std::lrint(w.f32()[r * cols + c] / sr));
      }
    }
    out["q" + name] = std::move(q);
    out["s" + name] = std::move(scale);
  }
  return out;
}

}  // namespace braid::bench
