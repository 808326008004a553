// Tests of the folds (projections/folds.h): claims built directly as
// state.v1.Entity / Claim values, folded, and compared with hand-computed
// answers.
#include "projections/folds.h"

#include <map>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/calendar.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace dealwire::projections {
namespace {

namespace v1 = dealwire::v1;
namespace st = dealwire::state::v1;
using ::dealwire::common::DayNumber;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

// ---------------------------------------------------------------------------
// Builders
// ---------------------------------------------------------------------------

v1::EffectiveDate Eff(int y, int m, int d, v1::DatePrecision p) {
  v1::EffectiveDate out;
  out.mutable_date()->set_year(y);
  out.mutable_date()->set_month(m);
  out.mutable_date()->set_day(d);
  out.set_precision(p);
  return out;
}
v1::EffectiveDate OnDay(int y, int m, int d) { return Eff(y, m, d, v1::DATE_PRECISION_DAY); }
v1::EffectiveDate InMonth(int y, int m) { return Eff(y, m, 0, v1::DATE_PRECISION_MONTH); }
v1::EffectiveDate InQuarter(int y, int first_month) {
  return Eff(y, first_month, 0, v1::DATE_PRECISION_QUARTER);
}
v1::EffectiveDate InYear(int y) { return Eff(y, 0, 0, v1::DATE_PRECISION_YEAR); }

v1::Money Cash(int64_t units, std::string currency = "USD", int32_t nanos = 0) {
  v1::Money m;
  m.set_currency_code(std::move(currency));
  m.set_units(units);
  m.set_nanos(nanos);
  return m;
}

constexpr int64_t kM = 1'000'000;  // a million units

// A log of claims about entities: assigns positions, event ids and sources.
class Claims {
 public:
  st::Entity& Entity(const std::string& id) {
    st::Entity& e = entities_[id];
    e.set_id(id);
    return e;
  }

  st::Claim* Add(const std::string& entity, const v1::EffectiveDate& effective,
                 v1::EventPayload payload,
                 v1::Confidence confidence = v1::CONFIDENCE_REPORTED) {
    st::Claim* c = Entity(entity).add_claims();
    c->set_position(++position_);
    c->set_event_id("event-" + std::to_string(position_));
    *c->mutable_effective() = effective;
    c->set_confidence(confidence);
    c->add_sources()->set_publisher("source-" + std::to_string(position_));
    *c->mutable_payload() = std::move(payload);
    return c;
  }

  // Retracts `claim` at the next position; returns that position.
  uint64_t Retract(st::Claim* claim) {
    claim->set_retracted_at(++position_);
    return position_;
  }

  // Corrects `claim` at the next position; returns that position.
  uint64_t Correct(st::Claim* claim, v1::EventPayload replacement,
                   v1::Confidence confidence = v1::CONFIDENCE_CONFIRMED) {
    st::Correction* c = claim->add_corrections();
    c->set_position(++position_);
    *c->mutable_effective() = claim->effective();
    c->set_confidence(confidence);
    c->add_sources()->set_publisher("correction-" + std::to_string(position_));
    *c->mutable_replacement() = std::move(replacement);
    return position_;
  }

  uint64_t position() const { return position_; }
  const std::map<std::string, st::Entity>& entities() const { return entities_; }

 private:
  uint64_t position_ = 0;
  std::map<std::string, st::Entity> entities_;
};

v1::EventPayload RoundPayload(const std::string& id, const std::string& company,
                              v1::DealStage stage, std::optional<int64_t> post_money,
                              std::optional<int64_t> amount) {
  v1::EventPayload p;
  auto* r = p.mutable_funding_round_reported();
  r->set_round_id(id);
  r->set_company_id(company);
  r->set_label("series_x");
  r->set_stage(stage);
  if (post_money) *r->mutable_post_money_valuation() = Cash(*post_money);
  if (amount) *r->mutable_target_amount() = Cash(*amount);
  return p;
}

v1::EventPayload InvestmentPayload(const std::string& id, const std::string& investor,
                                   const std::string& company, const std::string& round,
                                   v1::DealStage stage, std::optional<v1::Money> amount,
                                   v1::Instrument instrument = v1::INSTRUMENT_EQUITY) {
  v1::EventPayload p;
  auto* i = p.mutable_investment_reported();
  i->set_investment_id(id);
  i->set_investor_id(investor);
  i->set_company_id(company);
  i->set_round_id(round);
  i->set_stage(stage);
  i->set_instrument(instrument);
  if (amount) *i->mutable_amount() = *amount;
  return p;
}

v1::EventPayload StagePayload(const std::string& deal, v1::DealStage stage) {
  v1::EventPayload p;
  p.mutable_deal_stage_changed()->set_deal_id(deal);
  p.mutable_deal_stage_changed()->set_new_stage(stage);
  return p;
}

v1::EventPayload StakePayload(const std::string& holder, const std::string& company,
                              v1::OwnershipFraction ownership) {
  v1::EventPayload p;
  p.mutable_stake_disclosed()->set_holder_id(holder);
  p.mutable_stake_disclosed()->set_company_id(company);
  *p.mutable_stake_disclosed()->mutable_ownership() = std::move(ownership);
  return p;
}

v1::OwnershipFraction Exact(int64_t ppm) {
  v1::OwnershipFraction o;
  o.mutable_exact()->set_parts_per_million(ppm);
  return o;
}
v1::OwnershipFraction Between(int64_t min_ppm, int64_t max_ppm) {
  v1::OwnershipFraction o;
  o.mutable_range()->set_min_parts_per_million(min_ppm);
  o.mutable_range()->set_max_parts_per_million(max_ppm);
  return o;
}
v1::OwnershipFraction Words(const std::string& qualifier) {
  v1::OwnershipFraction o;
  o.set_qualifier(qualifier);
  return o;
}

// A company "acme" with its rounds, investments and stakes.
class Company {
 public:
  static constexpr const char* kId = "acme";

  // A round reported and closed (two claims, both effective `when`).
  void ClosedRound(const std::string& id, const v1::EffectiveDate& when,
                   std::optional<int64_t> post_money, std::optional<int64_t> amount,
                   v1::Confidence confidence = v1::CONFIDENCE_REPORTED) {
    log.Add(id, when, RoundPayload(id, kId, v1::DEAL_STAGE_ANNOUNCED, post_money, amount),
            confidence);
    log.Add(id, when, StagePayload(id, v1::DEAL_STAGE_CLOSED), confidence);
  }
  st::Claim* Invest(const std::string& id, const std::string& investor, const std::string& round,
                    const v1::EffectiveDate& when, std::optional<int64_t> amount,
                    v1::DealStage stage = v1::DEAL_STAGE_ANNOUNCED,
                    v1::Confidence confidence = v1::CONFIDENCE_REPORTED) {
    std::optional<v1::Money> money;
    if (amount) money = Cash(*amount);
    return log.Add(id, when, InvestmentPayload(id, investor, kId, round, stage, money), confidence);
  }
  st::Claim* Stake(const std::string& holder, const v1::EffectiveDate& when,
                   v1::OwnershipFraction ownership) {
    return log.Add(kCompanyEntity, when, StakePayload(holder, kId, std::move(ownership)));
  }

  v1::CapTable Table(const ClaimFilter& filter, bool include_pending = false) const {
    CapTableInput input;
    input.company_id = kId;
    input.company_name = "Acme";
    for (const auto& [id, entity] : log.entities()) {
      if (id == kCompanyEntity) continue;
      if (std::optional<v1::Deal> deal = FoldDeal(entity, filter)) {
        input.deals.push_back(*std::move(deal));
      }
    }
    const auto company = log.entities().find(kCompanyEntity);
    input.company_claims = company == log.entities().end() ? nullptr : &company->second;
    input.name_of = [](absl::string_view id) { return absl::StrCat("Name of ", id); };
    return FoldCapTable(input, filter, include_pending);
  }
  v1::CapTable Table(bool include_pending = false) const {
    return Table(ClaimFilter::Now(DayNumber(2030, 1, 1)), include_pending);
  }

  Claims log;

