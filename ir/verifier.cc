// Graph verification.
#include "ir/verifier.h"

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "ir/status_macros.h"
#include "ir/type_inference.h"

namespace braid {
namespace {

class Verifier {
 public:
  explicit Verifier(const Graph& graph) : graph_(graph) {}

  absl::Status Run() {
    for (const Value* p : graph_.params()) {
      BRAID_RETURN_IF_ERROR(Define(p, p->loc()));
      BRAID_RETURN_IF_ERROR(CheckDims(p->type().tensor(), p->loc()));
    }
    for (const auto& node : graph_.nodes()) BRAID_RETURN_IF_ERROR(VerifyNode(*node));
    return VerifyOutputs();
  }

 private:
  absl::Status Error(SourceLoc loc, absl::string_view message) const {
    return LocatedError(graph_.source(), loc, message, absl::StrCat("@", graph_.name()));
  }

  absl::Status Define(const Value* v, SourceLoc loc) {
    if (!names_.insert(v->name()).second) {
      return Error(loc, absl::StrCat("%", v->name(), " is defined more than once"));
    }
    defined_.insert(v);
    return absl::OkStatus();
  }

  // Graphs built through the API skip the parser's dim checks; repeat them here.
  absl::Status CheckDims(const TensorType& t, SourceLoc loc) const {
    if (t.rank() > kMaxRank) return Error(loc, absl::StrCat("rank above the limit of ", kMaxRank));
    int64_t elements = 1;
    for (const Dim& d : t.shape) {
      if (d.is_symbolic()) {
        // Every term's coefficient is within range (the parser's check, for API-built types).
        for (const auto& [monomial, coefficient] : d.terms()) {
          if (coefficient <= 0 || coefficient > kMaxElementCount) {
            return Error(loc, absl::StrCat("dimension ", d.ToString(), " has a coefficient out of range"));
          }
        }
        continue;
      }
      if (d.value() < 0 || d.value() > kMaxDimValue) {
        return Error(loc, absl::StrCat("dimension ", d.value(), " is out of range [0, ",
                                       kMaxDimValue, "]"));
      }
      if (__builtin_mul_overflow(elements, d.value(), &elements) || elements > kMaxElementCount) {
        return Error(loc, absl::StrCat(t.ToString(), " has more than ", kMaxElementCount, " elements"));
      }
    }
    return absl::OkStatus();
  }

  absl::Status VerifyNode(const Node& node) {
    const OpInfo& info = node.info();
    std::vector<const Type*> operand_types;
    for (size_t i = 0; i < node.operands().size(); ++i) {
      const Value* v = node.operand(i);
      if (v == nullptr || !defined_.contains(v)) {
        return Error(node.loc(),
                     absl::StrCat("operand #", i, " of '", info.name, "' (",
                                  v ? absl::StrCat("%", v->name()) : "null",
                                  ") is not defined before its use"));
      }
      if (v->type().is_layout() && node.op() != OpKind::kMultiOutput) {
        return Error(node.loc(), absl::StrCat("%", v->name(), " is a multi_output_layout; only "
                                              "multi_output may read it"));
      }
      operand_types.push_back(&v->type());
    }
    auto inferred = InferResultType(node.op(), operand_types, node.attrs(), &node.result()->type());
    if (!inferred.ok()) return Error(node.loc(), inferred.status().message());
    if (*inferred != node.result()->type()) {
      return Error(node.loc(), absl::StrCat("declared type ", node.result()->type().ToString(),
                                            " does not match the inferred type ",
                                            inferred->ToString()));
    }
    for (const TensorType& t : inferred->layout()) BRAID_RETURN_IF_ERROR(CheckDims(t, node.loc()));
    return Define(node.result(), node.loc());
  }

  absl::Status VerifyOutputs() const {
    const auto& outputs = graph_.outputs();
    if (outputs.empty()) return Error(graph_.loc(), "the graph returns nothing");
    for (const Value* v : outputs) {
      if (v == nullptr || !defined_.contains(v)) {
        return Error(graph_.loc(), absl::StrCat("returned value ", v ? "%" + v->name() : "null",
                                                " is not defined in the graph"));
      }
      if (v->type().is_layout()) {
        return Error(graph_.loc(), absl::StrCat("returned value %", v->name(),
                                                " is a multi_output_layout, not a tensor"));
      }
    }
    const auto& declared = graph_.declared_output_types();
    if (declared.empty()) return absl::OkStatus();
    if (declared.size() != outputs.size()) {
      return Error(graph_.loc(), absl::StrCat("the signature declares ", declared.size(),
                                              " results but 'return' has ", outputs.size()));
    }
    for (size_t i = 0; i < declared.size(); ++i) {
      if (declared[i] != outputs[i]->type()) {
        return Error(graph_.loc(), absl::StrCat("result #", i, " is declared ",
                                                declared[i].ToString(), " but %",
                                                outputs[i]->name(), " is ",
                                                outputs[i]->type().ToString()));
      }
    }
    return absl::OkStatus();
  }

  const Graph& graph_;
  absl::flat_hash_set<const Value*> defined_;
  absl::flat_hash_set<std::string> names_;
};

}  // namespace

absl::Status VerifyGraph(const Graph& graph) { return Verifier(graph).Run(); }

absl::Status VerifyModule(const Module& module) {
  for (const auto& graph : module.graphs) BRAID_RETURN_IF_ERROR(VerifyGraph(*graph));
  return absl::OkStatus();
}

}  // namespace braid
