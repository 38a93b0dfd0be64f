// GEMM template rendering.
#include "codegen/gemm_template.h"

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "codegen/element_loop.h"
#include "ir/status_macros.h"
#include "llvm/IR/Intrinsics.h"

namespace braid {
namespace {

// C[mr x nr] (in `tile`, row stride nr) += A[rows, k0:kend] * Bpanel[k0:kend, 0:nr].
void EmitMicroKernel(FunctionEmitter& f, const TileConfig& cfg, int vw, llvm::Value* a,
                     llvm::Value* lda, const std::vector<llvm::Value*>& rows, llvm::Value* panel,
                     llvm::Value* k0, llvm::Value* kend, llvm::Value* tile) {
  llvm::IRBuilder<>& b = f.b();
  llvm::Type* fty = b.getFloatTy();
  auto* vty = llvm::FixedVectorType::get(fty, vw);
  const int nr = cfg.nv * vw;
  const llvm::Align valign(vw * 4);
  auto tile_ptr = [&](int i, int j) { return b.CreateConstInBoundsGEP1_64(fty, tile, i * nr + j * vw); };
  std::vector<llvm::Value*> a_rows;
  for (llvm::Value* r : rows) a_rows.push_back(b.CreateInBoundsGEP(fty, a, b.CreateMul(r, lda)));
  std::vector<llvm::Value*> init;
  for (int i = 0; i < cfg.mr; ++i) {
    for (int j = 0; j < cfg.nv; ++j) init.push_back(b.CreateAlignedLoad(vty, tile_ptr(i, j), valign));
  }
  llvm::BasicBlock* pre = b.GetInsertBlock();
  llvm::BasicBlock* header = llvm::BasicBlock::Create(f.ctx(), "uk.header", f.fn());
  llvm::BasicBlock* body = llvm::BasicBlock::Create(f.ctx(), "uk.body", f.fn());
  llvm::BasicBlock* exit = llvm::BasicBlock::Create(f.ctx(), "uk.exit", f.fn());
  b.CreateBr(header);
  b.SetInsertPoint(header);
  llvm::PHINode* k = b.CreatePHI(b.getInt64Ty(), 2, "k");
  k->addIncoming(k0, pre);
  std::vector<llvm::PHINode*> acc;
  for (llvm::Value* v : init) {
    acc.push_back(b.CreatePHI(vty, 2, "acc"));
    acc.back()->addIncoming(v, pre);
  }
  b.CreateCondBr(b.CreateICmpSLT(k, kend), body, exit);
  b.SetInsertPoint(body);
  std::vector<llvm::Value*> bv;
  llvm::Value* b_row = b.CreateInBoundsGEP(fty, panel, b.CreateMul(k, f.I64(nr)));
  for (int j = 0; j < cfg.nv; ++j) {
    bv.push_back(b.CreateAlignedLoad(vty, b.CreateConstInBoundsGEP1_64(fty, b_row, j * vw), valign));
  }
  std::vector<llvm::Value*> next;
  for (int i = 0; i < cfg.mr; ++i) {
    llvm::Value* av = b.CreateVectorSplat(vw, b.CreateLoad(fty, b.CreateInBoundsGEP(fty, a_rows[i], k)));
    for (int j = 0; j < cfg.nv; ++j) {
      next.push_back(b.CreateIntrinsic(llvm::Intrinsic::fma, {vty}, {av, bv[j], acc[i * cfg.nv + j]}));
    }
  }
  for (size_t i = 0; i < acc.size(); ++i) acc[i]->addIncoming(next[i], body);
  k->addIncoming(b.CreateAdd(k, f.I64(1), "k.next", true, true), body);
  b.CreateBr(header);
  b.SetInsertPoint(exit);
  for (int i = 0; i < cfg.mr; ++i) {
    for (int j = 0; j < cfg.nv; ++j) b.CreateAlignedStore(acc[i * cfg.nv + j], tile_ptr(i, j), valign);
  }
}

}  // namespace

std::string TileConfig::ToString(int vector_width) const {
  return absl::StrCat(mr, "x", nv * vector_width, " micro-kernel, mc=", mc, ", kc=", kc);
}

GemmTemplate::GemmTemplate(ModuleContext& mc, const Kernel& kernel) : mc_(mc), kernel_(kernel) {
  for (const GemmSpec* spec : GemmsOf(mc.plan, kernel)) {
    const TensorType& type = spec->result->type().tensor();
    auto it = std::find_if(classes_.begin(), classes_.end(),
                           [&](const OutputClass& c) { return *c.type == type; });
    if (it == classes_.end()) {
      classes_.push_back(OutputClass{&type, {}, {}});
      it = classes_.end() - 1;
    }
    it->gemms.push_back(spec);
  }
  for (const Node* e : kernel.epilogues) {
    for (OutputClass& c : classes_) {
      if (*c.type == e->result()->type().tensor()) c.epilogues.push_back(e);
    }
  }
}

std::vector<TileConfig> GemmTemplate::Choices() const {
  // 6 rows x 4 vectors = 24 accumulators: near peak for both widths (PERF_NOTES.md).
  if (mc_.target.vector_width == 16) return {TileConfig{6, 4, 48, 256}, TileConfig{12, 2, 48, 256}};
  return {TileConfig{6, 2, 48, 256}, TileConfig{4, 3, 48, 256}};
}

std::vector<TileConfig> GroupedGemmTemplate::Choices() const {
  std::vector<TileConfig> choices = GemmTemplate::Choices();
  size_t widest = 1;
  for (const OutputClass& c : classes_) widest = std::max(widest, c.gemms.size());
  if (widest > 2) {
    for (TileConfig& t : choices) t.mc = 24;
  }
  return choices;
}

llvm::Value* GemmTemplate::ClassTasks(FunctionEmitter& f, const OutputClass& c,
                                      const TileConfig& config) const {
  llvm::Value* m_blocks = f.CeilDiv(f.Rows(*c.type), config.mc);
  llvm::Value* panels = f.CeilDiv(f.Cols(*c.type), PanelWidth(config));
  return f.b().CreateMul(m_blocks, panels);
}

llvm::Value* GemmTemplate::NumTasks(FunctionEmitter& f, const TileConfig& config) const {
  llvm::Value* total = f.I64(0);
  for (const OutputClass& c : classes_) total = f.b().CreateAdd(total, ClassTasks(f, c, config));
  return total;
}

llvm::Value* GemmTemplate::AllocateTile(FunctionEmitter& f, const TileConfig& config) const {
  size_t widest = 1;
  for (const OutputClass& c : classes_) widest = std::max(widest, c.gemms.size());
  const uint64_t floats = widest * config.mc * PanelWidth(config);
  llvm::IRBuilder<> entry(&f.fn()->getEntryBlock(), f.fn()->getEntryBlock().begin());
  llvm::AllocaInst* tile = entry.CreateAlloca(llvm::ArrayType::get(entry.getFloatTy(), floats), nullptr, "tile");
  tile->setAlignment(llvm::Align(64));
  return tile;
}

void GemmTemplate::RenderClass(FunctionEmitter& f, const OutputClass& c, const TileConfig& cfg,
                               llvm::Value* task, llvm::Value* tile) {
  llvm::IRBuilder<>& b = f.b();
  llvm::Type* fty = b.getFloatTy();
  const int nr = PanelWidth(cfg);
  const int vw = mc_.target.vector_width;
  llvm::Value* m = f.Rows(*c.type);
  llvm::Value* n = f.Cols(*c.type);
  llvm::Value* m_blocks = f.CeilDiv(m, cfg.mc);
  llvm::Value* panel = b.CreateSDiv(task, m_blocks, "panel");
  llvm::Value* m0 = b.CreateMul(b.CreateSRem(task, m_blocks), f.I64(cfg.mc), "m0");
  llvm::Value* n0 = b.CreateMul(panel, f.I64(nr), "n0");
  llvm::Value* m_rows = f.Min(f.I64(cfg.mc), b.CreateSub(m, m0));
  llvm::Value* n_cols = f.Min(f.I64(nr), b.CreateSub(n, n0));
  const uint64_t tile_floats = static_cast<uint64_t>(cfg.mc) * nr;
  b.CreateMemSet(tile, b.getInt8(0), c.gemms.size() * tile_floats * 4, llvm::Align(64));

  struct Operands {
    llvm::Value* a;
    llvm::Value* k;
    llvm::Value* panel;
    llvm::Value* tile;
  };
  std::vector<Operands> ops;
  llvm::Value* k_max = f.I64(0);
  for (size_t g = 0; g < c.gemms.size(); ++g) {
    const GemmSpec& spec = *c.gemms[g];
    llvm::Value* k = f.DimValue(spec.act->type().tensor().shape.back());
    llvm::Value* packed = f.Buffer(spec.packed_slot);
    ops.push_back({f.Buffer(mc_.plan.value_slot.at(spec.act)), k,
                   b.CreateInBoundsGEP(fty, packed, b.CreateMul(panel, b.CreateMul(k, f.I64(nr)))),
                   b.CreateConstInBoundsGEP1_64(fty, tile, g * tile_floats)});
    k_max = b.CreateSelect(b.CreateICmpSGT(k, k_max), k, k_max);
  }
  // K blocks outside, GEMMs inside: the activation block is reused by every GEMM while hot.
  f.For(f.I64(0), k_max, cfg.kc, "k0", [&](llvm::Value* k0) {
    for (const Operands& op : ops) {
      llvm::Value* k_end = f.Min(b.CreateAdd(k0, f.I64(cfg.kc)), op.k);
      f.For(f.I64(0), m_rows, cfg.mr, "ms", [&](llvm::Value* ms) {
        // Rows past the end repeat the last valid row: computed, never stored.
        llvm::Value* last = b.CreateSub(b.CreateSub(m_rows, ms), f.I64(1));
        std::vector<llvm::Value*> rows;
        for (int i = 0; i < cfg.mr; ++i) {
          rows.push_back(b.CreateAdd(b.CreateAdd(m0, ms), f.Min(f.I64(i), last)));
        }
        llvm::Value* tile_rows = b.CreateInBoundsGEP(fty, op.tile, b.CreateMul(ms, f.I64(nr)));
        EmitMicroKernel(f, cfg, vw, op.a, op.k, rows, op.panel, k0, k_end, tile_rows);
      });
    }
  });

  // Epilogue over the tile: bias first, then the fused pointwise nodes.
  ElementLoop loop;
  loop.space = c.type;
  loop.row_begin = m0;
  loop.row_end = b.CreateAdd(m0, m_rows);
  loop.col_begin = n0;
  loop.col_end = b.CreateAdd(n0, n_cols);
  loop.nodes = c.epilogues;
  absl::flat_hash_map<const Value*, size_t> gemm_of;
  for (size_t g = 0; g < c.gemms.size(); ++g) {
    gemm_of[c.gemms[g]->result] = g;
    // Duplicate multi_outputs of the same GEMM read the same tile.
    for (const Node* node : kernel_.nodes) {
      if (node->op() == OpKind::kMultiOutput && *node->IntAttr("index") == c.gemms[g]->index) {
        gemm_of[node->result()] = g;
      }
    }
  }
  absl::flat_hash_map<size_t, llvm::Value*> bias_base;
  for (size_t g = 0; g < c.gemms.size(); ++g) {
    if (c.gemms[g]->bias != nullptr) bias_base[g] = f.Buffer(mc_.plan.value_slot.at(c.gemms[g]->bias));
  }
  for (const auto& [value, g] : gemm_of) loop.tile_values.insert(value);
  loop.read_tile = [&](const Value* v, llvm::Value* row, llvm::Value* col) -> llvm::Value* {
    const size_t g = gemm_of.at(v);
    llvm::Value* index = b.CreateAdd(b.CreateMul(b.CreateSub(row, m0), f.I64(nr)), b.CreateSub(col, n0));
    llvm::Value* x = b.CreateLoad(fty, b.CreateInBoundsGEP(fty, ops[g].tile, index));
    auto bias = bias_base.find(g);
    if (bias != bias_base.end()) {
      x = b.CreateFAdd(x, b.CreateLoad(fty, b.CreateInBoundsGEP(fty, bias->second, col)));
    }
    return x;
  };
  std::vector<const Value*> candidates;
  for (const auto& node : kernel_.nodes) {
    if (gemm_of.contains(node->result())) candidates.push_back(node->result());
  }
  for (const Node* e : c.epilogues) candidates.push_back(e->result());
  for (const Value* v : candidates) {
    if (mc_.schedule.materialized.contains(v)) loop.stores.push_back(v);
  }
  EmitElementLoop(f, loop);
}

llvm::Function* GemmTemplate::Render(const TileConfig& config, const std::string& name) {
  llvm::Value* task;
  FunctionEmitter f = BeginTaskFunction(mc_, name, &task);
  BRAID_CHECK(classes_.size() == 1, "a lone GEMM template has one output class");
  RenderClass(f, classes_[0], config, task, AllocateTile(f, config));
  f.b().CreateRetVoid();
  return f.fn();
}

llvm::Function* GroupedGemmTemplate::Render(const TileConfig& config, const std::string& name) {
  llvm::Value* task;
  FunctionEmitter f = BeginTaskFunction(mc_, name, &task);
  llvm::IRBuilder<>& b = f.b();
  llvm::Value* tile = AllocateTile(f, config);
  llvm::BasicBlock* done = llvm::BasicBlock::Create(f.ctx(), "done", f.fn());
  // task -> (class, task within the class), classes in order.
  for (const OutputClass& c : classes_) {
    llvm::Value* count = ClassTasks(f, c, config);
    llvm::BasicBlock* mine = llvm::BasicBlock::Create(f.ctx(), "class", f.fn());
    llvm::BasicBlock* next = llvm::BasicBlock::Create(f.ctx(), "next", f.fn());
    b.CreateCondBr(b.CreateICmpSLT(task, count), mine, next);
    b.SetInsertPoint(mine);
    RenderClass(f, c, config, task, tile);
    b.CreateBr(done);
    b.SetInsertPoint(next);
    task = b.CreateSub(task, count);
  }
  b.CreateBr(done);
  b.SetInsertPoint(done);
  b.CreateRetVoid();
  return f.fn();
}

}  // namespace braid
