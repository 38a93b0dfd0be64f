// The embedding API's entry points that wire the layers together.
#include "braid.h"

#include "ir/parser.h"
#include "ir/status_macros.h"
#include "ir/verifier.h"

namespace braid {

absl::StatusOr<Module> ParseAndVerify(const std::string& filename, std::string text) {
  BRAID_ASSIGN_OR_RETURN(Module module, ParseModule(filename, std::move(text)));
  BRAID_RETURN_IF_ERROR(VerifyModule(module));
  return module;
}

absl::StatusOr<bool> Optimize(Graph& graph, const PipelineOptions& options) {
  return RunDefaultPipeline(graph, options);
}

}  // namespace braid
