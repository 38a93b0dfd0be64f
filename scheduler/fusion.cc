// Lowering to scheduler nodes, two-phase fusion and buffer planning.
#include "scheduler/fusion.h"

#include <algorithm>
#include <queue>
#include <set>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "ir/status_macros.h"
#include "scheduler/head_view.h"

namespace braid {
namespace {

class Scheduler {
 public:
  Scheduler(const Graph& graph, const ScheduleOptions& options) : graph_(graph), options_(options) {}

  Schedule Run() {
    for (size_t i = 0; i < graph_.nodes().size(); ++i) position_[graph_.nodes()[i].get()] = i;
    LowerTemplates();  // lowering + phase 1
    for (const auto& node : graph_.nodes()) {  // phase 2
      if (node->info().Has(kTraitPointwise)) {
        PlacePointwise(*node);
      } else if (deferred_.contains(node.get())) {
        PlaceHeadView(*node);
      }
    }
    return Plan();  // buffer planning + kernel order
  }

 private:
  // The kernel computing `v`; -1 for graph inputs and for nodes not placed yet (in phase 1,
  // templates are placed before the pointwise nodes that feed them).
  int KernelOf(const Value* v) const {
    if (v->is_param()) return -1;
    auto it = kernel_of_.find(v->def());
    return it == kernel_of_.end() ? -1 : it->second;
  }

  int NewKernel(KernelKind kind, const Node& first) {
    kernels_.push_back(Kernel{kind, {}, {}, {}, {}});
    deps_.emplace_back();
    readers_.emplace_back();
    const int k = static_cast<int>(kernels_.size()) - 1;
    Join(k, first, /*epilogue=*/false);
    return k;
  }

  void Join(int k, const Node& node, bool epilogue) {
    kernels_[k].nodes.push_back(&node);
    if (epilogue) kernels_[k].epilogues.push_back(&node);
    kernel_of_[&node] = k;
    for (const Value* v : node.operands()) {
      int producer = KernelOf(v);
      if (producer >= 0 && producer != k) AddDep(k, producer);
    }
    // Templates placed in phase 1 may already read this node's value: they depend on k now.
    for (const Node* user : node.result()->users()) {
      auto placed = kernel_of_.find(user);
      if (placed != kernel_of_.end() && placed->second != k) AddDep(placed->second, k);
    }
  }

  // Kernel `reader` reads a value of kernel `producer`.
  void AddDep(int reader, int producer) {
    deps_[reader].insert(producer);
    readers_[producer].insert(reader);
  }

  // Does kernel `a` (!= b) read, directly or transitively, a value of kernel `b`? Searches
  // from both ends, a level at a time on the smaller frontier, so the cost is about that of
  // the smaller side: in a stack of layers, a late kernel has few readers yet and an early
  // one few dependences, where a one-sided search would walk every earlier layer.
  bool DependsOn(int a, int b) const {
    std::vector<int> forward = {a}, backward = {b};
    absl::flat_hash_set<int> reaches_from_a = {a}, reaches_b = {b};
    while (!forward.empty() && !backward.empty()) {
      const bool go_forward = forward.size() <= backward.size();
      std::vector<int>& frontier = go_forward ? forward : backward;
      absl::flat_hash_set<int>& mine = go_forward ? reaches_from_a : reaches_b;
      const absl::flat_hash_set<int>& theirs = go_forward ? reaches_b : reaches_from_a;
      std::vector<int> next;
      for (int k : frontier) {
        for (int d : go_forward ? deps_[k] : readers_[k]) {
          if (theirs.contains(d)) return true;
          if (mine.insert(d).second) next.push_back(d);
        }
      }
      frontier = std::move(next);
    }
    return false;
  }

  std::string Describe(int k) const {
    const Kernel& kernel = kernels_[k];
    return absl::StrCat("the ", KernelKindName(kernel.kind), " kernel of %",
                        kernel.nodes.front()->result()->name());
  }

