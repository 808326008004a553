// projections/folds.h — the folds: pure functions from stored claims
// (dealwire.state.v1.Entity / Claim) to the answers of dealwire.v1.MarketIntel.
//
//   ClaimFilter f = ClaimFilter::Now(common::TodayDayNumber());
//   f.known_at = 1200;                          // what we knew at position 1200
//   std::optional<v1::Deal> deal = FoldDeal(deal_entity, f);
//   v1::CapTable table = FoldCapTable(input, f, /*include_pending=*/true);
//
// Every answer, current or point in time, is computed by these functions from
// the claims that pass a ClaimFilter, so a point-in-time answer equals a fresh
// fold of the events up to that point by construction. They do no I/O: the
// caller (projections/market_state.h) loads the entities.
//
// Thread-safety: pure functions; safe from any thread.
#pragma once

#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "dealwire/state/v1/state.pb.h"
#include "dealwire/v1/events.pb.h"
#include "dealwire/v1/market_intel.pb.h"
#include "dealwire/v1/types.pb.h"

namespace dealwire::projections {

// ---------------------------------------------------------------------------
// Dates (day numbers: common/calendar.h) and money
// ---------------------------------------------------------------------------

// Returns the first and the last day (inclusive) of the period an
// EffectiveDate denotes: 2026-01 at MONTH is [2026-01-01, 2026-01-31].
// REQUIRES: the date is valid for its precision.
int64_t PeriodStart(const dealwire::v1::EffectiveDate& date);
int64_t PeriodEnd(const dealwire::v1::EffectiveDate& date);

// Returns the quarter (precision QUARTER) containing the period's start.
dealwire::v1::EffectiveDate QuarterOf(const dealwire::v1::EffectiveDate& date);

// Money as a signed count of nanos (exact; validated amounts are at most
// 10^15 units, so sums of millions of them fit).
__int128 ToNanos(const dealwire::v1::Money& money);
dealwire::v1::Money FromNanos(absl::string_view currency_code, __int128 nanos);

// Adds `amount` to the per-currency list `sums` (kept ordered by currency
// code, one entry per currency).
void AddToSums(const dealwire::v1::Money& amount,
               google::protobuf::RepeatedPtrField<dealwire::v1::Money>* sums);

// ---------------------------------------------------------------------------
// Which claims count
// ---------------------------------------------------------------------------

// The filter of dealwire.v1.AsOf, resolved: positions, day numbers.
struct ClaimFilter {
  // Only events at or before this position count (claims, retractions,
  // corrections alike).
  uint64_t known_at = std::numeric_limits<uint64_t>::max();
  // When set, only claims whose effective period starts on or before this
  // day count.
  std::optional<int64_t> effective_on;
  // Claims below this confidence do not count (UNSPECIFIED: all count). The
  // confidence of a corrected claim is its correction's.
  dealwire::v1::Confidence min_confidence = dealwire::v1::CONFIDENCE_UNSPECIFIED;
  // The day deals are judged overdue against: effective_on when set, else
  // today.
  int64_t today = 0;

