// Integration tests of EventStore.Append, ReadStream and ReadAll against the
// real dealwired binary: positions and versions, every ExpectedVersion kind,
// idempotent retries, malformed requests, limits, concurrent appenders, and
// paging in both directions.
//
// Test events stay valid under domain validation: each organization is
// registered once on "org/<id>" and then only updated.

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <functional>
#include <iostream>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/message_differencer.h"
#include "google/protobuf/util/time_util.h"
#include "gtest/gtest.h"
#include "tests/integration/test_util.h"

namespace dealwire::integration {
namespace {

using ::google::protobuf::util::MessageDifferencer;
using ::testing::ElementsAre;
using ::testing::ElementsAreArray;
using ::testing::IsEmpty;
using ::testing::SizeIs;

using Strings = std::vector<std::string>;

// Returns `stored` with the server-set fields and the stream cleared, for
// comparison with the event as sent.
v1::Event ClientPart(v1::Event stored) {
  stored.clear_stream_version();
  stored.clear_position();
  stored.clear_recorded_time();
  stored.clear_recorded_by();
  stored.clear_stream();
  return stored;
}

// Returns the N of "actual version N" in `message`, if any.
std::optional<uint64_t> ActualVersion(absl::string_view message) {
  const std::string lower = Lower(message);
  const size_t at = lower.find("actual version ");
  if (at == std::string::npos) return std::nullopt;
  size_t end = at + 15;
  while (end < lower.size() && lower[end] >= '0' && lower[end] <= '9') ++end;
  uint64_t v = 0;
  if (!absl::SimpleAtoi(absl::string_view(lower).substr(at + 15, end - at - 15), &v)) {
    return std::nullopt;
  }
  return v;
}

class AppendReadTest : public ServerTest {
 protected:
  // Returns the end of the log (ReadAll's last_position); reports failures.
  uint64_t LogEnd() {
    v1::ReadAllRequest request;
    request.set_page_size(1);
    absl::StatusOr<v1::ReadAllResponse> r = ReadAll(stub(), request);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? r->last_position() : ~uint64_t{0};
  }

