// Generates the LLVM module for a scheduled graph: one task function per kernel (GEMM
// templates, pointwise loops) and an entry function that runs the kernels in order through the
// runtime's parallel-for:
//
//   void braid_entry(ptr buffers, ptr dims, ptr pool)
//
// `buffers` holds one float* per BufferPlan slot; `dims` the symbolic dims in plan order.
#ifndef BRAID_CODEGEN_GRAPH_CODEGEN_H_
#define BRAID_CODEGEN_GRAPH_CODEGEN_H_

#include <memory>
#include <string>
#include <vector>

#include "codegen/buffer_plan.h"
#include "codegen/gemm_template.h"
#include "codegen/target.h"
#include "llvm/IR/Module.h"

namespace braid {

inline constexpr char kEntryName[] = "braid_entry";

struct GeneratedModule {
  std::unique_ptr<llvm::LLVMContext> context;
  std::unique_ptr<llvm::Module> module;
  // The tile configuration chosen for each template kernel (by kernel index), and why.
  std::vector<std::string> choices;
  // The panel format each GEMM's weights must be packed in, by BufferPlan::gemms index.
  std::vector<PanelFormat> panel_format;
};

GeneratedModule GenerateModule(const Schedule& schedule, const BufferPlan& plan,
                               const TargetInfo& target);

}  // namespace braid

#endif  // BRAID_CODEGEN_GRAPH_CODEGEN_H_
