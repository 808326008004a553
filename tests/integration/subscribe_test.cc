// Integration tests of EventStore.Subscribe and the named-subscription RPCs
// (CommitCheckpoint, ListSubscriptions, DeleteSubscription) against the real
// dealwired binary: every start mode, the catch-up → live switch under
// concurrent appends, filters with checkpoints, heartbeats, durable resumes
// (also across a restart) and client deadlines.
//
// Every Subscribe runs in a Subscription (test_util.h): its messages are
// taken with timeouts, so no test can hang on a silent server, and every
// message is checked against the stream's ordering rules (Received::Record).

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <iostream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "google/protobuf/duration.pb.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "tests/integration/test_util.h"

namespace dealwire::integration {
namespace {

using ::google::protobuf::util::MessageDifferencer;
using ::testing::ElementsAreArray;
using ::testing::IsEmpty;
using ::testing::SizeIs;

using Strings = std::vector<std::string>;

// Bound on every wait for subscription messages in this file.
constexpr absl::Duration kWait = absl::Seconds(30);

class SubscribeTest : public ServerTest {
 protected:
  // Appends `count` events: one new organization registered, then updates of
  // it in appends of up to 10. Returns the org id.
  std::string AppendEvents(int count) {
    const std::string org = RegisterOrg();
    for (int i = 1; i < count; i += 10) {
      std::vector<v1::Event> events;
      for (int j = i; j < std::min(count, i + 10); ++j) {
        events.push_back(OrgUpdated(org, absl::StrCat("update ", j)));
      }
      EXPECT_OK(Append(stub(), OrgStream(org), std::move(events)));
    }
    return org;
  }

  uint64_t LogEnd() {
    v1::ReadAllRequest request;
    request.set_page_size(1);
    absl::StatusOr<v1::ReadAllResponse> r = ReadAll(stub(), request);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? r->last_position() : ~uint64_t{0};
  }

