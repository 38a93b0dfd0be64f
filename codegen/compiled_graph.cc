// Compilation and execution of graphs.
#include "codegen/compiled_graph.h"


#include <algorithm>
#include <chrono>
#include <cstring>
#include <deque>

#include "absl/strings/str_cat.h"
#include "codegen/element_storage.h"
#include "codegen/fold_constants.h"
#include "codegen/graph_codegen.h"
#include "ir/gemm.h"
#include "ir/interpreter.h"
#include "ir/status_macros.h"
#include "ir/tensor_slice.h"
#include "ir/verifier.h"
#include "llvm/IR/Verifier.h"
#include "llvm/Support/raw_ostream.h"

namespace braid {
namespace {

// One constant weight being prepacked, panel by panel on the pool.
struct PackJob {
  OpKind kind;
  PanelFormat format;
  const void* w;  // of format.dtype
  int64_t k, n;
  void* out;
};

double MsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
}

std::string ModuleText(const llvm::Module& module) {
  std::string text;
  llvm::raw_string_ostream os(text);
  module.print(os, nullptr);
  return text;
}

// True if `param` is read other than as the weight of a GEMM (or returned).
bool NeededUnpacked(const Graph& g, const Value* param) {
  for (const Value* out : g.outputs()) {
    if (out == param) return true;
  }
  for (const Node* node : param->users()) {
    for (size_t i = 0; i < node->operands().size(); ++i) {
      if (node->operand(i) == param && !IsOnlyGemmWeight(*node, static_cast<int>(i))) return true;
    }
  }
  return false;
}

absl::Status GraphError(const Graph& g, SourceLoc loc, const std::string& msg) {
  return LocatedError(g.source(), loc, msg, absl::StrCat("@", g.name()));
}

}  // namespace

absl::Status CheckCompilable(const Graph& g) {
  // Generated code holds f32, bf16 and i8 (codegen/element_storage.h); the interpreter runs the rest.
  auto storage_error = [&](SourceLoc loc, const Value* v, const TensorType& t) {
    return GraphError(g, loc, absl::StrCat("only f32, bf16 and i8 values can be compiled so far; %", v->name(), " is ",
                                           t.ToString(), " (the interpreter runs it: --interpret)"));
  };
  for (const auto& node : g.nodes()) {
    for (const TensorType& t : node->result()->type().layout()) {
      if (!IsStorageDType(t.dtype)) return storage_error(node->loc(), node->result(), t);
    }
    for (const GemmOperands& gemm : GemmsOf(*node)) {  // f16 storage folds but is not compiled yet
      const Value* weight = node->operand(gemm.weight);
      const TensorType& w = weight->type().tensor();
      if (w.dtype == DType::kI8 && (!weight->is_const() || NeededUnpacked(g, weight))) {
        return GraphError(g, node->loc(),
                          absl::StrCat("an i8 GEMM weight is compiled only as a constant that only GEMMs read (it is "
                                       "prepacked); %",
                                       weight->name(), " is not (the interpreter runs it: --interpret)"));
      }
      if (!IsStorageDType(w.dtype)) return storage_error(node->loc(), weight, w);
      // vpdpbusd sums K products of up to 255·128 in i32: exact for K <= 65536 (on every host,
      // so a graph's meaning does not depend on the machine).
      const TensorType& x = node->operand(gemm.act)->type().tensor();
      const Dim& k = x.shape.back();
      if (x.dtype == DType::kI8 && (k.is_symbolic() || k.value() > 65536)) {
        return GraphError(g, node->loc(),
                          absl::StrCat("an i8 x i8 GEMM is compiled for a static K of at most 65536 (its i32 sums); "
                                       "this one has K = ", k.ToString(), " (the interpreter runs it: --interpret)"));
      }
    }
  }
  for (const Value* p : g.params()) {
    const DType dtype = p->type().tensor().dtype;
    if (!IsStorageDType(dtype)) return storage_error(p->loc(), p, p->type().tensor());
  }
  return absl::OkStatus();
}

