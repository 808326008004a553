// Integration tests of dealwire.v1.MarketIntel and dealwire.v1.Admin against
// the real dealwired binary: the seed story (demo/seed_story.jsonl) answered
// through every query, bitemporal queries (known_at vs effective_on, a late
// report), retractions, confidence filters, read-your-writes, domain
// validation on the write path, projections surviving a restart without
// replay, point-in-time answers equal to a fresh fold, and a rebuild whose
// digest equals the live state's on a synthetic data set.

#include <algorithm>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "bench/synthetic_events.h"
#include "dealwire/v1/admin.grpc.pb.h"
#include "dealwire/v1/market_intel.grpc.pb.h"
#include "gmock/gmock.h"
#include "google/protobuf/repeated_ptr_field.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "common/event_jsonl.h"
#include "tests/integration/test_util.h"

namespace dealwire::integration {
namespace {

using ::google::protobuf::util::MessageDifferencer;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

constexpr int64_t kBillion = 1000000000;
const std::string kSeedPath = std::string(DEALWIRE_SOURCE_DIR) + "/demo/seed_story.jsonl";

// --- Event builders ----------------------------------------------------------

v1::Event At(v1::Event e, int year, int month, int day,
             v1::Confidence confidence = v1::CONFIDENCE_REPORTED) {
  v1::EffectiveDate* d = e.mutable_effective();
  d->mutable_date()->set_year(year);
  d->mutable_date()->set_month(month);
  d->mutable_date()->set_day(day);
  d->set_precision(day != 0     ? v1::DATE_PRECISION_DAY
                   : month != 0 ? v1::DATE_PRECISION_MONTH
                                : v1::DATE_PRECISION_YEAR);
  e.set_confidence(confidence);
  return e;
}

v1::Money Usd(int64_t units) {
  v1::Money m;
  m.set_currency_code("USD");
  m.set_units(units);
  return m;
}

v1::Event Company(absl::string_view id, absl::string_view sector) {
  // Registered (effective) long before the deals below, so that effective_on
  // queries of those years see the company.
  v1::Event e = At(OrgRegistered(id), 2010, 0, 0, v1::CONFIDENCE_OFFICIAL);
  e.set_stream(OrgStream(id));
  e.mutable_payload()->mutable_organization_registered()->add_sectors(std::string(sector));
  return e;
}

v1::Event Investor(absl::string_view id) {
  v1::Event e = At(OrgRegistered(id), 2010, 0, 0, v1::CONFIDENCE_OFFICIAL);
  e.set_stream(OrgStream(id));
  e.mutable_payload()->mutable_organization_registered()->set_kind(
      v1::ORGANIZATION_KIND_INVESTOR);
  return e;
}

v1::Event Stake(absl::string_view holder, absl::string_view company, int64_t ppm) {
  v1::EventPayload p;
  v1::StakeDisclosed* s = p.mutable_stake_disclosed();
  s->set_holder_id(std::string(holder));
  s->set_company_id(std::string(company));
  s->mutable_ownership()->mutable_exact()->set_parts_per_million(ppm);
  return NewEvent(std::move(p));
}

v1::Event Round(absl::string_view id, absl::string_view company, int64_t amount,
                int64_t post_money, v1::DealStage stage) {
  v1::EventPayload p;
  v1::FundingRoundReported* r = p.mutable_funding_round_reported();
  r->set_round_id(std::string(id));
  r->set_company_id(std::string(company));
  r->set_label("series_a");
  *r->mutable_target_amount() = Usd(amount);
  *r->mutable_post_money_valuation() = Usd(post_money);
  r->set_stage(stage);
  return NewEvent(std::move(p));
}

v1::Event Investment(absl::string_view id, absl::string_view round, absl::string_view investor,
                     absl::string_view company, int64_t amount, v1::DealStage stage) {
  v1::EventPayload p;
  v1::InvestmentReported* i = p.mutable_investment_reported();
  i->set_investment_id(std::string(id));
  i->set_round_id(std::string(round));
  i->set_investor_id(std::string(investor));
  i->set_company_id(std::string(company));
  *i->mutable_amount() = Usd(amount);
  i->set_instrument(v1::INSTRUMENT_EQUITY);
  i->set_stage(stage);
  return NewEvent(std::move(p));
}

v1::Event Retraction(absl::string_view event_id) {
  v1::EventPayload p;
  p.mutable_event_retracted()->set_event_id(std::string(event_id));
  p.mutable_event_retracted()->set_reason("report denied by both parties");
  return NewEvent(std::move(p));
}

// --- Fixture -----------------------------------------------------------------

class MarketIntelTest : public ServerTest {
 protected:
  void SetUp() override {
    ServerTest::SetUp();
    Connect();
  }

  void Connect() {
    intel_ = v1::MarketIntel::NewStub(server().Channel());
    admin_ = v1::Admin::NewStub(server().Channel());
  }

  // Appends `events` one per append, in order, to their own streams; returns
  // the last position.
  uint64_t AppendAll(const std::vector<v1::Event>& events) {
    uint64_t last = 0;
    for (const v1::Event& e : events) {
      absl::StatusOr<v1::AppendResponse> r = Append(stub(), e.stream(), {e});
      EXPECT_TRUE(r.ok()) << r.status() << " appending " << e.ShortDebugString();
      if (!r.ok()) return last;
      last = r->last_position();
    }
    return last;
  }

