// `braid --tp=N`: the driver's side of tensor parallelism. Under mpirun each process is one
// rank (MPI is initialised only for `--tp=N --run` without --interpret); `--interpret`
// instead runs every rank's shard in this process (ranks as threads), with no MPI at all.
#ifndef BRAID_TOOLS_TENSOR_PARALLEL_DRIVER_H_
#define BRAID_TOOLS_TENSOR_PARALLEL_DRIVER_H_

#include <atomic>
#include <memory>
#include <ostream>

#include "absl/status/statusor.h"
#include "ir/collective.h"
#include "ir/graph.h"
#include "tools/run_graph.h"

namespace braid {

// This process's place in an MPI job of `size` ranks: initialises MPI and checks that the
// job has exactly `size` processes. A clear error, without touching MPI, when the process was
// not started by mpirun.
struct MpiRank {
  int rank = 0, size = 1;
  std::shared_ptr<Collective> collective;  // counts the time spent in all_reduce
  std::shared_ptr<std::atomic<int64_t>> all_reduce_ns;
};
absl::StatusOr<MpiRank> StartMpi(int size, int* argc, char*** argv);

// Whether MPI was started (then FinishMpi must run before exit).
bool MpiStarted();

// Agrees on `status` with the other ranks (every rank fails if one did) and shuts MPI down;
// returns the agreed status.
absl::Status FinishMpi(absl::Status status);

// Fills `request`'s rank-agreement hooks for the MPI job.
void SetRankHooks(const MpiRank& rank, RunRequest& request);

// --tp=N --run --interpret: every rank's shard of `graph` interpreted as threads of this process
// on the same inputs; prints rank 0's outputs' header and, with `verify`, each rank's agreement
// with the single-process interpreter. Returns rank 0's outputs.
absl::StatusOr<std::vector<Tensor>> InterpretRanks(const Graph& graph, int size, const RunRequest& request,
                                                   std::ostream& out);

}  // namespace braid

#endif  // BRAID_TOOLS_TENSOR_PARALLEL_DRIVER_H_
