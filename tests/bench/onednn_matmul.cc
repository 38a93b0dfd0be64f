// OnednnMatmul: primitive creation, the one-time weight reorder, execution.
#include "tests/bench/onednn_matmul.h"

#include <cstdlib>
#include <unordered_map>

namespace braid::bench {

using dnnl::memory;
using Tag = memory::format_tag;
using Dt = memory::data_type;

dnnl::engine& OnednnEngine() {
  static dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  return engine;
}

OnednnMatmul::OnednnMatmul(int64_t m, int64_t k, int64_t n, const void* w_nk, Dt w_type, MatmulTypes types,
                           const dnnl::post_ops& ops, const std::vector<float>& column_scales)
    : src_({m, k}, types.src, Tag::ab), dst_({m, n}, types.dst, Tag::ab) {
  for (int i = 0; i < ops.len(); ++i) {
    if (ops.kind(i) != dnnl::primitive::kind::binary) continue;
    dnnl::algorithm alg;
    memory::desc operand;
    ops.get_params_binary(i, alg, operand);
    binary_.emplace_back(i, operand);
  }
  dnnl::primitive_attr attr;
  attr.set_post_ops(ops);
  if (!column_scales.empty()) attr.set_output_scales(/*mask=*/1 << 1, column_scales);
  memory::desc any_weights({k, n}, types.weights, Tag::any);
  dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(src_, any_weights, dst_), attr, OnednnEngine());
  prim_ = dnnl::matmul(pd);
  // The [n, k] array is W ([k, n]) in column-major order: tag ba.
  memory user({{k, n}, w_type, Tag::ba}, OnednnEngine(), const_cast<void*>(w_nk));
  weights_ = memory(pd.weights_desc(), OnednnEngine());
  dnnl::stream s(OnednnEngine());
  dnnl::reorder(user, weights_).execute(s, user, weights_);
  s.wait();
}

void OnednnMatmul::Execute(const void* src, void* dst, const std::vector<const void*>& binary) {
  std::unordered_map<int, memory> args = {{DNNL_ARG_SRC, memory(src_, OnednnEngine(), const_cast<void*>(src))},
                                          {DNNL_ARG_WEIGHTS, weights_},
                                          {DNNL_ARG_DST, memory(dst_, OnednnEngine(), dst)}};
  if (binary.size() != binary_.size()) std::abort();  // a bug in the peer
  for (size_t i = 0; i < binary.size(); ++i) {
    args[DNNL_ARG_ATTR_MULTIPLE_POST_OP(binary_[i].first) | DNNL_ARG_SRC_1] =
        memory(binary_[i].second, OnednnEngine(), const_cast<void*>(binary[i]));
  }
  dnnl::stream stream(OnednnEngine());
  prim_.execute(stream, args);
  stream.wait();
}

dnnl::post_ops Swish() {
  dnnl::post_ops ops;
  ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_swish, 1.0f, 0.0f);
  return ops;
}

dnnl::post_ops Binary(dnnl::algorithm alg, int64_t m, int64_t n, Dt type) {
  dnnl::post_ops ops;
  ops.append_binary(alg, memory::desc({m, n}, type, Tag::ab));
  return ops;
}

}  // namespace braid::bench
