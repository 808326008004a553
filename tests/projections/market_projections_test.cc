// Tests of the live projections and the rebuild (projections/market_projections.h)
// over a real event log on disk: read-your-writes wakes every waiter without
// polling, and a rebuild reproduces the live state byte for byte.
#include "projections/market_projections.h"

#include <unistd.h>

#include <atomic>
#include <cctype>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "bench/synthetic_events.h"
#include "dealwire/v1/events.pb.h"
#include "domain/codec.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "projections/projector.h"
#include "projections/state_keys.h"
#include "store/event_log.h"
#include "tests/common/status_matchers.h"

namespace dealwire::projections {
namespace {

namespace fs = std::filesystem;
namespace v1 = dealwire::v1;
using ::dealwire::test_util::StatusIs;

class MarketProjectionsTest : public testing::Test {
 protected:
  void SetUp() override {
    static std::atomic<int> counter{0};
    std::string name = testing::UnitTest::GetInstance()->current_test_info()->name();
    for (char& c : name) {
      if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
    }
    dir_ = (fs::path(testing::TempDir()) /
            absl::StrFormat("dealwire_projections_%d_%d_%s", getpid(), counter++, name))
               .string();
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    absl::StatusOr<std::unique_ptr<store::EventLog>> log = store::OpenEventLog(dir_, {});
    ASSERT_OK(log.status());
    log_ = *std::move(log);
  }

