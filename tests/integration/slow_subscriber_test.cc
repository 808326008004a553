// Integration test of the slow-consumer guarantee of EventStore.Subscribe: a
// subscriber that stops reading never slows appends, never makes the server's
// memory grow, and later continues without gap (after a `fell_behind`).
//
// Also: thousands of subscribers that never read hold no more than their
// budget each (--subscriber-buffer-bytes) while appends go on, and a
// subscriber whose client takes nothing past --subscriber-stall-timeout is
// ended with RESOURCE_EXHAUSTED.
//
// Prints the server's RSS before and at its peak during the appends, and the
// append throughput and latency observed (for information; nothing asserts
// on time).

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <iostream>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/test_util.h"

namespace dealwire::integration {
namespace {

using ::testing::IsEmpty;

constexpr int kAppenders = 4;
constexpr int kEventsPerAppend = 100;
// The warm-up fills the server's bounded buffers (its live tail holds tens of
// thousands of events) and RocksDB memtables, so that the RSS measured before
// the flood already holds what a bounded server may keep.
constexpr int kWarmUpAppendsPerAppender = 88;  // 35,200 events
constexpr int kFloodAppendsPerAppender = 250;  // 100,000 events
// Each event carries a 4,000-byte description, so the flood holds about
// 400 MB: a server that kept the events the slow subscriber did not read
// would grow far beyond the bound.
constexpr size_t kDescriptionBytes = 4000;
constexpr int64_t kMaxRssGrowth = int64_t{256} << 20;

double MiB(int64_t bytes) { return static_cast<double>(bytes) / (1 << 20); }

class SlowSubscriberTest : public ServerTest {
 protected:
  // Appends kAppenders * appends_per_appender * kEventsPerAppend updates of
  // `orgs` from kAppenders threads; one thread samples the server's RSS after
  // each of its appends into *rss_peak. Returns the failures.
  std::vector<std::string> Flood(const std::vector<std::string>& orgs, int appends_per_appender,
                                 int64_t* rss_peak) {
    const std::string description(kDescriptionBytes, 'd');
    absl::Mutex mu;
    std::vector<std::string> failures;
    std::atomic<int64_t> peak{*rss_peak};
    std::vector<std::thread> threads;
    for (int t = 0; t < kAppenders; ++t) {
      threads.emplace_back([&, t] {
        std::unique_ptr<v1::EventStore::Stub> my_stub = v1::EventStore::NewStub(server().Channel());
        for (int i = 0; i < appends_per_appender; ++i) {
          std::vector<v1::Event> events;
          events.reserve(kEventsPerAppend);
          for (int j = 0; j < kEventsPerAppend; ++j) {
            events.push_back(OrgUpdated(orgs[t], description));
          }
          absl::Status s = Append(*my_stub, OrgStream(orgs[t]), std::move(events)).status();
          if (!s.ok()) {
            absl::MutexLock lock(&mu);
            failures.push_back(absl::StrCat("appender ", t, " append ", i, ": ", s.ToString()));
            return;
          }
          if (t == 0) {
            absl::StatusOr<int64_t> rss = server().RssBytes();
            if (rss.ok()) peak = std::max(peak.load(), *rss);
          }
        }
      });
    }
    for (std::thread& th : threads) th.join();
    *rss_peak = peak.load();
    return failures;
  }
};

TEST_F(SlowSubscriberTest, SlowSubscriberBoundsServerMemoryAndContinuesWithoutGap) {
  // Organizations first (positions 1..kAppenders), so the slow subscriber is
  // live before the appends.
  std::vector<std::string> orgs;
  for (int t = 0; t < kAppenders; ++t) orgs.push_back(RegisterOrg("flood"));
  const uint64_t warm_up_events = uint64_t{kAppenders} * kWarmUpAppendsPerAppender * kEventsPerAppend;
  const uint64_t flood_events = uint64_t{kAppenders} * kFloodAppendsPerAppender * kEventsPerAppend;
  const uint64_t total = kAppenders + warm_up_events + flood_events;

  // The slow subscriber: its own connection; reads up to caught_up, then
  // stops reading.
  Subscription slow(server().NewChannel(), FromStart());
  Received slow_head;
  ASSERT_OK(ReadUntil(slow, &slow_head, HasCaughtUp(), absl::Seconds(30)));
  slow.Pause();
  ASSERT_EQ(slow_head.events.size(), orgs.size()) << Summary(slow_head);
  // A fast, filtered subscriber at the same time must keep up (it gets the
  // registrations and frequent checkpoints).
  v1::SubscribeRequest fast_request = FromStart();
  fast_request.mutable_filter()->add_event_types("OrganizationRegistered");
  fast_request.set_checkpoint_interval(1000);
  Subscription fast(server().NewChannel(), fast_request);

  ASSERT_OK_AND_ASSIGN(const int64_t rss_start, server().RssBytes());
  int64_t warm_up_peak = rss_start;
  const std::vector<std::string> warm_up_failures =
      Flood(orgs, kWarmUpAppendsPerAppender, &warm_up_peak);
  ASSERT_THAT(warm_up_failures, IsEmpty()) << "appends must not fail because a subscriber is slow";
  ASSERT_OK_AND_ASSIGN(const int64_t rss_before, server().RssBytes());

  int64_t rss_peak = rss_before;
  const absl::Time start = absl::Now();
  const std::vector<std::string> failures = Flood(orgs, kFloodAppendsPerAppender, &rss_peak);
  const absl::Duration took = absl::Now() - start;
  ASSERT_OK_AND_ASSIGN(const int64_t rss_after, server().RssBytes());
  rss_peak = std::max(rss_peak, rss_after);

  const double flood_mb = static_cast<double>(flood_events * kDescriptionBytes) / 1e6;
  std::cout << absl::StrFormat(
                   "slow subscriber: flood of %d events (%d appends of %d, %.0f MB of "
                   "descriptions) in %s: %.0f events/s, %.1f MB/s\n",
                   flood_events, kAppenders * kFloodAppendsPerAppender, kEventsPerAppend,
                   flood_mb, absl::FormatDuration(took),
                   static_cast<double>(flood_events) / absl::ToDoubleSeconds(took),
                   flood_mb / absl::ToDoubleSeconds(took))
            << absl::StrFormat(
                   "slow subscriber: server RSS at start %.1f MiB, after the %d-event warm-up "
                   "%.1f MiB (peak %.1f), before the flood %.1f MiB, peak during the flood "
                   "%.1f MiB, after %.1f MiB; growth over the flood %.1f MiB (bound %.0f MiB)\n",
                   MiB(rss_start), warm_up_events, MiB(rss_before), MiB(warm_up_peak),
                   MiB(rss_before), MiB(rss_peak), MiB(rss_after), MiB(rss_peak - rss_before),
                   MiB(kMaxRssGrowth))
            << std::flush;
  ASSERT_THAT(failures, IsEmpty()) << "appends must not fail because a subscriber is slow";
  EXPECT_LT(rss_peak - rss_before, kMaxRssGrowth)
      << "the server's memory grew with the events the slow subscriber did not read";

  // The fast subscriber kept up: it has examined the whole log.
  {
    Received got;
    EXPECT_OK(ReadUntil(fast, &got, HasCheckpointAtLeast(total - 1000), absl::Seconds(60)));
    EXPECT_THAT(got.violations, IsEmpty()) << Summary(got);
    EXPECT_EQ(got.events.size(), orgs.size()) << Summary(got);
  }

  // Now the slow subscriber reads: every event in order, without gap, also
  // after a fell_behind, and finally caught_up at the end (when it fell
  // behind). Events are checked as they come, not kept (they are 300 MB).
  slow.Resume();
  uint64_t last = slow_head.last_event_position();
  uint64_t count = slow_head.events.size();
  uint64_t fell_behind = 0;
  uint64_t caught_up_after_last_fell_behind = 0;
  std::vector<std::string> problems;
  std::string first_fell_behind;
  const absl::Time read_deadline = absl::Now() + absl::Minutes(2);
  while (problems.size() < 10 &&
         (last < total || (fell_behind > 0 && caught_up_after_last_fell_behind == 0))) {
    const absl::Duration left = read_deadline - absl::Now();
    std::optional<v1::SubscribeResponse> m =
        left > absl::ZeroDuration() ? slow.Next(std::min(left, absl::Seconds(30))) : std::nullopt;
    if (!m.has_value()) {
      std::optional<absl::Status> end = slow.WaitForEnd(absl::ZeroDuration());
      problems.push_back(absl::StrCat(
          "no message within 30 s (or the 2 min bound) after position ", last,
          end.has_value() ? absl::StrCat("; the call ended: ", end->ToString()) : ""));
      break;
    }
    switch (m->message_case()) {
      case v1::SubscribeResponse::kEvent:
        if (m->event().position() != last + 1) {
          problems.push_back(absl::StrCat("event at ", m->event().position(), " after ", last));
        }
        last = m->event().position();
        ++count;
        break;
      case v1::SubscribeResponse::kFellBehind:
        ++fell_behind;
        caught_up_after_last_fell_behind = 0;
        if (first_fell_behind.empty()) {
          first_fell_behind = absl::StrCat("at ", m->fell_behind().position(), " after ", count,
                                           " events: ", m->fell_behind().reason());
        }
        if (m->fell_behind().position() < last) {
          problems.push_back(absl::StrCat("fell_behind at ", m->fell_behind().position(),
                                          " after event at ", last));
        }
        break;
      case v1::SubscribeResponse::kCaughtUp:
        if (m->caught_up().position() != last) {
          problems.push_back(absl::StrCat("caught_up at ", m->caught_up().position(),
                                          " after event at ", last));
        }
        if (fell_behind > 0) caught_up_after_last_fell_behind = m->caught_up().position();
        break;
      case v1::SubscribeResponse::kCheckpoint:
        if (m->checkpoint().position() != last) {
          problems.push_back(absl::StrCat("checkpoint at ", m->checkpoint().position(),
                                          " after event at ", last));
        }
        break;
      default:
        break;
    }
  }
  std::cout << "slow subscriber: read " << count << " events up to position " << last << "; "
            << fell_behind << " fell_behind"
            << (first_fell_behind.empty() ? "" : " (first " + first_fell_behind + ")")
            << std::endl;
  EXPECT_THAT(problems, IsEmpty());
  EXPECT_EQ(last, total) << "the slow subscriber stopped before the end of the log";
  EXPECT_EQ(count, total);
  if (fell_behind > 0) {
    EXPECT_EQ(caught_up_after_last_fell_behind, total)
        << "no caught_up at the end after falling behind";
  }
}

// --- Subscribers that never read ---------------------------------------------

// What the unread calls report.
class UnreadBoard {
 public:
  void Started() {
    absl::MutexLock l(&mu_);
    ++started_;
  }
  void Done(grpc::StatusCode code) {
    absl::MutexLock l(&mu_);
    ++done_;
    ++codes_[code];
  }
  // Waits until `n` calls have started (or ended), at most `timeout`.
  int AwaitStarted(int n, absl::Duration timeout) {
    absl::MutexLock l(&mu_);
    auto ready = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return started_ + done_ >= n; };
    mu_.AwaitWithTimeout(absl::Condition(&ready), timeout);
    return started_;
  }
  int AwaitDone(int n, absl::Duration timeout) {
    absl::MutexLock l(&mu_);
    auto ready = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return done_ >= n; };
    mu_.AwaitWithTimeout(absl::Condition(&ready), timeout);
    return done_;
  }
  absl::flat_hash_map<grpc::StatusCode, int> codes() {
    absl::MutexLock l(&mu_);
    return codes_;
  }

