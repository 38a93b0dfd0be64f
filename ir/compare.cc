// Output comparison with a magnitude-scaled tolerance.
#include "ir/compare.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

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

Comparison CompareOutputs(const std::vector<HostTensor>& want, const std::vector<HostTensor>& got) {
  Comparison c;
  if (want.size() != got.size()) {
    c.ok = false;
    c.first_mismatch = absl::StrCat("got ", got.size(), " outputs, want ", want.size());
    return c;
  }
  for (size_t i = 0; i < want.size(); ++i) {
    if (want[i].shape != got[i].shape || want[i].data.size() != got[i].data.size()) {
      c.ok = false;
      c.first_mismatch = absl::StrCat("output ", i, " has the wrong shape");
      return c;
    }
    double sum_sq = 0;
    int64_t finite = 0;
    for (float w : want[i].data) {
      if (std::isfinite(w)) {
        sum_sq += static_cast<double>(w) * w;
        ++finite;
      }
    }
    const double rms = finite ? std::sqrt(sum_sq / finite) : 0.0;
    for (size_t j = 0; j < want[i].data.size(); ++j) {
      const double w = want[i].data[j], g = got[i].data[j];
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
        same = abs_error <= kRelTolerance * scale + kAbsTolerance;
      }
      c.max_abs_error = std::max(c.max_abs_error, abs_error);
      c.max_rel_error = std::max(c.max_rel_error, rel_error);
      if (!same && c.ok) {
        c.ok = false;
        c.first_mismatch = absl::StrCat("output ", i, " ", Index(want[i].shape, j), ": got ", g,
                                        ", want ", w);
      }
    }
  }
  return c;
}

}  // namespace braid