  void TearDown() override {
    projections_.reset();
    log_.reset();
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  void OpenProjections(MarketProjections::Options options = {}) {
    absl::StatusOr<std::unique_ptr<MarketProjections>> p =
        MarketProjections::Open(log_.get(), &log_->state(), std::move(options));
    ASSERT_OK(p.status());
    projections_ = *std::move(p);
  }

  // Appends `event` to its stream (a new one when it names none) of `log`
  // (the test's by default) and returns its position.
  absl::StatusOr<uint64_t> Append(const v1::Event& event, store::EventLog* log = nullptr) {
    std::vector<store::ProposedEvent> proposed(1);
    const std::string stream = event.stream().empty() ? absl::StrCat("test/", ++streams_)
                                                      : event.stream();
    if (absl::Status s = domain::EncodeEvent(event, stream, "event", "tester", &proposed[0]);
        !s.ok()) {
      return s;
    }
    absl::StatusOr<store::AppendResult> r = (log != nullptr ? log : log_.get())
                                                ->Append(stream, store::ExpectedVersion::Any(),
                                                         std::move(proposed));
    if (!r.ok()) return r.status();
    return r->last_position.value();
  }

  // Appends the first `n` synthetic events (seed 3).
  void AppendSynthetic(size_t n) {
    bench::SyntheticEvents gen({.seed = 3, .events = n, .companies = 60, .investors = 30});
    // (AnAnswerAsOfAPosition… builds the same sequence for n = 5000.)
    v1::Event e;
    while (gen.Next(&e)) ASSERT_OK(Append(e).status());
  }

  static v1::Event Registration(const std::string& id) {
    static std::atomic<uint64_t> counter{0};
    v1::Event e;
    e.set_event_id(absl::StrFormat("00000000-0000-4000-8000-%012x", ++counter));
    e.mutable_effective()->mutable_date()->set_year(2026);
    e.mutable_effective()->set_precision(v1::DATE_PRECISION_YEAR);
    e.set_confidence(v1::CONFIDENCE_REPORTED);
    auto* r = e.mutable_payload()->mutable_organization_registered();
    r->set_org_id(id);
    r->set_name(id);
    r->set_kind(v1::ORGANIZATION_KIND_COMPANY);
    return e;
  }

  std::string dir_;
  std::unique_ptr<store::EventLog> log_;
  std::unique_ptr<MarketProjections> projections_;
  int streams_ = 0;
};

// One batch per append, one waiter per batch: a notify that fell between a
// waiter's check and its wait (the lost wake-up) would leave that waiter
// asleep until its deadline, and the wait would fail. No wait polls, so the
// deadline is the only other way out.
TEST_F(MarketProjectionsTest, EveryWaiterWakesWhenItsPositionIsApplied) {
  OpenProjections();
  for (int i = 0; i < 1500; ++i) {
    absl::StatusOr<uint64_t> at = Append(Registration(absl::StrCat("org-", i)));
    ASSERT_OK(at.status());
    // Two waiters, one of them on another thread, race the projector.
    absl::Status other;
    std::thread t([&] { other = projections_->WaitApplied(*at, absl::Now() + absl::Seconds(60)); });
    ASSERT_OK(projections_->WaitApplied(*at, absl::Now() + absl::Seconds(60)))
        << "position " << *at;
    t.join();
    ASSERT_OK(other) << "position " << *at;
    EXPECT_GE(projections_->applied(), *at);
  }
}

TEST_F(MarketProjectionsTest, AWaitBeyondTheLogIsOutOfRangeAndAStopWakesWaiters) {
  OpenProjections();
  absl::StatusOr<uint64_t> at = Append(Registration("acme"));
  ASSERT_OK(at.status());
  EXPECT_THAT(projections_->WaitApplied(*at + 1, absl::InfiniteFuture()),
              StatusIs(absl::StatusCode::kOutOfRange));
  ASSERT_OK(projections_->WaitApplied(*at, absl::InfiniteFuture()));
  projections_->Stop();
  EXPECT_THAT(projections_->WaitApplied(*at, absl::InfiniteFuture()),
              StatusIs(absl::StatusCode::kUnavailable));
}

// Rebuilds after `n` synthetic events (every payload case, retractions and
// corrections among them) and expects the rebuilt state to equal the live
// state, byte for byte, and the projections to answer from it.
TEST_F(MarketProjectionsTest, ARebuildEqualsTheLiveStateByteForByte) {
  AppendSynthetic(6000);
  OpenProjections();
  const uint64_t last = log_->LastPosition().value();
  ASSERT_OK(projections_->WaitApplied(last, absl::Now() + absl::Seconds(60)));
  std::vector<v1::RebuildProjectionsResponse> messages;
  ASSERT_OK(projections_->Rebuild(
      [&](const v1::RebuildProjectionsResponse& r) { messages.push_back(r); },
      [] { return false; }));
  ASSERT_FALSE(messages.empty());
  ASSERT_TRUE(messages.back().has_done());
  const v1::RebuildDone& done = messages.back().done();
  EXPECT_TRUE(done.identical()) << done.live_digest() << " vs " << done.rebuilt_digest();
  EXPECT_EQ(done.position(), last);
  EXPECT_EQ(done.events(), last);
  EXPECT_EQ(projections_->applied(), last);

  // The rebuilt generation is live and follows new events.
  absl::StatusOr<uint64_t> at = Append(Registration("after-rebuild"));
  ASSERT_OK(at.status());
  ASSERT_OK(projections_->WaitApplied(*at, absl::Now() + absl::Seconds(60)));
  v1::GetOrganizationRequest request;
  request.set_org_id("after-rebuild");
  absl::StatusOr<v1::GetOrganizationResponse> org =
      projections_->GetOrganization(request, absl::Now() + absl::Seconds(5));
  ASSERT_OK(org.status());
  EXPECT_EQ(org->organization().name(), "after-rebuild");
}

// An answer as of position K equals the current answer of a log holding only
// the first K events: the cap tables and portfolios of every organization,
// which read the deal indexes and fold the claims under the filter.
TEST_F(MarketProjectionsTest, AnAnswerAsOfAPositionEqualsTheAnswerOfTheLogUpToIt) {
  AppendSynthetic(5000);
  OpenProjections();
  ASSERT_OK(projections_->WaitApplied(log_->LastPosition().value(), absl::Now() + absl::Seconds(60)));
  const absl::Time deadline = absl::Now() + absl::Minutes(5);
  for (const size_t k : {1200u, 2600u, 4100u}) {
    SCOPED_TRACE(absl::StrCat("known_at_position ", k));
    const std::string dir = absl::StrCat(dir_, "_prefix_", k);
    fs::remove_all(dir);
    absl::StatusOr<std::unique_ptr<store::EventLog>> prefix_log = store::OpenEventLog(dir, {});
    ASSERT_OK(prefix_log.status());
    {
      // The first k of the same 5000 (the generator spreads its events over
      // the count it is given, so fewer would be other events).
      bench::SyntheticEvents gen({.seed = 3, .events = 5000, .companies = 60, .investors = 30});
      v1::Event e;
      while (gen.generated() < k && gen.Next(&e)) ASSERT_OK(Append(e, prefix_log->get()).status());
    }
    ASSERT_EQ((*prefix_log)->LastPosition().value(), k);
    absl::StatusOr<std::unique_ptr<MarketProjections>> prefix =
        MarketProjections::Open(prefix_log->get(), &(*prefix_log)->state(), {});
    ASSERT_OK(prefix.status());
    ASSERT_OK((*prefix)->WaitApplied(k, deadline));

    v1::ListOrganizationsRequest list;
    list.set_page_size(1000);
    absl::StatusOr<v1::ListOrganizationsResponse> orgs = (*prefix)->ListOrganizations(list, deadline);
    ASSERT_OK(orgs.status());
    ASSERT_GT(orgs->organizations_size(), 20);
    // Asks `query` of the prefix log now and of the whole log as of k; both
    // fail alike or give the same answer (but for as_of_position). Returns
    // the prefix log's answer when there is one.
    auto same = [&]<typename Request, typename Response>(
                    absl::StatusOr<Response> (MarketProjections::*query)(const Request&, absl::Time)
                        const,
                    Request request) -> std::optional<Response> {
      absl::StatusOr<Response> want = ((**prefix).*query)(request, deadline);
      request.mutable_as_of()->set_known_at_position(k);
      absl::StatusOr<Response> got = ((*projections_).*query)(request, deadline);
      EXPECT_EQ(got.status().code(), want.status().code()) << request.DebugString();
      if (!want.ok() || !got.ok()) return std::nullopt;
      got->clear_as_of_position();
      want->clear_as_of_position();
      EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(*got, *want))
          << request.DebugString() << "as of: " << got->DebugString()
          << "\nprefix log: " << want->DebugString();
      return *std::move(want);
    };
    int tables = 0, portfolios = 0;
    for (const v1::Organization& org : orgs->organizations()) {
      for (const bool pending : {false, true}) {
        v1::GetCapTableRequest table;
        table.set_company_id(org.org_id());
        table.set_include_pending(pending);
        if (same(&MarketProjections::GetCapTable, table).has_value()) ++tables;
        v1::GetPortfolioRequest portfolio;
        portfolio.set_investor_id(org.org_id());
        portfolio.set_include_pending(pending);
        portfolio.set_direct_only(true);  // roll-ups read the current subsidiary index
        auto held = same(&MarketProjections::GetPortfolio, portfolio);
        if (held.has_value() && held->holdings_size() > 0) ++portfolios;
      }
    }
    EXPECT_GT(tables, 20);
    EXPECT_GT(portfolios, 5);
    prefix->reset();
    prefix_log->reset();
    fs::remove_all(dir);
  }
}

}  // namespace
}  // namespace dealwire::projections
