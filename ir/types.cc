// dtype names, type printing and overflow-checked shape arithmetic.
#include "ir/types.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace braid {

absl::string_view DTypeName(DType dtype) {
  switch (dtype) {
    case DType::kF32:
      return "f32";
    case DType::kBF16:
      return "bf16";
    case DType::kF16:
      return "f16";
    case DType::kI8:
      return "i8";
    case DType::kI32:
      return "i32";
  }
  return "?";
}

std::optional<DType> ParseDType(absl::string_view name) {
  for (DType dtype : kAllDTypes) {
    if (name == DTypeName(dtype)) return dtype;
  }
  return std::nullopt;
}

int64_t DTypeBytes(DType dtype) {
  switch (dtype) {
    case DType::kF32:
    case DType::kI32:
      return 4;
    case DType::kBF16:
    case DType::kF16:
      return 2;
    case DType::kI8:
      return 1;
  }
  return 4;
}

std::string Dim::ToString() const { return is_symbolic() ? symbol_ : absl::StrCat(value_); }

std::string TensorType::ToString() const {
  return absl::StrCat(DTypeName(dtype), "[",
                      absl::StrJoin(shape, ", ",
                                    [](std::string* out, const Dim& d) {
                                      absl::StrAppend(out, d.ToString());
                                    }),
                      "]");
}

std::string Type::ToString() const {
  if (!is_layout_) return tensor().ToString();
  return absl::StrCat("multi_output_layout(",
                      absl::StrJoin(parts_, ", ",
                                    [](std::string* out, const TensorType& t) {
                                      absl::StrAppend(out, t.ToString());
                                    }),
                      ")");
}

absl::StatusOr<std::vector<int64_t>> BindShape(const Shape& shape, const DimBindings& dims) {
  std::vector<int64_t> out;
  out.reserve(shape.size());
  for (const Dim& d : shape) {
    if (!d.is_symbolic()) {
      out.push_back(d.value());
      continue;
    }
    auto it = dims.find(d.symbol());
    if (it == dims.end()) {
      return absl::InvalidArgumentError(
          absl::StrCat("dimension '", d.symbol(), "' is not bound (pass --dims=", d.symbol(),
                       "=<value>)"));
    }
    out.push_back(it->second);
  }
  return out;
}

absl::StatusOr<int64_t> CheckedElementCount(const std::vector<int64_t>& dims, int64_t cap) {
  int64_t count = 1;
  for (int64_t d : dims) {
    if (d < 0) return absl::InvalidArgumentError(absl::StrCat("negative dimension ", d));
    if (__builtin_mul_overflow(count, d, &count) || count > cap) {
      return absl::InvalidArgumentError(absl::StrCat("tensor of shape ", ShapeToString(dims),
                                                     " has more than ", cap, " elements"));
    }
  }
  return count;
}

std::string ShapeToString(const std::vector<int64_t>& dims) {
  return absl::StrCat("[", absl::StrJoin(dims, ", "), "]");
}

}  // namespace braid
