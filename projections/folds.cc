// projections/folds.cc — the folds declared in projections/folds.h.
#include "projections/folds.h"

#include <algorithm>
#include <map>
#include <set>
#include <tuple>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/calendar.h"
#include "common/event_types.h"

namespace dealwire::projections {
namespace {

namespace v1 = dealwire::v1;
namespace state = dealwire::state::v1;

using Int128 = __int128;
using Sources = google::protobuf::RepeatedPtrField<v1::Source>;

constexpr int64_t kNanosPerUnit = 1'000'000'000;

// ---------------------------------------------------------------------------
// Dates
// ---------------------------------------------------------------------------

int64_t Day(int64_t y, int64_t m, int64_t d) {
  return common::DayNumber(y, static_cast<int>(m), static_cast<int>(d));
}

// The first day of month `m` of year `y`; m may run past 12 into later years.
int64_t FirstOfMonth(int64_t y, int64_t m) { return Day(y, m, 1); }

// The precision, inferred from the set fields when unspecified.
v1::DatePrecision PrecisionOf(const v1::EffectiveDate& e) {
  if (e.precision() != v1::DATE_PRECISION_UNSPECIFIED) return e.precision();
  if (e.date().day() != 0) return v1::DATE_PRECISION_DAY;
  if (e.date().month() != 0) return v1::DATE_PRECISION_MONTH;
  return v1::DATE_PRECISION_YEAR;
}

// The month of the period's start (1 for a YEAR, the quarter's first month
// for a QUARTER).
int64_t StartMonth(const v1::EffectiveDate& e) {
  const int64_t m = std::clamp<int64_t>(e.date().month(), 1, 12);
  switch (PrecisionOf(e)) {
    case v1::DATE_PRECISION_YEAR:
      return 1;
    case v1::DATE_PRECISION_QUARTER:
      return (m - 1) / 3 * 3 + 1;
    default:
      return m;
  }
}

// ---------------------------------------------------------------------------
// Claims
// ---------------------------------------------------------------------------

// The entity's claims in position order (they are stored so; sorting keeps
// the folds correct for any input).
std::vector<const state::Claim*> ByPosition(const state::Entity& entity) {
  std::vector<const state::Claim*> out;
  out.reserve(entity.claims_size());
  for (const state::Claim& c : entity.claims()) out.push_back(&c);
  std::stable_sort(out.begin(), out.end(), [](const state::Claim* a, const state::Claim* b) {
    return a->position() < b->position();
  });
  return out;
}

// The weaker of two confidences; UNSPECIFIED means "none yet".
v1::Confidence Weaker(v1::Confidence a, v1::Confidence b) {
  if (a == v1::CONFIDENCE_UNSPECIFIED) return b;
  if (b == v1::CONFIDENCE_UNSPECIFIED) return a;
  return std::min(a, b);
}

// ---------------------------------------------------------------------------
// Deals
// ---------------------------------------------------------------------------

bool IsTerminal(v1::DealStage s) {
  return s == v1::DEAL_STAGE_CLOSED || s == v1::DEAL_STAGE_COLLAPSED;
}

bool IsOpen(v1::DealStage s) { return s != v1::DEAL_STAGE_UNSPECIFIED && !IsTerminal(s); }

// Whether a deal at `from` may be claimed at `to`: forward or restated,
// any open stage to COLLAPSED, never out of a terminal stage.
bool MayMove(v1::DealStage from, v1::DealStage to) {
  if (from == v1::DEAL_STAGE_UNSPECIFIED) return true;
  if (IsTerminal(from)) return to == from;
  if (to == v1::DEAL_STAGE_COLLAPSED) return true;
  return to >= from;
}

uint64_t LastPosition(const v1::Deal& deal) {
  return deal.history().empty() ? 0 : deal.history().rbegin()->position();
}

// When a deal closes for the cap table: the step that reached CLOSED, or
// (pro forma, still open) its stage_since and latest claim.
std::pair<int64_t, uint64_t> ClosingKey(const v1::Deal& deal) {
  if (deal.stage() == v1::DEAL_STAGE_CLOSED) {
    for (const v1::StageStep& step : deal.history()) {
      if (step.stage() == v1::DEAL_STAGE_CLOSED) {
        return {PeriodStart(step.effective()), step.position()};
      }
    }
  }
  return {PeriodStart(deal.stage_since()), LastPosition(deal)};
}

// ---------------------------------------------------------------------------
// Ownership fractions
// ---------------------------------------------------------------------------

// 1.0 as an internal fraction (units of 10^-12).
constexpr Int128 kOne = 1'000'000'000'000;
constexpr Int128 kPerPpm = 1'000'000;

// a * b / c rounded to nearest. REQUIRES: a, b >= 0, c > 0.
Int128 MulDiv(Int128 a, Int128 b, Int128 c) { return (a * b + c / 2) / c; }

int64_t ToPpm(Int128 f) { return static_cast<int64_t>((f + kPerPpm / 2) / kPerPpm); }

// An estimated fraction: exact (lo == hi) or a range, or unknown.
struct Frac {
  bool known = true;
  Int128 lo = 0;
  Int128 hi = 0;
  std::string qualifier;
  std::string reason;

