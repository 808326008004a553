// End-to-end tests of the query and admin commands of `dealwire`: the real
// binary against a real dealwired holding the seed story
// (demo/seed_story.jsonl). Every command runs in both output modes; table
// output is checked for meaning (names, amounts, "unknown", "pending"), JSON
// output is parsed back into the response message. Also: point-in-time flags,
// bad input refused before anything is sent (exit 2), NOT_FOUND (exit 1), an
// unreachable server (exit 3) and --help of every command.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "dealwire/v1/admin.grpc.pb.h"
#include "dealwire/v1/event_store.grpc.pb.h"
#include "dealwire/v1/market_intel.grpc.pb.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "common/event_jsonl.h"
#include "tests/cli/cli_runner.h"
#include "tests/integration/server_process.h"
#include "tests/integration/test_util.h"

namespace dealwire::cli_test {
namespace {

namespace v1 = ::dealwire::v1;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr int64_t kBillion = 1000000000;

// Parses one line of protobuf JSON into `M`; fails the test when it does not
// parse or is not exactly one line.
template <typename M>
M FromJson(const std::string& out) {
  M m;
  EXPECT_TRUE(absl::EndsWith(out, "\n")) << out;
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 1) << "not one line: " << out;
  const auto s = google::protobuf::util::JsonStringToMessage(out, &m);
  EXPECT_TRUE(s.ok()) << s.ToString() << " parsing " << out;
  return m;
}

template <typename M>
bool ParsesAs(const std::string& out) {
  M m;
  return google::protobuf::util::JsonStringToMessage(out, &m).ok() &&
         std::count(out.begin(), out.end(), '\n') == 1;
}

const v1::Holding* Holder(const v1::CapTable& t, absl::string_view org) {
  for (const v1::Holding& h : t.holders()) {
    if (h.org_id() == org) return &h;
  }
  return nullptr;
}

// A TCP listener on 127.0.0.1 that never accepts: a "server" that lets us
// see whether the CLI tried to connect at all.
class SilentListener {
 public:
  SilentListener() {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    EXPECT_EQ(bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    EXPECT_EQ(listen(fd_, 16), 0);
    socklen_t len = sizeof addr;
    getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
  }
  ~SilentListener() { close(fd_); }
  std::string address() const { return absl::StrCat("127.0.0.1:", port_); }
  int port() const { return port_; }
  // Whether a connection is waiting to be accepted.
  bool HasPendingConnection() const {
    pollfd p{fd_, POLLIN, 0};
    return poll(&p, 1, 0) == 1;
  }

 private:
  int fd_ = -1;
  int port_ = 0;
};

class QueryTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new integration::TempDir("cli_query");
    integration::ServerProcess::Options options;
    options.data_dir = dir_->path();
    options.echo_stderr = false;
    absl::StatusOr<std::unique_ptr<integration::ServerProcess>> server =
        integration::ServerProcess::Start(options);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = server->release();

    absl::StatusOr<std::vector<v1::Event>> events = common::ReadEventsJsonlFile(
        std::string(DEALWIRE_SOURCE_DIR) + "/demo/seed_story.jsonl");
    ASSERT_TRUE(events.ok()) << events.status();
    auto stub = v1::EventStore::NewStub(server_->Channel());
    for (const v1::Event& e : *events) {
      absl::StatusOr<v1::AppendResponse> r = integration::Append(*stub, e.stream(), {e});
      ASSERT_TRUE(r.ok()) << r.status() << " appending " << e.ShortDebugString();
      last_ = r->last_position();
      if (e.payload().has_investment_reported() &&
          e.payload().investment_reported().investment_id() == "amazon-openai-2026") {
        amazon_openai_position_ = last_;
      }
    }
    ASSERT_GT(last_, 40u);
    ASSERT_GT(amazon_openai_position_, 1u);

    // Read-your-writes: once this answers, the projections have applied
    // every seed event, so admin stats and queries without --min-position
    // see all of it too.
    auto intel = v1::MarketIntel::NewStub(server_->Channel());
    grpc::ClientContext ctx;
    integration::SetTimeout(&ctx, absl::Seconds(30));
    v1::GetOrganizationRequest req;
    req.set_org_id("openai");
    req.set_min_position(last_);
    v1::GetOrganizationResponse resp;
    const grpc::Status s = intel->GetOrganization(&ctx, req, &resp);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }

  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
    delete dir_;
    dir_ = nullptr;
  }

  void SetUp() override { ASSERT_NE(server_, nullptr) << "the server did not start"; }

  // Runs `dealwire --server <addr> args...`.
  static CliResult Cli(std::vector<std::string> args) {
    args.insert(args.begin(), {"--server", server_->address()});
    return RunCli(args);
  }
  // The same, with --min-position of the last seed event (read your writes).
  static CliResult Query(std::vector<std::string> args) {
    args.push_back("--min-position");
    args.push_back(absl::StrCat(last_));
    return Cli(std::move(args));
  }
  static CliResult Json(std::vector<std::string> args) {
    args.push_back("--output");
    args.push_back("json");
    return Query(std::move(args));
  }

  static integration::TempDir* dir_;
  static integration::ServerProcess* server_;
  static uint64_t last_;
  static uint64_t amazon_openai_position_;
};

