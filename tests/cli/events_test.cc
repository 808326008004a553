// End-to-end tests of the event-log commands of `dealwire` (events read |
// append, import, tail, subscriptions list | delete | commit): the real binary against
// a real dealwired on 127.0.0.1, each test on a fresh data directory. What
// the commands did is checked through the server's own API (ReadAll,
// ListSubscriptions), not only through what they print.

#include <signal.h>

#include <cstdint>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "common/event_jsonl.h"
#include "tests/cli/cli_runner.h"
#include "tests/integration/test_util.h"

namespace dealwire::integration {
namespace {

using ::dealwire::cli_test::CliProcess;
using ::dealwire::cli_test::CliResult;
using ::dealwire::cli_test::RunCli;
using ::testing::HasSubstr;
using ::testing::Not;

const std::string kSeedPath = std::string(DEALWIRE_SOURCE_DIR) + "/demo/seed_story.jsonl";
constexpr absl::Duration kWait = absl::Seconds(20);

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// The seed story's events, as the projections' reader parses them.
std::vector<v1::Event> SeedEvents() {
  absl::StatusOr<std::vector<v1::Event>> events = common::ReadEventsJsonlFile(kSeedPath);
  EXPECT_TRUE(events.ok()) << events.status();
  return events.ok() ? *events : std::vector<v1::Event>{};
}

// `e` with its stream set, as one JSON Lines line (with '\n').
std::string Line(v1::Event e, const std::string& stream) {
  e.set_stream(stream);
  std::string out;
  common::AppendEventJsonl(e, &out);
  return out;
}

// Non-empty lines of `text`.
std::vector<std::string> Lines(const std::string& text) {
  return absl::StrSplit(text, '\n', absl::SkipEmpty());
}

template <typename M>
M ParseJson(const std::string& line) {
  M m;
  const auto s = google::protobuf::util::JsonStringToMessage(line, &m);
  EXPECT_TRUE(s.ok()) << "not a " << M::descriptor()->full_name() << ": " << line;
  return m;
}

// Waits until the process's stderr contains `text`.
bool WaitForErr(const CliProcess& p, const std::string& text, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    if (absl::StrContains(p.Err(), text)) return true;
    absl::SleepFor(absl::Milliseconds(10));
  }
  return false;
}

class CliEventsTest : public ServerTest {
 protected:
  void SetUp() override {
    ServerTest::SetUp();
    tmp_ = std::make_unique<TempDir>("cli_events_files");
  }

  std::vector<std::string> Args(std::vector<std::string> args) {
    args.insert(args.begin(), {"--server", server().address()});
    return args;
  }
  CliResult Cli(std::vector<std::string> args, const std::string& stdin_text = "") {
    return RunCli(Args(std::move(args)), {}, stdin_text);
  }

  std::string WriteTemp(const std::string& name, const std::string& text) {
    const std::string path = tmp_->path() + "/" + name;
    std::ofstream(path, std::ios::binary) << text;
    return path;
  }

  std::vector<v1::Event> Log() {
    absl::StatusOr<std::vector<v1::Event>> log = ReadWholeLog(stub());
    EXPECT_TRUE(log.ok()) << log.status();
    return log.ok() ? *log : std::vector<v1::Event>{};
  }

  uint64_t LastPosition() {
    v1::ReadAllRequest req;
    req.set_page_size(1);
    req.set_direction(v1::DIRECTION_BACKWARDS);
    absl::StatusOr<v1::ReadAllResponse> r = ReadAll(stub(), req);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? r->last_position() : 0;
  }

  // Appends `e` to its stream; returns its position.
  uint64_t AppendOne(v1::Event e, const std::string& stream) {
    absl::StatusOr<v1::AppendResponse> r = Append(stub(), stream, {std::move(e)});
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? r->last_position() : 0;
  }

