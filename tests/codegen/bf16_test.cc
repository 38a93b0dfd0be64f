// bf16 in compiled code at the edges: the rounding of f32 to bf16 (convert) bit for bit against
// ir/scalar_convert.h, and NaN, infinities and subnormals flowing through pointwise ops and
// GEMMs exactly as the interpreter says.
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#include "braid.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "ir/scalar_convert.h"
#include "tests/status_matchers.h"

namespace braid {
namespace {

absl::StatusOr<std::unique_ptr<CompiledGraph>> CompileText(const std::string& text,
                                                           const std::map<std::string, Tensor>& constants = {}) {
  auto module = ParseAndVerify("t.ir", text);
  if (!module.ok()) return module.status();
  return CompiledGraph::Compile(*module->graphs[0], {}, constants);
}

Tensor Bf16(std::vector<int64_t> shape, const std::vector<uint16_t>& bits) {
  Tensor t(DType::kBF16, std::move(shape));
  std::memcpy(t.raw_data(), bits.data(), bits.size() * 2);
  return t;
}

std::vector<uint16_t> BitsOf(const Tensor& t) {
  std::vector<uint16_t> bits(t.size());
  std::memcpy(bits.data(), t.raw_data(), bits.size() * 2);
  return bits;
}

// f32 values whose rounding to bf16 is delicate: ties both ways, the largest finite values
// (which round to infinity), subnormals, signed zeros, infinities, NaNs with payloads.
std::vector<float> EdgeValues() {
  std::vector<uint32_t> bits = {
      0x3f808000u, 0x3f818000u, 0x3f807fffu, 0x3f808001u,  // ties to even, just below/above
      0x7f7fffffu, 0xff7fffffu, 0x7f7f7fffu,               // max finite: to inf; just below: stays
      0x00000001u, 0x00008000u, 0x00018000u, 0x807fffffu,  // subnormals
      0x00000000u, 0x80000000u, 0x7f800000u, 0xff800000u,  // zeros, infinities
      0x7fc00000u, 0x7f800001u, 0xffc12345u, 0x7fbfffffu,  // NaNs (quiet, signalling, payloads)
  };
  std::vector<float> values;
  for (uint32_t b : bits) {
    float f;
    std::memcpy(&f, &b, 4);
    values.push_back(f);
  }
  return values;
}

TEST(Bf16Test, ConvertRoundsLikeTheInterpreterBitForBit) {
  const std::vector<float> values = EdgeValues();
  const int64_t n = static_cast<int64_t>(values.size());
  for (const char* isa : {"avx2", "auto"}) {
    SCOPED_TRACE(isa);
    auto module = ParseAndVerify("t.ir", absl::StrCat("graph @g(%x: f32[", n, "]) {\n  %y = convert(%x) : bf16[", n,
                                                      "]\n  return %y\n}"));
    ASSERT_TRUE(module.ok()) << module.status();
    CompileOptions options;
    ASSERT_OK_AND_ASSIGN(options.isa, ParseIsa(isa));
    ASSERT_OK_AND_ASSIGN(auto compiled, CompiledGraph::Compile(*module->graphs[0], options, std::map<std::string, Tensor>{}));
    ASSERT_OK_AND_ASSIGN(auto out, compiled->Run({Tensor::F32({n}, values)}, {}));
    const std::vector<uint16_t> got = BitsOf(out[0]);
    for (int64_t i = 0; i < n; ++i) {
      EXPECT_EQ(got[i], F32ToBf16(values[i])) << "element " << i;
    }
  }
}

TEST(Bf16Test, SpecialValuesFlowThroughPointwiseOpsAsInterpreted) {
  // Every bf16 class as both operands: bits of NaN, +-inf, +-0, subnormals, normals.
  const std::vector<uint16_t> specials = {0x7fc0, 0xffc1, 0x7f80, 0xff80, 0x0000, 0x8000, 0x0001,
                                          0x807f, 0x3f80, 0xbfc0, 0x7f7f, 0x0080};
  const int64_t n = static_cast<int64_t>(specials.size());
  std::vector<uint16_t> a, b;
  for (uint16_t x : specials) {
    for (uint16_t y : specials) {
      a.push_back(x);
      b.push_back(y);
    }
  }
  const int64_t count = n * n;
  for (const char* op : {"add", "sub", "mul", "div", "maximum"}) {
    SCOPED_TRACE(op);
    const std::string text = absl::StrCat("graph @g(%a: bf16[", count, "], %b: bf16[", count, "]) {\n  %y = ", op,
                                          "(%a, %b)\n  %z = relu(%y)\n  return %y, %z\n}");
    ASSERT_OK_AND_ASSIGN(auto compiled, CompileText(text));
    const std::vector<Tensor> inputs = {Bf16({count}, a), Bf16({count}, b)};
    ASSERT_OK_AND_ASSIGN(auto got, compiled->Run(inputs, {}));
    ASSERT_OK_AND_ASSIGN(auto want, Interpret(compiled->graph(), inputs, {}));
    for (int o = 0; o < 2; ++o) {
      const std::vector<uint16_t> g = BitsOf(got[o]), w = BitsOf(want[o]);
      for (int64_t i = 0; i < count; ++i) {
        const float gf = Bf16ToF32(g[i]), wf = Bf16ToF32(w[i]);
        if (std::isnan(wf)) {
          EXPECT_TRUE(std::isnan(gf)) << "output " << o << " element " << i;
        } else {
          // One op, one rounding on both sides: the same bits.
          EXPECT_EQ(g[i], w[i]) << "output " << o << " element " << i << ": " << gf << " vs " << wf;
        }
      }
    }
  }
}

TEST(Bf16Test, NanAndInfinityInAGemmReachOnlyTheirRowsAndColumns) {
  // x[4, 8] · w[5, 8]ᵀ in bf16: a NaN in row 1 of x, an infinity in row 2, a subnormal in row 3;
  // w row 4 holds an infinity.
  std::vector<uint16_t> x(4 * 8, 0x3f80), w(5 * 8, 0x3f00);  // ones, halves
  x[1 * 8 + 3] = 0x7fc0;
  x[2 * 8 + 5] = 0x7f80;
  x[3 * 8 + 0] = 0x0001;
  w[4 * 8 + 2] = 0x7f80;
  ASSERT_OK_AND_ASSIGN(auto compiled,
                       CompileText("graph @g(%x: bf16[4, 8], %w: const bf16[5, 8]) {\n  %y = linear(%x, %w)\n  return %y\n}",
                                   {{"w", Bf16({5, 8}, w)}}));
  const std::vector<Tensor> inputs = {Bf16({4, 8}, x)};
  ASSERT_OK_AND_ASSIGN(auto got, compiled->Run(inputs, {}));
  ASSERT_OK_AND_ASSIGN(auto want, Interpret(compiled->graph(), {inputs[0], Bf16({5, 8}, w)}, {}));
  const Comparison c = CompareOutputs(want, got);
  EXPECT_TRUE(c.ok) << c.first_mismatch;
  const std::vector<uint16_t> y = BitsOf(got[0]);
  EXPECT_TRUE(std::isnan(Bf16ToF32(y[1 * 5 + 0])));                 // NaN row
  EXPECT_TRUE(std::isinf(Bf16ToF32(y[2 * 5 + 0])));                 // infinity row
  EXPECT_EQ(Bf16ToF32(y[0 * 5 + 0]), 4.0f);                          // 8 · 1 · 0.5
  EXPECT_EQ(Bf16ToF32(y[3 * 5 + 0]), 3.5f);                          // the subnormal adds ~0
  EXPECT_TRUE(std::isinf(Bf16ToF32(y[0 * 5 + 4])));                 // infinite weight column
}

}  // namespace
}  // namespace braid