 private:
  absl::Mutex mu_;
  int started_ ABSL_GUARDED_BY(mu_) = 0;
  int done_ ABSL_GUARDED_BY(mu_) = 0;
  absl::flat_hash_map<grpc::StatusCode, int> codes_ ABSL_GUARDED_BY(mu_);
};

// A Subscribe call whose client never reads a message: it starts the call
// and nothing more. The server's first message (caught_up, for from_end)
// brings the initial metadata, which says the call runs.
class UnreadCall final : public grpc::ClientReadReactor<v1::SubscribeResponse> {
 public:
  explicit UnreadCall(UnreadBoard* board) : board_(board) {}
  void Start(v1::EventStore::Stub& stub, const v1::SubscribeRequest& request) {
    request_ = request;
    stub.async()->Subscribe(&context_, &request_, this);
    StartCall();
  }
  void Cancel() { context_.TryCancel(); }
  void OnReadInitialMetadataDone(bool /*ok*/) override { board_->Started(); }
  void OnDone(const grpc::Status& s) override { board_->Done(s.error_code()); }

 private:
  UnreadBoard* const board_;
  grpc::ClientContext context_;
  v1::SubscribeRequest request_;
};

// Latencies of `n` one-event appends made one after the other, sorted.
std::vector<absl::Duration> AppendOneByOne(v1::EventStore::Stub& stub, const std::string& org,
                                           int n, std::vector<std::string>* failures) {
  std::vector<absl::Duration> took;
  for (int i = 0; i < n; ++i) {
    const absl::Time start = absl::Now();
    absl::Status s = Append(stub, OrgStream(org), {OrgUpdated(org, "latency probe")}).status();
    took.push_back(absl::Now() - start);
    if (!s.ok()) failures->push_back(absl::StrCat("probe append ", i, ": ", s.ToString()));
  }
  std::sort(took.begin(), took.end());
  return took;
}