  // Lowering and phase 1: one kernel per GEMM template (a multi-output template is a grouped
  // GEMM); the projections (multi_output) join the template they read. The op table says which
  // op is which.
  void LowerTemplates() {
    for (const auto& node : graph_.nodes()) {
      const OpInfo& info = node->info();
      if (info.Has(kTraitTemplate)) {
        NewKernel(info.Has(kTraitMultiOutput) ? KernelKind::kGroupedGemm : KernelKind::kGemm, *node);
      } else if (info.Has(kTraitProjection)) {
        Join(kernel_of_.at(node->operand(0)->def()), *node, /*epilogue=*/false);
      } else if (info.Has(kTraitCollective)) {
        NewKernel(KernelKind::kAllReduce, *node);
      } else if (IsHeadTransposeOfAttention(*node)) {
        // [B, Hq, T, D] -> [B, T, Hq, D] of an attention result nothing else reads: the attention
        // kernel stores its rows there directly (no copy kernel).
        Join(kernel_of_.at(node->operand(0)->def()), *node, /*epilogue=*/false);
      } else if (HeadSplitDim(*node) > 0 || IsHeadTranspose(*node) || node->op() == OpKind::kRotateHalf) {
        // May view a GEMM result as heads (scheduler/head_view.h): placed in phase 2, after the
        // pointwise epilogues it may read.
        deferred_.insert(node.get());
      } else if (node->op() == OpKind::kReshape && !IsOutput(node->result())) {
        NewKernel(KernelKind::kView, *node);
      } else if (info.Has(kTraitShape)) {
        NewKernel(KernelKind::kCopy, *node);
      } else if (info.Has(kTraitReduction)) {
        NewKernel(KernelKind::kReduction, *node);
      } else if (info.Has(kTraitBatchMatmul)) {
        NewKernel(KernelKind::kBatchMatmul, *node);
      } else if (info.Has(kTraitAttention)) {
        NewKernel(KernelKind::kAttention, *node);
      }
    }
  }

  bool IsHeadTransposeOfAttention(const Node& node) const {
    if (node.op() != OpKind::kTranspose) return false;
    const std::vector<int64_t>* perm = node.IntListAttr("perm");
    const Value* x = node.operand(0);
    return perm != nullptr && *perm == std::vector<int64_t>{0, 2, 1, 3} && x->def() != nullptr &&
           x->def()->op() == OpKind::kAttention && x->users().size() == 1 && !IsOutput(x);
  }

  bool IsOutput(const Value* v) const {
    return std::find(graph_.outputs().begin(), graph_.outputs().end(), v) != graph_.outputs().end();
  }

  // Why `node` cannot join kernel `k`, or "" if it can.
  std::string WhyNot(const Node& node, int k) const {
    const Type& result = node.result()->type();
    const Value* first_in_k = nullptr;
    for (const Value* v : node.operands()) {
      int producer = KernelOf(v);
      if (producer == k) {
        if (v->type() != result) {
          return absl::StrCat("its iteration space ", result.ToString(), " is not that of %",
                              v->name(), " (", v->type().ToString(), ")");
        }
        // One type, two element orders (a tile value and a heads view of equal static shapes).
        if (first_in_k != nullptr && LayoutOf(v) != LayoutOf(first_in_k)) {
          return absl::StrCat("%", v->name(), " and %", first_in_k->name(),
                              " index the GEMM result differently (a heads view and another)");
        }
        first_in_k = v;
      } else if (producer >= 0 && DependsOn(producer, k)) {
        return absl::StrCat("it reads %", v->name(), " from ", Describe(producer),
                            ", which depends on this kernel: fusing would make a cycle");
      }
    }
    return "";
  }

  void Explain(const Node& node, const std::string& why) const {
    if (options_.debug) *options_.debug << "fusion: %" << node.result()->name() << " " << why << "\n";
  }

  void PlacePointwise(const Node& node) {
    // Candidate kernels: those computing an operand. GEMM templates first (an epilogue saves
    // a whole output tile's trip to memory), then pointwise kernels; within each, the one whose
    // producer comes latest in the graph first.
    std::vector<std::tuple<bool, size_t, int>> ranked;
    for (const Value* v : node.operands()) {
      const int k = KernelOf(v);
      if (k >= 0) ranked.push_back({kernels_[k].is_template(), position_.at(v->def()), k});
    }
    std::sort(ranked.rbegin(), ranked.rend());
    std::vector<int> candidates;
    for (const auto& [is_template, pos, k] : ranked) {
      if (std::find(candidates.begin(), candidates.end(), k) == candidates.end()) candidates.push_back(k);
    }
    for (int k : candidates) {
      if (IsReductionEpilogue(node, k)) {
        Join(k, node, /*epilogue=*/true);
        return;
      }
      if (RunsAlone(kernels_[k].kind)) {
        Explain(node, absl::StrCat("is not fused into ", Describe(k), ": ",
                                   kernels_[k].kind == KernelKind::kAllReduce ? "a collective runs alone"
                                   : kernels_[k].kind == KernelKind::kView    ? "a view computes nothing"
                                                                              : "nothing fuses into it yet"));
        continue;
      }
      const bool is_template = kernels_[k].is_template();
      if (is_template && !options_.fuse_epilogues) {
        Explain(node, absl::StrCat("is not fused into ", Describe(k), ": epilogue fusion is off"));
        continue;
      }
      if (!is_template && !options_.fuse_pointwise) {
        Explain(node, absl::StrCat("is not fused into ", Describe(k), ": pointwise fusion is off"));
        continue;
      }
      std::string why = WhyNot(node, k);
      if (why.empty()) {
        for (const Value* v : node.operands()) {
          if (KernelOf(v) == k && LayoutOf(v) != HeadLayout::kTile) layout_[node.result()] = LayoutOf(v);
        }
        Join(k, node, /*epilogue=*/is_template);
        if (!is_template) AbsorbPointwiseProducers(k, node);
        return;
      }
      Explain(node, absl::StrCat("is not fused into ", Describe(k), ": ", why));
    }
    NewKernel(KernelKind::kPointwise, node);
  }