integration::TempDir* QueryTest::dir_ = nullptr;
integration::ServerProcess* QueryTest::server_ = nullptr;
uint64_t QueryTest::last_ = 0;
uint64_t QueryTest::amazon_openai_position_ = 0;

// --- Cap table, portfolio --------------------------------------------------------

TEST_F(QueryTest, CapTableShowsHoldersWithOwnershipOrUnknown) {
  CliResult table = Query({"cap-table", "openai"});
  ASSERT_EQ(table.exit_code, 0) << table.err;
  EXPECT_THAT(table.out, HasSubstr("OpenAI (openai)"));
  EXPECT_THAT(table.out, HasSubstr("closed deals only"));
  EXPECT_THAT(table.out, HasSubstr("Microsoft (microsoft)"));
  EXPECT_THAT(table.out, HasSubstr("unknown (substantial)"));  // never a made-up number
  EXPECT_THAT(table.out, HasSubstr(" %"));                     // unattributed is a percentage
  EXPECT_THAT(table.out, Not(HasSubstr("Amazon (amazon)")));   // in talks: not closed
  EXPECT_THAT(table.out, HasSubstr("as of log position"));

  CliResult json = Json({"cap-table", "openai"});
  ASSERT_EQ(json.exit_code, 0) << json.err;
  const auto r = FromJson<v1::GetCapTableResponse>(json.out);
  EXPECT_EQ(r.cap_table().company_name(), "OpenAI");
  EXPECT_FALSE(r.cap_table().include_pending());
  ASSERT_NE(Holder(r.cap_table(), "microsoft"), nullptr) << json.out;
  EXPECT_FALSE(Holder(r.cap_table(), "microsoft")->ownership().known());
  EXPECT_EQ(Holder(r.cap_table(), "amazon"), nullptr);
  EXPECT_GE(r.as_of_position(), last_);
}

TEST_F(QueryTest, CapTableProFormaIncludesPendingDeals) {
  CliResult table = Query({"cap-table", "openai", "--include-pending"});
  ASSERT_EQ(table.exit_code, 0) << table.err;
  EXPECT_THAT(table.out, HasSubstr("pro forma"));
  EXPECT_THAT(table.out, HasSubstr("Amazon (amazon)"));
  EXPECT_THAT(table.out, HasSubstr("$50.0B"));
  EXPECT_THAT(table.out, HasSubstr("pending"));
  EXPECT_THAT(table.out, HasSubstr("openai-2026-round"));  // the footnote of Amazon's "unknown"

  CliResult json = Json({"cap-table", "openai", "--include-pending"});
  ASSERT_EQ(json.exit_code, 0) << json.err;
  const auto r = FromJson<v1::GetCapTableResponse>(json.out);
  EXPECT_TRUE(r.cap_table().include_pending());
  const v1::Holding* amazon = Holder(r.cap_table(), "amazon");
  ASSERT_NE(amazon, nullptr) << json.out;
  EXPECT_TRUE(amazon->pending());
  ASSERT_EQ(amazon->committed_size(), 1);
  EXPECT_EQ(amazon->committed(0).units(), 50 * kBillion);
  EXPECT_EQ(amazon->committed(0).currency_code(), "USD");

  // --min-confidence reported leaves out the rumored suitors.
  EXPECT_NE(Holder(r.cap_table(), "mgx"), nullptr);
  CliResult reported =
      Json({"cap-table", "openai", "--include-pending", "--min-confidence", "reported"});
  ASSERT_EQ(reported.exit_code, 0) << reported.err;
  const auto c = FromJson<v1::GetCapTableResponse>(reported.out).cap_table();
  EXPECT_EQ(Holder(c, "mgx"), nullptr);
  EXPECT_NE(Holder(c, "amazon"), nullptr);
}

