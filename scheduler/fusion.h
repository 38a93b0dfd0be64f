// Cuts a graph into kernels, as in the RFC's "Inductor Scheduler Nodes Fusions":
//
//   1. lowering: every node becomes a scheduler node — a template (`gemm` for a lone
//      linear/matmul, `grouped_gemm`), a `multi_output`, or a pointwise node;
//   2. phase 1: a grouped_gemm template (a MultiOutputLayout) and its multi_outputs fuse into
//      one FusedNode;
//   3. phase 2: a FusedNode or lone GEMM template absorbs its pointwise epilogues — per-GEMM
//      (bias add, relu), cross-output (`mul(silu(g), u)`), chains of them, and ones that also
//      read graph inputs or other kernels' results with a broadcast-compatible index (bias row,
//      residual). Pointwise chains that are not epilogues fuse into one loop kernel.
//   4. buffer planning: a value is materialised only if it is a graph output or a node of
//      another kernel reads it.
//
//   graph (after --O)                           schedule
//   %g_u = grouped_gemm(%x, %wg, %wu)            kernel 0: grouped_gemm [%g_u, %g, %u]
//   %g = multi_output(%g_u) {index = 0}                    epilogue [%s, %h] out [%h]
//   %u = multi_output(%g_u) {index = 1}          kernel 1: gemm [%d] epilogue [%y] out [%y]
//   %s = silu(%g)                                eliminated: %g, %u, %s
//   %h = mul(%s, %u)
//   %d = linear(%h, %wd)
//   %y = add(%d, %x)
//
// Also in phase 2: a reshape splitting a GEMM result into heads, its transpose to [B, H, T, D]
// and rotate_half join the GEMM kernel as heads views (scheduler/head_view.h), so pointwise
// nodes on them (the rotary embedding) are epilogues too; and a unary node on a reduction's
// result (a bf16 convert of rms_scale) joins the reduction kernel.
//
// Legality of an epilogue (or of joining a pointwise kernel): the node is pointwise; every
// operand computed in the kernel has exactly the node's result type (the iteration space is
// the template's [..., M, N] tile or one heads view of it, never broadcast larger, and the
// operands of the kernel are all in one layout); and no operand comes from a kernel
// that itself depends on this one (fusing would make a cycle). Each rejection is explained on
// `debug` (`--debug-fusion`).
#ifndef BRAID_SCHEDULER_FUSION_H_
#define BRAID_SCHEDULER_FUSION_H_

#include <ostream>

#include "absl/status/statusor.h"
#include "scheduler/schedule.h"

namespace braid {

struct ScheduleOptions {
  bool fuse_epilogues = true;  // phase 2 into GEMM templates
  bool fuse_pointwise = true;  // pointwise chains into one loop kernel
  std::ostream* debug = nullptr;
};

// Schedules a verified graph. The graph must outlive the schedule.
absl::StatusOr<Schedule> BuildSchedule(const Graph& graph, const ScheduleOptions& options = {});

}  // namespace braid

#endif  // BRAID_SCHEDULER_FUSION_H_