  // A unary pointwise node (or convert) on the last value of a reduction kernel — a bf16
  // model's rms_scale(x) converted to bf16 for the GEMM epilogue that reads it — is applied to
  // each result element as the reduction kernel stores it: no kernel of its own.
  bool IsReductionEpilogue(const Node& node, int k) const {
    const Kernel& kernel = kernels_[k];
    return options_.fuse_pointwise && kernel.kind == KernelKind::kReduction && !kernel.nodes.empty() &&
           node.operands().size() == 1 && node.operand(0)->def() == kernel.nodes.back();
  }

  HeadLayout LayoutOf(const Value* v) const {
    auto it = layout_.find(v);
    return it == layout_.end() ? HeadLayout::kTile : it->second;
  }

  // A reshape, transpose or rotate_half deferred by LowerTemplates: the GEMM kernel computing
  // its operand takes it as a heads view (scheduler/head_view.h), or it gets its own kernel.
  void PlaceHeadView(const Node& node) {
    const int k = KernelOf(node.operand(0));
    if (k >= 0 && kernels_[k].is_template()) {
      const std::string why = HeadViewWhyNot(node, k);
      if (why.empty()) {
        const HeadLayout in = LayoutOf(node.operand(0));
        layout_[node.result()] = node.op() == OpKind::kReshape     ? HeadLayout::kSplit
                                 : node.op() == OpKind::kTranspose ? HeadLayout::kHeads
                                                                   : in;
        Join(k, node, /*epilogue=*/true);
        return;
      }
      Explain(node, absl::StrCat("is not fused into ", Describe(k), ": ", why));
    }
    NewKernel(node.op() == OpKind::kReshape && !IsOutput(node.result()) ? KernelKind::kView : KernelKind::kCopy,
              node);
  }

  std::string HeadViewWhyNot(const Node& node, int k) {
    if (!options_.fuse_epilogues) return "epilogue fusion is off";
    const Value* x = node.operand(0);
    const HeadLayout in = LayoutOf(x);
    if (node.op() == OpKind::kReshape) {
      if (in != HeadLayout::kTile) return "it reshapes a heads view again";
      // Tasks cover whole heads: a view with one head would leave one task per M block (one
      // thread for a whole decode GEMM), and a split nothing transposes or rotates is better
      // left a free view of the GEMM's result.
      const int64_t d = HeadSplitDim(node);
      const Shape& split = node.result()->type().tensor().shape;
      if (split[split.size() - 2].value() < 2) return "it splits off a single head";
      bool viewed = false;
      for (const Node* user : node.result()->users()) {
        viewed |= IsHeadTranspose(*user) || user->op() == OpKind::kRotateHalf;
      }
      if (!viewed) return "no transpose or rotate_half of the heads reads it";
      // One head width per GEMM output type: the kernel's tasks are cut at head boundaries.
      auto [it, fresh] = head_dim_.try_emplace({k, x->type().ToString()}, d);
      if (!fresh && it->second != d) {
        return absl::StrCat("heads of ", d, " differ from the heads of ", it->second,
                            " another view of this GEMM result takes");
      }
      return "";
    }
    if (node.op() == OpKind::kTranspose) {
      return in == HeadLayout::kSplit ? "" : "it transposes a value that is not split into heads";
    }
    return in == HeadLayout::kTile ? "its operand is not split into heads" : "";
  }

