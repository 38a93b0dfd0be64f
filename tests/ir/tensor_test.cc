// Tensors and views: ownership, copies, alignment, dtypes; the scalar dtype conversions.
#include "ir/tensor.h"

#include <cmath>
#include <cstring>
#include <limits>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "ir/scalar_convert.h"

namespace braid {
namespace {

using ::testing::ElementsAre;

TEST(TensorTest, HoldsBytesOfItsDtypeZeroFilledAndAligned) {
  for (DType dtype : kAllDTypes) {
    Tensor t(dtype, {3, 5});
    EXPECT_EQ(t.dtype(), dtype);
    EXPECT_EQ(t.size(), 15);
    EXPECT_EQ(t.num_bytes(), 15 * DTypeBytes(dtype)) << DTypeName(dtype);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(t.raw_data()) % 64, 0u);
    const auto* bytes = static_cast<const unsigned char*>(t.raw_data());
    for (int64_t i = 0; i < t.num_bytes(); ++i) ASSERT_EQ(bytes[i], 0) << DTypeName(dtype);
  }
  EXPECT_EQ(DTypeBytes(DType::kI8), 1);
  EXPECT_EQ(DTypeBytes(DType::kBF16), 2);
  EXPECT_EQ(DTypeBytes(DType::kF16), 2);
  EXPECT_EQ(DTypeBytes(DType::kI32), 4);
}

TEST(TensorTest, RankZeroHasOneElementAndDefaultIsEmpty) {
  Tensor scalar = Tensor::F32({}, {2.5f});
  EXPECT_EQ(scalar.size(), 1);
  EXPECT_EQ(scalar.f32()[0], 2.5f);
  Tensor empty;
  EXPECT_EQ(empty.size(), 0);
  EXPECT_THAT(empty.shape(), ElementsAre(0));
}

TEST(TensorTest, CopiesAreDeepMovesAreNot) {
  Tensor a = Tensor::F32({2, 2}, {1, 2, 3, 4});
  Tensor b = a;
  EXPECT_NE(a.raw_data(), b.raw_data());
  b.f32()[0] = 9;
  EXPECT_EQ(a.f32()[0], 1);
  const void* storage = b.raw_data();
  Tensor c = std::move(b);
  EXPECT_EQ(c.raw_data(), storage);
  EXPECT_THAT(c.f32_values(), ElementsAre(9, 2, 3, 4));
  a = c;
  EXPECT_THAT(a.f32_values(), ElementsAre(9, 2, 3, 4));
  EXPECT_NE(a.raw_data(), c.raw_data());
}

TEST(TensorTest, ViewsPointAtTheSameMemoryAndCopyOfCopies) {
  std::vector<int8_t> caller = {1, -2, 3, -4, 5, -6};
  TensorView view{DType::kI8, {2, 3}, caller.data()};
  EXPECT_EQ(view.size(), 6);
  EXPECT_EQ(view.num_bytes(), 6);
  Tensor copy = Tensor::CopyOf(view);
  EXPECT_NE(copy.raw_data(), static_cast<void*>(caller.data()));
  EXPECT_EQ(std::memcmp(copy.raw_data(), caller.data(), 6), 0);
  EXPECT_EQ(copy.dtype(), DType::kI8);
  Tensor t = Tensor::F32({2}, {1, 2});
  TensorView tv = t.view();
  EXPECT_EQ(tv.data, t.raw_data());
  tv.data_as<float>()[1] = 7;
  EXPECT_EQ(t.f32()[1], 7);
  std::vector<Tensor> tensors = {t, copy};
  std::vector<TensorView> views = ViewsOf(tensors);
  ASSERT_EQ(views.size(), 2u);
  EXPECT_EQ(views[1].data, tensors[1].raw_data());
  EXPECT_EQ(views[1].dtype, DType::kI8);
}

TEST(ScalarConvertTest, Bf16RoundsToNearestEven) {
  EXPECT_EQ(F32ToBf16(1.0f), 0x3f80);
  EXPECT_EQ(Bf16ToF32(0x3f80), 1.0f);
  // 1 + 2^-8 is exactly halfway between 1 and 1 + 2^-7: ties go to the even mantissa (1).
  EXPECT_EQ(F32ToBf16(1.0f + std::ldexp(1.0f, -8)), 0x3f80);
  // 1 + 3·2^-8 is halfway between 1 + 2^-7 (odd) and 1 + 2^-6: rounds up to even.
  EXPECT_EQ(F32ToBf16(1.0f + 3 * std::ldexp(1.0f, -8)), 0x3f82);
  // Just above halfway rounds up.
  EXPECT_EQ(F32ToBf16(1.0f + std::ldexp(1.0f, -8) + std::ldexp(1.0f, -20)), 0x3f81);
  EXPECT_EQ(F32ToBf16(-2.0f), 0xc000);
  EXPECT_TRUE(std::isnan(Bf16ToF32(F32ToBf16(std::numeric_limits<float>::quiet_NaN()))));
  EXPECT_TRUE(std::isinf(Bf16ToF32(F32ToBf16(std::numeric_limits<float>::max()))));  // overflow
  EXPECT_EQ(Bf16ToF32(F32ToBf16(-std::numeric_limits<float>::infinity())),
            -std::numeric_limits<float>::infinity());
  // Every bf16 survives a round trip through f32.
  for (uint32_t bits = 0; bits < 0x10000; ++bits) {
    const float f = Bf16ToF32(static_cast<uint16_t>(bits));
    if (std::isnan(f)) continue;
    ASSERT_EQ(F32ToBf16(f), bits);
  }
}

TEST(ScalarConvertTest, F16RoundsToNearestEvenWithSubnormalsAndInfinity) {
  EXPECT_EQ(F32ToF16(1.0f), 0x3c00);
  EXPECT_EQ(F32ToF16(65504.0f), 0x7bff);     // largest finite
  EXPECT_EQ(F32ToF16(65519.0f), 0x7bff);     // below the halfway point to 65536
  EXPECT_EQ(F32ToF16(65520.0f), 0x7c00);     // halfway: rounds to even = infinity
  EXPECT_EQ(F32ToF16(std::ldexp(1.0f, -24)), 0x0001);  // smallest subnormal
  EXPECT_EQ(F32ToF16(std::ldexp(1.0f, -25)), 0x0000);  // halfway to it: ties to even (0)
  EXPECT_EQ(F32ToF16(std::ldexp(1.5f, -25)), 0x0001);
  EXPECT_EQ(F32ToF16(-0.0f), 0x8000);
  EXPECT_EQ(F32ToF16(1.0f + std::ldexp(1.0f, -11)), 0x3c00);      // tie to even
  EXPECT_EQ(F32ToF16(1.0f + 3 * std::ldexp(1.0f, -11)), 0x3c02);  // tie to even, upwards
  EXPECT_TRUE(std::isnan(F16ToF32(F32ToF16(std::nanf("")))));
  // Every f16 survives a round trip through f32.
  for (uint32_t bits = 0; bits < 0x10000; ++bits) {
    const float f = F16ToF32(static_cast<uint16_t>(bits));
    if (std::isnan(f)) continue;
    ASSERT_EQ(F32ToF16(f), bits) << std::hex << bits;
  }
}

TEST(ScalarConvertTest, LoadAsDoubleReadsEveryDtype) {
  const float f[] = {1.5f};
  const uint16_t bf[] = {F32ToBf16(-3.0f)};
  const uint16_t h[] = {F32ToF16(0.25f)};
  const int8_t i8[] = {-128};
  const int32_t i32[] = {1 << 30};
  EXPECT_EQ(LoadAsDouble(DType::kF32, f, 0), 1.5);
  EXPECT_EQ(LoadAsDouble(DType::kBF16, bf, 0), -3.0);
  EXPECT_EQ(LoadAsDouble(DType::kF16, h, 0), 0.25);
  EXPECT_EQ(LoadAsDouble(DType::kI8, i8, 0), -128.0);
  EXPECT_EQ(LoadAsDouble(DType::kI32, i32, 0), 1073741824.0);
}

}  // namespace
}  // namespace braid
