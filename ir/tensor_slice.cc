// Row-major slicing: `outer` blocks of `inner` contiguous elements, the slice copying
// `width * inner` of every block's `full * inner`.
#include "ir/tensor_slice.h"

#include <cstring>

#include "absl/strings/str_cat.h"

namespace braid {

absl::StatusOr<Tensor> SliceTensor(const TensorView& full, const ConstSlice& slice) {
  const int rank = static_cast<int>(full.shape.size());
  if (slice.axis < 0 || slice.axis >= rank || full.shape[slice.axis] != slice.full ||
      slice.begin < 0 || slice.begin > slice.end || slice.end > slice.full) {
    return absl::InvalidArgumentError(absl::StrCat(
        "cannot take [", slice.begin, ", ", slice.end, ") along axis ", slice.axis, " of a tensor of shape ",
        ShapeToString(full.shape)));
  }
  std::vector<int64_t> shape = full.shape;
  shape[slice.axis] = slice.end - slice.begin;
  Tensor out(full.dtype, shape);
  int64_t outer = 1, inner = DTypeBytes(full.dtype);
  for (int d = 0; d < slice.axis; ++d) outer *= full.shape[d];
  for (int d = slice.axis + 1; d < rank; ++d) inner *= full.shape[d];
  const auto* src = static_cast<const uint8_t*>(full.data);
  auto* dst = static_cast<uint8_t*>(out.raw_data());
  const int64_t row = (slice.end - slice.begin) * inner;
  for (int64_t o = 0; o < outer && row > 0; ++o) {
    std::memcpy(dst + o * row, src + (o * slice.full + slice.begin) * inner, row);
  }
  return out;
}

absl::Status SliceConstantsForRank(const Graph& graph, std::map<std::string, TensorView>& constants,
                                   std::deque<Tensor>& owned) {
  if (!graph.tensor_parallel()) return absl::OkStatus();
  for (const auto& [name, slice] : graph.tensor_parallel()->slices) {
    auto it = constants.find(name);
    if (it == constants.end()) continue;  // the caller reports the missing constant
    const TensorView& view = it->second;
    const bool full = static_cast<int>(view.shape.size()) > slice.axis && view.shape[slice.axis] == slice.full &&
                      slice.end - slice.begin != slice.full;
    if (!full) continue;
    if (view.data == nullptr && view.size() > 0) continue;  // reported by the caller
    absl::StatusOr<Tensor> part = SliceTensor(view, slice);
    if (!part.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("the constant for %", name, ": ", part.status().message()));
    }
    owned.push_back(*std::move(part));
    it->second = owned.back().view();
  }
  return absl::OkStatus();
}

}  // namespace braid
