// Tests of the transport-free subscription core (services/subscription.h,
// services/live_tail.h) over a real event log in a temporary directory.
#include "services/subscription.h"

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <atomic>
#include <cstdint>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "domain/codec.h"
#include "domain/decider.h"
#include "domain/proposal.h"
#include "tests/common/eventually.h"
#include "tests/common/status_matchers.h"

namespace dealwire::services {
namespace {

namespace v1 = dealwire::v1;
namespace fs = std::filesystem;
using ::dealwire::test_util::StatusIs;
using ::dealwire::test_util::StatusIsWith;

// Waits (up to 30 s) until `tail` holds `position`, woken by its watcher.
bool WaitForTail(LiveTail& tail, uint64_t position) {
  std::mutex mu;
  std::condition_variable cv;
  bool woken = false;
  const uint64_t id = tail.Watch([&] {
    std::lock_guard l(mu);
    woken = true;
    cv.notify_all();
  });
  if (tail.Arm(id, position)) {
    std::unique_lock l(mu);
    cv.wait_for(l, std::chrono::seconds(30), [&] { return woken; });
  }
  tail.Unwatch(id);
  return tail.last_position() >= position;
}

// The tail's entries from `from` on (at most `max`) into `out`.
LiveTail::ReadResult ReadTail(const LiveTail& tail, uint64_t from, size_t max,
                              std::vector<std::shared_ptr<const TailEntry>>* out) {
  return tail.Visit(from, max, [&](const std::shared_ptr<const TailEntry>& e) {
    out->push_back(e);
    return true;
  });
}

// A valid OrganizationRegistered (or, with `update`, OrganizationUpdated)
// for `org`, with event id number `n`.
v1::Event OrgEvent(const std::string& org, int n, bool update) {
  v1::Event e;
  e.set_event_id(absl::StrFormat("00000000-0000-4000-9000-%012d", n));
  e.mutable_effective()->mutable_date()->set_year(2026);
  e.mutable_effective()->set_precision(v1::DATE_PRECISION_YEAR);
  e.set_confidence(v1::CONFIDENCE_REPORTED);
  if (update) {
    auto* p = e.mutable_payload()->mutable_organization_updated();
    p->set_org_id(org);
    p->set_description(absl::StrCat("update ", n));
  } else {
    auto* p = e.mutable_payload()->mutable_organization_registered();
    p->set_org_id(org);
    p->set_name(org);
    p->set_kind(v1::ORGANIZATION_KIND_COMPANY);
  }
  return e;
}

class SubscriptionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::path(::testing::TempDir()) /
           absl::StrCat("subscription_test_", ::testing::UnitTest::GetInstance()->current_test_info()->name(),
                        "_", getpid());
    fs::remove_all(dir_);
    store::Options options;
    options.decider = std::make_shared<domain::DomainDecider>();
    absl::StatusOr<std::unique_ptr<store::EventLog>> log =
        store::OpenEventLog(dir_.string(), std::move(options));
    ASSERT_OK(log);
    log_ = *std::move(log);
  }
  void TearDown() override {
    log_.reset();
    fs::remove_all(dir_);
  }

  // Appends an OrganizationRegistered for `org` (on stream org/<org>; an
  // OrganizationUpdated when it is registered already), or with a
  // `partner`, a PartnershipFormed between the two (both registered first).
  void Append(const std::string& org, const std::string& partner = "") {
    v1::Event e;
    e.set_event_id(absl::StrFormat("00000000-0000-4000-8000-%012d", ++counter_));
    e.mutable_effective()->mutable_date()->set_year(2026);
    e.mutable_effective()->set_precision(v1::DATE_PRECISION_YEAR);
    e.set_confidence(v1::CONFIDENCE_REPORTED);
    std::string stream = absl::StrCat("org/", org);
    if (partner.empty() && registered_.contains(org)) {
      auto* p = e.mutable_payload()->mutable_organization_updated();
      p->set_org_id(org);
      p->set_description(absl::StrCat("update ", counter_));
    } else if (partner.empty()) {
      auto* p = e.mutable_payload()->mutable_organization_registered();
      p->set_org_id(org);
      p->set_name(org);
      p->set_kind(v1::ORGANIZATION_KIND_COMPANY);
      registered_.insert(org);
    } else {
      auto* p = e.mutable_payload()->mutable_partnership_formed();
      p->set_partnership_id(absl::StrCat(org, "-", partner));
      v1::PartnershipParty* provider = p->add_parties();
      provider->set_org_id(org);
      provider->set_role(v1::PARTNERSHIP_ROLE_CLOUD_PROVIDER);
      v1::PartnershipParty* customer = p->add_parties();
      customer->set_org_id(partner);
      customer->set_role(v1::PARTNERSHIP_ROLE_CUSTOMER);
      stream = absl::StrCat("partnership/", org, "-", partner);
    }
    ASSERT_OK(log_->Propose(stream, store::ExpectedVersion::Any(),
                            domain::EventsProposal::Own({e}, "test")));
  }

