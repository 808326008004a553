#include "services/market_intel_service.h"

#include <chrono>

#include "services/status_mapping.h"

namespace dealwire::services {

namespace v1 = dealwire::v1;

absl::Time CallDeadline(const grpc::CallbackServerContext& context, absl::Duration max_wait) {
  const absl::Time cap = absl::Now() + max_wait;
  const auto deadline = context.deadline();
  if (deadline == std::chrono::system_clock::time_point::max()) return cap;
  return std::min(cap, absl::FromChrono(deadline));
}

grpc::ServerUnaryReactor* AnswerOnPool(grpc::CallbackServerContext* context, Executor* pool,
                                       absl::AnyInvocable<absl::Status() &&> answer) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  const bool queued = pool->Submit([reactor, answer = std::move(answer)]() mutable {
    reactor->Finish(ToGrpcStatus(std::move(answer)()));
  });
  if (!queued) {
    reactor->Finish(ToGrpcStatus(absl::UnavailableError("the server is busy or shutting down; retry")));
  }
  return reactor;
}

template <typename Request, typename Response>
grpc::ServerUnaryReactor* MarketIntelService::Run(
    grpc::CallbackServerContext* context, const Request* request, Response* response,
    absl::StatusOr<Response> (projections::MarketProjections::*query)(const Request&, absl::Time)
        const) {
  const absl::Time deadline = CallDeadline(*context, max_wait_);
  return AnswerOnPool(context, pool_, [this, request, response, query, deadline] {
    absl::StatusOr<Response> r = (projections_->*query)(*request, deadline);
    if (r.ok()) *response = *std::move(r);
    return r.status();
  });
}

#define DEALWIRE_QUERY(Name)                                                               \
  grpc::ServerUnaryReactor* MarketIntelService::Name(grpc::CallbackServerContext* context, \
                                                     const v1::Name##Request* request,     \
                                                     v1::Name##Response* response) {       \
    return Run(context, request, response, &projections::MarketProjections::Name);         \
  }

DEALWIRE_QUERY(GetOrganization)
DEALWIRE_QUERY(ListOrganizations)
DEALWIRE_QUERY(GetCapTable)
DEALWIRE_QUERY(GetPortfolio)
DEALWIRE_QUERY(GetTimeline)
DEALWIRE_QUERY(GetValuationHistory)
DEALWIRE_QUERY(GetDeal)
DEALWIRE_QUERY(ListDeals)
DEALWIRE_QUERY(ListPartnerships)
DEALWIRE_QUERY(GetExposure)
DEALWIRE_QUERY(GetMarketSummary)

#undef DEALWIRE_QUERY

}  // namespace dealwire::services
