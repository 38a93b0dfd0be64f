// The runtime many compiled graphs share: its pool and its JIT.
#include "codegen/shared_runtime.h"

#include <algorithm>
#include <chrono>
#include <thread>

#include "codegen/jit.h"
#include "ir/status_macros.h"

namespace braid {

absl::StatusOr<std::shared_ptr<Runtime>> Runtime::Create(const Options& options) {
  std::shared_ptr<Runtime> runtime(new Runtime());
  BRAID_ASSIGN_OR_RETURN(runtime->lljit_, CreateSharedLljit());
  const int threads = options.threads > 0 ? options.threads
                                          : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  runtime->pool_ = std::make_unique<ThreadPool>(threads, std::chrono::microseconds(std::max(0, options.spin_us)));
  return runtime;
}

absl::StatusOr<std::shared_ptr<Runtime>> Runtime::Default() {
  // Leaked on purpose: destroying it at exit would race with LLVM's own static destructors and
  // with graphs that other static objects still hold.
  static const auto* const runtime = new absl::StatusOr<std::shared_ptr<Runtime>>(Create(Options()));
  return *runtime;
}

Runtime::~Runtime() = default;

}  // namespace braid
