// gMock matchers for absl::Status / absl::StatusOr (Debian's Abseil 20220623 ships none).
//   EXPECT_THAT(status, IsOk());
//   EXPECT_THAT(status_or, StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("...")));
//   ASSERT_OK_AND_ASSIGN(auto module, ParseModule("t.ir", text));
#ifndef BRAID_TESTS_STATUS_MATCHERS_H_
#define BRAID_TESTS_STATUS_MATCHERS_H_

#include <ostream>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "gmock/gmock.h"

namespace braid::testing {

inline const absl::Status& GetStatus(const absl::Status& s) { return s; }
template <typename T>
const absl::Status& GetStatus(const absl::StatusOr<T>& s) {
  return s.status();
}

MATCHER(IsOk, "is OK") {
  const absl::Status& s = GetStatus(arg);
  if (!s.ok()) *result_listener << "status is " << s;
  return s.ok();
}

MATCHER_P2(StatusIs, code, message_matcher,
           "has code " + absl::StatusCodeToString(code) + " and a matching message") {
  const absl::Status& s = GetStatus(arg);
  *result_listener << "status is " << s;
  return s.code() == code &&
         ::testing::Matches(message_matcher)(std::string(s.message()));
}

}  // namespace braid::testing

#define BRAID_TEST_CONCAT_INNER(a, b) a##b
#define BRAID_TEST_CONCAT(a, b) BRAID_TEST_CONCAT_INNER(a, b)
#define ASSERT_OK_AND_ASSIGN(lhs, rexpr) \
  ASSERT_OK_AND_ASSIGN_IMPL(BRAID_TEST_CONCAT(braid_test_so_, __LINE__), lhs, rexpr)
#define ASSERT_OK_AND_ASSIGN_IMPL(tmp, lhs, rexpr)                       \
  auto tmp = (rexpr);                                                    \
  ASSERT_TRUE(tmp.ok()) << "status is " << tmp.status();                 \
  lhs = std::move(tmp).value()

#endif  // BRAID_TESTS_STATUS_MATCHERS_H_
