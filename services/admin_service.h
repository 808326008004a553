// services/admin_service.h — dealwire.v1.Admin over gRPC's callback API.
//
//   AdminService admin(projections.get(), &queries);
//   builder.RegisterService(&admin);
//   ...
//   admin.Shutdown();  // cancels a running rebuild and waits for it
//
// GetStats runs on the query pool. RebuildProjections runs on its own thread
// (a rebuild folds the whole log) and streams its progress; the reactor
// writes one message at a time, and the rebuild stops when the call is
// cancelled.
#pragma once

#include <memory>
#include <mutex>
#include <thread>

#include "dealwire/v1/admin.grpc.pb.h"
#include "projections/market_projections.h"
#include "services/executor.h"

namespace dealwire::services {

class AdminService final : public dealwire::v1::Admin::CallbackService {
 public:
  // REQUIRES: `projections` and `pool` outlive the service.
  AdminService(projections::MarketProjections* projections, Executor* pool)
      : projections_(projections), pool_(pool) {}
  ~AdminService() override;

  // Cancels a running rebuild and joins its thread. Idempotent.
  void Shutdown();

  grpc::ServerUnaryReactor* GetStats(grpc::CallbackServerContext* context,
                                     const dealwire::v1::GetStatsRequest* request,
                                     dealwire::v1::GetStatsResponse* response) override;
  grpc::ServerWriteReactor<dealwire::v1::RebuildProjectionsResponse>* RebuildProjections(
      grpc::CallbackServerContext* context,
      const dealwire::v1::RebuildProjectionsRequest* request) override;

  // What a rebuild's thread shares with its call (admin_service.cc).
  struct RebuildCall;

 private:
  projections::MarketProjections* const projections_;
  Executor* const pool_;
  std::mutex mu_;
  // The latest rebuild and its thread: one runs at a time, so a finished one
  // is joined when the next starts (or at Shutdown).
  std::shared_ptr<RebuildCall> last_;  // guarded by mu_
  std::thread thread_;                 // guarded by mu_
  bool shut_down_ = false;             // guarded by mu_
};

}  // namespace dealwire::services
