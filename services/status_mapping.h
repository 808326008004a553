// services/status_mapping.h — the one place where Dealwire's internal status
// (absl::Status) becomes a gRPC status.
//
//   return ToGrpcStatus(log->GetStreamVersion(stream).status());
//
// Codes keep their meaning across the edge (they are the same canonical codes);
// the message is kept as it is, since it names the offending field.
#pragma once

#include "absl/status/status.h"
#include "grpcpp/support/status.h"

namespace dealwire::services {

// Returns the gRPC status with the same code and message as `status`.
grpc::Status ToGrpcStatus(const absl::Status& status);

}  // namespace dealwire::services
