// MPI start-up and shut-down for the driver, and the in-process simulation of the ranks.
#include "tools/tensor_parallel_driver.h"

#include <chrono>
#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "ir/compare.h"
#include "ir/interpreter.h"
#include "ir/status_macros.h"
#include "mpi/mpi_collective.h"
#include "passes/tensor_parallel_ranks.h"
#include "tools/run_inputs.h"

namespace braid {
namespace {

bool started = false;
// Once an agreement has failed, every rank knows and no further agreement may be made (a rank
// that failed on its own joins the others' next agreement from FinishMpi, which then pairs
// with the agreement point the others reached).
bool agreed_failure = false;

absl::Status Agree(absl::Status status) {
  absl::Status agreed = AgreeAcrossRanks(status, MPI_COMM_WORLD);
  agreed_failure |= !agreed.ok();
  return agreed;
}

// A collective that times the one it wraps.
class TimedCollective : public Collective {
 public:
  TimedCollective(std::shared_ptr<Collective> inner, std::shared_ptr<std::atomic<int64_t>> ns)
      : inner_(std::move(inner)), ns_(std::move(ns)) {}
  int rank() const override { return inner_->rank(); }
  int size() const override { return inner_->size(); }
  absl::Status AllReduceSum(DType dtype, const void* in, void* out, int64_t count) override {
    const auto start = std::chrono::steady_clock::now();
    absl::Status status = inner_->AllReduceSum(dtype, in, out, count);
    *ns_ += std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - start).count();
    return status;
  }

 private:
  std::shared_ptr<Collective> inner_;
  std::shared_ptr<std::atomic<int64_t>> ns_;
};

// Set by Open MPI's mpirun, MPICH's Hydra and Slurm's PMI, respectively.
bool LaunchedByMpirun() {
  for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK"}) {
    if (std::getenv(name) != nullptr) return true;
  }
  return false;
}

}  // namespace

bool MpiStarted() { return started; }

absl::StatusOr<MpiRank> StartMpi(int size, int* argc, char*** argv) {
  if (!LaunchedByMpirun()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--tp=", size, " --run runs one rank per process: start it with `mpirun -np ", size,
        " braid --tp=", size, " ...` (or add --interpret to run every rank's shard in this process)"));
  }
  MPI_Init(argc, argv);
  started = true;
  MpiRank out;
  MPI_Comm_rank(MPI_COMM_WORLD, &out.rank);
  MPI_Comm_size(MPI_COMM_WORLD, &out.size);
  if (out.size != size) {
    return absl::InvalidArgumentError(absl::StrCat("--tp=", size, " needs ", size, " MPI processes, but mpirun started ",
                                                   out.size, " (mpirun -np ", size, ")"));
  }
  BRAID_ASSIGN_OR_RETURN(std::shared_ptr<MpiCollective> mpi, MpiCollective::Create(MPI_COMM_WORLD));
  out.all_reduce_ns = std::make_shared<std::atomic<int64_t>>(0);
  out.collective = std::make_shared<TimedCollective>(mpi, out.all_reduce_ns);
  return out;
}

absl::Status FinishMpi(absl::Status status) {
  if (!started) return status;
  absl::Status agreed = agreed_failure ? status : Agree(status);
  MPI_Finalize();
  started = false;
  return agreed;
}

void SetRankHooks(const MpiRank& rank, RunRequest& request) {
  request.compile.collective = rank.collective;
  request.agree = Agree;
  request.agree_min = [](int64_t n) { return MinAcrossRanks(n, MPI_COMM_WORLD); };
  request.all_reduce_ns = rank.all_reduce_ns.get();
}

absl::StatusOr<std::vector<Tensor>> InterpretRanks(const Graph& graph, int size, const RunRequest& request,
                                                   std::ostream& out) {
  DimBindings dims = request.dims;
  BRAID_ASSIGN_OR_RETURN(std::vector<Tensor> inputs, MakeInputs(graph, request.files, request.seed, dims));
  BRAID_ASSIGN_OR_RETURN(auto ranks, InterpretTensorParallel(graph, inputs, dims, size));
  out << "@" << graph.name() << " (interpreter, " << size << " ranks as threads; rank 0's outputs):\n";
  if (request.verify) {
    BRAID_ASSIGN_OR_RETURN(auto reference, Interpret(graph, inputs, dims));
    for (int r = 0; r < size; ++r) {
      const Comparison c = CompareOutputs(reference, ranks[r]);
      out << absl::StrFormat("verify: rank %d of %d: max_abs_err=%.3g max_rel_err=%.3g: %s\n", r, size,
                             c.max_abs_error, c.max_rel_error, c.ok ? "ok" : "MISMATCH");
      if (!c.ok) {
        return absl::InvalidArgumentError(absl::StrCat("--verify: rank ", r, " of @", graph.name(),
                                                       " differs from the single-process graph: ", c.first_mismatch));
      }
    }
  }
  return std::move(ranks[0]);
}

}  // namespace braid
