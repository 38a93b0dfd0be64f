// Dynamic int8 quantisation in compiled code at the edges: quantize's rounding (ties to even),
// saturation, NaN and infinities, and quant_scale's rows (all zeros, a NaN, an infinity)
// exactly as the interpreter says; i8 x i8 GEMMs whose operands sit at -128 and 127 summed
// exactly on every path the host has (the u8 shift of the dot path included).
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#include "braid.h"
#include "gtest/gtest.h"
#include "tests/status_matchers.h"

namespace braid {
namespace {

// The ISAs this host runs: avx2 always (braid needs it), then its best (auto).
std::vector<const char*> HostIsas() { return {"avx2", "avx512", "auto"}; }

absl::StatusOr<std::unique_ptr<CompiledGraph>> CompileFor(const std::string& text, const char* isa,
                                                          const std::map<std::string, Tensor>& constants = {}) {
  auto module = ParseAndVerify("t.ir", text);
  if (!module.ok()) return module.status();
  CompileOptions options;
  auto parsed = ParseIsa(isa);
  if (!parsed.ok()) return parsed.status();
  options.isa = *parsed;
  return CompiledGraph::Compile(*module->graphs[0], options, constants);
}

Tensor I8(std::vector<int64_t> shape, const std::vector<int8_t>& values) {
  Tensor t(DType::kI8, std::move(shape));
  std::memcpy(t.raw_data(), values.data(), values.size());
  return t;
}

std::vector<int8_t> I8Values(const Tensor& t) {
  std::vector<int8_t> v(t.size());
  std::memcpy(v.data(), t.raw_data(), v.size());
  return v;
}

TEST(Int8Test, QuantizeRoundsSaturatesAndZeroesNanLikeTheInterpreter) {
  const float inf = std::numeric_limits<float>::infinity(), nan = std::numeric_limits<float>::quiet_NaN();
  // x / s with s = 1: ties both ways, the range's ends and past them, NaN, infinities,
  // subnormals, signed zeros; then the same values over s = 0 (±inf or NaN) and s = -2.
  const std::vector<float> values = {0.5f,  1.5f,  2.5f,   -0.5f, -1.5f, -2.5f, 126.5f, 127.49f, 127.5f,
                                     -127.5f, -128.5f, -129.0f, 1e30f, -1e30f, nan,  inf,    -inf,
                                     1e-45f, -0.0f, 0.0f};
  const int64_t n = static_cast<int64_t>(values.size());
  std::vector<float> x, s;
  for (float scale : {1.0f, 0.0f, -2.0f}) {
    for (float v : values) {
      x.push_back(v);
      s.push_back(scale);
    }
  }
  const int64_t count = 3 * n;
  const std::string text = absl::StrCat("graph @g(%x: f32[", count, "], %s: f32[", count,
                                        "]) {\n  %q = quantize(%x, %s)\n  return %q\n}");
  for (const char* isa : HostIsas()) {
    SCOPED_TRACE(isa);
    auto compiled = CompileFor(text, isa);
    if (!compiled.ok() && compiled.status().code() == absl::StatusCode::kFailedPrecondition) continue;  // not this host
    ASSERT_TRUE(compiled.ok()) << compiled.status();
    const std::vector<Tensor> inputs = {Tensor::F32({count}, x), Tensor::F32({count}, s)};
    ASSERT_OK_AND_ASSIGN(auto got, (*compiled)->Run(inputs, {}));
    ASSERT_OK_AND_ASSIGN(auto want, Interpret((*compiled)->graph(), inputs, {}));
    const std::vector<int8_t> g = I8Values(got[0]), w = I8Values(want[0]);
    for (int64_t i = 0; i < count; ++i) EXPECT_EQ(g[i], w[i]) << "element " << i << ": " << x[i] << " / " << s[i];
    // The rule itself, on a few: ties to even, saturation, NaN -> 0, x / 0 -> ±127 / -128.
    EXPECT_EQ(w[0], 0);
    EXPECT_EQ(w[1], 2);
    EXPECT_EQ(w[2], 2);
    EXPECT_EQ(w[8], 127);
    EXPECT_EQ(w[10], -128);
    EXPECT_EQ(w[14], 0);
    EXPECT_EQ(w[n + 0], 127);
    EXPECT_EQ(w[n + 3], -128);
    EXPECT_EQ(w[n + 19], 0);  // 0 / 0
  }
}

TEST(Int8Test, QuantScaleRowsAsInterpreted) {
  // Rows: ordinary, all zeros (scale 0, so quantize gives 0), a NaN (the scale is NaN), an
  // infinity, and -128's magnitude at the far end.
  const float inf = std::numeric_limits<float>::infinity(), nan = std::numeric_limits<float>::quiet_NaN();
  const std::vector<float> x = {1, -3, 2, 0.5f, 0, 0, 0, 0, 1, nan, 2, 3, 1, -inf, 2, 3, -127, 1, 2, 127};
  const std::string text =
      "graph @g(%x: f32[5, 4]) {\n  %s = quant_scale(%x) {axis = 1}\n  %q = quantize(%x, %s)\n  return %s, %q\n}";
  for (const char* isa : HostIsas()) {
    SCOPED_TRACE(isa);
    auto compiled = CompileFor(text, isa);
    if (!compiled.ok() && compiled.status().code() == absl::StatusCode::kFailedPrecondition) continue;
    ASSERT_TRUE(compiled.ok()) << compiled.status();
    const std::vector<Tensor> inputs = {Tensor::F32({5, 4}, x)};
    ASSERT_OK_AND_ASSIGN(auto got, (*compiled)->Run(inputs, {}));
    ASSERT_OK_AND_ASSIGN(auto want, Interpret((*compiled)->graph(), inputs, {}));
    for (int r = 0; r < 5; ++r) {
      const float gs = got[0].f32()[r], ws = want[0].f32()[r];
      if (std::isnan(ws)) {
        EXPECT_TRUE(std::isnan(gs)) << "row " << r;
      } else {
        EXPECT_EQ(gs, ws) << "row " << r;
      }
    }
    EXPECT_EQ(want[0].f32()[0], 3.0f / 127.0f);
    EXPECT_EQ(want[0].f32()[1], 0.0f);
    EXPECT_TRUE(std::isnan(want[0].f32()[2]));
    const std::vector<int8_t> q = I8Values(want[1]);
    EXPECT_EQ(I8Values(got[1]), q);
    EXPECT_EQ(q[1], -127);                                                   // -3 / (3/127)
    EXPECT_EQ(std::vector<int8_t>(q.begin() + 4, q.begin() + 8), std::vector<int8_t>(4, 0));  // a row of zeros
    EXPECT_EQ(std::vector<int8_t>(q.begin() + 8, q.begin() + 12), std::vector<int8_t>(4, 0));  // NaN scale: zeros
  }
}

TEST(Int8Test, ExtremeOperandsSumExactlyOnEveryPath) {
  // Activations and weights at -128 and 127 (the u8 shift makes -128 a 0 and 127 a 255), K not
  // a multiple of 4 and long enough that the sums pass 2^24 (where f32 accumulation would
  // round): every path must give the interpreter's exact sum, rounded once.
  const int64_t m = 7, n = 70, k = 1031;
  std::vector<int8_t> x(m * k), w(n * k);
  for (int64_t i = 0; i < m * k; ++i) x[i] = i % 3 == 0 ? int8_t{-128} : i % 3 == 1 ? int8_t{127} : int8_t(i % 7 - 3);
  for (int64_t i = 0; i < n * k; ++i) w[i] = i % 5 == 0 ? int8_t{127} : i % 5 == 1 ? int8_t{-128} : int8_t(i % 11 - 5);
  // Row 0 all -128 against a column all -128: 1031 · 16384 = 16 891 904 > 2^24.
  for (int64_t kk = 0; kk < k; ++kk) x[kk] = -128, w[kk] = -128;
  const std::string text = absl::StrCat("graph @g(%x: i8[", m, ", ", k, "], %w: const i8[", n, ", ", k,
                                        "]) {\n  %y = linear(%x, %w)\n  return %y\n}");
  const Tensor weights = I8({n, k}, w);
  for (const char* isa : HostIsas()) {
    SCOPED_TRACE(isa);
    auto compiled = CompileFor(text, isa, {{"w", weights}});
    if (!compiled.ok() && compiled.status().code() == absl::StatusCode::kFailedPrecondition) continue;
    ASSERT_TRUE(compiled.ok()) << compiled.status();
    const std::vector<Tensor> inputs = {I8({m, k}, x)};
    ASSERT_OK_AND_ASSIGN(auto got, (*compiled)->Run(inputs, {}));
    ASSERT_OK_AND_ASSIGN(auto want, Interpret((*compiled)->graph(), {inputs[0], weights}, {}));
    EXPECT_EQ(want[0].f32()[0], 16891904.0f);
    int64_t exact = 0;
    for (int64_t i = 0; i < m * n; ++i) exact += got[0].f32()[i] == want[0].f32()[i];
    if (std::string(isa) == "auto" && (*compiled)->target().bf16_dot()) {
      EXPECT_EQ(exact, m * n) << "the dot path's i32 sums are exact";
    } else {
      // Widened to f32, the sums are exact below 2^24 and within f32 rounding past it.
      for (int64_t i = 0; i < m * n; ++i) {
        EXPECT_NEAR(got[0].f32()[i], want[0].f32()[i], std::fabs(want[0].f32()[i]) * 1e-6) << "element " << i;
      }
    }
  }
}

}  // namespace
}  // namespace braid