  // Runs the cursor until it reports caught_up (bounded), returning what it
  // produced as short strings: "e<position>", "c<position>" (checkpoint),
  // "u<position>" (caught_up), "f<position>" (fell_behind).
  std::vector<std::string> Drain(SubscriptionCursor& cursor) {
    std::vector<std::string> out;
    for (int step = 0; step < 10000; ++step) {
      std::deque<SubscriptionCursor::Message> messages;
      EXPECT_OK(cursor.Next(&messages));
      bool caught_up = false;
      for (const auto& bytes : messages) {
        v1::SubscribeResponse m;
        EXPECT_TRUE(m.ParseFromString(*bytes));
        switch (m.message_case()) {
          case v1::SubscribeResponse::kEvent:
            out.push_back(absl::StrCat("e", m.event().position()));
            break;
          case v1::SubscribeResponse::kCheckpoint:
            out.push_back(absl::StrCat("c", m.checkpoint().position()));
            break;
          case v1::SubscribeResponse::kCaughtUp:
            out.push_back(absl::StrCat("u", m.caught_up().position()));
            caught_up = true;
            break;
          case v1::SubscribeResponse::kFellBehind:
            out.push_back(absl::StrCat("f", m.fell_behind().position()));
            break;
          default:
            out.push_back("?");
        }
      }
      if (caught_up) break;
    }
    return out;
  }

  EventFilter Filter(std::vector<std::string> types, std::vector<std::string> prefixes,
                     std::vector<std::string> orgs) {
    v1::SubscriptionFilter f;
    for (auto& t : types) f.add_event_types(t);
    for (auto& p : prefixes) f.add_stream_prefixes(p);
    for (auto& o : orgs) f.add_org_ids(o);
    absl::StatusOr<EventFilter> filter = EventFilter::FromProto(f, "filter");
    EXPECT_OK(filter);
    return *filter;
  }

  fs::path dir_;
  std::unique_ptr<store::EventLog> log_;
  int counter_ = 0;
  std::set<std::string> registered_;
};

TEST_F(SubscriptionTest, FilterMatchesEveryNonEmptyList) {
  const std::vector<std::string> tags = {"org/amazon", "org/openai"};
  EXPECT_TRUE(Filter({}, {}, {}).Matches("InvestmentReported", "deal/x", tags));
  EXPECT_TRUE(Filter({"InvestmentReported"}, {}, {}).Matches("InvestmentReported", "deal/x", tags));
  EXPECT_FALSE(Filter({"StakeDisclosed"}, {}, {}).Matches("InvestmentReported", "deal/x", tags));
  EXPECT_TRUE(Filter({}, {"org/", "deal/"}, {}).Matches("InvestmentReported", "deal/x", tags));
  EXPECT_FALSE(Filter({}, {"org/"}, {}).Matches("InvestmentReported", "deal/x", tags));
  EXPECT_TRUE(Filter({}, {}, {"openai"}).Matches("InvestmentReported", "deal/x", tags));
  EXPECT_FALSE(Filter({}, {}, {"anthropic"}).Matches("InvestmentReported", "deal/x", tags));
  // Lists combine with AND.
  EXPECT_FALSE(Filter({"InvestmentReported"}, {}, {"anthropic"})
                   .Matches("InvestmentReported", "deal/x", tags));
}

// Short lists are compared, long ones hashed: both match the same.
TEST(NameSetTest, MatchesTheSameShortAndLong) {
  for (int n : {1, 8, 9, 40}) {
    NameSet set;
    for (int i = 0; i < n; ++i) set.Insert(absl::StrCat("org/o", i));
    set.Insert("org/o0");  // a repeat changes nothing
    for (int i = 0; i < n; ++i) EXPECT_TRUE(set.Contains(absl::StrCat("org/o", i))) << n << " " << i;
    EXPECT_FALSE(set.Contains(absl::StrCat("org/o", n))) << n;
    EXPECT_FALSE(set.Contains("org/o")) << n;
  }
  EXPECT_TRUE(NameSet().empty());
}