  // Returns the named subscription as listed, or nullopt.
  std::optional<v1::NamedSubscription> Listed(const std::string& name) {
    absl::StatusOr<std::vector<v1::NamedSubscription>> all = ListAllSubscriptions(stub());
    EXPECT_TRUE(all.ok()) << all.status();
    if (!all.ok()) return std::nullopt;
    for (const v1::NamedSubscription& s : *all) {
      if (s.name() == name) return s;
    }
    return std::nullopt;
  }
};

// Checks that `got` is the unfiltered log from `from` to `to` with no
// protocol violation, and that each caught_up came right after the event at
// its position (an unfiltered subscription has delivered everything up to it).
void ExpectContiguous(const Received& got, uint64_t from, uint64_t to) {
  EXPECT_THAT(got.violations, IsEmpty()) << Summary(got);
  if (from > to) {
    EXPECT_THAT(got.events, IsEmpty()) << Summary(got);
  } else {
    EXPECT_THAT(PositionsOf(got.events), ElementsAreArray(Range(from, to))) << Summary(got);
  }
  for (const Marker& m : got.caught_up) {
    if (m.events_before > 0) {
      EXPECT_EQ(m.position, m.last_event_position)
          << "caught_up at " << m.position << " though the last event delivered was at "
          << m.last_event_position;
    }
  }
}

// --- Start modes -----------------------------------------------------------------

TEST_F(SubscribeTest, FromStartDeliversBacklogThenCaughtUpThenLiveEvents) {
  const std::string org = AppendEvents(30);
  Subscription sub(server().Channel(), FromStart());
  Received got;
  ASSERT_OK(ReadUntil(sub, &got, HasCaughtUp(), kWait));
  ExpectContiguous(got, 1, 30);
  ASSERT_THAT(got.caught_up, SizeIs(1));
  EXPECT_EQ(got.caught_up[0].position, 30u);
  EXPECT_EQ(got.caught_up[0].events_before, 30u);

  // The events are the stored ones, complete.
  ASSERT_OK_AND_ASSIGN(std::vector<v1::Event> log, ReadWholeLog(stub()));
  ASSERT_THAT(log, SizeIs(30));
  for (size_t i = 0; i < log.size(); ++i) {
    EXPECT_TRUE(MessageDifferencer::Equals(got.events[i], log[i]))
        << "delivered " << got.events[i].ShortDebugString() << "\nstored "
        << log[i].ShortDebugString();
  }

  // Live.
  ASSERT_OK(Append(stub(), OrgStream(org), {OrgUpdated(org, "live 1"), OrgUpdated(org, "live 2")}));
  ASSERT_OK(Append(stub(), OrgStream(org), {OrgUpdated(org, "live 3")}));
  ASSERT_OK(ReadUntil(sub, &got, HasEventAt(33), kWait));
  ExpectContiguous(got, 1, 33);
  EXPECT_THAT(got.caught_up, SizeIs(1));
}

// With max_batch_events, consecutive events travel in EventBatch messages:
// the same events, in the same order, with checkpoints and caught_up where
// they belong, and live events batched too.
TEST_F(SubscribeTest, BatchedSubscriptionDeliversTheSameEventsInFewerMessages) {
  const std::string org = AppendEvents(500);
  v1::SubscribeRequest request = FromStart();
  request.set_max_batch_events(64);
  request.set_checkpoint_interval(100);
  Subscription sub(server().NewChannel(), request);
  Received got;
  ASSERT_OK(ReadUntil(sub, &got, HasCaughtUp(), kWait));
  ExpectContiguous(got, 1, 500);
  EXPECT_GT(got.batches, 0u);
  EXPECT_LT(got.messages, 250u) << "500 events and 5 checkpoints came in " << got.messages
                                << " messages: not batched";
  ASSERT_THAT(got.checkpoints, SizeIs(5));
  for (size_t i = 0; i < got.checkpoints.size(); ++i) {
    // Each checkpoint follows exactly the events it promises.
    EXPECT_EQ(got.checkpoints[i].position, 100 * (i + 1));
    EXPECT_EQ(got.checkpoints[i].events_before, 100 * (i + 1));
  }
  ASSERT_OK_AND_ASSIGN(std::vector<v1::Event> log, ReadWholeLog(stub()));
  ASSERT_THAT(log, SizeIs(500));
  for (size_t i = 0; i < log.size(); ++i) {
    ASSERT_TRUE(MessageDifferencer::Equals(got.events[i], log[i])) << i;
  }
  ASSERT_OK(Append(stub(), OrgStream(org), {OrgUpdated(org, "live 1"), OrgUpdated(org, "live 2")}));
  ASSERT_OK(ReadUntil(sub, &got, HasEventAt(502), kWait));
  ExpectContiguous(got, 1, 502);

  v1::SubscribeRequest too_big = FromStart();
  too_big.set_max_batch_events(1001);
  EXPECT_THAT(SubscribeError(server().Channel(), too_big, kWait),
              StatusIsWithAnyOf(absl::StatusCode::kInvalidArgument,
                                std::vector<std::string>{"max_batch_events"}));
}

// A subscriber usually has a connection of its own, on which nothing else
// happens: the backlog must flow there too (not only on a connection kept
// busy by the test's appends).
TEST_F(SubscribeTest, SubscriberOnItsOwnConnectionGetsBacklogAndLiveEvents) {
  const std::string org = AppendEvents(30);
  for (const v1::SubscribeRequest& request : {FromStart(), AfterPosition(20), FromEnd()}) {
    Subscription sub(server().NewChannel(), request);
    Received got;
    ASSERT_OK(ReadUntil(sub, &got, HasCaughtUp(), kWait)) << request.ShortDebugString();
    const uint64_t from = request.has_after_position() ? request.after_position() + 1
                          : request.from_end()         ? 31
                                                       : 1;
    ExpectContiguous(got, from, 30);
  }
  Subscription sub(server().NewChannel(), FromStart());
  Received got;
  ASSERT_OK(ReadUntil(sub, &got, HasCaughtUp(), kWait));
  ASSERT_OK(Append(stub(), OrgStream(org), {OrgUpdated(org, "live 1"), OrgUpdated(org, "live 2")}));
  ASSERT_OK(ReadUntil(sub, &got, HasEventAt(32), kWait));
  ExpectContiguous(got, 1, 32);
}

TEST_F(SubscribeTest, AfterPositionDeliversOnlyLaterEvents) {
  const std::string org = AppendEvents(30);
  {
    Subscription sub(server().Channel(), AfterPosition(10));
    Received got;
    ASSERT_OK(ReadUntil(sub, &got, HasCaughtUp(), kWait));
    ExpectContiguous(got, 11, 30);
    EXPECT_EQ(got.caught_up[0].position, 30u);
  }
  {
    Subscription sub(server().Channel(), AfterPosition(0));
    Received got;
    ASSERT_OK(ReadUntil(sub, &got, HasCaughtUp(), kWait));
    ExpectContiguous(got, 1, 30);
  }
  {
    // At the end of the log: caught up at once, then live.
    Subscription sub(server().Channel(), AfterPosition(30));
    Received got;
    ASSERT_OK(ReadUntil(sub, &got, HasCaughtUp(), kWait));
    EXPECT_THAT(got.events, IsEmpty());
    EXPECT_EQ(got.caught_up[0].position, 30u);
    ASSERT_OK(Append(stub(), OrgStream(org), {OrgUpdated(org, "live")}));
    ASSERT_OK(ReadUntil(sub, &got, HasEventAt(31), kWait));
    ExpectContiguous(got, 31, 31);
  }
  // Beyond the end of the log.
  EXPECT_THAT(SubscribeError(server().Channel(), AfterPosition(32)),
              StatusIsWithAllOf(absl::StatusCode::kInvalidArgument, Strings{"after_position"}));
}

TEST_F(SubscribeTest, FromEndDeliversOnlyLaterEvents) {
  const std::string org = AppendEvents(30);
  Subscription sub(server().Channel(), FromEnd());
  Received got;
  ASSERT_OK(ReadUntil(sub, &got, HasCaughtUp(), kWait));
  EXPECT_THAT(got.events, IsEmpty());
  EXPECT_EQ(got.caught_up[0].position, 30u);
  ASSERT_OK(Append(stub(), OrgStream(org), {OrgUpdated(org, "a"), OrgUpdated(org, "b")}));
  ASSERT_FALSE(RegisterOrg().empty());  // 33, on another stream
  ASSERT_OK(ReadUntil(sub, &got, HasEventAt(33), kWait));
  ExpectContiguous(got, 31, 33);
}

TEST_F(SubscribeTest, NewNamedSubscriptionWithoutStartStartsFromTheBeginning) {
  AppendEvents(30);
  const std::string name = NewName("named");
  {
    Subscription sub(server().Channel(), Named(name));
    Received got;
    ASSERT_OK(ReadUntil(sub, &got, HasCaughtUp(), kWait));
    ExpectContiguous(got, 1, 30);
  }
  std::optional<v1::NamedSubscription> listed = Listed(name);
  ASSERT_TRUE(listed.has_value()) << name << " is not listed";
  EXPECT_EQ(listed->checkpoint_position(), 0u);
  EXPECT_FALSE(listed->has_filter() && (listed->filter().event_types_size() > 0 ||
                                        listed->filter().stream_prefixes_size() > 0 ||
                                        listed->filter().org_ids_size() > 0));
  EXPECT_TRUE(listed->has_create_time());

  // A new named subscription from_end starts with its checkpoint at the end.
  const std::string at_end = NewName("named-end");
  {
    v1::SubscribeRequest request = FromEnd();
    request.set_subscription_name(at_end);
    Subscription sub(server().Channel(), request);
    Received got;
    ASSERT_OK(ReadUntil(sub, &got, HasCaughtUp(), kWait));
    EXPECT_THAT(got.events, IsEmpty());
  }
  listed = Listed(at_end);
  ASSERT_TRUE(listed.has_value()) << at_end << " is not listed";
  EXPECT_EQ(listed->checkpoint_position(), 30u);
}

TEST_F(SubscribeTest, MalformedSubscribeIsInvalidArgument) {
  AppendEvents(5);
  struct Case {
    std::string what;
    v1::SubscribeRequest request;
    Strings words;  // the message must name one of these
  };
  std::vector<Case> cases;
  cases.push_back({"no start and no name", v1::SubscribeRequest(), {}});
  {
    v1::SubscribeRequest r;
    r.set_from_start(false);
    cases.push_back({"from_start false", r, {"from_start"}});
  }
  {
    v1::SubscribeRequest r;
    r.set_from_end(false);
    cases.push_back({"from_end false", r, {"from_end"}});
  }
  cases.push_back({"after_position beyond the end", AfterPosition(6), {"after_position"}});
  {
    v1::SubscribeRequest r = FromStart();
    r.mutable_filter()->add_event_types("OrganizationRegistered");
    r.mutable_filter()->add_event_types("NoSuchEvent");
    cases.push_back({"unknown event type", r, {"NoSuchEvent"}});
  }
  for (const std::string& name : {std::string("Upper-Case"), std::string("-leading-dash"),
                                  std::string("with space"), std::string(129, 'n')}) {
    v1::SubscribeRequest r = FromStart();
    r.set_subscription_name(name);
    cases.push_back({"subscription name '" + name + "'", r, {"subscription_name"}});
  }
  for (int64_t ms : {0, 999, 3600 * 1000 + 1}) {
    v1::SubscribeRequest r = FromStart();
    r.mutable_heartbeat_interval()->set_seconds(ms / 1000);
    r.mutable_heartbeat_interval()->set_nanos(static_cast<int32_t>((ms % 1000) * 1000000));
    cases.push_back({absl::StrCat("heartbeat_interval ", ms, " ms"), r, {"heartbeat_interval"}});
  }
  for (const Case& c : cases) {
    const absl::Status s = SubscribeError(server().Channel(), c.request);
    if (c.words.empty()) {
      EXPECT_THAT(s, StatusIs(absl::StatusCode::kInvalidArgument)) << c.what;
    } else {
      EXPECT_THAT(s, StatusIsWithAnyOf(absl::StatusCode::kInvalidArgument, c.words)) << c.what;
    }
  }
  // None of the refused named subscriptions was created.
  ASSERT_OK_AND_ASSIGN(std::vector<v1::NamedSubscription> all, ListAllSubscriptions(stub()));
  EXPECT_THAT(all, IsEmpty());
}

// --- The catch-up → live switch ------------------------------------------------------

// Four threads append 20,000 events in appends of 10 while a subscriber
// starts from the start; it must see exactly positions 1..N in order, with
// caught_up somewhere in between.
TEST_F(SubscribeTest, CatchUpToLiveSwitchUnderConcurrentAppendsHasNoGapOrDuplicate) {
  constexpr int kThreads = 4;
  constexpr int kAppendsPerThread = 500;
  constexpr int kEventsPerAppend = 10;
  constexpr uint64_t kTotal = kThreads * (1 + kAppendsPerThread * kEventsPerAppend);

  absl::Mutex mu;
  uint64_t acked = 0;
  Strings failures;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      std::unique_ptr<v1::EventStore::Stub> my_stub = v1::EventStore::NewStub(server().Channel());
      const std::string org = NewOrgId("switch");
      absl::Status s = Append(*my_stub, OrgStream(org), {OrgRegistered(org)}).status();
      for (int i = 0; s.ok() && i <= kAppendsPerThread; ++i) {
        {
          absl::MutexLock lock(&mu);
          acked += i == 0 ? 1 : kEventsPerAppend;
        }
        if (i == kAppendsPerThread) break;
        std::vector<v1::Event> events;
        for (int j = 0; j < kEventsPerAppend; ++j) {
          events.push_back(OrgUpdated(org, absl::StrCat("append ", i, " event ", j)));
        }
        s = Append(*my_stub, OrgStream(org), std::move(events)).status();
      }
      if (!s.ok()) {
        absl::MutexLock lock(&mu);
        failures.push_back(s.ToString());
      }
    });
  }
  // Subscribe once a tenth of the events is in, while the rest is appended.
  {
    absl::MutexLock lock(&mu);
    const auto enough = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
      return acked >= kTotal / 10 || !failures.empty();
    };
    EXPECT_TRUE(mu.AwaitWithTimeout(absl::Condition(&enough), absl::Seconds(60)));
  }
  uint64_t acked_at_subscribe;
  {
    absl::MutexLock lock(&mu);
    acked_at_subscribe = acked;
  }
  Subscription sub(server().Channel(), FromStart());
  Received got;
  const absl::Status read = ReadUntil(sub, &got, HasEvents(kTotal), absl::Seconds(120));
  for (std::thread& th : threads) th.join();
  ASSERT_THAT(failures, IsEmpty());
  ASSERT_OK(read);
  ExpectContiguous(got, 1, kTotal);
  ASSERT_THAT(got.caught_up, testing::Not(IsEmpty())) << Summary(got);
  std::cout << "catch-up/live: subscribed with " << acked_at_subscribe
            << " events acked; first caught_up at " << got.caught_up[0].position << " after "
            << got.caught_up[0].events_before << " events; " << got.caught_up.size()
            << " caught_up, " << got.fell_behind.size() << " fell_behind, "
            << got.checkpoints.size() << " checkpoints" << std::endl;
  // The caught_up came while appends were still running (else the test did
  // not exercise the switch; not a server fault, so only reported).
  if (got.caught_up[0].position >= kTotal) {
    std::cout << "note: the subscriber caught up only after all appends" << std::endl;
  }
}

