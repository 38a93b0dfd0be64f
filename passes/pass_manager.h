// Runs a list of passes over every graph of a module, verifying after each pass and optionally
// printing the IR after each one (`--print-after-all`) or a pass's reasons (`--debug-only`).
#ifndef BRAID_PASSES_PASS_MANAGER_H_
#define BRAID_PASSES_PASS_MANAGER_H_

#include <memory>
#include <ostream>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "passes/pass.h"

namespace braid {

struct PassManagerOptions {
  bool verify_each = true;             // run the verifier after every pass
  std::ostream* print_after_all = nullptr;
  std::ostream* debug_stream = nullptr;  // receives explanations of the passes in debug_only
  std::set<std::string> debug_only;
};

class PassManager {
 public:
  explicit PassManager(PassManagerOptions options = {}) : options_(std::move(options)) {}

  void Add(std::unique_ptr<Pass> pass) { passes_.push_back(std::move(pass)); }
  const std::vector<std::unique_ptr<Pass>>& passes() const { return passes_; }

  // Runs every pass on `graph` in order; true if any changed it. A verifier failure after a
  // pass is reported as an internal error naming the pass.
  absl::StatusOr<bool> Run(Graph& graph);
  absl::StatusOr<bool> Run(Module& module);

 private:
  PassManagerOptions options_;
  std::vector<std::unique_ptr<Pass>> passes_;
};

}  // namespace braid

#endif  // BRAID_PASSES_PASS_MANAGER_H_
