// Status plumbing used everywhere in braid: Abseil has no public RETURN_IF_ERROR /
// ASSIGN_OR_RETURN, so we keep these few macros in one place, plus BRAID_CHECK for internal
// invariants (compiler bugs), which are not user errors and never become an absl::Status.
#ifndef BRAID_IR_STATUS_MACROS_H_
#define BRAID_IR_STATUS_MACROS_H_

#include <cstdio>
#include <cstdlib>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define BRAID_CONCAT_INNER(a, b) a##b
#define BRAID_CONCAT(a, b) BRAID_CONCAT_INNER(a, b)

// Returns from the enclosing function if `expr` (an absl::Status) is not OK.
#define BRAID_RETURN_IF_ERROR(expr)               \
  do {                                            \
    ::absl::Status braid_status_ = (expr);        \
    if (!braid_status_.ok()) return braid_status_; \
  } while (0)

// `BRAID_ASSIGN_OR_RETURN(auto x, F());` unwraps an absl::StatusOr or returns its error.
#define BRAID_ASSIGN_OR_RETURN(lhs, rexpr) \
  BRAID_ASSIGN_OR_RETURN_IMPL(BRAID_CONCAT(braid_statusor_, __LINE__), lhs, rexpr)
#define BRAID_ASSIGN_OR_RETURN_IMPL(tmp, lhs, rexpr) \
  auto tmp = (rexpr);                                \
  if (!tmp.ok()) return std::move(tmp).status();     \
  lhs = std::move(tmp).value()

// An internal invariant: failing it is a bug in braid, not in the user's input.
#define BRAID_CHECK(cond, msg)                                                     \
  do {                                                                             \
    if (!(cond)) {                                                                 \
      std::fprintf(stderr, "braid internal error: %s:%d: check failed: %s: %s\n", \
                   __FILE__, __LINE__, #cond, msg);                                \
      std::abort();                                                                \
    }                                                                              \
  } while (0)

#endif  // BRAID_IR_STATUS_MACROS_H_
