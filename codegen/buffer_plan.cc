// Buffer slots for compiled graphs.
#include "codegen/buffer_plan.h"

#include <algorithm>
#include <set>

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
        if (d.is_symbolic()) symbols.insert(d.symbol());
      }
    }
  };
  auto add = [&](const Value* v) {
    plan.value_slot[v] = plan.num_slots();
    plan.slot_value.push_back(v);
  };
  for (const Value* p : graph.params()) {
    add(p);
    note(p->type());
  }
  for (const auto& node : graph.nodes()) {
    note(node->result()->type());
    if (schedule.materialized.contains(node->result())) add(node->result());
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
    if (!t->info().Has(kTraitMultiOutput)) {
      add_gemm(GemmSpec{t, 0, t->op(), t->operand(0), t->operand(1),
                        t->operands().size() == 3 ? t->operand(2) : nullptr, t->result(), -1});
      continue;
    }
    const auto& kinds = *t->IdentListAttr("kind");
    const auto& act = *t->IntListAttr("act");
    const auto& weight = *t->IntListAttr("weight");
    const auto& bias = *t->IntListAttr("bias");
    for (const Node* n : kernel.nodes) {
      if (!n->info().Has(kTraitProjection)) continue;
      const int g = static_cast<int>(*n->IntAttr("index"));
      // Two multi_outputs of one index would compute the GEMM twice; they read the same tile.
      bool seen = false;
      for (const GemmSpec& s : plan.gemms) seen |= s.template_node == t && s.index == g;
      if (seen) continue;
      add_gemm(GemmSpec{t, g, kinds[g] == "linear" ? OpKind::kLinear : OpKind::kMatmul,
                        t->operand(act[g]), t->operand(weight[g]),
                        bias[g] >= 0 ? t->operand(bias[g]) : nullptr, n->result(), -1});
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
