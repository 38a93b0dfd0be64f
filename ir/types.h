// Types in braid IR: a dtype, a shape whose dims are constants or named symbols bound at run
// time (`M`, `T`), a tensor type, and the `multi_output_layout` type of template nodes.
#ifndef BRAID_IR_TYPES_H_
#define BRAID_IR_TYPES_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace braid {

// Element types. Every dtype parses, prints and can be held by a `Tensor`; which ones the
// interpreter and the compiler execute is their business (they say so with a located error).
enum class DType : uint8_t {
  kF32,
  kBF16,  // bfloat16: f32's exponent, 7 mantissa bits
  kF16,   // IEEE binary16
  kI8,
  kI32,
};
inline constexpr DType kAllDTypes[] = {DType::kF32, DType::kBF16, DType::kF16, DType::kI8,
                                       DType::kI32};

absl::string_view DTypeName(DType dtype);
// f32, bf16 or f16: the dtypes arithmetic is defined on.
inline bool IsFloatDType(DType dtype) { return dtype == DType::kF32 || dtype == DType::kBF16 || dtype == DType::kF16; }
std::optional<DType> ParseDType(absl::string_view name);
int64_t DTypeBytes(DType dtype);

// Caps that keep any input from causing an absurd allocation or an overflow.
inline constexpr int64_t kMaxDimValue = int64_t{1} << 32;      // one static or bound dim
inline constexpr int64_t kMaxElementCount = int64_t{1} << 40;  // one tensor (static shape)
inline constexpr int kMaxRank = 8;

// One dimension: a non-negative constant, a symbol bound at run time (`M`), or a polynomial in
// symbols with non-negative integer coefficients (`B*T`, `4*T`, `P + T`), so a `[B, T, 4096]`
// activation can be viewed as `[B*T, 4096]` and a KV cache can grow by `T`. Kept canonical
// (terms sorted, symbols in a term sorted, no zero terms), so equal polynomials compare equal
// and print alike: `T*B` prints as `B*T`.
class Dim {
 public:
  // A term: a positive coefficient times a product of symbols (sorted; may repeat).
  using Monomial = std::vector<std::string>;

  static Dim Const(int64_t value);
  // `name` must be non-empty (the parser guarantees it; the API's caller must).
  static Dim Symbol(std::string name);
  // a*b and a+b; an error if a coefficient would exceed kMaxElementCount.
  static absl::StatusOr<Dim> Multiply(const Dim& a, const Dim& b);
  static absl::StatusOr<Dim> Add(const Dim& a, const Dim& b);

  bool is_symbolic() const { return !(terms_.empty() || (terms_.size() == 1 && terms_.begin()->first.empty())); }
  // Exactly one symbol with coefficient 1 (`M`): a dim an input's size binds.
  bool is_symbol() const;
  int64_t value() const;                // only for constants
  const std::string& symbol() const;    // only for is_symbol()
  const std::map<Monomial, int64_t>& terms() const { return terms_; }
  // The distinct symbols the dim mentions, sorted.
  std::vector<std::string> Symbols() const;
  // The value under `dims`: an error names an unbound symbol; a value above kMaxElementCount
  // (or an overflow) is one.
  absl::StatusOr<int64_t> Evaluate(const std::map<std::string, int64_t>& dims) const;
  std::string ToString() const;

  bool operator==(const Dim& o) const { return terms_ == o.terms_; }
  bool operator!=(const Dim& o) const { return !(*this == o); }

 private:
  std::map<Monomial, int64_t> terms_;  // monomial -> coefficient (> 0)
};

using Shape = std::vector<Dim>;

struct TensorType {
  DType dtype = DType::kF32;
  Shape shape;

  int rank() const { return static_cast<int>(shape.size()); }
  std::string ToString() const;  // "f32[M, 4096]"
  bool operator==(const TensorType& o) const { return dtype == o.dtype && shape == o.shape; }
  bool operator!=(const TensorType& o) const { return !(*this == o); }
};

// The type of a value: a tensor, or (for template nodes such as grouped_gemm) a
// MultiOutputLayout with one tensor type per output.
class Type {
 public:
  Type() = default;
  static Type Tensor(TensorType t) { return Type(false, {std::move(t)}); }
  static Type Layout(std::vector<TensorType> parts) { return Type(true, std::move(parts)); }

  bool is_layout() const { return is_layout_; }
  const TensorType& tensor() const { return parts_.front(); }  // requires !is_layout()
  const std::vector<TensorType>& layout() const { return parts_; }
  std::string ToString() const;
  bool operator==(const Type& o) const { return is_layout_ == o.is_layout_ && parts_ == o.parts_; }
  bool operator!=(const Type& o) const { return !(*this == o); }

 private:
  Type(bool is_layout, std::vector<TensorType> parts)
      : is_layout_(is_layout), parts_(std::move(parts)) {}
  bool is_layout_ = false;
  std::vector<TensorType> parts_ = {TensorType{}};
};

// Values for symbolic dims, e.g. {M: 128, T: 7}. Ordered so printing is deterministic.
using DimBindings = std::map<std::string, int64_t>;

// Concrete dims of `shape` under `dims`; fails if a symbol is unbound.
absl::StatusOr<std::vector<int64_t>> BindShape(const Shape& shape, const DimBindings& dims);

// Product of `dims`, or an error if it overflows or exceeds `cap`.
absl::StatusOr<int64_t> CheckedElementCount(const std::vector<int64_t>& dims,
                                            int64_t cap = kMaxElementCount);

std::string ShapeToString(const std::vector<int64_t>& dims);  // "[8, 4096]"

}  // namespace braid

#endif  // BRAID_IR_TYPES_H_