  // Appends `n` OrganizationUpdated events for `org`, one append each;
  // returns their ids.
  Strings AppendUpdates(const std::string& org, int n, int per_append = 1) {
    Strings ids;
    for (int i = 0; i < n; i += per_append) {
      std::vector<v1::Event> events;
      for (int j = i; j < std::min(n, i + per_append); ++j) {
        events.push_back(OrgUpdated(org, absl::StrCat("update ", j)));
        ids.push_back(events.back().event_id());
      }
      absl::StatusOr<v1::AppendResponse> r = Append(stub(), OrgStream(org), std::move(events));
      EXPECT_TRUE(r.ok()) << r.status();
      if (!r.ok()) break;
    }
    return ids;
  }
};

// --- Positions and versions ----------------------------------------------------

TEST_F(AppendReadTest, SingleAppendReturnsPositionsAndStoresEveryField) {
  const std::string org = NewOrgId();
  const v1::Event sent = OrgRegistered(org);
  ASSERT_OK_AND_ASSIGN(v1::AppendResponse r, Append(stub(), OrgStream(org), {sent}));
  EXPECT_EQ(r.first_position(), 1u);
  EXPECT_EQ(r.last_position(), 1u);
  EXPECT_EQ(r.first_stream_version(), 0u);
  EXPECT_EQ(r.next_expected_version(), 0u);
  EXPECT_FALSE(r.duplicate());
  EXPECT_TRUE(r.has_recorded_time());

  v1::ReadStreamRequest read;
  read.set_stream(OrgStream(org));
  ASSERT_OK_AND_ASSIGN(v1::ReadStreamResponse page, ReadStream(stub(), read));
  ASSERT_THAT(page.events(), SizeIs(1));
  EXPECT_TRUE(page.next_page_token().empty());
  EXPECT_EQ(page.last_stream_version(), 0u);
  const v1::Event& stored = page.events(0);
  EXPECT_EQ(stored.position(), 1u);
  EXPECT_EQ(stored.stream_version(), 0u);
  EXPECT_EQ(stored.stream(), OrgStream(org));
  EXPECT_FALSE(stored.recorded_by().empty()) << "recorded_by is set on every read";
  EXPECT_TRUE(MessageDifferencer::Equals(stored.recorded_time(), r.recorded_time()))
      << stored.recorded_time().ShortDebugString() << " vs "
      << r.recorded_time().ShortDebugString();
  EXPECT_TRUE(MessageDifferencer::Equals(ClientPart(stored), sent))
      << "stored: " << stored.ShortDebugString() << "\nsent: " << sent.ShortDebugString();

  // The same event through ReadAll.
  ASSERT_OK_AND_ASSIGN(std::vector<v1::Event> all, ReadWholeLog(stub()));
  ASSERT_THAT(all, SizeIs(1));
  EXPECT_TRUE(MessageDifferencer::Equals(all[0], stored));
}

TEST_F(AppendReadTest, MultiEventAppendGetsConsecutivePositionsAndVersions) {
  const std::string other = RegisterOrg("other");  // position 1
  const std::string org = NewOrgId();
  std::vector<v1::Event> sent = {OrgRegistered(org)};
  for (int i = 0; i < 4; ++i) sent.push_back(OrgUpdated(org, absl::StrCat("update ", i)));
  ASSERT_OK_AND_ASSIGN(v1::AppendResponse r,
                       Append(stub(), OrgStream(org), sent,
                              ExpectState(v1::EXPECTED_STATE_NO_STREAM)));
  EXPECT_EQ(r.first_position(), 2u);
  EXPECT_EQ(r.last_position(), 6u);
  EXPECT_EQ(r.first_stream_version(), 0u);
  EXPECT_EQ(r.next_expected_version(), 4u);
  EXPECT_FALSE(r.duplicate());

  v1::ReadStreamRequest read;
  read.set_stream(OrgStream(org));
  ASSERT_OK_AND_ASSIGN(std::vector<v1::Event> stored, ReadWholeStream(stub(), read));
  ASSERT_THAT(stored, SizeIs(5));
  EXPECT_THAT(PositionsOf(stored), ElementsAreArray(Range(2, 6)));
  EXPECT_THAT(VersionsOf(stored), ElementsAreArray(Range(0, 4)));
  for (size_t i = 0; i < stored.size(); ++i) {
    EXPECT_TRUE(MessageDifferencer::Equals(ClientPart(stored[i]), sent[i])) << i;
    // All events of one append share its recorded_time.
    EXPECT_TRUE(MessageDifferencer::Equals(stored[i].recorded_time(), r.recorded_time())) << i;
  }

  // A later append continues both sequences.
  ASSERT_OK_AND_ASSIGN(r, Append(stub(), OrgStream(org), {OrgUpdated(org, "later")},
                                 ExpectExact(r.next_expected_version())));
  EXPECT_EQ(r.first_position(), 7u);
  EXPECT_EQ(r.first_stream_version(), 5u);
  EXPECT_EQ(r.next_expected_version(), 5u);
}

TEST_F(AppendReadTest, AppendWithOneBadEventWritesNothing) {
  const std::string org = RegisterOrg();
  std::vector<v1::Event> events = {OrgUpdated(org, "a"), OrgUpdated(org, "b"),
                                   OrgUpdated(org, "c")};
  events[2].clear_payload();
  EXPECT_THAT(Append(stub(), OrgStream(org), events),
              StatusIsWithAllOf(absl::StatusCode::kInvalidArgument, Strings{"events[2]", "payload"}));
  EXPECT_EQ(LogEnd(), 1u);
  // The two good events were not written: appending them alone is new.
  events.pop_back();
  ASSERT_OK_AND_ASSIGN(v1::AppendResponse r, Append(stub(), OrgStream(org), events));
  EXPECT_FALSE(r.duplicate());
  EXPECT_EQ(r.first_position(), 2u);
  EXPECT_EQ(r.last_position(), 3u);
}

// --- Expected versions -----------------------------------------------------------

TEST_F(AppendReadTest, ExpectedAnyAppendsWhateverTheStreamHolds) {
  const std::string org = NewOrgId();
  // No expected_version at all, on a new stream.
  ASSERT_OK_AND_ASSIGN(v1::AppendResponse r, Append(stub(), OrgStream(org), {OrgRegistered(org)}));
  EXPECT_EQ(r.first_stream_version(), 0u);
  // Explicit ANY, UNSPECIFIED, and an ExpectedVersion with no case set.
  ASSERT_OK_AND_ASSIGN(r, Append(stub(), OrgStream(org), {OrgUpdated(org, "1")},
                                 ExpectState(v1::EXPECTED_STATE_ANY)));
  EXPECT_EQ(r.first_stream_version(), 1u);
  ASSERT_OK_AND_ASSIGN(r, Append(stub(), OrgStream(org), {OrgUpdated(org, "2")},
                                 ExpectState(v1::EXPECTED_STATE_UNSPECIFIED)));
  EXPECT_EQ(r.first_stream_version(), 2u);
  ASSERT_OK_AND_ASSIGN(r, Append(stub(), OrgStream(org), {OrgUpdated(org, "3")},
                                 v1::ExpectedVersion()));
  EXPECT_EQ(r.first_stream_version(), 3u);
  EXPECT_EQ(r.last_position(), 4u);
  // ANY on another, new stream.
  const std::string other = NewOrgId();
  ASSERT_OK_AND_ASSIGN(r, Append(stub(), OrgStream(other), {OrgRegistered(other)},
                                 ExpectState(v1::EXPECTED_STATE_ANY)));
  EXPECT_EQ(r.first_stream_version(), 0u);
  EXPECT_EQ(r.first_position(), 5u);
}

TEST_F(AppendReadTest, ExpectedNoStreamCreatesAndThenConflictsWithActualVersion) {
  const std::string org = NewOrgId();
  ASSERT_OK_AND_ASSIGN(v1::AppendResponse r,
                       Append(stub(), OrgStream(org), {OrgRegistered(org), OrgUpdated(org, "x")},
                              ExpectState(v1::EXPECTED_STATE_NO_STREAM)));
  EXPECT_EQ(r.next_expected_version(), 1u);
  EXPECT_THAT(Append(stub(), OrgStream(org), {OrgUpdated(org, "y")},
                     ExpectState(v1::EXPECTED_STATE_NO_STREAM)),
              StatusIsWithAllOf(absl::StatusCode::kAborted, Strings{"actual version 1"}));
  EXPECT_EQ(LogEnd(), 2u);
}

TEST_F(AppendReadTest, ExpectedStreamExistsConflictsOnMissingStream) {
  const std::string org = NewOrgId();
  EXPECT_THAT(Append(stub(), OrgStream(org), {OrgRegistered(org)},
                     ExpectState(v1::EXPECTED_STATE_STREAM_EXISTS)),
              StatusIsWithAllOf(absl::StatusCode::kAborted, Strings{"stream does not exist"}));
  EXPECT_EQ(LogEnd(), 0u);
  // Another stream existing does not make this one exist.
  const std::string other = RegisterOrg();
  EXPECT_THAT(Append(stub(), OrgStream(org), {OrgRegistered(org)},
                     ExpectState(v1::EXPECTED_STATE_STREAM_EXISTS)),
              StatusIsWithAllOf(absl::StatusCode::kAborted, Strings{"stream does not exist"}));
  ASSERT_OK(Append(stub(), OrgStream(org), {OrgRegistered(org)}));
  ASSERT_OK_AND_ASSIGN(v1::AppendResponse r,
                       Append(stub(), OrgStream(org), {OrgUpdated(org, "x")},
                              ExpectState(v1::EXPECTED_STATE_STREAM_EXISTS)));
  EXPECT_EQ(r.first_stream_version(), 1u);
  EXPECT_EQ(r.first_position(), 3u);
}

TEST_F(AppendReadTest, ExpectedExactConflictsWithActualVersionUnlessItHolds) {
  const std::string org = NewOrgId();
  // Exact on a missing stream, even Exact(0).
  for (uint64_t v : {0, 3}) {
    EXPECT_THAT(Append(stub(), OrgStream(org), {OrgRegistered(org)}, ExpectExact(v)),
                StatusIsWithAllOf(absl::StatusCode::kAborted, Strings{"stream does not exist"}))
        << "exact " << v;
  }
  ASSERT_OK(Append(stub(), OrgStream(org), {OrgRegistered(org)}));
  Strings ids = AppendUpdates(org, 5, 5);  // versions 1..5
  ASSERT_THAT(ids, SizeIs(5));
  // Too low and too high, by one and by much: each names the actual version.
  for (uint64_t v : {0, 4, 6, 40}) {
    EXPECT_THAT(Append(stub(), OrgStream(org), {OrgUpdated(org, "stale")}, ExpectExact(v)),
                StatusIsWithAllOf(absl::StatusCode::kAborted, Strings{"actual version 5"}))
        << "exact " << v;
  }
  EXPECT_EQ(LogEnd(), 6u);
  ASSERT_OK_AND_ASSIGN(v1::AppendResponse r,
                       Append(stub(), OrgStream(org), {OrgUpdated(org, "a"), OrgUpdated(org, "b")},
                              ExpectExact(5)));
  EXPECT_EQ(r.first_stream_version(), 6u);
  EXPECT_EQ(r.next_expected_version(), 7u);
  EXPECT_EQ(r.first_position(), 7u);
  EXPECT_EQ(r.last_position(), 8u);
  ASSERT_OK_AND_ASSIGN(r, Append(stub(), OrgStream(org), {OrgUpdated(org, "c")},
                                 ExpectExact(r.next_expected_version())));
  EXPECT_EQ(r.first_stream_version(), 8u);
  // The old expectation is stale now.
  EXPECT_THAT(Append(stub(), OrgStream(org), {OrgUpdated(org, "d")}, ExpectExact(5)),
              StatusIsWithAllOf(absl::StatusCode::kAborted, Strings{"actual version 8"}));
}

// --- Idempotency -----------------------------------------------------------------

TEST_F(AppendReadTest, RetriedAppendIsDuplicateWithOriginalPositions) {
  const std::string other = RegisterOrg();  // position 1
  const std::string org = NewOrgId();
  const v1::AppendRequest original =
      MakeAppend(OrgStream(org), {OrgRegistered(org), OrgUpdated(org, "a"), OrgUpdated(org, "b")},
                 ExpectState(v1::EXPECTED_STATE_NO_STREAM));
  ASSERT_OK_AND_ASSIGN(v1::AppendResponse first, Append(stub(), original));
  EXPECT_EQ(first.first_position(), 2u);
  EXPECT_EQ(first.last_position(), 4u);
  // The stream moves on.
  ASSERT_OK(Append(stub(), OrgStream(org), {OrgUpdated(org, "c")}, ExpectExact(2)));
  ASSERT_OK(Append(stub(), OrgStream(other), {OrgUpdated(other, "o")}));
  const uint64_t end = LogEnd();
  ASSERT_EQ(end, 6u);

  // The retry succeeds although NO_STREAM no longer holds: nothing is
  // written and the response describes the original write.
  ASSERT_OK_AND_ASSIGN(v1::AppendResponse retry, Append(stub(), original));
  EXPECT_TRUE(retry.duplicate());
  EXPECT_EQ(retry.first_position(), 2u);
  EXPECT_EQ(retry.last_position(), 4u);
  EXPECT_EQ(retry.first_stream_version(), 0u);
  EXPECT_EQ(retry.next_expected_version(), 2u);
  EXPECT_TRUE(MessageDifferencer::Equals(retry.recorded_time(), first.recorded_time()));
  EXPECT_EQ(LogEnd(), end);

  // Part of the original (its last two events) is a duplicate too.
  v1::AppendRequest part = original;
  part.mutable_events()->DeleteSubrange(0, 1);
  part.clear_expected_version();
  ASSERT_OK_AND_ASSIGN(retry, Append(stub(), part));
  EXPECT_TRUE(retry.duplicate());
  EXPECT_EQ(retry.first_position(), 3u);
  EXPECT_EQ(retry.last_position(), 4u);
  EXPECT_EQ(retry.first_stream_version(), 1u);
  EXPECT_EQ(retry.next_expected_version(), 2u);
  EXPECT_EQ(LogEnd(), end);

  v1::ReadStreamRequest read;
  read.set_stream(OrgStream(org));
  ASSERT_OK_AND_ASSIGN(std::vector<v1::Event> stored, ReadWholeStream(stub(), read));
  EXPECT_THAT(VersionsOf(stored), ElementsAre(0, 1, 2, 3));
}

TEST_F(AppendReadTest, ReusedIdWithOtherContentOrStreamIsAlreadyExists) {
  const std::string org = RegisterOrg();
  const v1::Event stored = OrgUpdated(org, "original description");
  ASSERT_OK(Append(stub(), OrgStream(org), {stored}));
  const uint64_t end = LogEnd();

  // Same id, other content.
  v1::Event changed = stored;
  changed.mutable_payload()->mutable_organization_updated()->set_description("changed");
  EXPECT_THAT(Append(stub(), OrgStream(org), {changed}),
              StatusIsWithAllOf(absl::StatusCode::kAlreadyExists, Strings{stored.event_id()}));
  // Same id, other envelope content.
  changed = stored;
  changed.set_confidence(v1::CONFIDENCE_OFFICIAL);
  EXPECT_THAT(Append(stub(), OrgStream(org), {changed}),
              StatusIsWithAllOf(absl::StatusCode::kAlreadyExists, Strings{stored.event_id()}));
  // Same id and content in another stream.
  EXPECT_THAT(Append(stub(), "org-notes/" + org, {stored}),
              StatusIsWithAllOf(absl::StatusCode::kAlreadyExists, Strings{stored.event_id()}));
  // Only some of the events are repeats: nothing is written.
  const v1::Event fresh = OrgUpdated(org, "fresh");
  // (The contract says the message names "the event id"; either one will do.)
  const Strings either = {stored.event_id(), fresh.event_id()};
  EXPECT_THAT(Append(stub(), OrgStream(org), {stored, fresh}),
              StatusIsWithAnyOf(absl::StatusCode::kAlreadyExists, either));
  EXPECT_THAT(Append(stub(), OrgStream(org), {fresh, stored}),
              StatusIsWithAnyOf(absl::StatusCode::kAlreadyExists, either));
  EXPECT_EQ(LogEnd(), end);
  ASSERT_OK_AND_ASSIGN(v1::AppendResponse r, Append(stub(), OrgStream(org), {fresh}));
  EXPECT_FALSE(r.duplicate()) << "the fresh event must not have been written before";
  EXPECT_EQ(r.first_position(), end + 1);
}

// --- Malformed requests and limits -------------------------------------------------

TEST_F(AppendReadTest, MalformedAppendIsInvalidArgumentNamingTheField) {
  const std::string org = RegisterOrg();
  const std::string stream = OrgStream(org);
  const uint64_t end = LogEnd();

  // Each case: a good event at index 0 and a bad one at index 1.
  struct Case {
    std::string what;
    std::function<void(v1::Event&)> spoil;
    Strings words;
  };
  const std::vector<Case> cases = {
      {"event id not a UUID", [](v1::Event& e) { e.set_event_id("not-a-uuid"); },
       {"events[1]", "event_id"}},
      {"event id in upper case",
       [](v1::Event& e) { e.set_event_id("0B6F2C1E-7D4A-4E8B-9A51-3C2D1F0E9B7A"); },
       {"events[1]", "event_id"}},
      {"event id without dashes",
       [](v1::Event& e) { e.set_event_id("0b6f2c1e7d4a4e8b9a513c2d1f0e9b7a"); },
       {"events[1]", "event_id"}},
      {"nil UUID", [](v1::Event& e) { e.set_event_id("00000000-0000-0000-0000-000000000000"); },
       {"events[1]", "event_id"}},
      {"empty event id", [](v1::Event& e) { e.clear_event_id(); }, {"events[1]", "event_id"}},
      {"no payload", [](v1::Event& e) { e.clear_payload(); }, {"events[1]", "payload"}},
      {"payload without a case",
       [](v1::Event& e) { e.mutable_payload()->Clear(); }, {"events[1]", "payload"}},
      {"stream_version set", [](v1::Event& e) { e.set_stream_version(3); },
       {"events[1]", "stream_version"}},
      {"position set", [](v1::Event& e) { e.set_position(7); }, {"events[1]", "position"}},
      {"recorded_time set", [](v1::Event& e) { e.mutable_recorded_time()->set_seconds(1); },
       {"events[1]", "recorded_time"}},
      {"recorded_by set", [](v1::Event& e) { e.set_recorded_by("mallory"); },
       {"events[1]", "recorded_by"}},
      {"event stream differs from the request's",
       [](v1::Event& e) { e.set_stream("org/someone-else"); }, {"events[1]", "stream"}},
      {"no effective date", [](v1::Event& e) { e.clear_effective(); }, {"events[1]", "effective"}},
      {"confidence unspecified",
       [](v1::Event& e) { e.set_confidence(v1::CONFIDENCE_UNSPECIFIED); },
       {"events[1]", "confidence"}},
  };
  for (const Case& c : cases) {
    v1::Event bad = OrgUpdated(org, "bad");
    c.spoil(bad);
    EXPECT_THAT(Append(stub(), stream, {OrgUpdated(org, "good"), bad}),
                StatusIsWithAllOf(absl::StatusCode::kInvalidArgument, c.words))
        << c.what;
  }

  // A repeated event id within one request.
  const v1::Event twice = OrgUpdated(org, "twice");
  EXPECT_THAT(Append(stub(), stream, {twice, twice}),
              StatusIsWithAllOf(absl::StatusCode::kInvalidArgument, Strings{"event_id"}));

  // Request-level fields.
  EXPECT_THAT(Append(stub(), "", {OrgUpdated(org, "x")}),
              StatusIsWithAllOf(absl::StatusCode::kInvalidArgument, Strings{"stream"}));
  EXPECT_THAT(Append(stub(), "org/with space", {OrgUpdated(org, "x")}),
              StatusIsWithAllOf(absl::StatusCode::kInvalidArgument, Strings{"stream"}));
  EXPECT_THAT(Append(stub(), "org/" + std::string(197, 'a'), {OrgUpdated(org, "x")}),
              StatusIsWithAllOf(absl::StatusCode::kInvalidArgument, Strings{"stream"}));
  EXPECT_THAT(Append(stub(), stream, {}),
              StatusIsWithAllOf(absl::StatusCode::kInvalidArgument, Strings{"events"}));
  EXPECT_EQ(LogEnd(), end) << "a refused append wrote something";

  // The limits themselves are accepted: a 200-byte stream name, and an event
  // whose `stream` repeats the request's.
  v1::Event with_stream = OrgUpdated(org, "with stream");
  with_stream.set_stream(stream);
  EXPECT_OK(Append(stub(), stream, {with_stream}));
  const std::string long_org = NewOrgId(std::string(80, 'l'));
  EXPECT_OK(Append(stub(), "org/" + long_org + "/" + std::string(200 - 5 - long_org.size(), 'x'),
                   {OrgRegistered(long_org)}));
}

TEST_F(AppendReadTest, MoreThanThousandEventsIsResourceExhaustedNamingTheLimit) {
  const std::string org = NewOrgId();
  std::vector<v1::Event> events = {OrgRegistered(org)};
  for (int i = 0; i < 1000; ++i) events.push_back(OrgUpdated(org, absl::StrCat("u", i)));
  EXPECT_THAT(Append(stub(), OrgStream(org), events),
              StatusIsWithAllOf(absl::StatusCode::kResourceExhausted, Strings{"1000"}));
  EXPECT_EQ(LogEnd(), 0u);
  // Exactly 1000 is fine.
  events.pop_back();
  ASSERT_OK_AND_ASSIGN(v1::AppendResponse r, Append(stub(), OrgStream(org), events));
  EXPECT_EQ(r.first_position(), 1u);
  EXPECT_EQ(r.last_position(), 1000u);
  EXPECT_EQ(r.next_expected_version(), 999u);
}

// --- Concurrency -----------------------------------------------------------------

// 16 client threads each make 200 appends to 4 shared streams, each with the
// exact version it believes current, retrying on ABORTED with the actual
// version from the message. Afterwards every stream holds versions 0..n-1
// and the log positions 1..N, each event exactly once where its ack said.
TEST_F(AppendReadTest, ConcurrentExactAppendsToSharedStreamsAreGapFree) {
  constexpr int kThreads = 16;
  constexpr int kAppendsPerThread = 200;
  constexpr int kStreams = 4;
  Strings orgs;
  for (int s = 0; s < kStreams; ++s) orgs.push_back(RegisterOrg("shared"));
  ASSERT_EQ(LogEnd(), uint64_t{kStreams});

  struct Ack {
    std::string event_id;
    int stream;
    uint64_t position;
    uint64_t version;
  };
  absl::Mutex mu;
  std::vector<Ack> acks;
  Strings failures;
  std::atomic<int64_t> aborts{0};

  const absl::Time start = absl::Now();
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::unique_ptr<v1::EventStore::Stub> my_stub = v1::EventStore::NewStub(server().Channel());
      std::vector<uint64_t> known(kStreams, 0);
      for (int i = 0; i < kAppendsPerThread; ++i) {
        const int s = (t + i) % kStreams;
        const v1::Event event = OrgUpdated(orgs[s], absl::StrCat("thread ", t, " append ", i));
        bool done = false;
        for (int attempt = 0; attempt < 100000 && !done; ++attempt) {
          absl::StatusOr<v1::AppendResponse> r =
              Append(*my_stub, OrgStream(orgs[s]), {event}, ExpectExact(known[s]));
          if (r.ok()) {
            absl::MutexLock lock(&mu);
            if (r->duplicate() || r->first_position() != r->last_position() ||
                r->next_expected_version() != known[s] + 1) {
              failures.push_back(absl::StrCat("thread ", t, ": odd ack ", r->ShortDebugString(),
                                              " for expected ", known[s]));
            }
            acks.push_back({event.event_id(), s, r->first_position(), r->first_stream_version()});
            known[s] = r->next_expected_version();
            done = true;
          } else if (r.status().code() == absl::StatusCode::kAborted) {
            ++aborts;
            std::optional<uint64_t> actual = ActualVersion(r.status().message());
            if (!actual.has_value()) {
              absl::MutexLock lock(&mu);
              failures.push_back(absl::StrCat("ABORTED without an actual version: ",
                                              r.status().ToString()));
              return;
            }
            known[s] = *actual;
          } else {
            absl::MutexLock lock(&mu);
            failures.push_back(absl::StrCat("thread ", t, " append ", i, ": ",
                                            r.status().ToString()));
            return;
          }
        }
        if (!done) {
          absl::MutexLock lock(&mu);
          failures.push_back(absl::StrCat("thread ", t, " append ", i, " never succeeded"));
          return;
        }
      }
    });
  }
  for (std::thread& th : threads) th.join();
  const absl::Duration took = absl::Now() - start;
  ASSERT_THAT(failures, IsEmpty());
  ASSERT_THAT(acks, SizeIs(kThreads * kAppendsPerThread));
  std::cout << "concurrent appends: " << acks.size() << " acked, " << aborts.load()
            << " ABORTED retries, " << absl::FormatDuration(took) << " ("
            << static_cast<int64_t>(static_cast<double>(acks.size()) / absl::ToDoubleSeconds(took))
            << " appends/s)" << std::endl;

  // Each stream: versions 0..n-1, the acked events where their acks said.
  absl::flat_hash_map<std::string, Ack> ack_of;
  for (const Ack& a : acks) ack_of[a.event_id] = a;
  for (int s = 0; s < kStreams; ++s) {
    v1::ReadStreamRequest read;
    read.set_stream(OrgStream(orgs[s]));
    read.set_page_size(1000);
    ASSERT_OK_AND_ASSIGN(std::vector<v1::Event> events, ReadWholeStream(stub(), read));
    const uint64_t n = 1 + kThreads * kAppendsPerThread / kStreams;
    ASSERT_THAT(events, SizeIs(n)) << "stream " << s;
    EXPECT_THAT(VersionsOf(events), ElementsAreArray(Range(0, n - 1))) << "stream " << s;
    for (size_t i = 1; i < events.size(); ++i) {
      auto it = ack_of.find(events[i].event_id());
      ASSERT_TRUE(it != ack_of.end()) << "unacked event " << Describe(events[i]);
      EXPECT_EQ(it->second.stream, s);
      EXPECT_EQ(it->second.position, events[i].position());
      EXPECT_EQ(it->second.version, events[i].stream_version());
    }
  }
  // The log: positions 1..N, every event once.
  ASSERT_OK_AND_ASSIGN(std::vector<v1::Event> all, ReadWholeLog(stub(), [] {
                         v1::ReadAllRequest r;
                         r.set_page_size(1000);
                         return r;
                       }()));
  const uint64_t total = kStreams + kThreads * kAppendsPerThread;
  ASSERT_THAT(all, SizeIs(total));
  EXPECT_THAT(PositionsOf(all), ElementsAreArray(Range(1, total)));
  absl::flat_hash_set<std::string> ids;
  for (const v1::Event& e : all) EXPECT_TRUE(ids.insert(e.event_id()).second) << Describe(e);
}