SplitViews SplitByConstness(const Graph& graph, const std::vector<TensorView>& all) {
  SplitViews split;
  for (size_t i = 0; i < graph.params().size() && i < all.size(); ++i) {
    if (graph.params()[i]->is_const()) {
      split.constants[graph.params()[i]->name()] = all[i];
    } else {
      split.runtime.push_back(all[i]);
    }
  }
  return split;
}

absl::StatusOr<std::unique_ptr<CompiledGraph>> CompiledGraph::Compile(
    const Graph& graph, const CompileOptions& options,
    const std::map<std::string, Tensor>& constants) {
  std::map<std::string, TensorView> views;
  for (const auto& [name, tensor] : constants) views.emplace(name, tensor.view());
  return Compile(graph, options, views);
}

absl::StatusOr<std::unique_ptr<CompiledGraph>> CompiledGraph::Compile(
    const Graph& graph, const CompileOptions& options,
    const std::map<std::string, TensorView>& given_constants) {
  const auto start = std::chrono::steady_clock::now();
  BRAID_RETURN_IF_ERROR(VerifyGraph(graph));
  // A tensor-parallel rank: its collective must be the graph's, and whole constants are sliced.
  std::map<std::string, TensorView> constants = given_constants;
  std::deque<Tensor> slices;
  if (const auto& tp = graph.tensor_parallel(); tp && tp->size > 1) {
    if (options.collective == nullptr || options.collective->size() != tp->size ||
        options.collective->rank() != tp->rank) {
      return absl::InvalidArgumentError(absl::StrCat(
          "@", graph.name(), " is rank ", tp->rank, " of ", tp->size, " ranks, but the collective given is ",
          options.collective == nullptr
              ? std::string("none")
              : absl::StrCat("rank ", options.collective->rank(), " of ", options.collective->size())));
    }
    BRAID_RETURN_IF_ERROR(SliceConstantsForRank(graph, constants, slices));
  }
  std::unique_ptr<CompiledGraph> compiled(new CompiledGraph());
  compiled->options_ = options;
  // A private copy, so the caller's graph may change or go away.
  compiled->module_.graphs.push_back(graph.Clone());
  const Graph& g = compiled->graph();
  // Checking (and copying) the caller's constants is not compilation: timed apart.
  const auto checking = std::chrono::steady_clock::now();
  BRAID_RETURN_IF_ERROR(CheckCompilable(g));
  for (const Value* p : g.params()) {
    if (!p->is_const()) continue;
    auto it = constants.find(p->name());
    if (it == constants.end()) {
      return GraphError(g, p->loc(), absl::StrCat("no tensor given for the constant %", p->name()));
    }
    // Constants bind the symbolic dims of their shapes.
    const Shape& shape = p->type().tensor().shape;
    const TensorView& t = it->second;
    if (t.dtype != p->type().tensor().dtype) {
      return GraphError(g, p->loc(), absl::StrCat("the constant for %", p->name(), " is ",
                                                  DTypeName(t.dtype), ", not ", p->type().ToString()));
    }
    bool ok = t.shape.size() == shape.size();
    for (size_t d = 0; ok && d < shape.size(); ++d) {
      if (!shape[d].is_symbolic()) {
        ok = shape[d].value() == t.shape[d];
      } else if (shape[d].is_symbol()) {  // products (`B*T`) are checked once all are bound
        auto [pos, inserted] = compiled->constant_dims_.emplace(shape[d].symbol(), t.shape[d]);
        ok = inserted || pos->second == t.shape[d];
      }
    }
    for (int64_t d : t.shape) ok &= d >= 0;
    ok = ok && CheckedElementCount(t.shape).ok();
    if (ok && t.data == nullptr && t.size() > 0) {
      return GraphError(g, p->loc(), absl::StrCat("the constant for %", p->name(), " has no data"));
    }
    if (!ok) {
      return GraphError(g, p->loc(), absl::StrCat("the constant for %", p->name(), " has shape ",
                                                  ShapeToString(t.shape), ", not ", p->type().ToString()));
    }
  }
  // A constant's dim that is a product or sum of symbols (`A*C`) must equal what the symbols the
  // constants bind make of it: nothing else could check it later (the code reads a packed
  // weight at the dims of the run).
  for (const Value* p : g.params()) {
    if (!p->is_const()) continue;
    const Shape& shape = p->type().tensor().shape;
    const TensorView& t = constants.at(p->name());
    for (size_t d = 0; d < shape.size(); ++d) {
      if (!shape[d].is_symbolic() || shape[d].is_symbol()) continue;
      auto value = shape[d].Evaluate(compiled->constant_dims_);
      if (!value.ok() || *value != t.shape[d]) {
        return GraphError(g, p->loc(), absl::StrCat("the constant for %", p->name(), " has shape ",
                                                    ShapeToString(t.shape), ", not ", p->type().ToString(),
                                                    value.ok() ? "" : " (a constant's product dims must be made of "
                                                                      "symbols the constants' own dims bind)"));
      }
    }
  }
  // Nodes that read only constants are computed now, once (a weight times a norm's weight):
  // timed with the prepacking, as work on the constants.
  const auto folding = std::chrono::steady_clock::now();
  std::deque<Tensor> folded;
  BRAID_RETURN_IF_ERROR(FoldConstants(*compiled->module_.graphs.front(), compiled->constant_dims_, &constants, &folded));
  const double folding_ms = MsSince(folding);
  // Weights only GEMMs read live on in packed form; keep a copy of the others (biases,
  // pointwise operands, returned constants).
  for (const Value* p : g.params()) {
    if (p->is_const() && NeededUnpacked(g, p)) compiled->constants_.emplace(p, Tensor::CopyOf(constants.at(p->name())));
  }
  const double checking_ms = MsSince(checking) - folding_ms;
  ScheduleOptions schedule_options;
  schedule_options.fuse_epilogues = options.fuse_epilogues;
  schedule_options.fuse_pointwise = options.fuse_pointwise;
  BRAID_ASSIGN_OR_RETURN(compiled->schedule_, BuildSchedule(g, schedule_options));
  compiled->plan_ = PlanBuffers(compiled->schedule_);
  BRAID_ASSIGN_OR_RETURN(TargetInfo target, SelectTarget(options.isa));
  if (options.caches.has_value()) target.caches = *options.caches;
  if (options.runtime != nullptr) {
    compiled->runtime_ = options.runtime;
  } else {
    BRAID_ASSIGN_OR_RETURN(compiled->runtime_, Runtime::Default());
  }
  Runtime& runtime = *compiled->runtime_;
  compiled->threads_ = options.threads > 0 ? std::min(options.threads, runtime.threads()) : runtime.threads();
  compiled->pool_share_ = PoolShare{&runtime.pool(), compiled->threads_, options.collective.get()};
  BRAID_ASSIGN_OR_RETURN(compiled->jit_, Jit::Create(runtime.lljit(), target, options.opt_level));
  GeneratedModule generated = GenerateModule(compiled->schedule_, compiled->plan_, target);
  compiled->choices_ = generated.choices;
  compiled->panel_format_ = generated.panel_format;
  compiled->jit_->PrepareModule(*generated.module);
  {
    std::string problems;
    llvm::raw_string_ostream os(problems);
    if (llvm::verifyModule(*generated.module, &os)) {
      return absl::InternalError(absl::StrCat("braid internal error: generated LLVM IR is invalid:\n", problems));
    }
  }
  // The IR pipeline runs on the compile threads, part by part, unless the optimised text is
  // wanted (then on the whole module here, and the parts are only compiled).
  if (options.keep_text) {
    compiled->llvm_before_ = ModuleText(*generated.module);
    compiled->jit_->Optimize(*generated.module);
    compiled->llvm_after_ = ModuleText(*generated.module);
    BRAID_ASSIGN_OR_RETURN(compiled->assembly_, compiled->jit_->EmitAssembly(*generated.module));
  }
  const int threads = compiled->threads_;
  // The IR pipeline and machine code generation are nearly all of the compile time; their
  // parts run on the threads the graph will run on. Measured on the LLaMA-7B MLP (tests/bench,
  // 2 threads): see docs/PERFORMANCE.md.
  BRAID_RETURN_IF_ERROR(compiled->jit_->CompileAndAdd(*generated.module, threads, /*optimize=*/!options.keep_text));
  BRAID_ASSIGN_OR_RETURN(void* entry, compiled->jit_->Lookup(kEntryName));
  compiled->entry_ = reinterpret_cast<void (*)(void**, const int64_t*, void*)>(entry);
  compiled->compile_ms_ = MsSince(start) - checking_ms - folding_ms;

  // Prepack every constant GEMM weight into its panels.
  const auto pack_start = std::chrono::steady_clock::now();
  for (size_t i = 0; i < compiled->plan_.gemms.size(); ++i) {
    const GemmSpec& spec = compiled->plan_.gemms[i];
    if (!spec.weight->is_const()) continue;
    const TensorView& w = constants.at(spec.weight->name());
    const int64_t k = GemmWeightK(spec.kind, w.shape);
    const int64_t n = GemmWeightN(spec.kind, w.shape);
    const PanelFormat& format = compiled->panel_format_[i];
    BRAID_CHECK(w.dtype == format.dtype, "a constant weight packs into panels of its own dtype");
    AlignedBuffer packed((format.PackedBytes(k, n) + 3) / 4);
    PackJob job{spec.kind, format, w.data, k, n, packed.data()};
    runtime.pool().ParallelFor(
        [](void* ctx, int64_t p) {
          const auto& j = *static_cast<const PackJob*>(ctx);
          if (j.format.dtype == DType::kF32) {
            PackPanel(j.kind, j.format, static_cast<const float*>(j.w), j.k, j.n, p, static_cast<float*>(j.out));
          } else if (j.format.dtype == DType::kI8) {
            PackPanel8(j.kind, j.format, static_cast<const int8_t*>(j.w), j.k, j.n, p, static_cast<int8_t*>(j.out));
          } else {
            PackPanel16(j.kind, j.format, static_cast<const uint16_t*>(j.w), j.k, j.n, p,
                        static_cast<uint16_t*>(j.out));
          }
        },
        &job, format.Panels(n), threads);
    compiled->prepacked_bytes_ += packed.size() * 4;
    compiled->packed_.emplace(spec.packed_slot, std::move(packed));
  }
  compiled->prepack_ms_ = MsSince(pack_start) + folding_ms;
  return compiled;
}

