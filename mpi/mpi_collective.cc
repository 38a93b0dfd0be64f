// MPI_Allreduce in chunks of at most INT_MAX elements (MPI counts are int).
#include "mpi/mpi_collective.h"

#include <algorithm>
#include <climits>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "ir/scalar_convert.h"

namespace braid {
namespace {

absl::Status MpiError(int code, absl::string_view what) {
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  MPI_Error_string(code, text, &length);
  return absl::UnavailableError(absl::StrCat(what, ": ", std::string(text, length)));
}

absl::Status SumF32(const float* in, float* out, int64_t count, MPI_Comm comm) {
  for (int64_t done = 0; done < count;) {
    const int chunk = static_cast<int>(std::min<int64_t>(count - done, INT_MAX));
    const int rc = MPI_Allreduce(in == out ? MPI_IN_PLACE : in + done, out + done, chunk, MPI_FLOAT,
                                 MPI_SUM, comm);
    if (rc != MPI_SUCCESS) return MpiError(rc, "MPI_Allreduce");
    done += chunk;
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::shared_ptr<MpiCollective>> MpiCollective::Create(MPI_Comm comm) {
  int initialized = 0;
  MPI_Initialized(&initialized);
  if (!initialized) return absl::FailedPreconditionError("MpiCollective: MPI is not initialised");
  MPI_Comm own;
  int rc = MPI_Comm_dup(comm, &own);
  if (rc != MPI_SUCCESS) return MpiError(rc, "MPI_Comm_dup");
  MPI_Comm_set_errhandler(own, MPI_ERRORS_RETURN);
  int rank = 0, size = 1;
  MPI_Comm_rank(own, &rank);
  MPI_Comm_size(own, &size);
  return std::shared_ptr<MpiCollective>(new MpiCollective(own, rank, size));
}

MpiCollective::~MpiCollective() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (!finalized) MPI_Comm_free(&comm_);
}

absl::Status MpiCollective::AllReduceSum(DType dtype, const void* in, void* out, int64_t count) {
  if (dtype == DType::kF32) {
    return SumF32(static_cast<const float*>(in), static_cast<float*>(out), count, comm_);
  }
  if (dtype != DType::kBF16) {
    return absl::InvalidArgumentError(absl::StrCat("all_reduce sums f32 or bf16, not ", DTypeName(dtype)));
  }
  std::vector<float> wide(static_cast<size_t>(count));
  const auto* x = static_cast<const uint16_t*>(in);
  for (int64_t i = 0; i < count; ++i) wide[i] = Bf16ToF32(x[i]);
  if (absl::Status s = SumF32(wide.data(), wide.data(), count, comm_); !s.ok()) return s;
  auto* y = static_cast<uint16_t*>(out);
  for (int64_t i = 0; i < count; ++i) y[i] = F32ToBf16(wide[i]);
  return absl::OkStatus();
}

absl::Status AgreeAcrossRanks(const absl::Status& local, MPI_Comm comm) {
  int rank = 0, size = 1;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &size);
  int mine = local.ok() ? size : rank, first = size;
  if (MPI_Allreduce(&mine, &first, 1, MPI_INT, MPI_MIN, comm) != MPI_SUCCESS) {
    return absl::UnavailableError("the ranks could not agree (MPI_Allreduce failed)");
  }
  if (first == size) return absl::OkStatus();
  // The failing rank tells the others what went wrong.
  std::string message = first == rank ? std::string(local.message()) : std::string();
  int code = static_cast<int>(local.code());
  int length = static_cast<int>(message.size());
  MPI_Bcast(&code, 1, MPI_INT, first, comm);
  MPI_Bcast(&length, 1, MPI_INT, first, comm);
  message.resize(length);
  MPI_Bcast(message.data(), length, MPI_CHAR, first, comm);
  if (first == rank) return local;
  return absl::Status(static_cast<absl::StatusCode>(code), absl::StrCat("rank ", first, ": ", message));
}

int64_t MinAcrossRanks(int64_t local, MPI_Comm comm) {
  long long mine = local, min = local;
  MPI_Allreduce(&mine, &min, 1, MPI_LONG_LONG, MPI_MIN, comm);
  return min;
}

}  // namespace braid