TEST_F(SubscriptionTest, FilterRefusesUnknownTypesAndBadIds) {
  v1::SubscriptionFilter f;
  f.add_event_types("InvestmentReportd");
  EXPECT_THAT(EventFilter::FromProto(f, "filter"),
              StatusIsWith(absl::StatusCode::kInvalidArgument, "filter.event_types[0]"));
  f.Clear();
  f.add_org_ids("Open AI");
  EXPECT_THAT(EventFilter::FromProto(f, "filter"),
              StatusIsWith(absl::StatusCode::kInvalidArgument, "filter.org_ids[0]"));
  f.Clear();
  f.add_org_ids("openai");
  f.add_org_ids("openai");
  EXPECT_THAT(EventFilter::FromProto(f, "filter"),
              StatusIsWith(absl::StatusCode::kInvalidArgument, "filter.org_ids"));
  f.Clear();
  for (int i = 0; i < 101; ++i) f.add_stream_prefixes(absl::StrCat("p", i));
  EXPECT_THAT(EventFilter::FromProto(f, "filter"),
              StatusIsWith(absl::StatusCode::kInvalidArgument, "limit of 100"));
  f.Clear();
  f.add_stream_prefixes("");
  EXPECT_THAT(EventFilter::FromProto(f, "filter"),
              StatusIsWith(absl::StatusCode::kInvalidArgument, "filter.stream_prefixes[0]"));
}

TEST_F(SubscriptionTest, CatchUpThenLiveWithoutGapOrDuplicate) {
  for (int i = 0; i < 5; ++i) Append(absl::StrCat("org", i));
  LiveTail tail(log_.get(), 1000, 64 << 20);
  tail.Start();
  tail.Watch([] {});  // a subscriber is listening, as in the server
  SubscriptionCursor cursor(log_.get(), &tail, 1, EventFilter(), 1000);
  EXPECT_THAT(Drain(cursor), ::testing::ElementsAre("e1", "e2", "e3", "e4", "e5", "u5"));
  // At the end, nothing more until something commits.
  std::deque<SubscriptionCursor::Message> none;
  ASSERT_OK(cursor.Next(&none));
  EXPECT_TRUE(none.empty());
  Append("late");
  // The tail picks the commit up on its own thread; wait for it.
  ASSERT_TRUE(WaitForTail(tail, 6));
  std::deque<SubscriptionCursor::Message> live;
  ASSERT_OK(cursor.Next(&live));
  ASSERT_EQ(live.size(), 1u);
  v1::SubscribeResponse m;
  ASSERT_TRUE(m.ParseFromString(*live[0]));
  EXPECT_EQ(m.event().position(), 6u);
  EXPECT_EQ(m.event().payload().organization_registered().org_id(), "late");
  tail.Stop();
}

TEST_F(SubscriptionTest, FilteredCursorSendsCheckpointsForUnmatchedEvents) {
  for (int i = 0; i < 10; ++i) Append(absl::StrCat("org", i));
  Append("org3", "org7");  // position 11
  LiveTail tail(log_.get(), 1000, 64 << 20);
  tail.Start();
  tail.Watch([] {});  // a subscriber is listening, as in the server
  SubscriptionCursor cursor(log_.get(), &tail, 1, Filter({}, {}, {"org7"}), 4);
  EXPECT_THAT(Drain(cursor), ::testing::ElementsAre("c4", "e8", "c8", "e11", "u11"));
  tail.Stop();
}

TEST_F(SubscriptionTest, ALiveCursorPassedByTheTailFallsBehindAndContinuesFromTheLog) {
  Append("a");
  LiveTail tail(log_.get(), 3, 64 << 20);  // a tiny live window
  tail.Start();
  tail.Watch([] {});  // a subscriber is listening, as in the server
  SubscriptionCursor cursor(log_.get(), &tail, 1, EventFilter(), 1000);
  EXPECT_THAT(Drain(cursor), ::testing::ElementsAre("e1", "u1"));
  for (int i = 0; i < 10; ++i) Append(absl::StrCat("b", i));
  ASSERT_TRUE(WaitForTail(tail, 11));
  EXPECT_THAT(Drain(cursor), ::testing::ElementsAre("f1", "e2", "e3", "e4", "e5", "e6", "e7", "e8",
                                                    "e9", "e10", "e11", "u11"));
  tail.Stop();
}

TEST_F(SubscriptionTest, TheLiveWindowIsBoundedInBytes) {
  Append("a");
  // Room for about two of these events' messages, whatever the count limit.
  LiveTail tail(log_.get(), 1000, 1200);
  tail.Start();
  tail.Watch([] {});  // a subscriber is listening, as in the server
  for (int i = 0; i < 20; ++i) Append(absl::StrCat("b", i));
  ASSERT_TRUE(WaitForTail(tail, 21));
  std::vector<std::shared_ptr<const TailEntry>> entries;
  EXPECT_EQ(ReadTail(tail, 2, 100, &entries), LiveTail::ReadResult::kEvicted);
  entries.clear();
  ASSERT_EQ(ReadTail(tail, 21, 100, &entries), LiveTail::ReadResult::kOk);
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0]->position, 21u);
  tail.Stop();
}