TEST_F(QueryTest, AsOfPositionBeforeALateEventGivesTheEarlierAnswer) {
  const std::string before = absl::StrCat(amazon_openai_position_ - 1);
  const std::string at = absl::StrCat(amazon_openai_position_);
  CliResult then = Json({"cap-table", "openai", "--include-pending", "--as-of-position", before});
  ASSERT_EQ(then.exit_code, 0) << then.err;
  const auto t = FromJson<v1::GetCapTableResponse>(then.out);
  EXPECT_EQ(Holder(t.cap_table(), "amazon"), nullptr) << then.out;
  EXPECT_EQ(t.as_of_position(), amazon_openai_position_ - 1);

  CliResult later = Json({"cap-table", "openai", "--include-pending", "--as-of-position", at});
  ASSERT_EQ(later.exit_code, 0) << later.err;
  EXPECT_NE(Holder(FromJson<v1::GetCapTableResponse>(later.out).cap_table(), "amazon"), nullptr);

  CliResult table = Cli({"cap-table", "openai", "--include-pending", "--as-of-position", before});
  ASSERT_EQ(table.exit_code, 0) << table.err;
  EXPECT_THAT(table.out, Not(HasSubstr("Amazon (amazon)")));
  EXPECT_THAT(table.out, HasSubstr(absl::StrCat("as of log position ", before)));

  // What was true at the end of 2022: Microsoft's 2023 investment had not
  // happened yet.
  CliResult effective = Json({"portfolio", "microsoft", "--effective-on", "2022-12-31"});
  ASSERT_EQ(effective.exit_code, 0) << effective.err;
  const auto early = FromJson<v1::GetPortfolioResponse>(effective.out);
  for (const v1::Holding& h : early.holdings()) {
    EXPECT_NE(h.org_id(), "openai") << effective.out;
  }
}

TEST_F(QueryTest, PortfolioOfAmazonListsAnthropic) {
  CliResult table = Query({"portfolio", "amazon", "--include-pending"});
  ASSERT_EQ(table.exit_code, 0) << table.err;
  EXPECT_THAT(table.out, HasSubstr("Portfolio of Amazon (amazon)"));
  EXPECT_THAT(table.out, HasSubstr("Anthropic (anthropic)"));
  EXPECT_THAT(table.out, HasSubstr("OpenAI (openai)"));
  EXPECT_THAT(table.out, HasSubstr("total committed"));

  CliResult json = Json({"portfolio", "amazon"});
  ASSERT_EQ(json.exit_code, 0) << json.err;
  const auto r = FromJson<v1::GetPortfolioResponse>(json.out);
  std::set<std::string> companies;
  int64_t anthropic_usd = 0;
  for (const v1::Holding& h : r.holdings()) {
    companies.insert(h.org_id());
    for (const v1::Money& m : h.committed()) {
      if (h.org_id() == "anthropic" && m.currency_code() == "USD") anthropic_usd += m.units();
    }
  }
  EXPECT_TRUE(companies.contains("anthropic")) << json.out;
  EXPECT_FALSE(companies.contains("openai")) << "closed only: the OpenAI talks are pending";
  EXPECT_GE(anthropic_usd, 8 * kBillion);

  CliResult pending = Json({"portfolio", "amazon", "--include-pending", "--direct-only"});
  ASSERT_EQ(pending.exit_code, 0) << pending.err;
  bool openai = false;
  const auto pro_forma = FromJson<v1::GetPortfolioResponse>(pending.out);
  for (const v1::Holding& h : pro_forma.holdings()) {
    openai |= h.org_id() == "openai" && h.pending();
  }
  EXPECT_TRUE(openai) << pending.out;
}

// --- Exposure, partners ------------------------------------------------------------

TEST_F(QueryTest, ExposureOfAmazonFindsAnthropicAndOpenAI) {
  CliResult table = Query({"exposure", "amazon"});
  ASSERT_EQ(table.exit_code, 0) << table.err;
  EXPECT_THAT(table.out, HasSubstr("ai-foundation-models"));
  EXPECT_THAT(table.out, HasSubstr("Anthropic (anthropic)"));
  EXPECT_THAT(table.out, HasSubstr("OpenAI (openai)"));
  EXPECT_THAT(table.out, HasSubstr("partnership"));
  EXPECT_THAT(table.out, HasSubstr("in-talks"));

  CliResult json = Json({"exposure", "amazon"});
  ASSERT_EQ(json.exit_code, 0) << json.err;
  std::set<std::string> companies;
  const auto exposure = FromJson<v1::GetExposureResponse>(json.out);
  for (const v1::SectorExposure& s : exposure.exposures()) {
    if (s.sector() != "ai-foundation-models") continue;
    for (const v1::ExposedCompany& c : s.companies()) companies.insert(c.company_id());
  }
  EXPECT_TRUE(companies.contains("anthropic") && companies.contains("openai")) << json.out;

  CliResult closed = Json({"exposure", "amazon", "--closed-only"});
  ASSERT_EQ(closed.exit_code, 0) << closed.err;
  const auto closed_exposure = FromJson<v1::GetExposureResponse>(closed.out);
  for (const v1::SectorExposure& s : closed_exposure.exposures()) {
    for (const v1::ExposedCompany& c : s.companies()) EXPECT_NE(c.company_id(), "openai");
  }
}