  static ClaimFilter Now(int64_t today) {
    ClaimFilter f;
    f.today = today;
    return f;
  }
};

// A claim as it stands under a filter: the original, or the latest
// correction at or before known_at. Pointers into the Claim.
struct ResolvedClaim {
  const dealwire::state::v1::Claim* claim = nullptr;
  uint64_t position = 0;
  const dealwire::v1::EffectiveDate* effective = nullptr;
  dealwire::v1::Confidence confidence = dealwire::v1::CONFIDENCE_UNSPECIFIED;
  const google::protobuf::RepeatedPtrField<dealwire::v1::Source>* sources = nullptr;
  const dealwire::v1::EventPayload* payload = nullptr;
  // Position of the correction in effect, or 0.
  uint64_t corrected_at = 0;
};

// Returns the claim as it stands under `filter`, or nullopt when it does not
// count: appended after known_at, retracted at or before known_at, effective
// after effective_on, or below min_confidence (all judged on the correction
// in effect, if any).
std::optional<ResolvedClaim> Resolve(const dealwire::state::v1::Claim& claim,
                                     const ClaimFilter& filter);

// ---------------------------------------------------------------------------
// Folds
// ---------------------------------------------------------------------------

// Folds an organization's OrganizationRegistered and OrganizationUpdated
// claims (in position order). Returns nullopt when no registration counts.
// Fills every field except subsidiary_ids and claim_count.
std::optional<dealwire::v1::Organization> FoldOrganization(
    const dealwire::state::v1::Entity& org, const ClaimFilter& filter);

// Applies one OrganizationUpdated to an organization (only the fields it
// carries change), as FoldOrganization does for each update it folds.
void ApplyOrganizationUpdate(const dealwire::v1::OrganizationUpdated& update,
                             dealwire::v1::Organization* org);

// Folds a deal's claims (FundingRoundReported / InvestmentReported /
// AcquisitionReported reports and DealStageChanged, in position order).
// Returns nullopt when no report counts (stage changes alone make no deal).
//
// The stage is the latest counted claim's stage (claims that would move the
// deal backwards, possible only under a filter, are skipped); amounts,
// valuations, expected close and bound are the latest stated; history has
// one step per counted claim; stage_since is the effective date of the claim
// that first reached the current stage; confidence the weakest counted;
// sources the latest claim's; overdue as defined in market_intel.proto,
// against filter.today.
std::optional<dealwire::v1::Deal> FoldDeal(const dealwire::state::v1::Entity& deal,
                                           const ClaimFilter& filter);

// What a cap table is folded from.
struct CapTableInput {
  std::string company_id;
  std::string company_name;
  // The company's deals, already folded with the same filter: its rounds,
  // the investments into it, and acquisitions of it.
  std::vector<dealwire::v1::Deal> deals;
  // The company's own claims ("c/<company>" entity): StakeDisclosed (and
  // ValuationReported, ignored here).
  const dealwire::state::v1::Entity* company_claims = nullptr;
  // Display name of an organization ("" when unknown).
  std::function<std::string(absl::string_view org_id)> name_of;
};

// Folds a company's cap table as market_intel.proto's CapTable defines it.
//
// Ownership is folded in the order of the "moments" (effective period start
// day, then position): a round's closing (the step that brought it to
// CLOSED); a standalone equity investment's closing; a StakeDisclosed; an
// acquisition's closing (the acquirer then holds 100 %, everyone else 0).
// With include_pending, deals neither closed nor collapsed close pro forma at
// their stage_since, after the same ordering.
//
// A round's closing with post-money V and new money M (the round's amount, or
// else the sum of its equity investments when all are known, in V's
// currency) multiplies every known fraction by (V − M) / V and adds m / V to
// each equity investor of the round with amount m; an investor of the round
// without an amount, or any currency mismatch, makes that investor unknown;
// a round without V or M makes every fraction unknown (existing and new),
// with the reason. Investments of a closed round count as closed. Fractions
// are exact rationals in 10^-12 units internally, rounded to ppm on output.
dealwire::v1::CapTable FoldCapTable(const CapTableInput& input, const ClaimFilter& filter,
                                    bool include_pending);

// Folds a company's valuation history: its ValuationReported claims and the
// post-money valuations of its rounds (basis PRIMARY_ROUND) that no
// ValuationReported of the round states already (same amount), ordered by
// effective period start, then position.
std::vector<dealwire::v1::ValuationPoint> FoldValuations(
    const dealwire::state::v1::Entity& company_claims,
    const std::vector<dealwire::v1::Deal>& rounds, const ClaimFilter& filter);

// Folds one timeline claim; nullopt when it does not count.
std::optional<dealwire::v1::TimelineEntry> FoldTimelineEntry(
    const dealwire::state::v1::Claim& claim, const ClaimFilter& filter);

// Orders timeline entries by effective period start, then coarser precision
// first, then position (reversed when `descending`).
void SortTimeline(std::vector<dealwire::v1::TimelineEntry>* entries, bool descending);

// Folds a partnership's PartnershipFormed / PartnershipEnded claims; nullopt
// when no formation counts. `rollup_of` returns the top of an org's parent
// chain, or "" when it has no parent.
std::optional<dealwire::v1::Partnership> FoldPartnership(
    const dealwire::state::v1::Entity& partnership, const ClaimFilter& filter,
    const std::function<std::string(absl::string_view org_id)>& name_of,
    const std::function<std::string(absl::string_view org_id)>& rollup_of);

// One tie found by the caller, for GroupExposure.
struct FoundTie {
  std::string company_id;
  dealwire::v1::Tie tie;
};

// Groups ties by the companies' sectors and keeps the sectors with two or
// more companies (see GetExposureResponse).
std::vector<dealwire::v1::SectorExposure> GroupExposure(
    const std::vector<FoundTie>& ties,
    const std::function<std::vector<std::string>(absl::string_view company_id)>& sectors_of,
    const std::function<std::string(absl::string_view org_id)>& name_of);

// Accumulates GetMarketSummary: Add each deal that counts (the caller skips
// investments that belong to a round), then Finish.
class SummaryBuilder {
 public:
  explicit SummaryBuilder(const dealwire::v1::GetMarketSummaryRequest& request);
  void Add(const dealwire::v1::Deal& deal, const std::vector<std::string>& company_sectors);
  void Finish(dealwire::v1::GetMarketSummaryResponse* out);

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace dealwire::projections
