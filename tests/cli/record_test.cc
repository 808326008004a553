// End-to-end tests of `dealwire record …`: the real dealwire binary against a
// real dealwired (127.0.0.1, port 0, fresh data directory per test). Each test
// checks what was stored through the EventStore API, not only the CLI's
// output.
#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "dealwire/v1/event_store.grpc.pb.h"
#include "dealwire/v1/events.pb.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "tests/cli/cli_runner.h"
#include "tests/integration/test_util.h"

namespace dealwire::cli_test {
namespace {

namespace v1 = ::dealwire::v1;
using ::testing::HasSubstr;
using ::testing::Not;

class RecordTest : public integration::ServerTest {
 protected:
  // Runs dealwire against this test's server.
  CliResult Run(std::vector<std::string> args) {
    args.insert(args.begin(), {"--server", server().address()});
    return RunCli(args);
  }

  // Registers a company through the CLI.
  void RecordOrg(const std::string& id, const std::string& kind = "company") {
    CliResult r = Run({"record", "org", "--id", id, "--name", id, "--kind", kind, "--founded",
                       "2015", "--confidence", "official"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }

  // Every event of `stream` (empty when the stream does not exist).
  std::vector<v1::Event> Stream(const std::string& stream) {
    v1::ReadStreamRequest req;
    req.set_stream(stream);
    absl::StatusOr<std::vector<v1::Event>> events = integration::ReadWholeStream(stub(), req);
    if (!events.ok()) {
      EXPECT_EQ(events.status().code(), absl::StatusCode::kNotFound) << events.status();
      return {};
    }
    return *events;
  }

  // The position of the log's last event (0 when empty).
  uint64_t LastPosition() {
    v1::ReadAllRequest req;
    req.set_direction(v1::DIRECTION_BACKWARDS);
    req.set_page_size(1);
    absl::StatusOr<v1::ReadAllResponse> r = integration::ReadAll(stub(), req);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? r->last_position() : 0;
  }
};

const std::vector<std::string> kIssueExample = {
    "record",       "investment", "--investor", "amazon",   "--company",
    "openai",       "--amount",   "50B USD",    "--stage",  "in-talks",
    "--effective",  "2026-01",    "--source",   "https://www.example.com/amazon-openai",
    "--confidence", "reported"};

TEST_F(RecordTest, TheIssueExampleStoresExactlyThatInvestment) {
  RecordOrg("amazon");
  RecordOrg("openai");
  CliResult r = Run(kIssueExample);
  ASSERT_EQ(r.exit_code, 0) << r.err;

  const std::vector<v1::Event> events = Stream("deal/amazon-openai-2026");
  ASSERT_EQ(events.size(), 1u);
  const v1::Event& e = events[0];
  ASSERT_TRUE(e.payload().has_investment_reported()) << e.DebugString();
  const v1::InvestmentReported& inv = e.payload().investment_reported();
  EXPECT_EQ(inv.investment_id(), "amazon-openai-2026");
  EXPECT_EQ(inv.investor_id(), "amazon");
  EXPECT_EQ(inv.company_id(), "openai");
  EXPECT_EQ(inv.amount().currency_code(), "USD");
  EXPECT_EQ(inv.amount().units(), 50'000'000'000);
  EXPECT_EQ(inv.amount().nanos(), 0);
  EXPECT_EQ(inv.stage(), v1::DEAL_STAGE_IN_TALKS);
  EXPECT_EQ(inv.instrument(), v1::INSTRUMENT_EQUITY);
  EXPECT_EQ(e.effective().precision(), v1::DATE_PRECISION_MONTH);
  EXPECT_EQ(e.effective().date().year(), 2026);
  EXPECT_EQ(e.effective().date().month(), 1);
  EXPECT_EQ(e.effective().date().day(), 0);
  EXPECT_EQ(e.confidence(), v1::CONFIDENCE_REPORTED);
  ASSERT_EQ(e.sources_size(), 1);
  EXPECT_EQ(e.sources(0).url(), "https://www.example.com/amazon-openai");
  EXPECT_EQ(e.sources(0).publisher(), "example.com");

  // The confirmation names the event id, stream and position.
  EXPECT_THAT(r.out, HasSubstr("Recorded InvestmentReported"));
  EXPECT_THAT(r.out, HasSubstr(e.event_id()));
  EXPECT_THAT(r.out, HasSubstr("deal/amazon-openai-2026"));
  EXPECT_THAT(r.out, HasSubstr(absl::StrCat(e.position())));
  EXPECT_EQ(LastPosition(), e.position());
}

TEST_F(RecordTest, JsonOutputIsTheAppendResponse) {
  RecordOrg("amazon");
  RecordOrg("anthropic");
  CliResult r = Run({"-o", "json", "record", "investment", "--investor", "amazon", "--company",
                     "anthropic", "--amount", "at least $8,000,000,000", "--stage", "closed",
                     "--instrument", "equity", "--effective", "2024-Q4", "--confidence",
                     "confirmed", "--source", "https://example.com/x", "--publisher", "Reuters",
                     "--title", "Amazon completes", "--published", "2024-11-22"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  v1::AppendResponse resp;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(r.out, &resp).ok()) << r.out;
  const std::vector<v1::Event> events = Stream("deal/amazon-anthropic-2024");
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(resp.first_position(), events[0].position());
  EXPECT_FALSE(resp.duplicate());
  const v1::InvestmentReported& inv = events[0].payload().investment_reported();
  EXPECT_EQ(inv.amount().units(), 8'000'000'000);
  EXPECT_EQ(inv.amount_bound(), v1::AMOUNT_BOUND_AT_LEAST);
  EXPECT_EQ(inv.stage(), v1::DEAL_STAGE_CLOSED);
  EXPECT_EQ(events[0].effective().precision(), v1::DATE_PRECISION_QUARTER);
  EXPECT_EQ(events[0].effective().date().month(), 10);
  ASSERT_EQ(events[0].sources_size(), 1);
  EXPECT_EQ(events[0].sources(0).publisher(), "Reuters");
  EXPECT_EQ(events[0].sources(0).title(), "Amazon completes");
  EXPECT_EQ(events[0].sources(0).published_date().day(), 22);
}

TEST_F(RecordTest, BadInputIsRefusedBeforeAnythingIsSent) {
  RecordOrg("amazon");
  RecordOrg("openai");
  const uint64_t before = LastPosition();
  struct Case {
    std::string flag, value, named;
  };
  for (const Case& c : std::vector<Case>{{"--amount", "50X USD", "--amount"},
                                         {"--amount", "-5B USD", "--amount"},
                                         {"--amount", "50B ABC", "--amount"},
                                         {"--effective", "2026-13", "--effective"},
                                         {"--effective", "2026-02-30", "--effective"},
                                         {"--stage", "negotiating", "--stage"},
                                         {"--confidence", "likely", "--confidence"},
                                         {"--source", "not-a-url", "--source"},
                                         {"--event-id", "1234", "--event-id"},
                                         {"--investor", "Amazon Inc", "--investor"}}) {
    SCOPED_TRACE(c.flag + " " + c.value);
    std::vector<std::string> args = kIssueExample;
    for (size_t i = 0; i + 1 < args.size(); ++i) {
      if (args[i] == c.flag) args[i + 1] = c.value;
    }
    if (c.flag == "--event-id") args.insert(args.end(), {c.flag, c.value});
    CliResult r = Run(args);
    EXPECT_EQ(r.exit_code, 2) << r.err;
    EXPECT_THAT(r.err, HasSubstr(c.named));
    EXPECT_EQ(r.out, "");
  }
  // A required flag missing.
  CliResult r = Run({"record", "investment", "--investor", "amazon", "--company", "openai",
                     "--stage", "in-talks", "--confidence", "reported"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("--effective"));
  r = Run({"record", "investment", "--investor", "amazon", "--company", "openai", "--stage",
           "in-talks", "--effective", "2026-01"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("--confidence"));
  EXPECT_EQ(LastPosition(), before);
}

TEST_F(RecordTest, UnknownOrganizationIsTheServersRefusal) {
  RecordOrg("amazon");
  const uint64_t before = LastPosition();
  CliResult r = Run(kIssueExample);  // openai is not registered
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_THAT(r.err, HasSubstr("FAILED_PRECONDITION"));
  EXPECT_THAT(r.err, HasSubstr("openai"));
  EXPECT_EQ(LastPosition(), before);
  EXPECT_TRUE(Stream("deal/amazon-openai-2026").empty());
}

TEST_F(RecordTest, TheSameEventIdAppendsNothingNew) {
  RecordOrg("amazon");
  RecordOrg("openai");
  const std::string id = "0b6f2c1e-7d4a-4e8b-9a51-3c2d1f0e9b7a";
  std::vector<std::string> args = kIssueExample;
  args.insert(args.end(), {"--event-id", id});
  CliResult first = Run(args);
  ASSERT_EQ(first.exit_code, 0) << first.err;
  const uint64_t after_first = LastPosition();
  CliResult again = Run(args);
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_THAT(again.out, HasSubstr("Already recorded"));
  EXPECT_THAT(again.out, HasSubstr(id));
  EXPECT_EQ(LastPosition(), after_first);
  const std::vector<v1::Event> events = Stream("deal/amazon-openai-2026");
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].event_id(), id);

  // The same id for different content is the server's refusal.
  args[6 + 1] = "40B USD";
  ASSERT_EQ(args[6], "--amount");
  CliResult different = Run(args);
  EXPECT_EQ(different.exit_code, 1);
  EXPECT_THAT(different.err, HasSubstr("ALREADY_EXISTS"));
  EXPECT_EQ(LastPosition(), after_first);
}

TEST_F(RecordTest, DryRunPrintsTheEventAndSendsNothing) {
  RecordOrg("amazon");
  RecordOrg("openai");
  const uint64_t before = LastPosition();
  std::vector<std::string> args = kIssueExample;
  args.push_back("--dry-run");
  CliResult r = Run(args);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  v1::Event e;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(r.out, &e).ok()) << r.out;
  EXPECT_EQ(e.stream(), "deal/amazon-openai-2026");
  EXPECT_EQ(e.payload().investment_reported().amount().units(), 50'000'000'000);
  EXPECT_EQ(e.event_id().size(), 36u);
  EXPECT_EQ(LastPosition(), before);
  EXPECT_TRUE(Stream("deal/amazon-openai-2026").empty());
}

TEST_F(RecordTest, EveryEventTypeRecordsOnItsConventionalStream) {
  RecordOrg("amazon");
  RecordOrg("aws");
  RecordOrg("openai");
  RecordOrg("anthropic");
  RecordOrg("microsoft");
  auto ok = [&](std::vector<std::string> args) {
    CliResult r = Run(args);
    EXPECT_EQ(r.exit_code, 0) << absl::StrJoin(args, " ") << "\n" << r.err;
    return r;
  };
  ok({"record", "org-update", "--id", "aws", "--parent", "amazon", "--add-alias",
      "Amazon Web Services", "--effective", "2006", "--confidence", "official"});
  ok({"record", "round", "--company", "openai", "--label", "strategic", "--stage", "in-talks",
      "--target", "about 100B USD", "--expected-close", "2026-Q1", "--effective", "2026-01",
      "--confidence", "reported"});
  ok({"record", "valuation", "--company", "openai", "--valuation", "up to $830B", "--basis",
      "estimate", "--round", "openai-strategic-2026", "--effective", "2026-01", "--confidence",
      "reported"});
  ok({"record", "stake", "--holder", "microsoft", "--company", "openai", "--ownership", "27%",
      "--qualifier", "substantial", "--effective", "2025-10-28", "--confidence", "official"});
  ok({"record", "partnership", "--party", "aws:cloud-provider,training-provider", "--party",
      "anthropic:customer", "--primary", "--effective", "2023-09-25", "--confidence", "official"});
  ok({"record", "facility", "--id", "aws-indiana-campus", "--owner", "aws", "--beneficiary",
      "anthropic", "--location", "New Carlisle, Indiana, US", "--amount", "$11B", "--effective",
      "2024-04", "--confidence", "official"});
  ok({"record", "fx", "--base", "EUR", "--quote", "USD", "--rate", "1.0842", "--effective",
      "2026-01-28", "--confidence", "official"});
  ok({"record", "acquisition", "--acquirer", "amazon", "--target", "anthropic", "--price",
      "€4.5M", "--stage", "rumored", "--effective", "2026", "--confidence", "rumored"});
  ok({"record", "stage", "--deal", "amazon-anthropic-2026", "--stage", "collapsed", "--reason",
      "talks ended", "--effective", "2026-02", "--confidence", "reported"});
  ok({"record", "partnership-end", "--id", "aws-anthropic", "--reason", "test", "--effective",
      "2027", "--confidence", "confirmed"});

  std::vector<v1::Event> org = Stream("org/aws");
  ASSERT_EQ(org.size(), 2u);
  EXPECT_EQ(org[1].payload().organization_updated().parent_org_id(), "amazon");
  EXPECT_TRUE(org[1].payload().organization_updated().has_parent_org_id());
  EXPECT_FALSE(org[1].payload().organization_updated().has_name());

  std::vector<v1::Event> round = Stream("deal/openai-strategic-2026");
  ASSERT_EQ(round.size(), 1u);
  const v1::FundingRoundReported& fr = round[0].payload().funding_round_reported();
  EXPECT_EQ(fr.label(), "strategic");
  EXPECT_EQ(fr.target_amount().units(), 100'000'000'000);
  EXPECT_EQ(fr.target_amount_bound(), v1::AMOUNT_BOUND_APPROXIMATE);
  EXPECT_EQ(fr.expected_close().precision(), v1::DATE_PRECISION_QUARTER);

  std::vector<v1::Event> openai = Stream("org/openai");
  ASSERT_EQ(openai.size(), 3u);  // registered, valuation, stake
  EXPECT_EQ(openai[1].payload().valuation_reported().valuation().units(), 830'000'000'000);
  EXPECT_EQ(openai[1].payload().valuation_reported().valuation_bound(), v1::AMOUNT_BOUND_UP_TO);
  EXPECT_EQ(openai[1].payload().valuation_reported().basis(), v1::VALUATION_BASIS_ESTIMATE);
  const v1::OwnershipFraction& f = openai[2].payload().stake_disclosed().ownership();
  EXPECT_EQ(f.exact().parts_per_million(), 270'000);
  EXPECT_EQ(f.qualifier(), "substantial");

  std::vector<v1::Event> partnership = Stream("partnership/aws-anthropic");
  ASSERT_EQ(partnership.size(), 2u);
  EXPECT_EQ(partnership[0].payload().partnership_formed().parties_size(), 3);
  EXPECT_TRUE(partnership[0].payload().partnership_formed().primary());
  EXPECT_TRUE(partnership[1].payload().has_partnership_ended());

  std::vector<v1::Event> facility = Stream("facility/aws-indiana-campus");
  ASSERT_EQ(facility.size(), 1u);
  EXPECT_EQ(facility[0].payload().facility_announced().amount().units(), 11'000'000'000);

  std::vector<v1::Event> fx = Stream("fx/EUR-USD");
  ASSERT_EQ(fx.size(), 1u);
  EXPECT_EQ(fx[0].payload().fx_rate_reported().rate().units(), 1);
  EXPECT_EQ(fx[0].payload().fx_rate_reported().rate().nanos(), 84'200'000);

  std::vector<v1::Event> acq = Stream("deal/amazon-anthropic-2026");
  ASSERT_EQ(acq.size(), 2u);
  EXPECT_EQ(acq[0].payload().acquisition_reported().price().currency_code(), "EUR");
  EXPECT_EQ(acq[0].payload().acquisition_reported().price().units(), 4'500'000);
  EXPECT_EQ(acq[1].payload().deal_stage_changed().new_stage(), v1::DEAL_STAGE_COLLAPSED);

  // A collapsed deal cannot move on: the server refuses (exit 1).
  CliResult back = Run({"record", "stage", "--deal", "amazon-anthropic-2026", "--stage",
                        "agreed", "--effective", "2026-03", "--confidence", "reported"});
  EXPECT_EQ(back.exit_code, 1);
  EXPECT_THAT(back.err, HasSubstr("FAILED_PRECONDITION"));
}

TEST_F(RecordTest, RetractAndCorrectFindTheTargetsStream) {
  RecordOrg("amazon");
  RecordOrg("openai");
  const std::string original = "11111111-2222-4333-8444-555555555555";
  std::vector<std::string> args = kIssueExample;
  args.insert(args.end(), {"--event-id", original});
  ASSERT_EQ(Run(args).exit_code, 0);

  // A replacement of another type is refused before sending.
  CliResult wrong = Run({"record", "correct", original, "--replacement-json",
                         R"({"stakeDisclosed": {"holderId": "amazon", "companyId": "openai",
                             "ownership": {"qualifier": "some"}}})"});
  EXPECT_EQ(wrong.exit_code, 2) << wrong.err;
  EXPECT_THAT(wrong.err, HasSubstr("--replacement-json"));
  CliResult garbage = Run({"record", "correct", original, "--replacement-json", "{nope"});
  EXPECT_EQ(garbage.exit_code, 2);
  EXPECT_THAT(garbage.err, HasSubstr("--replacement-json"));

  CliResult corrected = Run(
      {"record", "correct", original, "--reason", "amount was 40B", "--replacement-json",
       R"({"investmentReported": {"investmentId": "amazon-openai-2026", "investorId": "amazon",
           "companyId": "openai", "amount": {"currencyCode": "USD", "units": "40000000000"},
           "instrument": "INSTRUMENT_EQUITY", "stage": "DEAL_STAGE_IN_TALKS"}})"});
  ASSERT_EQ(corrected.exit_code, 0) << corrected.err;
  std::vector<v1::Event> deal = Stream("deal/amazon-openai-2026");
  ASSERT_EQ(deal.size(), 2u);
  const v1::Event& c = deal[1];
  ASSERT_TRUE(c.payload().has_event_corrected());
  EXPECT_EQ(c.payload().event_corrected().event_id(), original);
  EXPECT_EQ(c.payload().event_corrected().replacement().investment_reported().amount().units(),
            40'000'000'000);
  // The envelope defaults to the original's.
  EXPECT_EQ(c.confidence(), v1::CONFIDENCE_REPORTED);
  EXPECT_EQ(c.effective().precision(), v1::DATE_PRECISION_MONTH);
  ASSERT_EQ(c.sources_size(), 1);
  EXPECT_EQ(c.sources(0).url(), "https://www.example.com/amazon-openai");

  CliResult retracted = Run({"record", "retract", original, "--reason", "denied"});
  ASSERT_EQ(retracted.exit_code, 0) << retracted.err;
  deal = Stream("deal/amazon-openai-2026");
  ASSERT_EQ(deal.size(), 3u);
  EXPECT_EQ(deal[2].payload().event_retracted().event_id(), original);
  EXPECT_EQ(deal[2].confidence(), v1::CONFIDENCE_OFFICIAL);
  EXPECT_EQ(deal[2].effective().precision(), v1::DATE_PRECISION_DAY);

  CliResult unknown = Run({"record", "retract", "99999999-2222-4333-8444-555555555555"});
  EXPECT_EQ(unknown.exit_code, 1);
  EXPECT_THAT(unknown.err, HasSubstr("NOT_FOUND"));
}

TEST_F(RecordTest, EveryRecordCommandHasHelpWithAnExample) {
  for (const char* cmd : {"org", "org-update", "round", "investment", "acquisition", "stage",
                          "valuation", "stake", "partnership", "partnership-end", "facility", "fx",
                          "retract", "correct"}) {
    SCOPED_TRACE(cmd);
    CliResult r = RunCli({"record", cmd, "--help"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_THAT(r.out, HasSubstr("Example"));
    EXPECT_THAT(r.out, HasSubstr(absl::StrCat("dealwire record ", cmd)));
    EXPECT_THAT(r.out, HasSubstr("--dry-run"));
  }
}

}  // namespace
}  // namespace dealwire::cli_test