TEST_F(QueryTest, PartnersOfAnthropicShowAwsRolledUpToAmazon) {
  CliResult table = Query({"partners", "anthropic"});
  ASSERT_EQ(table.exit_code, 0) << table.err;
  EXPECT_THAT(table.out, HasSubstr("aws-anthropic"));
  EXPECT_THAT(table.out, HasSubstr("(aws) → amazon"));
  EXPECT_THAT(table.out, HasSubstr("cloud-provider"));
  EXPECT_THAT(table.out, HasSubstr("primary"));

  CliResult json = Json({"partners", "anthropic"});
  ASSERT_EQ(json.exit_code, 0) << json.err;
  bool rolled_up = false;
  const auto partners = FromJson<v1::ListPartnershipsResponse>(json.out);
  for (const v1::Partnership& p : partners.partnerships()) {
    for (const v1::PartnerView& party : p.parties()) {
      rolled_up |= p.partnership_id() == "aws-anthropic" && party.org_id() == "aws" &&
                   party.rolled_up_to() == "amazon";
    }
  }
  EXPECT_TRUE(rolled_up) << json.out;
}

// --- Timeline, valuations ------------------------------------------------------------

TEST_F(QueryTest, TimelineIsOrderedByEffectiveDateAndPaged) {
  CliResult json = Json({"timeline", "openai"});
  ASSERT_EQ(json.exit_code, 0) << json.err;
  const auto r = FromJson<v1::GetTimelineResponse>(json.out);
  ASSERT_GT(r.entries_size(), 10);
  EXPECT_EQ(r.entries(0).event_type(), "OrganizationRegistered");
  for (int i = 1; i < r.entries_size(); ++i) {
    const v1::Date& a = r.entries(i - 1).effective().date();
    const v1::Date& b = r.entries(i).effective().date();
    EXPECT_LE(std::make_tuple(a.year(), std::max(a.month(), 1)),
              std::make_tuple(b.year(), std::max(b.month(), 1)))
        << "entry " << i;
  }

  CliResult table = Query({"timeline", "openai"});
  ASSERT_EQ(table.exit_code, 0) << table.err;
  const std::vector<std::string> lines = absl::StrSplit(table.out, '\n');
  ASSERT_GT(lines.size(), 3u);
  EXPECT_THAT(lines[1], HasSubstr("EFFECTIVE"));
  EXPECT_TRUE(absl::StartsWith(lines[2], "2015")) << lines[2];  // founded 2015, first
  EXPECT_THAT(lines[2], HasSubstr("OrganizationRegistered"));
  EXPECT_THAT(table.out, HasSubstr("up to $50.0B"));

  // Paged: --limit 3 gives a token, and the next page goes on from there.
  CliResult page1 = Json({"timeline", "openai", "--limit", "3"});
  ASSERT_EQ(page1.exit_code, 0) << page1.err;
  const auto p1 = FromJson<v1::GetTimelineResponse>(page1.out);
  ASSERT_EQ(p1.entries_size(), 3);
  ASSERT_FALSE(p1.next_page_token().empty());
  CliResult page2 =
      Json({"timeline", "openai", "--limit", "3", "--page-token", p1.next_page_token()});
  ASSERT_EQ(page2.exit_code, 0) << page2.err;
  const auto p2 = FromJson<v1::GetTimelineResponse>(page2.out);
  ASSERT_GT(p2.entries_size(), 0);
  EXPECT_EQ(p2.entries(0).position(), r.entries(3).position());
  CliResult table_page = Query({"timeline", "openai", "--limit", "3"});
  EXPECT_THAT(table_page.out, HasSubstr("--page-token " + p1.next_page_token()));
}

TEST_F(QueryTest, ValuationsOfOpenAIIncludeTheReportedRange) {
  CliResult json = Json({"valuations", "openai"});
  ASSERT_EQ(json.exit_code, 0) << json.err;
  const auto r = FromJson<v1::GetValuationHistoryResponse>(json.out);
  EXPECT_GE(r.points_size(), 3);
  bool up_to_830 = false;
  for (const v1::ValuationPoint& p : r.points()) {
    up_to_830 |= p.valuation().units() == 830 * kBillion && p.bound() == v1::AMOUNT_BOUND_UP_TO;
  }
  EXPECT_TRUE(up_to_830) << json.out;

  CliResult table = Query({"valuations", "openai"});
  ASSERT_EQ(table.exit_code, 0) << table.err;
  EXPECT_THAT(table.out, HasSubstr("up to $830.0B"));
  EXPECT_THAT(table.out, HasSubstr("at least $500.0B"));
  EXPECT_THAT(table.out, HasSubstr("primary-round"));
}

// --- Deals ---------------------------------------------------------------------------

