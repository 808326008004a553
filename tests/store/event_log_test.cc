// Tests of the EventLog contract (store/event_log.h, with store/metadata.h and
// store/state_space.h) against the RocksDB engine. Every test opens a log in a
// fresh temporary directory.
//
// No test sleeps to wait for a condition: waits are on notifications or on
// the log's own WaitForPosition, always with a deadline.

#include "store/event_log.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <iostream>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "rocksdb/db.h"
#include "tests/common/sequences.h"
#include "tests/common/status_matchers.h"
#include "tests/store/read_everything.h"
#include "store/metadata.h"
#include "store/state_space.h"
#include "store/types.h"

namespace dealwire::store {

// Printers for failure messages (found by argument-dependent lookup).
template <typename Tag>
void PrintTo(const NamedInt<Tag>& n, std::ostream* os) {
  *os << n.value();
}
void PrintTo(const AppendResult& r, std::ostream* os) {
  *os << "{positions " << r.first_position.value() << ".." << r.last_position.value()
      << ", versions " << r.first_version.value() << ".." << r.last_version.value()
      << (r.duplicate ? ", duplicate}" : "}");
}
void PrintTo(const RecordedEvent& e, std::ostream* os) {
  *os << "{position " << e.position.value() << ", " << e.stream << "@"
      << e.stream_version.value() << ", id " << e.event_id << "}";
}

namespace {

namespace fs = std::filesystem;

using ::testing::ElementsAre;
using ::testing::ElementsAreArray;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;

using ::dealwire::test_util::Range;
using ::dealwire::test_util::StatusIs;
using ::dealwire::test_util::StatusIsWith;
using ::dealwire::test_util::StatusOf;
using ::dealwire::test_util::ReadEverything;

std::string Lower(absl::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Matches a Status or StatusOr whose code is `code` and whose message
// contains, ignoring case, at least one of `words`.
MATCHER_P2(StatusIsWithAnyOf, code, words,
           absl::StrCat("has status code ", absl::StatusCodeToString(code),
                        " and a message naming one of [", absl::StrJoin(words, ", "), "]")) {
  const absl::Status& s = StatusOf(arg);
  *result_listener << "whose status is " << s;
  if (s.code() != code) return false;
  const std::string message = Lower(s.message());
  for (const std::string& w : words) {
    if (message.find(Lower(w)) != std::string::npos) return true;
  }
  return false;
}

// Words by which a conflict message can say that a stream has no event.
const std::vector<std::string>& NoStreamWords() {
  static const auto* words = new std::vector<std::string>{
      "not exist", "no stream", "nostream", "missing", "no event", "not found", "empty"};
  return *words;
}

// Event builders.

ProposedEvent MakeEvent(std::string id, std::vector<std::string> tags = {},
                        std::string data = "", std::string type = "TestEvent") {
  ProposedEvent e;
  if (data.empty()) data = absl::StrCat("data of ", id);
  e.event_id = std::move(id);
  e.type = std::move(type);
  e.tags = std::move(tags);
  e.data = std::move(data);
  return e;
}

// Returns `n` events with ids "<prefix>-0" … "<prefix>-<n-1>".
std::vector<ProposedEvent> MakeEvents(absl::string_view prefix, int n,
                                      std::vector<std::string> tags = {}) {
  std::vector<ProposedEvent> events;
  for (int i = 0; i < n; ++i) events.push_back(MakeEvent(absl::StrCat(prefix, "-", i), tags));
  return events;
}

std::vector<uint64_t> PositionsOf(const std::vector<RecordedEvent>& events) {
  std::vector<uint64_t> out;
  for (const RecordedEvent& e : events) out.push_back(e.position.value());
  return out;
}

std::vector<uint64_t> VersionsOf(const std::vector<RecordedEvent>& events) {
  std::vector<uint64_t> out;
  for (const RecordedEvent& e : events) out.push_back(e.stream_version.value());
  return out;
}

std::vector<std::string> IdsOf(const std::vector<RecordedEvent>& events) {
  std::vector<std::string> out;
  for (const RecordedEvent& e : events) out.push_back(e.event_id);
  return out;
}

void ExpectSameEvent(const RecordedEvent& got, const RecordedEvent& want) {
  EXPECT_EQ(got.position, want.position);
  EXPECT_EQ(got.stream, want.stream);
  EXPECT_EQ(got.stream_version, want.stream_version);
  EXPECT_EQ(got.recorded_time, want.recorded_time);
  EXPECT_EQ(got.event_id, want.event_id);
  EXPECT_EQ(got.type, want.type);
  EXPECT_EQ(got.tags, want.tags);
  EXPECT_EQ(got.data, want.data);
}

// Checks that `got` is `want` as recorded in `stream` at `version`.
void ExpectRecorded(const RecordedEvent& got, const ProposedEvent& want, absl::string_view stream,
                    uint64_t version) {
  EXPECT_EQ(got.stream, stream);
  EXPECT_EQ(got.stream_version, StreamVersion(version));
  EXPECT_EQ(got.event_id, want.event_id);
  EXPECT_EQ(got.type, want.type);
  EXPECT_EQ(got.tags, want.tags);
  EXPECT_EQ(got.data, want.data);
}

// The events carrying `tag`, read as the tag index of format 1 answered:
// from position `from` inclusive in `direction`, at most `limit`. The log
// keeps tags with each event (not indexed); this checks they are kept.
absl::StatusOr<std::vector<RecordedEvent>> ReadTagged(const EventLog& log, absl::string_view tag,
                                                      Direction direction,
                                                      std::optional<Position> from, size_t limit) {
  absl::StatusOr<std::vector<RecordedEvent>> all = ReadEverything(log);
  if (!all.ok()) return all.status();
  if (direction == Direction::kBackwards) std::reverse(all->begin(), all->end());
  std::vector<RecordedEvent> out;
  for (RecordedEvent& e : *all) {
    if (out.size() >= limit) break;
    if (from.has_value() &&
        (direction == Direction::kForwards ? e.position < *from : e.position > *from)) {
      continue;
    }
    if (std::find(e.tags.begin(), e.tags.end(), tag) != e.tags.end()) out.push_back(std::move(e));
  }
  return out;
}

class EventLogTest : public testing::Test {
 protected:
  void SetUp() override {
    static std::atomic<int> counter{0};
    const testing::TestInfo* info = testing::UnitTest::GetInstance()->current_test_info();
    std::string name = absl::StrCat(info->test_suite_name(), "_", info->name());
    for (char& c : name) {
      if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
    }
    dir_ = (fs::path(testing::TempDir()) /
            absl::StrFormat("dealwire_event_log_%d_%d_%s", getpid(), counter++, name))
               .string();
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }

  void TearDown() override {
    log_.reset();
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  // Opens the log of this test into log_.
  absl::Status Open(Options options = Options()) {
    absl::StatusOr<std::unique_ptr<EventLog>> log = OpenEventLog(dir_, std::move(options));
    if (!log.ok()) return log.status();
    log_ = std::move(log).value();
    return absl::OkStatus();
  }

  // Closes and destroys log_, then opens it again.
  absl::Status Reopen(Options options = Options()) {
    if (log_ != nullptr) {
      absl::Status closed = log_->Close();
      log_.reset();
      if (!closed.ok()) return closed;
    }
    return Open(std::move(options));
  }

  EventLog& log() { return *log_; }

  // Returns the stream's version; a failure is reported and gives
  // StreamVersion(UINT64_MAX).
  StreamVersion VersionOf(absl::string_view stream) {
    absl::StatusOr<StreamVersion> v = log().GetStreamVersion(stream);
    EXPECT_OK(v) << "GetStreamVersion(" << stream << ")";
    return v.ok() ? *v : StreamVersion(~uint64_t{0});
  }

  // Returns the event's position; a failure is reported and gives Position(0).
  Position PositionOf(absl::string_view event_id) {
    absl::StatusOr<Position> p = log().FindEvent(event_id);
    EXPECT_OK(p) << "FindEvent(" << event_id << ")";
    return p.ok() ? *p : Position(0);
  }

  std::string dir_;
  std::unique_ptr<EventLog> log_;
};

// --- Expected versions -------------------------------------------------------

TEST_F(EventLogTest, NoStreamSucceedsOnMissingStreamAndConflictsOnExistingOne) {
  ASSERT_OK(Open());
  ASSERT_OK_AND_ASSIGN(AppendResult r,
                       log().Append("deal/alpha", ExpectedVersion::NoStream(), MakeEvents("a", 13)));
  EXPECT_EQ(r.first_position, Position(1));
  EXPECT_EQ(r.last_position, Position(13));
  EXPECT_EQ(r.first_version, StreamVersion(0));
  EXPECT_EQ(r.last_version, StreamVersion(12));
  EXPECT_EQ(r.next_expected_version(), StreamVersion(12));
  EXPECT_FALSE(r.duplicate);

  // The stream is at version 12 now: NoStream conflicts and names 12.
  EXPECT_THAT(log().Append("deal/alpha", ExpectedVersion::NoStream(), MakeEvents("b", 3)),
              StatusIsWithAnyOf(absl::StatusCode::kAborted, std::vector<std::string>{"12"}));
  EXPECT_EQ(log().LastPosition(), Position(13));
  EXPECT_EQ(VersionOf("deal/alpha"), StreamVersion(12));
  EXPECT_THAT(log().FindEvent("b-0"), StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(EventLogTest, StreamExistsConflictsOnMissingStreamAndSucceedsOnExistingOne) {
  ASSERT_OK(Open());
  EXPECT_THAT(log().Append("deal/alpha", ExpectedVersion::StreamExists(), MakeEvents("a", 2)),
              StatusIsWithAnyOf(absl::StatusCode::kAborted, NoStreamWords()));
  EXPECT_EQ(log().LastPosition(), Position(0));
  EXPECT_THAT(log().GetStreamVersion("deal/alpha"), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(log().FindEvent("a-0"), StatusIs(absl::StatusCode::kNotFound));

  // Another stream existing does not make this one exist.
  ASSERT_OK(log().Append("deal/beta", ExpectedVersion::NoStream(), MakeEvents("b", 1)));
  EXPECT_THAT(log().Append("deal/alpha", ExpectedVersion::StreamExists(), MakeEvents("a", 2)),
              StatusIs(absl::StatusCode::kAborted));

  ASSERT_OK(log().Append("deal/alpha", ExpectedVersion::NoStream(), MakeEvents("c", 1)));
  ASSERT_OK_AND_ASSIGN(AppendResult r, log().Append("deal/alpha", ExpectedVersion::StreamExists(),
                                                    MakeEvents("a", 2)));
  EXPECT_EQ(r.first_position, Position(3));
  EXPECT_EQ(r.last_position, Position(4));
  EXPECT_EQ(r.first_version, StreamVersion(1));
  EXPECT_EQ(r.last_version, StreamVersion(2));
}

TEST_F(EventLogTest, ExactConflictsWhenTooLowTooHighOrStreamMissing) {
  ASSERT_OK(Open());
  // Exact on a missing stream, even Exact(0).
  EXPECT_THAT(log().Append("deal/alpha", ExpectedVersion::Exact(StreamVersion(0)),
                           MakeEvents("x", 1)),
              StatusIsWithAnyOf(absl::StatusCode::kAborted, NoStreamWords()));
  EXPECT_THAT(log().Append("deal/alpha", ExpectedVersion::Exact(StreamVersion(5)),
                           MakeEvents("x", 1)),
              StatusIsWithAnyOf(absl::StatusCode::kAborted, NoStreamWords()));
  EXPECT_EQ(log().LastPosition(), Position(0));

  ASSERT_OK(log().Append("deal/alpha", ExpectedVersion::NoStream(), MakeEvents("a", 13)));
  const std::vector<std::string> actual = {"12"};
  // Too low.
  EXPECT_THAT(log().Append("deal/alpha", ExpectedVersion::Exact(StreamVersion(4)),
                           MakeEvents("x", 3)),
              StatusIsWithAnyOf(absl::StatusCode::kAborted, actual));
  EXPECT_THAT(log().Append("deal/alpha", ExpectedVersion::Exact(StreamVersion(0)),
                           MakeEvents("x", 3)),
              StatusIsWithAnyOf(absl::StatusCode::kAborted, actual));
  // Too high, by one and by much.
  EXPECT_THAT(log().Append("deal/alpha", ExpectedVersion::Exact(StreamVersion(13)),
                           MakeEvents("x", 3)),
              StatusIsWithAnyOf(absl::StatusCode::kAborted, actual));
  EXPECT_THAT(log().Append("deal/alpha", ExpectedVersion::Exact(StreamVersion(40)),
                           MakeEvents("x", 3)),
              StatusIsWithAnyOf(absl::StatusCode::kAborted, actual));
  EXPECT_EQ(log().LastPosition(), Position(13));
  EXPECT_THAT(log().FindEvent("x-0"), StatusIs(absl::StatusCode::kNotFound));

  // Exact on the actual version succeeds, and then once more on the new one.
  ASSERT_OK_AND_ASSIGN(AppendResult r, log().Append("deal/alpha",
                                                    ExpectedVersion::Exact(StreamVersion(12)),
                                                    MakeEvents("x", 3)));
  EXPECT_EQ(r.first_position, Position(14));
  EXPECT_EQ(r.last_position, Position(16));
  EXPECT_EQ(r.first_version, StreamVersion(13));
  EXPECT_EQ(r.last_version, StreamVersion(15));
  ASSERT_OK_AND_ASSIGN(r, log().Append("deal/alpha",
                                       ExpectedVersion::Exact(r.next_expected_version()),
                                       MakeEvents("y", 1)));
  EXPECT_EQ(r.first_version, StreamVersion(16));
  EXPECT_EQ(r.last_position, Position(17));
  // The old expectation is stale now.
  EXPECT_THAT(log().Append("deal/alpha", ExpectedVersion::Exact(StreamVersion(12)),
                           MakeEvents("z", 1)),
              StatusIsWithAnyOf(absl::StatusCode::kAborted, std::vector<std::string>{"16"}));
}

TEST_F(EventLogTest, AnyAlwaysSucceeds) {
  ASSERT_OK(Open());
  ASSERT_OK_AND_ASSIGN(AppendResult r,
                       log().Append("deal/alpha", ExpectedVersion::Any(), MakeEvents("a", 2)));
  EXPECT_EQ(r.first_version, StreamVersion(0));
  EXPECT_EQ(r.last_version, StreamVersion(1));
  ASSERT_OK_AND_ASSIGN(r, log().Append("deal/alpha", ExpectedVersion::Any(), MakeEvents("b", 1)));
  EXPECT_EQ(r.first_version, StreamVersion(2));
  EXPECT_EQ(r.first_position, Position(3));
  ASSERT_OK_AND_ASSIGN(r, log().Append("deal/beta", ExpectedVersion::Any(), MakeEvents("c", 1)));
  EXPECT_EQ(r.first_version, StreamVersion(0));
  EXPECT_EQ(r.first_position, Position(4));
}

// --- Atomicity -------------------------------------------------------------

TEST_F(EventLogTest, MultiEventAppendGetsConsecutivePositionsAndVersions) {
  ASSERT_OK(Open());
  ASSERT_OK(log().Append("deal/other", ExpectedVersion::NoStream(), MakeEvents("o", 2)));
  std::vector<ProposedEvent> events = MakeEvents("a", 5, {"org/acme"});
  ASSERT_OK_AND_ASSIGN(AppendResult r,
                       log().Append("deal/alpha", ExpectedVersion::NoStream(), events));
  EXPECT_EQ(r.first_position, Position(3));
  EXPECT_EQ(r.last_position, Position(7));
  EXPECT_EQ(r.first_version, StreamVersion(0));
  EXPECT_EQ(r.last_version, StreamVersion(4));

  ASSERT_OK_AND_ASSIGN(std::vector<RecordedEvent> read,
                       log().ReadStream("deal/alpha", Direction::kForwards, std::nullopt, 100));
  ASSERT_THAT(read, SizeIs(5));
  for (int i = 0; i < 5; ++i) {
    ExpectRecorded(read[i], events[i], "deal/alpha", i);
    EXPECT_EQ(read[i].position, Position(3 + i));
  }
}

TEST_F(EventLogTest, InvalidLastEventFailsWholeAppend) {
  ASSERT_OK(Open());
  ASSERT_OK(log().Append("deal/alpha", ExpectedVersion::NoStream(), MakeEvents("a", 2)));

  // The 5th event has a NUL in a tag.
  std::vector<ProposedEvent> events = MakeEvents("b", 5, {"org/acme"});
  events[4].tags.push_back(std::string("org/n\0ul", 8));
  EXPECT_THAT(log().Append("deal/alpha", ExpectedVersion::Any(), events),
              StatusIsWithAnyOf(absl::StatusCode::kInvalidArgument,
                                std::vector<std::string>{"tag"}));

  // The 5th event repeats the id of the 2nd.
  events = MakeEvents("c", 5, {"org/acme"});
  events[4].event_id = events[1].event_id;
  events[4].data = "other data";
  EXPECT_THAT(log().Append("deal/alpha", ExpectedVersion::Any(), events),
              StatusIsWithAnyOf(absl::StatusCode::kInvalidArgument,
                                std::vector<std::string>{events[1].event_id}));
  // Same, with the events identical (an exact copy is not a retry either).
  events = MakeEvents("d", 5);
  events[4] = events[0];
  EXPECT_THAT(log().Append("deal/new", ExpectedVersion::NoStream(), events),
              StatusIs(absl::StatusCode::kInvalidArgument));

  EXPECT_EQ(log().LastPosition(), Position(2));
  ASSERT_OK_AND_ASSIGN(std::vector<RecordedEvent> all, ReadEverything(log()));
  EXPECT_THAT(IdsOf(all), ElementsAre("a-0", "a-1"));
  EXPECT_EQ(VersionOf("deal/alpha"), StreamVersion(1));
  EXPECT_THAT(log().GetStreamVersion("deal/new"), StatusIs(absl::StatusCode::kNotFound));
  for (const char* id : {"b-0", "b-3", "c-0", "c-3", "d-1"}) {
    EXPECT_THAT(log().FindEvent(id), StatusIs(absl::StatusCode::kNotFound)) << id;
  }
  ASSERT_OK_AND_ASSIGN(std::vector<RecordedEvent> tagged,
                       ReadTagged(log(), "org/acme", Direction::kForwards, std::nullopt, 100));
  EXPECT_THAT(tagged, IsEmpty());

  // The valid events can be appended afterwards: nothing of them was kept.
  ASSERT_OK_AND_ASSIGN(AppendResult r, log().Append("deal/alpha",
                                                    ExpectedVersion::Exact(StreamVersion(1)),
                                                    MakeEvents("b", 4, {"org/acme"})));
  EXPECT_EQ(r.first_position, Position(3));
  EXPECT_FALSE(r.duplicate);
}

// --- Idempotency -----------------------------------------------------------

TEST_F(EventLogTest, IdenticalReappendIsDuplicateAndWritesNothing) {
  ASSERT_OK(Open());
  ASSERT_OK(log().Append("deal/before", ExpectedVersion::NoStream(), MakeEvents("p", 2)));
  const std::vector<ProposedEvent> events = MakeEvents("a", 3, {"org/acme", "org/beta"});
  ASSERT_OK_AND_ASSIGN(AppendResult first,
                       log().Append("deal/alpha", ExpectedVersion::NoStream(), events));
  EXPECT_FALSE(first.duplicate);
  ASSERT_OK(log().Append("deal/after", ExpectedVersion::NoStream(), MakeEvents("q", 2)));
  ASSERT_OK_AND_ASSIGN(std::vector<RecordedEvent> before, ReadEverything(log()));
  ASSERT_EQ(log().LastPosition(), Position(7));

  Position last = log().LastPosition();
  auto expect_duplicate = [&](const absl::StatusOr<AppendResult>& again) {
    ASSERT_OK(again);
    EXPECT_TRUE(again->duplicate);
    EXPECT_EQ(again->first_position, first.first_position);
    EXPECT_EQ(again->last_position, first.last_position);
    EXPECT_EQ(again->first_version, first.first_version);
    EXPECT_EQ(again->last_version, first.last_version);
    EXPECT_EQ(log().LastPosition(), last) << "a duplicate wrote something";
  };
  // The retried append's expectation is stale now; it is a duplicate anyway.
  expect_duplicate(log().Append("deal/alpha", ExpectedVersion::NoStream(), events));
  expect_duplicate(log().Append("deal/alpha", ExpectedVersion::Any(), events));
  expect_duplicate(
      log().Append("deal/alpha", ExpectedVersion::Exact(StreamVersion(0)), events));

  // A later append to the stream is not disturbed by the duplicates.
  ASSERT_OK(log().Append("deal/alpha", ExpectedVersion::Any(), MakeEvents("b", 1)));
  last = log().LastPosition();
  expect_duplicate(log().Append("deal/alpha", ExpectedVersion::NoStream(), events));
  EXPECT_EQ(log().LastPosition(), Position(8));

  // For ever: also after closing and reopening.
  ASSERT_OK(Reopen());
  expect_duplicate(log().Append("deal/alpha", ExpectedVersion::NoStream(), events));
  EXPECT_EQ(log().LastPosition(), Position(8));
  ASSERT_OK_AND_ASSIGN(std::vector<RecordedEvent> after, ReadEverything(log()));
  ASSERT_THAT(after, SizeIs(8));
  for (size_t i = 0; i < before.size(); ++i) ExpectSameEvent(after[i], before[i]);
  EXPECT_EQ(VersionOf("deal/alpha"), StreamVersion(3));
}

TEST_F(EventLogTest, ReusedIdWithOtherContentIsAlreadyExists) {
  ASSERT_OK(Open());
  const std::vector<ProposedEvent> events = MakeEvents("a", 3, {"org/acme"});
  ASSERT_OK(log().Append("deal/alpha", ExpectedVersion::NoStream(), events));
  ASSERT_OK_AND_ASSIGN(std::vector<RecordedEvent> before, ReadEverything(log()));

  auto expect_refused = [&](std::string stream, std::vector<ProposedEvent> changed,
                            const std::string& what) {
    SCOPED_TRACE(what);
    EXPECT_THAT(log().Append(std::move(stream), ExpectedVersion::Any(), std::move(changed)),
                StatusIs(absl::StatusCode::kAlreadyExists));
    EXPECT_EQ(log().LastPosition(), Position(3));
  };
  std::vector<ProposedEvent> changed = events;
  changed[1].data = "other data";
  expect_refused("deal/alpha", changed, "other data");
  expect_refused("deal/beta", events, "other stream");
  changed = events;
  changed[2].tags = {"org/acme", "org/other"};
  expect_refused("deal/alpha", changed, "other tags");
  changed = events;
  changed[0].tags = {};
  expect_refused("deal/alpha", changed, "no tags");
  changed = events;
  changed[0].type = "OtherType";
  expect_refused("deal/alpha", changed, "other type");
  // One reused id alone, with other content, in a single-event append.
  expect_refused("deal/beta", {MakeEvent("a-1", {}, "x")}, "single event");

  // Partial repeats: some ids old (identical), some new.
  std::vector<ProposedEvent> partial = events;
  partial.push_back(MakeEvent("new-1"));
  expect_refused("deal/alpha", partial, "old then new");
  partial = {MakeEvent("new-2"), events[0]};
  expect_refused("deal/alpha", partial, "new then old");
  partial = {events[1]};
  partial.push_back(MakeEvent("new-3"));
  expect_refused("deal/alpha", partial, "one old, one new");

  EXPECT_THAT(log().GetStreamVersion("deal/beta"), StatusIs(absl::StatusCode::kNotFound));
  for (const char* id : {"new-1", "new-2", "new-3"}) {
    EXPECT_THAT(log().FindEvent(id), StatusIs(absl::StatusCode::kNotFound)) << id;
  }
  ASSERT_OK_AND_ASSIGN(std::vector<RecordedEvent> after, ReadEverything(log()));
  ASSERT_THAT(after, SizeIs(before.size()));
  for (size_t i = 0; i < before.size(); ++i) ExpectSameEvent(after[i], before[i]);
  ASSERT_OK_AND_ASSIGN(std::vector<RecordedEvent> other,
                       ReadTagged(log(), "org/other", Direction::kForwards, std::nullopt, 10));
  EXPECT_THAT(other, IsEmpty());

  // Still refused after reopening.
  ASSERT_OK(Reopen());
  changed = events;
  changed[1].data = "other data";
  expect_refused("deal/alpha", changed, "other data after reopen");
}

TEST_F(EventLogTest, ConcurrentIdenticalAppendsWriteOnce) {
  ASSERT_OK(Open());
  constexpr int kPairs = 20;
  struct Outcome {
    absl::Notification done;
    absl::StatusOr<AppendResult> result;
  };
  std::vector<std::unique_ptr<Outcome>> outcomes;
  for (int i = 0; i < kPairs; ++i) {
    const std::vector<ProposedEvent> events = MakeEvents(absl::StrCat("p", i), 3);
    for (int copy = 0; copy < 2; ++copy) {
      outcomes.push_back(std::make_unique<Outcome>());
      Outcome* o = outcomes.back().get();
      log().AppendAsync(absl::StrCat("deal/", i), ExpectedVersion::Any(), events,
                        [o](absl::StatusOr<AppendResult> r) {
                          o->result = std::move(r);
                          o->done.Notify();
                        });
    }
  }
  for (auto& o : outcomes) ASSERT_TRUE(o->done.WaitForNotificationWithTimeout(absl::Seconds(60)));
  for (int i = 0; i < kPairs; ++i) {
    SCOPED_TRACE(i);
    const absl::StatusOr<AppendResult>& a = outcomes[2 * i]->result;
    const absl::StatusOr<AppendResult>& b = outcomes[2 * i + 1]->result;
    ASSERT_OK(a);
    ASSERT_OK(b);
    EXPECT_EQ(a->duplicate + b->duplicate, 1) << "exactly one of two identical appends writes";
    EXPECT_EQ(a->first_position, b->first_position);
    EXPECT_EQ(a->last_position, b->last_position);
    EXPECT_EQ(a->first_version, StreamVersion(0));
    EXPECT_EQ(b->last_version, StreamVersion(2));
  }
  EXPECT_EQ(log().LastPosition(), Position(3 * kPairs));
  ASSERT_OK_AND_ASSIGN(std::vector<RecordedEvent> all, ReadEverything(log()));
  EXPECT_THAT(PositionsOf(all), ElementsAreArray(Range(1, 3 * kPairs)));
}

TEST_F(EventLogTest, ConcurrentConflictingReuseOfAnIdWritesOnlyOne) {
  ASSERT_OK(Open());
  constexpr int kPairs = 20;
  struct Outcome {
    absl::Notification done;
    absl::StatusOr<AppendResult> result;
  };
  std::vector<std::unique_ptr<Outcome>> outcomes;
  for (int i = 0; i < kPairs; ++i) {
    for (int copy = 0; copy < 2; ++copy) {
      outcomes.push_back(std::make_unique<Outcome>());
      Outcome* o = outcomes.back().get();
      log().AppendAsync("deal/x", ExpectedVersion::Any(),
                        {MakeEvent(absl::StrCat("id-", i), {}, absl::StrCat("content ", copy))},
                        [o](absl::StatusOr<AppendResult> r) {
                          o->result = std::move(r);
                          o->done.Notify();
                        });
    }
  }
  for (auto& o : outcomes) ASSERT_TRUE(o->done.WaitForNotificationWithTimeout(absl::Seconds(60)));
  for (int i = 0; i < kPairs; ++i) {
    SCOPED_TRACE(i);
    const absl::StatusOr<AppendResult>& a = outcomes[2 * i]->result;
    const absl::StatusOr<AppendResult>& b = outcomes[2 * i + 1]->result;
    EXPECT_EQ(a.ok() + b.ok(), 1) << a.status() << " / " << b.status();
    const absl::StatusOr<AppendResult>& refused = a.ok() ? b : a;
    EXPECT_THAT(refused, StatusIs(absl::StatusCode::kAlreadyExists));
    const absl::StatusOr<AppendResult>& won = a.ok() ? a : b;
    if (!won.ok()) continue;
    EXPECT_FALSE(won->duplicate);
    ASSERT_OK_AND_ASSIGN(RecordedEvent e, log().ReadEvent(won->first_position));
    EXPECT_EQ(e.data, absl::StrCat("content ", a.ok() ? 0 : 1));
  }
  EXPECT_EQ(log().LastPosition(), Position(kPairs));
  EXPECT_EQ(VersionOf("deal/x"), StreamVersion(kPairs - 1));
}

// --- Persistence -----------------------------------------------------------

TEST_F(EventLogTest, ReopenKeepsEventsAndContinuesPositionsAndVersions) {
  ASSERT_OK(Open());
  std::string binary("\0\x01\xff\xfe payload \0 end", 18);
  ASSERT_OK(log().Append("deal/alpha", ExpectedVersion::NoStream(),
                         {MakeEvent("a-0", {"org/acme", "org/beta"}, binary, "InvestmentReported"),
                          MakeEvent("a-1", {}, "second", "Other")}));
  ASSERT_OK(log().Append("deal/beta", ExpectedVersion::NoStream(),
                         {MakeEvent("b-0", {"org/beta"}, std::string(100000, 'x'))}));
  ASSERT_OK(log().Append("deal/alpha", ExpectedVersion::Exact(StreamVersion(1)),
                         MakeEvents("a2", 3, {"org/acme"})));
  ASSERT_OK_AND_ASSIGN(std::vector<RecordedEvent> before, ReadEverything(log()));
  ASSERT_THAT(PositionsOf(before), ElementsAreArray(Range(1, 6)));
  EXPECT_EQ(before[0].data, binary);
  EXPECT_EQ(before[0].tags, (std::vector<std::string>{"org/acme", "org/beta"}));
  EXPECT_EQ(before[2].data.size(), 100000u);

  // Close explicitly, destroy, reopen — with another first_position, which an
  // existing log ignores.
  ASSERT_OK(log().Close());
  log_.reset();
  Options options;
  options.first_position = 1000;
  options.create_if_missing = false;
  ASSERT_OK(Open(options));
  EXPECT_EQ(log().LastPosition(), Position(6));
  ASSERT_OK_AND_ASSIGN(std::vector<RecordedEvent> after, ReadEverything(log()));
  ASSERT_THAT(after, SizeIs(before.size()));
  for (size_t i = 0; i < before.size(); ++i) {
    SCOPED_TRACE(i);
    ExpectSameEvent(after[i], before[i]);
    if (i > 0) {
      EXPECT_LE(after[i - 1].recorded_time, after[i].recorded_time);
    }
  }
  EXPECT_EQ(VersionOf("deal/alpha"), StreamVersion(4));
  EXPECT_EQ(PositionOf("b-0"), Position(3));
  ASSERT_OK_AND_ASSIGN(std::vector<RecordedEvent> beta,
                       ReadTagged(log(), "org/beta", Direction::kForwards, std::nullopt, 10));
  EXPECT_THAT(PositionsOf(beta), ElementsAre(1, 3));

  // The stream still exists and positions continue at last + 1.
  EXPECT_THAT(log().Append("deal/alpha", ExpectedVersion::NoStream(), MakeEvents("c", 1)),
              StatusIs(absl::StatusCode::kAborted));
  ASSERT_OK_AND_ASSIGN(AppendResult r, log().Append("deal/alpha",
                                                    ExpectedVersion::Exact(StreamVersion(4)),
                                                    MakeEvents("c", 2)));
  EXPECT_EQ(r.first_position, Position(7));
  EXPECT_EQ(r.last_position, Position(8));
  EXPECT_EQ(r.first_version, StreamVersion(5));
  ASSERT_OK_AND_ASSIGN(r, log().Append("deal/gamma", ExpectedVersion::NoStream(),
                                       MakeEvents("g", 1)));
  EXPECT_EQ(r.first_position, Position(9));
  EXPECT_EQ(r.first_version, StreamVersion(0));

  // Destroying without Close also keeps everything (the destructor closes).
  log_.reset();
  ASSERT_OK(Open());
  ASSERT_OK_AND_ASSIGN(after, ReadEverything(log()));
  EXPECT_THAT(PositionsOf(after), ElementsAreArray(Range(1, 9)));
  for (size_t i = 1; i < after.size(); ++i) {
    EXPECT_LE(after[i - 1].recorded_time, after[i].recorded_time) << i;
  }
  EXPECT_EQ(after[8].event_id, "g-0");
  EXPECT_EQ(after[8].stream, "deal/gamma");
}

// --- Concurrency -----------------------------------------------------------

TEST_F(EventLogTest, ConcurrentAppendsToOverlappingStreamsStayGapFree) {
  ASSERT_OK(Open());
  constexpr int kThreads = 16;
  constexpr int kAppendsPerThread = 500;
  constexpr int kStreams = 4;
  struct Ack {
    std::string stream;
    std::vector<std::string> ids;
    AppendResult result;
  };
  std::vector<std::vector<Ack>> acks(kThreads);
  std::atomic<int64_t> conflicts{0};

  auto run = [&](int t) {
    // Even threads append with Exact(expected) and retry on ABORTED; odd
    // threads append with Any.
    const bool exact = t % 2 == 0;
    for (int i = 0; i < kAppendsPerThread; ++i) {
      const std::string stream = absl::StrCat("deal/s", (t + i) % kStreams);
      const int n = i % 7 == 0 ? 3 : 1;
      std::vector<ProposedEvent> events = MakeEvents(absl::StrFormat("t%d-i%d", t, i), n);
      std::vector<std::string> ids;
      for (const ProposedEvent& e : events) ids.push_back(e.event_id);
      for (int attempt = 0;; ++attempt) {
        if (attempt == 100000) {
          ADD_FAILURE() << "thread " << t << " could not append after " << attempt << " tries";
          return;
        }
        ExpectedVersion expected = ExpectedVersion::Any();
        std::optional<StreamVersion> seen;
        if (exact) {
          absl::StatusOr<StreamVersion> v = log().GetStreamVersion(stream);
          if (v.ok()) {
            seen = *v;
            expected = ExpectedVersion::Exact(*v);
          } else if (v.status().code() == absl::StatusCode::kNotFound) {
            expected = ExpectedVersion::NoStream();
          } else {
            ADD_FAILURE() << v.status();
            return;
          }
        }
        absl::StatusOr<AppendResult> r = log().Append(stream, expected, events);
        if (r.ok()) {
          EXPECT_FALSE(r->duplicate);
          EXPECT_EQ(r->last_position.value() - r->first_position.value(), uint64_t(n - 1));
          EXPECT_EQ(r->last_version.value() - r->first_version.value(), uint64_t(n - 1));
          if (exact) {
            // The expectation held at commit: the append follows `seen`.
            EXPECT_EQ(r->first_version, seen ? seen->next() : StreamVersion(0));
          }
          acks[t].push_back(Ack{stream, ids, *r});
          break;
        }
        if (exact && r.status().code() == absl::StatusCode::kAborted) {
          ++conflicts;
          continue;
        }
        if (r.status().code() == absl::StatusCode::kUnavailable) continue;
        ADD_FAILURE() << "thread " << t << ": " << r.status();
        return;
      }
    }
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) threads.emplace_back(run, t);
  for (std::thread& th : threads) th.join();

  uint64_t total = 0;
  size_t acked_appends = 0;
  for (const auto& per_thread : acks) {
    acked_appends += per_thread.size();
    for (const Ack& a : per_thread) total += a.ids.size();
  }
  ASSERT_EQ(acked_appends, size_t{kThreads * kAppendsPerThread});
  std::cout << "appends: " << acked_appends << ", events: " << total
            << ", version conflicts retried: " << conflicts.load() << "\n";

  EXPECT_EQ(log().LastPosition(), Position(total));
  ASSERT_OK_AND_ASSIGN(std::vector<RecordedEvent> all, ReadEverything(log()));
  ASSERT_THAT(PositionsOf(all), ElementsAreArray(Range(1, total)));

  // Each stream's versions are 0..n-1 in position order.
  absl::flat_hash_map<std::string, uint64_t> next_version;
  absl::flat_hash_set<std::string> ids;
  for (const RecordedEvent& e : all) {
    EXPECT_EQ(e.stream_version.value(), next_version[e.stream]++)
        << "stream " << e.stream << " at position " << e.position.value();
    EXPECT_TRUE(ids.insert(e.event_id).second) << "id twice: " << e.event_id;
  }
  EXPECT_THAT(next_version, SizeIs(kStreams));
  for (const auto& [stream, n] : next_version) {
    EXPECT_EQ(VersionOf(stream), StreamVersion(n - 1));
    ASSERT_OK_AND_ASSIGN(std::vector<RecordedEvent> in_stream,
                         log().ReadStream(stream, Direction::kForwards, std::nullopt, 100000));
    EXPECT_THAT(VersionsOf(in_stream), ElementsAreArray(Range(0, n - 1))) << stream;
  }

  // Every acknowledged (position, id) is in the log, as acknowledged.
  for (const auto& per_thread : acks) {
    for (const Ack& a : per_thread) {
      for (size_t k = 0; k < a.ids.size(); ++k) {
        const RecordedEvent& e = all[a.result.first_position.value() + k - 1];
        EXPECT_EQ(e.event_id, a.ids[k]);
        EXPECT_EQ(e.stream, a.stream);
        EXPECT_EQ(e.stream_version.value(), a.result.first_version.value() + k);
      }
    }
  }
}

// --- Key encoding ----------------------------------------------------------

class PositionBoundaryTest : public EventLogTest,
                             public testing::WithParamInterface<uint64_t> {};

TEST_P(PositionBoundaryTest, PositionsAcrossBoundaryKeepOrder) {
  const uint64_t boundary = GetParam();
  const uint64_t first = boundary - 5;
  const uint64_t last = boundary + 4;
  Options options;
  options.first_position = first;
  ASSERT_OK(Open(options));
  EXPECT_EQ(log().LastPosition(), Position(first - 1));
  ASSERT_OK_AND_ASSIGN(std::vector<RecordedEvent> empty,
                       log().ReadAll(Direction::kBackwards, std::nullopt, 10));
  EXPECT_THAT(empty, IsEmpty());

  for (int i = 0; i < 10; ++i) {
    std::vector<std::string> tags = {"org/all"};
    if (i % 2 == 0) tags.push_back("org/even");
    ASSERT_OK_AND_ASSIGN(AppendResult r,
                         log().Append(i % 2 == 0 ? "deal/left" : "deal/right",
                                      ExpectedVersion::Any(),
                                      {MakeEvent(absl::StrCat("e", i), tags)}));
    EXPECT_EQ(r.first_position, Position(first + i));
  }
  EXPECT_EQ(log().LastPosition(), Position(last));

  auto positions = [&](absl::StatusOr<std::vector<RecordedEvent>> events) {
    EXPECT_OK(events);
    return events.ok() ? PositionsOf(*events) : std::vector<uint64_t>{};
  };
  const Position at(boundary);
  EXPECT_THAT(positions(log().ReadAll(Direction::kForwards, std::nullopt, 100)),
              ElementsAreArray(Range(first, last)));
  EXPECT_THAT(positions(log().ReadAll(Direction::kBackwards, std::nullopt, 100)),
              ElementsAreArray(Range(last, first)));
  EXPECT_THAT(positions(log().ReadAll(Direction::kForwards, at, 100)),
              ElementsAreArray(Range(boundary, last)));
  EXPECT_THAT(positions(log().ReadAll(Direction::kBackwards, at, 100)),
              ElementsAreArray(Range(boundary, first)));
  EXPECT_THAT(positions(log().ReadAll(Direction::kForwards, Position(boundary - 1), 2)),
              ElementsAre(boundary - 1, boundary));
  EXPECT_THAT(positions(log().ReadAll(Direction::kBackwards, Position(boundary), 2)),
              ElementsAre(boundary, boundary - 1));
  EXPECT_THAT(positions(log().ReadAll(Direction::kForwards, Position(last + 1), 100)), IsEmpty());

  EXPECT_THAT(positions(ReadTagged(log(), "org/all", Direction::kForwards, std::nullopt, 100)),
              ElementsAreArray(Range(first, last)));
  EXPECT_THAT(positions(ReadTagged(log(), "org/all", Direction::kBackwards, std::nullopt, 100)),
              ElementsAreArray(Range(last, first)));
  EXPECT_THAT(positions(ReadTagged(log(), "org/all", Direction::kForwards, at, 100)),
              ElementsAreArray(Range(boundary, last)));
  EXPECT_THAT(positions(ReadTagged(log(), "org/all", Direction::kBackwards, at, 100)),
              ElementsAreArray(Range(boundary, first)));
  // org/even is on first, first+2, … = boundary-5, -3, -1, +1, +3.
  EXPECT_THAT(positions(ReadTagged(log(), "org/even", Direction::kForwards, at, 100)),
              ElementsAre(boundary + 1, boundary + 3));
  EXPECT_THAT(positions(ReadTagged(log(), "org/even", Direction::kBackwards, at, 100)),
              ElementsAre(boundary - 1, boundary - 3, boundary - 5));

  ASSERT_OK_AND_ASSIGN(RecordedEvent e, log().ReadEvent(at));
  EXPECT_EQ(e.event_id, "e5");
  EXPECT_EQ(PositionOf("e5"), at);
  ASSERT_OK_AND_ASSIGN(std::vector<RecordedEvent> left,
                       log().ReadStream("deal/left", Direction::kForwards, std::nullopt, 100));
  EXPECT_THAT(VersionsOf(left), ElementsAre(0, 1, 2, 3, 4));
  EXPECT_THAT(PositionsOf(left), ElementsAre(first, first + 2, first + 4, first + 6, first + 8));

  // The last position is recovered correctly from the keys.
  ASSERT_OK(Reopen());
  EXPECT_EQ(log().LastPosition(), Position(last));
  ASSERT_OK_AND_ASSIGN(AppendResult r, log().Append("deal/left", ExpectedVersion::Any(),
                                                    {MakeEvent("after-reopen")}));
  EXPECT_EQ(r.first_position, Position(last + 1));
  EXPECT_EQ(r.first_version, StreamVersion(5));
  EXPECT_THAT(positions(log().ReadAll(Direction::kBackwards, std::nullopt, 3)),
              ElementsAre(last + 1, last, last - 1));
  EXPECT_THAT(positions(log().ReadAll(Direction::kForwards, Position(boundary - 2), 100)),
              ElementsAreArray(Range(boundary - 2, last + 1)));
}

INSTANTIATE_TEST_SUITE_P(Boundaries, PositionBoundaryTest,
                         testing::Values(uint64_t{1} << 8, uint64_t{1} << 16, uint64_t{1} << 24,
                                         uint64_t{1} << 32, uint64_t{1} << 56,
                                         uint64_t{1} << 63),
                         [](const testing::TestParamInfo<uint64_t>& info) {
                           return absl::StrCat("Pow2_", __builtin_ctzll(info.param));
                         });

TEST_F(EventLogTest, StreamVersionsPast256And65536KeepOrder) {
  ASSERT_OK(Open());
  constexpr int kEvents = 66000;
  constexpr int kBatch = 1000;
  for (int b = 0; b < kEvents / kBatch; ++b) {
    std::vector<ProposedEvent> events;
    for (int i = 0; i < kBatch; ++i) {
      events.push_back(MakeEvent(absl::StrCat("v", b * kBatch + i), {}, "d"));
    }
    ASSERT_OK_AND_ASSIGN(AppendResult r, log().Append("deal/long", ExpectedVersion::Any(),
                                                      std::move(events)));
    ASSERT_EQ(r.first_version, StreamVersion(b * kBatch));
  }
  ASSERT_OK(log().Append("deal/longer", ExpectedVersion::Any(), MakeEvents("other", 2)));
  EXPECT_EQ(VersionOf("deal/long"), StreamVersion(kEvents - 1));

  auto versions = [&](Direction d, std::optional<StreamVersion> from, size_t limit) {
    absl::StatusOr<std::vector<RecordedEvent>> events = log().ReadStream("deal/long", d, from, limit);
    EXPECT_OK(events);
    return events.ok() ? VersionsOf(*events) : std::vector<uint64_t>{};
  };
  EXPECT_THAT(versions(Direction::kForwards, StreamVersion(250), 10),
              ElementsAreArray(Range(250, 259)));
  EXPECT_THAT(versions(Direction::kBackwards, StreamVersion(260), 10),
              ElementsAreArray(Range(260, 251)));
  EXPECT_THAT(versions(Direction::kForwards, StreamVersion(65530), 10),
              ElementsAreArray(Range(65530, 65539)));
  EXPECT_THAT(versions(Direction::kBackwards, StreamVersion(65540), 10),
              ElementsAreArray(Range(65540, 65531)));
  EXPECT_THAT(versions(Direction::kBackwards, std::nullopt, 3),
              ElementsAre(kEvents - 1, kEvents - 2, kEvents - 3));
  EXPECT_THAT(versions(Direction::kForwards, StreamVersion(kEvents - 2), 10),
              ElementsAre(kEvents - 2, kEvents - 1));
  EXPECT_THAT(versions(Direction::kForwards, StreamVersion(kEvents), 10), IsEmpty());
  ASSERT_OK(Reopen());
  EXPECT_EQ(VersionOf("deal/long"), StreamVersion(kEvents - 1));
  ASSERT_OK_AND_ASSIGN(AppendResult r,
                       log().Append("deal/long", ExpectedVersion::Exact(StreamVersion(kEvents - 1)),
                                    {MakeEvent("last")}));
  EXPECT_EQ(r.first_version, StreamVersion(kEvents));
}

TEST_F(EventLogTest, StreamsAndTagsThatArePrefixesOfOthersStayApart) {
  ASSERT_OK(Open());
  // Appended so that the longer names' events come last: a backwards read of
  // the shorter name must not step into them.
  ASSERT_OK(log().Append("dea", ExpectedVersion::NoStream(), {MakeEvent("d-0", {"org/a"})}));
  ASSERT_OK(log().Append("deal", ExpectedVersion::NoStream(),
                         {MakeEvent("l-0", {"org/a"}), MakeEvent("l-1", {"org/ab"})}));
  ASSERT_OK(log().Append("deal/x", ExpectedVersion::NoStream(),
                         {MakeEvent("x-0", {"org/ab"}), MakeEvent("x-1", {"org/a/b"}),
                          MakeEvent("x-2", {"org/ab"})}));
  ASSERT_OK(log().Append("deal/\xc3\xa9", ExpectedVersion::NoStream(),
                         {MakeEvent("u-0", {"org/\xc3\xa9"})}));

  struct Case {
    std::string stream;
    std::vector<std::string> ids;
  };
  for (const Case& c : {Case{"dea", {"d-0"}}, Case{"deal", {"l-0", "l-1"}},
                        Case{"deal/x", {"x-0", "x-1", "x-2"}}, Case{"deal/\xc3\xa9", {"u-0"}}}) {
    SCOPED_TRACE(c.stream);
    ASSERT_OK_AND_ASSIGN(std::vector<RecordedEvent> fwd,
                         log().ReadStream(c.stream, Direction::kForwards, std::nullopt, 100));
    EXPECT_THAT(IdsOf(fwd), ElementsAreArray(c.ids));
    ASSERT_OK_AND_ASSIGN(std::vector<RecordedEvent> bwd,
                         log().ReadStream(c.stream, Direction::kBackwards, std::nullopt, 100));
    std::vector<std::string> reversed(c.ids.rbegin(), c.ids.rend());
    EXPECT_THAT(IdsOf(bwd), ElementsAreArray(reversed));
    EXPECT_EQ(VersionOf(c.stream), StreamVersion(c.ids.size() - 1));
  }
  EXPECT_THAT(log().GetStreamVersion("de"), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(log().GetStreamVersion("deal/"), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(log().ReadStream("deal/", Direction::kBackwards, std::nullopt, 10),
              StatusIs(absl::StatusCode::kNotFound));

  auto tag_ids = [&](absl::string_view tag, Direction d) {
    absl::StatusOr<std::vector<RecordedEvent>> events = ReadTagged(log(), tag, d, std::nullopt, 100);
    EXPECT_OK(events);
    return events.ok() ? IdsOf(*events) : std::vector<std::string>{};
  };
  EXPECT_THAT(tag_ids("org/a", Direction::kForwards), ElementsAre("d-0", "l-0"));
  EXPECT_THAT(tag_ids("org/a", Direction::kBackwards), ElementsAre("l-0", "d-0"));
  EXPECT_THAT(tag_ids("org/ab", Direction::kForwards), ElementsAre("l-1", "x-0", "x-2"));
  EXPECT_THAT(tag_ids("org/ab", Direction::kBackwards), ElementsAre("x-2", "x-0", "l-1"));
  EXPECT_THAT(tag_ids("org/a/b", Direction::kBackwards), ElementsAre("x-1"));
  EXPECT_THAT(tag_ids("org/", Direction::kBackwards), IsEmpty());
  EXPECT_THAT(tag_ids("org", Direction::kForwards), IsEmpty());
  EXPECT_THAT(tag_ids("org/\xc3\xa9", Direction::kForwards), ElementsAre("u-0"));
}

// --- Reads -------------------------------------------------------------------

TEST_F(EventLogTest, ReadsOfAnEmptyLog) {
  ASSERT_OK(Open());
  EXPECT_EQ(log().LastPosition(), Position(0));
  for (Direction d : {Direction::kForwards, Direction::kBackwards}) {
    ASSERT_OK_AND_ASSIGN(std::vector<RecordedEvent> all, log().ReadAll(d, std::nullopt, 10));
    EXPECT_THAT(all, IsEmpty());
    ASSERT_OK_AND_ASSIGN(all, log().ReadAll(d, Position(1), 10));
    EXPECT_THAT(all, IsEmpty());
    ASSERT_OK_AND_ASSIGN(std::vector<RecordedEvent> tagged,
                         ReadTagged(log(), "org/a", d, std::nullopt, 10));
    EXPECT_THAT(tagged, IsEmpty());
    EXPECT_THAT(log().ReadStream("deal/a", d, std::nullopt, 10),
                StatusIs(absl::StatusCode::kNotFound));
  }
  EXPECT_THAT(log().ReadEvent(Position(1)), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(log().FindEvent("x"), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(log().GetStreamVersion("deal/a"), StatusIs(absl::StatusCode::kNotFound));
}

class ReadTest : public EventLogTest {
 protected:
  // Appends 10 events: stream A gets positions 1,2,4,5,7,9 (versions 0..5),
  // stream B gets 3,6,8,10 (versions 0..3).
  void Populate() {
    ASSERT_OK(Open());
    const char* order = "AABAABABAB";
    int version[2] = {0, 0};
    for (int i = 0; i < 10; ++i) {
      const int s = order[i] == 'A' ? 0 : 1;
      ProposedEvent e = MakeEvent(absl::StrCat("e", i + 1), {absl::StrCat("org/", std::string(1, order[i]))});
      ASSERT_OK_AND_ASSIGN(AppendResult r,
                           log().Append(s == 0 ? "deal/A" : "deal/B",
                                        ExpectedVersion::Any(), {e}));
      ASSERT_EQ(r.first_position, Position(i + 1));
      ASSERT_EQ(r.first_version, StreamVersion(version[s]++));
      proposed_.push_back(std::move(e));
    }
  }

  std::vector<uint64_t> All(Direction d, std::optional<uint64_t> from, size_t limit) {
    std::optional<Position> p;
    if (from) p = Position(*from);
    absl::StatusOr<std::vector<RecordedEvent>> events = log().ReadAll(d, p, limit);
    EXPECT_OK(events);
    return events.ok() ? PositionsOf(*events) : std::vector<uint64_t>{};
  }

  std::vector<ProposedEvent> proposed_;
};

TEST_F(ReadTest, ReadAllAtBothEndsAndPastTheEnd) {
  Populate();
  const auto kF = Direction::kForwards;
  const auto kB = Direction::kBackwards;
  EXPECT_THAT(All(kF, std::nullopt, 100), ElementsAreArray(Range(1, 10)));
  EXPECT_THAT(All(kF, 1, 100), ElementsAreArray(Range(1, 10)));
  EXPECT_THAT(All(kF, 10, 100), ElementsAre(10));
  EXPECT_THAT(All(kF, 11, 100), IsEmpty());
  EXPECT_THAT(All(kF, 1000, 100), IsEmpty());
  EXPECT_THAT(All(kB, std::nullopt, 100), ElementsAreArray(Range(10, 1)));
  EXPECT_THAT(All(kB, 10, 100), ElementsAreArray(Range(10, 1)));
  EXPECT_THAT(All(kB, 1, 100), ElementsAre(1));
  // Limits.
  EXPECT_THAT(All(kF, std::nullopt, 3), ElementsAre(1, 2, 3));
  EXPECT_THAT(All(kF, 4, 3), ElementsAre(4, 5, 6));
  EXPECT_THAT(All(kF, 9, 3), ElementsAre(9, 10));
  EXPECT_THAT(All(kB, std::nullopt, 3), ElementsAre(10, 9, 8));
  EXPECT_THAT(All(kB, 5, 3), ElementsAre(5, 4, 3));
  EXPECT_THAT(All(kB, 2, 3), ElementsAre(2, 1));
  EXPECT_THAT(All(kF, std::nullopt, 1), ElementsAre(1));
  EXPECT_THAT(All(kB, std::nullopt, 1), ElementsAre(10));

  // The content comes back complete.
  ASSERT_OK_AND_ASSIGN(std::vector<RecordedEvent> all,
                       log().ReadAll(kF, std::nullopt, 100));
  ASSERT_THAT(all, SizeIs(10));
  const uint64_t version_of[] = {0, 1, 0, 2, 3, 1, 4, 2, 5, 3};
  for (int i = 0; i < 10; ++i) {
    ExpectRecorded(all[i], proposed_[i], i == 2 || i == 5 || i == 7 || i == 9 ? "deal/B" : "deal/A",
                   version_of[i]);
  }
}

TEST_F(ReadTest, ReadAllBeforeTheFirstPositionBackwardsIsEmpty) {
  Options options;
  options.first_position = 100;
  ASSERT_OK(Open(options));
  ASSERT_OK(log().Append("deal/A", ExpectedVersion::Any(), MakeEvents("e", 3)));
  EXPECT_THAT(All(Direction::kBackwards, 99, 10), IsEmpty());
  EXPECT_THAT(All(Direction::kBackwards, 50, 10), IsEmpty());
  EXPECT_THAT(All(Direction::kBackwards, 100, 10), ElementsAre(100));
  EXPECT_THAT(All(Direction::kForwards, 103, 10), IsEmpty());
  EXPECT_THAT(log().ReadEvent(Position(99)), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(log().ReadEvent(Position(103)), StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(ReadTest, ReadStreamFromVersionsBothWays) {
  Populate();
  auto versions = [&](absl::string_view stream, Direction d, std::optional<uint64_t> from,
                      size_t limit) {
    std::optional<StreamVersion> v;
    if (from) v = StreamVersion(*from);
    absl::StatusOr<std::vector<RecordedEvent>> events = log().ReadStream(stream, d, v, limit);
    EXPECT_OK(events);
    return events.ok() ? VersionsOf(*events) : std::vector<uint64_t>{};
  };
  const auto kF = Direction::kForwards;
  const auto kB = Direction::kBackwards;
  EXPECT_THAT(versions("deal/A", kF, std::nullopt, 100), ElementsAre(0, 1, 2, 3, 4, 5));
  EXPECT_THAT(versions("deal/A", kF, 2, 2), ElementsAre(2, 3));
  EXPECT_THAT(versions("deal/A", kF, 5, 100), ElementsAre(5));
  EXPECT_THAT(versions("deal/A", kF, 6, 100), IsEmpty());
  EXPECT_THAT(versions("deal/A", kF, 600, 100), IsEmpty());
  EXPECT_THAT(versions("deal/A", kB, std::nullopt, 100), ElementsAre(5, 4, 3, 2, 1, 0));
  EXPECT_THAT(versions("deal/A", kB, std::nullopt, 2), ElementsAre(5, 4));
  EXPECT_THAT(versions("deal/A", kB, 3, 100), ElementsAre(3, 2, 1, 0));
  EXPECT_THAT(versions("deal/A", kB, 3, 2), ElementsAre(3, 2));
  EXPECT_THAT(versions("deal/A", kB, 0, 100), ElementsAre(0));
  EXPECT_THAT(versions("deal/B", kB, std::nullopt, 100), ElementsAre(3, 2, 1, 0));
  EXPECT_THAT(versions("deal/B", kF, 1, 100), ElementsAre(1, 2, 3));

  ASSERT_OK_AND_ASSIGN(std::vector<RecordedEvent> b,
                       log().ReadStream("deal/B", kF, std::nullopt, 100));
  EXPECT_THAT(PositionsOf(b), ElementsAre(3, 6, 8, 10));
  for (const RecordedEvent& e : b) EXPECT_EQ(e.stream, "deal/B");

  for (Direction d : {kF, kB}) {
    EXPECT_THAT(log().ReadStream("deal/C", d, std::nullopt, 100),
                StatusIs(absl::StatusCode::kNotFound));
    EXPECT_THAT(log().ReadStream("deal/C", d, StreamVersion(0), 100),
                StatusIs(absl::StatusCode::kNotFound));
  }
}

TEST_F(ReadTest, PointLookups) {
  Populate();
  for (int i = 0; i < 10; ++i) {
    ASSERT_OK_AND_ASSIGN(RecordedEvent e, log().ReadEvent(Position(i + 1)));
    EXPECT_EQ(e.position, Position(i + 1));
    EXPECT_EQ(e.event_id, proposed_[i].event_id);
    EXPECT_EQ(e.data, proposed_[i].data);
    ASSERT_OK_AND_ASSIGN(Position p, log().FindEvent(proposed_[i].event_id));
    EXPECT_EQ(p, Position(i + 1));
  }
  EXPECT_THAT(log().ReadEvent(Position(0)), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(log().ReadEvent(Position(11)), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(log().ReadEvent(Position(uint64_t{1} << 40)),
              StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(log().FindEvent("e11"), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(log().FindEvent("e"), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_EQ(VersionOf("deal/A"), StreamVersion(5));
  EXPECT_EQ(VersionOf("deal/B"), StreamVersion(3));
  EXPECT_THAT(log().GetStreamVersion("deal/C"), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_EQ(log().LastPosition(), Position(10));
}

// --- Tags (kept with each event, not indexed) -------------------------------

TEST_F(EventLogTest, TagsAreKeptWithEachEventOnceEach) {
  ASSERT_OK(Open());
  ASSERT_OK(log().Append("deal/1", ExpectedVersion::Any(),
                         {MakeEvent("t1", {"org/acme", "org/beta"}), MakeEvent("t2", {})}));
  ASSERT_OK(log().Append("deal/2", ExpectedVersion::Any(), {MakeEvent("t3", {"org/beta"})}));
  // A tag repeated within one event is kept once.
  ASSERT_OK(log().Append("deal/3", ExpectedVersion::Any(),
                         {MakeEvent("t4", {"org/acme", "org/acme", "org/gamma", "org/acme"})}));
  ASSERT_OK(log().Append("deal/1", ExpectedVersion::Any(),
                         {MakeEvent("t5", {"org/beta"}), MakeEvent("t6", {"org/acme"})}));

  auto read = [&](absl::string_view tag, Direction d, std::optional<uint64_t> from, size_t limit) {
    std::optional<Position> p;
    if (from) p = Position(*from);
    absl::StatusOr<std::vector<RecordedEvent>> events = ReadTagged(log(), tag, d, p, limit);
    EXPECT_OK(events);
    return events.ok() ? *events : std::vector<RecordedEvent>{};
  };
  const auto kF = Direction::kForwards;
  const auto kB = Direction::kBackwards;
  EXPECT_THAT(IdsOf(read("org/acme", kF, std::nullopt, 100)), ElementsAre("t1", "t4", "t6"));
  EXPECT_THAT(IdsOf(read("org/acme", kB, std::nullopt, 100)), ElementsAre("t6", "t4", "t1"));
  EXPECT_THAT(PositionsOf(read("org/acme", kF, std::nullopt, 100)), ElementsAre(1, 4, 6));
  EXPECT_THAT(IdsOf(read("org/beta", kF, std::nullopt, 100)), ElementsAre("t1", "t3", "t5"));
  EXPECT_THAT(IdsOf(read("org/beta", kB, std::nullopt, 2)), ElementsAre("t5", "t3"));
  EXPECT_THAT(IdsOf(read("org/beta", kF, std::nullopt, 2)), ElementsAre("t1", "t3"));
  // `from` is a position, inclusive, and need not carry the tag.
  EXPECT_THAT(IdsOf(read("org/acme", kF, 4, 100)), ElementsAre("t4", "t6"));
  EXPECT_THAT(IdsOf(read("org/acme", kF, 2, 100)), ElementsAre("t4", "t6"));
  EXPECT_THAT(IdsOf(read("org/acme", kB, 5, 100)), ElementsAre("t4", "t1"));
  EXPECT_THAT(IdsOf(read("org/acme", kB, 4, 1)), ElementsAre("t4"));
  EXPECT_THAT(IdsOf(read("org/acme", kF, 7, 100)), IsEmpty());
  EXPECT_THAT(IdsOf(read("org/gamma", kB, std::nullopt, 100)), ElementsAre("t4"));
  EXPECT_THAT(read("org/none", kF, std::nullopt, 100), IsEmpty());

  // Tagged events are whole events.
  std::vector<RecordedEvent> beta = read("org/beta", kF, std::nullopt, 100);
  ASSERT_THAT(beta, SizeIs(3));
  EXPECT_EQ(beta[1].stream, "deal/2");
  EXPECT_EQ(beta[1].data, "data of t3");
  EXPECT_EQ(beta[2].stream, "deal/1");
  EXPECT_EQ(beta[2].stream_version, StreamVersion(2));
  EXPECT_EQ(beta[0].tags, (std::vector<std::string>{"org/acme", "org/beta"}));
  std::vector<RecordedEvent> gamma = read("org/gamma", kF, std::nullopt, 100);
  ASSERT_THAT(gamma, SizeIs(1));
  EXPECT_THAT(gamma[0].tags, testing::IsSupersetOf({"org/acme", "org/gamma"}));
}

// --- Limits and malformed appends ---------------------------------------------

TEST_F(EventLogTest, LimitsAndMalformedFieldsAreRefusedAndWriteNothing) {
  Options options;
  options.max_events_per_append = 17;
  options.max_event_bytes = 4321;
  ASSERT_OK(Open(options));
  ASSERT_OK(log().Append("deal/seed", ExpectedVersion::Any(), MakeEvents("seed", 1)));

  const std::string long_stream(201, 's');  // Default max_stream_bytes: 200.
  struct Case {
    std::string what;
    std::string stream;
    std::vector<ProposedEvent> events;
    absl::StatusCode code;
    std::vector<std::string> words;  // The message names one of these.
  };
  std::vector<Case> cases;
  cases.push_back({"18 events", "deal/x", MakeEvents("many", 18),
                   absl::StatusCode::kResourceExhausted, {"17"}});
  cases.push_back({"event too large", "deal/x",
                   {MakeEvent("big", {"org/a"}, std::string(5000, 'd'))},
                   absl::StatusCode::kResourceExhausted, {"4321"}});
  {
    std::vector<ProposedEvent> events = MakeEvents("second-big", 3);
    events[2].data = std::string(4400, 'd');
    cases.push_back({"last of three too large", "deal/x", events,
                     absl::StatusCode::kResourceExhausted, {"4321"}});
  }
  cases.push_back({"empty stream", "", MakeEvents("es", 1), absl::StatusCode::kInvalidArgument,
                   {"stream"}});
  cases.push_back({"over-long stream", long_stream, MakeEvents("ls", 1),
                   absl::StatusCode::kInvalidArgument, {"stream"}});
  cases.push_back({"NUL in stream", std::string("deal/\0x", 7), MakeEvents("ns", 1),
                   absl::StatusCode::kInvalidArgument, {"stream"}});
  cases.push_back({"no events", "deal/x", {}, absl::StatusCode::kInvalidArgument,
                   {"event"}});
  {
    std::vector<ProposedEvent> events = MakeEvents("eid", 2);
    events[1].event_id = "";
    cases.push_back({"empty event id", "deal/x", events, absl::StatusCode::kInvalidArgument,
                     {"event_id", "event id", "eventid"}});
  }
  {
    std::vector<ProposedEvent> events = MakeEvents("ntag", 2, {"org/a"});
    events[1].tags = {"org/a", std::string("org/\0", 5)};
    cases.push_back({"NUL in tag", "deal/x", events, absl::StatusCode::kInvalidArgument,
                     {"tag"}});
  }

  for (Case& c : cases) {
    SCOPED_TRACE(c.what);
    std::vector<std::string> ids;
    for (const ProposedEvent& e : c.events) ids.push_back(e.event_id);
    const std::string stream = c.stream;
    EXPECT_THAT(log().Append(std::move(c.stream), ExpectedVersion::Any(), std::move(c.events)),
                StatusIsWithAnyOf(c.code, c.words));
    EXPECT_EQ(log().LastPosition(), Position(1));
    for (const std::string& id : ids) {
      if (!id.empty()) {
        EXPECT_THAT(log().FindEvent(id), StatusIs(absl::StatusCode::kNotFound)) << id;
      }
    }
    if (!stream.empty() && stream != "deal/x") {
      EXPECT_THAT(log().GetStreamVersion(stream), StatusIs(absl::StatusCode::kNotFound));
    }
  }
  EXPECT_THAT(log().GetStreamVersion("deal/x"), StatusIs(absl::StatusCode::kNotFound));

  // At the limits, appends succeed: 17 events, an event of exactly 4321
  // bytes of id+type+tags+data, a 200-byte stream; and NUL bytes in data are
  // just data.
  ASSERT_OK(log().Append("deal/x", ExpectedVersion::Any(), MakeEvents("many", 17)));
  ProposedEvent exact = MakeEvent("exact", {"org/a", "org/bb"}, "", "T");
  exact.data = std::string(4321 - 5 - 1 - 5 - 6, 'd');
  ASSERT_OK(log().Append("deal/x", ExpectedVersion::Any(), {exact}));
  ASSERT_OK(log().Append(std::string(200, 's'), ExpectedVersion::Any(), MakeEvents("ls", 1)));
  ASSERT_OK(log().Append("deal/x", ExpectedVersion::Any(),
                         {MakeEvent("nul-data", {}, std::string("a\0b", 3))}));
  ASSERT_OK_AND_ASSIGN(Position p, log().FindEvent("nul-data"));
  ASSERT_OK_AND_ASSIGN(RecordedEvent e, log().ReadEvent(p));
  EXPECT_EQ(e.data, std::string("a\0b", 3));
  EXPECT_EQ(log().LastPosition(), Position(21));
}

// Event ids are keys of the id index, like streams and tags; the header lists
// "NUL bytes" among the malformed fields without naming the field.
TEST_F(EventLogTest, NulInEventIdIsRefused) {
  ASSERT_OK(Open());
  std::vector<ProposedEvent> events = MakeEvents("nid", 2);
  events[1].event_id = std::string("nid\0x", 5);
  EXPECT_THAT(log().Append("deal/x", ExpectedVersion::Any(), events),
              StatusIsWithAnyOf(absl::StatusCode::kInvalidArgument,
                                std::vector<std::string>{"event_id", "event id", "eventid"}));
  EXPECT_EQ(log().LastPosition(), Position(0));
}

TEST_F(EventLogTest, PerFieldLimitsAreRefused) {
  // The header does not say whether these are INVALID_ARGUMENT (malformed
  // field) or RESOURCE_EXHAUSTED (count limit); either is accepted, but the
  // message must name the limit and nothing may be written.
  Options options;
  options.max_event_id_bytes = 23;
  options.max_type_bytes = 29;
  options.max_tags_per_event = 13;
  options.max_tag_bytes = 31;
  ASSERT_OK(Open(options));
  struct Case {
    std::string what;
    ProposedEvent event;
    std::string limit;
  };
  std::vector<Case> cases = {
      {"event id", MakeEvent(std::string(24, 'i')), "23"},
      {"type", MakeEvent("type", {}, "", std::string(30, 't')), "29"},
      {"tag count",
       MakeEvent("tags", {"a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l", "m", "n"}),
       "13"},
      {"tag length", MakeEvent("tag", {std::string(32, 'g')}), "31"},
  };
  for (Case& c : cases) {
    SCOPED_TRACE(c.what);
    absl::StatusOr<AppendResult> r =
        log().Append("deal/x", ExpectedVersion::Any(), {MakeEvent("ok"), c.event});
    EXPECT_THAT(r.status().code(), testing::AnyOf(absl::StatusCode::kInvalidArgument,
                                                  absl::StatusCode::kResourceExhausted))
        << r.status();
    EXPECT_THAT(std::string(r.status().message()), HasSubstr(c.limit));
    EXPECT_EQ(log().LastPosition(), Position(0));
  }
  // At the limits.
  ASSERT_OK(log().Append("deal/x", ExpectedVersion::Any(),
                         {MakeEvent(std::string(23, 'i'), {"a", "b", std::string(31, 'g')}, "",
                                    std::string(29, 't'))}));
}

// --- AppendAsync ---------------------------------------------------------------

TEST_F(EventLogTest, AppendAsyncReportsEarlyErrorsOnTheCallingThread) {
  ASSERT_OK(Open());
  bool called = false;
  std::thread::id caller;
  absl::Status status;
  log().AppendAsync("", ExpectedVersion::Any(), MakeEvents("a", 1),
                    [&](absl::StatusOr<AppendResult> r) {
                      called = true;
                      caller = std::this_thread::get_id();
                      status = r.status();
                    });
  EXPECT_TRUE(called);
  EXPECT_EQ(caller, std::this_thread::get_id());
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;

  called = false;
  log().AppendAsync("deal/x", ExpectedVersion::Any(), MakeEvents("b", 1001),
                    [&](absl::StatusOr<AppendResult> r) {
                      called = true;
                      status = r.status();
                    });
  EXPECT_TRUE(called);
  EXPECT_EQ(status.code(), absl::StatusCode::kResourceExhausted) << status;

  // A valid append completes with its result.
  absl::Notification done;
  absl::StatusOr<AppendResult> result;
  log().AppendAsync("deal/x", ExpectedVersion::NoStream(), MakeEvents("c", 2),
                    [&](absl::StatusOr<AppendResult> r) {
                      result = std::move(r);
                      done.Notify();
                    });
  ASSERT_TRUE(done.WaitForNotificationWithTimeout(absl::Seconds(60)));
  ASSERT_OK(result);
  EXPECT_EQ(result->first_position, Position(1));
  EXPECT_EQ(result->last_position, Position(2));
  // Acknowledged means readable.
  ASSERT_OK_AND_ASSIGN(RecordedEvent e, log().ReadEvent(Position(2)));
  EXPECT_EQ(e.event_id, "c-1");

  ASSERT_OK(log().Close());
  called = false;
  log().AppendAsync("deal/x", ExpectedVersion::Any(), MakeEvents("d", 1),
                    [&](absl::StatusOr<AppendResult> r) {
                      called = true;
                      status = r.status();
                    });
  EXPECT_TRUE(called);
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable) << status;
}

// Holds the sync thread inside a commit listener (listeners run on the
// sync thread) until released, so that appends queue up deterministically.
class SyncGate {
 public:
  // The listener to register: it blocks on its first call only.
  CommitListener Listener() {
    return [this](Position) {
      if (first_call_.exchange(false)) {
        entered_.Notify();
        // Bounded, so a broken test cannot hang.
        release_.WaitForNotificationWithTimeout(absl::Seconds(60));
      }
    };
  }
  bool WaitEntered() { return entered_.WaitForNotificationWithTimeout(absl::Seconds(60)); }
  void Release() { release_.Notify(); }

 private:
  std::atomic<bool> first_call_{true};
  absl::Notification entered_;
  absl::Notification release_;
};

struct AsyncOutcome {
  absl::Notification done;
  absl::StatusOr<AppendResult> result;
  bool on_calling_thread = false;
};

// Starts an append whose outcome lands in `o`.
void StartAppend(EventLog& log, std::string stream, std::vector<ProposedEvent> events,
                 AsyncOutcome* o) {
  const std::thread::id caller = std::this_thread::get_id();
  log.AppendAsync(std::move(stream), ExpectedVersion::Any(), std::move(events),
                  [o, caller](absl::StatusOr<AppendResult> r) {
                    o->on_calling_thread = std::this_thread::get_id() == caller;
                    o->result = std::move(r);
                    o->done.Notify();
                  });
}

TEST_F(EventLogTest, FullQueueRefusesAppendsWithUnavailableAndReadsSeeOnlyCommitted) {
  for (const bool by_bytes : {false, true}) {
    SCOPED_TRACE(by_bytes ? "max_queued_bytes" : "max_queued_appends");
    Options options;
    // At most this many appends wait in the queue.
    const int per_queue = by_bytes ? 3 : 4;
    if (by_bytes) {
      options.max_queued_bytes = 10000;  // 3 of the 3000-byte events below.
    } else {
      options.max_queued_appends = per_queue;
    }
    options.max_unsynced_groups = 1;
    ASSERT_OK(Reopen(options));
    const uint64_t base = log().LastPosition().value();
    SyncGate gate;
    const uint64_t listener = log().AddCommitListener(gate.Listener());
    AsyncOutcome first;
    StartAppend(log(), "deal/q", {MakeEvent(absl::StrCat("first-", by_bytes))}, &first);
    ASSERT_TRUE(gate.WaitEntered());

    // The sync thread is held: the writer fills the unsynced groups it may
    // hold, then these queue until the queue is full.
    constexpr int kAppends = 50;
    std::vector<std::unique_ptr<AsyncOutcome>> outcomes;
    for (int i = 0; i < kAppends; ++i) {
      outcomes.push_back(std::make_unique<AsyncOutcome>());
      StartAppend(log(), "deal/q",
                  {MakeEvent(absl::StrFormat("q-%d-%d", by_bytes, i), {}, std::string(3000, 'q'))},
                  outcomes.back().get());
    }
    // Only the first append is committed, so only it can be read.
    EXPECT_EQ(log().LastPosition(), Position(base + 1));
    ASSERT_OK_AND_ASSIGN(std::vector<RecordedEvent> visible,
                         log().ReadAll(Direction::kForwards, Position(base + 1), 100));
    EXPECT_THAT(visible, SizeIs(1));
    gate.Release();

    int refused = 0;
    int accepted = 0;
    std::vector<std::string> refused_ids;
    for (int i = 0; i < kAppends; ++i) {
      AsyncOutcome& o = *outcomes[i];
      ASSERT_TRUE(o.done.WaitForNotificationWithTimeout(absl::Seconds(60)));
      if (o.result.ok()) {
        ++accepted;
        continue;
      }
      EXPECT_THAT(o.result, StatusIs(absl::StatusCode::kUnavailable));
      EXPECT_TRUE(o.on_calling_thread) << "a full queue is found before queuing";
      ++refused;
      refused_ids.push_back(absl::StrFormat("q-%d-%d", by_bytes, i));
    }
    ASSERT_TRUE(first.done.WaitForNotificationWithTimeout(absl::Seconds(60)));
    EXPECT_OK(first.result);
    EXPECT_GT(refused, 0);
    EXPECT_GE(accepted, 1);
    // In flight beyond the held group: one unsynced group, one group in the
    // writer's hands waiting for room, and the queue; each group holds at
    // most what the queue held when it was taken.
    EXPECT_LE(accepted, 3 * per_queue) << "the queue bound was not applied";
    EXPECT_EQ(log().LastPosition(), Position(base + 1 + accepted));
    for (const std::string& id : refused_ids) {
      EXPECT_THAT(log().FindEvent(id), StatusIs(absl::StatusCode::kNotFound)) << id;
    }
    // Retrying a refused append succeeds once the queue drained.
    ASSERT_FALSE(refused_ids.empty());
    ASSERT_OK(log().Append("deal/q", ExpectedVersion::Any(),
                           {MakeEvent(refused_ids[0], {}, std::string(3000, 'q'))}));
    log().RemoveCommitListener(listener);
  }
}

// --- WaitForPosition -------------------------------------------------------------

TEST_F(EventLogTest, WaitForPositionReturnsAtOnceWhenAlreadyPast) {
  ASSERT_OK(Open());
  ASSERT_OK(log().Append("deal/x", ExpectedVersion::Any(), MakeEvents("a", 3)));
  // A deadline in the past does not matter when the position is there.
  ASSERT_OK_AND_ASSIGN(Position p,
                       log().WaitForPosition(Position(0), absl::Now() - absl::Seconds(1)));
  EXPECT_EQ(p, Position(3));
  ASSERT_OK_AND_ASSIGN(p, log().WaitForPosition(Position(2), absl::Now() + absl::Seconds(60)));
  EXPECT_EQ(p, Position(3));
}

TEST_F(EventLogTest, WaitForPositionReturnsWhenAnotherThreadAppends) {
  ASSERT_OK(Open());
  ASSERT_OK(log().Append("deal/x", ExpectedVersion::Any(), MakeEvents("a", 1)));
  absl::StatusOr<AppendResult> appended;
  std::thread appender([&] {
    appended = log().Append("deal/x", ExpectedVersion::Any(), MakeEvents("b", 2));
  });
  absl::StatusOr<Position> p = log().WaitForPosition(Position(1), absl::Now() + absl::Seconds(60));
  appender.join();
  ASSERT_OK(appended);
  ASSERT_OK(p);
  EXPECT_EQ(*p, Position(3)) << "both events of an append commit together";
  // Committed means readable.
  ASSERT_OK_AND_ASSIGN(RecordedEvent e, log().ReadEvent(*p));
  EXPECT_EQ(e.event_id, "b-1");
}

TEST_F(EventLogTest, WaitForPositionTimesOut) {
  ASSERT_OK(Open());
  EXPECT_THAT(log().WaitForPosition(Position(0), absl::Now() + absl::Milliseconds(50)),
              StatusIs(absl::StatusCode::kDeadlineExceeded));
  ASSERT_OK(log().Append("deal/x", ExpectedVersion::Any(), MakeEvents("a", 1)));
  EXPECT_THAT(log().WaitForPosition(Position(1), absl::Now() + absl::Milliseconds(50)),
              StatusIs(absl::StatusCode::kDeadlineExceeded));
  EXPECT_THAT(log().WaitForPosition(Position(1), absl::InfinitePast()),
              StatusIs(absl::StatusCode::kDeadlineExceeded));
}

TEST_F(EventLogTest, WaitForPositionIsUnavailableWhenTheLogCloses) {
  ASSERT_OK(Open());
  ASSERT_OK(log().Append("deal/x", ExpectedVersion::Any(), MakeEvents("a", 1)));
  constexpr int kWaiters = 3;
  std::vector<absl::StatusOr<Position>> results(kWaiters);
  std::vector<std::thread> waiters;
  for (int i = 0; i < kWaiters; ++i) {
    waiters.emplace_back([&, i] {
      results[i] = log().WaitForPosition(Position(1), absl::Now() + absl::Seconds(120));
    });
  }
  // Whether a waiter is already waiting or comes after Close, it must get
  // UNAVAILABLE long before its deadline.
  ASSERT_OK(log().Close());
  for (std::thread& t : waiters) t.join();
  for (const auto& r : results) EXPECT_THAT(r, StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_THAT(log().WaitForPosition(Position(1), absl::Now() + absl::Seconds(120)),
              StatusIs(absl::StatusCode::kUnavailable));
}

// --- Commit listeners ------------------------------------------------------------

TEST_F(EventLogTest, CommitListenerSeesEveryCommitUntilRemoved) {
  ASSERT_OK(Open());
  ASSERT_OK(log().Append("deal/x", ExpectedVersion::Any(), MakeEvents("before", 2)));
  absl::Mutex mu;
  std::vector<uint64_t> seen;
  const uint64_t id = log().AddCommitListener([&](Position p) {
    absl::MutexLock lock(&mu);
    seen.push_back(p.value());
  });
  std::vector<uint64_t> acked;
  for (int n : {1, 3, 2, 5}) {
    ASSERT_OK_AND_ASSIGN(AppendResult r, log().Append("deal/x", ExpectedVersion::Any(),
                                                      MakeEvents(absl::StrCat("n", n), n)));
    acked.push_back(r.last_position.value());
  }
  ASSERT_EQ(acked, (std::vector<uint64_t>{3, 6, 8, 13}));
  {
    // The listener may run after Append returns: wait for the last commit.
    absl::MutexLock lock(&mu);
    auto has_last = [&] { return !seen.empty() && seen.back() >= 13; };
    ASSERT_TRUE(mu.AwaitWithTimeout(absl::Condition(&has_last), absl::Seconds(60)));
    for (size_t i = 1; i < seen.size(); ++i) {
      EXPECT_LT(seen[i - 1], seen[i]) << "positions must strictly increase";
    }
    // Appends that waited for each other were separate commits: each last
    // position was announced. (The commit of "before" may or may not be
    // announced: its listeners may still have been running.)
    std::vector<uint64_t> after_add;
    for (uint64_t p : seen) {
      if (p > 2) after_add.push_back(p);
    }
    EXPECT_THAT(after_add, ElementsAreArray(acked));
  }

  log().RemoveCommitListener(id);
  size_t calls;
  {
    absl::MutexLock lock(&mu);
    calls = seen.size();
  }
  ASSERT_OK(log().Append("deal/x", ExpectedVersion::Any(), MakeEvents("after", 2)));
  // A second listener shows that commits are still announced.
  absl::Notification second_called;
  const uint64_t id2 = log().AddCommitListener([&](Position p) {
    if (p >= Position(17) && !second_called.HasBeenNotified()) second_called.Notify();
  });
  ASSERT_OK(log().Append("deal/x", ExpectedVersion::Any(), MakeEvents("after2", 2)));
  ASSERT_TRUE(second_called.WaitForNotificationWithTimeout(absl::Seconds(60)));
  log().RemoveCommitListener(id2);
  absl::MutexLock lock(&mu);
  EXPECT_EQ(seen.size(), calls) << "a removed listener was called";
}

// --- Close and open ----------------------------------------------------------------

TEST_F(EventLogTest, CloseStopsAppendsAndIsIdempotent) {
  ASSERT_OK(Open());
  ASSERT_OK(log().Append("deal/x", ExpectedVersion::Any(), MakeEvents("a", 1)));
  ASSERT_OK(log().Close());
  EXPECT_THAT(log().Append("deal/x", ExpectedVersion::Any(), MakeEvents("b", 1)),
              StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_OK(log().Close());
  log_.reset();
  ASSERT_OK(Open());
  EXPECT_EQ(log().LastPosition(), Position(1));
  EXPECT_THAT(log().FindEvent("b-0"), StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(EventLogTest, CloseCommitsWhatIsQueuedAndRunsItsCallbacks) {
  ASSERT_OK(Open());
  constexpr int kAppends = 300;
  std::vector<std::unique_ptr<AsyncOutcome>> outcomes;
  for (int i = 0; i < kAppends; ++i) {
    outcomes.push_back(std::make_unique<AsyncOutcome>());
    StartAppend(log(), absl::StrCat("deal/", i % 5), MakeEvents(absl::StrCat("c", i), 1 + i % 3),
                outcomes.back().get());
  }
  ASSERT_OK(log().Close());
  uint64_t events = 0;
  for (int i = 0; i < kAppends; ++i) {
    SCOPED_TRACE(i);
    // Close ran every callback before returning.
    ASSERT_TRUE(outcomes[i]->done.HasBeenNotified());
    ASSERT_OK(outcomes[i]->result) << "queued before Close, so committed";
    events += 1 + i % 3;
  }
  log_.reset();
  ASSERT_OK(Open());
  EXPECT_EQ(log().LastPosition(), Position(events));
  for (int i = 0; i < kAppends; ++i) {
    const AppendResult& r = *outcomes[i]->result;
    ASSERT_OK_AND_ASSIGN(RecordedEvent e, log().ReadEvent(r.last_position));
    EXPECT_EQ(e.event_id, absl::StrCat("c", i, "-", i % 3));
  }
}

TEST_F(EventLogTest, OpeningAnOpenLogAgainFailsWithFailedPrecondition) {
  ASSERT_OK(Open());
  EXPECT_THAT(OpenEventLog(dir_, Options()), StatusIs(absl::StatusCode::kFailedPrecondition));
  // The first one still works.
  ASSERT_OK(log().Append("deal/x", ExpectedVersion::Any(), MakeEvents("a", 1)));
  ASSERT_OK(log().Close());
  log_.reset();
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<EventLog> again, OpenEventLog(dir_, Options()));
  EXPECT_EQ(again->LastPosition(), Position(1));
}

TEST_F(EventLogTest, OpenRefusesMissingLogAndBadOptions) {
  Options no_create;
  no_create.create_if_missing = false;
  EXPECT_THAT(OpenEventLog((fs::path(dir_) / "missing").string(), no_create),
              StatusIs(absl::StatusCode::kNotFound));
  Options zero;
  zero.first_position = 0;
  EXPECT_THAT(OpenEventLog((fs::path(dir_) / "zero").string(), zero),
              StatusIs(absl::StatusCode::kInvalidArgument));
  ASSERT_OK(Open());
}

// --- Recorded time ---------------------------------------------------------------

TEST_F(EventLogTest, RecordedTimeComesFromTheClockAndNeverDecreases) {
  auto now_seconds = std::make_shared<std::atomic<int64_t>>(1'700'000'000);
  Options options;
  options.clock = [now_seconds] { return absl::FromUnixSeconds(now_seconds->load()); };
  ASSERT_OK(Open(options));

  auto append_at = [&](int64_t seconds, const std::string& id) -> absl::StatusOr<absl::Time> {
    now_seconds->store(seconds);
    absl::StatusOr<AppendResult> r =
        log().Append("deal/t", ExpectedVersion::Any(), {MakeEvent(id), MakeEvent(id + "b")});
    if (!r.ok()) return r.status();
    absl::StatusOr<RecordedEvent> e = log().ReadEvent(r->first_position);
    if (!e.ok()) return e.status();
    return e->recorded_time;
  };
  ASSERT_OK_AND_ASSIGN(absl::Time t1, append_at(1'700'000'000, "t1"));
  EXPECT_EQ(t1, absl::FromUnixSeconds(1'700'000'000));
  // The clock steps back by an hour.
  ASSERT_OK_AND_ASSIGN(absl::Time t2, append_at(1'700'000'000 - 3600, "t2"));
  EXPECT_GE(t2, t1);
  ASSERT_OK_AND_ASSIGN(absl::Time t3, append_at(1'700'000'000 - 7200, "t3"));
  EXPECT_GE(t3, t2);
  // Forward again: the clock's time is used.
  ASSERT_OK_AND_ASSIGN(absl::Time t4, append_at(1'700'000'100, "t4"));
  EXPECT_EQ(t4, absl::FromUnixSeconds(1'700'000'100));

  // Also across a reopen with a clock that is behind the log.
  ASSERT_OK(Reopen(options));
  ASSERT_OK_AND_ASSIGN(absl::Time t5, append_at(1'600'000'000, "t5"));
  EXPECT_GE(t5, t4);

  ASSERT_OK_AND_ASSIGN(std::vector<RecordedEvent> all, ReadEverything(log()));
  ASSERT_THAT(all, SizeIs(10));
  for (size_t i = 1; i < all.size(); ++i) {
    EXPECT_LE(all[i - 1].recorded_time, all[i].recorded_time) << "position " << i + 1;
  }
}

// --- Event-id keys ----------------------------------------------------------------

// Canonical lower-case UUIDs are indexed in a compact binary form, other ids
// as they are: both must behave as ids, and never as each other.
TEST_F(EventLogTest, UuidAndOtherIdsAreDistinctAndIdempotent) {
  ASSERT_OK(Open());
  const std::string lower = "0b6f3c2e-9d41-4f7a-8c55-1e2d3c4b5a69";
  const std::string upper = "0B6F3C2E-9D41-4F7A-8C55-1E2D3C4B5A69";
  const std::string not_hex = "0b6f3c2e-9d41-4f7a-8c55-1e2d3c4b5a6g";
  // 17 bytes that equal the binary form of `lower` must stay a different id.
  std::string binary_lookalike = "\x01";
  for (const char* byte : {"\x0b\x6f\x3c\x2e", "\x9d\x41\x4f\x7a", "\x8c\x55\x1e\x2d",
                           "\x3c\x4b\x5a\x69"}) {
    binary_lookalike.append(byte, 4);
  }
  ASSERT_EQ(binary_lookalike.size(), 17u);
  const std::vector<std::string> ids = {lower, upper, not_hex, binary_lookalike};
  std::vector<Position> positions;
  for (const std::string& id : ids) {
    ASSERT_OK_AND_ASSIGN(AppendResult r,
                         log().Append("deal/ids", ExpectedVersion::Any(), {MakeEvent(id)}));
    EXPECT_FALSE(r.duplicate) << id;
    positions.push_back(r.first_position);
  }
  EXPECT_EQ(log().LastPosition(), Position(4));
  for (size_t i = 0; i < ids.size(); ++i) {
    ASSERT_OK_AND_ASSIGN(Position p, log().FindEvent(ids[i]));
    EXPECT_EQ(p, positions[i]) << i;
    ASSERT_OK_AND_ASSIGN(RecordedEvent e, log().ReadEvent(p));
    EXPECT_EQ(e.event_id, ids[i]) << i;
    // A repeat of each is recognised as such.
    ASSERT_OK_AND_ASSIGN(AppendResult again,
                         log().Append("deal/ids", ExpectedVersion::Any(), {MakeEvent(ids[i])}));
    EXPECT_TRUE(again.duplicate) << i;
    EXPECT_EQ(again.first_position, positions[i]) << i;
  }
  EXPECT_THAT(log().Append("deal/ids", ExpectedVersion::Any(), {MakeEvent(lower, {}, "other")}),
              StatusIs(absl::StatusCode::kAlreadyExists));
  EXPECT_EQ(log().LastPosition(), Position(4));
}

// --- Metadata ---------------------------------------------------------------------

TEST_F(EventLogTest, MetadataIsDurableListedByPrefixAndDeleted) {
  ASSERT_OK(Open());
  ASSERT_OK(log().metadata().Put("sub/a", "1"));
  ASSERT_OK(log().metadata().Put("sub/b", "2"));
  ASSERT_OK(log().metadata().Put("sub/c", "3"));
  ASSERT_OK(log().metadata().Put("other/x", "9"));
  ASSERT_OK(log().metadata().Put("sub/b", "22"));  // overwrite
  EXPECT_THAT(log().metadata().Put("", "v"), StatusIs(absl::StatusCode::kInvalidArgument));
  ASSERT_OK(Reopen(Options()));
  ASSERT_OK_AND_ASSIGN(std::string b, log().metadata().Get("sub/b"));
  EXPECT_EQ(b, "22");
  EXPECT_THAT(log().metadata().Get("sub/z"), StatusIs(absl::StatusCode::kNotFound));
  using KV = std::vector<std::pair<std::string, std::string>>;
  ASSERT_OK_AND_ASSIGN(KV all, log().metadata().List("sub/", "", 10));
  EXPECT_EQ(all, (KV{{"sub/a", "1"}, {"sub/b", "22"}, {"sub/c", "3"}}));
  ASSERT_OK_AND_ASSIGN(KV page, log().metadata().List("sub/", "sub/a", 1));
  EXPECT_EQ(page, (KV{{"sub/b", "22"}}));
  ASSERT_OK(log().metadata().Delete("sub/b"));
  EXPECT_THAT(log().metadata().Delete("sub/b"), StatusIs(absl::StatusCode::kNotFound));
  ASSERT_OK_AND_ASSIGN(all, log().metadata().List("sub/", "", 10));
  EXPECT_EQ(all, (KV{{"sub/a", "1"}, {"sub/c", "3"}}));
  // Metadata is not part of the log.
  EXPECT_EQ(log().LastPosition(), Position(0));
}

// Every pair of the state space under `prefix`, in key order.
std::vector<std::pair<std::string, std::string>> ScanState(const StateSnapshot& snapshot,
                                                           absl::string_view prefix) {
  std::vector<std::pair<std::string, std::string>> out;
  absl::Status s = snapshot.Scan(prefix, "", [&](absl::string_view k, absl::string_view v) {
    out.emplace_back(std::string(k), std::string(v));
    return true;
  });
  EXPECT_OK(s);
  return out;
}

TEST_F(EventLogTest, StateSpaceBatchesAreAtomicSnapshotsIsolatedAndBothSurviveReopen) {
  using KV = std::vector<std::pair<std::string, std::string>>;
  ASSERT_OK(Open());
  ASSERT_OK(log().Append("deal/alpha", ExpectedVersion::NoStream(), MakeEvents("a", 3)));
  StateBatch first;
  for (uint64_t pos = 1; pos <= 3; ++pos) {
    std::string key = "t/openai/";
    for (int i = 7; i >= 0; --i) key.push_back(static_cast<char>((pos >> (8 * i)) & 0xff));
    first.Put(std::move(key), absl::StrCat("claim ", pos));
  }
  first.Put("x/1", "one");
  first.Put("x/2", "two");
  first.Put("x/3", "three");
  first.Put("applied", "3");
  ASSERT_OK(log().state().Write(first));
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<StateSnapshot> before, log().state().Snapshot());

  StateBatch second;
  second.DeleteRange("x/1", "x/3");
  second.Delete("applied");
  second.Put("y", "new");
  ASSERT_OK(log().state().Write(second));
  // A bad key refuses the whole batch.
  StateBatch bad;
  bad.Put("z", "never");
  bad.Put("", "empty key");
  EXPECT_THAT(log().state().Write(bad), StatusIs(absl::StatusCode::kInvalidArgument));

  // The snapshot taken before sees none of the later batch.
  EXPECT_EQ(ScanState(*before, "x/"), (KV{{"x/1", "one"}, {"x/2", "two"}, {"x/3", "three"}}));
  ASSERT_OK_AND_ASSIGN(std::optional<std::string> applied, before->Get("applied"));
  EXPECT_EQ(applied, "3");
  before.reset();

  auto check_now = [&] {
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<StateSnapshot> now, log().state().Snapshot());
    EXPECT_EQ(ScanState(*now, "x/"), (KV{{"x/3", "three"}}));
    ASSERT_OK_AND_ASSIGN(std::optional<std::string> gone, now->Get("applied"));
    EXPECT_EQ(gone, std::nullopt);
    ASSERT_OK_AND_ASSIGN(std::optional<std::string> y, now->Get("y"));
    EXPECT_EQ(y, "new");
    ASSERT_OK_AND_ASSIGN(std::optional<std::string> z, now->Get("z"));
    EXPECT_EQ(z, std::nullopt);
    EXPECT_THAT(ScanState(*now, "t/openai/"), SizeIs(3));
    ASSERT_OK_AND_ASSIGN(std::optional<std::string> last, now->LastKey("t/openai/"));
    ASSERT_TRUE(last.has_value());
    EXPECT_EQ(static_cast<unsigned char>(last->back()), 3);
  };
  check_now();
  ASSERT_OK(Reopen());
  check_now();
  // The state is a database of its own beside the log's, and not the log.
  EXPECT_TRUE(fs::exists(fs::path(dir_) / "state" / "CURRENT"));
  EXPECT_EQ(log().LastPosition(), Position(3));
}

// The state space has two writers at once (the projector and the decider's
// writing thread): batches of both kinds of key — numbered claims under a
// prefix (written with insert hints) and one key per entity — written from
// two threads at once all land, and nothing aborts.
TEST_F(EventLogTest, TwoThreadsWriteTheStateSpaceAtOnce) {
  ASSERT_OK(Open());
  StateSpace& state = log().state();
  constexpr int kThreads = 4, kBatches = 1000, kKeys = 50;
  auto claim_key = [](int t, int b, int k) {
    std::string key = absl::StrCat("g1/o/org-", (b * 7 + k) % 37, "!");
    const uint64_t n = static_cast<uint64_t>(t) << 32 | static_cast<uint64_t>(b * kKeys + k);
    for (int i = 7; i >= 0; --i) key.push_back(static_cast<char>(n >> (8 * i)));
    return key;
  };
  auto entity_key = [](int t, int b, int k) {
    return absl::StrCat("decider/o/t", t, "-", (b * 13 + k * 101) % 5000);
  };
  std::vector<std::thread> writers;
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; ++t) {
    writers.emplace_back([&, t] {
      for (int b = 0; b < kBatches; ++b) {
        StateBatch batch;
        for (int k = 0; k < kKeys; ++k) {
          batch.Put(claim_key(t, b, k), "c");
          batch.Put(entity_key(t, b, k), absl::StrCat(b));
        }
        // Short keys: their hint prefix is a few bytes, shared by many keys.
        batch.Put(t % 2 == 0 ? "decider/@" : "g1/a", absl::StrCat(t, "-", b));
        batch.Put(absl::StrCat("d/", b % 3), "x");
        if (!state.Write(batch).ok()) failures.fetch_add(1);
      }
    });
  }
  for (std::thread& w : writers) w.join();
  EXPECT_EQ(failures.load(), 0);
  for (int t = 0; t < kThreads; ++t) {
    for (int k = 0; k < kKeys; ++k) {
      ASSERT_OK_AND_ASSIGN(std::optional<std::string> v, state.Get(claim_key(t, kBatches - 1, k)));
      EXPECT_EQ(v, std::optional<std::string>("c"));
    }
  }
}

// A range deletion beside point keys of the same insert-hint prefix (the
// key minus its last 8 bytes): RocksDB 7.8 inserts range deletions with the
// point table's hints too, so a range starting at "decider/" (prefix "")
// and an 8-byte point key shared one skip-list splice across two lists and
// aborted the server (InlineSkipList::Insert: splice->prev_[splice->height_]
// == head_). The state space keeps range starts out of the hints' domain.
TEST_F(EventLogTest, ARangeDeletionBesidePointKeysOfItsHintPrefixLands) {
  ASSERT_OK(Open());
  StateSpace& state = log().state();
  for (int round = 0; round < 20; ++round) {
    StateBatch wipe;
    wipe.DeleteRange("decider/", "decider0");
    wipe.DeleteRange(absl::StrCat("g", round, "/"), absl::StrCat("g", round, "0"));
    ASSERT_OK(state.Write(wipe));
    StateBatch batch;
    for (int k = 0; k < 200; ++k) {
      // 8 bytes each, prefix "", in no particular order.
      batch.Put(absl::StrFormat("g1/o/%03d", (k * 37 + round) % 1000), "v");
      batch.Put(absl::StrFormat("decid%03d", (k * 91 + round) % 1000), "w");
      batch.Put(absl::StrCat("decider/o/", k), "x");
    }
    ASSERT_OK(state.Write(batch));
  }
  ASSERT_OK_AND_ASSIGN(std::optional<std::string> v, state.Get("decider/o/7"));
  EXPECT_EQ(v, std::optional<std::string>("x"));
  ASSERT_OK_AND_ASSIGN(v, state.Get(absl::StrFormat("g1/o/%03d", (5 * 37 + 19) % 1000)));
  EXPECT_EQ(v, std::optional<std::string>("v"));
  StateBatch wipe;
  wipe.DeleteRange("decider/", "decider0");
  ASSERT_OK(state.Write(wipe));
  ASSERT_OK_AND_ASSIGN(v, state.Get("decider/o/7"));
  EXPECT_EQ(v, std::nullopt);
  // A range starting elsewhere is refused, and nothing of its batch lands.
  StateBatch other;
  other.Put("g1/kept", "k");
  other.DeleteRange("g1/o/000", "g1/o/999");
  EXPECT_EQ(state.Write(other).code(), absl::StatusCode::kInvalidArgument);
  ASSERT_OK_AND_ASSIGN(v, state.Get("g1/kept"));
  EXPECT_EQ(v, std::nullopt);
}

TEST_F(EventLogTest, StateColumnFamilyOfAnEarlierVersionIsDroppedOnOpen) {
  {
    // The layout before the state space had a database of its own.
    rocksdb::Options options;
    options.create_if_missing = true;
    options.create_missing_column_families = true;
    std::vector<rocksdb::ColumnFamilyDescriptor> cfs = {
        {rocksdb::kDefaultColumnFamilyName, {}}, {"events", {}}, {"streams", {}},
        {"event_ids", {}}, {"tags", {}}, {"metadata", {}}, {"state", {}}};
    std::vector<rocksdb::ColumnFamilyHandle*> handles;
    rocksdb::DB* raw = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open(options, dir_, cfs, &handles, &raw).ok());
    std::unique_ptr<rocksdb::DB> db(raw);
    ASSERT_TRUE(db->Put({}, handles[6], "g1/a", "old state").ok());
    for (rocksdb::ColumnFamilyHandle* h : handles) ASSERT_TRUE(db->DestroyColumnFamilyHandle(h).ok());
    ASSERT_TRUE(db->Close().ok());
  }
  ASSERT_OK(Open());
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<StateSnapshot> now, log().state().Snapshot());
  ASSERT_OK_AND_ASSIGN(std::optional<std::string> old, now->Get("g1/a"));
  EXPECT_EQ(old, std::nullopt);
  now.reset();
  ASSERT_OK(log().Append("deal/alpha", ExpectedVersion::NoStream(), MakeEvents("a", 2)));
  ASSERT_OK(Reopen());
  EXPECT_EQ(log().LastPosition(), Position(2));
  ASSERT_OK(log().Close());
  std::vector<std::string> families;
  ASSERT_TRUE(rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(), dir_, &families).ok());
  EXPECT_THAT(families, ::testing::Not(::testing::Contains("state")));
}


// --- Stream runs -----------------------------------------------------------

TEST_F(EventLogTest, AnAppendIsOneRunOfTheStreamIndex) {
  ASSERT_OK(Open());
  // Runs of 1, 100, 1 and 37 events, interleaved with another stream.
  ASSERT_OK(log().Append("s", ExpectedVersion::NoStream(), MakeEvents("a", 1)));
  ASSERT_OK(log().Append("other", ExpectedVersion::Any(), MakeEvents("o", 3)));
  ASSERT_OK(log().Append("s", ExpectedVersion::Exact(StreamVersion(0)), MakeEvents("b", 100)));
  ASSERT_OK(log().Append("s", ExpectedVersion::Exact(StreamVersion(100)), MakeEvents("c", 1)));
  ASSERT_OK(log().Append("other", ExpectedVersion::Any(), MakeEvents("p", 2)));
  ASSERT_OK(log().Append("s", ExpectedVersion::Exact(StreamVersion(101)), MakeEvents("d", 37)));
  EXPECT_EQ(VersionOf("s"), StreamVersion(138));
  EXPECT_EQ(VersionOf("other"), StreamVersion(4));

  auto versions = [&](Direction d, std::optional<uint64_t> from, size_t limit) {
    std::optional<StreamVersion> v;
    if (from) v = StreamVersion(*from);
    absl::StatusOr<std::vector<RecordedEvent>> events = log().ReadStream("s", d, v, limit);
    EXPECT_OK(events);
    std::vector<uint64_t> out;
    if (!events.ok()) return out;
    for (const RecordedEvent& e : *events) {
      EXPECT_EQ(e.stream, "s");
      out.push_back(e.stream_version.value());
    }
    return out;
  };
  const auto kF = Direction::kForwards;
  const auto kB = Direction::kBackwards;
  EXPECT_THAT(versions(kF, std::nullopt, 1000), ElementsAreArray(Range(0, 138)));
  EXPECT_THAT(versions(kB, std::nullopt, 1000), ElementsAreArray(Range(138, 0)));
  // Starting inside a run, across run boundaries, with limits.
  EXPECT_THAT(versions(kF, 50, 3), ElementsAre(50, 51, 52));
  EXPECT_THAT(versions(kF, 99, 4), ElementsAre(99, 100, 101, 102));
  EXPECT_THAT(versions(kB, 102, 4), ElementsAre(102, 101, 100, 99));
  EXPECT_THAT(versions(kB, 1, 5), ElementsAre(1, 0));
  EXPECT_THAT(versions(kF, 138, 5), ElementsAre(138));
  EXPECT_THAT(versions(kF, 139, 5), IsEmpty());
  EXPECT_THAT(versions(kB, 500, 2), ElementsAre(138, 137));
  // Positions follow the runs.
  ASSERT_OK_AND_ASSIGN(std::vector<RecordedEvent> at,
                       log().ReadStream("s", kF, StreamVersion(100), 2));
  ASSERT_THAT(at, SizeIs(2));
  EXPECT_EQ(at[0].event_id, "b-99");
  EXPECT_EQ(at[0].position, Position(104));
  EXPECT_EQ(at[1].event_id, "c-0");
  EXPECT_EQ(at[1].position, Position(105));

  // Four appends, four keys: one per run, not one per event.
  ASSERT_OK(log().Close());
  log_.reset();
  rocksdb::Options options;
  std::vector<rocksdb::ColumnFamilyDescriptor> cfs;
  std::vector<std::string> names;
  ASSERT_TRUE(rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(), dir_, &names).ok());
  for (const std::string& n : names) cfs.emplace_back(n, rocksdb::ColumnFamilyOptions());
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  ASSERT_TRUE(rocksdb::DB::OpenForReadOnly(options, dir_, cfs, &handles, &raw).ok());
  std::unique_ptr<rocksdb::DB> db(raw);
  const size_t streams = std::find(names.begin(), names.end(), "streams") - names.begin();
  ASSERT_LT(streams, names.size());
  std::unique_ptr<rocksdb::Iterator> it(db->NewIterator({}, handles[streams]));
  int s_keys = 0, other_keys = 0;
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    if (it->key().starts_with(rocksdb::Slice("s\0", 2))) ++s_keys;
    if (it->key().starts_with(rocksdb::Slice("other\0", 6))) ++other_keys;
  }
  EXPECT_EQ(s_keys, 4);
  EXPECT_EQ(other_keys, 2);
  EXPECT_THAT(names, ::testing::Not(::testing::Contains("tags")));
  it.reset();
  for (rocksdb::ColumnFamilyHandle* h : handles) ASSERT_TRUE(db->DestroyColumnFamilyHandle(h).ok());
}

// --- Formats -----------------------------------------------------------------

// A format 1 record (Dealwire 0.1): the id as given, tags with the event.
std::string FormatOneRecord(absl::string_view stream, uint64_t version, int64_t micros,
                            absl::string_view id, absl::string_view type,
                            const std::vector<std::string>& tags, absl::string_view data) {
  auto varint = [](std::string* out, uint64_t v) {
    while (v >= 0x80) {
      out->push_back(static_cast<char>((v & 0x7f) | 0x80));
      v >>= 7;
    }
    out->push_back(static_cast<char>(v));
  };
  auto bytes = [&](std::string* out, absl::string_view b) {
    varint(out, b.size());
    out->append(b.data(), b.size());
  };
  std::string r(1, '\x01');
  varint(&r, version);
  varint(&r, static_cast<uint64_t>(micros));
  bytes(&r, stream);
  bytes(&r, id);
  bytes(&r, type);
  varint(&r, tags.size());
  for (const std::string& t : tags) bytes(&r, t);
  bytes(&r, data);
  return r;
}

std::string BigEndian(uint64_t v) {
  std::string out(8, '\0');
  for (int i = 7; i >= 0; --i, v >>= 8) out[i] = static_cast<char>(v & 0xff);
  return out;
}

TEST_F(EventLogTest, AFormatOneLogIsReadAndAppendedTo) {
  // As Dealwire 0.1 left it: one stream key per event, a tag index, no
  // format key; a UUID id and another id.
  const std::string uuid = "0b6f2c1e-7d4a-4e8b-9a51-3c2d1f0e9b7a";
  const std::vector<std::string> ids = {uuid, "legacy-id"};
  {
    rocksdb::Options options;
    options.create_if_missing = true;
    options.create_missing_column_families = true;
    std::vector<rocksdb::ColumnFamilyDescriptor> cfs = {
        {rocksdb::kDefaultColumnFamilyName, {}}, {"events", {}}, {"streams", {}},
        {"event_ids", {}}, {"tags", {}}, {"metadata", {}}};
    std::vector<rocksdb::ColumnFamilyHandle*> h;
    rocksdb::DB* raw = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open(options, dir_, cfs, &h, &raw).ok());
    std::unique_ptr<rocksdb::DB> db(raw);
    for (uint64_t i = 0; i < 2; ++i) {
      const uint64_t position = i + 1;
      ASSERT_TRUE(db->Put({}, h[1], BigEndian(position),
                          FormatOneRecord("deal/old", i, 1'700'000'000'000'000 + i, ids[i],
                                          "TestEvent", {"org/acme"},
                                          absl::StrCat("data of ", ids[i])))
                      .ok());
      ASSERT_TRUE(db->Put({}, h[2], absl::StrCat(std::string("deal/old\0", 9), BigEndian(i)),
                          BigEndian(position))
                      .ok());
      const std::string id_key =
          i == 0 ? std::string("\x01\x0b\x6f\x2c\x1e\x7d\x4a\x4e\x8b\x9a\x51\x3c\x2d\x1f\x0e\x9b\x7a",
                               17)
                 : absl::StrCat(std::string(1, '\0'), ids[i]);
      ASSERT_TRUE(db->Put({}, h[3], id_key, BigEndian(position)).ok());
      ASSERT_TRUE(
          db->Put({}, h[4], absl::StrCat(std::string("org/acme\0", 9), BigEndian(position)), "")
              .ok());
    }
    for (rocksdb::ColumnFamilyHandle* x : h) ASSERT_TRUE(db->DestroyColumnFamilyHandle(x).ok());
    ASSERT_TRUE(db->Close().ok());
  }
  ASSERT_OK(Open());
  EXPECT_EQ(log().LastPosition(), Position(2));
  EXPECT_EQ(VersionOf("deal/old"), StreamVersion(1));
  EXPECT_EQ(PositionOf(uuid), Position(1));
  EXPECT_EQ(PositionOf("legacy-id"), Position(2));
  ASSERT_OK_AND_ASSIGN(std::vector<RecordedEvent> old,
                       log().ReadStream("deal/old", Direction::kBackwards, std::nullopt, 10));
  EXPECT_THAT(IdsOf(old), ElementsAre("legacy-id", uuid));
  EXPECT_EQ(old[1].tags, std::vector<std::string>{"org/acme"});
  EXPECT_EQ(old[1].data, absl::StrCat("data of ", uuid));
  // A retry of a format 1 event is a repeat; the stream goes on.
  ASSERT_OK_AND_ASSIGN(AppendResult again,
                       log().Append("deal/old", ExpectedVersion::Any(),
                                    {MakeEvent(uuid, {"org/acme"})}));
  EXPECT_TRUE(again.duplicate);
  EXPECT_EQ(again.first_position, Position(1));
  ASSERT_OK_AND_ASSIGN(AppendResult next,
                       log().Append("deal/old", ExpectedVersion::Exact(StreamVersion(1)),
                                    MakeEvents("new", 2)));
  EXPECT_EQ(next.first_position, Position(3));
  EXPECT_EQ(next.first_version, StreamVersion(2));
  ASSERT_OK(Reopen());
  ASSERT_OK_AND_ASSIGN(std::vector<RecordedEvent> all, ReadEverything(log()));
  EXPECT_THAT(IdsOf(all), ElementsAre(uuid, "legacy-id", "new-0", "new-1"));
  ASSERT_OK(log().Close());
  log_.reset();
  std::vector<std::string> families;
  ASSERT_TRUE(rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(), dir_, &families).ok());
  EXPECT_THAT(families, ::testing::Not(::testing::Contains("tags")));
}

TEST_F(EventLogTest, ALogOfANewerFormatIsRefused) {
  ASSERT_OK(Open());
  ASSERT_OK(log().Append("deal/a", ExpectedVersion::Any(), MakeEvents("a", 1)));
  ASSERT_OK(log().Close());
  log_.reset();
  {
    rocksdb::Options options;
    std::vector<std::string> names;
    ASSERT_TRUE(rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(), dir_, &names).ok());
    std::vector<rocksdb::ColumnFamilyDescriptor> cfs;
    for (const std::string& n : names) cfs.emplace_back(n, rocksdb::ColumnFamilyOptions());
    std::vector<rocksdb::ColumnFamilyHandle*> h;
    rocksdb::DB* raw = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open(options, dir_, cfs, &h, &raw).ok());
    std::unique_ptr<rocksdb::DB> db(raw);
    std::string format;
    ASSERT_TRUE(db->Get({}, "dealwire.log.format", &format).ok());
    EXPECT_EQ(format, "2");
    ASSERT_TRUE(db->Put({}, "dealwire.log.format", "3").ok());
    for (rocksdb::ColumnFamilyHandle* x : h) ASSERT_TRUE(db->DestroyColumnFamilyHandle(x).ok());
    ASSERT_TRUE(db->Close().ok());
  }
  EXPECT_THAT(Open(), StatusIsWith(absl::StatusCode::kFailedPrecondition, "format 3"));
}

// --- Deciders ----------------------------------------------------------------

// A proposal of events named by their ids; it says when it is destroyed.
class TestProposal final : public Proposal {
 public:
  TestProposal(std::vector<std::string> ids, std::atomic<int>* destroyed)
      : ids_(std::move(ids)), destroyed_(destroyed) {}
  ~TestProposal() override {
    if (destroyed_ != nullptr) destroyed_->fetch_add(1);
  }
  size_t size() const override { return ids_.size(); }
  size_t bytes() const override { return 10 * ids_.size(); }
  const std::vector<std::string>& ids() const { return ids_; }

 private:
  std::vector<std::string> ids_;
  std::atomic<int>* destroyed_;
};

// Encodes each id as an event "TestEvent"; Decide refuses ids starting with
// "bad", tags each event with the ids decided before it (state!), looks up
// the event an id "ref:<other id>" names among the accepted events (tag
// "ref-at/<position>", refused when there is none), and records what it was
// asked. With `hold` set, the first Encode waits for it (so that the appends
// queued meanwhile are decided in one group).
class TestDecider final : public Decider {
 public:
  absl::Status Recover(const EventLog& log) override {
    absl::StatusOr<std::vector<RecordedEvent>> all = log.ReadAll(Direction::kForwards, {}, 1000);
    if (!all.ok()) return all.status();
    recovered = all->size();
    ++recoveries;
    decided.clear();
    for (const RecordedEvent& e : *all) decided.push_back(e.event_id);
    return absl::OkStatus();
  }
  absl::Status Encode(absl::string_view stream, const Proposal& proposal,
                      std::vector<ProposedEvent>* events) override {
    if (hold != nullptr && !held) {
      held = true;
      holding.Notify();
      hold->WaitForNotification();
    }
    calls.push_back(absl::StrCat("encode ", stream));
    for (const std::string& id : static_cast<const TestProposal&>(proposal).ids()) {
      if (id == "unencodable") return absl::InvalidArgumentError("events[0]: unencodable");
      events->push_back(MakeEvent(id));
    }
    return absl::OkStatus();
  }
  absl::Status Decide(absl::string_view stream, Position first, absl::Time recorded,
                      const Proposal* proposal, const AcceptedEvents& accepted,
                      std::vector<ProposedEvent>* events) override {
    calls.push_back(absl::StrCat("decide ", stream, " at ", first.value(),
                                 proposal == nullptr ? " complete" : " proposed"));
    last_recorded = recorded;
    for (const ProposedEvent& e : *events) {
      if (absl::StartsWith(e.event_id, "bad")) {
        return absl::FailedPreconditionError(absl::StrCat("events: ", e.event_id, " is bad"));
      }
      if (e.event_id == "unavailable" && !unavailable_told) {
        unavailable_told = true;  // the retry after the recovery is decided
        return absl::UnavailableError("the decider's storage failed");
      }
    }
    std::vector<std::vector<std::string>> tags;
    for (const ProposedEvent& e : *events) {
      tags.push_back({absl::StrCat("after/", decided.size() + tags.size())});
      if (absl::StartsWith(e.event_id, "ref:")) {
        absl::StatusOr<std::optional<RecordedEvent>> found =
            accepted.Find(e.event_id.substr(4));
        if (!found.ok()) return found.status();
        if (!found->has_value()) {
          return absl::FailedPreconditionError(absl::StrCat("events: ", e.event_id, " not found"));
        }
        tags.back() = {absl::StrCat("ref-at/", (*found)->position.value(), "/",
                                    (*found)->stream)};
      }
    }
    for (size_t i = 0; i < events->size(); ++i) {
      (*events)[i].tags = std::move(tags[i]);
      decided.push_back((*events)[i].event_id);
    }
    return absl::OkStatus();
  }
  std::vector<std::string> calls;    // writer thread, read after the appends
  std::vector<std::string> decided;  // ids accepted, in order
  size_t recovered = 0;
  int recoveries = 0;
  bool unavailable_told = false;
  absl::Time last_recorded;
  absl::Notification* hold = nullptr;
  absl::Notification holding;
  bool held = false;  // writer thread only
};

TEST_F(EventLogTest, ProposalsNeedADecider) {
  ASSERT_OK(Open());
  std::atomic<int> destroyed{0};
  EXPECT_THAT(log().Propose("s", ExpectedVersion::Any(),
                            std::make_unique<TestProposal>(std::vector<std::string>{"a"},
                                                           &destroyed)),
              StatusIsWith(absl::StatusCode::kFailedPrecondition, "no decider"));
  EXPECT_EQ(destroyed.load(), 1);
  EXPECT_EQ(log().LastPosition(), Position(0));
}

TEST_F(EventLogTest, TheDeciderEncodesThenDecidesEachAppendOnce) {
  auto decider = std::make_shared<TestDecider>();
  Options options;
  options.decider = decider;
  ASSERT_OK(Open(options));
  std::atomic<int> destroyed{0};
  auto propose = [&](std::string stream, ExpectedVersion expected, std::vector<std::string> ids) {
    return log().Propose(std::move(stream), expected,
                         std::make_unique<TestProposal>(std::move(ids), &destroyed));
  };
  ASSERT_OK_AND_ASSIGN(AppendResult r, propose("s", ExpectedVersion::NoStream(), {"a", "b"}));
  EXPECT_EQ(r.first_position, Position(1));
  EXPECT_EQ(decider->last_recorded, r.recorded_time);
  // Refused by Decide: nothing written, and the next append gets position 3.
  EXPECT_THAT(propose("s", ExpectedVersion::Any(), {"c", "bad-d"}),
              StatusIsWith(absl::StatusCode::kFailedPrecondition, "bad-d is bad"));
  // Refused by Encode.
  EXPECT_THAT(propose("t", ExpectedVersion::Any(), {"unencodable"}),
              StatusIsWith(absl::StatusCode::kInvalidArgument, "unencodable"));
  // The log's own checks run on what Encode made: a repeated id.
  EXPECT_THAT(propose("t", ExpectedVersion::Any(), {"x", "x"}),
              StatusIsWith(absl::StatusCode::kInvalidArgument, "repeats events[0].event_id"));
  // A repeat is found by the encoded ids before the version check and is
  // never decided again.
  ASSERT_OK_AND_ASSIGN(AppendResult again, propose("s", ExpectedVersion::NoStream(), {"a", "b"}));
  EXPECT_TRUE(again.duplicate);
  EXPECT_EQ(again.first_position, Position(1));
  // A version conflict is not decided either.
  EXPECT_THAT(propose("s", ExpectedVersion::NoStream(), {"e"}),
              StatusIs(absl::StatusCode::kAborted));
  ASSERT_OK_AND_ASSIGN(r, propose("s", ExpectedVersion::Exact(StreamVersion(1)), {"e"}));
  EXPECT_EQ(r.first_position, Position(3));
  // Complete events are decided too, with no proposal.
  ASSERT_OK(log().Append("u", ExpectedVersion::Any(), {MakeEvent("f", {"mine"})}));
  EXPECT_THAT(decider->calls,
              ElementsAre("encode s", "decide s at 1 proposed", "encode s",
                          "decide s at 3 proposed", "encode t", "encode t", "encode s",
                          "encode s", "encode s", "decide s at 3 proposed",
                          "decide u at 4 complete"));
  // The decider's tags are stored (its state saw a, b before e).
  ASSERT_OK_AND_ASSIGN(RecordedEvent e, log().ReadEvent(Position(3)));
  EXPECT_EQ(e.tags, std::vector<std::string>{"after/2"});
  ASSERT_OK_AND_ASSIGN(RecordedEvent f, log().ReadEvent(Position(4)));
  EXPECT_EQ(f.tags, std::vector<std::string>{"after/3"});
  // Every proposal is destroyed, each once.
  EXPECT_EQ(destroyed.load(), 7);
  // A reopened log recovers the decider from what was committed.
  auto reopened = std::make_shared<TestDecider>();
  options.decider = reopened;
  ASSERT_OK(Reopen(options));
  EXPECT_EQ(reopened->recovered, 4u);
}

// UNAVAILABLE from the decider (its own storage failed) is a storage error
// of the log's: nothing of that group is written, appends fail until the
// log has recovered (and recovered the decider), then they are taken again.
TEST_F(EventLogTest, ADeciderStorageFailureFailsTheGroupAndTheLogRecovers) {
  auto decider = std::make_shared<TestDecider>();
  absl::Notification hold;
  decider->hold = &hold;
  std::vector<absl::StatusCode> told;
  absl::Mutex told_mu;
  Options options;
  options.decider = decider;
  options.recovery_interval = absl::Milliseconds(10);
  options.storage_listener = [&](const absl::Status& s) {
    absl::MutexLock l(&told_mu);
    told.push_back(s.code());
  };
  ASSERT_OK(Open(options));
  std::atomic<int> destroyed{0};
  // The first append is held in Encode (a group of its own) until the
  // other three are queued: they are decided in one group, whose middle
  // decision fails.
  std::vector<absl::StatusOr<AppendResult>> results(4);
  std::vector<absl::Notification> done(4);
  const std::vector<std::vector<std::string>> ids = {{"a"}, {"b"}, {"unavailable"}, {"c"}};
  for (size_t k = 0; k < ids.size(); ++k) {
    log().ProposeAsync(absl::StrCat("s", k), ExpectedVersion::Any(),
                       std::make_unique<TestProposal>(ids[k], &destroyed),
                       [&, k](absl::StatusOr<AppendResult> r) {
                         results[k] = std::move(r);
                         done[k].Notify();
                       });
    if (k == 0) {
      ASSERT_TRUE(decider->holding.WaitForNotificationWithTimeout(absl::Seconds(30)));
    }
  }
  hold.Notify();
  for (auto& d : done) ASSERT_TRUE(d.WaitForNotificationWithTimeout(absl::Seconds(30)));
  // The first group is durable unless it was still waiting for its sync
  // when the failure came (the sync thread syncs nothing after one).
  const uint64_t kept = results[0].ok() ? 1 : 0;
  if (!results[0].ok()) {
    EXPECT_THAT(results[0], StatusIs(absl::StatusCode::kUnavailable));
  }
  for (size_t k = 1; k < ids.size(); ++k) {
    EXPECT_THAT(results[k], StatusIs(absl::StatusCode::kUnavailable)) << ids[k][0];
  }
  EXPECT_EQ(log().LastPosition(), Position(kept)) << "a group with a failed decision was written";
  // Recovered by itself (bounded wait): the same appends are taken now.
  absl::StatusOr<AppendResult> again;
  for (int i = 0; i < 3000; ++i) {
    again = log().Propose("s2", ExpectedVersion::Any(),
                          std::make_unique<TestProposal>(ids[2], &destroyed));
    if (again.ok()) break;
    absl::SleepFor(absl::Milliseconds(10));
  }
  ASSERT_OK(again);
  EXPECT_EQ(again->first_position, Position(kept + 1));
  EXPECT_GE(decider->recoveries, 2);  // at open and after the failure
  absl::MutexLock l(&told_mu);
  EXPECT_THAT(told, ElementsAre(absl::StatusCode::kUnavailable, absl::StatusCode::kOk));
}

TEST_F(EventLogTest, AProposalIsDestroyedBeforeItsCallbackRuns) {
  auto decider = std::make_shared<TestDecider>();
  Options options;
  options.decider = decider;
  ASSERT_OK(Open(options));
  std::atomic<int> destroyed{0};
  for (int k = 0; k < 20; ++k) {
    absl::Notification done;
    int destroyed_before_callback = -1;
    log().ProposeAsync(
        absl::StrCat("s", k), ExpectedVersion::Any(),
        std::make_unique<TestProposal>(std::vector<std::string>{absl::StrCat("id", k)},
                                       &destroyed),
        [&](absl::StatusOr<AppendResult> r) {
          EXPECT_OK(r);
          destroyed_before_callback = destroyed.load();
          done.Notify();
        });
    ASSERT_TRUE(done.WaitForNotificationWithTimeout(absl::Seconds(30)));
    EXPECT_EQ(destroyed_before_callback, k + 1);
  }
}


// --- The event-id index ------------------------------------------------------

TEST_F(EventLogTest, IdsAreFoundInMemoryInIngestedRunsAndAfterReopening) {
  Options options;
  options.id_index_run = 10;  // a file per 10 ids
  ASSERT_OK(Open(options));
  std::vector<std::string> ids;
  for (int a = 0; a < 30; ++a) {
    std::vector<ProposedEvent> events = MakeEvents(absl::StrCat("id", a), 3);
    for (const ProposedEvent& e : events) ids.push_back(e.event_id);
    ASSERT_OK(log().Append(absl::StrCat("s/", a % 4), ExpectedVersion::Any(), events));
  }
  // A UUID id and one that is not, in the same run.
  ASSERT_OK(log().Append("s/u", ExpectedVersion::Any(),
                         {MakeEvent("0b6f2c1e-7d4a-4e8b-9a51-3c2d1f0e9b7a"), MakeEvent("plain")}));
  ids.push_back("0b6f2c1e-7d4a-4e8b-9a51-3c2d1f0e9b7a");
  ids.push_back("plain");
  auto expect_all = [&] {
    for (size_t i = 0; i < ids.size(); ++i) {
      ASSERT_OK_AND_ASSIGN(Position p, log().FindEvent(ids[i]));
      EXPECT_EQ(p, Position(i + 1)) << ids[i];
    }
    EXPECT_THAT(log().FindEvent("never"), StatusIs(absl::StatusCode::kNotFound));
    // Every repeat is still a repeat, whether its id is in memory or a file.
    for (int a = 0; a < 30; ++a) {
      ASSERT_OK_AND_ASSIGN(AppendResult r, log().Append(absl::StrCat("s/", a % 4),
                                                       ExpectedVersion::Any(),
                                                       MakeEvents(absl::StrCat("id", a), 3)));
      EXPECT_TRUE(r.duplicate) << a;
      EXPECT_EQ(r.first_position, Position(3 * a + 1));
    }
    // And a reused id with other content is refused.
    EXPECT_THAT(log().Append("s/0", ExpectedVersion::Any(), {MakeEvent("id0-1", {}, "other")}),
                StatusIs(absl::StatusCode::kAlreadyExists));
  };
  expect_all();
  // Full runs are written as files once durable, by another thread, at the
  // latest when the log closes.
  ASSERT_OK(log().Close());
  log_.reset();
  {
    std::vector<std::string> families;
    ASSERT_TRUE(rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(), dir_, &families).ok());
    std::vector<rocksdb::ColumnFamilyDescriptor> cfs;
    for (const std::string& n : families) cfs.emplace_back(n, rocksdb::ColumnFamilyOptions());
    std::vector<rocksdb::ColumnFamilyHandle*> handles;
    rocksdb::DB* raw = nullptr;
    ASSERT_TRUE(rocksdb::DB::OpenForReadOnly(rocksdb::Options(), dir_, cfs, &handles, &raw).ok());
    std::unique_ptr<rocksdb::DB> db(raw);
    // Appends of 3 ids: a run is full at 12, so 7 runs (positions 1..84)
    // are in the family with their watermark, and 85..92 only in memory.
    const size_t ids_cf = std::find(families.begin(), families.end(), "event_ids") -
                          families.begin();
    ASSERT_LT(ids_cf, families.size());
    std::unique_ptr<rocksdb::Iterator> it(db->NewIterator({}, handles[ids_cf]));
    int keys = 0;
    std::string watermark;
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      ++keys;
      if (it->key().starts_with("\xff")) watermark = it->value().ToString();
    }
    EXPECT_EQ(keys, 84 + 1);
    EXPECT_EQ(watermark, BigEndian(84));
    it.reset();
    for (rocksdb::ColumnFamilyHandle* h : handles) ASSERT_TRUE(db->DestroyColumnFamilyHandle(h).ok());
  }
  ASSERT_OK(Open(options));
  expect_all();
  // Recent ids (after the last file) come back from the log after a reopen.
  ASSERT_OK(Reopen(options));
  expect_all();
  // With the default run size, nothing more is written as a file, and a
  // reopen still finds everything.
  ASSERT_OK(Reopen());
  expect_all();
}


TEST_F(EventLogTest, TheDeciderFindsEveryEventAcceptedBefore) {
  auto decider = std::make_shared<TestDecider>();
  absl::Notification release;
  Options options;
  options.decider = decider;
  ASSERT_OK(Open(options));
  auto propose = [&](std::string stream, std::vector<std::string> ids, AppendCallback done) {
    log().ProposeAsync(std::move(stream), ExpectedVersion::Any(),
                       std::make_unique<TestProposal>(std::move(ids), nullptr), std::move(done));
  };
  // Committed before.
  ASSERT_OK(log().Propose("a", ExpectedVersion::Any(),
                          std::make_unique<TestProposal>(std::vector<std::string>{"old"}, nullptr)));
  decider->hold = &release;
  std::vector<absl::StatusOr<AppendResult>> results(4);
  absl::Notification done[4];
  auto record = [&](int k) {
    return [&, k](absl::StatusOr<AppendResult> r) {
      results[k] = std::move(r);
      done[k].Notify();
    };
  };
  propose("b", {"first"}, record(0));  // its group holds the writer
  ASSERT_TRUE(decider->holding.WaitForNotificationWithTimeout(absl::Seconds(30)));
  // One group: an event, then events naming it and the committed one, then
  // one naming nothing accepted (it is in the same append, so not yet).
  propose("c", {"new"}, record(1));
  propose("d", {"ref:new", "ref:old", "ref:first"}, record(2));
  propose("e", {"self", "ref:self"}, record(3));
  release.Notify();
  for (int k = 0; k < 4; ++k) ASSERT_TRUE(done[k].WaitForNotificationWithTimeout(absl::Seconds(30)));
  ASSERT_OK(results[0]);
  ASSERT_OK(results[1]);
  ASSERT_OK(results[2]);
  EXPECT_THAT(results[3], StatusIsWith(absl::StatusCode::kFailedPrecondition, "ref:self not found"));
  EXPECT_EQ(results[1]->recorded_time, results[2]->recorded_time);  // one group
  ASSERT_OK_AND_ASSIGN(std::vector<RecordedEvent> d,
                       log().ReadStream("d", Direction::kForwards, std::nullopt, 10));
  ASSERT_THAT(d, SizeIs(3));
  EXPECT_EQ(d[0].tags, std::vector<std::string>{"ref-at/3/c"});
  EXPECT_EQ(d[1].tags, std::vector<std::string>{"ref-at/1/a"});
  EXPECT_EQ(d[2].tags, std::vector<std::string>{"ref-at/2/b"});
}

}  // namespace
}  // namespace dealwire::store
