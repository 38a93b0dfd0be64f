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
    case KernelKind::kCopy: return "copy";
    case KernelKind::kReduction: return "reduction";
    case KernelKind::kBatchMatmul: return "batch_matmul";
    case KernelKind::kAttention: return "attention";
    case KernelKind::kView: return "view";
  }
  return "?";
}

std::string EliminatedBytes(const Schedule& schedule, const DimBindings& dims) {
  // The bytes as a polynomial in the symbolic dims: monomial (sorted symbols) -> coefficient.
  using Polynomial = std::map<Dim::Monomial, int64_t>;
  Polynomial total;
  bool overflow = false;
  for (const Value* v : schedule.eliminated) {
    const TensorType& t = v->type().tensor();
    Polynomial bytes = {{{}, DTypeBytes(t.dtype)}};
    for (const Dim& d : t.shape) {
      Polynomial product;
      for (const auto& [ma, ca] : bytes) {
        for (const auto& [mb, cb] : d.terms()) {
          Dim::Monomial m = ma;
          m.insert(m.end(), mb.begin(), mb.end());
          std::sort(m.begin(), m.end());
          int64_t c;
          overflow |= __builtin_mul_overflow(ca, cb, &c) || __builtin_add_overflow(product[m], c, &product[m]);
        }
      }
      bytes = std::move(product);
    }
    for (const auto& [m, c] : bytes) overflow |= __builtin_add_overflow(total[m], c, &total[m]);
  }
  if (overflow) return "more than 2^63 bytes";
  if (total.empty()) return "0";
  std::vector<std::string> parts;
  bool all_bound = true, symbolic = false;
  int64_t bound_total = 0;
  for (const auto& [symbols, coefficient] : total) {
    std::vector<std::string> factors = {absl::StrCat(coefficient)};
    factors.insert(factors.end(), symbols.begin(), symbols.end());
    parts.push_back(absl::StrJoin(factors, "*"));
    int64_t term = coefficient;
    for (const std::string& name : symbols) {
      symbolic = true;
      auto it = dims.find(name);
      if (it == dims.end()) {
        all_bound = false;
      } else {
        overflow |= __builtin_mul_overflow(term, it->second, &term);
      }
    }
    overflow |= __builtin_add_overflow(bound_total, term, &bound_total);
  }
  std::string text = absl::StrJoin(parts, " + ");
  if (symbolic && all_bound && !overflow) {
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