  bool IsZero() const { return known && lo == 0 && hi == 0; }
  Int128 Mid() const { return (lo + hi) / 2; }
  // Makes the fraction unknown; the first reason is kept.
  void MakeUnknown(const std::string& why) {
    if (!known) return;
    known = false;
    lo = hi = 0;
    reason = why;
  }
  void Scale(Int128 num, Int128 den) {
    if (!known) return;
    lo = MulDiv(lo, num, den);
    hi = MulDiv(hi, num, den);
  }
  void Add(Int128 f) {
    if (!known) return;
    lo += f;
    hi += f;
  }
};

v1::OwnershipEstimate ToEstimate(const Frac& f) {
  v1::OwnershipEstimate out;
  out.set_known(f.known);
  out.set_qualifier(f.qualifier);
  if (!f.known) {
    out.set_unknown_reason(f.reason);
    return out;
  }
  out.mutable_fraction()->set_parts_per_million(
      static_cast<int64_t>((f.lo + f.hi + kPerPpm) / (2 * kPerPpm)));
  if (f.lo != f.hi) {
    out.mutable_range()->set_min_parts_per_million(ToPpm(f.lo));
    out.mutable_range()->set_max_parts_per_million(ToPpm(f.hi));
  }
  return out;
}

// ---------------------------------------------------------------------------
// Text
// ---------------------------------------------------------------------------

// "50000000000 USD", "1.25 EUR".
std::string MoneyText(const v1::Money& m) {
  Int128 n = ToNanos(m);
  const bool negative = n < 0;
  if (negative) n = -n;
  std::string out = absl::StrCat(negative ? "-" : "", static_cast<uint64_t>(n / kNanosPerUnit));
  if (const int64_t frac = static_cast<int64_t>(n % kNanosPerUnit); frac != 0) {
    std::string digits = std::to_string(frac + kNanosPerUnit).substr(1);
    digits.erase(digits.find_last_not_of('0') + 1);
    absl::StrAppend(&out, ".", digits);
  }
  return absl::StrCat(out, " ", m.currency_code());
}

// "up to 50000000000 USD", "at least …", "about …".
std::string AmountText(const v1::Money& m, v1::AmountBound bound) {
  const char* word = "";
  switch (bound) {
    case v1::AMOUNT_BOUND_UP_TO:
      word = "up to ";
      break;
    case v1::AMOUNT_BOUND_AT_LEAST:
      word = "at least ";
      break;
    case v1::AMOUNT_BOUND_APPROXIMATE:
      word = "about ";
      break;
    default:
      break;
  }
  return absl::StrCat(word, MoneyText(m));
}

// "27%", "12.3456%".
std::string PercentText(int64_t ppm) {
  std::string out = std::to_string(ppm / 10000);
  if (const int64_t frac = ppm % 10000; frac != 0) {
    std::string digits = std::to_string(frac + 10000).substr(1);
    digits.erase(digits.find_last_not_of('0') + 1);
    absl::StrAppend(&out, ".", digits);
  }
  return out + "%";
}

const char* StageWord(v1::DealStage s) {
  switch (s) {
    case v1::DEAL_STAGE_RUMORED:
      return "rumored";
    case v1::DEAL_STAGE_IN_TALKS:
      return "in talks";
    case v1::DEAL_STAGE_AGREED:
      return "agreed";
    case v1::DEAL_STAGE_ANNOUNCED:
      return "announced";
    case v1::DEAL_STAGE_CLOSED:
      return "closed";
    case v1::DEAL_STAGE_COLLAPSED:
      return "collapsed";
    default:
      return "unknown stage";
  }
}

const char* InstrumentWord(v1::Instrument i) {
  switch (i) {
    case v1::INSTRUMENT_CONVERTIBLE:
      return "convertible";
    case v1::INSTRUMENT_CREDITS:
      return "credits";
    case v1::INSTRUMENT_DEBT:
      return "debt";
    default:
      return "equity";
  }
}

const char* BasisWord(v1::ValuationBasis b) {
  switch (b) {
    case v1::VALUATION_BASIS_PRIMARY_ROUND:
      return "primary round";
    case v1::VALUATION_BASIS_SECONDARY:
      return "secondary";
    case v1::VALUATION_BASIS_TENDER:
      return "tender";
    case v1::VALUATION_BASIS_PUBLIC_MARKET:
      return "public market";
    case v1::VALUATION_BASIS_ESTIMATE:
      return "estimate";
    default:
      return "unspecified basis";
  }
}

// One line for humans per payload case; also fills the entry's stage,
// amount and subject.
std::string Describe(const v1::EventPayload& p, v1::TimelineEntry* e) {
  auto amount = [e](const v1::Money& m, v1::AmountBound bound) {
    *e->mutable_amount() = m;
    e->set_amount_bound(bound);
  };
  switch (p.payload_case()) {
    case v1::EventPayload::kOrganizationRegistered: {
      const auto& r = p.organization_registered();
      return absl::StrCat(r.org_id(), " registered as ", r.name());
    }
    case v1::EventPayload::kOrganizationUpdated: {
      const auto& u = p.organization_updated();
      std::vector<absl::string_view> changed;
      if (u.has_name()) changed.push_back("name");
      if (u.has_kind()) changed.push_back("kind");
      if (u.has_parent_org_id()) changed.push_back("parent");
      if (u.replace_sectors()) changed.push_back("sectors");
      if (!u.add_aliases().empty() || !u.remove_aliases().empty()) changed.push_back("aliases");
      if (u.has_founded()) changed.push_back("founded");
      if (u.has_description()) changed.push_back("description");
      if (u.has_website()) changed.push_back("website");
      return absl::StrCat(u.org_id(), " updated: ", absl::StrJoin(changed, ", "));
    }
    case v1::EventPayload::kFundingRoundReported: {
      const auto& r = p.funding_round_reported();
      e->set_stage(r.stage());
      e->set_subject_id(r.round_id());
      std::string what = "an undisclosed amount";
      if (r.has_target_amount()) {
        amount(r.target_amount(), r.target_amount_bound());
        what = AmountText(r.target_amount(), r.target_amount_bound());
      }
      return absl::StrCat(r.company_id(), " raises ", what, " (", r.label(), ", ",
                          StageWord(r.stage()), ")");
    }
    case v1::EventPayload::kInvestmentReported: {
      const auto& i = p.investment_reported();
      e->set_stage(i.stage());
      e->set_subject_id(i.investment_id());
      std::string what;
      if (i.has_amount()) {
        amount(i.amount(), i.amount_bound());
        what = absl::StrCat(AmountText(i.amount(), i.amount_bound()), " ");
      }
      const std::string instrument =
          i.instrument() == v1::INSTRUMENT_EQUITY ? ""
                                                  : absl::StrCat(InstrumentWord(i.instrument()), ", ");
      return absl::StrCat(i.investor_id(), " invests ", what, "in ", i.company_id(), " (",
                          instrument, StageWord(i.stage()), ")");
    }
    case v1::EventPayload::kDealStageChanged: {
      const auto& s = p.deal_stage_changed();
      e->set_stage(s.new_stage());
      e->set_subject_id(s.deal_id());
      std::string out = absl::StrCat("deal ", s.deal_id(), " moves to ", StageWord(s.new_stage()));
      if (s.has_amount()) {
        amount(s.amount(), s.amount_bound());
        absl::StrAppend(&out, " (", AmountText(s.amount(), s.amount_bound()), ")");
      }
      return out;
    }
    case v1::EventPayload::kValuationReported: {
      const auto& v = p.valuation_reported();
      e->set_subject_id(v.round_id());
      amount(v.valuation(), v.valuation_bound());
      return absl::StrCat("valuation of ", v.company_id(), ": ",
                          AmountText(v.valuation(), v.valuation_bound()), " (",
                          BasisWord(v.basis()), ")");
    }
    case v1::EventPayload::kStakeDisclosed: {
      const auto& s = p.stake_disclosed();
      const v1::OwnershipFraction& o = s.ownership();
      std::string figure;
      if (o.has_exact()) {
        figure = PercentText(o.exact().parts_per_million());
      } else if (o.has_range()) {
        figure = absl::StrCat(PercentText(o.range().min_parts_per_million()), " to ",
                              PercentText(o.range().max_parts_per_million()));
      }
      if (o.qualifier().empty()) {
        return absl::StrCat(s.holder_id(), " holds ", figure, " of ", s.company_id());
      }
      return absl::StrCat(s.holder_id(), " holds a ", o.qualifier(), " stake",
                          figure.empty() ? "" : absl::StrCat(" (", figure, ")"), " in ",
                          s.company_id());
    }
    case v1::EventPayload::kAcquisitionReported: {
      const auto& a = p.acquisition_reported();
      e->set_stage(a.stage());
      e->set_subject_id(a.acquisition_id());
      std::string price;
      if (a.has_price()) {
        amount(a.price(), a.price_bound());
        price = absl::StrCat(" for ", AmountText(a.price(), a.price_bound()));
      }
      return absl::StrCat(a.acquirer_id(), " acquires ", a.target_id(), price, " (",
                          StageWord(a.stage()), ")");
    }
    case v1::EventPayload::kPartnershipFormed: {
      const auto& f = p.partnership_formed();
      e->set_subject_id(f.partnership_id());
      std::vector<std::string> orgs;
      for (const v1::PartnershipParty& party : f.parties()) {
        if (std::find(orgs.begin(), orgs.end(), party.org_id()) == orgs.end()) {
          orgs.push_back(party.org_id());
        }
      }
      std::string out =
          absl::StrCat(absl::StrJoin(orgs, ", "), " form partnership ", f.partnership_id());
      if (f.has_value()) {
        amount(f.value(), f.value_bound());
        absl::StrAppend(&out, " (", AmountText(f.value(), f.value_bound()), ")");
      }
      return out;
    }
    case v1::EventPayload::kPartnershipEnded:
      e->set_subject_id(p.partnership_ended().partnership_id());
      return absl::StrCat("partnership ", p.partnership_ended().partnership_id(), " ends");
    case v1::EventPayload::kFacilityAnnounced: {
      const auto& f = p.facility_announced();
      e->set_subject_id(f.facility_id());
      std::string out = absl::StrCat(f.owner_id(), " announces facility ", f.facility_id(), " in ",
                                     f.location());
      if (!f.beneficiary_id().empty()) absl::StrAppend(&out, " for ", f.beneficiary_id());
      if (f.has_amount()) {
        amount(f.amount(), f.amount_bound());
        absl::StrAppend(&out, " (", AmountText(f.amount(), f.amount_bound()), ")");
      }
      return out;
    }
    case v1::EventPayload::kFxRateReported: {
      const auto& x = p.fx_rate_reported();
      return absl::StrCat("1 ", x.base_currency(), " = ", MoneyText(x.rate()));
    }
    case v1::EventPayload::kEventRetracted:
      return absl::StrCat("event ", p.event_retracted().event_id(), " retracted");
    case v1::EventPayload::kEventCorrected:
      return absl::StrCat("event ", p.event_corrected().event_id(), " corrected");
    case v1::EventPayload::PAYLOAD_NOT_SET:
      break;
  }
  return "";
}

}  // namespace

// ---------------------------------------------------------------------------
// Dates and money
// ---------------------------------------------------------------------------

int64_t PeriodStart(const v1::EffectiveDate& date) {
  const int64_t y = date.date().year();
  const int64_t m = StartMonth(date);
  if (PrecisionOf(date) == v1::DATE_PRECISION_DAY) {
    return Day(y, m, std::max<int64_t>(date.date().day(), 1));
  }
  return Day(y, m, 1);
}

int64_t PeriodEnd(const v1::EffectiveDate& date) {
  const int64_t y = date.date().year();
  const int64_t m = StartMonth(date);
  switch (PrecisionOf(date)) {
    case v1::DATE_PRECISION_MONTH:
      return FirstOfMonth(y, m + 1) - 1;
    case v1::DATE_PRECISION_QUARTER:
      return FirstOfMonth(y, m + 3) - 1;
    case v1::DATE_PRECISION_YEAR:
      return Day(y + 1, 1, 1) - 1;
    default:
      return PeriodStart(date);
  }
}


v1::EffectiveDate QuarterOf(const v1::EffectiveDate& date) {
  v1::EffectiveDate out;
  out.mutable_date()->set_year(date.date().year());
  out.mutable_date()->set_month(static_cast<int32_t>((StartMonth(date) - 1) / 3 * 3 + 1));
  out.set_precision(v1::DATE_PRECISION_QUARTER);
  return out;
}

__int128 ToNanos(const v1::Money& money) {
  return static_cast<Int128>(money.units()) * kNanosPerUnit + money.nanos();
}

v1::Money FromNanos(absl::string_view currency_code, __int128 nanos) {
  v1::Money out;
  out.set_currency_code(std::string(currency_code));
  out.set_units(static_cast<int64_t>(nanos / kNanosPerUnit));
  out.set_nanos(static_cast<int32_t>(nanos % kNanosPerUnit));
  return out;
}

void AddToSums(const v1::Money& amount, google::protobuf::RepeatedPtrField<v1::Money>* sums) {
  int i = 0;
  while (i < sums->size() && sums->Get(i).currency_code() < amount.currency_code()) ++i;
  if (i < sums->size() && sums->Get(i).currency_code() == amount.currency_code()) {
    *sums->Mutable(i) = FromNanos(amount.currency_code(), ToNanos(sums->Get(i)) + ToNanos(amount));
    return;
  }
  *sums->Add() = FromNanos(amount.currency_code(), ToNanos(amount));
  for (int j = sums->size() - 1; j > i; --j) sums->SwapElements(j, j - 1);
}

// ---------------------------------------------------------------------------
// Which claims count
// ---------------------------------------------------------------------------

std::optional<ResolvedClaim> Resolve(const state::Claim& claim, const ClaimFilter& filter) {
  if (claim.position() > filter.known_at) return std::nullopt;
  if (claim.retracted_at() != 0 && claim.retracted_at() <= filter.known_at) return std::nullopt;
  ResolvedClaim r;
  r.claim = &claim;
  r.position = claim.position();
  r.effective = &claim.effective();
  r.confidence = claim.confidence();
  r.sources = &claim.sources();
  r.payload = &claim.payload();
  const state::Correction* in_effect = nullptr;
  for (const state::Correction& c : claim.corrections()) {
    if (c.position() <= filter.known_at &&
        (in_effect == nullptr || c.position() >= in_effect->position())) {
      in_effect = &c;
    }
  }
  if (in_effect != nullptr) {
    r.effective = &in_effect->effective();
    r.confidence = in_effect->confidence();
    r.sources = &in_effect->sources();
    r.payload = &in_effect->replacement();
    r.corrected_at = in_effect->position();
  }
  if (filter.effective_on && PeriodStart(*r.effective) > *filter.effective_on) return std::nullopt;
  if (filter.min_confidence != v1::CONFIDENCE_UNSPECIFIED && r.confidence < filter.min_confidence) {
    return std::nullopt;
  }
  return r;
}

// ---------------------------------------------------------------------------
// Organizations
// ---------------------------------------------------------------------------

void ApplyOrganizationUpdate(const v1::OrganizationUpdated& u, v1::Organization* out) {
  if (u.has_name()) out->set_name(u.name());
  if (u.has_kind()) out->set_kind(u.kind());
  if (u.has_parent_org_id()) out->set_parent_org_id(u.parent_org_id());
  if (u.replace_sectors()) *out->mutable_sectors() = u.sectors();
  auto* aliases = out->mutable_aliases();
  for (const std::string& alias : u.add_aliases()) {
    if (std::find(aliases->begin(), aliases->end(), alias) == aliases->end()) {
      *aliases->Add() = alias;
    }
  }
  if (!u.remove_aliases().empty()) {
    google::protobuf::RepeatedPtrField<std::string> kept;
    for (const std::string& alias : *aliases) {
      if (std::find(u.remove_aliases().begin(), u.remove_aliases().end(), alias) ==
          u.remove_aliases().end()) {
        *kept.Add() = alias;
      }
    }
    aliases->Swap(&kept);
  }
  if (u.has_founded()) *out->mutable_founded() = u.founded();
  if (u.has_description()) out->set_description(u.description());
  if (u.has_website()) out->set_website(u.website());
}

std::optional<v1::Organization> FoldOrganization(const state::Entity& org,
                                                 const ClaimFilter& filter) {
  std::optional<v1::Organization> out;
  for (const state::Claim* claim : ByPosition(org)) {
    const std::optional<ResolvedClaim> r = Resolve(*claim, filter);
    if (!r) continue;
    if (r->payload->has_organization_registered()) {
      const v1::OrganizationRegistered& reg = r->payload->organization_registered();
      out.emplace();
      out->set_org_id(reg.org_id());
      out->set_name(reg.name());
      out->set_kind(reg.kind());
      out->set_parent_org_id(reg.parent_org_id());
      *out->mutable_sectors() = reg.sectors();
      *out->mutable_aliases() = reg.aliases();
      if (reg.has_founded()) *out->mutable_founded() = reg.founded();
      out->set_description(reg.description());
      out->set_website(reg.website());
      out->set_registered_position(r->position);
    } else if (r->payload->has_organization_updated() && out) {
      ApplyOrganizationUpdate(r->payload->organization_updated(), &*out);
    }
  }
  if (out && out->org_id().empty()) out->set_org_id(org.id());
  return out;
}

// ---------------------------------------------------------------------------
// Deals
// ---------------------------------------------------------------------------

std::optional<v1::Deal> FoldDeal(const state::Entity& entity, const ClaimFilter& filter) {
  v1::Deal deal;
  deal.set_deal_id(entity.id());
  bool reported = false;
  const Sources* latest_sources = nullptr;
  for (const state::Claim* claim : ByPosition(entity)) {
    const std::optional<ResolvedClaim> r = Resolve(*claim, filter);
    if (!r) continue;
    const v1::EventPayload& p = *r->payload;
    // What the claim states.
    v1::DealStage stage = v1::DEAL_STAGE_UNSPECIFIED;
    const v1::Money* amount = nullptr;
    v1::AmountBound bound = v1::AMOUNT_BOUND_UNSPECIFIED;
    const v1::EffectiveDate* expected_close = nullptr;
    switch (p.payload_case()) {
      case v1::EventPayload::kFundingRoundReported: {
        const auto& f = p.funding_round_reported();
        stage = f.stage();
        if (f.has_target_amount()) amount = &f.target_amount();
        bound = f.target_amount_bound();
        if (f.has_expected_close()) expected_close = &f.expected_close();
        break;
      }
      case v1::EventPayload::kInvestmentReported: {
        const auto& i = p.investment_reported();
        stage = i.stage();
        if (i.has_amount()) amount = &i.amount();
        bound = i.amount_bound();
        if (i.has_expected_close()) expected_close = &i.expected_close();
        break;
      }
      case v1::EventPayload::kAcquisitionReported: {
        const auto& a = p.acquisition_reported();
        stage = a.stage();
        if (a.has_price()) amount = &a.price();
        bound = a.price_bound();
        if (a.has_expected_close()) expected_close = &a.expected_close();
        break;
      }
      case v1::EventPayload::kDealStageChanged: {
        const auto& s = p.deal_stage_changed();
        stage = s.new_stage();
        if (s.has_amount()) amount = &s.amount();
        bound = s.amount_bound();
        if (s.has_expected_close()) expected_close = &s.expected_close();
        break;
      }
      default:
        continue;
    }
    if (!MayMove(deal.stage(), stage)) continue;

    // The report's identity and report-only fields.
    switch (p.payload_case()) {
      case v1::EventPayload::kFundingRoundReported: {
        const auto& f = p.funding_round_reported();
        reported = true;
        deal.set_kind(v1::DEAL_KIND_ROUND);
        deal.set_deal_id(f.round_id());
        deal.set_company_id(f.company_id());
        deal.set_label(f.label());
        if (f.has_pre_money_valuation()) *deal.mutable_pre_money_valuation() = f.pre_money_valuation();
        if (f.has_post_money_valuation()) {
          *deal.mutable_post_money_valuation() = f.post_money_valuation();
        }
        if (!f.lead_investor_ids().empty()) *deal.mutable_lead_investor_ids() = f.lead_investor_ids();
        break;
      }
      case v1::EventPayload::kInvestmentReported: {
        const auto& i = p.investment_reported();
        reported = true;
        deal.set_kind(v1::DEAL_KIND_INVESTMENT);
        deal.set_deal_id(i.investment_id());
        deal.set_investor_id(i.investor_id());
        deal.set_company_id(i.company_id());
        deal.set_round_id(i.round_id());
        deal.set_instrument(i.instrument());
        break;
      }
      case v1::EventPayload::kAcquisitionReported: {
        const auto& a = p.acquisition_reported();
        reported = true;
        deal.set_kind(v1::DEAL_KIND_ACQUISITION);
        deal.set_deal_id(a.acquisition_id());
        deal.set_investor_id(a.acquirer_id());
        deal.set_company_id(a.target_id());
        break;
      }
      default:
        break;
    }
    deal.set_stage(stage);
    if (amount != nullptr) {
      *deal.mutable_amount() = *amount;
      deal.set_amount_bound(bound);
    }
    if (expected_close != nullptr) *deal.mutable_expected_close() = *expected_close;

    v1::StageStep* step = deal.add_history();
    step->set_stage(stage);
    *step->mutable_effective() = *r->effective;
    if (amount != nullptr) *step->mutable_amount() = *amount;
    step->set_confidence(r->confidence);
    step->set_position(r->position);
    step->set_event_type(common::EventTypeName(p));
    deal.set_confidence(Weaker(deal.confidence(), r->confidence));
    latest_sources = r->sources;
  }
  if (!reported) return std::nullopt;

  *deal.mutable_first_reported() = deal.history(0).effective();
  for (const v1::StageStep& step : deal.history()) {
    if (step.stage() == deal.stage()) {
      *deal.mutable_stage_since() = step.effective();
      break;
    }
  }
  if (latest_sources != nullptr) *deal.mutable_sources() = *latest_sources;
  deal.set_overdue(deal.has_expected_close() && PeriodEnd(deal.expected_close()) < filter.today &&
                   !IsTerminal(deal.stage()));
  return deal;
}

// ---------------------------------------------------------------------------
// Cap tables
// ---------------------------------------------------------------------------

namespace {

// The fold of a cap table's ownership over its moments.
class OwnershipFold {
 public:
  OwnershipFold(const std::map<std::string, const v1::Deal*>& rounds,
                const std::vector<const v1::Deal*>& investments)
      : rounds_(rounds), investments_(investments) {}

