// Driver inputs: --dims, --inputs, seeded random tensors, checksums.
#include "tools/run_inputs.h"

#include <cmath>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "ir/interpreter.h"
#include "ir/scalar_convert.h"
#include "ir/status_macros.h"

namespace braid {
namespace {

// FNV-1a: a stable hash, so the same seed gives the same data on every platform.
uint64_t StableHash(absl::string_view s) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
  return h;
}

uint64_t SplitMix64(uint64_t& state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

// Uniform in [-1, 1) (floats, rounded to the dtype) or over the whole range (i8; i32 in
// [-128, 128)) from a generator seeded by (seed, name): the same parameter gets the same data
// whichever other parameters exist or come from files. A float `const` of rank >= 2 (a weight)
// is scaled by 1/sqrt(its last dim, a linear's fan-in), as models initialise theirs: without
// it a 4096-wide layer's activations grow ~37x per GEMM and a 7B layer's attention scores
// reach ~1e4, a softmax too ill-conditioned to compare f32 code with the interpreter.
absl::StatusOr<Tensor> RandomTensor(const std::string& name, DType dtype, const std::vector<int64_t>& shape,
                                    uint64_t seed, bool is_const) {
  BRAID_ASSIGN_OR_RETURN(int64_t count, CheckedElementCount(shape));
  Tensor t(dtype, shape);
  const float scale = is_const && shape.size() >= 2 && shape.back() > 0
                          ? static_cast<float>(1.0 / std::sqrt(static_cast<double>(shape.back())))
                          : 1.0f;
  uint64_t state = seed ^ StableHash(name);
  for (int64_t i = 0; i < count; ++i) {
    const uint64_t bits = SplitMix64(state);
    // 24 random bits -> a float in [-1, 1), exactly representable in f32.
    const float x = static_cast<float>(static_cast<int64_t>(bits >> 40) - (1 << 23)) /
                    static_cast<float>(1 << 23) * scale;
    const int8_t byte = static_cast<int8_t>(bits >> 56);
    switch (dtype) {
      case DType::kF32:
        t.f32()[i] = x;
        break;
      case DType::kBF16:
        static_cast<uint16_t*>(t.raw_data())[i] = F32ToBf16(x);
        break;
      case DType::kF16:
        static_cast<uint16_t*>(t.raw_data())[i] = F32ToF16(x);
        break;
      case DType::kI8:
        static_cast<int8_t*>(t.raw_data())[i] = byte;
        break;
      case DType::kI32:
        static_cast<int32_t*>(t.raw_data())[i] = byte;
        break;
    }
  }
  return t;
}

}  // namespace

absl::StatusOr<DimBindings> ParseDimsFlag(absl::string_view text) {
  DimBindings dims;
  for (absl::string_view entry : absl::StrSplit(text, ',', absl::SkipWhitespace())) {
    std::pair<absl::string_view, absl::string_view> kv = absl::StrSplit(entry, absl::MaxSplits('=', 1));
    absl::string_view name = absl::StripAsciiWhitespace(kv.first);
    int64_t value;
    if (name.empty() || !absl::SimpleAtoi(kv.second, &value)) {
      return absl::InvalidArgumentError(
          absl::StrCat("--dims: '", entry, "' is not NAME=INTEGER (example: --dims=M=128,T=7)"));
    }
    if (value < 0 || value > kMaxDimValue) {
      return absl::InvalidArgumentError(absl::StrCat("--dims: ", name, "=", value,
                                                     " is out of range [0, ", kMaxDimValue, "]"));
    }
    if (!dims.emplace(std::string(name), value).second) {
      return absl::InvalidArgumentError(absl::StrCat("--dims: ", name, " is bound twice"));
    }
  }
  return dims;
}

absl::StatusOr<std::map<std::string, std::string>> ParseInputsFlag(absl::string_view text) {
  std::map<std::string, std::string> files;
  for (absl::string_view entry : absl::StrSplit(text, ',', absl::SkipWhitespace())) {
    std::pair<absl::string_view, absl::string_view> kv = absl::StrSplit(entry, absl::MaxSplits('=', 1));
    absl::string_view name = absl::StripPrefix(absl::StripAsciiWhitespace(kv.first), "%");
    if (name.empty() || kv.second.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--inputs: '", entry, "' is not NAME=FILE.npy (example: --inputs=x=x.npy)"));
    }
    if (!files.emplace(std::string(name), std::string(kv.second)).second) {
      return absl::InvalidArgumentError(absl::StrCat("--inputs: %", name, " is given twice"));
    }
  }
  return files;
}

absl::StatusOr<std::vector<Tensor>> MakeInputs(const Graph& graph,
                                                   const std::map<std::string, Tensor>& files,
                                                   uint64_t seed, DimBindings& dims) {
  // First let the files bind symbolic dims, so --dims may be left out for them.
  for (const Value* p : graph.params()) {
    auto it = files.find(p->name());
    if (it == files.end()) continue;
    const Shape& shape = p->type().tensor().shape;
    const std::vector<int64_t>& actual = it->second.shape();
    if (it->second.dtype() != p->type().tensor().dtype) {
      return LocatedError(graph.source(), p->loc(),
                          absl::StrCat("--inputs: the file for %", p->name(), " holds ",
                                       DTypeName(it->second.dtype()), " values but %", p->name(),
                                       " is ", p->type().ToString()));
    }
    auto mismatch = [&](absl::string_view why) {
      return LocatedError(graph.source(), p->loc(),
                          absl::StrCat("--inputs: the file for %", p->name(), " has shape ",
                                       ShapeToString(actual), " but %", p->name(), " is ",
                                       p->type().ToString(), why));
    };
    if (actual.size() != shape.size()) return mismatch("");
    for (size_t d = 0; d < shape.size(); ++d) {
      if (!shape[d].is_symbolic()) {
        if (shape[d].value() != actual[d]) return mismatch("");
        continue;
      }
      if (!shape[d].is_symbol()) continue;  // `B*T`: checked once every symbol is bound
      auto [pos, inserted] = dims.emplace(shape[d].symbol(), actual[d]);
      if (!inserted && pos->second != actual[d]) {
        return mismatch(absl::StrCat(" with ", shape[d].symbol(), " = ", pos->second));
      }
    }
  }
  BRAID_ASSIGN_OR_RETURN(auto shapes, BindParamShapes(graph, dims));
  std::vector<Tensor> inputs;
  for (size_t i = 0; i < graph.params().size(); ++i) {
    const Value* p = graph.params()[i];
    auto it = files.find(p->name());
    if (it != files.end()) {
      inputs.push_back(it->second);
      continue;
    }
    BRAID_ASSIGN_OR_RETURN(Tensor t, RandomTensor(p->name(), p->type().tensor().dtype, shapes[i], seed, p->is_const()));
    inputs.push_back(std::move(t));
  }
  return inputs;
}

absl::StatusOr<std::map<std::string, Tensor>> MakeConstants(
    const Graph& graph, const std::map<std::string, Tensor>& files, uint64_t seed,
    const DimBindings& dims) {
  std::map<std::string, Tensor> constants;
  for (const Value* p : graph.params()) {
    if (!p->is_const()) continue;
    auto it = files.find(p->name());
    if (it != files.end()) {
      constants[p->name()] = it->second;
      continue;
    }
    auto shape = BindShape(p->type().tensor().shape, dims);
    if (!shape.ok()) return LocatedError(graph.source(), p->loc(), shape.status().message());
    BRAID_ASSIGN_OR_RETURN(constants[p->name()],
                           RandomTensor(p->name(), p->type().tensor().dtype, *shape, seed, /*is_const=*/true));
  }
  return constants;
}

std::string Checksum(const Tensor& tensor) {
  double sum = 0, abs_sum = 0;
  for (int64_t i = 0; i < tensor.size(); ++i) {
    const double x = LoadAsDouble(tensor.dtype(), tensor.raw_data(), i);
    sum += x;
    abs_sum += std::fabs(x);
  }
  return absl::StrFormat("sum=%.6e abs_sum=%.6e", sum, abs_sum);
}

}  // namespace braid