  uint64_t AppendTo(absl::string_view stream, v1::Event e) {
    e.set_stream(std::string(stream));
    return AppendAll({e});
  }

  uint64_t LoadSeed() {
    absl::StatusOr<std::vector<v1::Event>> events = common::ReadEventsJsonlFile(kSeedPath);
    EXPECT_TRUE(events.ok()) << events.status();
    return events.ok() ? AppendAll(*events) : 0;
  }

  template <typename Request, typename Response>
  absl::StatusOr<Response> Call(
      grpc::Status (v1::MarketIntel::Stub::*method)(grpc::ClientContext*, const Request&,
                                                    Response*),
      Request request) {
    grpc::ClientContext ctx;
    SetTimeout(&ctx, kCallTimeout);
    Response response;
    grpc::Status s = ((*intel_).*method)(&ctx, request, &response);
    if (!s.ok()) return ToAbsl(s);
    return response;
  }

  absl::StatusOr<v1::CapTable> CapTable(absl::string_view company, uint64_t min_position,
                                        bool pending = false, v1::AsOf as_of = v1::AsOf()) {
    v1::GetCapTableRequest r;
    r.set_company_id(std::string(company));
    r.set_include_pending(pending);
    r.set_min_position(min_position);
    *r.mutable_as_of() = std::move(as_of);
    absl::StatusOr<v1::GetCapTableResponse> out = Call(&v1::MarketIntel::Stub::GetCapTable, r);
    if (!out.ok()) return out.status();
    return out->cap_table();
  }

  absl::StatusOr<v1::GetStatsResponse> Stats(bool digest = false) {
    grpc::ClientContext ctx;
    SetTimeout(&ctx, kCallTimeout);
    v1::GetStatsRequest r;
    r.set_include_digest(digest);
    v1::GetStatsResponse out;
    grpc::Status s = admin_->GetStats(&ctx, r, &out);
    if (!s.ok()) return ToAbsl(s);
    return out;
  }