// --- ReadStream ------------------------------------------------------------------

TEST_F(AppendReadTest, ReadStreamForwardsBackwardsAndFromVersion) {
  const std::string org = RegisterOrg();
  const std::string other = RegisterOrg();
  // Interleave the two streams so positions and versions differ.
  for (int i = 0; i < 24; ++i) {
    ASSERT_OK(Append(stub(), OrgStream(org), {OrgUpdated(org, absl::StrCat(i))}));
    ASSERT_OK(Append(stub(), OrgStream(other), {OrgUpdated(other, absl::StrCat(i))}));
  }
  const auto read = [&](v1::Direction direction, std::optional<uint64_t> from) {
    v1::ReadStreamRequest r;
    r.set_stream(OrgStream(org));
    r.set_direction(direction);
    if (from.has_value()) r.set_from_version(*from);
    return ReadStream(stub(), r);
  };
  ASSERT_OK_AND_ASSIGN(v1::ReadStreamResponse page, read(v1::DIRECTION_UNSPECIFIED, std::nullopt));
  std::vector<v1::Event> events(page.events().begin(), page.events().end());
  EXPECT_THAT(VersionsOf(events), ElementsAreArray(Range(0, 24)));
  EXPECT_EQ(page.last_stream_version(), 24u);
  EXPECT_TRUE(page.next_page_token().empty());
  for (size_t i = 1; i < events.size(); ++i) {
    EXPECT_EQ(events[i].stream(), OrgStream(org));
    EXPECT_GT(events[i].position(), events[i - 1].position());
    EXPECT_LE(google::protobuf::util::TimeUtil::TimestampToNanoseconds(events[i - 1].recorded_time()),
              google::protobuf::util::TimeUtil::TimestampToNanoseconds(events[i].recorded_time()))
        << "recorded_time decreases with position";
  }

  ASSERT_OK_AND_ASSIGN(page, read(v1::DIRECTION_FORWARDS, std::nullopt));
  EXPECT_THAT(VersionsOf({page.events().begin(), page.events().end()}),
              ElementsAreArray(Range(0, 24)));
  ASSERT_OK_AND_ASSIGN(page, read(v1::DIRECTION_BACKWARDS, std::nullopt));
  EXPECT_THAT(VersionsOf({page.events().begin(), page.events().end()}),
              ElementsAreArray(Range(24, 0)));
  EXPECT_TRUE(page.next_page_token().empty());
  ASSERT_OK_AND_ASSIGN(page, read(v1::DIRECTION_FORWARDS, 10));
  EXPECT_THAT(VersionsOf({page.events().begin(), page.events().end()}),
              ElementsAreArray(Range(10, 24)));
  ASSERT_OK_AND_ASSIGN(page, read(v1::DIRECTION_BACKWARDS, 10));
  EXPECT_THAT(VersionsOf({page.events().begin(), page.events().end()}),
              ElementsAreArray(Range(10, 0)));
  // Forwards from beyond the last version: an empty page; backwards from
  // beyond it: from the last event.
  ASSERT_OK_AND_ASSIGN(page, read(v1::DIRECTION_FORWARDS, 25));
  EXPECT_THAT(page.events(), IsEmpty());
  EXPECT_TRUE(page.next_page_token().empty());
  EXPECT_EQ(page.last_stream_version(), 24u);
  ASSERT_OK_AND_ASSIGN(page, read(v1::DIRECTION_BACKWARDS, 1000));
  EXPECT_THAT(VersionsOf({page.events().begin(), page.events().end()}),
              ElementsAreArray(Range(24, 0)));
}

