// Head-view classification.
#include "scheduler/head_view.h"

#include <vector>

namespace braid {

int64_t HeadSplitDim(const Node& node) {
  if (node.op() != OpKind::kReshape) return 0;
  const Shape& from = node.operand(0)->type().tensor().shape;
  const Shape& to = node.result()->type().tensor().shape;
  if (from.size() < 2 || to.size() != from.size() + 1) return 0;
  for (size_t i = 0; i + 1 < from.size(); ++i) {
    if (!(from[i] == to[i])) return 0;
  }
  const Dim& n = from.back();
  const Dim& h = to[to.size() - 2];
  const Dim& d = to.back();
  if (n.is_symbolic() || h.is_symbolic() || d.is_symbolic() || d.value() <= 0) return 0;
  return h.value() * d.value() == n.value() ? d.value() : 0;
}

bool IsHeadTranspose(const Node& node) {
  if (node.op() != OpKind::kTranspose) return false;
  const std::vector<int64_t>* perm = node.IntListAttr("perm");
  const int rank = static_cast<int>(node.result()->type().tensor().rank());
  if (perm == nullptr || rank < 3 || static_cast<int>(perm->size()) != rank) return false;
  for (int i = 0; i < rank; ++i) {
    const int want = i == rank - 3 ? rank - 2 : i == rank - 2 ? rank - 3 : i;
    if ((*perm)[i] != want) return false;
  }
  return true;
}

}  // namespace braid
