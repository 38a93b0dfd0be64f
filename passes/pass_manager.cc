// The pass manager.
#include "passes/pass_manager.h"

#include "absl/strings/str_cat.h"
#include "ir/printer.h"
#include "ir/status_macros.h"
#include "ir/verifier.h"

namespace braid {

absl::StatusOr<bool> PassManager::Run(Graph& graph) {
  bool changed_any = false;
  for (const auto& pass : passes_) {
    const bool debug = options_.debug_stream != nullptr &&
                       options_.debug_only.count(std::string(pass->name()));
    pass->set_debug_stream(debug ? options_.debug_stream : nullptr);
    if (debug) *options_.debug_stream << "[" << pass->name() << "] on @" << graph.name() << "\n";
    BRAID_ASSIGN_OR_RETURN(bool changed, pass->Run(graph));
    pass->set_debug_stream(nullptr);
    changed_any |= changed;
    if (options_.verify_each) {
      absl::Status verified = VerifyGraph(graph);
      if (!verified.ok()) {
        return absl::InternalError(absl::StrCat("braid internal error: the graph does not verify "
                                                "after pass '", pass->name(), "':\n",
                                                verified.message()));
      }
    }
    if (options_.print_after_all != nullptr) {
      *options_.print_after_all << "// -----// IR Dump After " << pass->name()
                                << (changed ? "" : " (no change)") << " //----- //\n"
                                << PrintGraph(graph);
    }
  }
  return changed_any;
}

absl::StatusOr<bool> PassManager::Run(Module& module) {
  bool changed = false;
  for (auto& graph : module.graphs) {
    BRAID_ASSIGN_OR_RETURN(bool c, Run(*graph));
    changed |= c;
  }
  return changed;
}

}  // namespace braid
