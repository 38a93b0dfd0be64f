// Ranks as threads: an all-reduce is two barriers — every rank posts its input, each sums all
// of them (in rank order, so every rank gets the same bits) into a private buffer, and after
// the second barrier (nobody reads the inputs any more) writes its output, which may be its
// own input.
#include "ir/local_collective.h"

#include "absl/strings/str_cat.h"
#include "ir/scalar_convert.h"

namespace braid {

class LocalGroup::Rank : public Collective {
 public:
  Rank(LocalGroup* group, int rank) : group_(group), rank_(rank) {}
  int rank() const override { return rank_; }
  int size() const override { return group_->size(); }
  absl::Status AllReduceSum(DType dtype, const void* in, void* out, int64_t count) override {
    return group_->AllReduceSum(rank_, dtype, in, out, count);
  }

 private:
  LocalGroup* group_;
  int rank_;
};

LocalGroup::LocalGroup(int size) : posted_(size) {
  for (int r = 0; r < size; ++r) ranks_.push_back(std::make_unique<Rank>(this, r));
}

LocalGroup::~LocalGroup() = default;

Collective& LocalGroup::rank(int r) { return *ranks_.at(r); }

void LocalGroup::Abort(const std::string& why) {
  std::lock_guard<std::mutex> lock(mu_);
  if (aborted_.empty()) aborted_ = why.empty() ? "a rank failed" : why;
  cv_.notify_all();
}

absl::Status LocalGroup::Barrier(std::unique_lock<std::mutex>& lock) {
  if (!aborted_.empty()) return absl::AbortedError(aborted_);
  const int64_t generation = generation_;
  if (++arrived_ == size()) {
    arrived_ = 0;
    ++generation_;
    cv_.notify_all();
  } else {
    cv_.wait(lock, [&] { return generation_ != generation || !aborted_.empty(); });
  }
  if (generation_ == generation) return absl::AbortedError(aborted_);
  return absl::OkStatus();
}

absl::Status LocalGroup::AllReduceSum(int rank, DType dtype, const void* in, void* out,
                                      int64_t count) {
  if (dtype != DType::kF32 && dtype != DType::kBF16) {
    return absl::InvalidArgumentError(
        absl::StrCat("all_reduce sums f32 or bf16, not ", DTypeName(dtype)));
  }
  std::vector<Posted> posted;
  {
    std::unique_lock<std::mutex> lock(mu_);
    posted_[rank] = Posted{dtype, in, count};
    if (absl::Status s = Barrier(lock); !s.ok()) return s;
    posted = posted_;
  }
  for (const Posted& p : posted) {
    if (p.dtype != dtype || p.count != count) {
      // Every rank sees the same mismatch, so every rank fails; the second barrier still runs so
      // that nobody is left waiting.
      std::unique_lock<std::mutex> lock(mu_);
      if (absl::Status s = Barrier(lock); !s.ok()) return s;
      return absl::InvalidArgumentError(absl::StrCat(
          "all_reduce: ranks disagree on the tensor (", count, " ", DTypeName(dtype), " here, ",
          p.count, " ", DTypeName(p.dtype), " on another rank)"));
    }
  }
  std::vector<float> sum(static_cast<size_t>(count), 0.0f);
  for (const Posted& p : posted) {
    if (dtype == DType::kF32) {
      const float* x = static_cast<const float*>(p.in);
      for (int64_t i = 0; i < count; ++i) sum[i] += x[i];
    } else {
      const uint16_t* x = static_cast<const uint16_t*>(p.in);
      for (int64_t i = 0; i < count; ++i) sum[i] += Bf16ToF32(x[i]);
    }
  }
  {
    std::unique_lock<std::mutex> lock(mu_);
    if (absl::Status s = Barrier(lock); !s.ok()) return s;
  }
  if (dtype == DType::kF32) {
    std::copy(sum.begin(), sum.end(), static_cast<float*>(out));
  } else {
    uint16_t* y = static_cast<uint16_t*>(out);
    for (int64_t i = 0; i < count; ++i) y[i] = F32ToBf16(sum[i]);
  }
  return absl::OkStatus();
}

}  // namespace braid
