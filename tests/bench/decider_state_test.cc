// A start from the decider's saved state (store::Decider::SaveState, kept by
// the log at Close) holds exactly the state a full replay of the log builds:
// after a clean stop, after appends past an older saved state (as after
// kill -9), and with a corrupt file (which falls back to the replay). The
// data set is the synthetic one: every payload case, amendments included.

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
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
  void Open(uint64_t save_events = 1'000'000) {
    decider_ = std::make_shared<domain::DomainDecider>();
    store::Options o;
    o.decider = decider_;
    o.decider_save_events = save_events;
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
  // The open log's decider state, and the state a full replay builds.
  std::string State() { return *decider_->SaveState(); }
  std::string Replayed() {
    domain::DomainDecider replay;
    EXPECT_OK(replay.Recover(*log_));
    return *replay.SaveState();
  }
  std::string StateFile() const { return dir_ + "/decider-state"; }

  std::string dir_;
  std::shared_ptr<domain::DomainDecider> decider_;
  std::unique_ptr<store::EventLog> log_;
};

TEST_F(DeciderStateTest, AStartFromSavedStateEqualsAFullReplay) {
  SyntheticEvents gen({.seed = 7, .events = 40000, .companies = 600, .investors = 200});
  Open();
  Load(gen, 25000);
  const std::string before_close = State();
  Close();
  ASSERT_TRUE(fs::exists(StateFile())) << "Close saved no decider state";
  const std::string saved_at_25k = StateFile() + ".25k";
  fs::copy_file(StateFile(), saved_at_25k);

  // A clean restart: the saved state, nothing replayed.
  Open();
  EXPECT_TRUE(decider_->restored());
  EXPECT_EQ(State(), before_close);
  EXPECT_EQ(State(), Replayed());
  EXPECT_GT(State().size(), 1000u);

  // More events, then a start from the older saved state (what a kill -9
  // leaves): restored from 25k, the rest replayed.
  Load(gen, 15000);
  const std::string at_40k = State();
  Close();
  fs::copy_file(saved_at_25k, StateFile(), fs::copy_options::overwrite_existing);
  Open();
  EXPECT_TRUE(decider_->restored());
  EXPECT_EQ(State(), at_40k);
  EXPECT_EQ(State(), Replayed());
  Close();

  // A corrupt file is not used: the start replays.
  {
    std::fstream f(StateFile(), std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(100);
    f.put('\x7f');
  }
  Open();
  EXPECT_FALSE(decider_->restored());
  EXPECT_EQ(State(), at_40k);
  Close();

  // A saved state of another log (its last event differs) is not used.
  fs::copy_file(saved_at_25k, StateFile(), fs::copy_options::overwrite_existing);
  fs::path other = dir_ + "_other";
  fs::remove_all(other);
  {
    std::string keep = dir_;
    dir_ = other.string();
    Open();
    SyntheticEvents gen2({.seed = 8, .events = 25000, .companies = 600, .investors = 200});
    Load(gen2, 25000);
    Close();
    fs::copy_file(saved_at_25k, StateFile(), fs::copy_options::overwrite_existing);
    Open();
    EXPECT_FALSE(decider_->restored()) << "a state saved from another log was used";
    EXPECT_EQ(State(), Replayed());
    log_.reset();
    dir_ = keep;
  }
  fs::remove_all(other);
}

// The position a saved state file was saved at (after its magic line).
uint64_t SavedAt(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::string line;
  std::getline(in, line);
  uint64_t at = 0;
  for (int i = 0; i < 8; ++i) at = at << 8 | static_cast<unsigned char>(in.get());
  return in ? at : 0;
}

TEST_F(DeciderStateTest, AStateSavedWhileAppendingIsLoadedAndTheRestReplayed) {
  SyntheticEvents gen({.seed = 9, .events = 20000, .companies = 400, .investors = 150});
  Open(/*save_events=*/10000);
  Load(gen, 12000);
  // Saved by its own thread: wait for a file (bounded).
  for (int i = 0; i < 10000 && SavedAt(StateFile()) == 0; ++i) absl::SleepFor(absl::Milliseconds(1));
  const uint64_t at = SavedAt(StateFile());
  ASSERT_GE(at, 10000u) << "no state saved while appending";
  ASSERT_LE(at, 12000u);
  const std::string periodic = StateFile() + ".periodic";
  fs::copy_file(StateFile(), periodic);
  Load(gen, 5000);  // fewer than 10000 more: no other save before Close
  const std::string at_close = State();
  Close();
  EXPECT_EQ(SavedAt(StateFile()), 17000u);
  // As after kill -9: only the state saved while appending is there.
  fs::copy_file(periodic, StateFile(), fs::copy_options::overwrite_existing);
  Open(0);
  EXPECT_TRUE(decider_->restored());
  EXPECT_EQ(State(), at_close);
  EXPECT_EQ(State(), Replayed());
}

}  // namespace
}  // namespace dealwire::bench