 private:
  static constexpr const char* kCompanyEntity = "c/acme";
};

const v1::Holding* Holder(const v1::CapTable& table, const std::string& id) {
  for (const v1::Holding& h : table.holders()) {
    if (h.org_id() == id) return &h;
  }
  return nullptr;
}

// The holder's known ownership in ppm; -1 when unknown, -2 when absent.
int64_t Ppm(const v1::CapTable& table, const std::string& id) {
  const v1::Holding* h = Holder(table, id);
  if (h == nullptr) return -2;
  return h->ownership().known() ? h->ownership().fraction().parts_per_million() : -1;
}

std::vector<std::string> HolderIds(const v1::CapTable& table) {
  std::vector<std::string> out;
  for (const v1::Holding& h : table.holders()) out.push_back(h.org_id());
  return out;
}

std::vector<std::string> RoundIds(const v1::CapTable& table) {
  return {table.applied_round_ids().begin(), table.applied_round_ids().end()};
}

ClaimFilter KnownAt(uint64_t position) {
  ClaimFilter f = ClaimFilter::Now(DayNumber(2030, 1, 1));
  f.known_at = position;
  return f;
}

// ---------------------------------------------------------------------------
// Dates and money
// ---------------------------------------------------------------------------

TEST(DatesTest, PeriodsInLeapYears) {
  EXPECT_EQ(PeriodEnd(InMonth(2024, 2)), DayNumber(2024, 2, 29));
  EXPECT_EQ(PeriodEnd(InMonth(2023, 2)), DayNumber(2023, 2, 28));
  EXPECT_EQ(PeriodEnd(InYear(2024)) - PeriodStart(InYear(2024)), 365);
  EXPECT_EQ(PeriodEnd(InYear(2023)) - PeriodStart(InYear(2023)), 364);
}

TEST(DatesTest, PeriodsByPrecision) {
  EXPECT_EQ(PeriodStart(OnDay(2026, 1, 15)), DayNumber(2026, 1, 15));
  EXPECT_EQ(PeriodEnd(OnDay(2026, 1, 15)), DayNumber(2026, 1, 15));
  EXPECT_EQ(PeriodStart(InMonth(2026, 1)), DayNumber(2026, 1, 1));
  EXPECT_EQ(PeriodEnd(InMonth(2026, 12)), DayNumber(2026, 12, 31));
  EXPECT_EQ(PeriodStart(InQuarter(2026, 1)), DayNumber(2026, 1, 1));
  EXPECT_EQ(PeriodEnd(InQuarter(2026, 1)), DayNumber(2026, 3, 31));
  EXPECT_EQ(PeriodEnd(InQuarter(2024, 1)), DayNumber(2024, 3, 31));
  EXPECT_EQ(PeriodEnd(InQuarter(2025, 10)), DayNumber(2025, 12, 31));
  EXPECT_EQ(PeriodStart(InYear(2015)), DayNumber(2015, 1, 1));
  EXPECT_EQ(PeriodEnd(InYear(2015)), DayNumber(2015, 12, 31));
}

TEST(DatesTest, QuarterOf) {
  const v1::EffectiveDate q = QuarterOf(OnDay(2026, 5, 17));
  EXPECT_EQ(q.date().year(), 2026);
  EXPECT_EQ(q.date().month(), 4);
  EXPECT_EQ(q.date().day(), 0);
  EXPECT_EQ(q.precision(), v1::DATE_PRECISION_QUARTER);
  EXPECT_EQ(QuarterOf(InMonth(2026, 12)).date().month(), 10);
  EXPECT_EQ(QuarterOf(InMonth(2026, 3)).date().month(), 1);
  EXPECT_EQ(QuarterOf(InYear(2026)).date().month(), 1);
}

TEST(MoneyTest, NanosRoundTripKeepsSigns) {
  EXPECT_TRUE(ToNanos(Cash(-1, "EUR", -250'000'000)) == -1'250'000'000);
  const v1::Money m = FromNanos("EUR", -1'250'000'000);
  EXPECT_EQ(m.currency_code(), "EUR");
  EXPECT_EQ(m.units(), -1);
  EXPECT_EQ(m.nanos(), -250'000'000);
  const v1::Money small = FromNanos("USD", -750'000'000);
  EXPECT_EQ(small.units(), 0);
  EXPECT_EQ(small.nanos(), -750'000'000);
}

TEST(MoneyTest, SumsArePerCurrencyInCodeOrder) {
  google::protobuf::RepeatedPtrField<v1::Money> sums;
  AddToSums(Cash(1, "USD", 600'000'000), &sums);
  AddToSums(Cash(5, "EUR"), &sums);
  AddToSums(Cash(2, "USD", 600'000'000), &sums);
  AddToSums(Cash(7, "CHF"), &sums);
  ASSERT_EQ(sums.size(), 3);
  EXPECT_EQ(sums[0].currency_code(), "CHF");
  EXPECT_EQ(sums[1].currency_code(), "EUR");
  EXPECT_EQ(sums[1].units(), 5);
  EXPECT_EQ(sums[2].currency_code(), "USD");
  EXPECT_EQ(sums[2].units(), 4);
  EXPECT_EQ(sums[2].nanos(), 200'000'000);
}

// ---------------------------------------------------------------------------
// Resolve
// ---------------------------------------------------------------------------

TEST(ResolveTest, KnownAtRetractionCorrectionAndFilters) {
  Claims log;
  st::Claim* claim = log.Add("d", InMonth(2026, 1),
                             StagePayload("d", v1::DEAL_STAGE_AGREED), v1::CONFIDENCE_RUMORED);
  const uint64_t corrected = log.Correct(claim, StagePayload("d", v1::DEAL_STAGE_ANNOUNCED));
  const uint64_t retracted = log.Retract(claim);

  EXPECT_FALSE(Resolve(*claim, KnownAt(0)));
  std::optional<ResolvedClaim> r = Resolve(*claim, KnownAt(1));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->payload->deal_stage_changed().new_stage(), v1::DEAL_STAGE_AGREED);
  EXPECT_EQ(r->confidence, v1::CONFIDENCE_RUMORED);
  EXPECT_EQ(r->corrected_at, 0u);
  EXPECT_EQ(r->sources->Get(0).publisher(), "source-1");

  r = Resolve(*claim, KnownAt(corrected));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->payload->deal_stage_changed().new_stage(), v1::DEAL_STAGE_ANNOUNCED);
  EXPECT_EQ(r->confidence, v1::CONFIDENCE_CONFIRMED);
  EXPECT_EQ(r->corrected_at, corrected);
  EXPECT_EQ(r->sources->Get(0).publisher(), "correction-2");

  EXPECT_FALSE(Resolve(*claim, KnownAt(retracted)));
  EXPECT_FALSE(Resolve(*claim, ClaimFilter::Now(0)));

  // min_confidence is judged on the correction in effect.
  ClaimFilter f = KnownAt(1);
  f.min_confidence = v1::CONFIDENCE_REPORTED;
  EXPECT_FALSE(Resolve(*claim, f));
  f.known_at = corrected;
  EXPECT_TRUE(Resolve(*claim, f));

  // effective_on: the period must start on or before the day.
  f = KnownAt(1);
  f.effective_on = DayNumber(2025, 12, 31);
  EXPECT_FALSE(Resolve(*claim, f));
  f.effective_on = DayNumber(2026, 1, 1);
  EXPECT_TRUE(Resolve(*claim, f));
}

// ---------------------------------------------------------------------------
// Cap tables
// ---------------------------------------------------------------------------

TEST(CapTableTest, TwoDilutingRoundsByHand) {
  Company c;
  c.Stake("founder", InYear(2019), Exact(1'000'000));
  // Round A: V = 10M, M = 2M, X puts in 2M: founder 80 %, X 20 %.
  c.ClosedRound("round-a", InMonth(2021, 3), 10 * kM, 2 * kM);
  c.Invest("inv-x", "x", "round-a", InMonth(2021, 3), 2 * kM);
  v1::CapTable after_a = c.Table();
  EXPECT_EQ(Ppm(after_a, "founder"), 800'000);
  EXPECT_EQ(Ppm(after_a, "x"), 200'000);
  EXPECT_EQ(after_a.remainder().fraction().parts_per_million(), 0);

  // Round B: V = 50M, M = 10M, Y puts in 10M: ×0.8 ⇒ founder 64 %, X 16 %, Y 20 %.
  c.ClosedRound("round-b", InMonth(2023, 6), 50 * kM, 10 * kM);
  c.Invest("inv-y", "y", "round-b", InMonth(2023, 6), 10 * kM);
  const v1::CapTable table = c.Table();
  EXPECT_EQ(table.company_id(), "acme");
  EXPECT_EQ(table.company_name(), "Acme");
  EXPECT_FALSE(table.include_pending());
  EXPECT_THAT(HolderIds(table), ElementsAre("founder", "y", "x"));
  EXPECT_EQ(Ppm(table, "founder"), 640'000);
  EXPECT_EQ(Ppm(table, "x"), 160'000);
  EXPECT_EQ(Ppm(table, "y"), 200'000);
  EXPECT_FALSE(Holder(table, "x")->ownership().has_range());
  EXPECT_TRUE(table.remainder().known());
  EXPECT_EQ(table.remainder().fraction().parts_per_million(), 0);
  EXPECT_TRUE(table.unattributed().known());
  EXPECT_EQ(table.unattributed().fraction().parts_per_million(), 0);
  EXPECT_THAT(RoundIds(table), ElementsAre("round-a", "round-b"));

  const v1::Holding& x = *Holder(table, "x");
  EXPECT_EQ(x.name(), "Name of x");
  EXPECT_FALSE(x.pending());
  EXPECT_THAT(x.deal_ids(), ElementsAre("inv-x"));
  ASSERT_EQ(x.committed_size(), 1);
  EXPECT_EQ(x.committed(0).units(), 2 * kM);
  ASSERT_EQ(x.closed_size(), 1);  // an investment of a closed round counts as closed
  EXPECT_EQ(x.closed(0).units(), 2 * kM);
  ASSERT_EQ(x.amounts_by_stage_size(), 1);
  EXPECT_EQ(x.amounts_by_stage(0).stage(), v1::DEAL_STAGE_CLOSED);
  EXPECT_EQ(x.amounts_by_stage(0).deal_count(), 1);
  EXPECT_EQ(x.confidence(), v1::CONFIDENCE_REPORTED);
  ASSERT_EQ(x.sources_size(), 1);
  EXPECT_EQ(x.sources(0).publisher(), "source-4");
}

TEST(CapTableTest, ThreeRoundsWithTwoInvestorsAndUnattributedMoney) {
  Company c;
  // A: V 10M, M 2M, X 2M ⇒ X 20 %.
  c.ClosedRound("round-a", InYear(2021), 10 * kM, 2 * kM);
  c.Invest("a-x", "x", "round-a", InYear(2021), 2 * kM);
  // B: V 20M, M 5M, Y 2M + Z 1M ⇒ ×0.75: X 15 %, Y 10 %, Z 5 %, unattributed 10 %.
  c.ClosedRound("round-b", InYear(2022), 20 * kM, 5 * kM);
  c.Invest("b-y", "y", "round-b", InYear(2022), 2 * kM);
  c.Invest("b-z", "z", "round-b", InYear(2022), 1 * kM);
  // C: V 100M, M 20M, X 10M + W 10M ⇒ ×0.8: X 12 + 10 = 22 %, Y 8 %, Z 4 %,
  // unattributed 8 %, W 10 %; remainder 48 %.
  c.ClosedRound("round-c", InYear(2023), 100 * kM, 20 * kM);
  c.Invest("c-x", "x", "round-c", InYear(2023), 10 * kM);
  c.Invest("c-w", "w", "round-c", InYear(2023), 10 * kM);

  const v1::CapTable table = c.Table();
  EXPECT_THAT(HolderIds(table), ElementsAre("x", "w", "y", "z"));
  EXPECT_EQ(Ppm(table, "x"), 220'000);
  EXPECT_EQ(Ppm(table, "w"), 100'000);
  EXPECT_EQ(Ppm(table, "y"), 80'000);
  EXPECT_EQ(Ppm(table, "z"), 40'000);
  EXPECT_TRUE(table.unattributed().known());
  EXPECT_EQ(table.unattributed().fraction().parts_per_million(), 80'000);
  EXPECT_TRUE(table.remainder().known());
  EXPECT_EQ(table.remainder().fraction().parts_per_million(), 480'000);
  EXPECT_THAT(RoundIds(table), ElementsAre("round-a", "round-b", "round-c"));
  const v1::Holding& x = *Holder(table, "x");
  EXPECT_THAT(x.deal_ids(), ElementsAre("a-x", "c-x"));
  ASSERT_EQ(x.committed_size(), 1);
  EXPECT_EQ(x.committed(0).units(), 12 * kM);
}

TEST(CapTableTest, RoundWithoutTotalUsesItsInvestmentsAndNonEquityNeverCounts) {
  Company c;
  c.ClosedRound("round-a", InYear(2021), 10 * kM, std::nullopt);
  c.Invest("a-x", "x", "round-a", InYear(2021), 1 * kM);
  c.Invest("a-y", "y", "round-a", InYear(2021), 3 * kM);
  c.log.Add("debt-d", InYear(2022),
            InvestmentPayload("debt-d", "bank", Company::kId, "", v1::DEAL_STAGE_CLOSED,
                              Cash(50 * kM), v1::INSTRUMENT_DEBT));
  const v1::CapTable table = c.Table();
  EXPECT_EQ(Ppm(table, "x"), 100'000);
  EXPECT_EQ(Ppm(table, "y"), 300'000);
  EXPECT_EQ(Ppm(table, "bank"), 0);  // debt holds no equity, and dilutes nobody
  EXPECT_EQ(table.unattributed().fraction().parts_per_million(), 0);
  EXPECT_EQ(table.remainder().fraction().parts_per_million(), 600'000);
  EXPECT_EQ(Holder(table, "bank")->closed(0).units(), 50 * kM);
}

TEST(CapTableTest, RoundWithoutPostMoneyMakesEverythingUnknown) {
  Company c;
  c.Stake("founder", InYear(2019), Exact(1'000'000));
  c.ClosedRound("round-a", InYear(2021), 10 * kM, 2 * kM);
  c.Invest("a-x", "x", "round-a", InYear(2021), 2 * kM);
  c.ClosedRound("round-b", InYear(2022), std::nullopt, 5 * kM);
  c.Invest("b-y", "y", "round-b", InYear(2022), 5 * kM);

  const v1::CapTable table = c.Table();
  for (const char* id : {"founder", "x", "y"}) {
    const v1::Holding* h = Holder(table, id);
    ASSERT_NE(h, nullptr) << id;
    EXPECT_FALSE(h->ownership().known()) << id;
    EXPECT_FALSE(h->ownership().has_fraction()) << id;
    EXPECT_THAT(h->ownership().unknown_reason(), HasSubstr("round-b")) << id;
    EXPECT_THAT(h->ownership().unknown_reason(), HasSubstr("post-money")) << id;
  }
  EXPECT_FALSE(table.unattributed().known());
  EXPECT_FALSE(table.remainder().known());
  EXPECT_THAT(RoundIds(table), ElementsAre("round-a", "round-b"));
  // Unknown lines are ordered by id.
  EXPECT_THAT(HolderIds(table), ElementsAre("founder", "x", "y"));
}

TEST(CapTableTest, InvestorWithoutAmountIsUnknownOthersStillDiluted) {
  Company c;
  c.Stake("founder", InYear(2019), Exact(1'000'000));
  c.ClosedRound("round-a", InYear(2021), 10 * kM, 4 * kM);
  c.Invest("a-x", "x", "round-a", InYear(2021), 2 * kM);
  c.Invest("a-y", "y", "round-a", InYear(2021), std::nullopt);
  const v1::CapTable table = c.Table();
  EXPECT_EQ(Ppm(table, "founder"), 600'000);
  EXPECT_EQ(Ppm(table, "x"), 200'000);
  EXPECT_EQ(Ppm(table, "y"), -1);
  EXPECT_THAT(Holder(table, "y")->ownership().unknown_reason(), HasSubstr("a-y"));
  EXPECT_FALSE(table.unattributed().known());
  EXPECT_FALSE(table.remainder().known());
  EXPECT_THAT(HolderIds(table), ElementsAre("founder", "x", "y"));
}

TEST(CapTableTest, StakeDisclosureResetsOnlyThatHolderAndRangesDiluteBothEnds) {
  Company c;
  c.Stake("founder", InYear(2020), Between(400'000, 600'000));
  c.ClosedRound("round-a", InYear(2021), 10 * kM, 2 * kM);
  c.Invest("a-x", "x", "round-a", InYear(2021), 2 * kM);
  // founder 32..48 % (mid 40 %), X 20 %.
  v1::CapTable table = c.Table();
  const v1::OwnershipEstimate& f1 = Holder(table, "founder")->ownership();
  EXPECT_EQ(f1.fraction().parts_per_million(), 400'000);
  EXPECT_EQ(f1.range().min_parts_per_million(), 320'000);
  EXPECT_EQ(f1.range().max_parts_per_million(), 480'000);

  c.Stake("x", InYear(2022), Exact(250'000));  // resets X only
  table = c.Table();
  EXPECT_EQ(Ppm(table, "x"), 250'000);
  EXPECT_EQ(Holder(table, "founder")->ownership().range().min_parts_per_million(), 320'000);

  // B: V 10M, M 5M, Y 5M ⇒ ×0.5.
  c.ClosedRound("round-b", InYear(2023), 10 * kM, 5 * kM);
  c.Invest("b-y", "y", "round-b", InYear(2023), 5 * kM);
  table = c.Table();
  const v1::OwnershipEstimate& f2 = Holder(table, "founder")->ownership();
  EXPECT_EQ(f2.fraction().parts_per_million(), 200'000);
  EXPECT_EQ(f2.range().min_parts_per_million(), 160'000);
  EXPECT_EQ(f2.range().max_parts_per_million(), 240'000);
  EXPECT_EQ(Ppm(table, "x"), 125'000);
  EXPECT_EQ(Ppm(table, "y"), 500'000);
  EXPECT_EQ(table.remainder().fraction().parts_per_million(), 175'000);
  EXPECT_THAT(HolderIds(table), ElementsAre("y", "founder", "x"));
}

TEST(CapTableTest, QualifierOnlyStakeIsUnknownWithTheQualifier) {
  Company c;
  c.ClosedRound("round-a", InYear(2021), 10 * kM, 2 * kM);
  c.Invest("a-x", "x", "round-a", InYear(2021), 2 * kM);
  c.Stake("microsoft", InYear(2022), Words("substantial"));
  const v1::CapTable table = c.Table();
  const v1::Holding& ms = *Holder(table, "microsoft");
  EXPECT_FALSE(ms.ownership().known());
  EXPECT_EQ(ms.ownership().qualifier(), "substantial");
  EXPECT_EQ(ms.ownership().unknown_reason(), "stake disclosed without a figure");
  EXPECT_FALSE(ms.pending());
  EXPECT_THAT(ms.deal_ids(), IsEmpty());
  EXPECT_EQ(Ppm(table, "x"), 200'000);
  EXPECT_FALSE(table.remainder().known());
  EXPECT_THAT(HolderIds(table), ElementsAre("x", "microsoft"));
}

TEST(CapTableTest, ProFormaIncludesOpenRoundOnlyWithIncludePending) {
  Company c;
  c.Stake("founder", InYear(2019), Exact(1'000'000));
  c.ClosedRound("round-a", InYear(2021), 10 * kM, 2 * kM);
  c.Invest("a-x", "x", "round-a", InYear(2021), 2 * kM);
  c.log.Add("round-b", InMonth(2026, 1),
            RoundPayload("round-b", Company::kId, v1::DEAL_STAGE_ANNOUNCED, 50 * kM, 10 * kM));
  c.Invest("b-y", "y", "round-b", InMonth(2026, 1), 10 * kM, v1::DEAL_STAGE_IN_TALKS);

  const v1::CapTable closed = c.Table(false);
  EXPECT_EQ(Holder(closed, "y"), nullptr);
  EXPECT_EQ(Ppm(closed, "founder"), 800'000);
  EXPECT_EQ(Ppm(closed, "x"), 200'000);
  EXPECT_THAT(RoundIds(closed), ElementsAre("round-a"));

  const v1::CapTable pro_forma = c.Table(true);
  EXPECT_TRUE(pro_forma.include_pending());
  EXPECT_EQ(Ppm(pro_forma, "founder"), 640'000);
  EXPECT_EQ(Ppm(pro_forma, "x"), 160'000);
  EXPECT_EQ(Ppm(pro_forma, "y"), 200'000);
  EXPECT_TRUE(Holder(pro_forma, "y")->pending());
  EXPECT_FALSE(Holder(pro_forma, "x")->pending());
  EXPECT_THAT(Holder(pro_forma, "y")->closed(), IsEmpty());
  EXPECT_EQ(Holder(pro_forma, "y")->amounts_by_stage(0).stage(), v1::DEAL_STAGE_IN_TALKS);
  EXPECT_THAT(RoundIds(pro_forma), ElementsAre("round-a", "round-b"));
}

TEST(CapTableTest, StandaloneEquityInvestmentMakesOwnershipUnknown) {
  Company c;
  c.Stake("founder", InYear(2019), Exact(1'000'000));
  c.ClosedRound("round-a", InYear(2021), 10 * kM, 2 * kM);
  c.Invest("a-x", "x", "round-a", InYear(2021), 2 * kM);
  c.Invest("solo", "s", "", InYear(2022), 1 * kM, v1::DEAL_STAGE_CLOSED);
  const v1::CapTable table = c.Table();
  EXPECT_THAT(Holder(table, "s")->ownership().unknown_reason(),
              HasSubstr("investment solo is not part of a priced round"));
  EXPECT_EQ(Holder(table, "x")->ownership().unknown_reason(),
            "diluted by unpriced investment solo");
  EXPECT_EQ(Holder(table, "founder")->ownership().unknown_reason(),
            "diluted by unpriced investment solo");

  // A later stake disclosure makes that holder known again.
  c.Stake("founder", InYear(2023), Exact(700'000));
  EXPECT_EQ(Ppm(c.Table(), "founder"), 700'000);
}

TEST(CapTableTest, ClosedAcquisitionGivesTheAcquirerEverything) {
  Company c;
  c.ClosedRound("round-a", InYear(2021), 10 * kM, 2 * kM);
  c.Invest("a-x", "x", "round-a", InYear(2021), 2 * kM);
  v1::EventPayload p;
  auto* a = p.mutable_acquisition_reported();
  a->set_acquisition_id("buy-acme");
  a->set_acquirer_id("bigco");
  a->set_target_id(Company::kId);
  a->set_stage(v1::DEAL_STAGE_AGREED);
  *a->mutable_price() = Cash(100 * kM);
  c.log.Add("buy-acme", InYear(2024), p);
  EXPECT_EQ(Holder(c.Table(), "bigco"), nullptr);
  EXPECT_EQ(Ppm(c.Table(true), "bigco"), 1'000'000);
  EXPECT_EQ(Ppm(c.Table(true), "x"), 0);

  c.log.Add("buy-acme", InYear(2024), StagePayload("buy-acme", v1::DEAL_STAGE_CLOSED));
  const v1::CapTable table = c.Table();
  EXPECT_EQ(Ppm(table, "bigco"), 1'000'000);
  EXPECT_EQ(Ppm(table, "x"), 0);
  EXPECT_THAT(Holder(table, "bigco")->deal_ids(), ElementsAre("buy-acme"));
  EXPECT_EQ(table.remainder().fraction().parts_per_million(), 0);
}

TEST(CapTableTest, RetractionCountsOnlyFromItsPosition) {
  Company c;
  c.Stake("founder", InYear(2019), Exact(1'000'000));
  c.ClosedRound("round-a", InYear(2021), 10 * kM, 2 * kM);
  c.Invest("a-x", "x", "round-a", InYear(2021), 2 * kM);
  c.log.Add("round-b", InYear(2023),
            RoundPayload("round-b", Company::kId, v1::DEAL_STAGE_ANNOUNCED, 50 * kM, 10 * kM));
  st::Claim* closing = c.log.Add("round-b", InYear(2023), StagePayload("round-b", v1::DEAL_STAGE_CLOSED));
  c.Invest("b-y", "y", "round-b", InYear(2023), 10 * kM);
  const uint64_t before = c.log.position();
  const uint64_t retracted = c.log.Retract(closing);

  v1::CapTable then = c.Table(KnownAt(before));
  EXPECT_EQ(Ppm(then, "x"), 160'000);
  EXPECT_EQ(Ppm(then, "y"), 200'000);

  const v1::CapTable now = c.Table(KnownAt(retracted));
  EXPECT_EQ(Ppm(now, "founder"), 800'000);
  EXPECT_EQ(Ppm(now, "x"), 200'000);
  EXPECT_EQ(Holder(now, "y"), nullptr);  // round-b is open again
  EXPECT_THAT(RoundIds(now), ElementsAre("round-a"));
}

TEST(CapTableTest, CorrectionReplacesTheAmountFromItsPosition) {
  Company c;
  c.ClosedRound("round-a", InYear(2021), 10 * kM, std::nullopt);
  st::Claim* investment = c.Invest("a-x", "x", "round-a", InYear(2021), 2 * kM);
  const uint64_t before = c.log.position();
  const uint64_t corrected = c.log.Correct(
      investment, InvestmentPayload("a-x", "x", Company::kId, "round-a", v1::DEAL_STAGE_ANNOUNCED,
                                    Cash(4 * kM)));

  const v1::CapTable then = c.Table(KnownAt(before));
  EXPECT_EQ(Ppm(then, "x"), 200'000);
  EXPECT_EQ(Holder(then, "x")->committed(0).units(), 2 * kM);
  EXPECT_EQ(Holder(then, "x")->confidence(), v1::CONFIDENCE_REPORTED);
  EXPECT_EQ(Holder(then, "x")->sources(0).publisher(), "source-3");

  const v1::CapTable now = c.Table(KnownAt(corrected));
  EXPECT_EQ(Ppm(now, "x"), 400'000);
  EXPECT_EQ(Holder(now, "x")->committed(0).units(), 4 * kM);
  EXPECT_EQ(Holder(now, "x")->confidence(), v1::CONFIDENCE_CONFIRMED);  // the correction's
  EXPECT_EQ(Holder(now, "x")->sources(0).publisher(), "correction-4");
}

TEST(CapTableTest, RoundsApplyInEffectiveOrderNotReportOrder) {
  Company c;
  c.Stake("founder", InYear(2019), Exact(1'000'000));
  // Reported first, effective later.
  c.ClosedRound("round-b", InMonth(2023, 6), 50 * kM, 10 * kM);
  c.Invest("b-y", "y", "round-b", InMonth(2023, 6), 10 * kM);
  // Reported later, effective earlier.
  c.ClosedRound("round-a", InMonth(2021, 3), 10 * kM, 2 * kM);
  c.Invest("a-x", "x", "round-a", InMonth(2021, 3), 2 * kM);

  const v1::CapTable table = c.Table();
  EXPECT_THAT(RoundIds(table), ElementsAre("round-a", "round-b"));
  EXPECT_EQ(Ppm(table, "founder"), 640'000);
  EXPECT_EQ(Ppm(table, "x"), 160'000);
  EXPECT_EQ(Ppm(table, "y"), 200'000);

  ClaimFilter f = ClaimFilter::Now(DayNumber(2030, 1, 1));
  f.effective_on = DayNumber(2022, 1, 1);
  const v1::CapTable in_2022 = c.Table(f);
  EXPECT_THAT(RoundIds(in_2022), ElementsAre("round-a"));
  EXPECT_EQ(Ppm(in_2022, "x"), 200'000);
  EXPECT_EQ(Holder(in_2022, "y"), nullptr);

  f.effective_on = DayNumber(2021, 2, 28);  // before the late-reported round
  const v1::CapTable in_2021 = c.Table(f);
  EXPECT_THAT(RoundIds(in_2021), IsEmpty());
  EXPECT_EQ(Holder(in_2021, "x"), nullptr);
  EXPECT_EQ(Ppm(in_2021, "founder"), 1'000'000);
}

TEST(CapTableTest, MinConfidenceLeavesOutRumoredRounds) {
  Company c;
  c.ClosedRound("round-a", InYear(2021), 10 * kM, 2 * kM);
  c.Invest("a-x", "x", "round-a", InYear(2021), 2 * kM);
  c.ClosedRound("round-b", InYear(2022), 50 * kM, 10 * kM, v1::CONFIDENCE_RUMORED);
  c.Invest("b-y", "y", "round-b", InYear(2022), 10 * kM, v1::DEAL_STAGE_ANNOUNCED,
           v1::CONFIDENCE_RUMORED);

  const v1::CapTable all = c.Table();
  EXPECT_EQ(Ppm(all, "x"), 160'000);
  EXPECT_EQ(Holder(all, "y")->confidence(), v1::CONFIDENCE_RUMORED);

  ClaimFilter f = ClaimFilter::Now(DayNumber(2030, 1, 1));
  f.min_confidence = v1::CONFIDENCE_REPORTED;
  const v1::CapTable reported = c.Table(f);
  EXPECT_EQ(Ppm(reported, "x"), 200'000);
  EXPECT_EQ(Holder(reported, "y"), nullptr);
  EXPECT_THAT(RoundIds(reported), ElementsAre("round-a"));
}

// ---------------------------------------------------------------------------
// Deals
// ---------------------------------------------------------------------------

class DealTest : public ::testing::Test {
 protected:
  DealTest() {
    v1::EventPayload p = InvestmentPayload("amazon-openai-2026", "amazon", "openai", "",
                                           v1::DEAL_STAGE_IN_TALKS, Cash(50'000 * kM));
    p.mutable_investment_reported()->set_amount_bound(v1::AMOUNT_BOUND_UP_TO);
    *p.mutable_investment_reported()->mutable_expected_close() = InQuarter(2026, 1);
    log_.Add(kId, InMonth(2026, 1), p);
    v1::EventPayload agreed = StagePayload(kId, v1::DEAL_STAGE_AGREED);
    *agreed.mutable_deal_stage_changed()->mutable_amount() = Cash(40'000 * kM);
    log_.Add(kId, OnDay(2026, 2, 10), agreed, v1::CONFIDENCE_RUMORED);
  }
  static ClaimFilter On(int y, int m, int d) { return ClaimFilter::Now(DayNumber(y, m, d)); }
  const st::Entity& entity() { return log_.Entity(kId); }

  static constexpr const char* kId = "amazon-openai-2026";
  Claims log_;
};

TEST_F(DealTest, FoldsStagesAmountsAndHistory) {
  const std::optional<v1::Deal> deal = FoldDeal(entity(), On(2026, 3, 1));
  ASSERT_TRUE(deal);
  EXPECT_EQ(deal->deal_id(), kId);
  EXPECT_EQ(deal->kind(), v1::DEAL_KIND_INVESTMENT);
  EXPECT_EQ(deal->investor_id(), "amazon");
  EXPECT_EQ(deal->company_id(), "openai");
  EXPECT_EQ(deal->instrument(), v1::INSTRUMENT_EQUITY);
  EXPECT_EQ(deal->stage(), v1::DEAL_STAGE_AGREED);
  EXPECT_EQ(deal->amount().units(), 40'000 * kM);
  EXPECT_EQ(deal->amount_bound(), v1::AMOUNT_BOUND_UNSPECIFIED);
  EXPECT_EQ(deal->confidence(), v1::CONFIDENCE_RUMORED);
  EXPECT_EQ(deal->sources(0).publisher(), "source-2");
  EXPECT_EQ(PeriodStart(deal->first_reported()), DayNumber(2026, 1, 1));
  EXPECT_EQ(PeriodStart(deal->stage_since()), DayNumber(2026, 2, 10));
  ASSERT_EQ(deal->history_size(), 2);
  EXPECT_EQ(deal->history(0).stage(), v1::DEAL_STAGE_IN_TALKS);
  EXPECT_EQ(deal->history(0).event_type(), "InvestmentReported");
  EXPECT_EQ(deal->history(0).amount().units(), 50'000 * kM);
  EXPECT_EQ(deal->history(1).event_type(), "DealStageChanged");
  EXPECT_EQ(deal->history(1).position(), 2u);
}

TEST_F(DealTest, OverdueOnceTheExpectedQuarterHasPassed) {
  EXPECT_FALSE(FoldDeal(entity(), On(2026, 3, 31))->overdue());
  EXPECT_TRUE(FoldDeal(entity(), On(2026, 4, 1))->overdue());

  log_.Add(kId, InMonth(2026, 4), StagePayload(kId, v1::DEAL_STAGE_COLLAPSED));
  const std::optional<v1::Deal> collapsed = FoldDeal(entity(), On(2026, 6, 1));
  EXPECT_EQ(collapsed->stage(), v1::DEAL_STAGE_COLLAPSED);
  EXPECT_FALSE(collapsed->overdue());
  EXPECT_EQ(collapsed->history_size(), 3);
}

TEST_F(DealTest, StageSinceIsTheFirstClaimOfTheCurrentStage) {
  log_.Add(kId, InMonth(2026, 3), StagePayload(kId, v1::DEAL_STAGE_AGREED));  // restated
  const std::optional<v1::Deal> deal = FoldDeal(entity(), On(2026, 3, 1));
  EXPECT_EQ(deal->history_size(), 3);
  EXPECT_EQ(PeriodStart(deal->stage_since()), DayNumber(2026, 2, 10));
}

TEST_F(DealTest, SkipsBackwardMovesAndLeavingATerminalStage) {
  log_.Add(kId, InMonth(2026, 3), StagePayload(kId, v1::DEAL_STAGE_IN_TALKS));
  log_.Add(kId, InMonth(2026, 3), StagePayload(kId, v1::DEAL_STAGE_CLOSED));
  log_.Add(kId, InMonth(2026, 4), StagePayload(kId, v1::DEAL_STAGE_COLLAPSED));
  const std::optional<v1::Deal> deal = FoldDeal(entity(), On(2026, 6, 1));
  EXPECT_EQ(deal->stage(), v1::DEAL_STAGE_CLOSED);
  EXPECT_EQ(deal->history_size(), 3);  // report, AGREED, CLOSED
  EXPECT_FALSE(deal->overdue());
}

TEST_F(DealTest, FiltersApplyAndStageChangesAloneMakeNoDeal) {
  ClaimFilter f = On(2026, 3, 1);
  f.min_confidence = v1::CONFIDENCE_REPORTED;
  const std::optional<v1::Deal> reported = FoldDeal(entity(), f);
  EXPECT_EQ(reported->stage(), v1::DEAL_STAGE_IN_TALKS);
  EXPECT_EQ(reported->history_size(), 1);
  EXPECT_EQ(reported->confidence(), v1::CONFIDENCE_REPORTED);

  Claims only_stage;
  only_stage.Add("d", InMonth(2026, 1), StagePayload("d", v1::DEAL_STAGE_CLOSED));
  EXPECT_FALSE(FoldDeal(only_stage.Entity("d"), f));
  EXPECT_FALSE(FoldDeal(entity(), KnownAt(0)));
}

TEST(DealRoundTest, RoundFieldsAndLaterReportsOverride) {
  Claims log;
  v1::EventPayload p = RoundPayload("openai-2026", "openai", v1::DEAL_STAGE_IN_TALKS,
                                    std::nullopt, 100'000 * kM);
  p.mutable_funding_round_reported()->set_label("strategic");
  p.mutable_funding_round_reported()->add_lead_investor_ids("amazon");
  log.Add("openai-2026", InMonth(2026, 1), p);
  v1::EventPayload again = RoundPayload("openai-2026", "openai", v1::DEAL_STAGE_ANNOUNCED,
                                        830'000 * kM, std::nullopt);
  again.mutable_funding_round_reported()->set_label("strategic");
  log.Add("openai-2026", InMonth(2026, 2), again);
  const std::optional<v1::Deal> deal =
      FoldDeal(log.Entity("openai-2026"), ClaimFilter::Now(DayNumber(2026, 3, 1)));
  ASSERT_TRUE(deal);
  EXPECT_EQ(deal->kind(), v1::DEAL_KIND_ROUND);
  EXPECT_EQ(deal->label(), "strategic");
  EXPECT_EQ(deal->stage(), v1::DEAL_STAGE_ANNOUNCED);
  EXPECT_EQ(deal->amount().units(), 100'000 * kM);  // not restated: kept
  EXPECT_EQ(deal->post_money_valuation().units(), 830'000 * kM);
  EXPECT_THAT(deal->lead_investor_ids(), ElementsAre("amazon"));
  EXPECT_EQ(deal->investor_id(), "");
}

// ---------------------------------------------------------------------------
// Organizations
// ---------------------------------------------------------------------------

TEST(OrganizationTest, RegistrationAndUpdates) {
  Claims log;
  v1::EventPayload reg;
  auto* r = reg.mutable_organization_registered();
  r->set_org_id("aws");
  r->set_name("AWS");
  r->set_kind(v1::ORGANIZATION_KIND_COMPANY);
  r->add_sectors("cloud-infrastructure");
  r->add_aliases("Amazon Web Services");
  r->add_aliases("Amazon AWS");
  log.Add("aws", InYear(2006), reg);

  v1::EventPayload upd;
  auto* u = upd.mutable_organization_updated();
  u->set_org_id("aws");
  u->set_parent_org_id("amazon");
  u->set_replace_sectors(true);
  u->add_sectors("ai-infrastructure");
  u->add_sectors("cloud-infrastructure");
  u->add_add_aliases("Amazon Web Services");  // already present: kept once
  u->add_add_aliases("AWS Cloud");
  u->add_remove_aliases("Amazon AWS");
  *u->mutable_founded() = InYear(2006);
  log.Add("aws", InYear(2026), upd);

  const std::optional<v1::Organization> then = FoldOrganization(log.Entity("aws"), KnownAt(1));
  ASSERT_TRUE(then);
  EXPECT_EQ(then->parent_org_id(), "");
  EXPECT_THAT(then->aliases(), ElementsAre("Amazon Web Services", "Amazon AWS"));
  EXPECT_FALSE(then->has_founded());

  const std::optional<v1::Organization> now = FoldOrganization(log.Entity("aws"), KnownAt(2));
  ASSERT_TRUE(now);
  EXPECT_EQ(now->org_id(), "aws");
  EXPECT_EQ(now->name(), "AWS");  // not present in the update: kept
  EXPECT_EQ(now->kind(), v1::ORGANIZATION_KIND_COMPANY);
  EXPECT_EQ(now->parent_org_id(), "amazon");
  EXPECT_THAT(now->sectors(), ElementsAre("ai-infrastructure", "cloud-infrastructure"));
  EXPECT_THAT(now->aliases(), ElementsAre("Amazon Web Services", "AWS Cloud"));
  EXPECT_EQ(now->founded().date().year(), 2006);
  EXPECT_EQ(now->registered_position(), 1u);

  // Clearing the parent with an empty string.
  v1::EventPayload clear;
  clear.mutable_organization_updated()->set_org_id("aws");
  clear.mutable_organization_updated()->set_parent_org_id("");
  clear.mutable_organization_updated()->set_name("Amazon Web Services");
  log.Add("aws", InYear(2026), clear);
  const std::optional<v1::Organization> cleared = FoldOrganization(log.Entity("aws"), KnownAt(3));
  EXPECT_EQ(cleared->parent_org_id(), "");
  EXPECT_EQ(cleared->name(), "Amazon Web Services");

  Claims none;
  none.Add("x", InYear(2026), upd);
  EXPECT_FALSE(FoldOrganization(none.Entity("x"), KnownAt(10)));
}

// ---------------------------------------------------------------------------
// Timelines and valuations
// ---------------------------------------------------------------------------

TEST(TimelineTest, CoarserPeriodsFirstAmongThoseStartingTheSameDay) {
  Claims log;
  const std::vector<v1::EffectiveDate> dates = {OnDay(2026, 1, 15), InMonth(2026, 1),
                                                OnDay(2026, 1, 1), InQuarter(2026, 1),
                                                InMonth(2025, 12)};
  std::vector<v1::TimelineEntry> entries;
  for (const v1::EffectiveDate& d : dates) {
    st::Claim* c = log.Add("t", d, StagePayload("d", v1::DEAL_STAGE_AGREED));
    entries.push_back(*FoldTimelineEntry(*c, KnownAt(100)));
  }
  auto positions = [&entries] {
    std::vector<uint64_t> out;
    for (const v1::TimelineEntry& e : entries) out.push_back(e.position());
    return out;
  };
  SortTimeline(&entries, false);
  EXPECT_THAT(positions(), ElementsAre(5u, 4u, 2u, 3u, 1u));
  SortTimeline(&entries, true);
  EXPECT_THAT(positions(), ElementsAre(1u, 3u, 2u, 4u, 5u));
}

TEST(TimelineTest, EntryOfACorrectedInvestment) {
  Claims log;
  v1::EventPayload p = InvestmentPayload("amazon-openai-2026", "amazon", "openai", "",
                                         v1::DEAL_STAGE_IN_TALKS, Cash(50'000 * kM));
  p.mutable_investment_reported()->set_amount_bound(v1::AMOUNT_BOUND_UP_TO);
  st::Claim* c = log.Add("t", InMonth(2026, 1), p);
  c->add_org_ids("amazon");
  c->add_org_ids("openai");
  c->mutable_recorded_time()->set_seconds(1'769'000'000);

  std::optional<v1::TimelineEntry> e = FoldTimelineEntry(*c, KnownAt(1));
  ASSERT_TRUE(e);
  EXPECT_EQ(e->summary(), "amazon invests up to 50000000000 USD in openai (in talks)");
  EXPECT_EQ(e->event_type(), "InvestmentReported");
  EXPECT_EQ(e->event_id(), "event-1");
  EXPECT_EQ(e->stage(), v1::DEAL_STAGE_IN_TALKS);
  EXPECT_EQ(e->amount().units(), 50'000 * kM);
  EXPECT_EQ(e->amount_bound(), v1::AMOUNT_BOUND_UP_TO);
  EXPECT_EQ(e->subject_id(), "amazon-openai-2026");
  EXPECT_THAT(e->other_org_ids(), ElementsAre("amazon", "openai"));
  EXPECT_EQ(e->recorded_time().seconds(), 1'769'000'000);
  EXPECT_EQ(e->corrected_at_position(), 0u);

  v1::EventPayload fixed = p;
  *fixed.mutable_investment_reported()->mutable_amount() = Cash(8, "EUR", 500'000'000);
  fixed.mutable_investment_reported()->set_amount_bound(v1::AMOUNT_BOUND_AT_LEAST);
  fixed.mutable_investment_reported()->set_instrument(v1::INSTRUMENT_CONVERTIBLE);
  const uint64_t at = log.Correct(c, fixed);
  e = FoldTimelineEntry(*c, KnownAt(at));
  EXPECT_EQ(e->summary(), "amazon invests at least 8.5 EUR in openai (convertible, in talks)");
  EXPECT_EQ(e->corrected_at_position(), at);
  EXPECT_EQ(e->payload().investment_reported().amount().currency_code(), "EUR");
  EXPECT_EQ(e->confidence(), v1::CONFIDENCE_CONFIRMED);

  log.Retract(c);
  EXPECT_FALSE(FoldTimelineEntry(*c, KnownAt(100)));
}

std::string Summary(const v1::EventPayload& p) {
  Claims log;
  return FoldTimelineEntry(*log.Add("t", InMonth(2026, 1), p), KnownAt(1))->summary();
}

TEST(TimelineTest, SummariesOfTheSeedStory) {
  v1::EventPayload round = RoundPayload("openai-2026", "openai", v1::DEAL_STAGE_IN_TALKS,
                                        std::nullopt, 100'000 * kM);
  round.mutable_funding_round_reported()->set_label("strategic");
  round.mutable_funding_round_reported()->set_target_amount_bound(v1::AMOUNT_BOUND_APPROXIMATE);
  EXPECT_EQ(Summary(round), "openai raises about 100000000000 USD (strategic, in talks)");

  v1::EventPayload valuation;
  auto* v = valuation.mutable_valuation_reported();
  v->set_company_id("openai");
  *v->mutable_valuation() = Cash(500'000 * kM);
  v->set_basis(v1::VALUATION_BASIS_ESTIMATE);
  v->set_valuation_bound(v1::AMOUNT_BOUND_AT_LEAST);
  EXPECT_EQ(Summary(valuation), "valuation of openai: at least 500000000000 USD (estimate)");

  EXPECT_EQ(Summary(StakePayload("microsoft", "openai", Words("substantial"))),
            "microsoft holds a substantial stake in openai");
  EXPECT_EQ(Summary(StakePayload("microsoft", "openai", Exact(270'500))),
            "microsoft holds 27.05% of openai");

  v1::EventPayload partnership;
  auto* f = partnership.mutable_partnership_formed();
  f->set_partnership_id("aws-anthropic");
  for (auto [org, role] : {std::pair{"aws", v1::PARTNERSHIP_ROLE_CLOUD_PROVIDER},
                           std::pair{"aws", v1::PARTNERSHIP_ROLE_TRAINING_PROVIDER},
                           std::pair{"anthropic", v1::PARTNERSHIP_ROLE_CUSTOMER}}) {
    auto* party = f->add_parties();
    party->set_org_id(org);
    party->set_role(role);
  }
  EXPECT_EQ(Summary(partnership), "aws, anthropic form partnership aws-anthropic");

  v1::EventPayload facility;
  auto* fa = facility.mutable_facility_announced();
  fa->set_facility_id("aws-indiana-campus");
  fa->set_owner_id("aws");
  fa->set_beneficiary_id("anthropic");
  fa->set_location("New Carlisle, Indiana, US");
  *fa->mutable_amount() = Cash(11'000 * kM);
  EXPECT_EQ(Summary(facility),
            "aws announces facility aws-indiana-campus in New Carlisle, Indiana, US for "
            "anthropic (11000000000 USD)");

  EXPECT_EQ(Summary(StagePayload("amazon-openai-2026", v1::DEAL_STAGE_CLOSED)),
            "deal amazon-openai-2026 moves to closed");
}

TEST(ValuationTest, ReportsAndRoundPostMoneyByEffectiveDate) {
  Claims log;
  v1::EventPayload valuation;
  auto* v = valuation.mutable_valuation_reported();
  v->set_company_id("openai");
  *v->mutable_valuation() = Cash(830'000 * kM);
  v->set_basis(v1::VALUATION_BASIS_ESTIMATE);
  v->set_valuation_bound(v1::AMOUNT_BOUND_UP_TO);
  log.Add("c/openai", InMonth(2026, 1), valuation);
  log.Add("c/openai", InYear(2026), StakePayload("microsoft", "openai", Words("substantial")));
  st::Claim* retracted = log.Add("c/openai", InYear(2020), valuation);
  log.Retract(retracted);

  v1::Deal round;
  round.set_deal_id("openai-2024");
  round.set_kind(v1::DEAL_KIND_ROUND);
  *round.mutable_post_money_valuation() = Cash(157'000 * kM);
  round.set_confidence(v1::CONFIDENCE_OFFICIAL);
  v1::StageStep* step = round.add_history();
  *step->mutable_effective() = InMonth(2024, 9);
  step->set_position(2);
  step = round.add_history();
  *step->mutable_effective() = InMonth(2024, 10);
  step->set_position(7);
  v1::Deal unpriced = round;
  unpriced.set_deal_id("unpriced");
  unpriced.clear_post_money_valuation();

  const std::vector<v1::ValuationPoint> points =
      FoldValuations(log.Entity("c/openai"), {round, unpriced}, KnownAt(100));
  ASSERT_EQ(points.size(), 2u);
  EXPECT_EQ(points[0].round_id(), "openai-2024");
  EXPECT_EQ(points[0].basis(), v1::VALUATION_BASIS_PRIMARY_ROUND);
  EXPECT_EQ(points[0].position(), 7u);
  EXPECT_EQ(points[0].effective().date().month(), 10);
  EXPECT_EQ(points[0].confidence(), v1::CONFIDENCE_OFFICIAL);
  EXPECT_EQ(points[0].event_id(), "");
  EXPECT_EQ(points[1].valuation().units(), 830'000 * kM);
  EXPECT_EQ(points[1].bound(), v1::AMOUNT_BOUND_UP_TO);
  EXPECT_EQ(points[1].event_id(), "event-1");
  EXPECT_EQ(points[1].sources(0).publisher(), "source-1");
}

TEST(ValuationTest, RoundPostMoneyRestatedByAValuationReportIsOnePoint) {
  Claims log;
  v1::EventPayload valuation;
  auto* v = valuation.mutable_valuation_reported();
  v->set_company_id("openai");
  v->set_round_id("openai-2024");
  *v->mutable_valuation() = Cash(157'000 * kM);
  v->set_basis(v1::VALUATION_BASIS_PRIMARY_ROUND);
  log.Add("c/openai", InMonth(2024, 10), valuation);

  v1::Deal round;
  round.set_deal_id("openai-2024");
  round.set_kind(v1::DEAL_KIND_ROUND);
  *round.mutable_post_money_valuation() = Cash(157'000 * kM);
  *round.add_history()->mutable_effective() = InMonth(2024, 10);
  std::vector<v1::ValuationPoint> points =
      FoldValuations(log.Entity("c/openai"), {round}, KnownAt(100));
  ASSERT_EQ(points.size(), 1u);
  EXPECT_EQ(points[0].event_id(), "event-1");  // the explicit claim stands
  // A different figure for the same round is a second point.
  *round.mutable_post_money_valuation() = Cash(150'000 * kM);
  points = FoldValuations(log.Entity("c/openai"), {round}, KnownAt(100));
  EXPECT_EQ(points.size(), 2u);
}

// ---------------------------------------------------------------------------
// Partnerships and exposure
// ---------------------------------------------------------------------------

TEST(PartnershipTest, PartiesRollUpAndEnding) {
  Claims log;
  v1::EventPayload p;
  auto* f = p.mutable_partnership_formed();
  f->set_partnership_id("aws-anthropic");
  f->set_primary(true);
  f->set_description("primary cloud and training provider");
  for (auto [org, role] : {std::pair{"aws", v1::PARTNERSHIP_ROLE_CLOUD_PROVIDER},
                           std::pair{"anthropic", v1::PARTNERSHIP_ROLE_CUSTOMER}}) {
    auto* party = f->add_parties();
    party->set_org_id(org);
    party->set_role(role);
  }
  log.Add("aws-anthropic", InYear(2023), p, v1::CONFIDENCE_OFFICIAL);
  v1::EventPayload ended;
  ended.mutable_partnership_ended()->set_partnership_id("aws-anthropic");
  log.Add("aws-anthropic", InYear(2027), ended);

  auto name_of = [](absl::string_view id) { return absl::AsciiStrToUpper(id); };
  auto rollup_of = [](absl::string_view id) { return id == "aws" ? "amazon" : ""; };
  const std::optional<v1::Partnership> active =
      FoldPartnership(log.Entity("aws-anthropic"), KnownAt(1), name_of, rollup_of);
  ASSERT_TRUE(active);
  EXPECT_TRUE(active->active());
  EXPECT_TRUE(active->primary());
  EXPECT_FALSE(active->exclusive());
  EXPECT_FALSE(active->has_ended());
  ASSERT_EQ(active->parties_size(), 2);
  EXPECT_EQ(active->parties(0).name(), "AWS");
  EXPECT_EQ(active->parties(0).rolled_up_to(), "amazon");
  EXPECT_EQ(active->parties(1).rolled_up_to(), "");
  EXPECT_EQ(active->formed().date().year(), 2023);
  EXPECT_EQ(active->confidence(), v1::CONFIDENCE_OFFICIAL);

  const std::optional<v1::Partnership> over =
      FoldPartnership(log.Entity("aws-anthropic"), KnownAt(2), name_of, rollup_of);
  EXPECT_FALSE(over->active());
  EXPECT_EQ(over->ended().date().year(), 2027);
  EXPECT_EQ(over->confidence(), v1::CONFIDENCE_OFFICIAL);
  EXPECT_FALSE(FoldPartnership(log.Entity("aws-anthropic"), KnownAt(0), name_of, rollup_of));
}

FoundTie MakeTie(const std::string& company, v1::TieKind kind, const std::string& subject) {
  FoundTie t;
  t.company_id = company;
  t.tie.set_kind(kind);
  t.tie.set_via_org_id("amazon");
  t.tie.set_subject_id(subject);
  return t;
}

TEST(ExposureTest, SectorsSharedByTwoCompanies) {
  const std::map<std::string, std::vector<std::string>> sectors = {
      {"openai", {"ai-foundation-models", "consumer-ai"}},
      {"anthropic", {"ai-foundation-models"}},
      {"rivian", {"automotive"}}};
  auto sectors_of = [&sectors](absl::string_view id) { return sectors.at(std::string(id)); };
  auto name_of = [](absl::string_view id) { return absl::StrCat("Name of ", id); };

  const std::vector<v1::SectorExposure> exposures = GroupExposure(
      {MakeTie("openai", v1::TIE_KIND_INVESTMENT, "amazon-openai-2026"),
       MakeTie("anthropic", v1::TIE_KIND_INVESTMENT, "amazon-anthropic"),
       MakeTie("rivian", v1::TIE_KIND_STAKE, ""),
       MakeTie("anthropic", v1::TIE_KIND_PARTNERSHIP, "aws-anthropic")},
      sectors_of, name_of);
  ASSERT_EQ(exposures.size(), 1u);
  EXPECT_EQ(exposures[0].sector(), "ai-foundation-models");
  ASSERT_EQ(exposures[0].companies_size(), 2);
  EXPECT_EQ(exposures[0].companies(0).company_id(), "anthropic");
  EXPECT_EQ(exposures[0].companies(0).name(), "Name of anthropic");
  ASSERT_EQ(exposures[0].companies(0).ties_size(), 2);
  EXPECT_EQ(exposures[0].companies(0).ties(0).subject_id(), "amazon-anthropic");
  EXPECT_EQ(exposures[0].companies(0).ties(1).subject_id(), "aws-anthropic");
  EXPECT_EQ(exposures[0].companies(1).company_id(), "openai");

  EXPECT_THAT(GroupExposure({MakeTie("openai", v1::TIE_KIND_STAKE, ""),
                             MakeTie("rivian", v1::TIE_KIND_STAKE, "")},
                            sectors_of, name_of),
              IsEmpty());
  // Two ties to one company are still one company.
  EXPECT_THAT(GroupExposure({MakeTie("openai", v1::TIE_KIND_STAKE, ""),
                             MakeTie("openai", v1::TIE_KIND_INVESTMENT, "x")},
                            sectors_of, name_of),
              IsEmpty());
}

// ---------------------------------------------------------------------------
// Market summary
// ---------------------------------------------------------------------------

v1::Deal SummaryDeal(const std::string& id, v1::DealKind kind, v1::DealStage stage,
                     const v1::EffectiveDate& since, std::optional<v1::Money> amount) {
  v1::Deal d;
  d.set_deal_id(id);
  d.set_kind(kind);
  d.set_stage(stage);
  *d.mutable_stage_since() = since;
  if (amount) *d.mutable_amount() = *amount;
  return d;
}

TEST(SummaryTest, BucketsPerCurrencyAndLargestDeals) {
  v1::GetMarketSummaryRequest request;
  request.set_largest_deals_limit(2);
  SummaryBuilder builder(request);
  const std::vector<std::string> ai = {"ai-foundation-models"};
  builder.Add(SummaryDeal("r1", v1::DEAL_KIND_ROUND, v1::DEAL_STAGE_CLOSED, InMonth(2026, 1),
                          Cash(100, "USD")),
              ai);
  builder.Add(SummaryDeal("r2", v1::DEAL_KIND_ROUND, v1::DEAL_STAGE_CLOSED, OnDay(2026, 3, 31),
                          Cash(50, "USD", 500'000'000)),
              ai);
  builder.Add(SummaryDeal("r3", v1::DEAL_KIND_ROUND, v1::DEAL_STAGE_CLOSED, InMonth(2026, 2),
                          Cash(70, "EUR")),
              ai);
  builder.Add(SummaryDeal("r4", v1::DEAL_KIND_ROUND, v1::DEAL_STAGE_CLOSED, InMonth(2026, 4),
                          Cash(100, "USD")),
              {"ai-foundation-models", "cloud-infrastructure"});
  builder.Add(SummaryDeal("r5", v1::DEAL_KIND_ROUND, v1::DEAL_STAGE_CLOSED, InMonth(2026, 1),
                          std::nullopt),
              ai);
  builder.Add(SummaryDeal("r0", v1::DEAL_KIND_INVESTMENT, v1::DEAL_STAGE_AGREED, InMonth(2026, 1),
                          Cash(100, "USD")),
              ai);
  v1::GetMarketSummaryResponse out;
  builder.Finish(&out);

  ASSERT_EQ(out.buckets_size(), 5);
  // Q1 ai: the AGREED investment, then CLOSED rounds in EUR and in USD
  // (never summed across currencies).
  const v1::SummaryBucket& b0 = out.buckets(0);
  EXPECT_EQ(b0.quarter().date().month(), 1);
  EXPECT_EQ(b0.quarter().precision(), v1::DATE_PRECISION_QUARTER);
  EXPECT_EQ(b0.stage(), v1::DEAL_STAGE_AGREED);
  EXPECT_EQ(b0.kind(), v1::DEAL_KIND_INVESTMENT);
  EXPECT_EQ(b0.total().units(), 100);
  const v1::SummaryBucket& b1 = out.buckets(1);
  EXPECT_EQ(b1.stage(), v1::DEAL_STAGE_CLOSED);
  EXPECT_EQ(b1.total().currency_code(), "EUR");
  EXPECT_EQ(b1.total().units(), 70);
  const v1::SummaryBucket& b2 = out.buckets(2);
  EXPECT_EQ(b2.total().currency_code(), "USD");
  EXPECT_EQ(b2.total().units(), 150);
  EXPECT_EQ(b2.total().nanos(), 500'000'000);
  EXPECT_EQ(b2.deal_count(), 2);  // r5 has no amount
  EXPECT_EQ(out.buckets(3).quarter().date().month(), 4);
  EXPECT_EQ(out.buckets(3).sector(), "ai-foundation-models");
  EXPECT_EQ(out.buckets(4).sector(), "cloud-infrastructure");
  EXPECT_EQ(out.buckets(4).total().units(), 100);

  std::vector<std::string> largest;
  for (const v1::Deal& d : out.largest_deals()) largest.push_back(d.deal_id());
  // EUR first; USD top two by amount, ties by deal id (r4 counted once).
  EXPECT_THAT(largest, ElementsAre("r3", "r0", "r1"));
}

TEST(SummaryTest, Filters) {
  v1::GetMarketSummaryRequest request;
  *request.mutable_from_quarter() = InQuarter(2026, 4);
  *request.mutable_to_quarter() = InQuarter(2026, 7);
  request.set_sector("cloud-infrastructure");
  request.set_kind(v1::DEAL_KIND_ROUND);
  request.set_exclude_collapsed(true);
  SummaryBuilder builder(request);
  const std::vector<std::string> both = {"ai-foundation-models", "cloud-infrastructure"};
  builder.Add(SummaryDeal("q1", v1::DEAL_KIND_ROUND, v1::DEAL_STAGE_CLOSED, InMonth(2026, 3),
                          Cash(1)),
              both);
  builder.Add(SummaryDeal("q2", v1::DEAL_KIND_ROUND, v1::DEAL_STAGE_CLOSED, InMonth(2026, 4),
                          Cash(2)),
              both);
  builder.Add(SummaryDeal("q3", v1::DEAL_KIND_ROUND, v1::DEAL_STAGE_CLOSED, OnDay(2026, 9, 30),
                          Cash(3)),
              both);
  builder.Add(SummaryDeal("q4", v1::DEAL_KIND_ROUND, v1::DEAL_STAGE_CLOSED, InMonth(2026, 10),
                          Cash(4)),
              both);
  builder.Add(SummaryDeal("gone", v1::DEAL_KIND_ROUND, v1::DEAL_STAGE_COLLAPSED,
                          InMonth(2026, 5), Cash(5)),
              both);
  builder.Add(SummaryDeal("inv", v1::DEAL_KIND_INVESTMENT, v1::DEAL_STAGE_CLOSED,
                          InMonth(2026, 5), Cash(6)),
              both);
  builder.Add(SummaryDeal("ai-only", v1::DEAL_KIND_ROUND, v1::DEAL_STAGE_CLOSED,
                          InMonth(2026, 5), Cash(7)),
              {"ai-foundation-models"});
  v1::GetMarketSummaryResponse out;
  builder.Finish(&out);
  ASSERT_EQ(out.buckets_size(), 2);
  EXPECT_EQ(out.buckets(0).sector(), "cloud-infrastructure");
  EXPECT_EQ(out.buckets(0).total().units(), 2);
  EXPECT_EQ(out.buckets(1).quarter().date().month(), 7);
  EXPECT_EQ(out.buckets(1).total().units(), 3);
  ASSERT_EQ(out.largest_deals_size(), 2);
  EXPECT_EQ(out.largest_deals(0).deal_id(), "q3");
}

}  // namespace
}  // namespace dealwire::projections