int64_t CompiledGraph::object_bytes() const { return jit_->object_bytes(); }

absl::StatusOr<DimBindings> CompiledGraph::MergeDims(const DimBindings& dims) const {
  DimBindings merged = dims;
  for (const auto& [name, value] : constant_dims_) {
    auto [it, inserted] = merged.emplace(name, value);
    if (!inserted && it->second != value) {
      return absl::InvalidArgumentError(absl::StrCat("dimension ", name, " = ", it->second,
                                                     " conflicts with the constants, which have ",
                                                     name, " = ", value));
    }
  }
  return merged;
}

absl::StatusOr<std::vector<std::vector<int64_t>>> CompiledGraph::OutputShapes(
    const DimBindings& dims) const {
  const Graph& g = graph();
  std::vector<std::vector<int64_t>> shapes;
  int64_t total = 0;
  for (const Value* v : g.outputs()) {
    const TensorType& type = v->type().tensor();
    auto shape = BindShape(type.shape, dims);
    if (!shape.ok()) return GraphError(g, g.loc(), std::string(shape.status().message()));
    auto count = CheckedElementCount(*shape);
    if (!count.ok()) return GraphError(g, g.loc(), std::string(count.status().message()));
    if (__builtin_add_overflow(total, *count * DTypeBytes(type.dtype), &total) ||
        total > options_.max_run_bytes) {
      return GraphError(g, g.loc(), absl::StrCat("the outputs need more than ", options_.max_run_bytes,
                                                 " bytes (the run memory limit)"));
    }
    shapes.push_back(*std::move(shape));
  }
  return shapes;
}

