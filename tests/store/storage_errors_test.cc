// Storage errors survived (store/event_log.h, "Storage errors"): failed WAL
// syncs under load, a full disk, failed file creation, injected by
// FaultFileSystem; and a real full file system (a tmpfs this test mounts,
// where it may). In every case: no failed append is acknowledged, the codes
// are RESOURCE_EXHAUSTED for a full disk and UNAVAILABLE otherwise, the log
// takes appends again by itself once the fault is gone, and a reopen holds
// exactly the acknowledged events.
//
// Waits for the log to recover are bounded polling loops (the log recovers
// on its own timer, which no call exposes); none asserts on time.

#include <sys/mount.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "store/event_log.h"
#include "store/state_space.h"
#include "tests/common/eventually.h"
#include "tests/common/status_matchers.h"
#include "tests/store/fault_file_system.h"
#include "tests/store/read_everything.h"

namespace dealwire::store {
namespace {

namespace fs = std::filesystem;
using ::dealwire::test_util::Eventually;
using ::dealwire::test_util::ReadEverything;

using ::dealwire::test_util::FaultFileSystem;
using ::dealwire::test_util::StatusIs;
using ::dealwire::test_util::StatusIsWith;

ProposedEvent MakeEvent(std::string id, size_t data_bytes = 100) {
  ProposedEvent e;
  e.event_id = std::move(id);
  e.type = "TestEvent";
  e.data = std::string(data_bytes, 'd');
  return e;
}

// What the storage listener was told, in order.
class Listener {
 public:
  std::function<void(const absl::Status&)> Callback() {
    return [this](const absl::Status& s) {
      std::lock_guard l(mu_);
      told_.push_back(s);
    };
  }
  std::vector<absl::Status> told() const {
    std::lock_guard l(mu_);
    return told_;
  }

 private:
  mutable std::mutex mu_;
  std::vector<absl::Status> told_;
};

// Appenders that keep one 1-event append each in flight, recording which
// were acknowledged and how the others failed.
class Load {
 public:
  Load(EventLog* log, int threads) {
    for (int t = 0; t < threads; ++t) {
      threads_.emplace_back([this, log, t] {
        for (int i = 0; !stop_.load(); ++i) {
          const std::string id = absl::StrFormat("load-%d-%d", t, i);
          absl::StatusOr<AppendResult> r =
              log->Append(absl::StrCat("s/", t), ExpectedVersion::Any(), {MakeEvent(id)});
          std::lock_guard l(mu_);
          if (r.ok()) {
            acked_.insert(id);
          } else {
            failed_.insert(id);
            codes_.insert(r.status().code());
            if (!absl::IsUnavailable(r.status())) other_ = r.status();
          }
        }
      });
    }
  }
  ~Load() { Stop(); }

  void Stop() {
    stop_.store(true);
    for (std::thread& t : threads_) {
      if (t.joinable()) t.join();
    }
  }
  size_t acked() const {
    std::lock_guard l(mu_);
    return acked_.size();
  }
  size_t failed() const {
    std::lock_guard l(mu_);
    return failed_.size();
  }
  absl::flat_hash_set<std::string> acked_ids() const {
    std::lock_guard l(mu_);
    return acked_;
  }
  absl::flat_hash_set<std::string> failed_ids() const {
    std::lock_guard l(mu_);
    return failed_;
  }
  // A failure that was not UNAVAILABLE, or OK.
  absl::Status other() const {
    std::lock_guard l(mu_);
    return other_;
  }