  // A round's closing with post-money V and new money M.
  void CloseRound(const v1::Deal& round) {
    applied_.push_back(round.deal_id());
    const std::string& id = round.deal_id();
    std::vector<const v1::Deal*> members;
    for (const v1::Deal* inv : investments_) {
      if (inv->round_id() == id && inv->instrument() == v1::INSTRUMENT_EQUITY &&
          inv->stage() != v1::DEAL_STAGE_COLLAPSED) {
        members.push_back(inv);
      }
    }
    std::string why;
    Int128 v = 0;
    Int128 m = 0;
    const std::string& currency = round.post_money_valuation().currency_code();
    if (round.has_post_money_valuation()) v = ToNanos(round.post_money_valuation());
    if (!round.has_post_money_valuation()) {
      why = absl::StrCat("round ", id, " has no post-money valuation");
    } else if (v <= 0) {
      why = absl::StrCat("round ", id, " has a zero post-money valuation");
    } else if (round.has_amount()) {
      if (round.amount().currency_code() != currency) {
        why = absl::StrCat("round ", id, " raises ", round.amount().currency_code(),
                           ", its post-money valuation is in ", currency);
      }
      m = ToNanos(round.amount());
    } else {
      bool all_known = !members.empty();
      for (const v1::Deal* inv : members) {
        if (!inv->has_amount() || inv->amount().currency_code() != currency) {
          all_known = false;
          break;
        }
        m += ToNanos(inv->amount());
      }
      if (!all_known) why = absl::StrCat("round ", id, " has no amount");
    }
    if (why.empty() && m > v) {
      why = absl::StrCat("round ", id, " raises more than its post-money valuation");
    }

    if (!why.empty()) {
      // Existing fractions shrink by an unknown factor (0 stays 0); the new
      // investors' fractions are unknown.
      for (auto& [holder, f] : own_) {
        if (!f.IsZero()) f.MakeUnknown(why);
      }
      unattributed_.MakeUnknown(why);
      for (const v1::Deal* inv : members) own_[inv->investor_id()].MakeUnknown(why);
      return;
    }

    for (auto& [holder, f] : own_) f.Scale(v - m, v);
    unattributed_.Scale(v - m, v);
    Int128 attributed = 0;
    bool all_attributed = true;
    for (const v1::Deal* inv : members) {
      Frac& f = own_[inv->investor_id()];
      if (!inv->has_amount()) {
        all_attributed = false;
        f.MakeUnknown(absl::StrCat("investment ", inv->deal_id(), " has no amount"));
      } else if (inv->amount().currency_code() != currency) {
        all_attributed = false;
        f.MakeUnknown(absl::StrCat("investment ", inv->deal_id(), " is in ",
                                   inv->amount().currency_code(), ", round ", id,
                                   "'s post-money valuation in ", currency));
      } else {
        const Int128 amount = ToNanos(inv->amount());
        attributed += amount;
        f.Add(MulDiv(amount, kOne, v));
      }
    }
    if (!all_attributed) {
      unattributed_.MakeUnknown(
          absl::StrCat("round ", id, " has investors without an amount in ", currency));
    } else if (m > attributed) {
      unattributed_.Add(MulDiv(m - attributed, kOne, v));
    }
  }