absl::StatusOr<std::vector<Tensor>> CompiledGraph::Run(const std::vector<TensorView>& inputs,
                                                       const DimBindings& user_dims) const {
  BRAID_ASSIGN_OR_RETURN(DimBindings dims, MergeDims(user_dims));
  BRAID_ASSIGN_OR_RETURN(auto shapes, OutputShapes(dims));
  std::vector<Tensor> outputs;
  for (size_t i = 0; i < shapes.size(); ++i) {
    outputs.emplace_back(graph().outputs()[i]->type().tensor().dtype, std::move(shapes[i]));
  }
  BRAID_RETURN_IF_ERROR(Execute(inputs, dims, ViewsOf(outputs)));
  return outputs;
}

absl::Status CompiledGraph::RunInto(const std::vector<TensorView>& inputs, const DimBindings& user_dims,
                                    const std::vector<TensorView>& outputs) const {
  BRAID_ASSIGN_OR_RETURN(DimBindings dims, MergeDims(user_dims));
  const Graph& g = graph();
  if (outputs.size() != g.outputs().size()) {
    return absl::InvalidArgumentError(absl::StrCat("@", g.name(), " has ", g.outputs().size(),
                                                   " outputs, got ", outputs.size(), " buffers"));
  }
  BRAID_ASSIGN_OR_RETURN(auto shapes, OutputShapes(dims));
  for (size_t i = 0; i < outputs.size(); ++i) {
    const TensorType& type = g.outputs()[i]->type().tensor();
    if (outputs[i].dtype != type.dtype || outputs[i].shape != shapes[i] ||
        (outputs[i].data == nullptr && ElementCount(shapes[i]) > 0)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "output buffer ", i, " (%", g.outputs()[i]->name(), ") must be ", DTypeName(type.dtype),
          ShapeToString(shapes[i]), ", got ", DTypeName(outputs[i].dtype),
          ShapeToString(outputs[i].shape), outputs[i].data == nullptr ? " without data" : ""));
    }
  }
  return Execute(inputs, dims, outputs);
}