TEST_F(QueryTest, DealIsOverdueOnlyAfterItsExpectedClose) {
  CliResult before = Json({"deal", "amazon-openai-2026", "--effective-on", "2026-03-31"});
  ASSERT_EQ(before.exit_code, 0) << before.err;
  const auto b = FromJson<v1::GetDealResponse>(before.out).deal();
  EXPECT_EQ(b.stage(), v1::DEAL_STAGE_IN_TALKS);
  EXPECT_FALSE(b.overdue());
  CliResult after = Json({"deal", "amazon-openai-2026", "--effective-on", "2026-04-01"});
  ASSERT_EQ(after.exit_code, 0) << after.err;
  EXPECT_TRUE(FromJson<v1::GetDealResponse>(after.out).deal().overdue());

  CliResult table = Query({"deal", "amazon-openai-2026", "--effective-on", "2026-04-01"});
  ASSERT_EQ(table.exit_code, 0) << table.err;
  EXPECT_THAT(table.out, HasSubstr("in-talks"));
  EXPECT_THAT(table.out, HasSubstr("2026-Q1 overdue"));
  EXPECT_THAT(table.out, HasSubstr("up to $50.0B"));
  EXPECT_THAT(table.out, HasSubstr("Stage history"));
  CliResult not_yet = Query({"deal", "amazon-openai-2026", "--effective-on", "2026-03-31"});
  ASSERT_EQ(not_yet.exit_code, 0) << not_yet.err;
  EXPECT_THAT(not_yet.out, Not(HasSubstr("2026-Q1 overdue")));
}

TEST_F(QueryTest, DealsFilterByStageInvestorAndOverdue) {
  CliResult overdue =
      Json({"deals", "--investor", "amazon", "--overdue", "--effective-on", "2026-06-01"});
  ASSERT_EQ(overdue.exit_code, 0) << overdue.err;
  const auto o = FromJson<v1::ListDealsResponse>(overdue.out);
  ASSERT_EQ(o.deals_size(), 1) << overdue.out;
  EXPECT_EQ(o.deals(0).deal_id(), "amazon-openai-2026");

  CliResult in_talks = Json({"deals", "--stage", "in-talks"});
  ASSERT_EQ(in_talks.exit_code, 0) << in_talks.err;
  const auto t = FromJson<v1::ListDealsResponse>(in_talks.out);
  std::set<std::string> ids;
  for (const v1::Deal& d : t.deals()) {
    EXPECT_EQ(d.stage(), v1::DEAL_STAGE_IN_TALKS) << d.deal_id();
    ids.insert(d.deal_id());
  }
  EXPECT_TRUE(ids.contains("amazon-openai-2026")) << in_talks.out;
  CliResult closed = Json({"deals", "--stage", "CLOSED", "--investor", "amazon"});
  ASSERT_EQ(closed.exit_code, 0) << closed.err;
  const auto closed_deals = FromJson<v1::ListDealsResponse>(closed.out);
  ASSERT_GT(closed_deals.deals_size(), 0) << closed.out;  // Amazon's Anthropic investments
  for (const v1::Deal& d : closed_deals.deals()) {
    EXPECT_EQ(d.stage(), v1::DEAL_STAGE_CLOSED);
    EXPECT_NE(d.deal_id(), "amazon-openai-2026");
  }

  CliResult table = Query({"deals", "--company", "openai", "--effective-on", "2026-06-01"});
  ASSERT_EQ(table.exit_code, 0) << table.err;
  EXPECT_THAT(table.out, HasSubstr("openai-2026-round"));
  EXPECT_THAT(table.out, HasSubstr("amazon-openai-2026"));
  EXPECT_THAT(table.out, HasSubstr("overdue"));
  EXPECT_THAT(table.out, Not(HasSubstr("anthropic-series-e")));

  CliResult bad = Cli({"deals", "--stage", "sideways"});
  EXPECT_EQ(bad.exit_code, 2) << bad.err;
  EXPECT_THAT(bad.err, HasSubstr("--stage"));
  EXPECT_THAT(bad.err, HasSubstr("in-talks"));
}

// --- Summary, organizations ------------------------------------------------------------

