// The canonical IR printer.
#include "ir/printer.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace braid {
namespace {

void AppendValueName(std::string* out, const Value* v) { absl::StrAppend(out, "%", v->name()); }

}  // namespace

std::string PrintAttributes(const Attributes& attrs) {
  return absl::StrCat("{",
                      absl::StrJoin(attrs, ", ",
                                    [](std::string* o, const auto& kv) {
                                      absl::StrAppend(o, kv.first, " = ", AttrValueToString(kv.second));
                                    }),
                      "}");
}

std::string PrintNode(const Node& node) {
  std::string out = absl::StrCat("%", node.result()->name(), " = ", node.info().name, "(",
                                 absl::StrJoin(node.operands(), ", ", AppendValueName), ")");
  if (!node.attrs().empty()) absl::StrAppend(&out, " ", PrintAttributes(node.attrs()));
  absl::StrAppend(&out, " : ", node.result()->type().ToString());
  return out;
}

namespace {

// A tensor-parallel rank's graph says what it holds, as comments (the parser skips them: a
// parsed copy is compiled from the slices themselves).
std::string TensorParallelComment(const Graph& graph) {
  if (!graph.tensor_parallel()) return "";
  const TensorParallelInfo& tp = *graph.tensor_parallel();
  std::string out = absl::StrCat("// tensor parallel: rank ", tp.rank, " of ", tp.size, "\n");
  for (const auto& [name, slice] : tp.slices) {
    absl::StrAppend(&out, "//   %", name, " holds [", slice.begin, ", ", slice.end, ") of ",
                    slice.full, " along axis ", slice.axis, "\n");
  }
  return out;
}

}  // namespace

std::string PrintGraph(const Graph& graph) {
  std::string out = TensorParallelComment(graph);
  absl::StrAppend(&out,
      "graph @", graph.name(), "(",
      absl::StrJoin(graph.params(), ", ",
                    [](std::string* o, const Value* p) {
                      absl::StrAppend(o, "%", p->name(), ": ", p->is_const() ? "const " : "",
                                      p->type().ToString());
                    }),
      ") -> (",
      absl::StrJoin(graph.outputs(), ", ",
                    [](std::string* o, const Value* v) { absl::StrAppend(o, v->type().ToString()); }),
      ") {\n");
  for (const auto& node : graph.nodes()) absl::StrAppend(&out, "  ", PrintNode(*node), "\n");
  absl::StrAppend(&out, "  return ", absl::StrJoin(graph.outputs(), ", ", AppendValueName), "\n}\n");
  return out;
}

std::string PrintModule(const Module& module) {
  std::string out;
  for (const auto& graph : module.graphs) {
    if (!out.empty()) out += "\n";
    out += PrintGraph(*graph);
  }
  return out;
}

}  // namespace braid
