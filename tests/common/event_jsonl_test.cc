// Tests of JSON Lines of events (projections/event_jsonl.h) and of the seed
// story written in that format (demo/seed_story.jsonl).
#include "common/event_jsonl.h"

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "common/uuid.h"
#include "domain/validate.h"
#include "tests/bench/domain_rules.h"
#include "tests/common/status_matchers.h"

namespace dealwire::common {
namespace {

namespace v1 = dealwire::v1;
using ::dealwire::test_util::StatusIs;
using ::dealwire::test_util::StatusIsWith;
using ::google::protobuf::util::MessageDifferencer;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

const std::string kSeedPath = std::string(DEALWIRE_SOURCE_DIR) + "/demo/seed_story.jsonl";

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

// What MessageToJsonString gives with the options AppendEventJsonl documents.
std::string ReferenceJson(const v1::Event& e) {
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = false;
  options.always_print_primitive_fields = false;
  std::string out;
  EXPECT_TRUE(google::protobuf::util::MessageToJsonString(e, &out, options).ok());
  return out;
}

v1::Event SmallEvent() {
  v1::Event e;
  e.set_event_id("0b6f2c1e-7d4a-4e8b-9a51-3c2d1f0e9b7a");
  e.set_stream("org/openai");
  e.mutable_effective()->mutable_date()->set_year(2015);
  e.mutable_effective()->set_precision(v1::DATE_PRECISION_YEAR);
  e.set_confidence(v1::CONFIDENCE_OFFICIAL);
  auto* r = e.mutable_payload()->mutable_organization_registered();
  r->set_org_id("openai");
  r->set_name("OpenAI \"the lab\" <ai> & co\n\xc3\xa9");  // escapes and UTF-8
  r->set_kind(v1::ORGANIZATION_KIND_COMPANY);
  return e;
}

// ---------------------------------------------------------------------------
// Format
// ---------------------------------------------------------------------------

TEST(EventJsonlTest, AppendWritesOneCanonicalLine) {
  const v1::Event e = SmallEvent();
  std::string out = "previous\n";
  AppendEventJsonl(e, &out);
  const std::string line = out.substr(9);
  ASSERT_TRUE(absl::EndsWith(line, "\n"));
  EXPECT_EQ(line.find('\n'), line.size() - 1) << "one line only";
  EXPECT_EQ(line, ReferenceJson(e) + "\n");
  EXPECT_THAT(line, StartsWith(R"({"eventId":"0b6f2c1e-7d4a-4e8b-9a51-3c2d1f0e9b7a",)"
                               R"("stream":"org/openai",)"));
  EXPECT_THAT(line, HasSubstr(R"("precision":"DATE_PRECISION_YEAR")"));
  EXPECT_THAT(line, HasSubstr(R"("payload":{"organizationRegistered":{"orgId":"openai")"));
  // Fields at their default value are left out.
  EXPECT_THAT(line, Not(HasSubstr("streamVersion")));
  EXPECT_THAT(line, Not(HasSubstr("parentOrgId")));
  EXPECT_THAT(line, Not(HasSubstr(R"("month")")));

  ASSERT_OK_AND_ASSIGN(std::vector<v1::Event> back, ParseEventsJsonl(line, "x"));
  ASSERT_EQ(back.size(), 1u);
  EXPECT_TRUE(MessageDifferencer::Equals(back[0], e)) << back[0].DebugString();
}

TEST(EventJsonlTest, AppendOfAnEventWithoutJsonFormWritesALineReadersRefuse) {
  v1::Event e = SmallEvent();
  e.mutable_recorded_time()->set_seconds(int64_t{1} << 60);  // beyond year 9999
  std::string out;
  AppendEventJsonl(e, &out);
  EXPECT_THAT(out, StartsWith("!"));
  EXPECT_THAT(out, HasSubstr(e.event_id()));
  EXPECT_TRUE(absl::EndsWith(out, "\n"));
  EXPECT_EQ(out.find('\n'), out.size() - 1);
  EXPECT_THAT(ParseEventsJsonl(out, "out.jsonl"),
              StatusIsWith(absl::StatusCode::kInvalidArgument, "out.jsonl:1: "));
}

TEST(EventJsonlTest, CommentsAndBlankLinesAreSkipped) {
  std::string line;
  AppendEventJsonl(SmallEvent(), &line);
  const std::string text = "\xEF\xBB\xBF# a comment\n\n   \n\t# indented comment\r\n" + line +
                           "\r\n" + "   " + line + "# last comment without newline";
  ASSERT_OK_AND_ASSIGN(std::vector<v1::Event> events, ParseEventsJsonl(text, "x"));
  ASSERT_EQ(events.size(), 2u);
  EXPECT_TRUE(MessageDifferencer::Equals(events[0], SmallEvent()));
  EXPECT_TRUE(MessageDifferencer::Equals(events[1], SmallEvent()));

  ASSERT_OK_AND_ASSIGN(events, ParseEventsJsonl("", "x"));
  EXPECT_TRUE(events.empty());
  ASSERT_OK_AND_ASSIGN(events, ParseEventsJsonl("# only a comment\n", "x"));
  EXPECT_TRUE(events.empty());
}

TEST(EventJsonlTest, BadLinesNameTheSourceAndLine) {
  std::string good;
  AppendEventJsonl(SmallEvent(), &good);

  // Not JSON.
  EXPECT_THAT(ParseEventsJsonl("# header\n" + good + "{not json\n" + good, "seed.jsonl"),
              StatusIsWith(absl::StatusCode::kInvalidArgument, "seed.jsonl:3: "));
  // A misspelt field is an error, not silently dropped.
  EXPECT_THAT(ParseEventsJsonl(R"({"eventID":"x","stream":"org/a"})", "f"),
              StatusIsWith(absl::StatusCode::kInvalidArgument, "f:1: "));
  // A wrong enum value name.
  EXPECT_THAT(ParseEventsJsonl(R"({"stream":"org/a","confidence":"CONFIDENCE_SURE"})", "f"),
              StatusIsWith(absl::StatusCode::kInvalidArgument, "f:1: "));
  // No stream.
  v1::Event no_stream = SmallEvent();
  no_stream.clear_stream();
  std::string line;
  AppendEventJsonl(no_stream, &line);
  EXPECT_THAT(ParseEventsJsonl("\n" + line, "f"),
              StatusIsWith(absl::StatusCode::kInvalidArgument, "f:2: stream: missing"));
  // Error messages stay on one line.
  absl::StatusOr<std::vector<v1::Event>> bad = ParseEventsJsonl("{\"stream\": [1, 2]}", "f");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message().find('\n'), absl::string_view::npos) << bad.status();
}

TEST(EventJsonlTest, ReaderStreamsEventsWithLineNumbersAndGoesOnAfterAnError) {
  std::string good;
  AppendEventJsonl(SmallEvent(), &good);
  std::istringstream in("# c\n" + good + "\n" + "oops\n" + good);
  EventJsonlReader reader(in, "in.jsonl");
  v1::Event e;
  int line = 0;

  ASSERT_OK_AND_ASSIGN(bool more, reader.Next(&e, &line));
  EXPECT_TRUE(more);
  EXPECT_EQ(line, 2);
  EXPECT_TRUE(MessageDifferencer::Equals(e, SmallEvent()));

  EXPECT_THAT(reader.Next(&e, &line),
              StatusIsWith(absl::StatusCode::kInvalidArgument, "in.jsonl:4: "));
  EXPECT_EQ(line, 4);

  ASSERT_OK_AND_ASSIGN(more, reader.Next(&e, &line));
  EXPECT_TRUE(more);
  EXPECT_EQ(line, 5);
  ASSERT_OK_AND_ASSIGN(more, reader.Next(&e, nullptr));
  EXPECT_FALSE(more);
  EXPECT_EQ(reader.lines_read(), 5);
}

TEST(EventJsonlTest, ReadingAMissingFileIsNotFound) {
  EXPECT_THAT(ReadEventsJsonlFile("/nonexistent/dir/events.jsonl"),
              StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(ReadEventsJsonlFile(DEALWIRE_SOURCE_DIR), StatusIs(absl::StatusCode::kNotFound));
}

// ---------------------------------------------------------------------------
// The seed story
// ---------------------------------------------------------------------------

TEST(SeedStoryTest, ParsesAndEveryEventIsValidWhenAppendedInFileOrder) {
  ASSERT_OK_AND_ASSIGN(std::vector<v1::Event> events, ReadEventsJsonlFile(kSeedPath));
  EXPECT_GE(events.size(), 40u);
  EXPECT_LE(events.size(), 80u);
  test_util::DomainRules rules;
  absl::flat_hash_set<std::string> ids;
  for (size_t i = 0; i < events.size(); ++i) {
    const v1::Event& e = events[i];
    SCOPED_TRACE(e.event_id());
    EXPECT_TRUE(IsCanonicalUuid(e.event_id()));
    EXPECT_TRUE(ids.insert(e.event_id()).second) << "event id used twice";
    // Server-set fields are left empty; the stream is the one to append to.
    EXPECT_OK(domain::ValidateEnvelope(e, "event"));
    EXPECT_OK(domain::ValidateStreamName(e.stream(), "stream"));
    EXPECT_OK(rules.Apply(e));
    EXPECT_GE(e.sources_size(), 1);
    for (const v1::Source& s : e.sources()) {
      EXPECT_THAT(s.url(), StartsWith("https://"));
      EXPECT_FALSE(s.title().empty());
    }
  }
}

TEST(SeedStoryTest, EveryLineIsCanonical) {
  // JSON → Event → JSON gives the line back, byte for byte, and AppendEventJsonl
  // agrees with MessageToJsonString.
  const std::string text = ReadFile(kSeedPath);
  ASSERT_FALSE(text.empty());
  int events = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (line.empty() || line[0] == '#') continue;
    ASSERT_OK_AND_ASSIGN(std::vector<v1::Event> parsed, ParseEventsJsonl(line, "seed"));
    ASSERT_EQ(parsed.size(), 1u);
    std::string again;
    AppendEventJsonl(parsed[0], &again);
    EXPECT_EQ(again, absl::StrCat(line, "\n"));
    EXPECT_EQ(again, ReferenceJson(parsed[0]) + "\n");
    ++events;
  }
  EXPECT_GE(events, 40);
}

// Finds the events of `payload_case` whose payload satisfies `pred`.
template <typename Pred>
std::vector<v1::Event> Find(const std::vector<v1::Event>& events,
                            v1::EventPayload::PayloadCase payload_case, Pred pred) {
  std::vector<v1::Event> out;
  for (const v1::Event& e : events) {
    if (e.payload().payload_case() == payload_case && pred(e.payload())) out.push_back(e);
  }
  return out;
}

bool IsUsd(const v1::Money& m, int64_t billions) {
  return m.currency_code() == "USD" && m.units() == billions * 1'000'000'000 && m.nanos() == 0;
}

bool IsDate(const v1::EffectiveDate& d, int y, int m, int day, v1::DatePrecision p) {
  return d.date().year() == y && d.date().month() == m && d.date().day() == day &&
         d.precision() == p;
}

TEST(SeedStoryTest, TellsTheStoryOfTheArticle) {
  ASSERT_OK_AND_ASSIGN(std::vector<v1::Event> events, ReadEventsJsonlFile(kSeedPath));

  // OpenAI seeks ~$100B, in talks, closing by the end of Q1 2026; reported.
  auto rounds = Find(events, v1::EventPayload::kFundingRoundReported, [](const auto& p) {
    return p.funding_round_reported().round_id() == "openai-2026-round";
  });
  ASSERT_EQ(rounds.size(), 1u);
  const auto& round = rounds[0].payload().funding_round_reported();
  EXPECT_EQ(round.company_id(), "openai");
  EXPECT_TRUE(IsUsd(round.target_amount(), 100));
  EXPECT_EQ(round.target_amount_bound(), v1::AMOUNT_BOUND_APPROXIMATE);
  EXPECT_EQ(round.stage(), v1::DEAL_STAGE_IN_TALKS);
  EXPECT_TRUE(IsDate(round.expected_close(), 2026, 1, 0, v1::DATE_PRECISION_QUARTER));
  EXPECT_FALSE(round.has_post_money_valuation());
  EXPECT_TRUE(IsDate(rounds[0].effective(), 2026, 1, 0, v1::DATE_PRECISION_MONTH));
  EXPECT_EQ(rounds[0].confidence(), v1::CONFIDENCE_REPORTED);

  // Amazon: up to $50B of it.
  auto amazon = Find(events, v1::EventPayload::kInvestmentReported, [](const auto& p) {
    return p.investment_reported().investment_id() == "amazon-openai-2026";
  });
  ASSERT_EQ(amazon.size(), 1u);
  const auto& inv = amazon[0].payload().investment_reported();
  EXPECT_EQ(amazon[0].stream(), "deal/amazon-openai-2026");
  EXPECT_EQ(inv.round_id(), "openai-2026-round");
  EXPECT_EQ(inv.investor_id(), "amazon");
  EXPECT_EQ(inv.company_id(), "openai");
  EXPECT_TRUE(IsUsd(inv.amount(), 50));
  EXPECT_EQ(inv.amount_bound(), v1::AMOUNT_BOUND_UP_TO);
  EXPECT_EQ(inv.instrument(), v1::INSTRUMENT_EQUITY);
  EXPECT_EQ(inv.stage(), v1::DEAL_STAGE_IN_TALKS);
  EXPECT_TRUE(IsDate(inv.expected_close(), 2026, 1, 0, v1::DATE_PRECISION_QUARTER));
  EXPECT_EQ(amazon[0].confidence(), v1::CONFIDENCE_REPORTED);

  // Valued from $500B to as much as $830B: two estimates of the round.
  auto valuations = Find(events, v1::EventPayload::kValuationReported, [](const auto& p) {
    return p.valuation_reported().round_id() == "openai-2026-round";
  });
  ASSERT_EQ(valuations.size(), 2u);
  EXPECT_TRUE(IsUsd(valuations[0].payload().valuation_reported().valuation(), 500));
  EXPECT_EQ(valuations[0].payload().valuation_reported().valuation_bound(),
            v1::AMOUNT_BOUND_AT_LEAST);
  EXPECT_TRUE(IsUsd(valuations[1].payload().valuation_reported().valuation(), 830));
  EXPECT_EQ(valuations[1].payload().valuation_reported().valuation_bound(), v1::AMOUNT_BOUND_UP_TO);
  for (const v1::Event& v : valuations) {
    EXPECT_EQ(v.stream(), "org/openai");
    EXPECT_EQ(v.payload().valuation_reported().basis(), v1::VALUATION_BASIS_ESTIMATE);
  }

  // Other suitors in the same round, amounts unknown.
  for (const char* investor : {"nvidia", "microsoft", "softbank", "mgx", "pif"}) {
    auto suitor = Find(events, v1::EventPayload::kInvestmentReported, [&](const auto& p) {
      return p.investment_reported().investor_id() == investor &&
             p.investment_reported().round_id() == "openai-2026-round";
    });
    ASSERT_EQ(suitor.size(), 1u) << investor;
    EXPECT_FALSE(suitor[0].payload().investment_reported().has_amount()) << investor;
  }

  // Microsoft's substantial, unquantified stake.
  auto stakes = Find(events, v1::EventPayload::kStakeDisclosed, [](const auto& p) {
    return p.stake_disclosed().holder_id() == "microsoft" &&
           p.stake_disclosed().company_id() == "openai";
  });
  ASSERT_EQ(stakes.size(), 1u);
  EXPECT_EQ(stakes[0].payload().stake_disclosed().ownership().qualifier(), "substantial");
  EXPECT_FALSE(stakes[0].payload().stake_disclosed().ownership().has_exact());
  EXPECT_FALSE(stakes[0].payload().stake_disclosed().ownership().has_range());

  // Amazon has committed at least $8B to Anthropic.
  int64_t committed = 0;
  for (const v1::Event& e : Find(events, v1::EventPayload::kInvestmentReported, [](const auto& p) {
         return p.investment_reported().investor_id() == "amazon" &&
                p.investment_reported().company_id() == "anthropic";
       })) {
    committed += e.payload().investment_reported().amount().units();
  }
  EXPECT_EQ(committed, 8'000'000'000);

  // AWS: Amazon's subsidiary; Anthropic's primary cloud and training provider.
  auto aws = Find(events, v1::EventPayload::kOrganizationRegistered,
                  [](const auto& p) { return p.organization_registered().org_id() == "aws"; });
  ASSERT_EQ(aws.size(), 1u);
  EXPECT_EQ(aws[0].payload().organization_registered().parent_org_id(), "amazon");
  auto partnership = Find(events, v1::EventPayload::kPartnershipFormed, [](const auto& p) {
    return p.partnership_formed().partnership_id() == "aws-anthropic";
  });
  ASSERT_EQ(partnership.size(), 1u);
  const auto& pf = partnership[0].payload().partnership_formed();
  EXPECT_TRUE(pf.primary());
  using Party = std::pair<std::string, int>;
  std::vector<Party> parties;
  for (const auto& party : pf.parties()) parties.emplace_back(party.org_id(), party.role());
  EXPECT_THAT(parties,
              ::testing::IsSupersetOf({Party{"aws", v1::PARTNERSHIP_ROLE_CLOUD_PROVIDER},
                                       Party{"aws", v1::PARTNERSHIP_ROLE_TRAINING_PROVIDER},
                                       Party{"anthropic", v1::PARTNERSHIP_ROLE_CUSTOMER}}));

  // The $11B Indiana campus built to run Anthropic models.
  auto facility = Find(events, v1::EventPayload::kFacilityAnnounced, [](const auto& p) {
    return p.facility_announced().facility_id() == "aws-indiana-campus";
  });
  ASSERT_EQ(facility.size(), 1u);
  const auto& fa = facility[0].payload().facility_announced();
  EXPECT_EQ(facility[0].stream(), "facility/aws-indiana-campus");
  EXPECT_EQ(fa.owner_id(), "aws");
  EXPECT_EQ(fa.beneficiary_id(), "anthropic");
  EXPECT_EQ(fa.location(), "New Carlisle, Indiana, US");
  EXPECT_TRUE(IsUsd(fa.amount(), 11));
}

}  // namespace
}  // namespace dealwire::common