  // The closing of an equity investment whose round is not applied.
  void CloseInvestment(const v1::Deal& inv) {
    const auto round = rounds_.find(inv.round_id());
    if (!inv.round_id().empty() && round != rounds_.end()) {
      // Its round closes (and dilutes) later, or never.
      own_[inv.investor_id()].MakeUnknown(
          absl::StrCat("round ", inv.round_id(), " of investment ", inv.deal_id(),
                       round->second->stage() == v1::DEAL_STAGE_COLLAPSED ? " collapsed"
                                                                          : " has not closed"));
      return;
    }
    const std::string diluted = absl::StrCat("diluted by unpriced investment ", inv.deal_id());
    for (auto& [holder, f] : own_) {
      if (holder != inv.investor_id() && !f.IsZero()) f.MakeUnknown(diluted);
    }
    if (!unattributed_.IsZero()) unattributed_.MakeUnknown(diluted);
    own_[inv.investor_id()].MakeUnknown(
        absl::StrCat("investment ", inv.deal_id(), " is not part of a priced round"));
  }

  void DiscloseStake(const v1::StakeDisclosed& stake) {
    Frac f;
    f.qualifier = stake.ownership().qualifier();
    switch (stake.ownership().value_case()) {
      case v1::OwnershipFraction::kExact:
        f.lo = f.hi = stake.ownership().exact().parts_per_million() * kPerPpm;
        break;
      case v1::OwnershipFraction::kRange:
        f.lo = stake.ownership().range().min_parts_per_million() * kPerPpm;
        f.hi = stake.ownership().range().max_parts_per_million() * kPerPpm;
        break;
      case v1::OwnershipFraction::VALUE_NOT_SET:
        f.known = false;
        f.reason = "stake disclosed without a figure";
        break;
    }
    own_[stake.holder_id()] = std::move(f);
  }