// The log hands its listeners exactly the committed events, as a read
// returns them, contiguous and in order, also when appends run concurrently,
// some are refused and some repeat written ones; the tail's messages are
// those events' messages byte for byte.
TEST_F(SubscriptionTest, EventsListenersGetExactlyTheCommittedEvents) {
  std::mutex mu;
  std::vector<store::RecordedEvent> handed;
  bool contiguous = true;
  const uint64_t listener =
      log_->AddEventsListener([&](std::shared_ptr<const std::vector<store::RecordedEvent>> batch) {
        std::lock_guard l(mu);
        for (const store::RecordedEvent& r : *batch) {
          if (!handed.empty() && r.position.value() != handed.back().position.value() + 1) {
            contiguous = false;
          }
          handed.push_back(r);
        }
      });
  LiveTail tail(log_.get(), 100000, 64 << 20);
  tail.Start();
  tail.Watch([] {});  // a subscriber is listening, as in the server

  constexpr int kThreads = 4;
  constexpr int kAppends = 200;
  std::vector<std::thread> threads;
  std::atomic<int> refused{0};
  std::atomic<int> repeats{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      const std::string org = absl::StrCat("listened", t);
      const std::string stream = absl::StrCat("org/", org);
      for (int i = 0; i < kAppends; ++i) {
        const int n = t * 100000 + i;
        std::vector<v1::Event> events = {OrgEvent(org, n, i > 0)};
        if (i % 3 == 1) events.push_back(OrgEvent(org, n + 50000, true));
        // Every 7th repeats itself (written once, then a duplicate); every
        // 11th expects no stream and is refused.
        const store::ExpectedVersion expected =
            i > 0 && i % 11 == 0 ? store::ExpectedVersion::NoStream() : store::ExpectedVersion::Any();
        const int times = i % 7 == 3 ? 2 : 1;
        for (int k = 0; k < times; ++k) {
          absl::StatusOr<store::AppendResult> r =
              log_->Propose(stream, expected, domain::EventsProposal::Own(events, "test"));
          if (!r.ok()) {
            EXPECT_EQ(r.status().code(), absl::StatusCode::kAborted) << r.status();
            ++refused;
          } else if (r->duplicate) {
            ++repeats;
          }
        }
      }
    });
  }
  for (std::thread& th : threads) th.join();
  EXPECT_GT(refused.load(), 0);
  EXPECT_GT(repeats.load(), 0);
  const uint64_t last = log_->LastPosition().value();
  ASSERT_TRUE(WaitForTail(tail, last));
  log_->RemoveEventsListener(listener);

  ASSERT_OK_AND_ASSIGN(std::vector<store::RecordedEvent> all,
                       log_->ReadAll(store::Direction::kForwards, std::nullopt, 1000000));
  std::lock_guard l(mu);
  EXPECT_TRUE(contiguous);
  ASSERT_EQ(handed.size(), all.size());
  for (size_t i = 0; i < all.size(); ++i) {
    const store::RecordedEvent& a = all[i];
    const store::RecordedEvent& h = handed[i];
    ASSERT_EQ(h.position, a.position) << i;
    EXPECT_EQ(h.stream, a.stream) << i;
    EXPECT_EQ(h.stream_version, a.stream_version) << i;
    EXPECT_EQ(h.recorded_time, a.recorded_time) << i;
    EXPECT_EQ(h.event_id, a.event_id) << i;
    EXPECT_EQ(h.type, a.type) << i;
    EXPECT_EQ(h.tags, a.tags) << i;
    EXPECT_EQ(h.data, a.data) << i;
  }
  std::vector<std::shared_ptr<const TailEntry>> entries;
  ASSERT_EQ(ReadTail(tail, 1, all.size(), &entries), LiveTail::ReadResult::kOk);
  ASSERT_EQ(entries.size(), all.size());
  for (size_t i = 0; i < all.size(); ++i) {
    EXPECT_EQ(*entries[i]->message, *EventMessage(all[i])) << i;
    EXPECT_EQ(entries[i]->tags, all[i].tags) << i;
  }
  tail.Stop();
}

