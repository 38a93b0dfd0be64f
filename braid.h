// braid's embedding API: the one header a C++ program includes.
//
//   // 1. A graph: parse text, or build one.
//   auto module = braid::ParseAndVerify("mlp.ir", text);              // or braid::GraphBuilder
//   braid::Graph& graph = *module->graphs[0];
//   // 2. Optimise (group sibling GEMMs, fold silu, dce) and compile, binding the weights:
//   //    views of the caller's memory, read only during Compile (GEMM weights are prepacked).
//   braid::Optimize(graph);
//   braid::TensorView wg{braid::DType::kF32, {11008, 4096}, wg_data};   // or tensor.view()
//   auto compiled = braid::CompiledGraph::Compile(graph, {}, {{"wg", wg}, {"wu", wu}});
//   // 3. Run, as often as needed, from any number of threads: into the caller's memory ...
//   braid::TensorView x{braid::DType::kF32, {128, 4096}, x_data}, y{braid::DType::kF32, {128, 11008}, y_data};
//   absl::Status done = (*compiled)->RunInto({x}, {{"M", 128}}, {y});
//   // ... or into newly allocated braid::Tensors.
//   auto outputs = (*compiled)->Run({x}, {{"M", 128}});
//
// Every compiled graph runs on a braid::Runtime: one thread pool and one JIT shared by many
// graphs. By default that is the process's (Runtime::Default()); to give some graphs a pool of
// their own, e.g. 4 threads that never busy-wait:
//
//   braid::Runtime::Options pool;
//   pool.threads = 4;
//   pool.spin_us = 0;
//   braid::CompileOptions options;
//   options.runtime = *braid::Runtime::Create(pool);
//   auto layer = braid::CompiledGraph::Compile(graph, options, weights);
//
// Tensor parallelism: each of N processes (ranks) compiles its share of the graph and the
// graph's all_reduce sums partial results over a Collective — MPI's (//mpi:braid_mpi,
// braid::MpiCollective on an MPI_Comm), the host's own (braid::CallbackCollective around
// torch.distributed, oneCCL, gloo...), or threads of one process (braid::LocalGroup):
//
//   auto shard = braid::ShardGraph(graph, rank, size);        // the tensor-parallel pass
//   braid::Optimize(**shard);                                  // its slices still group
//   braid::CompileOptions options;
//   options.collective = *braid::MpiCollective::Create(MPI_COMM_WORLD);
//   auto layer = braid::CompiledGraph::Compile(**shard, options, full_weights);  // sliced here
//
// Compile takes the full weights (and packs only the rank's slices) or the slices themselves.
//
// Every failure is an absl::Status: invalid IR or shapes, missing constants, an unbound dim,
// a run larger than the memory cap. The reference interpreter (braid::Interpret) defines what
// every op means; braid::CompareOutputs judges compiled results against it.
#ifndef BRAID_BRAID_H_
#define BRAID_BRAID_H_

#include <string>

#include "absl/status/statusor.h"
#include "codegen/compiled_graph.h"  // CompiledGraph, CompileOptions
#include "codegen/shared_runtime.h"  // Runtime
#include "ir/collective.h"           // Collective, CallbackCollective
#include "ir/compare.h"              // CompareOutputs
#include "ir/graph.h"                // Graph, Module, Value
#include "ir/graph_builder.h"        // GraphBuilder
#include "ir/tensor.h"               // Tensor, TensorView
#include "ir/interpreter.h"          // Interpret
#include "ir/local_collective.h"     // LocalGroup
#include "passes/pipeline.h"         // PipelineOptions
#include "passes/tensor_parallel_ranks.h"  // ShardGraph, InterpretTensorParallel

namespace braid {

// Parses textual IR and verifies every graph.
absl::StatusOr<Module> ParseAndVerify(const std::string& filename, std::string text);

// Runs the default pass pipeline (`braid --O`) on `graph`; true if it changed.
absl::StatusOr<bool> Optimize(Graph& graph, const PipelineOptions& options = {});

}  // namespace braid

#endif  // BRAID_BRAID_H_
