// The collective operations a tensor-parallel graph needs (today one: a sum over ranks), as an
// interface so that the core never links a communication library. Implementations:
// `LocalGroup` (ranks as threads of one process: tests, `braid --tp=N --interpret`),
// `MpiCollective` (//mpi, one rank per MPI process) and `CallbackCollective` (a host that
// already runs torch.distributed, oneCCL or gloo plugs its own all-reduce in).
#ifndef BRAID_IR_COLLECTIVE_H_
#define BRAID_IR_COLLECTIVE_H_

#include <cstdint>
#include <functional>
#include <utility>

#include "absl/status/status.h"
#include "ir/types.h"

namespace braid {

class Collective {
 public:
  virtual ~Collective() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  // out[i] = the sum over all ranks of their in[i], for i < count; `in == out` (in place) is
  // allowed. Every rank calls it with the same dtype and count, in the same order. f32 and bf16
  // (summed in f32, rounded once). Every rank gets the same bits. An error (a rank gone, the
  // communicator broken) leaves `out` unspecified.
  virtual absl::Status AllReduceSum(DType dtype, const void* in, void* out, int64_t count) = 0;
};

// A Collective whose all-reduce is a function the host provides.
class CallbackCollective : public Collective {
 public:
  using AllReduce = std::function<absl::Status(DType dtype, const void* in, void* out, int64_t count)>;
  CallbackCollective(int rank, int size, AllReduce all_reduce)
      : rank_(rank), size_(size), all_reduce_(std::move(all_reduce)) {}
  int rank() const override { return rank_; }
  int size() const override { return size_; }
  absl::Status AllReduceSum(DType dtype, const void* in, void* out, int64_t count) override {
    return all_reduce_(dtype, in, out, count);
  }

 private:
  int rank_, size_;
  AllReduce all_reduce_;
};

}  // namespace braid

#endif  // BRAID_IR_COLLECTIVE_H_