TEST_F(AppendReadTest, ReadStreamPagesThroughTokensWithoutSkipOrRepeat) {
  const std::string org = RegisterOrg();
  ASSERT_THAT(AppendUpdates(org, 249, 50), SizeIs(249));  // versions 0..249

  for (v1::Direction direction : {v1::DIRECTION_FORWARDS, v1::DIRECTION_BACKWARDS}) {
    v1::ReadStreamRequest request;
    request.set_stream(OrgStream(org));
    request.set_direction(direction);
    request.set_page_size(7);
    std::vector<v1::Event> all;
    int pages = 0;
    for (; pages < 1000; ++pages) {
      ASSERT_OK_AND_ASSIGN(v1::ReadStreamResponse page, ReadStream(stub(), request));
      EXPECT_LE(page.events_size(), 7);
      all.insert(all.end(), page.events().begin(), page.events().end());
      if (page.next_page_token().empty()) break;
      request.set_page_token(page.next_page_token());
    }
    EXPECT_GE(pages, 35);
    EXPECT_THAT(VersionsOf(all), ElementsAreArray(direction == v1::DIRECTION_FORWARDS
                                                      ? Range(0, 249)
                                                      : Range(249, 0)))
        << v1::Direction_Name(direction);
  }

  // page_size 0 is the default, 100.
  v1::ReadStreamRequest request;
  request.set_stream(OrgStream(org));
  ASSERT_OK_AND_ASSIGN(v1::ReadStreamResponse page, ReadStream(stub(), request));
  EXPECT_EQ(page.events_size(), 100);
  EXPECT_FALSE(page.next_page_token().empty());

  // Appends during a traversal: still no skip and no repeat.
  request.set_page_size(100);
  ASSERT_OK_AND_ASSIGN(page, ReadStream(stub(), request));
  std::vector<v1::Event> all(page.events().begin(), page.events().end());
  ASSERT_THAT(AppendUpdates(org, 10, 10), SizeIs(10));  // versions 250..259
  request.set_page_token(page.next_page_token());
  ASSERT_OK_AND_ASSIGN(std::vector<v1::Event> rest, ReadWholeStream(stub(), request));
  all.insert(all.end(), rest.begin(), rest.end());
  EXPECT_THAT(VersionsOf(all), ElementsAreArray(Range(0, 259)));
}

