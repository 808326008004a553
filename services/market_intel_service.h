// services/market_intel_service.h — dealwire.v1.MarketIntel over gRPC's
// callback API: each call is handed to a query pool, which asks the
// projections core (projections/market_projections.h) and finishes the call.
//
//   Executor queries(4, 1024, "dw-query");
//   MarketIntelService service(projections.get(), &queries);
//   builder.RegisterService(&service);
//
// Queries may wait for the projections (min_position) and fold many claims,
// so they never run on gRPC's threads. A call whose deadline is unset waits
// at most Options::max_wait for a min_position. A full pool answers
// UNAVAILABLE (retry).
#pragma once

#include "absl/time/time.h"
#include "dealwire/v1/market_intel.grpc.pb.h"
#include "projections/market_projections.h"
#include "services/executor.h"

namespace dealwire::services {

// Returns the deadline of a call, capped at now + `max_wait`.
absl::Time CallDeadline(const grpc::CallbackServerContext& context, absl::Duration max_wait);

// Runs `answer` on `pool` and finishes the call with the status it returns;
// when the pool is full or stopping, finishes at once with UNAVAILABLE.
grpc::ServerUnaryReactor* AnswerOnPool(grpc::CallbackServerContext* context, Executor* pool,
                                       absl::AnyInvocable<absl::Status() &&> answer);

class MarketIntelService final : public dealwire::v1::MarketIntel::CallbackService {
 public:
  // REQUIRES: `projections` and `pool` outlive the service.
  MarketIntelService(projections::MarketProjections* projections, Executor* pool,
                     absl::Duration max_wait = absl::Seconds(30))
      : projections_(projections), pool_(pool), max_wait_(max_wait) {}

  grpc::ServerUnaryReactor* GetOrganization(grpc::CallbackServerContext* context,
                                            const dealwire::v1::GetOrganizationRequest* request,
                                            dealwire::v1::GetOrganizationResponse* response) override;
  grpc::ServerUnaryReactor* ListOrganizations(
      grpc::CallbackServerContext* context, const dealwire::v1::ListOrganizationsRequest* request,
      dealwire::v1::ListOrganizationsResponse* response) override;
  grpc::ServerUnaryReactor* GetCapTable(grpc::CallbackServerContext* context,
                                        const dealwire::v1::GetCapTableRequest* request,
                                        dealwire::v1::GetCapTableResponse* response) override;
  grpc::ServerUnaryReactor* GetPortfolio(grpc::CallbackServerContext* context,
                                         const dealwire::v1::GetPortfolioRequest* request,
                                         dealwire::v1::GetPortfolioResponse* response) override;
  grpc::ServerUnaryReactor* GetTimeline(grpc::CallbackServerContext* context,
                                        const dealwire::v1::GetTimelineRequest* request,
                                        dealwire::v1::GetTimelineResponse* response) override;
  grpc::ServerUnaryReactor* GetValuationHistory(
      grpc::CallbackServerContext* context,
      const dealwire::v1::GetValuationHistoryRequest* request,
      dealwire::v1::GetValuationHistoryResponse* response) override;
  grpc::ServerUnaryReactor* GetDeal(grpc::CallbackServerContext* context,
                                    const dealwire::v1::GetDealRequest* request,
                                    dealwire::v1::GetDealResponse* response) override;
  grpc::ServerUnaryReactor* ListDeals(grpc::CallbackServerContext* context,
                                      const dealwire::v1::ListDealsRequest* request,
                                      dealwire::v1::ListDealsResponse* response) override;
  grpc::ServerUnaryReactor* ListPartnerships(
      grpc::CallbackServerContext* context, const dealwire::v1::ListPartnershipsRequest* request,
      dealwire::v1::ListPartnershipsResponse* response) override;
  grpc::ServerUnaryReactor* GetExposure(grpc::CallbackServerContext* context,
                                        const dealwire::v1::GetExposureRequest* request,
                                        dealwire::v1::GetExposureResponse* response) override;
  grpc::ServerUnaryReactor* GetMarketSummary(
      grpc::CallbackServerContext* context, const dealwire::v1::GetMarketSummaryRequest* request,
      dealwire::v1::GetMarketSummaryResponse* response) override;

 private:
  template <typename Request, typename Response>
  grpc::ServerUnaryReactor* Run(
      grpc::CallbackServerContext* context, const Request* request, Response* response,
      absl::StatusOr<Response> (projections::MarketProjections::*query)(const Request&, absl::Time)
          const);

  projections::MarketProjections* const projections_;
  Executor* const pool_;
  const absl::Duration max_wait_;
};

}  // namespace dealwire::services