std::string Percentiles(const std::vector<absl::Duration>& sorted) {
  if (sorted.empty()) return "none";
  auto at = [&](double q) {
    return absl::ToDoubleMilliseconds(sorted[std::min(sorted.size() - 1,
                                                      static_cast<size_t>(q * sorted.size()))]);
  };
  return absl::StrFormat("p50 %.2f ms, p99 %.2f ms, max %.2f ms", at(0.5), at(0.99),
                         absl::ToDoubleMilliseconds(sorted.back()));
}

constexpr int kUnreadSubscribers = 5000;
constexpr size_t kUnreadBudget = 16 << 10;
// What gRPC keeps for one server-streaming call besides the subscription's
// own messages: 13-19 KiB for the open call (measured on gRPC 1.51), and what
// its transport frames ahead of a client that does not read: at most the
// call's 64 KiB window, the calls' connections not growing it (a client that
// grows it takes messages its application never asked for, and is served as
// a reader: docs/storage.md, "Memory budgets"), with room.
constexpr int64_t kPerCallAllowance = 96 << 10;
// What the flood itself adds to the server's RSS (memtables, projections):
// 135 MiB measured with a single subscriber, with room.
constexpr int64_t kFloodAllowance = int64_t{192} << 20;

class UnreadSubscribersTest : public SlowSubscriberTest {
 protected:
  std::vector<std::string> ServerArgs() const override {
    return {"--subscriber-buffer-bytes", absl::StrCat(kUnreadBudget)};
  }
};