absl::Status CompiledGraph::Execute(const std::vector<TensorView>& inputs, const DimBindings& dims,
                                    const std::vector<TensorView>& outputs) const {
  const Graph& g = graph();
  // The full input list: caller inputs for runtime parameters, stored constants for the rest.
  std::vector<TensorView> stored;
  stored.reserve(g.params().size());
  std::vector<const TensorView*> param_data;
  size_t next = 0;
  for (const Value* p : g.params()) {
    if (p->is_const()) {
      // Null for weights that live only in packed form.
      auto it = constants_.find(p);
      if (it == constants_.end()) {
        param_data.push_back(nullptr);
      } else {
        stored.push_back(it->second.view());
        param_data.push_back(&stored.back());
      }
    } else {
      if (next >= inputs.size()) {
        return absl::InvalidArgumentError(absl::StrCat("@", g.name(), " needs an input for %", p->name()));
      }
      param_data.push_back(&inputs[next++]);
    }
  }
  if (next != inputs.size()) {
    return absl::InvalidArgumentError(absl::StrCat("@", g.name(), " takes ", next, " inputs, got ", inputs.size()));
  }
  BRAID_ASSIGN_OR_RETURN(auto param_shapes, BindParamShapes(g, dims));
  for (size_t i = 0; i < g.params().size(); ++i) {
    if (param_data[i] == nullptr) continue;
    const Value* p = g.params()[i];
    if (param_data[i]->dtype != p->type().tensor().dtype) {
      return GraphError(g, p->loc(), absl::StrCat("input %", p->name(), " is ", DTypeName(param_data[i]->dtype),
                                                  " but the graph expects ", p->type().ToString()));
    }
    if (param_data[i]->shape != param_shapes[i]) {
      return GraphError(g, p->loc(), absl::StrCat("input %", p->name(), " has shape ",
                                                  ShapeToString(param_data[i]->shape),
                                                  " but the graph expects ", ShapeToString(param_shapes[i])));
    }
    if (param_data[i]->data == nullptr && ElementCount(param_shapes[i]) > 0) {
      return GraphError(g, p->loc(), absl::StrCat("input %", p->name(), " has no data"));
    }
  }
  std::vector<int64_t> dim_values;
  for (const std::string& s : plan_.symbols) {
    auto it = dims.find(s);
    if (it == dims.end()) {
      return absl::InvalidArgumentError(absl::StrCat("dimension '", s, "' is not bound (pass --dims=", s, "=<value>)"));
    }
    dim_values.push_back(it->second);
  }
  // Sizes first, against the memory cap, then allocation.
  std::vector<void*> buffers(plan_.num_slots(), nullptr);
  std::vector<std::pair<int, int64_t>> to_allocate;  // slot, floats
  int64_t total = 0;
  auto budget = [&](int64_t floats) -> absl::Status {
    if (__builtin_add_overflow(total, floats * 4, &total) || total > options_.max_run_bytes) {
      return absl::InvalidArgumentError(absl::StrCat("running @", g.name(), " at these dims needs more than ",
                                                     options_.max_run_bytes, " bytes (the run memory limit)"));
    }
    return absl::OkStatus();
  };
  for (size_t slot = 0; slot < plan_.slot_value.size(); ++slot) {
    const Value* v = plan_.slot_value[slot];
    if (v == nullptr || v->is_param()) continue;
    auto out = std::find(g.outputs().begin(), g.outputs().end(), v);
    if (out != g.outputs().end()) {
      buffers[slot] = outputs[out - g.outputs().begin()].data;
      continue;
    }
    BRAID_ASSIGN_OR_RETURN(auto shape, BindShape(v->type().tensor().shape, dims));
    BRAID_ASSIGN_OR_RETURN(int64_t count, CheckedElementCount(shape));
    // Buffers are counted in 4-byte units (the packed-weight unit), rounded up.
    const int64_t floats = (count * DTypeBytes(v->type().tensor().dtype) + 3) / 4;
    BRAID_RETURN_IF_ERROR(budget(floats));
    to_allocate.push_back({static_cast<int>(slot), floats});
  }
  // Buffers for weights packed at run time (the generated code fills them).
  for (size_t i = 0; i < plan_.gemms.size(); ++i) {
    const GemmSpec& spec = plan_.gemms[i];
    if (packed_.count(spec.packed_slot)) continue;
    BRAID_ASSIGN_OR_RETURN(auto shape, BindShape(spec.weight->type().tensor().shape, dims));
    const int64_t k = GemmWeightK(spec.kind, shape), n = GemmWeightN(spec.kind, shape);
    const int64_t floats = (panel_format_[i].PackedBytes(k, n) + 3) / 4;
    BRAID_RETURN_IF_ERROR(budget(floats));
    to_allocate.push_back({spec.packed_slot, floats});
  }
  std::vector<AlignedBuffer> arena;
  arena.reserve(to_allocate.size());
  for (const auto& [slot, floats] : to_allocate) {
    arena.emplace_back(floats);
    buffers[slot] = arena.back().data();
  }
  for (size_t i = 0; i < g.params().size(); ++i) {
    if (param_data[i] == nullptr) continue;
    buffers[plan_.value_slot.at(g.params()[i])] = param_data[i]->data;
  }
  for (const auto& [slot, packed] : packed_) buffers[slot] = packed.data();
  (void)TakeCollectiveError();  // nothing left over from an earlier run on this thread
  entry_(buffers.data(), dim_values.data(), const_cast<PoolShare*>(&pool_share_));
  if (absl::Status collective = TakeCollectiveError(); !collective.ok()) {
    return absl::Status(collective.code(), absl::StrCat("@", g.name(), ": all_reduce failed: ",
                                                        collective.message()));
  }
  // Outputs that are parameters, or that repeat another output, are copies.
  for (size_t i = 0; i < g.outputs().size(); ++i) {
    const Value* v = g.outputs()[i];
    auto slot = plan_.value_slot.find(v);
    const void* src = buffers[slot->second];
    if (src != outputs[i].data && outputs[i].num_bytes() > 0) {
      std::memcpy(outputs[i].data, src, outputs[i].num_bytes());
    }
  }
  return absl::OkStatus();
}

}  // namespace braid
