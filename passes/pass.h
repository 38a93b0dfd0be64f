// The pass contract (as in XLA's HLO passes): a pass has a kebab-case `name()`, used by
// `--passes=` and in dumps, and `Run(Graph&)` returning whether it changed the graph. "Pattern
// not found" is `false`, never an error; errors are for broken input only.
#ifndef BRAID_PASSES_PASS_H_
#define BRAID_PASSES_PASS_H_

#include <ostream>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "ir/graph.h"

namespace braid {

class Pass {
 public:
  virtual ~Pass() = default;
  virtual absl::string_view name() const = 0;
  virtual absl::StatusOr<bool> Run(Graph& graph) = 0;

  // Where the pass explains its decisions (`--debug-only=<name>`); null when nobody listens,
  // so explanations cost nothing otherwise.
  void set_debug_stream(std::ostream* os) { debug_ = os; }

 protected:
  std::ostream* debug() const { return debug_; }

 private:
  std::ostream* debug_ = nullptr;
};

}  // namespace braid

#endif  // BRAID_PASSES_PASS_H_