TEST_F(UnreadSubscribersTest, ThousandsOfUnreadSubscribersHoldTheirBudgetAndAppendsGoOn) {
  std::vector<std::string> orgs;
  for (int t = 0; t < kAppenders; ++t) orgs.push_back(RegisterOrg("unread"));
  const std::string probe_org = RegisterOrg("probe");
  // The warm-up fills the live buffer and the memtables (see above).
  int64_t peak = 0;
  ASSERT_THAT(Flood(orgs, kWarmUpAppendsPerAppender, &peak), IsEmpty());
  std::vector<std::string> failures;
  const std::vector<absl::Duration> baseline = AppendOneByOne(stub(), probe_org, 300, &failures);
  ASSERT_OK_AND_ASSIGN(const int64_t rss_before, server().RssBytes());

  UnreadBoard board;
  std::vector<std::unique_ptr<v1::EventStore::Stub>> stubs;
  for (int c = 0; c < 4; ++c) {
    stubs.push_back(v1::EventStore::NewStub(server().NewFixedWindowChannel()));
  }
  std::vector<std::unique_ptr<UnreadCall>> calls;
  for (int i = 0; i < kUnreadSubscribers; ++i) {
    calls.push_back(std::make_unique<UnreadCall>(&board));
    calls.back()->Start(*stubs[i % stubs.size()], FromEnd());
  }
  const int started = board.AwaitStarted(kUnreadSubscribers, absl::Seconds(120));
  ASSERT_OK_AND_ASSIGN(const int64_t rss_open, server().RssBytes());

  int64_t rss_peak = rss_open;
  const absl::Time start = absl::Now();
  failures = Flood(orgs, kWarmUpAppendsPerAppender, &rss_peak);
  const absl::Duration took = absl::Now() - start;
  const std::vector<absl::Duration> beside = AppendOneByOne(stub(), probe_org, 300, &failures);
  ASSERT_OK_AND_ASSIGN(const int64_t rss_after, server().RssBytes());
  rss_peak = std::max(rss_peak, rss_after);

  const int64_t bound =
      kFloodAllowance + kUnreadSubscribers * (int64_t{kUnreadBudget} + kPerCallAllowance);
  std::cout << absl::StrFormat(
                   "unread subscribers: %d of %d started; server RSS before %.1f MiB, with them "
                   "open %.1f MiB, peak during %d events %.1f MiB (in %s), after %.1f MiB; "
                   "growth %.1f MiB (bound %.1f MiB: %.0f MiB for the flood + %d x (%d B budget + %d B "
                   "per call))\n",
                   started, kUnreadSubscribers, MiB(rss_before), MiB(rss_open),
                   kAppenders * kWarmUpAppendsPerAppender * kEventsPerAppend, MiB(rss_peak),
                   absl::FormatDuration(took), MiB(rss_after), MiB(rss_peak - rss_before),
                   MiB(bound), MiB(kFloodAllowance), kUnreadSubscribers, kUnreadBudget,
                   kPerCallAllowance)
            << "unread subscribers: one-event appends alone " << Percentiles(baseline)
            << "; beside them " << Percentiles(beside) << std::endl;
  EXPECT_EQ(started, kUnreadSubscribers);
  EXPECT_THAT(failures, IsEmpty()) << "appends must not fail because subscribers do not read";
  EXPECT_LT(rss_peak - rss_before, bound)
      << "unread subscribers held more than their budget each";
  // The server ended none of them (they are well within the stall timeout).
  EXPECT_THAT(board.codes(), IsEmpty());

  for (auto& c : calls) c->Cancel();
  const int done = board.AwaitDone(kUnreadSubscribers, absl::Seconds(60));
  EXPECT_EQ(done, kUnreadSubscribers);
  if (done != kUnreadSubscribers) {
    for (auto& c : calls) c.release();  // still running: leaked, not freed under gRPC
  }
  // And the server still serves a subscriber that reads: the whole log.
  Subscription reader(server().NewChannel(), FromStart());
  Received got;
  ASSERT_OK_AND_ASSIGN(const v1::ReadAllResponse last, [&]() -> absl::StatusOr<v1::ReadAllResponse> {
    v1::ReadAllRequest r;
    r.set_direction(v1::DIRECTION_BACKWARDS);
    r.set_page_size(1);
    return ReadAll(stub(), r);
  }());
  EXPECT_OK(ReadUntil(reader, &got, HasCaughtUp(), absl::Seconds(120)));
  EXPECT_EQ(got.events.size(), last.last_position()) << Summary(got);
  EXPECT_THAT(got.violations, IsEmpty());
}

