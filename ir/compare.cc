// Output comparison with a magnitude-scaled tolerance.
#include "ir/compare.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "ir/scalar_convert.h"

namespace braid {
namespace {

std::string Index(const std::vector<int64_t>& shape, int64_t flat) {
  std::vector<int64_t> index(shape.size());
  for (size_t d = shape.size(); d-- > 0;) {
    index[d] = shape[d] ? flat % shape[d] : 0;
    flat = shape[d] ? flat / shape[d] : 0;
  }
  return absl::StrCat("[", absl::StrJoin(index, ", "), "]");
}

}  // namespace

double RelTolerance(DType dtype) {
  switch (dtype) {
    case DType::kF32:
      return kRelTolerance;
    case DType::kBF16:
      // One unit in the last place is 2^-7 = 7.8e-3. Compiled code rounds every bf16 result as
      // the interpreter does; what can differ is a GEMM's sum (f32 in a kernel, double in the
      // interpreter) landing on the other side of a rounding boundary — one ulp — and what
      // later ops make of that ulp (a cancellation can scale it up against the output's rms).
      // A wrong kernel is off by whole values, far beyond 3e-2.
      return 3e-2;
    case DType::kF16:
      return 2e-3;  // one unit in the last place is 2^-10 = 9.8e-4
    case DType::kI8:
    case DType::kI32:
      return 0;     // integers are exact
  }
  return kRelTolerance;
}

Comparison CompareOutputs(const std::vector<Tensor>& want, const std::vector<Tensor>& got) {
  Comparison c;
  if (want.size() != got.size()) {
    c.ok = false;
    c.first_mismatch = absl::StrCat("got ", got.size(), " outputs, want ", want.size());
    return c;
  }
  for (size_t i = 0; i < want.size(); ++i) {
    if (want[i].dtype() != got[i].dtype()) {
      c.ok = false;
      c.first_mismatch = absl::StrCat("output ", i, " is ", DTypeName(got[i].dtype()), ", want ",
                                      DTypeName(want[i].dtype()));
      return c;
    }
    if (want[i].shape() != got[i].shape()) {
      c.ok = false;
      c.first_mismatch = absl::StrCat("output ", i, " has the wrong shape");
      return c;
    }
    const DType dtype = want[i].dtype();
    const double tolerance = RelTolerance(dtype);
    const void* want_data = want[i].raw_data();
    const void* got_data = got[i].raw_data();
    const int64_t size = want[i].size();
    double sum_sq = 0;
    int64_t finite = 0;
    for (int64_t j = 0; j < size; ++j) {
      const double w = LoadAsDouble(dtype, want_data, j);
      if (std::isfinite(w)) {
        sum_sq += w * w;
        ++finite;
      }
    }
    const double rms = finite ? std::sqrt(sum_sq / finite) : 0.0;
    for (int64_t j = 0; j < size; ++j) {
      const double w = LoadAsDouble(dtype, want_data, j), g = LoadAsDouble(dtype, got_data, j);
      bool same;
      double abs_error = 0, rel_error = 0;
      if (std::isnan(w) || std::isnan(g)) {
        same = std::isnan(w) && std::isnan(g);
      } else if (std::isinf(w) || std::isinf(g)) {
        same = w == g;
      } else {
        abs_error = std::fabs(g - w);
        const double scale = std::fabs(w) + rms;
        rel_error = scale > 0 ? abs_error / scale : (abs_error > 0 ? INFINITY : 0);
        same = abs_error <= tolerance * scale + kAbsTolerance;
      }
      c.max_abs_error = std::max(c.max_abs_error, abs_error);
      c.max_rel_error = std::max(c.max_rel_error, rel_error);
      if (!same && c.ok) {
        c.ok = false;
        c.first_mismatch = absl::StrCat("output ", i, " ", Index(want[i].shape(), j), ": got ", g,
                                        ", want ", w);
      }
    }
  }
  return c;
}

}  // namespace braid