// --- Filters -------------------------------------------------------------------------

TEST_F(SubscribeTest, FilteredSubscriptionsDeliverExactlyTheMatchingEventsAndCheckpoints) {
  const std::string a = RegisterOrg("alpha");
  const std::string b = RegisterOrg("beta");
  const std::string c = RegisterOrg("gamma");
  const std::string quiet = RegisterOrg("quiet");
  // Appends one round of events: updates of a and c, some of b, and one
  // partnership per call.
  int round = 0;
  const auto append_round = [&](int updates) {
    ++round;
    for (int i = 0; i < updates; ++i) {
      ASSERT_OK(Append(stub(), OrgStream(a), {OrgUpdated(a, absl::StrCat(round, "a", i))}));
      ASSERT_OK(Append(stub(), OrgStream(c), {OrgUpdated(c, absl::StrCat(round, "c", i)),
                                              OrgUpdated(c, absl::StrCat(round, "c'", i))}));
      if (i % 7 == 3) {
        ASSERT_OK(Append(stub(), OrgStream(b), {OrgUpdated(b, absl::StrCat(round, "b", i))}));
      }
    }
    const std::string ab = NewName("ab");
    const std::string bc = NewName("bc");
    ASSERT_OK(Append(stub(), "partnership/" + ab, {PartnershipFormed(ab, a, b)}));
    ASSERT_OK(Append(stub(), "partnership/" + bc, {PartnershipFormed(bc, b, c)}));
  };
  append_round(40);  // the backlog

  std::vector<std::pair<std::string, v1::SubscriptionFilter>> filters;
  {
    v1::SubscriptionFilter f;
    f.add_event_types("PartnershipFormed");
    filters.emplace_back("event_types [PartnershipFormed]", f);
  }
  {
    v1::SubscriptionFilter f;
    f.add_event_types("OrganizationRegistered");
    f.add_event_types("PartnershipFormed");
    filters.emplace_back("event_types [OrganizationRegistered, PartnershipFormed]", f);
  }
  {
    v1::SubscriptionFilter f;
    f.add_stream_prefixes(OrgStream(b));
    f.add_stream_prefixes("partnership/");
    filters.emplace_back("stream_prefixes [org/<b>, partnership/]", f);
  }
  {
    v1::SubscriptionFilter f;
    f.add_org_ids(a);
    filters.emplace_back("org_ids [a]", f);
  }
  {
    v1::SubscriptionFilter f;
    f.add_org_ids(b);
    f.add_event_types("OrganizationUpdated");
    filters.emplace_back("org_ids [b] AND event_types [OrganizationUpdated]", f);
  }
  std::vector<std::unique_ptr<Subscription>> subs;
  std::vector<Received> got(filters.size());
  for (const auto& [name, filter] : filters) {
    v1::SubscribeRequest request = FromStart();
    *request.mutable_filter() = filter;
    request.set_checkpoint_interval(10);
    subs.push_back(std::make_unique<Subscription>(server().Channel(), request));
  }
  for (size_t i = 0; i < subs.size(); ++i) {
    ASSERT_OK(ReadUntil(*subs[i], &got[i], HasCaughtUp(), kWait)) << filters[i].first;
  }
  const uint64_t backlog_end = LogEnd();

  append_round(10);  // live
  // End with 20 events no filter matches, so a checkpoint must reach past
  // the last matching event.
  for (int i = 0; i < 20; ++i) ASSERT_OK(Append(stub(), OrgStream(quiet), {OrgUpdated(quiet, "q")}));
  const uint64_t end = LogEnd();

  ASSERT_OK_AND_ASSIGN(const std::vector<v1::Event> log, ReadWholeLog(stub()));
  ASSERT_THAT(log, SizeIs(end));
  for (size_t i = 0; i < subs.size(); ++i) {
    const std::string& name = filters[i].first;
    ASSERT_OK(ReadUntil(*subs[i], &got[i], HasCheckpointAtLeast(end - 9), kWait)) << name;
    std::vector<uint64_t> want;
    for (const v1::Event& e : log) {
      if (Matches(filters[i].second, e)) want.push_back(e.position());
    }
    ASSERT_THAT(want, testing::Not(IsEmpty())) << name;
    EXPECT_THAT(got[i].violations, IsEmpty()) << name << ": " << Summary(got[i]);
    EXPECT_THAT(PositionsOf(got[i].events), ElementsAreArray(want)) << name;
    // Checkpoints come although few events match: during catch-up (about
    // one per 10 examined events) and live.
    size_t catch_up_checkpoints = 0;
    size_t live_checkpoints = 0;
    for (const Marker& m : got[i].checkpoints) {
      (m.position <= backlog_end ? catch_up_checkpoints : live_checkpoints)++;
    }
    EXPECT_GE(catch_up_checkpoints, backlog_end / 10 / 2) << name << ": " << Summary(got[i]);
    EXPECT_GE(live_checkpoints, (end - backlog_end) / 10 / 2) << name << ": " << Summary(got[i]);
  }
}

