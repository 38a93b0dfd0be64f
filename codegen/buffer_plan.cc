// Buffer slots for compiled graphs.
#include "codegen/buffer_plan.h"

#include <algorithm>
#include <set>

#include "absl/container/flat_hash_set.h"

#include "ir/gemm.h"

namespace braid {

int BufferPlan::SymbolIndex(const std::string& symbol) const {
  auto it = std::lower_bound(symbols.begin(), symbols.end(), symbol);
  return (it != symbols.end() && *it == symbol) ? static_cast<int>(it - symbols.begin()) : -1;
}

BufferPlan PlanBuffers(const Schedule& schedule) {
  BufferPlan plan;
  const Graph& graph = *schedule.graph;
  std::set<std::string> symbols;
  auto note = [&](const Type& type) {
    for (const TensorType& t : type.layout()) {
      for (const Dim& d : t.shape) {
        for (const std::string& name : d.Symbols()) symbols.insert(name);
      }
    }
  };
  auto add = [&](const Value* v) {
    plan.value_slot[v] = plan.num_slots();
    plan.slot_value.push_back(v);
  };
  absl::flat_hash_set<const Node*> views;
  for (const Kernel& kernel : schedule.kernels) {
    if (kernel.kind == KernelKind::kView) views.insert(kernel.nodes.front());
  }
  for (const Value* p : graph.params()) {
    add(p);
    note(p->type());
  }
  for (const auto& node : graph.nodes()) {
    note(node->result()->type());
    if (!schedule.materialized.contains(node->result())) continue;
    if (views.contains(node.get())) {
      plan.value_slot[node->result()] = plan.value_slot.at(node->operand(0));  // the same bytes
    } else {
      add(node->result());
    }
  }
  plan.symbols.assign(symbols.begin(), symbols.end());
  for (const Kernel& kernel : schedule.kernels) {
    const Node* t = kernel.template_node();
    if (t == nullptr) continue;
    auto add_gemm = [&](GemmSpec spec) {
      spec.template_node = t;
      spec.packed_slot = plan.num_slots();
      plan.slot_value.push_back(nullptr);
      plan.gemms.push_back(spec);
    };
    const std::vector<GemmOperands> gemms = GemmsOf(*t);
    auto spec_of = [&](int g, const Value* result) {
      const GemmValues v = GemmValuesOf(*t, gemms[g]);
      return GemmSpec{t, g, v.kind, v.act, v.weight, v.bias, v.scale, result, -1};
    };
    if (!t->info().Has(kTraitMultiOutput)) {
      add_gemm(spec_of(0, t->result()));
      continue;
    }
    for (const Node* n : kernel.nodes) {
      if (!n->info().Has(kTraitProjection)) continue;
      const int g = static_cast<int>(*n->IntAttr("index"));
      // Two multi_outputs of one index would compute the GEMM twice; they read the same tile.
      bool seen = false;
      for (const GemmSpec& s : plan.gemms) seen |= s.template_node == t && s.index == g;
      if (seen) continue;
      add_gemm(spec_of(g, n->result()));
    }
  }
  return plan;
}

std::vector<const GemmSpec*> GemmsOf(const BufferPlan& plan, const Kernel& kernel) {
  std::vector<const GemmSpec*> out;
  for (const GemmSpec& s : plan.gemms) {
    if (s.template_node == kernel.template_node()) out.push_back(&s);
  }
  return out;
}

}  // namespace braid
