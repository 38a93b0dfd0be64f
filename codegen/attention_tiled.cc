// The attention template's vector path: register-tiled micro-GEMMs for both products.
//
// Taken when the head dim D is known at compile time and a multiple of the vector width (64,
// 80, 96, 128, ... on AVX-512). Per task, up to kTiledRowBlock query rows of one KV head; per
// block of kKeyBlock keys:
//   1. the block's K rows are transposed into kt[D][kKeyBlock] (vector-width square transposes
//      in registers), so that
//   2. scores = q_rows · kt is a micro-GEMM as in the GEMM template: kRows rows x 4 vectors of
//      keys accumulated over D from broadcast q elements, then scaled, the mask added, keys past
//      the block or a causal row's position set to -inf — all on whole vectors;
//   3. the online softmax works on the block's vectors: row maximum, exp, row sum, and the
//      correction that rescales the row's running sum and output;
//   4. acc = acc · correction + P · V_block: a second micro-GEMM, kRows rows x 4 vectors of D,
//      broadcast probabilities against V rows as they lie in memory ([key][D]).
// The scalar path (attention_kernel.cc) computes the same formulas one element at a time; this
// one is ~2x faster at prefill in f32, ~2.5x in bf16 (measured in docs/DECODER_LAYER.md).
#include <limits>

#include "codegen/attention_kernel.h"
#include "codegen/element_storage.h"
#include "codegen/scalar_math.h"
#include "ir/tensor_op_types.h"

