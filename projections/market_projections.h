// projections/market_projections.h — the live projections of a node and the
// answers of dealwire.v1.MarketIntel and dealwire.v1.Admin, without gRPC.
//
//   ASSIGN_OR_RETURN(std::unique_ptr<MarketProjections> p,
//                    MarketProjections::Open(log, &log->state(), {}));
//   v1::GetCapTableRequest request;
//   request.set_company_id("openai");
//   ASSIGN_OR_RETURN(v1::GetCapTableResponse r, p->GetCapTable(request, deadline));
//
// A background thread follows the log's commits and folds them into the
// current generation of projection state (projector.h): exactly once, with
// the applied position in the same batch, resuming after a restart where it
// stopped. Queries read one consistent snapshot of that state; with `as_of`
// they fold the stored claims under the filter (folds.h), never the log.
//
// Errors: INVALID_ARGUMENT naming the request field; NOT_FOUND for an unknown
// organization or deal; OUT_OF_RANGE for a min_position or known_at beyond
// the log's end; DEADLINE_EXCEEDED when the projections do not reach a
// min_position in time; UNAVAILABLE once stopped.
//
// Thread-safety: every method may be called from any thread.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "dealwire/v1/admin.pb.h"
#include "dealwire/v1/market_intel.pb.h"
#include "projections/projector.h"
#include "store/event_log.h"
#include "store/state_space.h"

namespace dealwire::projections {

class MarketProjections {
 public:
  struct Options {
    // Most events folded into one state batch. Default: 20000
    size_t max_batch_events = 20000;
    // Most events per batch during a rebuild. Default: 100000
    size_t rebuild_batch_events = 100000;
    // Bytes of folded current cap tables kept for repeated questions (the
    // cache starts over when full). Default: 64 MiB
    size_t cap_table_cache_bytes = 64 << 20;
    // Today's day number (common/calendar.h), for overdue deals.
    // Default: TodayDayNumber
    std::function<int64_t()> today;
  };

  // Opens the projections of `log`, kept in `state`, and starts following
  // the log (through a commit listener). Both must outlive the result.
  // Returns the state's read errors.
  static absl::StatusOr<std::unique_ptr<MarketProjections>> Open(store::EventLog* log,
                                                                 store::StateSpace* state,
                                                                 Options options);
  ~MarketProjections();

  // Stops following the log; queries then fail with UNAVAILABLE. Idempotent.
  void Stop();

  // The position the projections have applied.
  uint64_t applied() const;

  // Waits until applied() ≥ position. OUT_OF_RANGE when position is beyond
  // the log's end, DEADLINE_EXCEEDED at `deadline`, UNAVAILABLE when stopped.
  absl::Status WaitApplied(uint64_t position, absl::Time deadline) const;

  // MarketIntel (see market_intel.proto).
  absl::StatusOr<v1::GetOrganizationResponse> GetOrganization(
      const v1::GetOrganizationRequest& request, absl::Time deadline) const;
  absl::StatusOr<v1::ListOrganizationsResponse> ListOrganizations(
      const v1::ListOrganizationsRequest& request, absl::Time deadline) const;
  absl::StatusOr<v1::GetCapTableResponse> GetCapTable(const v1::GetCapTableRequest& request,
                                                      absl::Time deadline) const;
  absl::StatusOr<v1::GetPortfolioResponse> GetPortfolio(const v1::GetPortfolioRequest& request,
                                                        absl::Time deadline) const;
  absl::StatusOr<v1::GetTimelineResponse> GetTimeline(const v1::GetTimelineRequest& request,
                                                      absl::Time deadline) const;
  absl::StatusOr<v1::GetValuationHistoryResponse> GetValuationHistory(
      const v1::GetValuationHistoryRequest& request, absl::Time deadline) const;
  absl::StatusOr<v1::GetDealResponse> GetDeal(const v1::GetDealRequest& request,
                                              absl::Time deadline) const;
  absl::StatusOr<v1::ListDealsResponse> ListDeals(const v1::ListDealsRequest& request,
                                                  absl::Time deadline) const;
  absl::StatusOr<v1::ListPartnershipsResponse> ListPartnerships(
      const v1::ListPartnershipsRequest& request, absl::Time deadline) const;
  absl::StatusOr<v1::GetExposureResponse> GetExposure(const v1::GetExposureRequest& request,
                                                      absl::Time deadline) const;
  absl::StatusOr<v1::GetMarketSummaryResponse> GetMarketSummary(
      const v1::GetMarketSummaryRequest& request, absl::Time deadline) const;

  // Admin (see admin.proto).
  absl::StatusOr<v1::GetStatsResponse> GetStats(const v1::GetStatsRequest& request) const;

  // Rebuilds the projections into a new generation, compares digests with
  // the live state at the same position and switches to the rebuilt state.
  // `emit` receives progress and, last, the done message (on the calling
  // thread). `cancelled` is polled between batches; when it returns true the
  // rebuilt state is dropped and CANCELLED returned. FAILED_PRECONDITION when
  // another rebuild runs.
  absl::Status Rebuild(const std::function<void(const v1::RebuildProjectionsResponse&)>& emit,
                       const std::function<bool()>& cancelled);

 private:
  class Query;

  MarketProjections(store::EventLog* log, store::StateSpace* state, Options options);
  void FollowLoop();
  // Pauses the follower after its current batch; Resume restarts it.
  void Pause();
  void Resume();
  // Wakes the follower (a commit, a pause or stop request). Takes no lock.
  void Wake();

  store::EventLog* const log_;
  store::StateSpace* const state_;
  const Options options_;

  mutable std::mutex mu_;
  std::condition_variable pause_cv_;            // pause state changed, or stopping
  std::unique_ptr<Projector> live_;             // guarded by mu_ (pointer swap)
  bool stopping_ = false;                       // guarded by mu_
  bool pause_requested_ = false;                // guarded by mu_
  bool paused_ = false;                         // guarded by mu_
  std::mutex rebuild_mu_;                       // held by the one running rebuild
  std::thread follower_;
  // stopping_ || pause_requested_, for the follower to read without mu_.
  std::atomic<bool> interrupt_{false};
  // Bumped by every commit, pause and stop; the idle follower waits on it
  // (a futex: neither side takes a lock).
  std::atomic<uint32_t> wake_{0};
  uint64_t commit_listener_ = 0;

  // Publishes the live generation's applied position to WaitApplied: the
  // store, then an empty critical section on wait_mu_, then the notify, so
  // that a waiter that saw the old position is already waiting when the
  // notify comes (no lost wake-up). The projector holds wait_mu_ for no
  // work, so a starved projector never holds up a waiter that need not wait.
  void Publish(uint64_t applied);
  std::atomic<uint64_t> published_{0};  // never decreases
  std::atomic<bool> closed_{false};     // Stop was called
  mutable std::mutex wait_mu_;
  mutable std::condition_variable applied_cv_;  // published_ moved, or closed_

  // Current cap tables with names, by generation, company and pending. An
  // entry is used while the version it was folded at (the company's last
  // claim, the last name change) is still the current one; otherwise it is
  // folded again. Bounded by count and by bytes, by starting over.
  struct CachedCapTable {
    uint64_t version = 0;
    size_t bytes = 0;
    v1::CapTable table;
  };
  static constexpr size_t kMaxCachedCapTables = 8192;
  mutable std::mutex cache_mu_;
  mutable absl::flat_hash_map<std::string, CachedCapTable> cap_tables_;  // guarded by cache_mu_
  mutable size_t cached_bytes_ = 0;                                     // guarded by cache_mu_
};

}  // namespace dealwire::projections