class StalledSubscriberTest : public SlowSubscriberTest {
 protected:
  std::vector<std::string> ServerArgs() const override {
    return {"--subscriber-stall-timeout", "1"};
  }
};

TEST_F(StalledSubscriberTest, ASubscriberThatTakesNothingIsCutOffWithResourceExhausted) {
  std::vector<std::string> orgs;
  for (int t = 0; t < kAppenders; ++t) orgs.push_back(RegisterOrg("stall"));
  Subscription stalled(server().NewChannel(), FromEnd());
  Received got;
  ASSERT_OK(ReadUntil(stalled, &got, HasCaughtUp(), absl::Seconds(30)));
  stalled.Pause();
  // 35,200 events of 4 kB: far more than flow control and the socket
  // buffers let through to a client that does not read.
  int64_t peak = 0;
  ASSERT_THAT(Flood(orgs, kWarmUpAppendsPerAppender, &peak), IsEmpty());
  // Past the stall timeout (1 s, checked every 100 ms), within the 5 s the
  // cut-off subscriber has to take its status.
  absl::SleepFor(absl::Seconds(2));
  stalled.Resume();
  absl::Status end = ReadUntil(stalled, &got, [](const Received&) { return false; },
                               absl::Seconds(60));
  std::cout << "stalled subscriber: " << Summary(got) << "; ended: " << end << std::endl;
  EXPECT_EQ(end.code(), absl::StatusCode::kResourceExhausted) << end;
  EXPECT_TRUE(absl::StrContains(end.message(), "subscriber_stall_timeout")) << end;
  EXPECT_THAT(got.violations, IsEmpty());
  // What it received before the cut is a gap-free prefix of the log.
  EXPECT_GT(got.events.size(), 0u);
  for (size_t i = 1; i < got.events.size(); ++i) {
    ASSERT_EQ(got.events[i].position(), got.events[i - 1].position() + 1);
  }
  // Appends never noticed.
  EXPECT_OK(Append(stub(), OrgStream(orgs[0]), {OrgUpdated(orgs[0], "after")}).status());
}

}  // namespace
}  // namespace dealwire::integration