TEST_F(AppendReadTest, ReadStreamErrors) {
  const std::string org = RegisterOrg();
  ASSERT_THAT(AppendUpdates(org, 20, 20), SizeIs(20));
  v1::ReadStreamRequest request;
  request.set_stream("org/never-written");
  EXPECT_THAT(ReadStream(stub(), request), StatusIs(absl::StatusCode::kNotFound));
  request.set_stream("");
  EXPECT_THAT(ReadStream(stub(), request),
              StatusIsWithAllOf(absl::StatusCode::kInvalidArgument, Strings{"stream"}));
  request.set_stream(OrgStream(org));
  request.set_page_size(-1);
  EXPECT_THAT(ReadStream(stub(), request),
              StatusIsWithAllOf(absl::StatusCode::kInvalidArgument, Strings{"page_size"}));

  // A token is only valid with the request that returned it.
  request.set_page_size(5);
  ASSERT_OK_AND_ASSIGN(v1::ReadStreamResponse page, ReadStream(stub(), request));
  ASSERT_FALSE(page.next_page_token().empty());
  v1::ReadStreamRequest other = request;
  other.set_page_token(page.next_page_token());
  other.set_direction(v1::DIRECTION_BACKWARDS);
  EXPECT_THAT(ReadStream(stub(), other),
              StatusIsWithAllOf(absl::StatusCode::kInvalidArgument, Strings{"page_token"}));
  other = request;
  other.set_page_token(page.next_page_token());
  other.set_stream(OrgStream(RegisterOrg()));
  EXPECT_THAT(ReadStream(stub(), other),
              StatusIsWithAllOf(absl::StatusCode::kInvalidArgument, Strings{"page_token"}));
  other = request;
  other.set_page_token("not a token");
  EXPECT_THAT(ReadStream(stub(), other),
              StatusIsWithAllOf(absl::StatusCode::kInvalidArgument, Strings{"page_token"}));
}