// --- Heartbeats ----------------------------------------------------------------------

TEST_F(SubscribeTest, HeartbeatArrivesOnIdleSubscription) {
  AppendEvents(3);
  v1::SubscribeRequest request = FromEnd();
  request.mutable_heartbeat_interval()->set_seconds(1);
  Subscription sub(server().Channel(), request);
  Received got;
  ASSERT_OK(ReadUntil(sub, &got, HasHeartbeat(), absl::Seconds(10)));
  EXPECT_THAT(got.violations, IsEmpty());
  EXPECT_EQ(got.heartbeats[0].last_position(), 3u);
  EXPECT_GT(got.heartbeats[0].server_time().seconds(), 0);
  // They keep coming while idle, and report the new end.
  ASSERT_FALSE(RegisterOrg().empty());  // 4
  ASSERT_OK(ReadUntil(sub, &got, HasEventAt(4), absl::Seconds(10)));
  const size_t before = got.heartbeats.size();
  ASSERT_OK(ReadUntil(
      sub, &got, [before](const Received& r) { return r.heartbeats.size() > before; },
      absl::Seconds(10)));
  EXPECT_EQ(got.heartbeats.back().last_position(), 4u);
}

// --- Durable named subscriptions ---------------------------------------------------------

TEST_F(SubscribeTest, NamedSubscriptionResumesRightAfterItsCheckpoint) {
  AppendEvents(30);
  const std::string name = NewName("durable");
  {
    Subscription sub(server().Channel(), Named(name));
    Received got;
    ASSERT_OK(ReadUntil(sub, &got, HasCaughtUp(), kWait));
    ExpectContiguous(got, 1, 30);
    ASSERT_OK_AND_ASSIGN(v1::CommitCheckpointResponse committed,
                         CommitCheckpoint(stub(), name, 17));
    EXPECT_EQ(committed.subscription().name(), name);
    EXPECT_EQ(committed.subscription().checkpoint_position(), 17u);
    EXPECT_TRUE(committed.subscription().has_update_time());
  }  // disconnect
  {
    Subscription sub(server().Channel(), Named(name));
    Received got;
    ASSERT_OK(ReadUntil(sub, &got, HasCaughtUp(), kWait));
    ExpectContiguous(got, 18, 30);
    // A second call under the same name at once gets every event as well.
    Subscription twin(server().Channel(), Named(name));
    Received twin_got;
    ASSERT_OK(ReadUntil(twin, &twin_got, HasCaughtUp(), kWait));
    ExpectContiguous(twin_got, 18, 30);
    // Committing is idempotent, and may move backwards.
    ASSERT_OK(CommitCheckpoint(stub(), name, 17));
    ASSERT_OK(CommitCheckpoint(stub(), name, 5));
  }
  {
    Subscription sub(server().Channel(), Named(name));
    Received got;
    ASSERT_OK(ReadUntil(sub, &got, HasCaughtUp(), kWait));
    ExpectContiguous(got, 6, 30);
  }
  // At the end of the log, and to 0 (from the start).
  ASSERT_OK(CommitCheckpoint(stub(), name, 30));
  {
    Subscription sub(server().Channel(), Named(name));
    Received got;
    ASSERT_OK(ReadUntil(sub, &got, HasCaughtUp(), kWait));
    EXPECT_THAT(got.events, IsEmpty());
  }
  ASSERT_OK(CommitCheckpoint(stub(), name, 0));
  {
    Subscription sub(server().Channel(), Named(name));
    Received got;
    ASSERT_OK(ReadUntil(sub, &got, HasCaughtUp(), kWait));
    ExpectContiguous(got, 1, 30);
  }
  // Beyond the end of the log; a malformed name; an unknown name.
  EXPECT_THAT(CommitCheckpoint(stub(), name, 31),
              StatusIsWithAllOf(absl::StatusCode::kInvalidArgument, Strings{"position"}));
  EXPECT_THAT(CommitCheckpoint(stub(), "Bad Name", 1),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(CommitCheckpoint(stub(), NewName("unknown"), 1),
              StatusIs(absl::StatusCode::kNotFound));
  std::optional<v1::NamedSubscription> listed = Listed(name);
  ASSERT_TRUE(listed.has_value());
  EXPECT_EQ(listed->checkpoint_position(), 0u);
}

TEST_F(SubscribeTest, FilteredNamedSubscriptionResumesAtNextMatchingEventAndKeepsItsFilter) {
  // Positions 1..10: org a (registered, 9 updates); 11..20: org b likewise.
  const std::string a = AppendEvents(10);
  const std::string b = AppendEvents(10);
  const std::string name = NewName("filtered");
  v1::SubscribeRequest create = Named(name);
  create.mutable_filter()->add_event_types("OrganizationRegistered");
  create.mutable_filter()->add_event_types("PartnershipFormed");
  {
    Subscription sub(server().Channel(), create);
    Received got;
    ASSERT_OK(ReadUntil(sub, &got, HasCaughtUp(), kWait));
    EXPECT_THAT(PositionsOf(got.events), ElementsAreArray({1u, 11u}));
  }
  ASSERT_OK(CommitCheckpoint(stub(), name, 1));
  // The next matching event after 1 is 11.
  {
    Subscription sub(server().Channel(), Named(name));  // no filter: the stored one applies
    Received got;
    ASSERT_OK(ReadUntil(sub, &got, HasCaughtUp(), kWait));
    EXPECT_THAT(got.violations, IsEmpty());
    EXPECT_THAT(PositionsOf(got.events), ElementsAreArray({11u}));
    // Live: only matching events.
    const std::string p = NewName("p");
    ASSERT_OK(Append(stub(), OrgStream(a), {OrgUpdated(a, "not matching")}));
    ASSERT_OK(Append(stub(), "partnership/" + p, {PartnershipFormed(p, a, b)}));  // 22
    ASSERT_OK(ReadUntil(sub, &got, HasEventAt(22), kWait));
    EXPECT_THAT(PositionsOf(got.events), ElementsAreArray({11u, 22u}));
  }
  // The same filter in another order is accepted.
  {
    v1::SubscribeRequest same = Named(name);
    same.mutable_filter()->add_event_types("PartnershipFormed");
    same.mutable_filter()->add_event_types("OrganizationRegistered");
    Subscription sub(server().Channel(), same);
    Received got;
    ASSERT_OK(ReadUntil(sub, &got, HasCaughtUp(), kWait));
    EXPECT_THAT(PositionsOf(got.events), ElementsAreArray({11u, 22u}));
  }
  // Another filter is refused.
  for (int variant = 0; variant < 3; ++variant) {
    v1::SubscribeRequest other = Named(name);
    if (variant == 0) other.mutable_filter()->add_event_types("OrganizationRegistered");
    if (variant == 1) {
      *other.mutable_filter() = create.filter();
      other.mutable_filter()->add_org_ids(a);
    }
    if (variant == 2) {
      *other.mutable_filter() = create.filter();
      other.mutable_filter()->add_stream_prefixes("org/");
    }
    EXPECT_THAT(SubscribeError(server().Channel(), other),
                StatusIs(absl::StatusCode::kFailedPrecondition))
        << other.filter().ShortDebugString();
  }
  std::optional<v1::NamedSubscription> listed = Listed(name);
  ASSERT_TRUE(listed.has_value());
  EXPECT_EQ(listed->checkpoint_position(), 1u);
  EXPECT_THAT(listed->filter().event_types(),
              testing::UnorderedElementsAre("OrganizationRegistered", "PartnershipFormed"));
}

TEST_F(SubscribeTest, NamedSubscriptionSurvivesServerRestart) {
  const std::string a = AppendEvents(20);
  const std::string plain = NewName("plain");
  const std::string filtered = NewName("filtered");
  v1::SubscribeRequest filtered_request = Named(filtered);
  filtered_request.mutable_filter()->add_org_ids(a);
  {
    Subscription s1(server().Channel(), Named(plain));
    Subscription s2(server().Channel(), filtered_request);
    Received g1, g2;
    ASSERT_OK(ReadUntil(s1, &g1, HasCaughtUp(), kWait));
    ASSERT_OK(ReadUntil(s2, &g2, HasCaughtUp(), kWait));
  }
  AppendEvents(10);  // 21..30, not naming a
  ASSERT_OK(CommitCheckpoint(stub(), plain, 13));
  ASSERT_OK(CommitCheckpoint(stub(), filtered, 19));

  StopServer();
  StartServer();
  ASSERT_NE(server_, nullptr);

  ASSERT_OK_AND_ASSIGN(std::vector<v1::NamedSubscription> all, ListAllSubscriptions(stub()));
  ASSERT_THAT(all, SizeIs(2));
  for (const v1::NamedSubscription& s : all) {
    if (s.name() == plain) {
      EXPECT_EQ(s.checkpoint_position(), 13u);
    } else {
      EXPECT_EQ(s.name(), filtered);
      EXPECT_EQ(s.checkpoint_position(), 19u);
      EXPECT_THAT(s.filter().org_ids(), ElementsAreArray({a}));
    }
  }
  const uint64_t a_next = 31;  // the next event naming a, appended below
  {
    Subscription s1(server().Channel(), Named(plain));
    Received g1;
    ASSERT_OK(ReadUntil(s1, &g1, HasCaughtUp(), kWait));
    ExpectContiguous(g1, 14, 30);
    Subscription s2(server().Channel(), Named(filtered));
    Received g2;
    ASSERT_OK(ReadUntil(s2, &g2, HasCaughtUp(), kWait));
    EXPECT_THAT(PositionsOf(g2.events), ElementsAreArray({20u}));
    // New events get the next positions after the restart.
    ASSERT_OK_AND_ASSIGN(v1::AppendResponse r,
                         Append(stub(), OrgStream(a), {OrgUpdated(a, "after restart")}));
    EXPECT_EQ(r.first_position(), a_next);
    ASSERT_OK(ReadUntil(s2, &g2, HasEventAt(a_next), kWait));
    ASSERT_OK(ReadUntil(s1, &g1, HasEventAt(a_next), kWait));
    EXPECT_THAT(PositionsOf(g2.events), testing::ElementsAre(20u, a_next));
    ExpectContiguous(g1, 14, a_next);
  }
}

TEST_F(SubscribeTest, ListAndDeleteSubscriptions) {
  AppendEvents(10);
  const Strings names = {"list-c", "list-a", "list-e", "list-b", "list-d"};
  for (const std::string& name : names) {
    Subscription sub(server().Channel(), Named(name));
    Received got;
    ASSERT_OK(ReadUntil(sub, &got, HasCaughtUp(), kWait));
  }
  // Ordered by name, paged.
  ASSERT_OK_AND_ASSIGN(std::vector<v1::NamedSubscription> all, ListAllSubscriptions(stub(), 2));
  Strings listed;
  for (const v1::NamedSubscription& s : all) {
    listed.push_back(s.name());
    EXPECT_TRUE(s.has_create_time()) << s.name();
    EXPECT_TRUE(s.has_update_time()) << s.name();
  }
  EXPECT_THAT(listed, testing::ElementsAre("list-a", "list-b", "list-c", "list-d", "list-e"));
  {
    grpc::ClientContext ctx;
    SetTimeout(&ctx, kCallTimeout);
    v1::ListSubscriptionsRequest request;
    request.set_page_size(2);
    v1::ListSubscriptionsResponse page;
    ASSERT_OK(ToAbsl(stub().ListSubscriptions(&ctx, request, &page)));
    EXPECT_EQ(page.subscriptions_size(), 2);
    EXPECT_FALSE(page.next_page_token().empty());
  }
  {
    grpc::ClientContext ctx;
    SetTimeout(&ctx, kCallTimeout);
    v1::ListSubscriptionsRequest request;
    request.set_page_size(-1);
    v1::ListSubscriptionsResponse page;
    EXPECT_THAT(ToAbsl(stub().ListSubscriptions(&ctx, request, &page)),
                StatusIs(absl::StatusCode::kInvalidArgument));
  }

  // A running call under a deleted name ends with FAILED_PRECONDITION.
  Subscription running(server().Channel(), Named("list-b"));
  Received got;
  ASSERT_OK(ReadUntil(running, &got, HasCaughtUp(), kWait));
  ASSERT_OK(DeleteSubscription(stub(), "list-b"));
  std::optional<absl::Status> end = running.WaitForEnd(kWait);
  ASSERT_TRUE(end.has_value()) << "the call under the deleted name still runs";
  EXPECT_THAT(*end, StatusIs(absl::StatusCode::kFailedPrecondition));

  EXPECT_THAT(DeleteSubscription(stub(), "list-b"), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(CommitCheckpoint(stub(), "list-b", 1), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(DeleteSubscription(stub(), "never-created"), StatusIs(absl::StatusCode::kNotFound));
  ASSERT_OK_AND_ASSIGN(all, ListAllSubscriptions(stub()));
  listed.clear();
  for (const v1::NamedSubscription& s : all) listed.push_back(s.name());
  EXPECT_THAT(listed, testing::ElementsAre("list-a", "list-c", "list-d", "list-e"));

  // The name can be used again: a new subscription from the start.
  ASSERT_OK(CommitCheckpoint(stub(), "list-c", 7));
  {
    Subscription again(server().Channel(), Named("list-b"));
    Received again_got;
    ASSERT_OK(ReadUntil(again, &again_got, HasCaughtUp(), kWait));
    ExpectContiguous(again_got, 1, 10);
  }
  std::optional<v1::NamedSubscription> c = Listed("list-c");
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->checkpoint_position(), 7u);
}

// --- Deadlines -----------------------------------------------------------------------

// A short client deadline ends a Subscribe (caught up, waiting for live
// events) with DEADLINE_EXCEEDED instead of hanging, and the server lets go
// of such calls: it still serves, and the graceful stop after the test
// completes (TearDown).
TEST_F(SubscribeTest, ShortClientDeadlineEndsSubscribeAndReadWithDeadlineExceeded) {
  const std::string org = AppendEvents(2000);
  // 20 calls at once, a quarter of them named.
  std::vector<std::unique_ptr<Subscription>> subs;
  for (int i = 0; i < 20; ++i) {
    v1::SubscribeRequest request = i % 2 == 0 ? FromEnd() : FromStart();
    if (i % 4 == 1) request.set_subscription_name(NewName("deadline"));
    subs.push_back(
        std::make_unique<Subscription>(server().Channel(), request, absl::Milliseconds(300)));
  }
  for (size_t i = 0; i < subs.size(); ++i) {
    std::optional<absl::Status> end = subs[i]->WaitForEnd(absl::Seconds(15));
    ASSERT_TRUE(end.has_value()) << "Subscribe with a 300 ms deadline still runs after 15 s";
    EXPECT_THAT(*end, StatusIs(absl::StatusCode::kDeadlineExceeded)) << "call " << i;
  }
  subs.clear();
  // Reads with deadlines too short to finish: DEADLINE_EXCEEDED (or done in
  // time), never another code, never a hang.
  const std::string stream = OrgStream(org);
  for (int i = 0; i < 20; ++i) {
    const absl::Duration deadline = absl::Microseconds(100 + 100 * i);
    v1::ReadAllRequest request;
    request.set_page_size(1000);
    request.mutable_filter()->add_event_types("OrganizationUpdated");
    absl::StatusOr<v1::ReadAllResponse> all = ReadAll(stub(), request, deadline);
    if (!all.ok()) {
      EXPECT_THAT(all, StatusIs(absl::StatusCode::kDeadlineExceeded));
    }
    v1::ReadStreamRequest stream_request;
    stream_request.set_stream(stream);
    stream_request.set_page_size(1000);
    absl::StatusOr<v1::ReadStreamResponse> one = ReadStream(stub(), stream_request, deadline);
    if (!one.ok()) {
      EXPECT_THAT(one, StatusIs(absl::StatusCode::kDeadlineExceeded));
    }
  }
  // The server still serves.
  ASSERT_OK_AND_ASSIGN(std::vector<v1::Event> log, ReadWholeLog(stub()));
  EXPECT_THAT(log, SizeIs(2000));
  Subscription sub(server().Channel(), FromStart());
  Received got;
  ASSERT_OK(ReadUntil(sub, &got, HasCaughtUp(), kWait));
  ExpectContiguous(got, 1, 2000);
}

}  // namespace
}  // namespace dealwire::integration