  void CloseAcquisition(const v1::Deal& acquisition) {
    for (auto& [holder, f] : own_) f = Frac{};
    unattributed_ = Frac{};
    Frac& acquirer = own_[acquisition.investor_id()];
    acquirer.lo = acquirer.hi = kOne;
  }

  // The holder's fraction (a holder no moment touched holds nothing).
  Frac Of(const std::string& holder) const {
    const auto it = own_.find(holder);
    return it == own_.end() ? Frac{} : it->second;
  }
  const Frac& unattributed() const { return unattributed_; }
  const std::vector<std::string>& applied() const { return applied_; }

 private:
  const std::map<std::string, const v1::Deal*>& rounds_;
  const std::vector<const v1::Deal*>& investments_;
  std::map<std::string, Frac> own_;
  Frac unattributed_;
  std::vector<std::string> applied_;
};

// Something that changes ownership, in (day, position) order.
struct Moment {
  enum Kind { kRound, kInvestment, kStake, kAcquisition };
  int64_t day = 0;
  uint64_t position = 0;
  Kind kind = kRound;
  const v1::Deal* deal = nullptr;
  const v1::StakeDisclosed* stake = nullptr;

  bool operator<(const Moment& o) const {
    return std::tie(day, position, kind) < std::tie(o.day, o.position, o.kind);
  }
};

// What a holder's line rests on.
struct Line {
  std::vector<const v1::Deal*> investments;
  std::vector<const v1::Deal*> acquisitions;
  std::optional<ResolvedClaim> stake;
};

}  // namespace

v1::CapTable FoldCapTable(const CapTableInput& input, const ClaimFilter& filter,
                          bool include_pending) {
  std::map<std::string, const v1::Deal*> rounds;
  std::vector<const v1::Deal*> investments;
  std::vector<const v1::Deal*> acquisitions;
  for (const v1::Deal& d : input.deals) {
    if (d.company_id() != input.company_id) continue;
    switch (d.kind()) {
      case v1::DEAL_KIND_ROUND:
        rounds[d.deal_id()] = &d;
        break;
      case v1::DEAL_KIND_INVESTMENT:
        investments.push_back(&d);
        break;
      case v1::DEAL_KIND_ACQUISITION:
        acquisitions.push_back(&d);
        break;
      default:
        break;
    }
  }
  auto by_id = [](const v1::Deal* a, const v1::Deal* b) { return a->deal_id() < b->deal_id(); };
  std::sort(investments.begin(), investments.end(), by_id);
  std::sort(acquisitions.begin(), acquisitions.end(), by_id);

  // A deal takes part when closed, or (pro forma) still open.
  auto takes_part = [include_pending](v1::DealStage stage) {
    return stage == v1::DEAL_STAGE_CLOSED || (include_pending && IsOpen(stage));
  };
  // An investment's stage for the cap table: CLOSED when its round closed.
  auto investment_stage = [&rounds](const v1::Deal& inv) {
    if (inv.stage() == v1::DEAL_STAGE_COLLAPSED) return inv.stage();
    const auto round = rounds.find(inv.round_id());
    if (!inv.round_id().empty() && round != rounds.end() &&
        round->second->stage() == v1::DEAL_STAGE_CLOSED) {
      return v1::DEAL_STAGE_CLOSED;
    }
    return inv.stage();
  };

  std::vector<Moment> moments;
  auto add_deal_moment = [&moments](Moment::Kind kind, const v1::Deal& deal) {
    const auto [day, position] = ClosingKey(deal);
    moments.push_back(Moment{day, position, kind, &deal, nullptr});
  };
  for (const auto& [id, round] : rounds) {
    if (takes_part(round->stage())) add_deal_moment(Moment::kRound, *round);
  }
  for (const v1::Deal* inv : investments) {
    if (inv->instrument() != v1::INSTRUMENT_EQUITY || !takes_part(investment_stage(*inv))) continue;
    const auto round = rounds.find(inv->round_id());
    if (!inv->round_id().empty() && round != rounds.end() && takes_part(round->second->stage())) {
      continue;  // applied with its round
    }
    add_deal_moment(Moment::kInvestment, *inv);
  }
  for (const v1::Deal* acquisition : acquisitions) {
    if (takes_part(acquisition->stage())) add_deal_moment(Moment::kAcquisition, *acquisition);
  }

  std::map<std::string, Line> lines;
  if (input.company_claims != nullptr) {
    for (const state::Claim* claim : ByPosition(*input.company_claims)) {
      const std::optional<ResolvedClaim> r = Resolve(*claim, filter);
      if (!r || !r->payload->has_stake_disclosed()) continue;
      const v1::StakeDisclosed& stake = r->payload->stake_disclosed();
      if (stake.company_id() != input.company_id || stake.holder_id() == input.company_id) continue;
      moments.push_back(
          Moment{PeriodStart(*r->effective), r->position, Moment::kStake, nullptr, &stake});
      lines[stake.holder_id()].stake = r;  // position order: the latest wins
    }
  }
  std::sort(moments.begin(), moments.end());

  OwnershipFold fold(rounds, investments);
  for (const Moment& m : moments) {
    switch (m.kind) {
      case Moment::kRound:
        fold.CloseRound(*m.deal);
        break;
      case Moment::kInvestment:
        fold.CloseInvestment(*m.deal);
        break;
      case Moment::kStake:
        fold.DiscloseStake(*m.stake);
        break;
      case Moment::kAcquisition:
        fold.CloseAcquisition(*m.deal);
        break;
    }
  }

  for (const v1::Deal* inv : investments) {
    if (investment_stage(*inv) != v1::DEAL_STAGE_COLLAPSED) {
      lines[inv->investor_id()].investments.push_back(inv);
    }
  }
  for (const v1::Deal* acquisition : acquisitions) {
    if (takes_part(acquisition->stage())) {
      lines[acquisition->investor_id()].acquisitions.push_back(acquisition);
    }
  }

  v1::CapTable table;
  table.set_company_id(input.company_id);
  table.set_company_name(input.company_name);
  table.set_include_pending(include_pending);
  std::vector<v1::Holding> holdings;
  Int128 accounted = 0;
  std::string unknown_holder;
  for (const auto& [holder, line] : lines) {
    v1::Holding h;
    h.set_org_id(holder);
    if (input.name_of) h.set_name(input.name_of(holder));
    // Not pending: a stake, a closed investment or a closed acquisition.
    bool settled = line.stake.has_value();
    uint64_t latest = 0;
    const Sources* sources = nullptr;
    auto note_claim = [&](v1::Confidence confidence, uint64_t position, const Sources* s) {
      h.set_confidence(Weaker(h.confidence(), confidence));
      if (sources == nullptr || position >= latest) {
        latest = position;
        sources = s;
      }
    };
    std::map<v1::DealStage, v1::StageAmount> by_stage;
    for (const v1::Deal* inv : line.investments) {
      const v1::DealStage stage = investment_stage(*inv);
      v1::StageAmount& at = by_stage[stage];
      at.set_stage(stage);
      at.set_deal_count(at.deal_count() + 1);
      if (inv->has_amount()) {
        AddToSums(inv->amount(), h.mutable_committed());
        AddToSums(inv->amount(), at.mutable_amounts());
        if (stage == v1::DEAL_STAGE_CLOSED) AddToSums(inv->amount(), h.mutable_closed());
      }
      settled = settled || stage == v1::DEAL_STAGE_CLOSED;
      h.add_deal_ids(inv->deal_id());
      note_claim(inv->confidence(), LastPosition(*inv), &inv->sources());
    }
    for (const v1::Deal* acquisition : line.acquisitions) {
      settled = settled || acquisition->stage() == v1::DEAL_STAGE_CLOSED;
      h.add_deal_ids(acquisition->deal_id());
      note_claim(acquisition->confidence(), LastPosition(*acquisition), &acquisition->sources());
    }
    if (line.stake) note_claim(line.stake->confidence, line.stake->position, line.stake->sources);
    if (!settled && !include_pending) continue;
    h.set_pending(!settled);
    for (auto& [stage, at] : by_stage) *h.add_amounts_by_stage() = std::move(at);
    std::sort(h.mutable_deal_ids()->begin(), h.mutable_deal_ids()->end());
    if (sources != nullptr) *h.mutable_sources() = *sources;
    const Frac f = fold.Of(holder);
    if (f.known) {
      accounted += f.Mid();
    } else if (unknown_holder.empty()) {
      unknown_holder = holder;
    }
    *h.mutable_ownership() = ToEstimate(f);
    holdings.push_back(std::move(h));
  }

  std::stable_sort(holdings.begin(), holdings.end(), [](const v1::Holding& a, const v1::Holding& b) {
    if (a.ownership().known() != b.ownership().known()) return a.ownership().known();
    if (a.ownership().known() && a.ownership().fraction().parts_per_million() !=
                                     b.ownership().fraction().parts_per_million()) {
      return a.ownership().fraction().parts_per_million() >
             b.ownership().fraction().parts_per_million();
    }
    return a.org_id() < b.org_id();
  });
  for (v1::Holding& h : holdings) *table.add_holders() = std::move(h);

  const Frac& unattributed = fold.unattributed();
  *table.mutable_unattributed() = ToEstimate(unattributed);
  Frac remainder;
  if (!unknown_holder.empty()) {
    remainder.MakeUnknown(absl::StrCat("the ownership of ", unknown_holder, " is unknown"));
  } else if (!unattributed.known) {
    remainder.MakeUnknown("unattributed new money is unknown");
  } else {
    remainder.lo = remainder.hi = std::max<Int128>(0, kOne - accounted - unattributed.Mid());
  }
  *table.mutable_remainder() = ToEstimate(remainder);
  for (const std::string& id : fold.applied()) table.add_applied_round_ids(id);
  return table;
}

// ---------------------------------------------------------------------------
// Valuations and timelines
// ---------------------------------------------------------------------------

std::vector<v1::ValuationPoint> FoldValuations(const state::Entity& company_claims,
                                               const std::vector<v1::Deal>& rounds,
                                               const ClaimFilter& filter) {
  std::vector<v1::ValuationPoint> points;
  for (const state::Claim* claim : ByPosition(company_claims)) {
    const std::optional<ResolvedClaim> r = Resolve(*claim, filter);
    if (!r || !r->payload->has_valuation_reported()) continue;
    const v1::ValuationReported& v = r->payload->valuation_reported();
    v1::ValuationPoint& point = points.emplace_back();
    *point.mutable_effective() = *r->effective;
    *point.mutable_valuation() = v.valuation();
    point.set_bound(v.valuation_bound());
    point.set_basis(v.basis());
    point.set_round_id(v.round_id());
    point.set_confidence(r->confidence);
    *point.mutable_sources() = *r->sources;
    point.set_position(r->position);
    point.set_event_id(claim->event_id());
  }
  // A round's post-money that a ValuationReported of that round states too
  // is one valuation, reported twice: the explicit claim stands for both.
  auto restated = [&points](const v1::Deal& round) {
    return std::any_of(points.begin(), points.end(), [&round](const v1::ValuationPoint& p) {
      return p.basis() == v1::VALUATION_BASIS_PRIMARY_ROUND && p.round_id() == round.deal_id() &&
             p.valuation().currency_code() == round.post_money_valuation().currency_code() &&
             p.valuation().units() == round.post_money_valuation().units() &&
             p.valuation().nanos() == round.post_money_valuation().nanos();
    });
  };
  for (const v1::Deal& round : rounds) {
    if (round.kind() != v1::DEAL_KIND_ROUND || !round.has_post_money_valuation() ||
        round.history().empty() || restated(round)) {
      continue;
    }
    v1::ValuationPoint& point = points.emplace_back();
    *point.mutable_effective() = round.history().rbegin()->effective();
    *point.mutable_valuation() = round.post_money_valuation();
    point.set_basis(v1::VALUATION_BASIS_PRIMARY_ROUND);
    point.set_round_id(round.deal_id());
    point.set_confidence(round.confidence());
    *point.mutable_sources() = round.sources();
    point.set_position(LastPosition(round));
  }
  std::stable_sort(points.begin(), points.end(),
                   [](const v1::ValuationPoint& a, const v1::ValuationPoint& b) {
                     const int64_t da = PeriodStart(a.effective());
                     const int64_t db = PeriodStart(b.effective());
                     return da != db ? da < db : a.position() < b.position();
                   });
  return points;
}

std::optional<v1::TimelineEntry> FoldTimelineEntry(const state::Claim& claim,
                                                   const ClaimFilter& filter) {
  const std::optional<ResolvedClaim> r = Resolve(claim, filter);
  if (!r) return std::nullopt;
  v1::TimelineEntry entry;
  entry.set_position(r->position);
  entry.set_event_id(claim.event_id());
  entry.set_event_type(common::EventTypeName(*r->payload));
  *entry.mutable_effective() = *r->effective;
  entry.set_confidence(r->confidence);
  *entry.mutable_sources() = *r->sources;
  if (claim.has_recorded_time()) *entry.mutable_recorded_time() = claim.recorded_time();
  entry.set_corrected_at_position(r->corrected_at);
  *entry.mutable_payload() = *r->payload;
  *entry.mutable_other_org_ids() = claim.org_ids();
  entry.set_summary(Describe(*r->payload, &entry));
  return entry;
}

void SortTimeline(std::vector<v1::TimelineEntry>* entries, bool descending) {
  auto before = [](const v1::TimelineEntry& a, const v1::TimelineEntry& b) {
    const int64_t da = PeriodStart(a.effective());
    const int64_t db = PeriodStart(b.effective());
    if (da != db) return da < db;
    const v1::DatePrecision pa = PrecisionOf(a.effective());
    const v1::DatePrecision pb = PrecisionOf(b.effective());
    if (pa != pb) return pa > pb;  // coarser first
    return a.position() < b.position();
  };
  if (descending) {
    std::stable_sort(entries->begin(), entries->end(),
                     [&before](const v1::TimelineEntry& a, const v1::TimelineEntry& b) {
                       return before(b, a);
                     });
  } else {
    std::stable_sort(entries->begin(), entries->end(), before);
  }
}

// ---------------------------------------------------------------------------
// Partnerships and exposure
// ---------------------------------------------------------------------------

std::optional<v1::Partnership> FoldPartnership(
    const state::Entity& partnership, const ClaimFilter& filter,
    const std::function<std::string(absl::string_view org_id)>& name_of,
    const std::function<std::string(absl::string_view org_id)>& rollup_of) {
  std::optional<v1::Partnership> out;
  for (const state::Claim* claim : ByPosition(partnership)) {
    const std::optional<ResolvedClaim> r = Resolve(*claim, filter);
    if (!r) continue;
    if (r->payload->has_partnership_formed() && !out) {
      const v1::PartnershipFormed& f = r->payload->partnership_formed();
      out.emplace();
      out->set_partnership_id(f.partnership_id());
      for (const v1::PartnershipParty& party : f.parties()) {
        v1::PartnerView* view = out->add_parties();
        view->set_org_id(party.org_id());
        if (name_of) view->set_name(name_of(party.org_id()));
        view->set_role(party.role());
        if (rollup_of) view->set_rolled_up_to(rollup_of(party.org_id()));
      }
      out->set_exclusive(f.exclusive());
      out->set_primary(f.primary());
      if (f.has_value()) *out->mutable_value() = f.value();
      out->set_value_bound(f.value_bound());
      out->set_description(f.description());
      *out->mutable_formed() = *r->effective;
      out->set_active(true);
      out->set_confidence(r->confidence);
      *out->mutable_sources() = *r->sources;
    } else if (r->payload->has_partnership_ended() && out && out->active()) {
      *out->mutable_ended() = *r->effective;
      out->set_active(false);
    }
  }
  if (out && out->partnership_id().empty()) out->set_partnership_id(partnership.id());
  return out;
}

std::vector<v1::SectorExposure> GroupExposure(
    const std::vector<FoundTie>& ties,
    const std::function<std::vector<std::string>(absl::string_view company_id)>& sectors_of,
    const std::function<std::string(absl::string_view org_id)>& name_of) {
  std::map<std::string, v1::ExposedCompany> companies;
  for (const FoundTie& tie : ties) {
    v1::ExposedCompany& company = companies[tie.company_id];
    if (company.company_id().empty()) {
      company.set_company_id(tie.company_id);
      if (name_of) company.set_name(name_of(tie.company_id));
    }
    *company.add_ties() = tie.tie;
  }
  std::map<std::string, std::vector<const v1::ExposedCompany*>> by_sector;
  for (const auto& [id, company] : companies) {
    const std::vector<std::string> sectors = sectors_of ? sectors_of(id) : std::vector<std::string>{};
    for (const std::string& sector : std::set<std::string>(sectors.begin(), sectors.end())) {
      by_sector[sector].push_back(&company);
    }
  }
  std::vector<v1::SectorExposure> out;
  for (const auto& [sector, list] : by_sector) {
    if (list.size() < 2) continue;
    v1::SectorExposure& exposure = out.emplace_back();
    exposure.set_sector(sector);
    for (const v1::ExposedCompany* company : list) *exposure.add_companies() = *company;
  }
  return out;
}

// ---------------------------------------------------------------------------
// Market summary
// ---------------------------------------------------------------------------

struct SummaryBuilder::Impl {
  struct Bucket {
    v1::EffectiveDate quarter;
    Int128 total = 0;
    int32_t deal_count = 0;
  };
  // (quarter start, sector, stage, kind, currency)
  using Key = std::tuple<int64_t, std::string, int, int, std::string>;

