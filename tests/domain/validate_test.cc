// Tests of the state-free checks of an event (domain/validate.h).
#include "domain/validate.h"

#include <functional>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "common/currency.h"
#include "tests/common/status_matchers.h"

namespace dealwire::domain {
namespace {

namespace v1 = dealwire::v1;
using ::dealwire::test_util::StatusIs;
using ::dealwire::test_util::StatusIsWith;

v1::Date Date(int y, int m, int d) {
  v1::Date out;
  out.set_year(y);
  out.set_month(m);
  out.set_day(d);
  return out;
}

v1::EffectiveDate Effective(int y, int m, int d, v1::DatePrecision p) {
  v1::EffectiveDate out;
  *out.mutable_date() = Date(y, m, d);
  out.set_precision(p);
  return out;
}

v1::Event ValidEvent() {
  v1::Event e;
  e.set_event_id("0b6f2c1e-7d4a-4e8b-9a51-3c2d1f0e9b7a");
  *e.mutable_effective() = Effective(2026, 1, 0, v1::DATE_PRECISION_MONTH);
  e.set_confidence(v1::CONFIDENCE_REPORTED);
  v1::Source* s = e.add_sources();
  s->set_publisher("Reuters");
  s->set_url("https://www.reuters.com/x");
  auto* org = e.mutable_payload()->mutable_organization_registered();
  org->set_org_id("openai");
  org->set_name("OpenAI");
  org->set_kind(v1::ORGANIZATION_KIND_COMPANY);
  return e;
}

TEST(ValidateTest, DatesAtEachPrecision) {
  EXPECT_OK(ValidateEffectiveDate(Effective(2026, 1, 28, v1::DATE_PRECISION_DAY), "d"));
  EXPECT_OK(ValidateEffectiveDate(Effective(2024, 2, 29, v1::DATE_PRECISION_DAY), "d"));
  EXPECT_OK(ValidateEffectiveDate(Effective(2026, 1, 0, v1::DATE_PRECISION_MONTH), "d"));
  EXPECT_OK(ValidateEffectiveDate(Effective(2026, 4, 0, v1::DATE_PRECISION_QUARTER), "d"));
  EXPECT_OK(ValidateEffectiveDate(Effective(2015, 0, 0, v1::DATE_PRECISION_YEAR), "d"));

  EXPECT_THAT(ValidateEffectiveDate(Effective(2026, 2, 29, v1::DATE_PRECISION_DAY), "x"),
              StatusIsWith(absl::StatusCode::kInvalidArgument, "x.date.day"));
  EXPECT_THAT(ValidateEffectiveDate(Effective(2100, 2, 29, v1::DATE_PRECISION_DAY), "x"),
              StatusIsWith(absl::StatusCode::kInvalidArgument, "x.date.day"));
  EXPECT_THAT(ValidateEffectiveDate(Effective(2026, 13, 0, v1::DATE_PRECISION_MONTH), "x"),
              StatusIsWith(absl::StatusCode::kInvalidArgument, "x.date.month"));
  EXPECT_THAT(ValidateEffectiveDate(Effective(2026, 1, 5, v1::DATE_PRECISION_MONTH), "x"),
              StatusIsWith(absl::StatusCode::kInvalidArgument, "x.date"));
  EXPECT_THAT(ValidateEffectiveDate(Effective(2026, 2, 0, v1::DATE_PRECISION_QUARTER), "x"),
              StatusIsWith(absl::StatusCode::kInvalidArgument, "QUARTER"));
  EXPECT_THAT(ValidateEffectiveDate(Effective(2026, 1, 0, v1::DATE_PRECISION_YEAR), "x"),
              StatusIsWith(absl::StatusCode::kInvalidArgument, "YEAR"));
  EXPECT_THAT(ValidateEffectiveDate(Effective(2026, 1, 0, v1::DATE_PRECISION_UNSPECIFIED), "x"),
              StatusIsWith(absl::StatusCode::kInvalidArgument, "x.precision"));
  EXPECT_THAT(ValidateEffectiveDate(Effective(0, 0, 0, v1::DATE_PRECISION_YEAR), "x"),
              StatusIsWith(absl::StatusCode::kInvalidArgument, "x.date.year"));
  EXPECT_THAT(ValidateDate(Date(2026, 0, 3), "p"),
              StatusIsWith(absl::StatusCode::kInvalidArgument, "p.day"));
  EXPECT_OK(ValidateDate(Date(0, 0, 0), "p"));  // unknown
}

TEST(ValidateTest, StreamNames) {
  EXPECT_OK(ValidateStreamName("deal/amazon-openai-2026", "stream"));
  EXPECT_THAT(ValidateStreamName("", "stream"),
              StatusIsWith(absl::StatusCode::kInvalidArgument, "stream"));
  EXPECT_THAT(ValidateStreamName("org/open ai", "stream"),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ValidateStreamName(std::string(201, 'a'), "stream"),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_OK(ValidateStreamName(std::string(200, 'a'), "stream"));
}

TEST(ValidateTest, EnvelopeNamesTheOffendingField) {
  EXPECT_OK(ValidateEnvelope(ValidEvent(), "events[0]"));
  struct Case {
    const char* field;
    std::function<void(v1::Event&)> spoil;
  };
  const std::vector<Case> cases = {
      {"events[0].event_id", [](v1::Event& e) { e.set_event_id("x"); }},
      {"events[0].position", [](v1::Event& e) { e.set_position(5); }},
      {"events[0].stream_version", [](v1::Event& e) { e.set_stream_version(1); }},
      {"events[0].recorded_time", [](v1::Event& e) { e.mutable_recorded_time()->set_seconds(1); }},
      {"events[0].recorded_by", [](v1::Event& e) { e.set_recorded_by("me"); }},
      {"events[0].effective", [](v1::Event& e) { e.clear_effective(); }},
      {"events[0].confidence", [](v1::Event& e) { e.set_confidence(v1::CONFIDENCE_UNSPECIFIED); }},
      {"events[0].sources[0].publisher",
       [](v1::Event& e) { e.mutable_sources(0)->clear_publisher(); }},
      {"events[0].sources[0].url", [](v1::Event& e) { e.mutable_sources(0)->set_url("ftp://x"); }},
      {"events[0].sources[0].published_date.month",
       [](v1::Event& e) { *e.mutable_sources(0)->mutable_published_date() = Date(2026, 14, 0); }},
      {"events[0].sources",
       [](v1::Event& e) {
         for (int i = 0; i < 20; ++i) *e.add_sources() = e.sources(0);
       }},
      {"events[0].payload", [](v1::Event& e) { e.clear_payload(); }},
  };
  for (const Case& c : cases) {
    v1::Event e = ValidEvent();
    c.spoil(e);
    EXPECT_THAT(ValidateEnvelope(e, "events[0]"),
                StatusIsWith(absl::StatusCode::kInvalidArgument, c.field))
        << c.field;
  }
}

// --- Payloads ----------------------------------------------------------------

using P = v1::EventPayload;

v1::Money Usd(int64_t units, int32_t nanos = 0, const char* code = "USD") {
  v1::Money m;
  m.set_currency_code(code);
  m.set_units(units);
  m.set_nanos(nanos);
  return m;
}

P OrgRegistered() {
  P p;
  auto* e = p.mutable_organization_registered();
  e->set_org_id("openai");
  e->set_name("OpenAI");
  e->set_kind(v1::ORGANIZATION_KIND_COMPANY);
  e->add_sectors("ai-foundation-models");
  e->add_aliases("Open AI");
  *e->mutable_founded() = Effective(2015, 0, 0, v1::DATE_PRECISION_YEAR);
  e->set_description("Makes ChatGPT.");
  e->set_website("https://openai.com");
  return p;
}

P OrgUpdated() {
  P p;
  p.mutable_organization_updated()->set_org_id("openai");
  p.mutable_organization_updated()->set_name("OpenAI Group");
  return p;
}

P Round() {
  P p;
  auto* e = p.mutable_funding_round_reported();
  e->set_round_id("openai-2026");
  e->set_company_id("openai");
  e->set_label("series_f");
  *e->mutable_target_amount() = Usd(100'000'000'000);
  *e->mutable_pre_money_valuation() = Usd(730'000'000'000);
  *e->mutable_post_money_valuation() = Usd(830'000'000'000);
  *e->mutable_expected_close() = Effective(2026, 1, 0, v1::DATE_PRECISION_QUARTER);
  e->add_lead_investor_ids("amazon");
  e->add_lead_investor_ids("softbank");
  e->set_stage(v1::DEAL_STAGE_IN_TALKS);
  return p;
}

P Investment() {
  P p;
  auto* e = p.mutable_investment_reported();
  e->set_investment_id("amazon-openai-2026");
  e->set_round_id("openai-2026");
  e->set_investor_id("amazon");
  e->set_company_id("openai");
  *e->mutable_amount() = Usd(50'000'000'000);
  e->set_instrument(v1::INSTRUMENT_EQUITY);
  e->set_stage(v1::DEAL_STAGE_IN_TALKS);
  e->set_amount_bound(v1::AMOUNT_BOUND_UP_TO);
  return p;
}

P StageChanged() {
  P p;
  p.mutable_deal_stage_changed()->set_deal_id("amazon-openai-2026");
  p.mutable_deal_stage_changed()->set_new_stage(v1::DEAL_STAGE_AGREED);
  *p.mutable_deal_stage_changed()->mutable_amount() = Usd(40'000'000'000, 500'000'000);
  return p;
}

P Valuation() {
  P p;
  p.mutable_valuation_reported()->set_company_id("openai");
  *p.mutable_valuation_reported()->mutable_valuation() = Usd(830'000'000'000);
  p.mutable_valuation_reported()->set_basis(v1::VALUATION_BASIS_ESTIMATE);
  return p;
}

P Stake() {
  P p;
  p.mutable_stake_disclosed()->set_holder_id("microsoft");
  p.mutable_stake_disclosed()->set_company_id("openai");
  p.mutable_stake_disclosed()->mutable_ownership()->mutable_exact()->set_parts_per_million(270'000);
  return p;
}

P Acquisition() {
  P p;
  auto* e = p.mutable_acquisition_reported();
  e->set_acquisition_id("google-wiz");
  e->set_acquirer_id("google");
  e->set_target_id("wiz");
  *e->mutable_price() = Usd(32'000'000'000);
  e->set_stage(v1::DEAL_STAGE_AGREED);
  return p;
}

P Partnership() {
  P p;
  auto* e = p.mutable_partnership_formed();
  e->set_partnership_id("aws-anthropic");
  auto party = [e](const char* org, v1::PartnershipRole role) {
    auto* x = e->add_parties();
    x->set_org_id(org);
    x->set_role(role);
  };
  party("aws", v1::PARTNERSHIP_ROLE_CLOUD_PROVIDER);
  party("aws", v1::PARTNERSHIP_ROLE_TRAINING_PROVIDER);
  party("anthropic", v1::PARTNERSHIP_ROLE_CUSTOMER);
  *e->mutable_value() = Usd(8'000'000'000);
  return p;
}

P PartnershipEnded() {
  P p;
  p.mutable_partnership_ended()->set_partnership_id("aws-anthropic");
  return p;
}

P Facility() {
  P p;
  auto* e = p.mutable_facility_announced();
  e->set_facility_id("aws-indiana-campus");
  e->set_owner_id("aws");
  e->set_beneficiary_id("anthropic");
  e->set_location("New Carlisle, Indiana, US");
  *e->mutable_amount() = Usd(11'000'000'000);
  return p;
}

P Fx() {
  P p;
  p.mutable_fx_rate_reported()->set_base_currency("EUR");
  p.mutable_fx_rate_reported()->set_quote_currency("USD");
  *p.mutable_fx_rate_reported()->mutable_rate() = Usd(1, 84'200'000);
  return p;
}

P Retracted() {
  P p;
  p.mutable_event_retracted()->set_event_id("0b6f2c1e-7d4a-4e8b-9a51-3c2d1f0e9b7a");
  p.mutable_event_retracted()->set_reason("denied by both parties");
  return p;
}

P Corrected() {
  P p;
  p.mutable_event_corrected()->set_event_id("0b6f2c1e-7d4a-4e8b-9a51-3c2d1f0e9b7a");
  *p.mutable_event_corrected()->mutable_replacement() = Investment();
  return p;
}

TEST(ValidateTest, DomainIds) {
  EXPECT_TRUE(IsDomainId("openai"));
  EXPECT_TRUE(IsDomainId("a"));
  EXPECT_TRUE(IsDomainId("amazon-openai-2026"));
  EXPECT_TRUE(IsDomainId(std::string(100, 'a')));
  EXPECT_FALSE(IsDomainId(std::string(101, 'a')));
  EXPECT_FALSE(IsDomainId(""));
  EXPECT_FALSE(IsDomainId("-openai"));
  EXPECT_FALSE(IsDomainId("openai-"));
  EXPECT_FALSE(IsDomainId("-"));
  EXPECT_FALSE(IsDomainId("OpenAI"));
  EXPECT_FALSE(IsDomainId("open_ai"));
}

TEST(ValidateTest, CurrencyCodes) {
  for (const char* code : {"USD", "EUR", "JPY", "GBP", "CNY", "CHF", "AED", "ZWG", "XCG", "VES"}) {
    EXPECT_TRUE(common::IsIso4217(code)) << code;
  }
  for (const char* code : {"XXX", "XTS", "usd", "US", "USDT", "", "HRK", "VEF", "BTC"}) {
    EXPECT_FALSE(common::IsIso4217(code)) << code;
  }
}

TEST(ValidateTest, Money) {
  EXPECT_OK(ValidateMoney(Usd(0), "m"));
  EXPECT_OK(ValidateMoney(Usd(0, 750'000'000), "m"));
  EXPECT_OK(ValidateMoney(Usd(kMaxMoneyUnits), "m"));
  EXPECT_THAT(
      ValidateMoney(Usd(kMaxMoneyUnits, 1), "m"),
      StatusIsWith(absl::StatusCode::kInvalidArgument,
                   "m.units: 1000000000000000 exceeds the limit of 1000000000000000 units"));
  EXPECT_THAT(ValidateMoney(Usd(INT64_MAX), "m"),
              StatusIsWith(absl::StatusCode::kInvalidArgument, "m.units"));
  EXPECT_THAT(ValidateMoney(Usd(0, -1), "m"),
              StatusIsWith(absl::StatusCode::kInvalidArgument, "m: must be non-negative"));
  EXPECT_THAT(ValidateMoney(Usd(-1), "m"),
              StatusIsWith(absl::StatusCode::kInvalidArgument, "m: must be non-negative"));
  EXPECT_THAT(ValidateMoney(Usd(1, -1), "m"),
              StatusIsWith(absl::StatusCode::kInvalidArgument, "m.nanos"));
  EXPECT_THAT(ValidateMoney(Usd(0, 1'000'000'000), "m"),
              StatusIsWith(absl::StatusCode::kInvalidArgument, "m.nanos"));
  EXPECT_THAT(ValidateMoney(Usd(1, 0, "XXX"), "m"),
              StatusIsWith(absl::StatusCode::kInvalidArgument,
                           "m.currency_code: 'XXX' is not an ISO 4217 currency code"));
  EXPECT_THAT(ValidateMoney(Usd(1, 0, ""), "m"),
              StatusIsWith(absl::StatusCode::kInvalidArgument, "m.currency_code: is required"));
}

TEST(ValidateTest, ValidPayloadsPass) {
  for (const P& p : {OrgRegistered(), OrgUpdated(), Round(), Investment(), StageChanged(),
                     Valuation(), Stake(), Acquisition(), Partnership(), PartnershipEnded(),
                     Facility(), Fx(), Retracted(), Corrected()}) {
    EXPECT_OK(ValidatePayload(p, "events[0].payload")) << p.DebugString();
  }
  // Optional parts may be absent or empty.
  P minimal;
  minimal.mutable_organization_registered()->set_org_id("x");
  minimal.mutable_organization_registered()->set_name("X");
  minimal.mutable_organization_registered()->set_kind(v1::ORGANIZATION_KIND_FUND);
  EXPECT_OK(ValidatePayload(minimal, "p"));
  P stake = Stake();
  stake.mutable_stake_disclosed()->mutable_ownership()->clear_exact();
  stake.mutable_stake_disclosed()->mutable_ownership()->set_qualifier("substantial");
  EXPECT_OK(ValidatePayload(stake, "p"));
  P range = Stake();
  range.mutable_stake_disclosed()->mutable_ownership()->mutable_range()->set_min_parts_per_million(
      200'000);
  range.mutable_stake_disclosed()->mutable_ownership()->mutable_range()->set_max_parts_per_million(
      200'000);
  EXPECT_OK(ValidatePayload(range, "p"));
  P update = OrgUpdated();
  update.mutable_organization_updated()->set_parent_org_id("");      // removes the parent
  update.mutable_organization_updated()->set_replace_sectors(true);  // clears sectors
  EXPECT_OK(ValidatePayload(update, "p"));
}

// One case per rule: the payload built by `make`, spoiled by `spoil`, is
// INVALID_ARGUMENT with `text` (the field path, sometimes with the reason) in
// its message.
struct PayloadCase {
  std::function<P()> make;
  std::function<void(P&)> spoil;
  std::string text;
};

TEST(ValidateTest, PayloadRulesNameTheField) {
  const std::string k200(201, 'x'), k4000(4001, 'x');
  const std::string org = "events[0].payload.organization_registered.";
  const std::string upd = "events[0].payload.organization_updated.";
  const std::string rnd = "events[0].payload.funding_round_reported.";
  const std::string inv = "events[0].payload.investment_reported.";
  const std::string stg = "events[0].payload.deal_stage_changed.";
  const std::string val = "events[0].payload.valuation_reported.";
  const std::string stk = "events[0].payload.stake_disclosed.";
  const std::string acq = "events[0].payload.acquisition_reported.";
  const std::string prt = "events[0].payload.partnership_formed.";
  const std::string end = "events[0].payload.partnership_ended.";
  const std::string fac = "events[0].payload.facility_announced.";
  const std::string fx = "events[0].payload.fx_rate_reported.";
  const std::string ret = "events[0].payload.event_retracted.";
  const std::string cor = "events[0].payload.event_corrected.";
  auto O = [](P& p) { return p.mutable_organization_registered(); };
  auto U = [](P& p) { return p.mutable_organization_updated(); };
  auto R = [](P& p) { return p.mutable_funding_round_reported(); };
  auto I = [](P& p) { return p.mutable_investment_reported(); };
  auto S = [](P& p) { return p.mutable_stake_disclosed(); };
  auto F = [](P& p) { return p.mutable_partnership_formed(); };
  auto A = [](P& p) { return p.mutable_facility_announced(); };
  auto X = [](P& p) { return p.mutable_fx_rate_reported(); };
  const std::vector<PayloadCase> cases = {
      // OrganizationRegistered
      {OrgRegistered, [&](P& p) { O(p)->clear_org_id(); }, org + "org_id: is required"},
      {OrgRegistered, [&](P& p) { O(p)->set_org_id("OpenAI"); }, org + "org_id: 'OpenAI'"},
      {OrgRegistered, [&](P& p) { O(p)->set_org_id("-openai"); }, org + "org_id"},
      {OrgRegistered, [&](P& p) { O(p)->set_org_id("openai-"); }, org + "org_id"},
      {OrgRegistered, [&](P& p) { O(p)->set_org_id(std::string(101, 'a')); }, org + "org_id"},
      {OrgRegistered, [&](P& p) { O(p)->clear_name(); }, org + "name: is required"},
      {OrgRegistered, [&](P& p) { O(p)->set_name(k200); }, org + "name: 201 bytes"},
      {OrgRegistered, [&](P& p) { O(p)->set_kind(v1::ORGANIZATION_KIND_UNSPECIFIED); },
       org + "kind"},
      {OrgRegistered, [&](P& p) { O(p)->set_kind(static_cast<v1::OrganizationKind>(77)); },
       org + "kind"},
      {OrgRegistered, [&](P& p) { O(p)->set_parent_org_id("openai"); },
       org + "parent_org_id: 'openai' must differ from org_id"},
      {OrgRegistered, [&](P& p) { O(p)->set_parent_org_id("Microsoft"); }, org + "parent_org_id"},
      {OrgRegistered, [&](P& p) { O(p)->add_sectors("AI"); }, org + "sectors[1]"},
      {OrgRegistered, [&](P& p) { O(p)->add_sectors("ai--models"); }, org + "sectors[1]"},
      {OrgRegistered, [&](P& p) { O(p)->add_sectors("ai-"); }, org + "sectors[1]"},
      {OrgRegistered, [&](P& p) { O(p)->add_sectors(std::string(65, 'a')); }, org + "sectors[1]"},
      {OrgRegistered, [&](P& p) { O(p)->add_sectors("ai-foundation-models"); },
       org + "sectors[1]: 'ai-foundation-models' is a duplicate"},
      {OrgRegistered,
       [&](P& p) {
         for (int i = 0; i < 20; ++i) O(p)->add_sectors("s" + std::to_string(i));
       },
       org + "sectors: 21 entries exceed the limit of 20"},
      {OrgRegistered, [&](P& p) { O(p)->add_aliases(""); }, org + "aliases[1]: is required"},
      {OrgRegistered, [&](P& p) { O(p)->add_aliases(k200); }, org + "aliases[1]"},
      {OrgRegistered, [&](P& p) { O(p)->add_aliases("Open AI"); }, org + "aliases[1]"},
      {OrgRegistered,
       [&](P& p) {
         for (int i = 0; i < 50; ++i) O(p)->add_aliases("a" + std::to_string(i));
       },
       org + "aliases: 51 entries exceed the limit of 50"},
      {OrgRegistered, [&](P& p) { O(p)->mutable_founded()->mutable_date()->set_month(13); },
       org + "founded.date.month"},
      {OrgRegistered, [&](P& p) { O(p)->set_description(k4000); }, org + "description"},
      {OrgRegistered, [&](P& p) { O(p)->set_website("ftp://openai.com"); }, org + "website"},
      {OrgRegistered, [&](P& p) { O(p)->set_website("openai.com"); }, org + "website"},
      {OrgRegistered, [&](P& p) { O(p)->set_website("https://"); }, org + "website"},
      {OrgRegistered, [&](P& p) { O(p)->set_website("https://open ai.com"); }, org + "website"},
      {OrgRegistered, [&](P& p) { O(p)->set_website("https://x.com/" + std::string(2040, 'a')); },
       org + "website: 2054 bytes exceed the limit of 2048"},
      // OrganizationUpdated
      {OrgUpdated, [&](P& p) { U(p)->clear_name(); },
       "events[0].payload.organization_updated: changes nothing"},
      {OrgUpdated, [&](P& p) { U(p)->set_org_id(""); }, upd + "org_id: is required"},
      {OrgUpdated, [&](P& p) { U(p)->set_name(""); }, upd + "name"},
      {OrgUpdated, [&](P& p) { U(p)->set_kind(v1::ORGANIZATION_KIND_UNSPECIFIED); }, upd + "kind"},
      {OrgUpdated, [&](P& p) { U(p)->set_parent_org_id("openai"); }, upd + "parent_org_id"},
      {OrgUpdated, [&](P& p) { U(p)->set_parent_org_id("Microsoft"); }, upd + "parent_org_id"},
      {OrgUpdated, [&](P& p) { U(p)->add_sectors("cloud"); },
       upd + "sectors: must be empty unless replace_sectors is true"},
      {OrgUpdated,
       [&](P& p) {
         U(p)->set_replace_sectors(true);
         U(p)->add_sectors("cloud");
         U(p)->add_sectors("cloud");
       },
       upd + "sectors[1]"},
      {OrgUpdated,
       [&](P& p) {
         U(p)->add_add_aliases("ChatGPT maker");
         U(p)->add_remove_aliases("ChatGPT maker");
       },
       upd + "remove_aliases: 'ChatGPT maker' is also in add_aliases"},
      {OrgUpdated, [&](P& p) { U(p)->add_add_aliases(""); }, upd + "add_aliases[0]"},
      {OrgUpdated, [&](P& p) { U(p)->add_remove_aliases(k200); }, upd + "remove_aliases[0]"},
      {OrgUpdated, [&](P& p) { U(p)->set_description(k4000); }, upd + "description"},
      {OrgUpdated, [&](P& p) { U(p)->set_website("mailto:x@y.z"); }, upd + "website"},
      {OrgUpdated,
       [&](P& p) { *U(p)->mutable_founded() = Effective(2015, 2, 0, v1::DATE_PRECISION_YEAR); },
       upd + "founded.date"},
      // FundingRoundReported
      {Round, [&](P& p) { R(p)->clear_round_id(); }, rnd + "round_id: is required"},
      {Round, [&](P& p) { R(p)->set_company_id("Open AI"); }, rnd + "company_id"},
      {Round, [&](P& p) { R(p)->clear_label(); }, rnd + "label: is required"},
      {Round, [&](P& p) { R(p)->set_label("Series A"); }, rnd + "label"},
      {Round, [&](P& p) { R(p)->set_label("series__a"); }, rnd + "label"},
      {Round, [&](P& p) { R(p)->set_label("_seed"); }, rnd + "label"},
      {Round, [&](P& p) { R(p)->set_label("2nd"); }, rnd + "label"},
      {Round, [&](P& p) { R(p)->set_label(std::string(65, 'a')); }, rnd + "label"},
      {Round, [&](P& p) { R(p)->mutable_target_amount()->set_currency_code("XXX"); },
       rnd + "target_amount.currency_code: 'XXX' is not an ISO 4217 currency code"},
      {Round, [&](P& p) { R(p)->mutable_pre_money_valuation()->set_units(-1); },
       rnd + "pre_money_valuation: must be non-negative"},
      {Round, [&](P& p) { R(p)->mutable_post_money_valuation()->set_currency_code("EUR"); },
       rnd + "post_money_valuation.currency_code: 'EUR' differs from pre_money_valuation's 'USD'"},
      {Round, [&](P& p) { R(p)->mutable_post_money_valuation()->set_units(700'000'000'000); },
       rnd + "post_money_valuation: is less than pre_money_valuation"},
      {Round, [&](P& p) { R(p)->mutable_expected_close()->mutable_date()->set_month(2); },
       rnd + "expected_close.date"},
      {Round, [&](P& p) { R(p)->add_lead_investor_ids("amazon"); },
       rnd + "lead_investor_ids[2]: 'amazon' is a duplicate"},
      {Round, [&](P& p) { R(p)->add_lead_investor_ids("Nvidia"); }, rnd + "lead_investor_ids[2]"},
      {Round, [&](P& p) { R(p)->add_lead_investor_ids(""); }, rnd + "lead_investor_ids[2]"},
      {Round,
       [&](P& p) {
         for (int i = 0; i < 49; ++i) R(p)->add_lead_investor_ids("i" + std::to_string(i));
       },
       rnd + "lead_investor_ids: 51 entries exceed the limit of 50"},
      {Round, [&](P& p) { R(p)->set_stage(v1::DEAL_STAGE_UNSPECIFIED); }, rnd + "stage"},
      {Round, [&](P& p) { R(p)->set_target_amount_bound(static_cast<v1::AmountBound>(9)); },
       rnd + "target_amount_bound"},
      // InvestmentReported
      {Investment, [&](P& p) { I(p)->clear_investment_id(); }, inv + "investment_id: is required"},
      {Investment, [&](P& p) { I(p)->set_round_id("Round"); }, inv + "round_id"},
      {Investment, [&](P& p) { I(p)->set_round_id("amazon-openai-2026"); },
       inv + "round_id: 'amazon-openai-2026' must differ from investment_id"},
      {Investment, [&](P& p) { I(p)->clear_investor_id(); }, inv + "investor_id: is required"},
      {Investment, [&](P& p) { I(p)->clear_company_id(); }, inv + "company_id: is required"},
      {Investment, [&](P& p) { I(p)->set_investor_id("openai"); },
       inv + "investor_id: 'openai' must differ from company_id"},
      {Investment, [&](P& p) { I(p)->mutable_amount()->set_currency_code("usd"); },
       inv + "amount.currency_code: 'usd' is not an ISO 4217 currency code"},
      {Investment, [&](P& p) { I(p)->mutable_amount()->clear_currency_code(); },
       inv + "amount.currency_code: is required"},
      {Investment, [&](P& p) { I(p)->mutable_amount()->set_units(-5); },
       inv + "amount: must be non-negative"},
      {Investment, [&](P& p) { I(p)->mutable_amount()->set_nanos(-5); }, inv + "amount.nanos"},
      {Investment, [&](P& p) { I(p)->mutable_amount()->set_nanos(1'000'000'000); },
       inv + "amount.nanos"},
      {Investment, [&](P& p) { I(p)->mutable_amount()->set_units(kMaxMoneyUnits + 1); },
       inv + "amount.units: 1000000000000001 exceeds the limit of 1000000000000000 units"},
      {Investment, [&](P& p) { I(p)->set_instrument(v1::INSTRUMENT_UNSPECIFIED); },
       inv + "instrument"},
      {Investment, [&](P& p) { I(p)->set_stage(v1::DEAL_STAGE_UNSPECIFIED); }, inv + "stage"},
      {Investment,
       [&](P& p) {
         *I(p)->mutable_expected_close() = Effective(2026, 1, 0, v1::DATE_PRECISION_UNSPECIFIED);
       },
       inv + "expected_close.precision"},
      {Investment, [&](P& p) { I(p)->set_amount_bound(static_cast<v1::AmountBound>(99)); },
       inv + "amount_bound"},
      // DealStageChanged
      {StageChanged, [&](P& p) { p.mutable_deal_stage_changed()->clear_deal_id(); },
       stg + "deal_id: is required"},
      {StageChanged,
       [&](P& p) { p.mutable_deal_stage_changed()->set_new_stage(v1::DEAL_STAGE_UNSPECIFIED); },
       stg + "new_stage"},
      {StageChanged, [&](P& p) { p.mutable_deal_stage_changed()->mutable_amount()->set_nanos(-1); },
       stg + "amount.nanos"},
      {StageChanged, [&](P& p) { p.mutable_deal_stage_changed()->set_reason(k4000); },
       stg + "reason: 4001 bytes exceed the limit of 4000"},
      {StageChanged,
       [&](P& p) {
         *p.mutable_deal_stage_changed()->mutable_expected_close() =
             Effective(2026, 2, 30, v1::DATE_PRECISION_DAY);
       },
       stg + "expected_close.date.day"},
      // ValuationReported
      {Valuation, [&](P& p) { p.mutable_valuation_reported()->clear_valuation(); },
       val + "valuation: is required"},
      {Valuation, [&](P& p) { p.mutable_valuation_reported()->clear_company_id(); },
       val + "company_id"},
      {Valuation,
       [&](P& p) { p.mutable_valuation_reported()->set_basis(v1::VALUATION_BASIS_UNSPECIFIED); },
       val + "basis"},
      {Valuation, [&](P& p) { p.mutable_valuation_reported()->set_round_id("r_1"); },
       val + "round_id"},
      // StakeDisclosed
      {Stake, [&](P& p) { S(p)->set_holder_id("openai"); },
       stk + "holder_id: 'openai' must differ from company_id"},
      {Stake, [&](P& p) { S(p)->clear_ownership(); }, stk + "ownership: is required"},
      {Stake, [&](P& p) { S(p)->mutable_ownership()->clear_exact(); },
       stk + "ownership: needs a value (exact or range) or a qualifier"},
      {Stake,
       [&](P& p) { S(p)->mutable_ownership()->mutable_exact()->set_parts_per_million(1'000'001); },
       stk + "ownership.exact.parts_per_million"},
      {Stake,
       [&](P& p) { S(p)->mutable_ownership()->mutable_range()->set_min_parts_per_million(-1); },
       stk + "ownership.range.min_parts_per_million"},
      {Stake,
       [&](P& p) {
         S(p)->mutable_ownership()->mutable_range()->set_min_parts_per_million(300'000);
         S(p)->mutable_ownership()->mutable_range()->set_max_parts_per_million(200'000);
       },
       stk + "ownership.range: min_parts_per_million exceeds max_parts_per_million"},
      {Stake, [&](P& p) { S(p)->mutable_ownership()->set_qualifier(k200); },
       stk + "ownership.qualifier"},
      // AcquisitionReported
      {Acquisition, [&](P& p) { p.mutable_acquisition_reported()->set_target_id("google"); },
       acq + "target_id: 'google' must differ from acquirer_id"},
      {Acquisition, [&](P& p) { p.mutable_acquisition_reported()->clear_acquisition_id(); },
       acq + "acquisition_id"},
      {Acquisition, [&](P& p) { p.mutable_acquisition_reported()->mutable_price()->set_units(-1); },
       acq + "price: must be non-negative"},
      {Acquisition,
       [&](P& p) { p.mutable_acquisition_reported()->set_stage(v1::DEAL_STAGE_UNSPECIFIED); },
       acq + "stage"},
      // PartnershipFormed
      {Partnership, [&](P& p) { F(p)->clear_partnership_id(); }, prt + "partnership_id"},
      {Partnership, [&](P& p) { F(p)->mutable_parties()->DeleteSubrange(1, 2); },
       prt + "parties: has 1 entries; a partnership has 2..20"},
      {Partnership,
       [&](P& p) {
         for (int i = 0; i < 18; ++i) {
           auto* x = F(p)->add_parties();
           x->set_org_id("o" + std::to_string(i));
           x->set_role(v1::PARTNERSHIP_ROLE_CUSTOMER);
         }
       },
       prt + "parties: has 21 entries"},
      {Partnership, [&](P& p) { F(p)->mutable_parties()->DeleteSubrange(2, 1); },
       prt + "parties: must name at least two distinct organizations"},
      {Partnership,
       [&](P& p) { F(p)->mutable_parties(1)->set_role(v1::PARTNERSHIP_ROLE_CLOUD_PROVIDER); },
       prt + "parties[1]: repeats the org_id 'aws' with role PARTNERSHIP_ROLE_CLOUD_PROVIDER"},
      {Partnership,
       [&](P& p) { F(p)->mutable_parties(2)->set_role(v1::PARTNERSHIP_ROLE_UNSPECIFIED); },
       prt + "parties[2].role"},
      {Partnership, [&](P& p) { F(p)->mutable_parties(0)->set_org_id("AWS"); },
       prt + "parties[0].org_id"},
      {Partnership, [&](P& p) { F(p)->mutable_value()->set_currency_code("ZZZ"); },
       prt + "value.currency_code"},
      {Partnership, [&](P& p) { F(p)->set_description(k4000); }, prt + "description"},
      // PartnershipEnded
      {PartnershipEnded, [&](P& p) { p.mutable_partnership_ended()->clear_partnership_id(); },
       end + "partnership_id: is required"},
      {PartnershipEnded, [&](P& p) { p.mutable_partnership_ended()->set_reason(k4000); },
       end + "reason"},
      // FacilityAnnounced
      {Facility, [&](P& p) { A(p)->clear_facility_id(); }, fac + "facility_id: is required"},
      {Facility, [&](P& p) { A(p)->clear_owner_id(); }, fac + "owner_id: is required"},
      {Facility, [&](P& p) { A(p)->set_beneficiary_id("Anthropic"); }, fac + "beneficiary_id"},
      {Facility, [&](P& p) { A(p)->clear_location(); }, fac + "location: is required"},
      {Facility, [&](P& p) { A(p)->set_location(k200); }, fac + "location"},
      {Facility, [&](P& p) { A(p)->mutable_amount()->set_units(-1); }, fac + "amount"},
      {Facility, [&](P& p) { A(p)->set_purpose(k4000); }, fac + "purpose"},
      {Facility,
       [&](P& p) {
         *A(p)->mutable_expected_completion() = Effective(2027, 0, 0, v1::DATE_PRECISION_MONTH);
       },
       fac + "expected_completion.date"},
      // FxRateReported
      {Fx, [&](P& p) { X(p)->set_base_currency("XXX"); },
       fx + "base_currency: 'XXX' is not an ISO 4217 currency code"},
      {Fx, [&](P& p) { X(p)->clear_quote_currency(); }, fx + "quote_currency: is required"},
      {Fx, [&](P& p) { X(p)->set_base_currency("USD"); },
       fx + "quote_currency: must differ from base_currency"},
      {Fx, [&](P& p) { X(p)->clear_rate(); }, fx + "rate: is required"},
      {Fx, [&](P& p) { *X(p)->mutable_rate() = Usd(0); }, fx + "rate: must be strictly positive"},
      {Fx, [&](P& p) { *X(p)->mutable_rate() = Usd(-1); }, fx + "rate: must be non-negative"},
      {Fx, [&](P& p) { X(p)->mutable_rate()->set_currency_code("EUR"); },
       fx + "rate.currency_code: 'EUR' must equal quote_currency 'USD'"},
      // EventRetracted
      {Retracted, [&](P& p) { p.mutable_event_retracted()->set_event_id("amazon"); },
       ret + "event_id: 'amazon' is not an event id"},
      {Retracted, [&](P& p) { p.mutable_event_retracted()->clear_event_id(); }, ret + "event_id"},
      {Retracted, [&](P& p) { p.mutable_event_retracted()->set_reason(k4000); }, ret + "reason"},
      // EventCorrected
      {Corrected, [&](P& p) { p.mutable_event_corrected()->clear_replacement(); },
       cor + "replacement: is required"},
      {Corrected, [&](P& p) { *p.mutable_event_corrected()->mutable_replacement() = Retracted(); },
       cor + "replacement: may not be an EventRetracted or EventCorrected"},
      {Corrected, [&](P& p) { *p.mutable_event_corrected()->mutable_replacement() = Corrected(); },
       cor + "replacement: may not be an EventRetracted or EventCorrected"},
      {Corrected, [&](P& p) { p.mutable_event_corrected()->set_event_id("x"); }, cor + "event_id"},
      {Corrected, [&](P& p) { p.mutable_event_corrected()->set_reason(k4000); }, cor + "reason"},
      {Corrected,
       [&](P& p) {
         auto* replacement = p.mutable_event_corrected()->mutable_replacement();
         replacement->mutable_investment_reported()->set_investor_id("openai");
       },
       cor + "replacement.investment_reported.investor_id"},
  };
  for (const PayloadCase& c : cases) {
    v1::Event e = ValidEvent();
    *e.mutable_payload() = c.make();
    ASSERT_OK(ValidateEnvelope(e, "events[0]")) << c.text;
    c.spoil(*e.mutable_payload());
    EXPECT_THAT(ValidateEnvelope(e, "events[0]"),
                StatusIsWith(absl::StatusCode::kInvalidArgument, c.text))
        << e.payload().DebugString();
  }
}

}  // namespace
}  // namespace dealwire::domain