  // Pointwise kernels whose every value only kernel `k` reads — e.g. the rotary embedding's
  // x·cos, summed with rotate_half(x)·sin by the node `k` just took — join `k`: one loop instead
  // of two, and their values never reach memory. Same iteration space only (one loop); no
  // cycle can arise, since nothing but `k` reads them.
  void AbsorbPointwiseProducers(int k, const Node& node) {
    const Type& space = node.result()->type();
    for (const Value* v : node.operands()) {
      const int p = KernelOf(v);
      if (p < 0 || p == k || kernels_[p].kind != KernelKind::kPointwise || kernels_[p].nodes.empty()) continue;
      bool only_k = true;
      for (const Node* n : kernels_[p].nodes) {
        only_k &= n->result()->type() == space && !IsOutput(n->result());
        for (const Node* user : n->result()->users()) {
          auto placed = kernel_of_.find(user);
          only_k &= placed != kernel_of_.end() && (placed->second == k || placed->second == p);
        }
      }
      if (!only_k) {
        continue;
      }
      const std::string into = Describe(k);
      std::vector<const Node*> moved = std::move(kernels_[p].nodes);
      kernels_[p].nodes.clear();
      for (const Node* n : moved) {
        kernel_of_[n] = k;
        kernels_[k].nodes.push_back(n);
      }
      std::sort(kernels_[k].nodes.begin(), kernels_[k].nodes.end(),
                [&](const Node* a, const Node* b) { return position_.at(a) < position_.at(b); });
      for (int d : deps_[p]) {
        readers_[d].erase(p);
        if (d != k) AddDep(k, d);
      }
      deps_[p].clear();
      readers_[p].clear();
      deps_[k].erase(p);
      Explain(*moved.back(), absl::StrCat("joins ", into, ": only it reads the values of its kernel"));
      for (const Node* n : moved) AbsorbPointwiseProducers(k, *n);
    }
  }

  Schedule Plan() {
    // Every node is placed now: recompute the kernel dependencies in full (phase 1 could not
    // see the pointwise producers of template operands).
    for (size_t k = 0; k < kernels_.size(); ++k) {
      deps_[k].clear();
      for (const Node* n : kernels_[k].nodes) {
        for (const Value* v : n->operands()) {
          const int producer = KernelOf(v);
          if (producer >= 0 && producer != static_cast<int>(k)) deps_[k].insert(producer);
        }
      }
    }
    Schedule schedule;
    schedule.graph = &graph_;
    absl::flat_hash_set<const Value*> outputs(graph_.outputs().begin(), graph_.outputs().end());
    for (const auto& node : graph_.nodes()) {
      const Value* v = node->result();
      bool escapes = outputs.contains(v);
      for (const Node* user : v->users()) escapes |= kernel_of_.at(user) != kernel_of_.at(node.get());
      if (v->type().is_layout()) {
        BRAID_CHECK(!escapes, "a multi_output_layout value escapes its kernel");
        continue;
      }
      if (escapes) {
        schedule.materialized.insert(v);
      } else {
        schedule.eliminated.push_back(v);
      }
    }
    for (size_t k = 0; k < kernels_.size(); ++k) {
      Kernel& kernel = kernels_[k];
      absl::flat_hash_set<const Value*> seen;
      for (const Node* n : kernel.nodes) {
        for (const Value* v : n->operands()) {
          if (KernelOf(v) != static_cast<int>(k) && seen.insert(v).second) kernel.inputs.push_back(v);
        }
        if (schedule.materialized.contains(n->result())) kernel.outputs.push_back(n->result());
      }
    }
    // Execution order: kernels after the kernels they read, otherwise in creation order.
    std::vector<int> pending(kernels_.size());
    std::vector<std::vector<int>> readers(kernels_.size());
    for (size_t k = 0; k < kernels_.size(); ++k) {
      pending[k] = deps_[k].size();
      for (int d : deps_[k]) readers[d].push_back(k);
    }
    std::priority_queue<int, std::vector<int>, std::greater<int>> ready;
    for (size_t k = 0; k < kernels_.size(); ++k) {
      if (pending[k] == 0) ready.push(k);
    }
    size_t emptied = 0;  // kernels another absorbed
    while (!ready.empty()) {
      int k = ready.top();
      ready.pop();
      if (kernels_[k].nodes.empty()) {
        ++emptied;
      } else {
        schedule.kernels.push_back(std::move(kernels_[k]));
      }
      for (int r : readers[k]) {
        if (--pending[r] == 0) ready.push(r);
      }
    }
    BRAID_CHECK(schedule.kernels.size() + emptied == kernels_.size(), "fusion created a cycle between kernels");
    return schedule;
  }

  const Graph& graph_;
  const ScheduleOptions& options_;
  std::vector<Kernel> kernels_;
  std::vector<std::set<int>> deps_;     // kernels each kernel reads from
  std::vector<std::set<int>> readers_;  // kernels reading from each kernel (while placing)
  absl::flat_hash_map<const Node*, int> kernel_of_;
  absl::flat_hash_map<const Node*, size_t> position_;
  // Shape nodes that may join a GEMM kernel as heads views (placed in phase 2).
  absl::flat_hash_set<const Node*> deferred_;
  // Values of GEMM kernels that are heads views (absent: the tile space).
  absl::flat_hash_map<const Value*, HeadLayout> layout_;
  // The head width of each (kernel, GEMM output type) viewed as heads.
  absl::flat_hash_map<std::pair<int, std::string>, int64_t> head_dim_;
};

}  // namespace

absl::StatusOr<Schedule> BuildSchedule(const Graph& graph, const ScheduleOptions& options) {
  return Scheduler(graph, options).Run();
}

}  // namespace braid
