// common/status_macros.h — early returns on absl::Status and absl::StatusOr.
//
//   absl::StatusOr<std::unique_ptr<EventLog>> Open(const std::string& dir) {
//     RETURN_IF_ERROR(CheckDirectory(dir));
//     ASSIGN_OR_RETURN(std::unique_ptr<EventLog> log, store::OpenEventLog(dir, {}));
//     return log;
//   }
//
// RETURN_IF_ERROR(expr): `expr` yields an absl::Status; when it is not OK the
// enclosing function returns it. ASSIGN_OR_RETURN(lhs, expr): `expr` yields
// an absl::StatusOr<T>; when it holds an error the enclosing function returns
// its status, otherwise its value is moved into `lhs` (a declaration or an
// lvalue). Both evaluate `expr` exactly once. The enclosing function returns
// absl::Status or some absl::StatusOr<U>.
#pragma once

#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define DEALWIRE_STATUS_CONCAT_INNER_(a, b) a##b
#define DEALWIRE_STATUS_CONCAT_(a, b) DEALWIRE_STATUS_CONCAT_INNER_(a, b)

#define RETURN_IF_ERROR(expr)                                                    \
  do {                                                                           \
    ::absl::Status dealwire_status_ = (expr);                                    \
    if (!dealwire_status_.ok()) return dealwire_status_;                         \
  } while (false)

#define ASSIGN_OR_RETURN(lhs, expr) \
  DEALWIRE_ASSIGN_OR_RETURN_IMPL_(DEALWIRE_STATUS_CONCAT_(dealwire_statusor_, __LINE__), lhs, expr)

#define DEALWIRE_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, expr) \
  auto statusor = (expr);                                    \
  if (!statusor.ok()) return std::move(statusor).status();   \
  lhs = *std::move(statusor)