TEST_F(QueryTest, SummaryKeepsCurrenciesApartAndListsLargestDeals) {
  CliResult json = Json({"summary"});
  ASSERT_EQ(json.exit_code, 0) << json.err;
  const auto r = FromJson<v1::GetMarketSummaryResponse>(json.out);
  ASSERT_GT(r.buckets_size(), 0);
  for (const v1::SummaryBucket& b : r.buckets()) EXPECT_FALSE(b.total().currency_code().empty());
  ASSERT_GT(r.largest_deals_size(), 0);
  EXPECT_EQ(r.largest_deals(0).deal_id(), "openai-2026-round");

  CliResult table = Query({"summary"});
  ASSERT_EQ(table.exit_code, 0) << table.err;
  EXPECT_THAT(table.out, HasSubstr("per currency"));
  EXPECT_THAT(table.out, HasSubstr("QUARTER"));
  EXPECT_THAT(table.out, HasSubstr("2026-Q1"));
  EXPECT_THAT(table.out, HasSubstr("ai-foundation-models"));
  EXPECT_THAT(table.out, HasSubstr("$"));
  EXPECT_THAT(table.out, HasSubstr("Largest deals"));
  EXPECT_THAT(table.out, HasSubstr("openai-2026-round"));

  // --by quarter folds stages and kinds together (per sector, per currency).
  CliResult by_quarter = Query({"summary", "--by", "quarter"});
  ASSERT_EQ(by_quarter.exit_code, 0) << by_quarter.err;
  const std::vector<std::string> lines = absl::StrSplit(by_quarter.out, '\n');
  ASSERT_GT(lines.size(), 2u);
  EXPECT_THAT(lines[1], HasSubstr("QUARTER"));
  EXPECT_THAT(lines[1], HasSubstr("SECTOR"));
  EXPECT_THAT(lines[1], Not(HasSubstr("STAGE")));
  EXPECT_LT(by_quarter.out.size(), table.out.size());

  CliResult from = Json({"summary", "--from", "2026-Q1"});
  ASSERT_EQ(from.exit_code, 0) << from.err;
  const auto from_2026 = FromJson<v1::GetMarketSummaryResponse>(from.out);
  ASSERT_GT(from_2026.buckets_size(), 0) << from.out;
  for (const v1::SummaryBucket& b : from_2026.buckets()) {
    EXPECT_GE(b.quarter().date().year(), 2026);
  }
  CliResult bad = Cli({"summary", "--from", "2026-13"});
  EXPECT_EQ(bad.exit_code, 2) << bad.err;
  EXPECT_THAT(bad.err, HasSubstr("--from"));
}

TEST_F(QueryTest, OrgGetAndListByPrefix) {
  CliResult table = Query({"org", "get", "amazon"});
  ASSERT_EQ(table.exit_code, 0) << table.err;
  EXPECT_THAT(table.out, HasSubstr("Amazon (amazon)"));
  EXPECT_THAT(table.out, HasSubstr("cloud-infrastructure"));
  EXPECT_THAT(table.out, HasSubstr("subsidiaries"));
  EXPECT_THAT(table.out, HasSubstr("aws"));
  EXPECT_THAT(table.out, HasSubstr("1994"));

  CliResult json = Json({"org", "get", "aws"});
  ASSERT_EQ(json.exit_code, 0) << json.err;
  EXPECT_EQ(FromJson<v1::GetOrganizationResponse>(json.out).organization().parent_org_id(),
            "amazon");

  CliResult list = Json({"org", "list", "amazon web"});
  ASSERT_EQ(list.exit_code, 0) << list.err;
  const auto l = FromJson<v1::ListOrganizationsResponse>(list.out);
  ASSERT_EQ(l.organizations_size(), 1) << list.out;
  EXPECT_EQ(l.organizations(0).org_id(), "aws");

  CliResult list_table = Query({"org", "list", "amazon web"});
  ASSERT_EQ(list_table.exit_code, 0) << list_table.err;
  EXPECT_THAT(list_table.out, HasSubstr("AWS"));
  EXPECT_THAT(list_table.out, HasSubstr("Amazon Web Services"));  // the alias that matched
  EXPECT_THAT(list_table.out, Not(HasSubstr("anthropic")));

  CliResult page = Query({"org", "list", "--limit", "2"});
  ASSERT_EQ(page.exit_code, 0) << page.err;
  EXPECT_THAT(page.out, HasSubstr("--page-token"));
  CliResult kind = Json({"org", "list", "--kind", "sovereign-fund"});
  ASSERT_EQ(kind.exit_code, 0) << kind.err;
  const auto k = FromJson<v1::ListOrganizationsResponse>(kind.out);
  EXPECT_GT(k.organizations_size(), 0) << kind.out;
  for (const v1::Organization& o : k.organizations()) {
    EXPECT_EQ(o.kind(), v1::ORGANIZATION_KIND_SOVEREIGN_FUND);
  }
}

// --- Admin -------------------------------------------------------------------------------

TEST_F(QueryTest, AdminStatsShowsPositions) {
  CliResult json = Cli({"admin", "stats", "--output", "json"});
  ASSERT_EQ(json.exit_code, 0) << json.err;
  const auto r = FromJson<v1::GetStatsResponse>(json.out);
  EXPECT_GE(r.last_position(), last_);
  EXPECT_GE(r.projection_position(), last_);
  EXPECT_GE(r.organizations(), 10u);

  CliResult table = Cli({"admin", "stats", "--digest"});
  ASSERT_EQ(table.exit_code, 0) << table.err;
  EXPECT_THAT(table.out, HasSubstr("last position"));
  EXPECT_THAT(table.out, HasSubstr(absl::StrCat(r.last_position())));
  EXPECT_THAT(table.out, HasSubstr("projection position"));
  EXPECT_THAT(table.out, HasSubstr("state digest"));
  EXPECT_THAT(table.out, HasSubstr("InvestmentReported"));
}

