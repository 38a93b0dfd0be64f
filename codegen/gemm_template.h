// GEMM templates, rendered as LLVM IR (the RFC's CppGemmTemplate / CppGroupedGemmTemplate).
//
// A template kernel is a task function over output tiles: task -> (output class, M block of
// `mc` rows, N panel of `nr` columns). Per task, for each K block of `kc`, for each GEMM of the
// class, an `mr` x `nr` register-blocked micro-kernel (`nv` vectors of the host's width per
// row, accumulators in registers, broadcast-A x packed-B fused multiply-adds) accumulates into
// a per-task tile buffer that stays in L1/L2; the activation block is reused by every GEMM of
// the class while it is hot. After the last K block the epilogue (bias, then the fused
// pointwise nodes, cross-output ones included) runs over the tile and writes only what must
// be materialised. M remainders reuse the last valid row (computed, never stored); N
// remainders come from zero-padded packed panels; K remainders shorten the last K block.
//
// An "output class" is the set of GEMMs of the kernel with one output type: cross-output
// epilogues combine tiles of one class; unequal widths (GQA Q/K/V) are separate classes of one
// kernel, sharing its activation.
#ifndef BRAID_CODEGEN_GEMM_TEMPLATE_H_
#define BRAID_CODEGEN_GEMM_TEMPLATE_H_

#include <string>
#include <vector>

#include "codegen/emit_util.h"

namespace braid {

struct TileConfig {
  int mr = 6;    // micro-kernel rows
  int nv = 4;    // vectors per micro-kernel row: nr = nv * vector width
  int mc = 48;   // rows per task (a multiple of mr)
  int kc = 256;  // K block
  std::string ToString(int vector_width) const;
};

class GemmTemplate {
 public:
  GemmTemplate(ModuleContext& mc, const Kernel& kernel);
  virtual ~GemmTemplate() = default;

  // Tile configurations this template can render, preferred first.
  virtual std::vector<TileConfig> Choices() const;
  // Emits `void name(ptr ctx, i64 task)`.
  virtual llvm::Function* Render(const TileConfig& config, const std::string& name);
  // IR (in the entry function) computing how many tasks Render's function takes.
  llvm::Value* NumTasks(FunctionEmitter& f, const TileConfig& config) const;

  // Columns of a packed panel for `config` on this target.
  int PanelWidth(const TileConfig& config) const { return config.nv * mc_.target.vector_width; }

 protected:
  struct OutputClass {
    const TensorType* type = nullptr;
    std::vector<const GemmSpec*> gemms;
    std::vector<const Node*> epilogues;
  };

  llvm::Value* ClassTasks(FunctionEmitter& f, const OutputClass& c, const TileConfig& config) const;
  // The body of one task of class `c`; `task` counts within the class.
  void RenderClass(FunctionEmitter& f, const OutputClass& c, const TileConfig& config,
                   llvm::Value* task, llvm::Value* tile);
  // Allocates the per-task tile buffer (in the entry block) for the largest class.
  llvm::Value* AllocateTile(FunctionEmitter& f, const TileConfig& config) const;

  ModuleContext& mc_;
  const Kernel& kernel_;
  std::vector<OutputClass> classes_;
};

class GroupedGemmTemplate : public GemmTemplate {
 public:
  using GemmTemplate::GemmTemplate;
  // Several GEMMs share a class's tile buffer: keep it small enough to stay in L1/L2.
  std::vector<TileConfig> Choices() const override;
  // Dispatches each task to its output class.
  llvm::Function* Render(const TileConfig& config, const std::string& name) override;
};

}  // namespace braid

#endif  // BRAID_CODEGEN_GEMM_TEMPLATE_H_
