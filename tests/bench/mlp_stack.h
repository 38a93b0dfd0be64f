// A graph of N stacked LLaMA MLP blocks (hidden 1024, intermediate 2816), built through the
// C++ API, for the compile-time scaling bench and the grouped-gemm scaling test:
//
//   g = linear(x, wg_i); u = linear(x, wu_i); s = silu(g); h = mul(s, u);
//   d = linear(h, wd_i); x = add(d, x)
#ifndef BRAID_TESTS_BENCH_MLP_STACK_H_
#define BRAID_TESTS_BENCH_MLP_STACK_H_

#include <memory>

#include "absl/status/statusor.h"
#include "ir/graph.h"

namespace braid {

absl::StatusOr<std::unique_ptr<Graph>> BuildMlpStack(int blocks, int64_t hidden = 1024,
                                                     int64_t intermediate = 2816);

}  // namespace braid

#endif  // BRAID_TESTS_BENCH_MLP_STACK_H_