// --- ReadAll -----------------------------------------------------------------------

TEST_F(AppendReadTest, ReadAllForwardsBackwardsPagingAndLimits) {
  // The empty log.
  {
    ASSERT_OK_AND_ASSIGN(v1::ReadAllResponse page, ReadAll(stub(), v1::ReadAllRequest()));
    EXPECT_THAT(page.events(), IsEmpty());
    EXPECT_TRUE(page.next_page_token().empty());
    EXPECT_EQ(page.last_position(), 0u);
  }
  // 1100 events over three streams.
  Strings orgs = {RegisterOrg(), RegisterOrg(), RegisterOrg()};
  for (int round = 0; round < 11; ++round) {
    for (const std::string& org : orgs) ASSERT_THAT(AppendUpdates(org, 33, 33), SizeIs(33));
  }
  ASSERT_OK_AND_ASSIGN(std::vector<v1::Event> one, ReadWholeLog(stub()));
  ASSERT_THAT(one, SizeIs(3 + 11 * 3 * 33));
  const uint64_t n = one.size();  // 1092
  ASSERT_OK(Append(stub(), OrgStream(orgs[0]), [&] {
    std::vector<v1::Event> e;
    for (uint64_t i = n; i < 1100; ++i) e.push_back(OrgUpdated(orgs[0], "pad"));
    return e;
  }()));
  constexpr uint64_t kEnd = 1100;

  const auto read = [&](v1::Direction d, std::optional<uint64_t> from, int page_size) {
    v1::ReadAllRequest r;
    r.set_direction(d);
    if (from.has_value()) r.set_from_position(*from);
    r.set_page_size(page_size);
    return ReadAll(stub(), r);
  };
  ASSERT_OK_AND_ASSIGN(v1::ReadAllResponse page, read(v1::DIRECTION_UNSPECIFIED, std::nullopt, 0));
  EXPECT_THAT(PositionsOf({page.events().begin(), page.events().end()}),
              ElementsAreArray(Range(1, 100)));
  EXPECT_FALSE(page.next_page_token().empty());
  EXPECT_EQ(page.last_position(), kEnd);
  // page_size beyond 1000 is 1000.
  ASSERT_OK_AND_ASSIGN(page, read(v1::DIRECTION_FORWARDS, std::nullopt, 5000));
  EXPECT_EQ(page.events_size(), 1000);
  EXPECT_FALSE(page.next_page_token().empty());
  ASSERT_OK_AND_ASSIGN(page, read(v1::DIRECTION_FORWARDS, 500, 10));
  EXPECT_THAT(PositionsOf({page.events().begin(), page.events().end()}),
              ElementsAreArray(Range(500, 509)));
  ASSERT_OK_AND_ASSIGN(page, read(v1::DIRECTION_BACKWARDS, 500, 10));
  EXPECT_THAT(PositionsOf({page.events().begin(), page.events().end()}),
              ElementsAreArray(Range(500, 491)));
  ASSERT_OK_AND_ASSIGN(page, read(v1::DIRECTION_BACKWARDS, std::nullopt, 3));
  EXPECT_THAT(PositionsOf({page.events().begin(), page.events().end()}),
              ElementsAre(kEnd, kEnd - 1, kEnd - 2));
  ASSERT_OK_AND_ASSIGN(page, read(v1::DIRECTION_FORWARDS, kEnd + 1, 10));
  EXPECT_THAT(page.events(), IsEmpty());
  EXPECT_TRUE(page.next_page_token().empty());
  ASSERT_OK_AND_ASSIGN(page, read(v1::DIRECTION_BACKWARDS, kEnd + 50, 2));
  EXPECT_THAT(PositionsOf({page.events().begin(), page.events().end()}),
              ElementsAre(kEnd, kEnd - 1));

  // Whole traversals through tokens, both directions, odd page sizes.
  for (const auto& [direction, page_size] :
       std::vector<std::pair<v1::Direction, int>>{{v1::DIRECTION_FORWARDS, 333},
                                                  {v1::DIRECTION_BACKWARDS, 250},
                                                  {v1::DIRECTION_FORWARDS, 1}}) {
    v1::ReadAllRequest r;
    r.set_direction(direction);
    r.set_page_size(page_size);
    ASSERT_OK_AND_ASSIGN(std::vector<v1::Event> all, ReadWholeLog(stub(), r, 5000));
    EXPECT_THAT(PositionsOf(all), ElementsAreArray(direction == v1::DIRECTION_FORWARDS
                                                       ? Range(1, kEnd)
                                                       : Range(kEnd, 1)))
        << v1::Direction_Name(direction) << " page_size " << page_size;
  }

  // Errors.
  v1::ReadAllRequest bad;
  bad.set_page_size(-5);
  EXPECT_THAT(ReadAll(stub(), bad),
              StatusIsWithAllOf(absl::StatusCode::kInvalidArgument, Strings{"page_size"}));
  bad.set_page_size(10);
  ASSERT_OK_AND_ASSIGN(page, ReadAll(stub(), bad));
  bad.set_page_token(page.next_page_token());
  bad.set_direction(v1::DIRECTION_BACKWARDS);
  EXPECT_THAT(ReadAll(stub(), bad),
              StatusIsWithAllOf(absl::StatusCode::kInvalidArgument, Strings{"page_token"}));
  bad.set_direction(v1::DIRECTION_FORWARDS);
  bad.set_page_token("garbage");
  EXPECT_THAT(ReadAll(stub(), bad),
              StatusIsWithAllOf(absl::StatusCode::kInvalidArgument, Strings{"page_token"}));
}

