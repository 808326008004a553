// Integration test of the slow-consumer guarantee of EventStore.Subscribe: a
// subscriber that stops reading never slows appends, never makes the server's
// memory grow, and later continues without gap (after a `fell_behind`).
//
// Prints the server's RSS before and at its peak during the appends, and the
// append throughput observed (for information; nothing asserts on time).

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <iostream>
#include <optional>
#include <string>
#include <thread>
#include <vector>

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

}  // namespace
}  // namespace dealwire::integration
