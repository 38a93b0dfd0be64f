// How compiled results are judged against the reference interpreter. fp32 kernels accumulate
// in a different order (and in fp32) than the interpreter (double), so equality is too strict;
// the tolerance scales with each output's magnitude, with a small absolute floor:
//
//   |got - want| <= kRelTolerance * (|want| + rms(want)) + kAbsTolerance   for every element
//
// with kRelTolerance = 1e-4 and kAbsTolerance = 1e-6. The floor is for outputs that are
// cancellations of O(1) quantities, where fp32 cannot do better than ~1e-7 absolute: the soak
// found gelu_tanh(-6.5) = 0.5·x·(1 + tanh(-12.7)), which is -3e-11 in double and exactly -0
// in any fp32 evaluation (tanh rounds to -1), in a one-element output whose rms is that tiny
// value. NaN matches NaN; an infinity must match exactly. Outputs of a narrower dtype get that
// dtype's relative tolerance (`RelTolerance`: a unit or a few in its last place; compare.cc says
// why for each); integers must match exactly.
#ifndef BRAID_IR_COMPARE_H_
#define BRAID_IR_COMPARE_H_

#include <string>
#include <vector>

#include "ir/tensor.h"

namespace braid {

inline constexpr double kRelTolerance = 1e-4;
inline constexpr double kAbsTolerance = 1e-6;

// The relative tolerance for outputs of `dtype` (kRelTolerance for f32).
double RelTolerance(DType dtype);

struct Comparison {
  bool ok = true;
  double max_abs_error = 0;
  double max_rel_error = 0;  // |got - want| / (|want| + rms(want)), the quantity bounded above
  std::string first_mismatch;  // "output 0 [3, 17]: got 1.5, want 1.25" when !ok
};

Comparison CompareOutputs(const std::vector<Tensor>& want, const std::vector<Tensor>& got);

}  // namespace braid

#endif  // BRAID_IR_COMPARE_H_