TEST_F(AppendReadTest, ReadAllWithFilterReturnsExactlyTheMatchingEvents) {
  const std::string a = RegisterOrg("alpha");
  const std::string b = RegisterOrg("beta");
  const std::string c = RegisterOrg("gamma");
  const std::string ab = NewName("ab-partnership");
  const std::string bc = NewName("bc-partnership");
  for (int i = 0; i < 30; ++i) {
    ASSERT_OK(Append(stub(), OrgStream(a), {OrgUpdated(a, absl::StrCat("a", i))}));
    ASSERT_OK(Append(stub(), OrgStream(c), {OrgUpdated(c, absl::StrCat("c", i)),
                                            OrgUpdated(c, absl::StrCat("c", i, "'"))}));
    if (i == 10) {
      ASSERT_OK(Append(stub(), "partnership/" + ab, {PartnershipFormed(ab, a, b)}));
    }
    if (i == 20) {
      ASSERT_OK(Append(stub(), "partnership/" + bc, {PartnershipFormed(bc, b, c)}));
    }
    if (i % 10 == 5) {
      ASSERT_OK(Append(stub(), OrgStream(b), {OrgUpdated(b, absl::StrCat("b", i))}));
    }
  }
  ASSERT_OK_AND_ASSIGN(const std::vector<v1::Event> log, ReadWholeLog(stub()));

  std::vector<std::pair<std::string, v1::SubscriptionFilter>> filters;
  {
    v1::SubscriptionFilter f;
    f.add_event_types("PartnershipFormed");
    filters.emplace_back("event type PartnershipFormed", f);
    f.add_event_types("OrganizationRegistered");
    filters.emplace_back("event types PartnershipFormed|OrganizationRegistered", f);
  }
  {
    v1::SubscriptionFilter f;
    f.add_stream_prefixes(OrgStream(b));
    filters.emplace_back("stream prefix org/<b>", f);
    f.add_stream_prefixes("partnership/");
    filters.emplace_back("stream prefixes org/<b>|partnership/", f);
  }
  {
    v1::SubscriptionFilter f;
    f.add_org_ids(a);
    filters.emplace_back("org a", f);
    v1::SubscriptionFilter g;
    g.add_org_ids(b);
    filters.emplace_back("org b", g);
    g.add_event_types("OrganizationUpdated");
    filters.emplace_back("org b AND OrganizationUpdated", g);
  }
  {
    v1::SubscriptionFilter f;
    f.add_event_types("FxRateReported");
    filters.emplace_back("a type that never occurs", f);
  }
  for (const auto& [name, filter] : filters) {
    std::vector<v1::Event> want;
    for (const v1::Event& e : log) {
      if (Matches(filter, e)) want.push_back(e);
    }
    for (v1::Direction direction : {v1::DIRECTION_FORWARDS, v1::DIRECTION_BACKWARDS}) {
      v1::ReadAllRequest r;
      *r.mutable_filter() = filter;
      r.set_page_size(4);
      r.set_direction(direction);
      ASSERT_OK_AND_ASSIGN(std::vector<v1::Event> got, ReadWholeLog(stub(), r));
      std::vector<uint64_t> want_positions = PositionsOf(want);
      if (direction == v1::DIRECTION_BACKWARDS) {
        std::reverse(want_positions.begin(), want_positions.end());
      }
      EXPECT_THAT(PositionsOf(got), ElementsAreArray(want_positions))
          << name << " " << v1::Direction_Name(direction);
    }
  }

  v1::ReadAllRequest bad;
  bad.mutable_filter()->add_event_types("NoSuchEvent");
  EXPECT_THAT(ReadAll(stub(), bad),
              StatusIsWithAllOf(absl::StatusCode::kInvalidArgument, Strings{"NoSuchEvent"}));
}

}  // namespace
}  // namespace dealwire::integration
