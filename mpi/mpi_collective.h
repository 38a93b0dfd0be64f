// braid's collectives on MPI: a tensor-parallel graph's all_reduce as MPI_Allreduce, and
// the agreement that makes every rank fail when one does (instead of the others waiting
// forever in a collective the failed rank never joins). The only braid code that links MPI.
//
//   MPI_Init(&argc, &argv);
//   auto collective = braid::MpiCollective::Create(MPI_COMM_WORLD);      // collective call
//   auto shard = braid::ShardGraph(graph, (*collective)->rank(), (*collective)->size());
//   ...
//   absl::Status ready = braid::AgreeAcrossRanks(compiled.status(), MPI_COMM_WORLD);
//   if (!ready.ok()) { /* every rank gets here */ }
#ifndef BRAID_MPI_MPI_COLLECTIVE_H_
#define BRAID_MPI_MPI_COLLECTIVE_H_

#include <memory>

#include <mpi.h>

#include "absl/status/statusor.h"
#include "ir/collective.h"

namespace braid {

class MpiCollective : public Collective {
 public:
  // Every rank of `comm` must call it (it duplicates `comm`, so braid's messages never mix
  // with the host's, and sets the copy's errors to return rather than abort). MPI must be
  // initialised, and stay so while the collective lives.
  static absl::StatusOr<std::shared_ptr<MpiCollective>> Create(MPI_Comm comm);
  ~MpiCollective() override;

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  // MPI_Allreduce(MPI_SUM) in place or not; f32 directly, bf16 widened to f32 around it (MPI has
  // no bf16 type) and rounded once.
  absl::Status AllReduceSum(DType dtype, const void* in, void* out, int64_t count) override;

 private:
  MpiCollective(MPI_Comm comm, int rank, int size) : comm_(comm), rank_(rank), size_(size) {}
  MPI_Comm comm_;
  int rank_, size_;
};

// Collective over `comm`: OK on every rank if `local` is OK on every rank; otherwise every rank
// gets the lowest failing rank's error, prefixed "rank R: " on the others.
absl::Status AgreeAcrossRanks(const absl::Status& local, MPI_Comm comm);

// Collective over `comm`: the minimum of `local` over the ranks.
int64_t MinAcrossRanks(int64_t local, MPI_Comm comm);

}  // namespace braid

#endif  // BRAID_MPI_MPI_COLLECTIVE_H_