  std::unique_ptr<v1::MarketIntel::Stub> intel_;
  std::unique_ptr<v1::Admin::Stub> admin_;
};

// Returns the element of `items` whose id (read by getter `id`, such as
// &v1::Holding::org_id) is `want`, or nullptr.
template <typename T>
const T* FindBy(const google::protobuf::RepeatedPtrField<T>& items,
                const std::string& (T::*id)() const, absl::string_view want) {
  for (const T& item : items) {
    if ((item.*id)() == want) return &item;
  }
  return nullptr;
}

// Returns the holder line of `org` in `table`, or nullptr.
const v1::Holding* Line(const v1::CapTable& table, absl::string_view org) {
  return FindBy(table.holders(), &v1::Holding::org_id, org);
}

// The estimated ownership of `org` in ppm, or -1 when unknown or absent.
int64_t Ppm(const v1::CapTable& table, absl::string_view org) {
  const v1::Holding* h = Line(table, org);
  if (h == nullptr || !h->ownership().known()) return -1;
  return h->ownership().fraction().parts_per_million();
}

v1::AsOf KnownAt(uint64_t position) {
  v1::AsOf a;
  a.set_known_at_position(position);
  return a;
}

v1::AsOf EffectiveOn(int y, int m, int d) {
  v1::AsOf a;
  a.mutable_effective_on()->set_year(y);
  a.mutable_effective_on()->set_month(m);
  a.mutable_effective_on()->set_day(d);
  return a;
}

// --- The seed story ----------------------------------------------------------

TEST_F(MarketIntelTest, SeedStoryAnswersEveryQuery) {
  const uint64_t last = LoadSeed();
  ASSERT_GT(last, 40u);

  // Exposure: Amazon (with AWS rolled up) is tied to Anthropic and OpenAI,
  // which share a sector.
  v1::GetExposureRequest exposure;
  exposure.set_org_id("amazon");
  exposure.set_min_position(last);
  ASSERT_OK_AND_ASSIGN(v1::GetExposureResponse ex,
                       Call(&v1::MarketIntel::Stub::GetExposure, exposure));
  const v1::SectorExposure* ai =
      FindBy(ex.exposures(), &v1::SectorExposure::sector, "ai-foundation-models");
  ASSERT_NE(ai, nullptr) << ex.DebugString();
  std::vector<std::string> companies;
  std::set<v1::TieKind> anthropic_ties;
  for (const v1::ExposedCompany& c : ai->companies()) {
    companies.push_back(c.company_id());
    if (c.company_id() != "anthropic") continue;
    for (const v1::Tie& t : c.ties()) anthropic_ties.insert(t.kind());
  }
  EXPECT_THAT(companies, testing::IsSupersetOf({"anthropic", "openai"}));
  // The partnership and the facility are AWS's, rolled up to Amazon.
  EXPECT_TRUE(anthropic_ties.contains(v1::TIE_KIND_PARTNERSHIP)) << ex.DebugString();
  EXPECT_TRUE(anthropic_ties.contains(v1::TIE_KIND_FACILITY)) << ex.DebugString();
  EXPECT_TRUE(anthropic_ties.contains(v1::TIE_KIND_INVESTMENT)) << ex.DebugString();
  // Counting only closed deals, OpenAI (in talks) drops out.
  exposure.set_closed_only(true);
  ASSERT_OK_AND_ASSIGN(ex, Call(&v1::MarketIntel::Stub::GetExposure, exposure));
  for (const v1::SectorExposure& e : ex.exposures()) {
    for (const v1::ExposedCompany& c : e.companies()) EXPECT_NE(c.company_id(), "openai");
  }

  // OpenAI's cap table: closed deals only vs pro forma.
  ASSERT_OK_AND_ASSIGN(v1::CapTable closed, CapTable("openai", last));
  ASSERT_OK_AND_ASSIGN(v1::CapTable pro_forma, CapTable("openai", last, true));
  EXPECT_EQ(closed.company_name(), "OpenAI");
  EXPECT_EQ(Line(closed, "amazon"), nullptr) << closed.DebugString();
  const v1::Holding* amazon = Line(pro_forma, "amazon");
  ASSERT_NE(amazon, nullptr) << pro_forma.DebugString();
  EXPECT_TRUE(amazon->pending());
  EXPECT_FALSE(amazon->ownership().known());  // the round has no post-money
  EXPECT_THAT(amazon->ownership().unknown_reason(), HasSubstr("openai-2026-round"));
  ASSERT_EQ(amazon->committed_size(), 1);
  EXPECT_EQ(amazon->committed(0).units(), 50 * kBillion);
  EXPECT_THAT(amazon->deal_ids(), ElementsAre("amazon-openai-2026"));
  // Microsoft's "substantial" stake is shown, never as a made-up number.
  const v1::Holding* microsoft = Line(closed, "microsoft");
  ASSERT_NE(microsoft, nullptr) << closed.DebugString();
  EXPECT_FALSE(microsoft->ownership().known());
  EXPECT_EQ(microsoft->ownership().qualifier(), "substantial");
  // The rumored suitors drop out at min_confidence REPORTED.
  EXPECT_NE(Line(pro_forma, "mgx"), nullptr);
  v1::AsOf reported;
  reported.set_min_confidence(v1::CONFIDENCE_REPORTED);
  ASSERT_OK_AND_ASSIGN(v1::CapTable confident, CapTable("openai", last, true, reported));
  EXPECT_EQ(Line(confident, "mgx"), nullptr);
  EXPECT_EQ(Line(confident, "pif"), nullptr);
  EXPECT_NE(Line(confident, "amazon"), nullptr);

  // Amazon's portfolio: at least $8B committed to Anthropic.
  v1::GetPortfolioRequest portfolio;
  portfolio.set_investor_id("amazon");
  portfolio.set_include_pending(true);
  ASSERT_OK_AND_ASSIGN(v1::GetPortfolioResponse pf,
                       Call(&v1::MarketIntel::Stub::GetPortfolio, portfolio));
  std::map<std::string, int64_t> committed;
  for (const v1::Holding& h : pf.holdings()) {
    for (const v1::Money& m : h.committed()) {
      if (m.currency_code() == "USD") committed[h.org_id()] += m.units();
    }
  }
  EXPECT_GE(committed["anthropic"], 8 * kBillion);
  EXPECT_EQ(committed["openai"], 50 * kBillion);

  // The Amazon–OpenAI deal, in talks, expected to close by the end of Q1
  // 2026: overdue from 2026-04-01.
  v1::GetDealRequest deal;
  deal.set_deal_id("amazon-openai-2026");
  *deal.mutable_as_of() = EffectiveOn(2026, 3, 31);
  ASSERT_OK_AND_ASSIGN(v1::GetDealResponse d, Call(&v1::MarketIntel::Stub::GetDeal, deal));
  EXPECT_EQ(d.deal().stage(), v1::DEAL_STAGE_IN_TALKS);
  EXPECT_EQ(d.deal().expected_close().precision(), v1::DATE_PRECISION_QUARTER);
  EXPECT_FALSE(d.deal().overdue());
  *deal.mutable_as_of() = EffectiveOn(2026, 4, 1);
  ASSERT_OK_AND_ASSIGN(d, Call(&v1::MarketIntel::Stub::GetDeal, deal));
  EXPECT_TRUE(d.deal().overdue());
  v1::ListDealsRequest overdue;
  overdue.set_investor_id("amazon");
  overdue.set_overdue_only(true);
  *overdue.mutable_as_of() = EffectiveOn(2026, 6, 1);
  ASSERT_OK_AND_ASSIGN(v1::ListDealsResponse od, Call(&v1::MarketIntel::Stub::ListDeals, overdue));
  ASSERT_EQ(od.deals_size(), 1) << od.DebugString();
  EXPECT_EQ(od.deals(0).deal_id(), "amazon-openai-2026");

  // Anthropic's partners: AWS as primary cloud and training provider, rolled
  // up to Amazon.
  v1::ListPartnershipsRequest partners;
  partners.set_org_id("anthropic");
  ASSERT_OK_AND_ASSIGN(v1::ListPartnershipsResponse ps,
                       Call(&v1::MarketIntel::Stub::ListPartnerships, partners));
  const v1::Partnership* aws =
      FindBy(ps.partnerships(), &v1::Partnership::partnership_id, "aws-anthropic");
  ASSERT_NE(aws, nullptr) << ps.DebugString();
  EXPECT_TRUE(aws->primary());
  std::set<v1::PartnershipRole> aws_roles;
  for (const v1::PartnerView& party : aws->parties()) {
    if (party.org_id() == "aws") {
      aws_roles.insert(party.role());
      EXPECT_EQ(party.rolled_up_to(), "amazon");
    }
  }
  EXPECT_THAT(aws_roles, testing::IsSupersetOf({v1::PARTNERSHIP_ROLE_CLOUD_PROVIDER,
                                                v1::PARTNERSHIP_ROLE_TRAINING_PROVIDER}));
  // Amazon's partnerships include AWS's.
  partners.set_org_id("amazon");
  ASSERT_OK_AND_ASSIGN(ps, Call(&v1::MarketIntel::Stub::ListPartnerships, partners));
  EXPECT_NE(FindBy(ps.partnerships(), &v1::Partnership::partnership_id, "aws-anthropic"), nullptr)
      << ps.DebugString();

  // OpenAI's timeline is in effective order; its valuations include the
  // reported $500B–$830B range.
  v1::GetTimelineRequest timeline;
  timeline.set_org_id("openai");
  timeline.set_page_size(1000);
  ASSERT_OK_AND_ASSIGN(v1::GetTimelineResponse tl, Call(&v1::MarketIntel::Stub::GetTimeline, timeline));
  ASSERT_GT(tl.entries_size(), 10);
  EXPECT_EQ(tl.entries(0).event_type(), "OrganizationRegistered");
  for (int i = 1; i < tl.entries_size(); ++i) {
    const v1::Date& a = tl.entries(i - 1).effective().date();
    const v1::Date& b = tl.entries(i).effective().date();
    EXPECT_LE(std::make_tuple(a.year(), a.month() == 0 ? 1 : a.month()),
              std::make_tuple(b.year(), b.month() == 0 ? 1 : b.month()))
        << "entry " << i;
  }
  v1::GetValuationHistoryRequest valuations;
  valuations.set_company_id("openai");
  ASSERT_OK_AND_ASSIGN(v1::GetValuationHistoryResponse vh,
                       Call(&v1::MarketIntel::Stub::GetValuationHistory, valuations));
  std::set<std::pair<int64_t, v1::AmountBound>> points;
  for (const v1::ValuationPoint& p : vh.points()) points.emplace(p.valuation().units(), p.bound());
  EXPECT_TRUE(points.contains({500 * kBillion, v1::AMOUNT_BOUND_AT_LEAST})) << vh.DebugString();
  EXPECT_TRUE(points.contains({830 * kBillion, v1::AMOUNT_BOUND_UP_TO})) << vh.DebugString();

  // Organizations by name or alias prefix.
  v1::ListOrganizationsRequest orgs;
  orgs.set_name_prefix("amazon web");
  ASSERT_OK_AND_ASSIGN(v1::ListOrganizationsResponse os,
                       Call(&v1::MarketIntel::Stub::ListOrganizations, orgs));
  ASSERT_EQ(os.organizations_size(), 1) << os.DebugString();
  EXPECT_EQ(os.organizations(0).org_id(), "aws");
  EXPECT_EQ(os.organizations(0).parent_org_id(), "amazon");
  v1::GetOrganizationRequest org;
  org.set_org_id("amazon");
  ASSERT_OK_AND_ASSIGN(v1::GetOrganizationResponse o,
                       Call(&v1::MarketIntel::Stub::GetOrganization, org));
  EXPECT_THAT(o.organization().subsidiary_ids(), ElementsAre("aws"));

  // The market summary keeps currencies apart and lists the largest deals.
  v1::GetMarketSummaryRequest summary;
  ASSERT_OK_AND_ASSIGN(v1::GetMarketSummaryResponse ms,
                       Call(&v1::MarketIntel::Stub::GetMarketSummary, summary));
  ASSERT_GT(ms.buckets_size(), 0);
  ASSERT_GT(ms.largest_deals_size(), 0);
  EXPECT_EQ(ms.largest_deals(0).deal_id(), "openai-2026-round") << ms.DebugString();

  // Unknown ids are NOT_FOUND; malformed ones INVALID_ARGUMENT naming the field.
  EXPECT_THAT(CapTable("nobody", 0), StatusIsWith(absl::StatusCode::kNotFound, "company_id"));
  EXPECT_THAT(CapTable("Not An Id", 0),
              StatusIsWith(absl::StatusCode::kInvalidArgument, "company_id"));
}

// --- Bitemporal queries --------------------------------------------------------

TEST_F(MarketIntelTest, LateReportedRoundGivesDifferentAnswersByKnownAtAndEffectiveOn) {
  const std::string c = NewOrgId("acme"), founder = NewOrgId("founder"), x = NewOrgId("x"),
                    y = NewOrgId("y");
  AppendAll({Company(c, "robotics"), Investor(founder), Investor(x), Investor(y)});
  AppendTo(OrgStream(c), At(Stake(founder, c, 1000000), 2019, 1, 1));
  // Round 1 (2021): post 10M, 2M from x.
  AppendTo("deal/" + c + "-r1", At(Round(c + "-r1", c, 2000000, 10000000, v1::DEAL_STAGE_CLOSED), 2021, 6, 1));
  const uint64_t before_late =
      AppendTo("deal/" + c + "-x", At(Investment(c + "-x", c + "-r1", x, c, 2000000,
                                                 v1::DEAL_STAGE_CLOSED), 2021, 6, 1));
  // Reported later, but it happened earlier (2020): post 5M, 1M from y.
  AppendTo("deal/" + c + "-r0", At(Round(c + "-r0", c, 1000000, 5000000, v1::DEAL_STAGE_CLOSED), 2020, 6, 1));
  const uint64_t last =
      AppendTo("deal/" + c + "-y", At(Investment(c + "-y", c + "-r0", y, c, 1000000,
                                                 v1::DEAL_STAGE_CLOSED), 2020, 6, 1));

  // What we knew before the late report: founder 80 %, x 20 %.
  ASSERT_OK_AND_ASSIGN(v1::CapTable then, CapTable(c, last, false, KnownAt(before_late)));
  EXPECT_EQ(Ppm(then, founder), 800000);
  EXPECT_EQ(Ppm(then, x), 200000);
  EXPECT_EQ(Line(then, y), nullptr);
  // What we know now, folded in effective order: r0 then r1.
  ASSERT_OK_AND_ASSIGN(v1::CapTable now, CapTable(c, last));
  EXPECT_EQ(Ppm(now, founder), 640000);
  EXPECT_EQ(Ppm(now, y), 160000);
  EXPECT_EQ(Ppm(now, x), 200000);
  EXPECT_THAT(now.applied_round_ids(), ElementsAre(c + "-r0", c + "-r1"));
  // What was true at the end of 2020, by what we know now: only r0.
  ASSERT_OK_AND_ASSIGN(v1::CapTable effective, CapTable(c, last, false, EffectiveOn(2020, 12, 31)));
  EXPECT_EQ(Ppm(effective, founder), 800000);
  EXPECT_EQ(Ppm(effective, y), 200000);
  EXPECT_EQ(Line(effective, x), nullptr);

  // known_at as a recorded time gives the same answer as the position.
  ASSERT_OK_AND_ASSIGN(std::vector<v1::Event> log, ReadWholeLog(stub()));
  v1::Event at_before;
  for (const v1::Event& e : log) {
    if (e.position() == before_late) at_before = e;
  }
  v1::AsOf by_time;
  *by_time.mutable_known_at_time() = at_before.recorded_time();
  ASSERT_OK_AND_ASSIGN(v1::CapTable then_by_time, CapTable(c, last, false, by_time));
  // Events recorded in the same instant as before_late may also count, but
  // never the late report, which came later.
  EXPECT_EQ(Ppm(then_by_time, founder), 800000);
}

TEST_F(MarketIntelTest, RetractionChangesCapTableTimelineAndSummary) {
  const std::string c = NewOrgId("beta"), founder = NewOrgId("founder"), x = NewOrgId("x");
  AppendAll({Company(c, "quantum-computing"), Investor(founder), Investor(x)});
  AppendTo(OrgStream(c), At(Stake(founder, c, 1000000), 2019, 1, 1));
  AppendTo("deal/" + c + "-r1",
           At(Round(c + "-r1", c, 2000000, 10000000, v1::DEAL_STAGE_CLOSED), 2021, 6, 1));
  v1::Event invest = At(Investment(c + "-x", c + "-r1", x, c, 2000000, v1::DEAL_STAGE_CLOSED),
                        2021, 6, 1);
  const uint64_t before = AppendTo("deal/" + c + "-x", invest);

  v1::GetMarketSummaryRequest summary;
  summary.set_sector("quantum-computing");
  summary.set_min_position(before);
  ASSERT_OK_AND_ASSIGN(v1::GetMarketSummaryResponse sum_before,
                       Call(&v1::MarketIntel::Stub::GetMarketSummary, summary));
  ASSERT_OK_AND_ASSIGN(v1::CapTable table_before, CapTable(c, before));
  EXPECT_EQ(Ppm(table_before, x), 200000);
  v1::GetTimelineRequest timeline;
  timeline.set_org_id(x);
  timeline.set_min_position(before);
  ASSERT_OK_AND_ASSIGN(v1::GetTimelineResponse tl_before,
                       Call(&v1::MarketIntel::Stub::GetTimeline, timeline));
  ASSERT_EQ(tl_before.entries_size(), 2);  // registration, investment

  // Retract the round's report? Refused: the investment still refers to it.
  v1::ReadStreamRequest round_stream;
  round_stream.set_stream("deal/" + c + "-r1");
  ASSERT_OK_AND_ASSIGN(std::vector<v1::Event> round_events, ReadWholeStream(stub(), round_stream));
  EXPECT_THAT(Append(stub(), "deal/" + c + "-r1", {Retraction(round_events[0].event_id())}),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  // Retract the investment.
  const uint64_t after = AppendTo("deal/" + c + "-x", Retraction(invest.event_id()));
  ASSERT_GT(after, before);

  ASSERT_OK_AND_ASSIGN(v1::CapTable table_after, CapTable(c, after));
  EXPECT_EQ(Line(table_after, x), nullptr);
  EXPECT_EQ(table_after.unattributed().fraction().parts_per_million(), 200000);
  ASSERT_OK_AND_ASSIGN(v1::GetTimelineResponse tl_after,
                       Call(&v1::MarketIntel::Stub::GetTimeline, timeline));
  EXPECT_EQ(tl_after.entries_size(), 1);
  // The summary counts rounds, so retract a standalone investment to see it
  // change: a closed 3M investment by x in c.
  v1::Event standalone = At(Investment(c + "-s", "", x, c, 3000000, v1::DEAL_STAGE_CLOSED), 2022, 2, 1);
  const uint64_t with_standalone = AppendTo("deal/" + c + "-s", standalone);
  summary.set_min_position(with_standalone);
  ASSERT_OK_AND_ASSIGN(v1::GetMarketSummaryResponse sum_with,
                       Call(&v1::MarketIntel::Stub::GetMarketSummary, summary));
  const uint64_t retracted = AppendTo("deal/" + c + "-s", Retraction(standalone.event_id()));
  summary.set_min_position(retracted);
  ASSERT_OK_AND_ASSIGN(v1::GetMarketSummaryResponse sum_after,
                       Call(&v1::MarketIntel::Stub::GetMarketSummary, summary));
  auto total = [](const v1::GetMarketSummaryResponse& r) {
    int64_t units = 0;
    for (const v1::SummaryBucket& b : r.buckets()) units += b.total().units();
    return units;
  };
  EXPECT_EQ(total(sum_with), total(sum_before) + 3000000);
  EXPECT_EQ(total(sum_after), total(sum_before));
  // Before the retraction, the past is unchanged.
  ASSERT_OK_AND_ASSIGN(v1::CapTable past, CapTable(c, retracted, false, KnownAt(before)));
  EXPECT_EQ(Ppm(past, x), 200000);
}

TEST_F(MarketIntelTest, ReadYourWritesAndOutOfRange) {
  const std::string c = NewOrgId("gamma"), x = NewOrgId("x");
  AppendAll({Company(c, "biotech"), Investor(x)});
  const uint64_t p = AppendTo("deal/" + c + "-x",
                              Investment(c + "-x", "", x, c, 5000000, v1::DEAL_STAGE_ANNOUNCED));
  // Immediately after the append, min_position makes the query see it.
  ASSERT_OK_AND_ASSIGN(v1::CapTable table, CapTable(c, p, true));
  ASSERT_NE(Line(table, x), nullptr);
  EXPECT_EQ(Line(table, x)->name(), "Company " + x);
  // A holder's new name shows at once in the (cached) current table.
  v1::Event rename = OrgUpdated(x, "renamed");
  rename.mutable_payload()->mutable_organization_updated()->set_name("Renamed Capital");
  const uint64_t renamed = AppendTo(OrgStream(x), rename);
  ASSERT_OK_AND_ASSIGN(table, CapTable(c, renamed, true));
  ASSERT_NE(Line(table, x), nullptr);
  EXPECT_EQ(Line(table, x)->name(), "Renamed Capital");
  // And a new investment at once too.
  const std::string y = NewOrgId("y");
  AppendAll({Investor(y)});
  const uint64_t more = AppendTo("deal/" + c + "-y",
                                 Investment(c + "-y", "", y, c, 1000000, v1::DEAL_STAGE_CLOSED));
  ASSERT_OK_AND_ASSIGN(table, CapTable(c, more, true));
  EXPECT_NE(Line(table, y), nullptr);
  EXPECT_THAT(CapTable(c, p + 1000), StatusIsWith(absl::StatusCode::kOutOfRange, "min_position"));
  EXPECT_THAT(CapTable(c, 0, false, KnownAt(p + 1000)),
              StatusIsWith(absl::StatusCode::kOutOfRange, "known_at"));
  EXPECT_THAT(CapTable(c, 0, false, EffectiveOn(2026, 2, 30)),
              StatusIsWith(absl::StatusCode::kInvalidArgument, "as_of.effective_on"));
}

TEST_F(MarketIntelTest, DealAndItsStageChangeInOneAppendAreTaggedAlikeAndRetriedIdempotently) {
  const std::string c = NewOrgId("eta"), x = NewOrgId("x");
  AppendAll({Company(c, "biotech"), Investor(x)});
  const std::string deal = c + "-x";
  v1::EventPayload stage;
  stage.mutable_deal_stage_changed()->set_deal_id(deal);
  stage.mutable_deal_stage_changed()->set_new_stage(v1::DEAL_STAGE_CLOSED);
  stage.mutable_deal_stage_changed()->set_reason("closed as announced");
  const std::vector<v1::Event> both = {
      At(Investment(deal, "", x, c, 5000000, v1::DEAL_STAGE_ANNOUNCED), 2025, 3, 1),
      At(NewEvent(stage), 2025, 4, 1)};
  ASSERT_OK_AND_ASSIGN(v1::AppendResponse first, Append(stub(), "deal/" + deal, both));
  EXPECT_FALSE(first.duplicate());
  // The stage change names the deal's organizations although the deal was
  // not in the log when it was tagged: both events are found by either org.
  for (const std::string& org : {c, x}) {
    v1::ReadAllRequest by_org;
    by_org.mutable_filter()->add_org_ids(org);
    ASSERT_OK_AND_ASSIGN(std::vector<v1::Event> events, ReadWholeLog(stub(), by_org));
    std::vector<uint64_t> positions;
    for (const v1::Event& e : events) positions.push_back(e.position());
    EXPECT_THAT(positions, ::testing::IsSupersetOf({first.first_position(), first.last_position()}))
        << "org " << org;
  }
  // The very same append again is a duplicate, not "different content".
  ASSERT_OK_AND_ASSIGN(v1::AppendResponse retry, Append(stub(), "deal/" + deal, both));
  EXPECT_TRUE(retry.duplicate());
  EXPECT_EQ(retry.last_position(), first.last_position());
}

// --- Validation on the write path ---------------------------------------------

TEST_F(MarketIntelTest, InvalidClaimsAreRefusedAndWriteNothing) {
  const std::string c = NewOrgId("delta");
  const uint64_t start = AppendAll({Company(c, "fintech")});
  ASSERT_GT(start, 0u);
  struct Case {
    std::string name;
    v1::Event event;
    absl::StatusCode code;
    std::string field;
  };
  v1::Event negative = Investment(c + "-n", "", "someone-else", c, 1, v1::DEAL_STAGE_RUMORED);
  negative.mutable_payload()->mutable_investment_reported()->mutable_amount()->set_units(-5);
  v1::Event currency = Investment(c + "-c", "", "nobody", c, 1, v1::DEAL_STAGE_RUMORED);
  currency.mutable_payload()->mutable_investment_reported()->mutable_amount()->set_currency_code("XYZ");
  std::vector<Case> cases = {
      {"unknown investor", Investment(c + "-u", "", "nobody-at-all", c, 1, v1::DEAL_STAGE_RUMORED),
       absl::StatusCode::kFailedPrecondition, "investor_id"},
      {"negative amount", negative, absl::StatusCode::kInvalidArgument, "amount"},
      {"unknown currency", currency, absl::StatusCode::kInvalidArgument, "currency_code"},
      {"re-registration", Company(c, "fintech"), absl::StatusCode::kFailedPrecondition, "org_id"},
      {"retraction of an unknown event", Retraction(NewEventId()),
       absl::StatusCode::kFailedPrecondition, "event_id"},
      {"impossible date", At(OrgUpdated(c, "x"), 2026, 2, 30), absl::StatusCode::kInvalidArgument,
       "effective"},
  };
  for (const Case& k : cases) {
    const std::string stream = k.event.stream().empty() ? "deal/" + c + "-bad" : k.event.stream();
    EXPECT_THAT(Append(stub(), stream, {k.event}), StatusIsWith(k.code, k.field))
        << k.name;
  }
  // A deal stage going backwards.
  const std::string investor = NewOrgId("inv");
  EXPECT_EQ(AppendAll({Investor(investor)}), start + 1) << "a refused append wrote events";
  AppendTo("deal/" + c + "-d", Investment(c + "-d", "", investor, c, 1, v1::DEAL_STAGE_AGREED));
  v1::EventPayload back;
  back.mutable_deal_stage_changed()->set_deal_id(c + "-d");
  back.mutable_deal_stage_changed()->set_new_stage(v1::DEAL_STAGE_RUMORED);
  ASSERT_OK_AND_ASSIGN(std::vector<v1::Event> before, ReadWholeLog(stub()));
  EXPECT_THAT(Append(stub(), "deal/" + c + "-d", {NewEvent(back)}),
              StatusIsWith(absl::StatusCode::kFailedPrecondition, "new_stage"));
  // One bad event refuses the whole append, including the good ones before it.
  const std::string fresh = NewOrgId("epsilon");
  EXPECT_THAT(Append(stub(), OrgStream(fresh),
                     {Company(fresh, "fintech"),
                      Investment(fresh + "-i", "", "nobody-at-all", fresh, 1,
                                 v1::DEAL_STAGE_RUMORED)}),
              StatusIsWith(absl::StatusCode::kFailedPrecondition, "events[1]"));
  ASSERT_OK_AND_ASSIGN(std::vector<v1::Event> after, ReadWholeLog(stub()));
  EXPECT_EQ(after.size(), before.size());
  v1::GetOrganizationRequest org;
  org.set_org_id(fresh);
  org.set_min_position(after.back().position());
  EXPECT_THAT(Call(&v1::MarketIntel::Stub::GetOrganization, org),
              StatusIs(absl::StatusCode::kNotFound));
}

// --- Durability of the projections ----------------------------------------------

TEST_F(MarketIntelTest, ProjectionsResumeAfterRestartWithoutReplay) {
  const uint64_t last = LoadSeed();
  ASSERT_OK_AND_ASSIGN(v1::CapTable before, CapTable("anthropic", last, true));
  ASSERT_OK_AND_ASSIGN(v1::GetStatsResponse stats_before, Stats(true));
  ASSERT_EQ(stats_before.projection_position(), last);
  StopServer();
  StartServer();
  Connect();
  ASSERT_OK_AND_ASSIGN(v1::GetStatsResponse stats_after, Stats(true));
  // Same state, byte for byte, and every event counted once.
  EXPECT_EQ(stats_after.projection_position(), last);
  EXPECT_EQ(stats_after.state_digest(), stats_before.state_digest());
  uint64_t counted = 0;
  for (const auto& [type, n] : stats_after.events_by_type()) counted += n;
  EXPECT_EQ(counted, last);
  ASSERT_OK_AND_ASSIGN(v1::CapTable after, CapTable("anthropic", last, true));
  EXPECT_TRUE(MessageDifferencer::Equals(before, after)) << after.DebugString();
  // And it keeps following the log.
  const std::string c = NewOrgId("zeta");
  const uint64_t p = AppendAll({Company(c, "fintech")});
  v1::GetOrganizationRequest org;
  org.set_org_id(c);
  org.set_min_position(p);
  EXPECT_OK(Call(&v1::MarketIntel::Stub::GetOrganization, org).status());
}

TEST_F(MarketIntelTest, ProjectionsSurviveKillNineAndApplyEachEventOnce) {
  const uint64_t last = LoadSeed();
  ASSERT_OK_AND_ASSIGN(v1::CapTable before, CapTable("openai", last, true));
  ASSERT_OK_AND_ASSIGN(v1::GetStatsResponse stats_before, Stats(true));
  ASSERT_OK(server().Kill().status());
  StartServer();
  Connect();
  // Whatever batch the projections resume after, the state they reach is the
  // same, and no event is counted twice.
  ASSERT_OK_AND_ASSIGN(v1::CapTable after, CapTable("openai", last, true));
  EXPECT_TRUE(MessageDifferencer::Equals(before, after)) << after.DebugString();
  ASSERT_OK_AND_ASSIGN(v1::GetStatsResponse stats_after, Stats(true));
  EXPECT_EQ(stats_after.projection_position(), last);
  EXPECT_EQ(stats_after.state_digest(), stats_before.state_digest());
  uint64_t counted = 0;
  for (const auto& [type, n] : stats_after.events_by_type()) counted += n;
  EXPECT_EQ(counted, last);
}

// --- Synthetic data: point in time = fresh fold; rebuild = live ------------------

std::vector<v1::Event> Synthetic(size_t n) {
  bench::SyntheticOptions options;
  options.seed = 7;
  options.events = n;
  options.companies = 60;
  options.investors = 30;
  bench::SyntheticEvents gen(options);
  std::vector<v1::Event> out;
  v1::Event e;
  while (gen.Next(&e)) out.push_back(e);
  return out;
}

TEST_F(MarketIntelTest, PointInTimeEqualsFreshFoldAndRebuildEqualsLive) {
  const std::vector<v1::Event> events = Synthetic(3000);
  const uint64_t last = AppendAll(events);
  ASSERT_EQ(last, events.size());
  const uint64_t half = last / 2;

  // A second server that only ever saw the first half.
  TempDir other_dir("market-intel-half");
  ServerProcess::Options options;
  options.data_dir = other_dir.path();
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<ServerProcess> other, ServerProcess::Start(options));
  auto other_stub = v1::EventStore::NewStub(other->Channel());
  auto other_intel = v1::MarketIntel::NewStub(other->Channel());
  for (size_t i = 0; i < half; ++i) {
    ASSERT_OK(Append(*other_stub, events[i].stream(), {events[i]}).status());
  }
  // Every company with deals: the point-in-time table here equals the
  // current table there.
  std::set<std::string> companies;
  for (const v1::Event& e : events) {
    if (e.payload().has_funding_round_reported()) {
      companies.insert(e.payload().funding_round_reported().company_id());
    }
  }
  ASSERT_GT(companies.size(), 5u);
  int compared = 0;
  for (const std::string& c : companies) {
    for (const bool pending : {false, true}) {
      absl::StatusOr<v1::CapTable> then = CapTable(c, last, pending, KnownAt(half));
      v1::GetCapTableRequest r;
      r.set_company_id(c);
      r.set_include_pending(pending);
      r.set_min_position(half);
      grpc::ClientContext ctx;
      SetTimeout(&ctx, kCallTimeout);
      v1::GetCapTableResponse fresh;
      grpc::Status s = other_intel->GetCapTable(&ctx, r, &fresh);
      ASSERT_EQ(then.ok(), s.ok()) << c << ": " << then.status() << " vs " << s.error_message();
      if (!s.ok()) continue;
      EXPECT_TRUE(MessageDifferencer::Equals(*then, fresh.cap_table()))
          << c << "\nas of " << half << ":\n"
          << then->DebugString() << "\nfresh fold:\n"
          << fresh.cap_table().DebugString();
      ++compared;
    }
  }
  EXPECT_GT(compared, 10);
  ASSERT_OK(other->Stop().status());

  // Rebuild: the rebuilt state equals the live one, and the switch keeps
  // answers unchanged.
  ASSERT_OK_AND_ASSIGN(v1::GetStatsResponse live, Stats(true));
  ASSERT_EQ(live.projection_position(), last);
  grpc::ClientContext ctx;
  SetTimeout(&ctx, absl::Minutes(5));
  std::unique_ptr<grpc::ClientReader<v1::RebuildProjectionsResponse>> reader =
      admin_->RebuildProjections(&ctx, v1::RebuildProjectionsRequest());
  v1::RebuildProjectionsResponse message;
  std::optional<v1::RebuildDone> done;
  while (reader->Read(&message)) {
    if (message.has_done()) done = message.done();
  }
  ASSERT_OK(ToAbsl(reader->Finish()));
  ASSERT_TRUE(done.has_value());
  EXPECT_TRUE(done->identical()) << done->DebugString();
  EXPECT_EQ(done->live_digest(), live.state_digest());
  EXPECT_EQ(done->position(), last);
  EXPECT_GT(done->events_per_second(), 0);
  ASSERT_OK_AND_ASSIGN(v1::GetStatsResponse rebuilt, Stats(true));
  EXPECT_EQ(rebuilt.state_digest(), live.state_digest());
}

}  // namespace
}  // namespace dealwire::integration
