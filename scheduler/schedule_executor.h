// Executes a schedule with the reference interpreter's op semantics, kernel by kernel, and
// honours its buffer plan: a kernel reads only graph inputs, values computed inside itself and
// values an earlier kernel materialised; everything else is dropped when the kernel ends. Any
// read the plan does not allow is a scheduler bug (an internal error). Comparing its results
// with `Interpret` checks a schedule without any codegen.
#ifndef BRAID_SCHEDULER_SCHEDULE_EXECUTOR_H_
#define BRAID_SCHEDULER_SCHEDULE_EXECUTOR_H_

#include <vector>

#include "absl/status/statusor.h"
#include "ir/tensor.h"
#include "scheduler/schedule.h"

namespace braid {

absl::StatusOr<std::vector<Tensor>> ExecuteSchedule(const Schedule& schedule,
                                                        const std::vector<Tensor>& inputs,
                                                        const DimBindings& dims);

}  // namespace braid

#endif  // BRAID_SCHEDULER_SCHEDULE_EXECUTOR_H_
