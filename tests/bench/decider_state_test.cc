// The decider keeps its state in the log's state space (domain/
// decision_store.cc). A start from it holds exactly the state a full replay
// of the log builds: after a clean stop (nothing replayed), from a state
// space older than the log (what kill -9 leaves: only the events after it
// are replayed), and never from another log's state. A cache far smaller
// than the state decides the same and keeps the same state. The data set
// is the synthetic one: every payload case, amendments included.

#include <unistd.h>

#include <filesystem>
#include <memory>
#include <string>

#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "bench/log_loader.h"
#include "bench/synthetic_events.h"
#include "domain/decider.h"
#include "gtest/gtest.h"
#include "store/event_log.h"
#include "tests/common/status_matchers.h"

namespace dealwire::bench {
namespace {

namespace fs = std::filesystem;

// Two states' bytes are equal; else where they first differ (a state is
// megabytes: printing both helps no one).
testing::AssertionResult Same(const std::string& a, const std::string& b) {
  if (a == b) return testing::AssertionSuccess();
  size_t i = 0;
  while (i < a.size() && i < b.size() && a[i] == b[i]) ++i;
  return testing::AssertionFailure()
         << "states of " << a.size() << " and " << b.size() << " bytes differ at byte " << i
         << ": " << testing::PrintToString(a.substr(i > 40 ? i - 40 : 0, 80)) << " vs "
         << testing::PrintToString(b.substr(i > 40 ? i - 40 : 0, 80));
}

class DeciderStateTest : public testing::Test {
 protected:
  void SetUp() override {
    dir_ = (fs::path(testing::TempDir()) / absl::StrFormat("dealwire_decider_state_%d", getpid()))
               .string();
    fs::remove_all(dir_);
  }
  void TearDown() override {
    log_.reset();
    fs::remove_all(dir_);
  }

  // Opens the log with a new DomainDecider (decider_).
  void Open(size_t cache_bytes = 128 << 20) {
    decider_ = std::make_shared<domain::DomainDecider>(
        domain::DomainDecider::Options{.cache_bytes = cache_bytes});
    store::Options o;
    o.decider = decider_;
    absl::StatusOr<std::unique_ptr<store::EventLog>> log = store::OpenEventLog(dir_, o);
    ASSERT_OK(log);
    log_ = *std::move(log);
  }
  void Close() {
    ASSERT_OK(log_->Close());
    log_.reset();
  }
  // Appends the generator's next `n` events.
  void Load(SyntheticEvents& gen, size_t n) {
    LogLoader loader(*log_, {});
    dealwire::v1::Event e;
    for (size_t i = 0; i < n && gen.Next(&e); ++i) ASSERT_TRUE(loader.Append(e));
    ASSERT_OK(loader.Finish());
  }
  // The open log's decider state, and the state a full replay builds (in
  // memory: it leaves the state space alone).
  std::string State() {
    absl::StatusOr<std::string> s = decider_->StateBytes();
    EXPECT_OK(s);
    return s.ok() ? *s : "";
  }
  std::string Replayed() {
    domain::DomainDecider replay(domain::DomainDecider::Options{.in_memory = true});
    EXPECT_OK(replay.Recover(*log_));
    absl::StatusOr<std::string> s = replay.StateBytes();
    EXPECT_OK(s);
    return s.ok() ? *s : "";
  }
  std::string StateDir() const { return dir_ + "/state"; }

  std::string dir_;
  std::shared_ptr<domain::DomainDecider> decider_;
  std::unique_ptr<store::EventLog> log_;
};

TEST_F(DeciderStateTest, AStartFromTheKeptStateEqualsAFullReplay) {
  SyntheticEvents gen({.seed = 7, .events = 40000, .companies = 600, .investors = 200});
  Open();
  EXPECT_FALSE(decider_->restored());  // a new log
  Load(gen, 25000);
  const std::string before_close = State();
  EXPECT_GT(before_close.size(), 1000u);
  EXPECT_TRUE(Same(before_close, Replayed()));
  Close();
  const std::string kept_at_25k = dir_ + "_state_25k";
  fs::remove_all(kept_at_25k);
  fs::copy(StateDir(), kept_at_25k, fs::copy_options::recursive);

  // A clean restart: the kept state, nothing replayed.
  Open();
  EXPECT_TRUE(decider_->restored());
  EXPECT_EQ(decider_->replayed(), 0u);
  EXPECT_TRUE(Same(State(), before_close));

  // More events, then a start from the older state space (what kill -9
  // leaves): the kept state at 25k, the rest replayed.
  Load(gen, 15000);
  const std::string at_40k = State();
  EXPECT_TRUE(Same(at_40k, Replayed()));
  Close();
  fs::remove_all(StateDir());
  fs::copy(kept_at_25k, StateDir(), fs::copy_options::recursive);
  Open();
  EXPECT_TRUE(decider_->restored());
  EXPECT_EQ(decider_->replayed(), 15000u);
  EXPECT_TRUE(Same(State(), at_40k));
  Close();

  // Another log's state space (its marker names an event this log does not
  // have) is not used: the start drops it and replays.
  fs::path other = dir_ + "_other";
  fs::remove_all(other);
  {
    std::string keep = dir_;
    dir_ = other.string();
    Open();
    SyntheticEvents gen2({.seed = 8, .events = 25000, .companies = 600, .investors = 200});
    Load(gen2, 25000);
    Close();
    fs::remove_all(StateDir());
    fs::copy(kept_at_25k, StateDir(), fs::copy_options::recursive);
    Open();
    EXPECT_FALSE(decider_->restored()) << "a state kept for another log was used";
    EXPECT_EQ(decider_->replayed(), 25000u);
    EXPECT_TRUE(Same(State(), Replayed()));
    log_.reset();
    dir_ = keep;
  }
  fs::remove_all(other);
  fs::remove_all(kept_at_25k);
}

TEST_F(DeciderStateTest, ACacheFarSmallerThanTheStateDecidesTheSame) {
  // 64 KiB of cache against a state of megabytes: entries are evicted and
  // read back (amendments name events from anywhere in the log).
  SyntheticEvents gen({.seed = 9, .events = 40500, .companies = 600, .investors = 200});
  Open(/*cache_bytes=*/64 << 10);
  Load(gen, 40000);  // every append accepted, as with the whole state in memory
  // What the cache holds beyond its budget is what is not yet written, and
  // that depends on how far the writing thread got. Once it has written
  // everything handed to it, the sweeps of the next events leave the
  // budget plus what those events touched.
  ASSERT_OK(decider_->WaitWritten());
  Load(gen, 500);
  const std::string state = State();
  EXPECT_TRUE(Same(state, Replayed()));
  EXPECT_LT(decider_->cached_bytes(), size_t{1} << 20) << "the cache keeps what it could evict";
  Close();

  domain::DomainDecider whole(domain::DomainDecider::Options{.in_memory = true});
  store::Options o;
  absl::StatusOr<std::unique_ptr<store::EventLog>> log = store::OpenEventLog(dir_, o);
  ASSERT_OK(log);
  ASSERT_OK(whole.Recover(**log));
  EXPECT_GT(whole.cached_bytes(), size_t{5} << 20) << "the state is too small to test eviction";
  absl::StatusOr<std::string> replayed = whole.StateBytes();
  ASSERT_OK(replayed);
  EXPECT_TRUE(Same(*replayed, state));
}

}  // namespace
}  // namespace dealwire::bench