TEST_F(QueryTest, AdminRebuildReportsIdentical) {
  CliResult table = Cli({"admin", "rebuild"});
  ASSERT_EQ(table.exit_code, 0) << table.out << table.err;
  EXPECT_THAT(table.out, HasSubstr("identical"));
  EXPECT_THAT(table.out, HasSubstr("events folded"));

  CliResult json = Cli({"admin", "rebuild", "--output", "json"});
  ASSERT_EQ(json.exit_code, 0) << json.out << json.err;
  std::vector<std::string> lines = absl::StrSplit(json.out, '\n', absl::SkipEmpty());
  ASSERT_FALSE(lines.empty());
  v1::RebuildProjectionsResponse last;
  for (const std::string& line : lines) {
    ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(line, &last).ok()) << line;
  }
  ASSERT_TRUE(last.has_done()) << json.out;
  EXPECT_TRUE(last.done().identical());
  EXPECT_GE(last.done().position(), last_);

  // The state answers as before.
  CliResult after = Json({"cap-table", "openai", "--include-pending"});
  ASSERT_EQ(after.exit_code, 0) << after.err;
  EXPECT_NE(Holder(FromJson<v1::GetCapTableResponse>(after.out).cap_table(), "amazon"), nullptr);
}

// --- Every command, both modes -------------------------------------------------------------

struct CommandCase {
  std::vector<std::string> args;
  std::function<bool(const std::string&)> parses;
  std::string table_mentions;
};

TEST_F(QueryTest, EveryCommandAnswersInBothOutputModes) {
  const std::vector<CommandCase> cases = {
      {{"org", "get", "openai"}, ParsesAs<v1::GetOrganizationResponse>, "OpenAI (openai)"},
      {{"org", "list", "open"}, ParsesAs<v1::ListOrganizationsResponse>, "OpenAI"},
      {{"cap-table", "anthropic"}, ParsesAs<v1::GetCapTableResponse>, "Amazon (amazon)"},
      {{"portfolio", "microsoft"}, ParsesAs<v1::GetPortfolioResponse>, "OpenAI (openai)"},
      {{"timeline", "anthropic"}, ParsesAs<v1::GetTimelineResponse>, "OrganizationRegistered"},
      {{"valuations", "anthropic"}, ParsesAs<v1::GetValuationHistoryResponse>, "$183.0B"},
      {{"deal", "anthropic-series-f"}, ParsesAs<v1::GetDealResponse>, "round"},
      {{"deals", "--company", "anthropic"}, ParsesAs<v1::ListDealsResponse>, "anthropic-series-e"},
      {{"partners", "amazon"}, ParsesAs<v1::ListPartnershipsResponse>, "aws-anthropic"},
      {{"exposure", "microsoft"}, ParsesAs<v1::GetExposureResponse>, "ai-foundation-models"},
      {{"summary", "--by", "stage,kind"}, ParsesAs<v1::GetMarketSummaryResponse>, "closed"},
  };
  for (const CommandCase& c : cases) {
    SCOPED_TRACE(absl::StrJoin(c.args, " "));
    CliResult table = Query(c.args);
    ASSERT_EQ(table.exit_code, 0) << table.err;
    EXPECT_THAT(table.out, HasSubstr(c.table_mentions));
    EXPECT_FALSE(c.parses(table.out)) << "table mode printed JSON";
    CliResult json = Json(c.args);
    ASSERT_EQ(json.exit_code, 0) << json.err;
    EXPECT_TRUE(c.parses(json.out)) << json.out;
  }
}

// --- Errors, help --------------------------------------------------------------------------

TEST_F(QueryTest, BadInputIsRefusedBeforeAnythingIsSent) {
  SilentListener listener;
  CliResult bad = RunCli({"--server", listener.address(), "--timeout", "2", "cap-table", "openai",
                          "--effective-on", "2026-02-30"});
  EXPECT_EQ(bad.exit_code, 2) << bad.out << bad.err;
  EXPECT_THAT(bad.err, HasSubstr("--effective-on"));
  EXPECT_TRUE(bad.out.empty()) << bad.out;
  EXPECT_FALSE(listener.HasPendingConnection()) << "bad input reached the network";

  struct BadCase {
    std::vector<std::string> args;
    std::string flag;  // the error names it
  };
  for (const BadCase& c : std::vector<BadCase>{
           {{"timeline", "openai", "--min-confidence", "sure"}, "--min-confidence"},
           {{"deals", "--as-of-position", "ten"}, "--as-of-position"},
           {{"portfolio", "amazon", "--as-of-time", "yesterday"}, "--as-of-time"},
           {{"cap-table", "openai", "--as-of-position", "3", "--as-of-time", "2026-01-28"},
            "--as-of-time"},
           {{"org", "list", "--kind", "person"}, "--kind"},
       }) {
    std::vector<std::string> full = {"--server", listener.address(), "--timeout", "2"};
    full.insert(full.end(), c.args.begin(), c.args.end());
    CliResult r = RunCli(full);
    EXPECT_EQ(r.exit_code, 2) << absl::StrJoin(c.args, " ") << ": " << r.err;
    EXPECT_THAT(r.err, HasSubstr(c.flag)) << absl::StrJoin(c.args, " ");
  }
  EXPECT_FALSE(listener.HasPendingConnection()) << "bad input reached the network";

  // The control: a valid query does connect (and times out on the silent
  // listener, which is "unreachable": exit 3).
  CliResult good =
      RunCli({"--server", listener.address(), "--timeout", "1", "org", "get", "openai"});
  EXPECT_EQ(good.exit_code, 3) << good.err;
  EXPECT_TRUE(listener.HasPendingConnection());
}

