// N stacked LLaMA MLP blocks.
#include "tests/bench/mlp_stack.h"

#include "absl/strings/str_cat.h"
#include "ir/graph_builder.h"

namespace braid {

absl::StatusOr<std::unique_ptr<Graph>> BuildMlpStack(int blocks, int64_t hidden,
                                                     int64_t intermediate) {
  GraphBuilder b(absl::StrCat("mlp_stack_", blocks));
  Value* x = b.Input("x", {Dim::Symbol("M"), Dim::Const(hidden)});
  for (int i = 0; i < blocks; ++i) {
    Value* wg = b.Constant(absl::StrCat("wg", i), {Dim::Const(intermediate), Dim::Const(hidden)});
    Value* wu = b.Constant(absl::StrCat("wu", i), {Dim::Const(intermediate), Dim::Const(hidden)});
    Value* wd = b.Constant(absl::StrCat("wd", i), {Dim::Const(hidden), Dim::Const(intermediate)});
    Value* g = b.Linear(x, wg);
    Value* u = b.Linear(x, wu);
    Value* h = b.Mul(b.Silu(g), u);
    x = b.Add(b.Linear(h, wd), x);
  }
  return b.Build({x});
}

}  // namespace braid