  std::unique_ptr<TempDir> tmp_;
};

// --- import ------------------------------------------------------------------

TEST_F(CliEventsTest, ImportSeedStoryAppendsEveryEventOnceAndIsRerunnable) {
  const std::vector<v1::Event> seed = SeedEvents();
  ASSERT_GT(seed.size(), 40u);
  const std::string n = std::to_string(seed.size());

  CliResult first = Cli({"import", kSeedPath});
  ASSERT_EQ(first.exit_code, 0) << first.err;
  EXPECT_THAT(first.out, HasSubstr(absl::StrCat("imported ", n, " events")));
  EXPECT_THAT(first.out, HasSubstr(absl::StrCat(n, " appended, 0 duplicates")));

  const std::vector<v1::Event> log = Log();
  ASSERT_EQ(log.size(), seed.size());
  for (size_t i = 0; i < log.size(); ++i) {
    EXPECT_EQ(log[i].event_id(), seed[i].event_id()) << "at position " << i + 1;
    EXPECT_EQ(log[i].stream(), seed[i].stream()) << "at position " << i + 1;
  }
  EXPECT_EQ(LastPosition(), seed.size());

  CliResult again = Cli({"import", kSeedPath});
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_THAT(again.out, HasSubstr(absl::StrCat("0 appended, ", n, " duplicates")));
  EXPECT_EQ(LastPosition(), seed.size());

  // Another batch size regroups the events; still nothing new is written.
  CliResult regrouped = Cli({"import", "--batch", "1", kSeedPath});
  ASSERT_EQ(regrouped.exit_code, 0) << regrouped.err;
  EXPECT_THAT(regrouped.out, HasSubstr(absl::StrCat("0 appended, ", n, " duplicates")));
  EXPECT_EQ(LastPosition(), seed.size());
}

TEST_F(CliEventsTest, ImportFromStdinWithBomAndCrlfPrintsJsonSummary) {
  const std::vector<v1::Event> seed = SeedEvents();
  // The seed story with a byte order mark and "\r\n" line ends.
  std::string text = "\xEF\xBB\xBF";
  for (absl::string_view line : absl::StrSplit(ReadFile(kSeedPath), '\n')) {
    absl::StrAppend(&text, line, "\r\n");
  }
  CliResult r = Cli({"-o", "json", "import", "-"}, text);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ASSERT_EQ(Lines(r.out).size(), 1u) << r.out;
  auto summary = ParseJson<google::protobuf::Struct>(Lines(r.out)[0]);
  EXPECT_EQ(summary.fields().at("events").number_value(), seed.size());
  EXPECT_EQ(summary.fields().at("appended").number_value(), seed.size());
  EXPECT_EQ(summary.fields().at("duplicates").number_value(), 0);
  EXPECT_EQ(summary.fields().at("lastPosition").number_value(), seed.size());
  EXPECT_EQ(LastPosition(), seed.size());

  CliResult again = Cli({"-o", "json", "import", "-"}, text);
  ASSERT_EQ(again.exit_code, 0) << again.err;
  summary = ParseJson<google::protobuf::Struct>(Lines(again.out)[0]);
  EXPECT_EQ(summary.fields().at("appended").number_value(), 0);
  EXPECT_EQ(summary.fields().at("duplicates").number_value(), seed.size());
  EXPECT_EQ(LastPosition(), seed.size());
}

TEST_F(CliEventsTest, ImportStopsBeforeTheBatchWithABadLine) {
  const std::string a = NewOrgId("a"), b = NewOrgId("b"), c = NewOrgId("c");
  const std::string text = absl::StrCat(
      "# two organizations, each its own append\n",                            // 1
      Line(OrgRegistered(a), OrgStream(a)),                                    // 2
      Line(OrgRegistered(b), OrgStream(b)),                                    // 3
      "\n",                                                                    // 4
      Line(OrgRegistered(c), OrgStream(c)),                                    // 5: batch of c
      Line(OrgUpdated(c, "first"), OrgStream(c)),                              // 6: batch of c
      "{\"eventId\": \"not closed\"\n",                                        // 7: bad
      Line(OrgUpdated(c, "second"), OrgStream(c)));                            // 8
  const std::string path = WriteTemp("bad.jsonl", text);
  CliResult r = Cli({"import", path});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_THAT(r.err, HasSubstr(absl::StrCat(path, ":7: ")));
  EXPECT_THAT(r.err, HasSubstr("2 events before it are stored"));
  const std::vector<v1::Event> log = Log();
  ASSERT_EQ(log.size(), 2u);
  EXPECT_EQ(log[0].stream(), OrgStream(a));
  EXPECT_EQ(log[1].stream(), OrgStream(b));
}

TEST_F(CliEventsTest, ImportRefusesUnknownFieldsAndMissingStreamsWithTheirLine) {
  v1::Event e = OrgRegistered(NewOrgId());
  std::string line = Line(e, "org/x");
  line.insert(line.size() - 2, ",\"surprise\":1");  // before the closing "}\n"
  CliResult unknown = Cli({"import", "-"}, absl::StrCat("# c\n", line));
  EXPECT_EQ(unknown.exit_code, 2) << unknown.err;
  EXPECT_THAT(unknown.err, HasSubstr("stdin:2: "));
  EXPECT_THAT(unknown.err, HasSubstr("surprise"));

  CliResult no_stream = Cli({"import", "-"}, Line(e, ""));
  EXPECT_EQ(no_stream.exit_code, 2) << no_stream.err;
  EXPECT_THAT(no_stream.err, HasSubstr("stdin:1: stream: missing"));

  CliResult missing = Cli({"import", tmp_->path() + "/no-such-file.jsonl"});
  EXPECT_EQ(missing.exit_code, 2) << missing.err;
  EXPECT_EQ(LastPosition(), 0u);
}

TEST_F(CliEventsTest, ImportReportsAServerRefusalWithTheLineOfTheEvent) {
  const std::string a = NewOrgId("a"), child = NewOrgId("child");
  v1::Event orphan = OrgRegistered(child);
  orphan.mutable_payload()->mutable_organization_registered()->set_parent_org_id("no-such-parent");
  const std::string path = WriteTemp(
      "refused.jsonl", absl::StrCat(Line(OrgRegistered(a), OrgStream(a)), "# comment\n",
                                    Line(orphan, OrgStream(child)),
                                    Line(OrgUpdated(a, "never sent"), OrgStream(a))));
  CliResult r = Cli({"import", path});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_THAT(r.err, HasSubstr(absl::StrCat(path, ":3: FAILED_PRECONDITION")));
  EXPECT_THAT(r.err, HasSubstr("1 event before it is stored"));
  const std::vector<v1::Event> log = Log();
  ASSERT_EQ(log.size(), 1u);
  EXPECT_EQ(log[0].stream(), OrgStream(a));
}

// --- events read / append ------------------------------------------------------

TEST_F(CliEventsTest, EventsReadInBothOutputModes) {
  ASSERT_EQ(Cli({"import", kSeedPath}).exit_code, 0);
  const std::vector<v1::Event> seed = SeedEvents();

  CliResult table = Cli({"events", "read", "--stream", "org/openai"});
  ASSERT_EQ(table.exit_code, 0) << table.err;
  EXPECT_THAT(table.out, HasSubstr("POSITION"));
  EXPECT_THAT(table.out, HasSubstr("org/openai@0"));
  EXPECT_THAT(table.out, HasSubstr("OrganizationRegistered"));
  EXPECT_THAT(table.out, HasSubstr("openai \"OpenAI\" company"));
  EXPECT_THAT(table.out, Not(HasSubstr("org/anthropic")));

  CliResult json = Cli({"-o", "json", "events", "read", "--from", "10", "--limit", "3"});
  ASSERT_EQ(json.exit_code, 0) << json.err;
  std::vector<std::string> lines = Lines(json.out);
  ASSERT_EQ(lines.size(), 3u) << json.out;
  for (size_t i = 0; i < lines.size(); ++i) {
    const auto e = ParseJson<v1::Event>(lines[i]);
    EXPECT_EQ(e.position(), 10 + i);
    EXPECT_EQ(e.event_id(), seed[9 + i].event_id());
  }

  CliResult last = Cli({"-o", "json", "events", "read", "--backwards", "--limit", "1"});
  ASSERT_EQ(last.exit_code, 0) << last.err;
  ASSERT_EQ(Lines(last.out).size(), 1u);
  EXPECT_EQ(ParseJson<v1::Event>(Lines(last.out)[0]).position(), seed.size());

  CliResult all = Cli({"-o", "json", "events", "read", "--limit", "0", "--type",
                       "investment-reported"});
  ASSERT_EQ(all.exit_code, 0) << all.err;
  size_t investments = 0;
  for (const v1::Event& e : seed) investments += e.payload().has_investment_reported();
  ASSERT_GT(investments, 0u);
  EXPECT_EQ(Lines(all.out).size(), investments);
  for (const std::string& l : Lines(all.out)) {
    EXPECT_TRUE(ParseJson<v1::Event>(l).payload().has_investment_reported()) << l;
  }

  CliResult missing = Cli({"events", "read", "--stream", "org/nobody"});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_THAT(missing.err, HasSubstr("NOT_FOUND"));
}

TEST_F(CliEventsTest, EventsAppendOneJsonEventOrAFileAtomically) {
  const std::string org = NewOrgId("acme");
  const std::string stream = OrgStream(org);
  v1::Event reg = OrgRegistered(org);
  reg.clear_event_id();  // the CLI picks one
  std::string json = Line(reg, "");
  json.pop_back();

  CliResult one = Cli({"events", "append", "--stream", stream, "--expected-version", "no-stream",
                       "--json", json});
  ASSERT_EQ(one.exit_code, 0) << one.err;
  EXPECT_THAT(one.out, HasSubstr(absl::StrCat("appended 1 event to ", stream, " at position 1")));

  const std::string path = WriteTemp(
      "append.jsonl", absl::StrCat("# two updates\n", Line(OrgUpdated(org, "one"), ""),
                                   Line(OrgUpdated(org, "two"), stream)));
  CliResult file = Cli({"-o", "json", "events", "append", "--stream", stream,
                        "--expected-version", "0", path});
  ASSERT_EQ(file.exit_code, 0) << file.err;
  const auto resp = ParseJson<v1::AppendResponse>(Lines(file.out).at(0));
  EXPECT_EQ(resp.first_position(), 2u);
  EXPECT_EQ(resp.last_position(), 3u);
  EXPECT_EQ(resp.first_stream_version(), 1u);
  EXPECT_FALSE(resp.duplicate());

  // Appending the same file again is an idempotent repeat.
  CliResult repeat = Cli({"events", "append", "--stream", stream, path});
  ASSERT_EQ(repeat.exit_code, 0) << repeat.err;
  EXPECT_THAT(repeat.out, HasSubstr("already stored 2 events"));

  CliResult conflict = Cli({"events", "append", "--stream", stream, "--expected-version",
                            "no-stream", "--json", json});
  EXPECT_EQ(conflict.exit_code, 1);
  EXPECT_THAT(conflict.err, HasSubstr("ABORTED"));

  CliResult other_stream = Cli({"events", "append", "--stream", "org/other", path});
  EXPECT_EQ(other_stream.exit_code, 2);
  EXPECT_THAT(other_stream.err, HasSubstr(absl::StrCat(path, ":3: stream '", stream, "'")));

  // A file with a broken line sends nothing, also not its good lines.
  const std::string broken = WriteTemp(
      "broken.jsonl", absl::StrCat(Line(OrgUpdated(org, "three"), stream), "{oops\n"));
  CliResult bad = Cli({"events", "append", "--stream", stream, broken});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_THAT(bad.err, HasSubstr(absl::StrCat(broken, ":2: ")));
  EXPECT_EQ(LastPosition(), 3u);
}

// --- tail --------------------------------------------------------------------

TEST_F(CliEventsTest, TailPrintsLiveEventsAndStopsCleanlyOnCtrlC) {
  const std::string before = RegisterOrg("before");
  CliProcess tail(Args({"tail"}));
  ASSERT_TRUE(WaitForErr(tail, "caught up", kWait)) << tail.Err();
  EXPECT_EQ(tail.Out(), "");  // from the end: the earlier event is not shown
  EXPECT_EQ(tail.Err().find("caught up"), tail.Err().rfind("caught up"));

  const std::string a = NewOrgId("live"), b = NewOrgId("live");
  const uint64_t pa = AppendOne(OrgRegistered(a), OrgStream(a));
  const uint64_t pb = AppendOne(OrgRegistered(b), OrgStream(b));
  ASSERT_TRUE(tail.WaitForOutput(OrgStream(b) + "@0", kWait)) << tail.Out();

  tail.Interrupt();
  CliResult end = tail.Wait(kWait);
  EXPECT_EQ(end.exit_code, 0) << end.err;
  EXPECT_THAT(end.err, Not(HasSubstr("dealwire:")));
  EXPECT_THAT(end.err, Not(HasSubstr("CANCELLED")));
  const std::vector<std::string> lines = Lines(end.out);
  ASSERT_EQ(lines.size(), 2u) << end.out;
  EXPECT_THAT(lines[0], HasSubstr(std::to_string(pa)));
  EXPECT_THAT(lines[0], HasSubstr(OrgStream(a) + "@0"));
  EXPECT_THAT(lines[0], HasSubstr("OrganizationRegistered"));
  EXPECT_THAT(lines[1], HasSubstr(std::to_string(pb)));
  EXPECT_THAT(end.out, Not(HasSubstr(before)));
}

TEST_F(CliEventsTest, TailFiltersByTypeAndOrganizationInJson) {
  const std::string a = RegisterOrg("a");
  RegisterOrg("b");  // position 2: an OrganizationRegistered not of `a`
  CliProcess by_type(Args({"-o", "json", "tail", "--from-start", "--type", "OrganizationRegistered"}));
  CliProcess by_org(Args({"-o", "json", "tail", "--from", "1", "--org", a}));
  ASSERT_TRUE(WaitForErr(by_type, "caught up", kWait)) << by_type.Err();
  ASSERT_TRUE(WaitForErr(by_org, "caught up", kWait)) << by_org.Err();

  const uint64_t update_a = AppendOne(OrgUpdated(a, "live"), OrgStream(a));
  const std::string c = NewOrgId("c");
  const uint64_t reg_c = AppendOne(OrgRegistered(c), OrgStream(c));
  const uint64_t update_a2 = AppendOne(OrgUpdated(a, "again"), OrgStream(a));

  ASSERT_TRUE(by_type.WaitForLines(3, kWait)) << by_type.Out();
  ASSERT_TRUE(by_org.WaitForLines(3, kWait)) << by_org.Out();
  by_type.Interrupt();
  by_org.Interrupt();
  CliResult t = by_type.Wait(kWait), o = by_org.Wait(kWait);
  EXPECT_EQ(t.exit_code, 0) << t.err;
  EXPECT_EQ(o.exit_code, 0) << o.err;

  std::vector<uint64_t> type_positions, org_positions;
  for (const std::string& l : Lines(t.out)) {
    const auto e = ParseJson<v1::Event>(l);
    EXPECT_TRUE(e.payload().has_organization_registered()) << l;
    type_positions.push_back(e.position());
  }
  for (const std::string& l : Lines(o.out)) org_positions.push_back(ParseJson<v1::Event>(l).position());
  EXPECT_EQ(type_positions, (std::vector<uint64_t>{1, 2, reg_c}));
  EXPECT_EQ(org_positions, (std::vector<uint64_t>{1, update_a, update_a2}));
}

TEST_F(CliEventsTest, TailWithNameResumesWithoutRepeatsOrGaps) {
  std::vector<uint64_t> first_positions;
  for (int i = 0; i < 3; ++i) {
    const std::string org = NewOrgId("n");
    first_positions.push_back(AppendOne(OrgRegistered(org), OrgStream(org)));
  }
  {
    CliProcess tail(Args({"-o", "json", "tail", "--name", "cli-resume", "--batch", "10"}));
    ASSERT_TRUE(WaitForErr(tail, "caught up", kWait)) << tail.Err();
    ASSERT_TRUE(tail.WaitForLines(3, kWait)) << tail.Out();
    tail.Interrupt();
    CliResult end = tail.Wait(kWait);
    EXPECT_EQ(end.exit_code, 0) << end.err;
    EXPECT_THAT(end.err, Not(HasSubstr("dealwire:")));
    std::vector<uint64_t> got;
    for (const std::string& l : Lines(end.out)) got.push_back(ParseJson<v1::Event>(l).position());
    EXPECT_EQ(got, first_positions);
  }
  absl::StatusOr<std::vector<v1::NamedSubscription>> subs = ListAllSubscriptions(stub());
  ASSERT_TRUE(subs.ok()) << subs.status();
  ASSERT_EQ(subs->size(), 1u);
  EXPECT_EQ((*subs)[0].checkpoint_position(), first_positions.back());

  // Events arrive while the tail is away, across a server restart.
  std::vector<uint64_t> later;
  for (int i = 0; i < 2; ++i) {
    const std::string org = NewOrgId("m");
    later.push_back(AppendOne(OrgRegistered(org), OrgStream(org)));
  }
  StopServer();
  StartServer();

  CliProcess tail(Args({"-o", "json", "tail", "--name", "cli-resume"}));
  ASSERT_TRUE(WaitForErr(tail, "caught up", kWait)) << tail.Err();
  const std::string org = NewOrgId("live");
  later.push_back(AppendOne(OrgRegistered(org), OrgStream(org)));
  ASSERT_TRUE(tail.WaitForLines(3, kWait)) << tail.Out();
  tail.Interrupt();
  CliResult end = tail.Wait(kWait);
  EXPECT_EQ(end.exit_code, 0) << end.err;
  std::vector<uint64_t> got;
  for (const std::string& l : Lines(end.out)) got.push_back(ParseJson<v1::Event>(l).position());
  EXPECT_EQ(got, later);
}

TEST_F(CliEventsTest, TailReportsTheServerGoingAway) {
  RegisterOrg();
  CliProcess tail(Args({"tail", "--from-start"}));
  ASSERT_TRUE(WaitForErr(tail, "caught up", kWait)) << tail.Err();
  ASSERT_TRUE(tail.WaitForLines(1, kWait));
  StopServer();
  CliResult end = tail.Wait(kWait);
  EXPECT_EQ(end.exit_code, 3) << end.err;
  EXPECT_THAT(end.err, HasSubstr("UNAVAILABLE"));
  EXPECT_THAT(end.err, HasSubstr("--from 2"));
}

TEST_F(CliEventsTest, TailRefusesAnUnknownEventTypeBeforeSubscribing) {
  CliResult r = Cli({"tail", "--type", "NoSuchEvent"});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_THAT(r.err, HasSubstr("--type: unknown event type 'NoSuchEvent'"));
}

// --- subscriptions -------------------------------------------------------------

TEST_F(CliEventsTest, SubscriptionsListAndDelete) {
  RegisterOrg();
  {
    v1::SubscribeRequest req = FromStart();
    req.set_subscription_name("alerts");
    req.mutable_filter()->add_event_types("OrganizationRegistered");
    Subscription sub(server().Channel(), req);
    Received got;
    ASSERT_TRUE(ReadUntil(sub, &got, HasCaughtUp(), kWait).ok());
  }
  ASSERT_TRUE(CommitCheckpoint(stub(), "alerts", 1).ok());

  CliResult table = Cli({"subscriptions", "list"});
  ASSERT_EQ(table.exit_code, 0) << table.err;
  EXPECT_THAT(table.out, HasSubstr("alerts"));
  EXPECT_THAT(table.out, HasSubstr("type=OrganizationRegistered"));

  CliResult json = Cli({"-o", "json", "subscriptions", "list"});
  ASSERT_EQ(json.exit_code, 0) << json.err;
  ASSERT_EQ(Lines(json.out).size(), 1u) << json.out;
  const auto s = ParseJson<v1::NamedSubscription>(Lines(json.out)[0]);
  EXPECT_EQ(s.name(), "alerts");
  EXPECT_EQ(s.checkpoint_position(), 1u);

  // commit rewinds the checkpoint; past the end of the log is refused.
  CliResult rewind = Cli({"subscriptions", "commit", "alerts", "0"});
  ASSERT_EQ(rewind.exit_code, 0) << rewind.err;
  EXPECT_THAT(rewind.out, HasSubstr("resumes after position 0"));
  absl::StatusOr<std::vector<v1::NamedSubscription>> stored = ListAllSubscriptions(stub());
  ASSERT_TRUE(stored.ok());
  ASSERT_EQ(stored->size(), 1u);
  EXPECT_EQ((*stored)[0].checkpoint_position(), 0u);
  CliResult beyond = Cli({"-o", "json", "subscriptions", "commit", "alerts", "1000000"});
  EXPECT_EQ(beyond.exit_code, 1) << beyond.err;
  EXPECT_THAT(beyond.err, HasSubstr("beyond the end of the log"));

  CliResult del = Cli({"subscriptions", "delete", "alerts"});
  ASSERT_EQ(del.exit_code, 0) << del.err;
  EXPECT_THAT(del.out, HasSubstr("deleted subscription alerts"));
  absl::StatusOr<std::vector<v1::NamedSubscription>> left = ListAllSubscriptions(stub());
  ASSERT_TRUE(left.ok());
  EXPECT_TRUE(left->empty());

  CliResult again = Cli({"subscriptions", "delete", "alerts"});
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_THAT(again.err, HasSubstr("NOT_FOUND"));
  CliResult empty = Cli({"subscriptions", "list"});
  EXPECT_THAT(empty.out, HasSubstr("(none)"));
}

// --- help ----------------------------------------------------------------------

TEST(CliEventsHelpTest, EveryCommandHasAnExample) {
  for (std::vector<std::string> cmd :
       std::vector<std::vector<std::string>>{{"events", "read"},
                                             {"events", "append"},
                                             {"tail"},
                                             {"import"},
                                             {"subscriptions", "list"},
                                             {"subscriptions", "delete"},
                                             {"subscriptions", "commit"}}) {
    cmd.push_back("--help");
    CliResult r = RunCli(cmd);
    EXPECT_EQ(r.exit_code, 0) << cmd[0] << ": " << r.err;
    EXPECT_THAT(r.out, HasSubstr("Example:")) << cmd[0];
  }
}

}  // namespace
}  // namespace dealwire::integration