 private:
  std::atomic<bool> stop_{false};
  std::vector<std::thread> threads_;
  mutable std::mutex mu_;
  absl::flat_hash_set<std::string> acked_;
  absl::flat_hash_set<std::string> failed_;
  absl::flat_hash_set<absl::StatusCode> codes_;
  absl::Status other_;
};

class StorageErrorsTest : public testing::Test {
 protected:
  void SetUp() override {
    static std::atomic<int> counter{0};
    dir_ = (fs::path(testing::TempDir()) /
            absl::StrFormat("dealwire_storage_errors_%d_%d", getpid(), counter++))
               .string();
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override {
    log_.reset();
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  Options FaultOptions() {
    Options o;
    o.file_system = fault_;
    o.recovery_interval = absl::Milliseconds(20);
    o.storage_listener = listener_.Callback();
    return o;
  }
  absl::Status Open(Options o) {
    absl::StatusOr<std::unique_ptr<EventLog>> log = OpenEventLog(dir_, std::move(o));
    if (!log.ok()) return log.status();
    log_ = *std::move(log);
    return absl::OkStatus();
  }
  // Closes the log and opens it again on the machine's file system, with
  // no faults; returns the ids it holds, checking positions are gap-free.
  absl::flat_hash_set<std::string> ReopenedIds() {
    EXPECT_OK(log_->Close());
    log_.reset();
    EXPECT_OK(Open(Options()));
    absl::StatusOr<std::vector<RecordedEvent>> all = ReadEverything(*log_);
    EXPECT_OK(all);
    absl::flat_hash_set<std::string> ids;
    if (!all.ok()) return ids;
    for (size_t i = 0; i < all->size(); ++i) {
      EXPECT_EQ((*all)[i].position.value(), i + 1) << "a gap in the reopened log";
      ids.insert((*all)[i].event_id);
    }
    EXPECT_EQ(ids.size(), all->size()) << "an event id twice in the reopened log";
    return ids;
  }
  // Appends one event until it is acknowledged; returns the last failure
  // when it never is.
  absl::Status AppendUntilAcked(const std::string& id) {
    absl::Status last;
    const bool acked = Eventually([&] {
      absl::StatusOr<AppendResult> r =
          log_->Append("s/after", ExpectedVersion::Any(), {MakeEvent(id)});
      last = r.status();
      return r.ok();
    });
    return acked ? absl::OkStatus() : last;
  }

  std::string dir_;
  std::shared_ptr<FaultFileSystem> fault_ = std::make_shared<FaultFileSystem>();
  Listener listener_;
  std::unique_ptr<EventLog> log_;
};

TEST_F(StorageErrorsTest, FailedWalSyncsUnderLoadAcknowledgeNothingAndTheReopenIsExact) {
  ASSERT_OK(Open(FaultOptions()));
  Load load(log_.get(), 8);
  ASSERT_TRUE(Eventually([&] { return load.acked() >= 300; })) << "no appends before the fault";

  fault_->FailWalSyncs(true);
  ASSERT_TRUE(Eventually([&] { return load.failed() >= 100; })) << "appends kept succeeding";
  // Reopens are tried while syncs still fail: their own synced write fails.
  const size_t acked_before = load.acked();
  ASSERT_TRUE(Eventually([&] { return fault_->wal_sync_failures() >= 3; }));
  fault_->FailWalSyncs(false);
  ASSERT_TRUE(Eventually([&] { return load.acked() >= acked_before + 300; }))
      << "the log did not take appends again";
  load.Stop();
  EXPECT_OK(load.other()) << "a failed append was not UNAVAILABLE";

  const std::vector<absl::Status> told = listener_.told();
  ASSERT_GE(told.size(), 2u);
  EXPECT_THAT(told.front(), StatusIsWith(absl::StatusCode::kUnavailable, "storage error"));
  EXPECT_OK(told.back());

  const absl::flat_hash_set<std::string> acked = load.acked_ids();
  const absl::flat_hash_set<std::string> in_log = ReopenedIds();
  EXPECT_EQ(in_log.size(), acked.size());
  for (const std::string& id : acked) EXPECT_TRUE(in_log.contains(id)) << id << " was lost";
  for (const std::string& id : load.failed_ids()) {
    EXPECT_FALSE(in_log.contains(id)) << id << " failed but is in the log";
  }
}

TEST_F(StorageErrorsTest, AFullDiskRefusesWithResourceExhaustedKeepsReadsAndResumes) {
  ASSERT_OK(Open(FaultOptions()));
  for (int i = 0; i < 50; ++i) {
    ASSERT_OK(log_->Append("s/before", ExpectedVersion::Any(), {MakeEvent(absl::StrCat("b", i))}));
  }
  fault_->FillDisk(true);
  EXPECT_THAT(log_->Append("s/full", ExpectedVersion::Any(), {MakeEvent("full-0")}),
              StatusIsWith(absl::StatusCode::kResourceExhausted, "disk is full"));
  // Still full: refused at once, the same way, while reads go on.
  for (int i = 1; i < 20; ++i) {
    EXPECT_THAT(
        log_->Append("s/full", ExpectedVersion::Any(), {MakeEvent(absl::StrCat("full-", i))}),
        StatusIsWith(absl::StatusCode::kResourceExhausted, "disk is full"));
  }
  absl::StatusOr<std::vector<RecordedEvent>> read = ReadEverything(*log_);
  ASSERT_OK(read);
  EXPECT_EQ(read->size(), 50u);
  EXPECT_THAT(log_->GetStreamVersion("s/full"), StatusIs(absl::StatusCode::kNotFound));

  fault_->FillDisk(false);
  ASSERT_OK(AppendUntilAcked("after-0"));
  ASSERT_OK(log_->Append("s/full", ExpectedVersion::NoStream(), {MakeEvent("full-0")}));

  const std::vector<absl::Status> told = listener_.told();
  ASSERT_EQ(told.size(), 2u);
  EXPECT_THAT(told[0], StatusIs(absl::StatusCode::kResourceExhausted));
  EXPECT_OK(told[1]);

  const absl::flat_hash_set<std::string> in_log = ReopenedIds();
  EXPECT_EQ(in_log.size(), 52u);
  EXPECT_TRUE(in_log.contains("after-0"));
  EXPECT_TRUE(in_log.contains("full-0"));
  EXPECT_FALSE(in_log.contains("full-1"));
}

TEST_F(StorageErrorsTest, NoMoreFilesFailsTheReopenWithUnavailableUntilFilesCanBeOpened) {
  ASSERT_OK(Open(FaultOptions()));
  ASSERT_OK(log_->Append("s/a", ExpectedVersion::Any(), {MakeEvent("a-0")}));
  // A failed sync, then no file can be created: the reopen cannot happen.
  fault_->FailWalSyncs(true);
  fault_->FailNewFiles(true);
  EXPECT_THAT(log_->Append("s/a", ExpectedVersion::Any(), {MakeEvent("a-1")}),
              StatusIs(absl::StatusCode::kUnavailable));
  ASSERT_TRUE(Eventually([&] { return fault_->new_file_failures() >= 2; }));
  fault_->FailWalSyncs(false);
  EXPECT_THAT(log_->Append("s/a", ExpectedVersion::Any(), {MakeEvent("a-2")}),
              StatusIsWith(absl::StatusCode::kUnavailable, "Too many open files"));
  fault_->FailNewFiles(false);
  ASSERT_OK(AppendUntilAcked("a-3"));

  const absl::flat_hash_set<std::string> in_log = ReopenedIds();
  EXPECT_EQ(in_log, (absl::flat_hash_set<std::string>{"a-0", "a-3"}));
}

// A real full file system: a tmpfs of 64 MiB mounted by the test.
class RealFullDiskTest : public StorageErrorsTest {
 protected:
  void SetUp() override {
    StorageErrorsTest::SetUp();
    base_ = dir_;
    mount_ = dir_ + "_mnt";
    fs::create_directories(mount_);
    if (mount("dealwire-test", mount_.c_str(), "tmpfs", 0, "size=64m") != 0) {
      const std::string why = std::strerror(errno);
      fs::remove_all(mount_);
      mount_.clear();
      GTEST_SKIP() << "cannot mount a tmpfs here (" << why << "); the full-disk case is covered "
                   << "with the fault-injecting file system only";
    }
    dir_ = mount_ + "/log";
  }
  void TearDown() override {
    log_.reset();
    if (!mount_.empty()) {
      umount2(mount_.c_str(), MNT_DETACH);
    }
    std::error_code ec;
    if (!mount_.empty()) fs::remove_all(mount_, ec);
    fs::remove_all(base_, ec);
  }
  // Fills the file system with `filler` until a write fails.
  void Fill(const std::string& filler) {
    std::ofstream out(filler, std::ios::binary);
    const std::string chunk(1 << 16, 'f');
    while (out.write(chunk.data(), chunk.size()) && out.flush()) {
    }
  }
  std::string base_;   // the per-test directory, removed at the end
  std::string mount_;
};

TEST_F(RealFullDiskTest, AFullFileSystemIsSurvivedAndLosesNothingAcknowledged) {
  Options o;
  o.recovery_interval = absl::Milliseconds(20);
  o.storage_listener = listener_.Callback();
  ASSERT_OK(Open(std::move(o)));
  absl::flat_hash_set<std::string> acked;
  for (int i = 0; i < 100; ++i) {
    const std::string id = absl::StrCat("before-", i);
    ASSERT_OK(log_->Append("s/x", ExpectedVersion::Any(), {MakeEvent(id, 1000)}));
    acked.insert(id);
  }
  Fill(mount_ + "/filler");
  // Appends of 64 KiB events go on until the disk is full, then are refused.
  absl::Status refused;
  for (int i = 0; i < 10000 && refused.ok(); ++i) {
    const std::string id = absl::StrCat("full-", i);
    absl::StatusOr<AppendResult> r =
        log_->Append("s/x", ExpectedVersion::Any(), {MakeEvent(id, 64 << 10)});
    if (r.ok()) {
      acked.insert(id);
    } else {
      refused = r.status();
    }
  }
  ASSERT_THAT(refused, StatusIsWith(absl::StatusCode::kResourceExhausted, "disk is full"));
  EXPECT_THAT(log_->Append("s/x", ExpectedVersion::Any(), {MakeEvent("still-full")}),
              StatusIs(absl::StatusCode::kResourceExhausted));
  absl::StatusOr<std::vector<RecordedEvent>> read = ReadEverything(*log_);
  ASSERT_OK(read) << "reads stop on a full disk";
  EXPECT_EQ(read->size(), acked.size());
  // The state space meets the same disk: its batches fail until it frees.
  auto state_batch = [](int i) {
    StateBatch b;
    b.Put(absl::StrCat("k", i), std::string(1 << 20, 's'));
    return b;
  };
  absl::Status state_refused;
  for (int i = 0; i < 200 && state_refused.ok(); ++i)
    state_refused = log_->state().Write(state_batch(i));
  EXPECT_THAT(state_refused, StatusIsWith(absl::StatusCode::kResourceExhausted, "disk is full"));

  fs::remove(mount_ + "/filler");
  ASSERT_OK(AppendUntilAcked("after-0"));
  acked.insert("after-0");
  absl::Status state_written;
  EXPECT_TRUE(Eventually([&] {
    return (state_written = log_->state().Write(state_batch(1000))).ok();
  })) << "the state space did not take writes again: "
      << state_written;
  absl::StatusOr<std::unique_ptr<StateSnapshot>> snapshot = log_->state().Snapshot();
  ASSERT_OK(snapshot);
  absl::StatusOr<std::optional<std::string>> got = (*snapshot)->Get("k1000");
  ASSERT_OK(got);
  EXPECT_TRUE(got->has_value());
  snapshot->reset();
  const std::vector<absl::Status> told = listener_.told();
  ASSERT_GE(told.size(), 2u);
  EXPECT_THAT(told.front(), StatusIs(absl::StatusCode::kResourceExhausted));
  EXPECT_OK(told.back());

  EXPECT_EQ(ReopenedIds(), acked);
}

}  // namespace
}  // namespace dealwire::store
