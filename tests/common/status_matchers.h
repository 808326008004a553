// tests/common/status_matchers.h — absl::Status helpers for GoogleTest
// (Debian's GoogleTest 1.12 has none).
//
//   ASSERT_OK(log->Close());
//   ASSERT_OK_AND_ASSIGN(Position p, log->FindEvent(id));
//   EXPECT_THAT(log->ReadEvent(p), StatusIs(absl::StatusCode::kNotFound));
#pragma once

#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace dealwire::test_util {

inline const absl::Status& StatusOf(const absl::Status& s) { return s; }
template <typename T>
const absl::Status& StatusOf(const absl::StatusOr<T>& s) {
  return s.status();
}

// Matches a Status or StatusOr whose code is `code`.
MATCHER_P(StatusIs, code, absl::StrCat("has status code ", absl::StatusCodeToString(code))) {
  const absl::Status& s = ::dealwire::test_util::StatusOf(arg);
  *result_listener << "whose status is " << s;
  return s.code() == code;
}

// Matches a Status or StatusOr whose code is `code` and whose message
// contains `text`.
MATCHER_P2(StatusIsWith, code, text,
           absl::StrCat("has status code ", absl::StatusCodeToString(code),
                        " and a message containing \"", text, "\"")) {
  const absl::Status& s = ::dealwire::test_util::StatusOf(arg);
  *result_listener << "whose status is " << s;
  return s.code() == code && s.message().find(text) != absl::string_view::npos;
}

}  // namespace dealwire::test_util

#define DW_CONCAT_INNER(a, b) a##b
#define DW_CONCAT(a, b) DW_CONCAT_INNER(a, b)

// ASSERT_OK(expr) and EXPECT_OK(expr) take a Status or StatusOr, evaluate it
// once, and accept a streamed message.
#define DW_STATUS_CHECK_(expr, fail)                                                        \
  switch (0)                                                                                \
  case 0:                                                                                   \
  default:                                                                                  \
    if (const absl::Status dw_status_ = ::dealwire::test_util::StatusOf(expr); dw_status_.ok()) { \
    } else                                                                                  \
      fail() << dw_status_ << " "
#define ASSERT_OK(expr) DW_STATUS_CHECK_(expr, FAIL)
#define EXPECT_OK(expr) DW_STATUS_CHECK_(expr, ADD_FAILURE)

#define ASSERT_OK_AND_ASSIGN(lhs, rexpr) \
  ASSERT_OK_AND_ASSIGN_IMPL(DW_CONCAT(dw_status_or_, __LINE__), lhs, rexpr)
#define ASSERT_OK_AND_ASSIGN_IMPL(var, lhs, rexpr) \
  auto var = (rexpr);                              \
  ASSERT_TRUE(var.ok()) << var.status();           \
  lhs = std::move(var).value()