// A watcher is called once per Arm, after the window reaches the position
// armed for, and never when not armed.
TEST_F(SubscriptionTest, TheTailWakesAWatcherOncePerArm) {
  Append("a");
  LiveTail tail(log_.get(), 1000, 64 << 20);
  tail.Start();
  std::atomic<int> calls{0};
  const uint64_t id = tail.Watch([&] { ++calls; });
  Append("b");
  ASSERT_TRUE(WaitForTail(tail, 2));
  EXPECT_FALSE(tail.Arm(id, 2)) << "the window holds 2 already: read instead";
  ASSERT_TRUE(tail.Arm(id, 3));
  Append("c");
  ASSERT_TRUE(WaitForTail(tail, 3));
  ASSERT_TRUE(test_util::Eventually([&] { return calls.load() == 1; }, absl::Seconds(30)));
  Append("d");
  Append("e");
  ASSERT_TRUE(WaitForTail(tail, 5));
  // The watcher calls run on the tail's thread in the step that woke the
  // waiter: an unarmed one would have run by now.
  ASSERT_TRUE(tail.Arm(id, 7));
  Append("f");
  ASSERT_TRUE(WaitForTail(tail, 6));
  EXPECT_EQ(calls.load(), 1);
  Append("g");
  ASSERT_TRUE(test_util::Eventually([&] { return calls.load() == 2; }, absl::Seconds(30)));
  tail.Unwatch(id);
  tail.Stop();
}

TEST_F(SubscriptionTest, RegistryKeepsFilterAndCheckpoint) {
  SubscriptionRegistry registry(&log_->metadata(), log_.get());
  Append("a");
  Append("b");
  v1::SubscriptionFilter filter;
  filter.add_event_types("OrganizationRegistered");
  filter.add_org_ids("a");
  ASSERT_OK_AND_ASSIGN(v1::NamedSubscription s, registry.GetOrCreate("alerts", &filter, 0));
  EXPECT_EQ(s.checkpoint_position(), 0u);
  // The same entries in another order are the same filter; others are not.
  v1::SubscriptionFilter reordered;
  reordered.add_org_ids("a");
  reordered.add_event_types("OrganizationRegistered");
  EXPECT_OK(registry.GetOrCreate("alerts", &reordered, 0));
  v1::SubscriptionFilter other;
  other.add_org_ids("b");
  EXPECT_THAT(registry.GetOrCreate("alerts", &other, 0),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  ASSERT_OK(registry.Commit("alerts", 2));
  EXPECT_THAT(registry.Commit("alerts", 3), StatusIsWith(absl::StatusCode::kInvalidArgument, "position"));
  EXPECT_THAT(registry.Commit("nobody", 1), StatusIs(absl::StatusCode::kNotFound));
  ASSERT_OK_AND_ASSIGN(s, registry.Get("alerts"));
  EXPECT_EQ(s.checkpoint_position(), 2u);
  EXPECT_EQ(s.filter().org_ids(0), "a");
  ASSERT_OK(registry.GetOrCreate("zeta", nullptr, 1));
  ASSERT_OK_AND_ASSIGN(std::vector<v1::NamedSubscription> all, registry.List("", 10));
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].name(), "alerts");
  EXPECT_EQ(all[1].name(), "zeta");
  ASSERT_OK_AND_ASSIGN(all, registry.List("alerts", 10));
  ASSERT_EQ(all.size(), 1u);
  ASSERT_OK(registry.Delete("alerts"));
  EXPECT_THAT(registry.Delete("alerts"), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(SubscriptionRegistry::ValidateName("Bad Name", "name"),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_OK(SubscriptionRegistry::ValidateName("deal-alerts.v2_x", "name"));
}

// The bytes streamed to subscribers parse to exactly the decoded event.
TEST_F(SubscriptionTest, EventWireBytesParseToTheDecodedEvent) {
  Append("a");
  Append("a");  // stream version 1
  Append("b");
  Append("c");
  Append("b", "c");
  ASSERT_OK_AND_ASSIGN(std::vector<store::RecordedEvent> records,
                       log_->ReadAll(store::Direction::kForwards, std::nullopt, 10));
  ASSERT_EQ(records.size(), 5u);
  for (const store::RecordedEvent& r : records) {
    v1::Event decoded;
    ASSERT_OK(domain::DecodeEvent(r, &decoded));
    v1::SubscribeResponse streamed;
    ASSERT_TRUE(streamed.ParseFromString(*EventMessage(r)));
    EXPECT_EQ(streamed.event().SerializeAsString(), decoded.SerializeAsString())
        << streamed.ShortDebugString() << "\nvs\n" << decoded.ShortDebugString();
  }
}

}  // namespace
}  // namespace dealwire::services
