// Ranks as threads of one process: a Collective per rank, all sharing one group. What the
// tensor-parallel tests and `braid --tp=N --interpret` use to run every rank's graph at once
// without MPI; each rank's thread makes its calls in the same order, as with MPI.
//
//   LocalGroup group(2);
//   std::thread t1([&] { RunRank(group.rank(1)); });
//   RunRank(group.rank(0));
//   t1.join();
#ifndef BRAID_IR_LOCAL_COLLECTIVE_H_
#define BRAID_IR_LOCAL_COLLECTIVE_H_

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "ir/collective.h"

namespace braid {

class LocalGroup {
 public:
  explicit LocalGroup(int size);
  ~LocalGroup();
  int size() const { return static_cast<int>(ranks_.size()); }
  Collective& rank(int r);
  // A rank failed and will make no more calls: every call waiting now or made later returns
  // an error saying `why` instead of waiting for it (no hang).
  void Abort(const std::string& why);

 private:
  class Rank;
  // Waits until every rank arrived (or the group was aborted). `mu_` held through `lock`.
  absl::Status Barrier(std::unique_lock<std::mutex>& lock);
  absl::Status AllReduceSum(int rank, DType dtype, const void* in, void* out, int64_t count);

  std::vector<std::unique_ptr<Rank>> ranks_;
  std::mutex mu_;
  std::condition_variable cv_;
  int arrived_ = 0;
  int64_t generation_ = 0;
  std::string aborted_;  // non-empty once aborted
  struct Posted {
    DType dtype;
    const void* in;
    int64_t count;
  };
  std::vector<Posted> posted_;  // per rank, for the call in progress
};

}  // namespace braid

#endif  // BRAID_IR_LOCAL_COLLECTIVE_H_
