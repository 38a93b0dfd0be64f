// CompareOutputs: the tolerance every compiled result is judged by.
#include "ir/compare.h"

#include <cmath>

#include "gtest/gtest.h"

namespace braid {
namespace {

std::vector<Tensor> One(std::vector<float> values) {
  std::vector<Tensor> out;
  out.push_back(Tensor::F32({static_cast<int64_t>(values.size())}, values));
  return out;
}

TEST(CompareTest, RelativeToMagnitudeAndRms) {
  EXPECT_TRUE(CompareOutputs(One({1000.0f, 1.0f}), One({1000.05f, 1.0f})).ok);
  // 1e-4 of (|want| + rms) is ~0.07 here: an error of 0.2 on the small element is too much.
  Comparison c = CompareOutputs(One({1000.0f, 1.0f}), One({1000.0f, 1.2f}));
  EXPECT_FALSE(c.ok);
  EXPECT_EQ(c.first_mismatch, "output 0 [1]: got 1.2, want 1");
  EXPECT_FALSE(CompareOutputs(One({1.0f}), One({1.001f})).ok);
}

// Regression (soak seed 6089): a one-element output that is a cancellation, -3e-11 in the
// interpreter's double precision and exactly -0 in fp32. The absolute floor accepts it ...
TEST(CompareTest, AbsoluteFloorAcceptsFp32Cancellation) {
  EXPECT_TRUE(CompareOutputs(One({-3.22739e-11f}), One({-0.0f})).ok);
}

// ... but not an error above the floor when the values are that small.
TEST(CompareTest, AbsoluteFloorIsSmall) {
  EXPECT_FALSE(CompareOutputs(One({1e-9f}), One({5e-6f})).ok);
}

TEST(CompareTest, NanAndInfinity) {
  EXPECT_TRUE(CompareOutputs(One({NAN, INFINITY}), One({NAN, INFINITY})).ok);
  EXPECT_FALSE(CompareOutputs(One({NAN}), One({0.0f})).ok);
  EXPECT_FALSE(CompareOutputs(One({INFINITY}), One({-INFINITY})).ok);
  EXPECT_FALSE(CompareOutputs(One({1.0f}), One({NAN})).ok);
}

}  // namespace
}  // namespace braid