  std::optional<int64_t> from_day;
  std::optional<int64_t> to_day;
  std::string sector;
  v1::DealKind kind = v1::DEAL_KIND_UNSPECIFIED;
  bool exclude_collapsed = false;
  size_t limit = 10;
  std::map<Key, Bucket> buckets;
  std::map<std::string, std::vector<v1::Deal>> largest;  // by currency

  static bool Larger(const v1::Deal& a, const v1::Deal& b) {
    const Int128 na = ToNanos(a.amount());
    const Int128 nb = ToNanos(b.amount());
    return na != nb ? na > nb : a.deal_id() < b.deal_id();
  }
  void Trim(std::vector<v1::Deal>* deals) const {
    std::sort(deals->begin(), deals->end(), Larger);
    if (deals->size() > limit) deals->resize(limit);
  }
};

SummaryBuilder::SummaryBuilder(const v1::GetMarketSummaryRequest& request)
    : impl_(std::make_shared<Impl>()) {
  auto quarter_day = [](const v1::EffectiveDate& q) -> std::optional<int64_t> {
    if (q.date().year() == 0) return std::nullopt;
    return PeriodStart(QuarterOf(q));
  };
  if (request.has_from_quarter()) impl_->from_day = quarter_day(request.from_quarter());
  if (request.has_to_quarter()) impl_->to_day = quarter_day(request.to_quarter());
  impl_->sector = request.sector();
  impl_->kind = request.kind();
  impl_->exclude_collapsed = request.exclude_collapsed();
  impl_->limit = request.largest_deals_limit() <= 0
                     ? 10
                     : static_cast<size_t>(std::min(request.largest_deals_limit(), 100));
}

void SummaryBuilder::Add(const v1::Deal& deal, const std::vector<std::string>& company_sectors) {
  Impl& s = *impl_;
  if (s.kind != v1::DEAL_KIND_UNSPECIFIED && deal.kind() != s.kind) return;
  if (s.exclude_collapsed && deal.stage() == v1::DEAL_STAGE_COLLAPSED) return;
  if (!deal.has_amount()) return;
  const v1::EffectiveDate quarter = QuarterOf(deal.stage_since());
  const int64_t day = PeriodStart(quarter);
  if ((s.from_day && day < *s.from_day) || (s.to_day && day > *s.to_day)) return;
  std::set<std::string> sectors;
  if (!s.sector.empty()) {
    if (std::find(company_sectors.begin(), company_sectors.end(), s.sector) ==
        company_sectors.end()) {
      return;
    }
    sectors.insert(s.sector);
  } else {
    sectors.insert(company_sectors.begin(), company_sectors.end());
    if (sectors.empty()) sectors.insert("");  // a company without sectors still counts
  }
  const std::string& currency = deal.amount().currency_code();
  for (const std::string& sector : sectors) {
    Impl::Bucket& bucket = s.buckets[Impl::Key{day, sector, deal.stage(), deal.kind(), currency}];
    bucket.quarter = quarter;
    bucket.total += ToNanos(deal.amount());
    ++bucket.deal_count;
  }
  std::vector<v1::Deal>& largest = s.largest[currency];
  largest.push_back(deal);
  if (largest.size() > 2 * s.limit) s.Trim(&largest);
}

void SummaryBuilder::Finish(v1::GetMarketSummaryResponse* out) {
  Impl& s = *impl_;
  out->clear_buckets();
  out->clear_largest_deals();
  for (const auto& [key, bucket] : s.buckets) {
    const auto& [day, sector, stage, kind, currency] = key;
    v1::SummaryBucket* b = out->add_buckets();
    *b->mutable_quarter() = bucket.quarter;
    b->set_sector(sector);
    b->set_stage(static_cast<v1::DealStage>(stage));
    b->set_kind(static_cast<v1::DealKind>(kind));
    *b->mutable_total() = FromNanos(currency, bucket.total);
    b->set_deal_count(bucket.deal_count);
  }
  for (auto& [currency, deals] : s.largest) {
    s.Trim(&deals);
    for (const v1::Deal& deal : deals) *out->add_largest_deals() = deal;
  }
}

}  // namespace dealwire::projections