namespace braid {
namespace {

constexpr int kVectorsPerTile = 4;  // key vectors per score tile, D vectors per output tile

// A VW x VW transpose of `rows` (VW vectors of VW floats) in registers: log2(VW) butterfly
// stages, stage `bit` exchanging that bit of the row index with the same bit of the column.
std::vector<llvm::Value*> Transpose(llvm::IRBuilder<>& b, std::vector<llvm::Value*> rows) {
  const int vw = static_cast<int>(rows.size());
  for (int bit = 1; bit < vw; bit <<= 1) {
    std::vector<llvm::Value*> next(vw);
    for (int r = 0; r < vw; ++r) {
      if (r & bit) continue;
      // Row r keeps its columns with the bit clear and takes row r|bit's (col^bit) where it is
      // set; row r|bit takes row r's (col|bit) where the bit is clear and keeps the rest.
      std::vector<int> low(vw), high(vw);
      for (int c = 0; c < vw; ++c) {
        low[c] = (c & bit) ? vw + (c ^ bit) : c;
        high[c] = (c & bit) ? vw + c : (c | bit);
      }
      next[r] = b.CreateShuffleVector(rows[r], rows[r | bit], low);
      next[r | bit] = b.CreateShuffleVector(rows[r], rows[r | bit], high);
    }
    rows = std::move(next);
  }
  return rows;
}

}  // namespace

bool AttentionKernel::Tiled() const {
  const int vw = mc_.target.vector_width;
  const Dim& d = Q().shape[3];
  return !d.is_symbolic() && d.value() > 0 && d.value() % vw == 0 && kKeyBlock % (kVectorsPerTile * vw) == 0 &&
         kTiledRowBlock % TileRows() == 0;
}

int AttentionKernel::TileRows() const { return mc_.target.vector_width == 16 ? 4 : 2; }

llvm::Function* AttentionKernel::RenderTiled(const std::string& name) {
  llvm::Value* task;
  FunctionEmitter f = BeginTaskFunction(mc_, name, &task);
  llvm::IRBuilder<>& b = f.b();
  llvm::Type* f32 = b.getFloatTy();
  const int vw = mc_.target.vector_width;
  const int tile_rows = TileRows();
  llvm::Type* vec = llvm::FixedVectorType::get(f32, vw);
  const Shape& qs = Q().shape;
  const Shape& ks = K().shape;
  const DType dtype = Q().dtype;
  const int64_t d = qs[3].value();
  const int64_t kb = kKeyBlock;
  const int64_t rb = kTiledRowBlock;
  llvm::Value* hq = f.DimValue(qs[1]);
  llvm::Value* t_len = f.DimValue(qs[2]);
  llvm::Value* hkv = f.DimValue(ks[1]);
  llvm::Value* s_len = f.DimValue(ks[2]);
  llvm::Value* group = GroupSize(f, hq, hkv);
  const double kNegInf = -std::numeric_limits<double>::infinity();
  llvm::Value* neg_inf = llvm::ConstantFP::get(vec, kNegInf);
  llvm::Value* zero = llvm::ConstantFP::get(vec, 0.0);
  llvm::FastMathFlags reassoc;
  reassoc.setAllowReassoc();

  // Entry-block state: per-row offsets and softmax state, the block's scores, and the register
  // tiles (promoted to registers).
  llvm::IRBuilder<> entry(&f.fn()->getEntryBlock(), f.fn()->getEntryBlock().begin());
  auto array = [&](llvm::Type* type, int64_t n, const char* what) {
    llvm::AllocaInst* a = entry.CreateAlloca(llvm::ArrayType::get(type, n), nullptr, what);
    a->setAlignment(llvm::Align(64));
    return a;
  };
  llvm::Value* q_off = array(b.getInt64Ty(), rb, "q_off");
  llvm::Value* o_off = array(b.getInt64Ty(), rb, "o_off");
  llvm::Value* row_limit = array(b.getInt64Ty(), rb, "row_limit");
  llvm::Value* mask_off = array(b.getInt64Ty(), rb, "mask_off");
  llvm::Value* row_max = array(f32, rb, "row_max");
  llvm::Value* row_sum = array(f32, rb, "row_sum");
  llvm::Value* correction = array(f32, rb, "correction");
  llvm::Value* scores = array(f32, rb * kb, "scores");
  std::vector<llvm::Value*> tile(tile_rows * kVectorsPerTile);
  for (auto& t : tile) t = entry.CreateAlloca(vec, nullptr, "tile");
  llvm::FunctionCallee scratch = mc_.module.getOrInsertFunction(
      "braid_thread_scratch", llvm::FunctionType::get(b.getPtrTy(), {b.getInt64Ty()}, false));
  // The rows' f32 outputs (rb x D) and the transposed K block (D x kb) in the thread's scratch
  // buffer (64-byte aligned), not the stack: D is bounded only by the inputs' size.
  llvm::Value* acc = b.CreateCall(scratch, {f.I64(4 * (rb * d + d * kb))}, "acc");
  llvm::Value* kt = b.CreateInBoundsGEP(f32, acc, f.I64(rb * d), "kt");  // rb·D·4 bytes: 64-aligned

  auto at = [&](llvm::Type* type, llvm::Value* base, llvm::Value* i) { return b.CreateInBoundsGEP(type, base, i); };
  auto load_i64 = [&](llvm::Value* base, llvm::Value* i) { return b.CreateLoad(b.getInt64Ty(), at(b.getInt64Ty(), base, i)); };
  auto load_f = [&](llvm::Value* base, llvm::Value* i) { return b.CreateLoad(f32, at(f32, base, i)); };
  auto load_v = [&](llvm::Value* base, llvm::Value* i) { return b.CreateAlignedLoad(vec, at(f32, base, i), llvm::Align(4)); };
  auto store_v = [&](llvm::Value* v, llvm::Value* base, llvm::Value* i) {
    b.CreateAlignedStore(v, at(f32, base, i), llvm::Align(4));
  };
  // vw elements of a `dtype` tensor as f32 lanes.
  llvm::Type* stored_vec = llvm::FixedVectorType::get(StorageType(b, dtype), vw);
  auto load_tensor = [&](llvm::Value* base, llvm::Value* i) {
    llvm::Value* p = b.CreateInBoundsGEP(StorageType(b, dtype), base, i);
    return WidenToF32(b, dtype, b.CreateAlignedLoad(stored_vec, p, llvm::Align(DTypeBytes(dtype))));
  };
  auto splat = [&](llvm::Value* x) { return b.CreateVectorSplat(vw, x); };
  auto fma = [&](llvm::Value* x, llvm::Value* y, llvm::Value* z) {
    return b.CreateIntrinsic(llvm::Intrinsic::fmuladd, {vec}, {x, y, z});
  };
  std::vector<llvm::Constant*> lane_index;
  for (int l = 0; l < vw; ++l) lane_index.push_back(b.getInt64(l));
  llvm::Value* lanes = llvm::ConstantVector::get(lane_index);

  const TaskRows task_rows = RowsOf(f, task);
  llvm::Value* batch = task_rows.batch;
  llvm::Value* kv_head = task_rows.kv_head;
  llvm::Value* row_begin = task_rows.row_begin;
  llvm::Value* rows = task_rows.rows;
  // The register tiles cover whole groups of tile_rows rows; the rows past `rows` repeat the
  // last one (their results are never stored).
  llvm::Value* tiled_rows = b.CreateMul(f.CeilDiv(rows, tile_rows), f.I64(tile_rows));
  llvm::Value* q = BufferOf(f, node_.operand(0));
  llvm::Value* k = BufferOf(f, node_.operand(1));
  llvm::Value* v = BufferOf(f, node_.operand(2));
  llvm::Value* out = BufferOf(f, stored_);
  const bool has_mask = node_.operands().size() == 4;
  llvm::Value* mask = has_mask ? BufferOf(f, node_.operand(3)) : nullptr;
  const std::vector<llvm::Value*> mask_stride = MaskStrides(f);
  // The mask's key dim is its own (stride 1), else broadcast (stride 0).
  const bool mask_contiguous = has_mask && !Operand(3).shape.empty() && Operand(3).shape.back() != Dim::Const(1);
  const bool causal = AttentionCausal(node_.attrs());
  llvm::Value* scale = f.F32(AttentionScale(node_.attrs(), d));
  llvm::Value* kv_base = b.CreateMul(b.CreateAdd(b.CreateMul(batch, hkv), kv_head), b.CreateMul(s_len, f.I64(d)));

  f.For(f.I64(0), f.I64(rb), 1, "init", [&](llvm::Value* r) {
    llvm::Value* g = b.CreateAdd(row_begin, f.Min(r, b.CreateSub(rows, f.I64(1))));
    llvm::Value* t = b.CreateURem(g, t_len);
    llvm::Value* head = b.CreateAdd(b.CreateMul(kv_head, group), b.CreateUDiv(g, t_len));
    llvm::Value* bh = b.CreateAdd(b.CreateMul(batch, hq), head);
    b.CreateStore(b.CreateMul(b.CreateAdd(b.CreateMul(bh, t_len), t), f.I64(d)), at(b.getInt64Ty(), q_off, r));
    b.CreateStore(OutputOffset(f, batch, head, t), at(b.getInt64Ty(), o_off, r));
    // The last key row r may see (causal): S - T + t.
    b.CreateStore(b.CreateAdd(b.CreateSub(s_len, t_len), t), at(b.getInt64Ty(), row_limit, r));
    b.CreateStore(b.CreateAdd(b.CreateAdd(b.CreateMul(batch, mask_stride[0]), b.CreateMul(head, mask_stride[1])),
                              b.CreateMul(t, mask_stride[2])),
                  at(b.getInt64Ty(), mask_off, r));
    b.CreateStore(f.F32(kNegInf), at(f32, row_max, r));
    b.CreateStore(f.F32(0.0), at(f32, row_sum, r));
    f.For(f.I64(0), f.I64(d), vw, "i", [&](llvm::Value* i) { store_v(zero, acc, b.CreateAdd(b.CreateMul(r, f.I64(d)), i)); });
  });
  llvm::Value* key_end = KeyEnd(f, task_rows);

  f.For(f.I64(0), key_end, kb, "key0", [&](llvm::Value* key0) {
    llvm::Value* width = f.Min(f.I64(kb), b.CreateSub(key_end, key0));
    llvm::Value* last_key = b.CreateAdd(key0, b.CreateSub(width, f.I64(1)));
    // 1. kt[i][j] = k[key0 + j][i]; keys past the block read its last key (masked below).
    f.For(f.I64(0), f.I64(kb), vw, "jb", [&](llvm::Value* jb) {
      f.For(f.I64(0), f.I64(d), vw, "ib", [&](llvm::Value* ib) {
        std::vector<llvm::Value*> rows_in(vw);
        for (int jj = 0; jj < vw; ++jj) {
          llvm::Value* key = f.Min(b.CreateAdd(key0, b.CreateAdd(jb, f.I64(jj))), last_key);
          rows_in[jj] = load_tensor(k, b.CreateAdd(kv_base, b.CreateAdd(b.CreateMul(key, f.I64(d)), ib)));
        }
        std::vector<llvm::Value*> cols = Transpose(b, rows_in);
        for (int ii = 0; ii < vw; ++ii) {
          store_v(cols[ii], kt, b.CreateAdd(b.CreateMul(b.CreateAdd(ib, f.I64(ii)), f.I64(kb)), jb));
        }
      });
    });
    // 2. Score tiles: tile_rows rows x kVectorsPerTile vectors of keys.
    f.For(f.I64(0), tiled_rows, tile_rows, "r0", [&](llvm::Value* r0) {
      for (int64_t j0 = 0; j0 < kb; j0 += kVectorsPerTile * vw) {
        for (llvm::Value* t : tile) b.CreateStore(zero, t);
        std::vector<llvm::Value*> q_row(tile_rows);
        for (int r = 0; r < tile_rows; ++r) q_row[r] = load_i64(q_off, b.CreateAdd(r0, f.I64(r)));
        f.For(f.I64(0), f.I64(d), 1, "i", [&](llvm::Value* i) {
          std::vector<llvm::Value*> keys(kVectorsPerTile);
          for (int n = 0; n < kVectorsPerTile; ++n) {
            keys[n] = b.CreateAlignedLoad(vec, at(f32, kt, b.CreateAdd(b.CreateMul(i, f.I64(kb)), f.I64(j0 + n * vw))),
                                          llvm::Align(vw * 4));
          }
          for (int r = 0; r < tile_rows; ++r) {
            llvm::Value* qv = splat(LoadAsF32(b, dtype, q, b.CreateAdd(q_row[r], i)));
            for (int n = 0; n < kVectorsPerTile; ++n) {
              llvm::Value* t = tile[r * kVectorsPerTile + n];
              b.CreateStore(fma(qv, keys[n], b.CreateLoad(vec, t)), t);
            }
          }
        });
        for (int r = 0; r < tile_rows; ++r) {
          llvm::Value* row = b.CreateAdd(r0, f.I64(r));
          llvm::Value* limit = splat(load_i64(row_limit, row));
          for (int n = 0; n < kVectorsPerTile; ++n) {
            llvm::Value* s = b.CreateFMul(b.CreateLoad(vec, tile[r * kVectorsPerTile + n]), splat(scale));
            llvm::Value* first = b.CreateAdd(key0, f.I64(j0 + n * vw));
            llvm::Value* key = b.CreateAdd(splat(first), lanes);
            llvm::Value* past = b.CreateICmpSGT(key, splat(last_key));
            if (has_mask) {
              llvm::Value* m_index = b.CreateAdd(load_i64(mask_off, row), b.CreateMul(first, mask_stride[3]));
              llvm::Value* m;
              if (mask_contiguous) {
                // Whole vectors inside the block; the block's last, partial one element-wise.
                llvm::Value* full = b.CreateICmpSLE(b.CreateAdd(first, f.I64(vw - 1)), last_key);
                llvm::BasicBlock* whole = llvm::BasicBlock::Create(f.ctx(), "mask.whole", f.fn());
                llvm::BasicBlock* lanewise = llvm::BasicBlock::Create(f.ctx(), "mask.lanes", f.fn());
                llvm::BasicBlock* joined = llvm::BasicBlock::Create(f.ctx(), "mask.join", f.fn());
                b.CreateCondBr(full, whole, lanewise);
                b.SetInsertPoint(whole);
                llvm::Value* m_whole = load_tensor(mask, m_index);
                b.CreateBr(joined);
                b.SetInsertPoint(lanewise);
                llvm::Value* m_lanes = zero;
                for (int l = 0; l < vw; ++l) {
                  llvm::Value* lane_key = f.Min(b.CreateAdd(first, f.I64(l)), last_key);
                  llvm::Value* e = LoadAsF32(b, dtype, mask,
                                             b.CreateAdd(m_index, b.CreateSub(lane_key, first)));
                  m_lanes = b.CreateInsertElement(m_lanes, e, l);
                }
                b.CreateBr(joined);
                b.SetInsertPoint(joined);
                llvm::PHINode* phi = b.CreatePHI(vec, 2);
                phi->addIncoming(m_whole, whole);
                phi->addIncoming(m_lanes, lanewise);
                m = phi;
              } else {
                m = splat(LoadAsF32(b, dtype, mask, m_index));
              }
              s = b.CreateFAdd(s, m);
            }
            if (causal) past = b.CreateOr(past, b.CreateICmpSGT(key, limit));
            s = b.CreateSelect(past, neg_inf, s);
            store_v(s, scores, b.CreateAdd(b.CreateMul(row, f.I64(kb)), f.I64(j0 + n * vw)));
          }
        }
      }
    });
    // 3. Online softmax on the block's vectors.
    f.For(f.I64(0), tiled_rows, 1, "r", [&](llvm::Value* r) {
      llvm::Value* row_scores = b.CreateMul(r, f.I64(kb));
      std::vector<llvm::Value*> s(kb / vw);
      llvm::Value* vmax = neg_inf;
      for (int64_t n = 0; n < kb / vw; ++n) {
        s[n] = load_v(scores, b.CreateAdd(row_scores, f.I64(n * vw)));
        vmax = b.CreateBinaryIntrinsic(llvm::Intrinsic::maximum, vmax, s[n]);
      }
      llvm::Value* old_max = load_f(row_max, r);
      llvm::Value* new_max = b.CreateBinaryIntrinsic(llvm::Intrinsic::maximum, old_max,
                                                     b.CreateUnaryIntrinsic(llvm::Intrinsic::vector_reduce_fmaximum, vmax));
      // No visible key yet: shift by 0 (exp(-inf) = 0, not NaN); exp(-inf) is 0 exactly.
      llvm::Value* shift = b.CreateSelect(b.CreateFCmpOEQ(new_max, f.F32(kNegInf)), f.F32(0.0), new_max);
      llvm::Value* corr = b.CreateSelect(b.CreateFCmpOEQ(old_max, f.F32(kNegInf)), f.F32(0.0),
                                         EmitExp(b, b.CreateFSub(old_max, shift)));
      llvm::Value* vsum = zero;
      for (int64_t n = 0; n < kb / vw; ++n) {
        llvm::Value* p = b.CreateSelect(b.CreateFCmpOEQ(s[n], neg_inf), zero, EmitExp(b, b.CreateFSub(s[n], splat(shift))));
        store_v(p, scores, b.CreateAdd(row_scores, f.I64(n * vw)));
        vsum = b.CreateFAdd(vsum, p);
      }
      llvm::IRBuilder<>::FastMathFlagGuard guard(b);
      b.setFastMathFlags(reassoc);
      llvm::Value* block_sum = b.CreateFAddReduce(f.F32(0.0), vsum);
      b.CreateStore(b.CreateFAdd(b.CreateFMul(load_f(row_sum, r), corr), block_sum), at(f32, row_sum, r));
      b.CreateStore(new_max, at(f32, row_max, r));
      b.CreateStore(corr, at(f32, correction, r));
    });
    // 4. acc = acc · correction + P · V_block, output tiles of tile_rows x up to 4 vectors.
    f.For(f.I64(0), tiled_rows, tile_rows, "r0", [&](llvm::Value* r0) {
      for (int64_t c0 = 0; c0 < d; c0 += kVectorsPerTile * vw) {
        const int nv = static_cast<int>(std::min<int64_t>(kVectorsPerTile, (d - c0) / vw));
        for (int r = 0; r < tile_rows; ++r) {
          llvm::Value* row = b.CreateAdd(r0, f.I64(r));
          llvm::Value* corr = splat(load_f(correction, row));
          for (int n = 0; n < nv; ++n) {
            llvm::Value* a = load_v(acc, b.CreateAdd(b.CreateMul(row, f.I64(d)), f.I64(c0 + n * vw)));
            b.CreateStore(b.CreateFMul(a, corr), tile[r * kVectorsPerTile + n]);
          }
        }
        f.For(f.I64(0), width, 1, "j", [&](llvm::Value* j) {
          llvm::Value* v_row = b.CreateAdd(kv_base, b.CreateMul(b.CreateAdd(key0, j), f.I64(d)));
          std::vector<llvm::Value*> values(nv);
          for (int n = 0; n < nv; ++n) values[n] = load_tensor(v, b.CreateAdd(v_row, f.I64(c0 + n * vw)));
          for (int r = 0; r < tile_rows; ++r) {
            llvm::Value* p = splat(load_f(scores, b.CreateAdd(b.CreateMul(b.CreateAdd(r0, f.I64(r)), f.I64(kb)), j)));
            for (int n = 0; n < nv; ++n) {
              llvm::Value* t = tile[r * kVectorsPerTile + n];
              b.CreateStore(fma(p, values[n], b.CreateLoad(vec, t)), t);
            }
          }
        });
        for (int r = 0; r < tile_rows; ++r) {
          llvm::Value* row = b.CreateAdd(r0, f.I64(r));
          for (int n = 0; n < nv; ++n) {
            store_v(b.CreateLoad(vec, tile[r * kVectorsPerTile + n]), acc,
                    b.CreateAdd(b.CreateMul(row, f.I64(d)), f.I64(c0 + n * vw)));
          }
        }
      }
    });
  });
  // out_r = acc_r / sum_r (a row that saw no key: 0 / 0, NaN, as the interpreter, or 0 under
  // `masked_rows = zero`: its sum is 0 exactly).
  const bool zero_masked_rows = AttentionZeroMaskedRows(node_.attrs());
  f.For(f.I64(0), rows, 1, "r", [&](llvm::Value* r) {
    llvm::Value* sum = load_f(row_sum, r);
    llvm::Value* inv = splat(b.CreateFDiv(f.F32(1.0), sum));
    llvm::Value* no_key = b.CreateFCmpOEQ(sum, f.F32(0.0));
    llvm::Value* o_row = load_i64(o_off, r);
    f.For(f.I64(0), f.I64(d), vw, "i", [&](llvm::Value* i) {
      llvm::Value* value = b.CreateFMul(load_v(acc, b.CreateAdd(b.CreateMul(r, f.I64(d)), i)), inv);
      if (zero_masked_rows) value = b.CreateSelect(no_key, zero, value);
      llvm::Value* p = b.CreateInBoundsGEP(StorageType(b, dtype), out, b.CreateAdd(o_row, i));
      b.CreateAlignedStore(RoundFromF32(b, dtype, value), p, llvm::Align(DTypeBytes(dtype)));
    });
  });
  b.CreateRetVoid();
  return f.fn();
}

}  // namespace braid
