// Flash attention with online softmax.
#include "codegen/attention_kernel.h"

#include <limits>

#include "codegen/element_storage.h"
#include "codegen/scalar_math.h"
#include "ir/tensor_op_types.h"

namespace braid {
// Query heads per KV head; a graph with no heads at all (both counts bound to 0) has no work,
// and must not divide by zero finding that out.
llvm::Value* AttentionKernel::GroupSize(FunctionEmitter& f, llvm::Value* hq, llvm::Value* hkv) {
  llvm::IRBuilder<>& b = f.b();
  return b.CreateUDiv(hq, b.CreateSelect(b.CreateICmpEQ(hkv, f.I64(0)), f.I64(1), hkv));
}

AttentionKernel::AttentionKernel(ModuleContext& mc, const Kernel& kernel)
    : NodeKernel(mc, kernel), stored_(node_.result()) {
  // The scheduler may hand the kernel the transpose [B, Hq, T, D] -> [B, T, Hq, D] of its result
  // (fusion.cc): the rows are stored there, and the result itself is never written.
  if (kernel.nodes.size() == 2 && kernel.nodes[1]->op() == OpKind::kTranspose) {
    stored_ = kernel.nodes[1]->result();
    heads_inner_ = true;
  }
}

llvm::Value* AttentionKernel::OutputOffset(FunctionEmitter& f, llvm::Value* batch, llvm::Value* head,
                                           llvm::Value* t) const {
  llvm::IRBuilder<>& b = f.b();
  llvm::Value* hq = f.DimValue(Q().shape[1]);
  llvm::Value* t_len = f.DimValue(Q().shape[2]);
  llvm::Value* row = heads_inner_ ? b.CreateAdd(b.CreateMul(b.CreateAdd(b.CreateMul(batch, t_len), t), hq), head)
                                  : b.CreateAdd(b.CreateMul(b.CreateAdd(b.CreateMul(batch, hq), head), t_len), t);
  return b.CreateMul(row, f.DimValue(Q().shape[3]));
}

llvm::Value* AttentionKernel::TasksPerHead(FunctionEmitter& f) const {
  llvm::IRBuilder<>& b = f.b();
  llvm::Value* group = GroupSize(f, f.DimValue(Q().shape[1]), f.DimValue(K().shape[1]));
  return f.CeilDiv(b.CreateMul(group, f.DimValue(Q().shape[2])), RowBlock());
}

AttentionKernel::TaskRows AttentionKernel::RowsOf(FunctionEmitter& f, llvm::Value* task) const {
  // task -> (batch, KV head, row block); rows r of the block -> (rep, t) -> query head.
  llvm::IRBuilder<>& b = f.b();
  llvm::Value* hkv = f.DimValue(K().shape[1]);
  llvm::Value* per_head = TasksPerHead(f);
  llvm::Value* block = b.CreateURem(task, per_head);
  llvm::Value* head_index = b.CreateUDiv(task, per_head);  // batch * hkv + kv head
  TaskRows rows;
  rows.batch = b.CreateUDiv(head_index, hkv);
  rows.kv_head = b.CreateURem(head_index, hkv);
  llvm::Value* rows_total = b.CreateMul(GroupSize(f, f.DimValue(Q().shape[1]), hkv), f.DimValue(Q().shape[2]));
  rows.row_begin = b.CreateMul(block, f.I64(RowBlock()));
  rows.rows = b.CreateSub(f.Min(b.CreateAdd(rows.row_begin, f.I64(RowBlock())), rows_total), rows.row_begin);
  return rows;
}

std::vector<llvm::Value*> AttentionKernel::MaskStrides(FunctionEmitter& f) const {
  std::vector<llvm::Value*> mask_stride(4, f.I64(0));
  if (node_.operands().size() == 4) {
    const Shape& ms = node_.operand(3)->type().tensor().shape;
    std::vector<llvm::Value*> strides = f.Strides(ms);
    for (size_t i = 0; i < ms.size(); ++i) {
      if (ms[ms.size() - 1 - i] != Dim::Const(1)) mask_stride[3 - i] = strides[ms.size() - 1 - i];
    }
  }
  return mask_stride;
}

llvm::Value* AttentionKernel::KeyEnd(FunctionEmitter& f, const TaskRows& rows) const {
  llvm::Value* s_len = f.DimValue(K().shape[2]);
  if (!AttentionCausal(node_.attrs())) return s_len;
  // Causal: a block sees keys up to its latest row's position S - T + t. Its rows are
  // consecutive (head, t) pairs: the last row's t, or T - 1 if the block spans two heads.
  llvm::IRBuilder<>& b = f.b();
  llvm::Value* t_len = f.DimValue(Q().shape[2]);
  llvm::Value* last_row = b.CreateAdd(rows.row_begin, b.CreateSub(rows.rows, f.I64(1)));
  llvm::Value* spans_heads = b.CreateICmpNE(b.CreateUDiv(rows.row_begin, t_len), b.CreateUDiv(last_row, t_len));
  llvm::Value* last_t = b.CreateSelect(spans_heads, b.CreateSub(t_len, f.I64(1)), b.CreateURem(last_row, t_len));
  llvm::Value* visible = b.CreateAdd(b.CreateSub(s_len, t_len), b.CreateAdd(last_t, f.I64(1)));
  return f.Min(s_len, b.CreateSelect(b.CreateICmpSLT(visible, f.I64(0)), f.I64(0), visible));
}

llvm::Value* AttentionKernel::NumTasks(FunctionEmitter& f) const {
  llvm::IRBuilder<>& b = f.b();
  return b.CreateMul(b.CreateMul(f.DimValue(Q().shape[0]), f.DimValue(K().shape[1])), TasksPerHead(f));
}

llvm::Function* AttentionKernel::Render(const std::string& name) {
  if (Tiled()) return RenderTiled(name);
  llvm::Value* task;
  FunctionEmitter f = BeginTaskFunction(mc_, name, &task);
  llvm::IRBuilder<>& b = f.b();
  llvm::Type* f32 = b.getFloatTy();
  const Shape& qs = Q().shape;
  const Shape& ks = K().shape;
  const DType dtype = Q().dtype;
  llvm::Value* hq = f.DimValue(qs[1]);
  llvm::Value* t_len = f.DimValue(qs[2]);
  llvm::Value* d = f.DimValue(qs[3]);
  llvm::Value* hkv = f.DimValue(ks[1]);
  llvm::Value* s_len = f.DimValue(ks[2]);
  llvm::Value* group = GroupSize(f, hq, hkv);
  // Per-row state in entry-block allocas: running max, running sum, the f32 output rows, and
  // one key block's scores (then probabilities).
  llvm::Value* row_max = b.CreateAlloca(f32, f.I64(kRowBlock), "row_max");
  llvm::Value* row_sum = b.CreateAlloca(f32, f.I64(kRowBlock), "row_sum");
  // The rows' f32 outputs, kRowBlock x D: the thread's scratch buffer, not the stack (D is
  // bounded only by the inputs' size).
  llvm::FunctionCallee scratch = mc_.module.getOrInsertFunction(
      "braid_thread_scratch", llvm::FunctionType::get(b.getPtrTy(), {b.getInt64Ty()}, false));
  llvm::Value* acc = b.CreateCall(scratch, {b.CreateMul(d, f.I64(4 * kRowBlock))}, "acc");
  llvm::Value* scores = b.CreateAlloca(f32, f.I64(kRowBlock * kKeyBlock), "scores");
  llvm::Value* dot = b.CreateAlloca(f32, nullptr, "dot");
  llvm::Value* block_max = b.CreateAlloca(f32, nullptr, "block_max");
  llvm::Value* block_sum = b.CreateAlloca(f32, nullptr, "block_sum");

  const TaskRows task_rows = RowsOf(f, task);
  llvm::Value* batch = task_rows.batch;
  llvm::Value* kv_head = task_rows.kv_head;
  llvm::Value* row_begin = task_rows.row_begin;
  llvm::Value* rows = task_rows.rows;

  llvm::Value* q = BufferOf(f, node_.operand(0));
  llvm::Value* k = BufferOf(f, node_.operand(1));
  llvm::Value* v = BufferOf(f, node_.operand(2));
  llvm::Value* out = BufferOf(f, stored_);
  const bool has_mask = node_.operands().size() == 4;
  llvm::Value* mask = has_mask ? BufferOf(f, node_.operand(3)) : nullptr;
  const std::vector<llvm::Value*> mask_stride = MaskStrides(f);
  const bool causal = AttentionCausal(node_.attrs());
  const int64_t static_d = qs[3].is_symbolic() ? 0 : qs[3].value();
  llvm::Value* scale = f.F32(AttentionScale(node_.attrs(), static_d));
  if (qs[3].is_symbolic() && !node_.attrs().count("scale")) {  // 1 / sqrt(D) at run time
    scale = EmitPointwise(b, OpKind::kRsqrt, {b.CreateUIToFP(d, f32)});
  }
  llvm::Value* kv_base = b.CreateMul(b.CreateAdd(b.CreateMul(batch, hkv), kv_head), b.CreateMul(s_len, d));
  // Row r's query head and position, and its element offset in q.
  auto row_t = [&](llvm::Value* r) { return b.CreateURem(b.CreateAdd(row_begin, r), t_len); };
  auto row_head = [&](llvm::Value* r) {
    return b.CreateAdd(b.CreateMul(kv_head, group), b.CreateUDiv(b.CreateAdd(row_begin, r), t_len));
  };
  auto row_offset = [&](llvm::Value* r) {
    llvm::Value* bh = b.CreateAdd(b.CreateMul(batch, hq), row_head(r));
    return b.CreateMul(b.CreateAdd(b.CreateMul(bh, t_len), row_t(r)), d);
  };
  auto at = [&](llvm::Value* base, llvm::Value* i) { return b.CreateInBoundsGEP(f32, base, i); };
  const double kNegInf = -std::numeric_limits<double>::infinity();
  llvm::FastMathFlags reassoc;
  reassoc.setAllowReassoc();

  f.For(f.I64(0), rows, 1, "init", [&](llvm::Value* r) {
    b.CreateStore(f.F32(kNegInf), at(row_max, r));
    b.CreateStore(f.F32(0.0), at(row_sum, r));
    f.For(f.I64(0), d, 1, "i", [&](llvm::Value* i) {
      b.CreateStore(f.F32(0.0), at(acc, b.CreateAdd(b.CreateMul(r, d), i)));
    });
  });
  llvm::Value* key_end = KeyEnd(f, task_rows);
  f.For(f.I64(0), key_end, kKeyBlock, "key0", [&](llvm::Value* key0) {
    llvm::Value* width = f.Min(f.I64(kKeyBlock), b.CreateSub(key_end, key0));
    // Scores: q_r · k_j * scale (+ mask), -inf past a causal row's position.
    f.For(f.I64(0), width, 1, "j", [&](llvm::Value* jj) {
      llvm::Value* j = b.CreateAdd(key0, jj);
      llvm::Value* k_row = b.CreateAdd(kv_base, b.CreateMul(j, d));
      f.For(f.I64(0), rows, 1, "r", [&](llvm::Value* r) {
        llvm::Value* q_row = row_offset(r);
        b.CreateStore(f.F32(0.0), dot);
        f.For(f.I64(0), d, 1, "i", [&](llvm::Value* i) {
          llvm::Value* prod = b.CreateFMul(LoadAsF32(b, dtype, q, b.CreateAdd(q_row, i)),
                                           LoadAsF32(b, dtype, k, b.CreateAdd(k_row, i)));
          llvm::IRBuilder<>::FastMathFlagGuard guard(b);
          b.setFastMathFlags(reassoc);
          b.CreateStore(b.CreateFAdd(b.CreateLoad(f32, dot), prod), dot);
        });
        llvm::Value* s = b.CreateFMul(b.CreateLoad(f32, dot), scale);
        llvm::Value* t = row_t(r);
        if (has_mask) {
          llvm::Value* m_index = b.CreateAdd(
              b.CreateAdd(b.CreateMul(batch, mask_stride[0]), b.CreateMul(row_head(r), mask_stride[1])),
              b.CreateAdd(b.CreateMul(t, mask_stride[2]), b.CreateMul(j, mask_stride[3])));
          s = b.CreateFAdd(s, LoadAsF32(b, dtype, mask, m_index));
        }
        if (causal) {
          llvm::Value* limit = b.CreateAdd(b.CreateSub(s_len, t_len), t);
          s = b.CreateSelect(b.CreateICmpSGT(j, limit), f.F32(kNegInf), s);
        }
        b.CreateStore(s, at(scores, b.CreateAdd(b.CreateMul(r, f.I64(kKeyBlock)), jj)));
      });
    });
    // Online softmax: new maximum, rescale the running sum and output once per block.
    f.For(f.I64(0), rows, 1, "r", [&](llvm::Value* r) {
      llvm::Value* row_scores = at(scores, b.CreateMul(r, f.I64(kKeyBlock)));
      b.CreateStore(b.CreateLoad(f32, at(row_max, r)), block_max);
      f.For(f.I64(0), width, 1, "j", [&](llvm::Value* jj) {
        b.CreateStore(b.CreateBinaryIntrinsic(llvm::Intrinsic::maximum, b.CreateLoad(f32, block_max),
                                              b.CreateLoad(f32, at(row_scores, jj))),
                      block_max);
      });
      llvm::Value* old_max = b.CreateLoad(f32, at(row_max, r));
      llvm::Value* new_max = b.CreateLoad(f32, block_max);
      // No visible key yet: shift by 0, so exp(-inf) = 0 rather than exp(-inf + inf) = NaN.
      llvm::Value* shift = b.CreateSelect(b.CreateFCmpOEQ(new_max, f.F32(kNegInf)), f.F32(0.0), new_max);
      // exp(-inf) must be 0 exactly (the polynomial exp clamps its input and gives ~1e-38), so
      // masked keys add nothing and a row that has seen no key yet keeps sum 0 and, if it never
      // sees one, ends 0/0 = NaN as the interpreter's does.
      auto exp_or_zero = [&](llvm::Value* s, llvm::Value* x) {
        return b.CreateSelect(b.CreateFCmpOEQ(s, f.F32(kNegInf)), f.F32(0.0), EmitPointwise(b, OpKind::kExp, {x}));
      };
      llvm::Value* correction = exp_or_zero(old_max, b.CreateFSub(old_max, shift));
      b.CreateStore(f.F32(0.0), block_sum);
      f.For(f.I64(0), width, 1, "j", [&](llvm::Value* jj) {
        llvm::Value* s = b.CreateLoad(f32, at(row_scores, jj));
        llvm::Value* p = exp_or_zero(s, b.CreateFSub(s, shift));
        b.CreateStore(p, at(row_scores, jj));
        llvm::IRBuilder<>::FastMathFlagGuard guard(b);
        b.setFastMathFlags(reassoc);
        b.CreateStore(b.CreateFAdd(b.CreateLoad(f32, block_sum), p), block_sum);
      });
      b.CreateStore(b.CreateFAdd(b.CreateFMul(b.CreateLoad(f32, at(row_sum, r)), correction),
                                 b.CreateLoad(f32, block_sum)),
                    at(row_sum, r));
      b.CreateStore(new_max, at(row_max, r));
      llvm::Value* acc_row = at(acc, b.CreateMul(r, d));
      f.For(f.I64(0), d, 1, "i", [&](llvm::Value* i) {
        b.CreateStore(b.CreateFMul(b.CreateLoad(f32, at(acc_row, i)), correction), at(acc_row, i));
      });
    });
    // acc_r += p_rj * v_j, each V row read once for all the block's rows.
    f.For(f.I64(0), width, 1, "j", [&](llvm::Value* jj) {
      llvm::Value* v_row = b.CreateAdd(kv_base, b.CreateMul(b.CreateAdd(key0, jj), d));
      f.For(f.I64(0), rows, 1, "r", [&](llvm::Value* r) {
        llvm::Value* p = b.CreateLoad(f32, at(scores, b.CreateAdd(b.CreateMul(r, f.I64(kKeyBlock)), jj)));
        llvm::Value* acc_row = at(acc, b.CreateMul(r, d));
        f.For(f.I64(0), d, 1, "i", [&](llvm::Value* i) {
          llvm::Value* sum = b.CreateIntrinsic(
              llvm::Intrinsic::fmuladd, {f32},
              {p, LoadAsF32(b, dtype, v, b.CreateAdd(v_row, i)), b.CreateLoad(f32, at(acc_row, i))});
          b.CreateStore(sum, at(acc_row, i));
        });
      });
    });
  });
  // out_r = acc_r / sum_r. A row that saw no key has sum 0 (every p was 0 exactly): 0 / 0, NaN,
  // as the interpreter, or 0 under `masked_rows = zero`.
  const bool zero_masked_rows = AttentionZeroMaskedRows(node_.attrs());
  f.For(f.I64(0), rows, 1, "r", [&](llvm::Value* r) {
    llvm::Value* sum = b.CreateLoad(f32, at(row_sum, r));
    llvm::Value* inv = b.CreateFDiv(f.F32(1.0), sum);
    llvm::Value* no_key = b.CreateFCmpOEQ(sum, f.F32(0.0));
    llvm::Value* acc_row = at(acc, b.CreateMul(r, d));
    llvm::Value* o_row = OutputOffset(f, batch, row_head(r), row_t(r));
    f.For(f.I64(0), d, 1, "i", [&](llvm::Value* i) {
      llvm::Value* o = b.CreateFMul(b.CreateLoad(f32, at(acc_row, i)), inv);
      if (zero_masked_rows) o = b.CreateSelect(no_key, f.F32(0.0), o);
      StoreFromF32(b, dtype, o, out, b.CreateAdd(o_row, i));
    });
  });
  b.CreateRetVoid();
  return f.fn();
}

}  // namespace braid