TEST_F(QueryTest, UnknownOrganizationIsNotFound) {
  CliResult r = Cli({"cap-table", "nobody"});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_THAT(r.err, HasSubstr("NOT_FOUND"));
  CliResult org = Cli({"org", "get", "nobody", "--output", "json"});
  EXPECT_EQ(org.exit_code, 1);
  EXPECT_THAT(org.err, HasSubstr("NOT_FOUND"));
  EXPECT_TRUE(org.out.empty()) << org.out;
}

TEST_F(QueryTest, UnreachableServerExitsThree) {
  int port = 0;
  {
    SilentListener closed;  // bound, then closed: nothing listens there
    port = closed.port();
  }
  for (const std::vector<std::string>& args :
       std::vector<std::vector<std::string>>{{"cap-table", "openai"}, {"admin", "rebuild"}}) {
    std::vector<std::string> full = {"--server", absl::StrCat("127.0.0.1:", port), "--timeout",
                                     "2"};
    full.insert(full.end(), args.begin(), args.end());
    CliResult r = RunCli(full);
    EXPECT_EQ(r.exit_code, 3) << absl::StrJoin(args, " ") << ": " << r.err;
    EXPECT_THAT(r.err, HasSubstr(absl::StrCat("127.0.0.1:", port)));
  }
}

// Runs `dealwire args` on a pseudo-terminal (util-linux script(1)) with
// `env` (e.g. "-u NO_COLOR" or "NO_COLOR=1") and returns what it printed.
std::string OnTerminal(const std::string& env, const std::vector<std::string>& args) {
  std::string command = CliPath();
  for (const std::string& a : args) absl::StrAppend(&command, " '", a, "'");
  const std::string shell =
      absl::StrCat("env ", env, " script -qec \"", command, "\" /dev/null 2>&1 </dev/null");
  std::string out;
  if (FILE* pipe = popen(shell.c_str(), "r")) {
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, pipe)) > 0) out.append(buf, n);
    pclose(pipe);
  }
  return out;
}

TEST_F(QueryTest, ColourOnlyOnATerminalAndNeverWithNoColor) {
  const std::vector<std::string> args = {"--server", server_->address(), "cap-table", "openai",
                                         "--min-position", absl::StrCat(last_)};
  const std::string coloured = OnTerminal("-u NO_COLOR", args);
  ASSERT_THAT(coloured, HasSubstr("Microsoft")) << coloured;
  EXPECT_THAT(coloured, HasSubstr("\x1b[1m"));  // bold headers
  const std::string plain = OnTerminal("NO_COLOR=1", args);
  ASSERT_THAT(plain, HasSubstr("Microsoft")) << plain;
  EXPECT_THAT(plain, Not(HasSubstr("\x1b[")));
  CliResult piped = Query({"cap-table", "openai"});
  ASSERT_EQ(piped.exit_code, 0) << piped.err;
  EXPECT_THAT(piped.out, Not(HasSubstr("\x1b[")));
}

TEST_F(QueryTest, EveryCommandHasHelpWithAnExample) {
  for (const std::vector<std::string>& cmd :
       std::vector<std::vector<std::string>>{{"org"},
                                             {"org", "get"},
                                             {"org", "list"},
                                             {"cap-table"},
                                             {"portfolio"},
                                             {"timeline"},
                                             {"valuations"},
                                             {"deal"},
                                             {"deals"},
                                             {"partners"},
                                             {"exposure"},
                                             {"summary"},
                                             {"admin"},
                                             {"admin", "stats"},
                                             {"admin", "rebuild"}}) {
    std::vector<std::string> args = cmd;
    args.push_back("--help");
    CliResult r = RunCli(args);
    EXPECT_EQ(r.exit_code, 0) << absl::StrJoin(cmd, " ") << ": " << r.err;
    EXPECT_THAT(r.out, HasSubstr("Example")) << absl::StrJoin(cmd, " ");
    EXPECT_THAT(r.out, HasSubstr("dealwire " + absl::StrJoin(cmd, " "))) << absl::StrJoin(cmd, " ");
  }
  CliResult cap = RunCli({"cap-table", "--help"});
  EXPECT_THAT(cap.out, HasSubstr("--as-of-position"));
  EXPECT_THAT(cap.out, HasSubstr("--include-pending"));
}

}  // namespace
}  // namespace dealwire::cli_test
