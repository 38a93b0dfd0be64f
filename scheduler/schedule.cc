// Printing schedules: text, byte counts and Graphviz.
#include "scheduler/schedule.h"

#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace braid {
namespace {

void AppendValue(std::string* out, const Value* v) { absl::StrAppend(out, "%", v->name()); }
void AppendNode(std::string* out, const Node* n) { AppendValue(out, n->result()); }

std::string List(const std::vector<const Value*>& values) {
  return absl::StrCat("[", absl::StrJoin(values, ", ", AppendValue), "]");
}

}  // namespace

const char* KernelKindName(KernelKind kind) {
  switch (kind) {
    case KernelKind::kGemm: return "gemm";
    case KernelKind::kGroupedGemm: return "grouped_gemm";
    case KernelKind::kPointwise: return "pointwise";
    case KernelKind::kAllReduce: return "all_reduce";
  }
  return "?";
}

std::string EliminatedBytes(const Schedule& schedule, const DimBindings& dims) {
  // monomial (sorted symbols) -> coefficient in bytes
  std::map<std::vector<std::string>, int64_t> terms;
  bool all_bound = true, overflow = false;
  int64_t bound_total = 0;
  for (const Value* v : schedule.eliminated) {
    const TensorType& t = v->type().tensor();
    std::vector<std::string> symbols;
    int64_t coefficient = DTypeBytes(t.dtype), bound = DTypeBytes(t.dtype);
    for (const Dim& d : t.shape) {
      if (d.is_symbolic()) {
        symbols.push_back(d.symbol());
        auto it = dims.find(d.symbol());
        if (it == dims.end()) {
          all_bound = false;
        } else {
          overflow |= __builtin_mul_overflow(bound, it->second, &bound);
        }
      } else {
        overflow |= __builtin_mul_overflow(coefficient, d.value(), &coefficient);
        overflow |= __builtin_mul_overflow(bound, d.value(), &bound);
      }
    }
    std::sort(symbols.begin(), symbols.end());
    overflow |= __builtin_add_overflow(terms[symbols], coefficient, &terms[symbols]);
    overflow |= __builtin_add_overflow(bound_total, bound, &bound_total);
  }
  if (overflow) return "more than 2^63 bytes";
  if (terms.empty()) return "0";
  std::vector<std::string> parts;
  for (const auto& [symbols, coefficient] : terms) {
    std::vector<std::string> factors = {absl::StrCat(coefficient)};
    factors.insert(factors.end(), symbols.begin(), symbols.end());
    parts.push_back(absl::StrJoin(factors, "*"));
  }
  std::string text = absl::StrJoin(parts, " + ");
  bool symbolic = terms.size() > 1 || !terms.begin()->first.empty();
  if (symbolic && all_bound) {
    std::vector<std::string> bindings;
    for (const auto& [name, value] : dims) bindings.push_back(absl::StrCat(name, "=", value));
    absl::StrAppend(&text, " = ", bound_total, " at ", absl::StrJoin(bindings, ","));
  }
  return text;
}

std::string PrintSchedule(const Schedule& schedule, const DimBindings& dims) {
  std::string out;
  for (size_t i = 0; i < schedule.kernels.size(); ++i) {
    const Kernel& k = schedule.kernels[i];
    std::vector<const Node*> body;
    for (const Node* n : k.nodes) {
      if (std::find(k.epilogues.begin(), k.epilogues.end(), n) == k.epilogues.end()) body.push_back(n);
    }
    absl::StrAppend(&out, "kernel ", i, ": ", KernelKindName(k.kind), " [",
                    absl::StrJoin(body, ", ", AppendNode), "]");
    if (!k.epilogues.empty()) {
      absl::StrAppend(&out, " epilogue [", absl::StrJoin(k.epilogues, ", ", AppendNode), "]");
    }
    absl::StrAppend(&out, " in ", List(k.inputs), " out ", List(k.outputs), "\n");
  }
  absl::StrAppend(&out, "eliminated: ",
                  schedule.eliminated.empty() ? "(none)"
                                              : absl::StrJoin(schedule.eliminated, ", ", AppendValue),
                  "\n");
  absl::StrAppend(&out, "bytes saved: ", EliminatedBytes(schedule, dims), "\n");
  return out;
}

std::string ScheduleToDot(const Schedule& schedule) {
  const Graph& g = *schedule.graph;
  std::string out = absl::StrCat("digraph \"", g.name(), "\" {\n  rankdir=TB;\n  node [shape=box, fontname=\"monospace\"];\n");
  for (const Value* p : g.params()) {
    absl::StrAppend(&out, "  \"", p->name(), "\" [shape=ellipse, label=\"%", p->name(), "\\n",
                    p->type().ToString(), "\"];\n");
  }
  for (size_t i = 0; i < schedule.kernels.size(); ++i) {
    const Kernel& k = schedule.kernels[i];
    absl::StrAppend(&out, "  subgraph cluster_", i, " {\n    label=\"kernel ", i, ": ",
                    KernelKindName(k.kind), "\";\n    style=rounded;\n");
    for (const Node* n : k.nodes) {
      absl::StrAppend(&out, "    \"", n->result()->name(), "\" [label=\"%", n->result()->name(),
                      " = ", n->info().name, "\"];\n");
    }
    absl::StrAppend(&out, "  }\n");
  }
  for (const auto& n : g.nodes()) {
    for (const Value* operand : n->operands()) {
      const bool in_memory = operand->is_param() || schedule.materialized.contains(operand);
      absl::StrAppend(&out, "  \"", operand->name(), "\" -> \"", n->result()->name(), "\"",
                      in_memory ? "" : " [style=dashed]", ";\n");
    }
  }
  absl::StrAppend(&out, "}\n");
  return out;
}

}  // namespace braid
