// dtype names, type printing and overflow-checked shape arithmetic.
#include "ir/types.h"

#include <algorithm>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "ir/status_macros.h"

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

Dim Dim::Const(int64_t value) {
  Dim d;
  if (value != 0) d.terms_[{}] = value;
  return d;
}

Dim Dim::Symbol(std::string name) {
  Dim d;
  d.terms_[{std::move(name)}] = 1;
  return d;
}

absl::StatusOr<Dim> Dim::Multiply(const Dim& a, const Dim& b) {
  Dim out;
  for (const auto& [ma, ca] : a.terms_) {
    for (const auto& [mb, cb] : b.terms_) {
      Monomial m = ma;
      m.insert(m.end(), mb.begin(), mb.end());
      std::sort(m.begin(), m.end());
      int64_t c;
      if (__builtin_mul_overflow(ca, cb, &c) || __builtin_add_overflow(out.terms_[m], c, &out.terms_[m]) ||
          out.terms_[m] > kMaxElementCount) {
        return absl::InvalidArgumentError(absl::StrCat("dimension ", a.ToString(), " * ", b.ToString(),
                                                       " has a coefficient above ", kMaxElementCount));
      }
    }
  }
  return out;
}

absl::StatusOr<Dim> Dim::Add(const Dim& a, const Dim& b) {
  Dim out = a;
  for (const auto& [m, c] : b.terms_) {
    int64_t& sum = out.terms_[m];
    if (__builtin_add_overflow(sum, c, &sum) || sum > kMaxElementCount) {
      return absl::InvalidArgumentError(absl::StrCat("dimension ", a.ToString(), " + ", b.ToString(),
                                                     " has a coefficient above ", kMaxElementCount));
    }
  }
  return out;
}

bool Dim::is_symbol() const {
  return terms_.size() == 1 && terms_.begin()->first.size() == 1 && terms_.begin()->second == 1;
}

int64_t Dim::value() const {
  BRAID_CHECK(!is_symbolic(), "value() of a symbolic dim");
  return terms_.empty() ? 0 : terms_.begin()->second;
}

const std::string& Dim::symbol() const {
  BRAID_CHECK(is_symbol(), "symbol() of a dim that is not one symbol");
  return terms_.begin()->first.front();
}

std::vector<std::string> Dim::Symbols() const {
  std::set<std::string> names;
  for (const auto& [m, c] : terms_) names.insert(m.begin(), m.end());
  return {names.begin(), names.end()};
}

absl::StatusOr<int64_t> Dim::Evaluate(const std::map<std::string, int64_t>& dims) const {
  int64_t total = 0;
  bool overflow = false;
  for (const auto& [m, c] : terms_) {
    int64_t term = c;
    for (const std::string& name : m) {
      auto it = dims.find(name);
      if (it == dims.end()) {
        return absl::InvalidArgumentError(absl::StrCat("dimension '", name, "' is not bound (pass --dims=",
                                                       name, "=<value>)"));
      }
      overflow |= __builtin_mul_overflow(term, it->second, &term);
    }
    overflow |= __builtin_add_overflow(total, term, &total);
  }
  if (overflow || total > kMaxElementCount) {
    return absl::InvalidArgumentError(absl::StrCat("dimension ", ToString(), " is above ", kMaxElementCount,
                                                   " at these sizes"));
  }
  return total;
}

// Symbolic terms first (in canonical order), the constant last: `B*T`, `4*T + 1`, `P + T`.
std::string Dim::ToString() const {
  if (terms_.empty()) return "0";
  std::vector<std::string> parts;
  for (const auto& [m, c] : terms_) {
    if (m.empty()) continue;
    std::vector<std::string> factors;
    if (c != 1) factors.push_back(absl::StrCat(c));
    factors.insert(factors.end(), m.begin(), m.end());
    parts.push_back(absl::StrJoin(factors, "*"));
  }
  if (auto it = terms_.find({}); it != terms_.end()) parts.push_back(absl::StrCat(it->second));
  return absl::StrJoin(parts, " + ");
}

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
    BRAID_ASSIGN_OR_RETURN(int64_t value, d.Evaluate(dims));
    out.push_back(value);
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
