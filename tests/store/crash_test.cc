// Crash test of the event log's durability guarantee: an acknowledged append
// survives kill -9.
//
// For 20 rounds on the same directory, the test starts store_crash_child
// (DEALWIRE_CRASH_CHILD), which appends from 8 threads and prints
// "position event_id" for every acknowledged event; it reads those lines until
// a few came, keeps reading for a random 5–150 ms, kills the child with
// SIGKILL, keeps only complete lines, and then opens the log in-process and
// checks that every acknowledged event of every round so far is at its
// acknowledged position, that positions and stream versions are gap-free, and
// that each 3-event append is all there or not at all.
//
// The random seed is printed; set DEALWIRE_CRASH_SEED to replay a run's
// timings. Every wait is a poll() with a deadline, so the test cannot hang.

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "gtest/gtest.h"
#include "store/event_log.h"
#include "store/types.h"

extern char** environ;

namespace dealwire::store {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr int kRounds = 20;
// The child must acknowledge this many events before the random run time
// starts, so that every round kills a log under load.
constexpr size_t kMinAcksBeforeTimer = 5;
constexpr auto kRoundDeadline = std::chrono::seconds(30);

struct Ack {
  uint64_t position;
  std::string event_id;
};

// Kills and reaps the child on scope exit unless it was reaped already.
class ChildGuard {
 public:
  explicit ChildGuard(pid_t pid) : pid_(pid) {}
  ~ChildGuard() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      int status;
      waitpid(pid_, &status, 0);
    }
  }
  // Kills the child with SIGKILL (idempotent until reaped).
  void Kill() { kill(pid_, SIGKILL); }
  // Reaps the child and returns its wait status.
  int Reap() {
    int status = 0;
    while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    pid_ = -1;
    return status;
  }

 private:
  pid_t pid_;
};

class FdGuard {
 public:
  explicit FdGuard(int fd) : fd_(fd) {}
  ~FdGuard() {
    if (fd_ >= 0) close(fd_);
  }
  int get() const { return fd_; }

 private:
  int fd_;
};

enum class ReadOutcome { kData, kEof, kTimeout, kError };

// Waits up to `timeout` for data on `fd` and appends what comes to `*buf`.
ReadOutcome ReadSome(int fd, std::string* buf, Clock::duration timeout) {
  const int timeout_ms = static_cast<int>(std::max<int64_t>(
      0, std::chrono::duration_cast<std::chrono::milliseconds>(timeout).count()));
  pollfd p{fd, POLLIN, 0};
  int ready = poll(&p, 1, timeout_ms);
  if (ready < 0) return errno == EINTR ? ReadOutcome::kTimeout : ReadOutcome::kError;
  if (ready == 0) return ReadOutcome::kTimeout;
  char chunk[65536];
  ssize_t n = read(fd, chunk, sizeof chunk);
  if (n < 0) return errno == EINTR || errno == EAGAIN ? ReadOutcome::kData : ReadOutcome::kError;
  if (n == 0) return ReadOutcome::kEof;
  buf->append(chunk, static_cast<size_t>(n));
  return ReadOutcome::kData;
}

size_t CountLines(const std::string& buf) {
  return static_cast<size_t>(std::count(buf.begin(), buf.end(), '\n'));
}

std::string DescribeWaitStatus(int status) {
  if (WIFEXITED(status)) return absl::StrFormat("exited with status %d", WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return absl::StrFormat("killed by signal %d", WTERMSIG(status));
  return absl::StrFormat("wait status %#x", status);
}

// Runs the child on `dir` for a random while under load, kills it with
// SIGKILL, and stores its acknowledged events in `*acks`.
void RunAndKillChild(const std::string& dir, std::mt19937_64& rng, std::vector<Ack>* acks,
                     int* ran_ms) {
  int fds[2];
  ASSERT_EQ(pipe2(fds, O_CLOEXEC), 0) << std::strerror(errno);
  FdGuard read_end(fds[0]);
  std::optional<FdGuard> write_end(std::in_place, fds[1]);

  posix_spawn_file_actions_t actions;
  ASSERT_EQ(posix_spawn_file_actions_init(&actions), 0);
  // dup2 clears close-on-exec on the child's stdout only.
  ASSERT_EQ(posix_spawn_file_actions_adddup2(&actions, fds[1], 1), 0);
  std::string child_path = DEALWIRE_CRASH_CHILD;
  std::string dir_arg = dir;
  char* argv[] = {child_path.data(), dir_arg.data(), nullptr};
  pid_t pid = -1;
  const int spawned = posix_spawn(&pid, child_path.c_str(), &actions, nullptr, argv, environ);
  posix_spawn_file_actions_destroy(&actions);
  ASSERT_EQ(spawned, 0) << "posix_spawn " << child_path << ": " << std::strerror(spawned);
  ChildGuard child(pid);
  write_end.reset();  // Only the child writes; EOF comes when it is dead.

  const Clock::time_point deadline = Clock::now() + kRoundDeadline;
  std::string out;
  // Wait until the child acknowledged a few events.
  while (CountLines(out) < kMinAcksBeforeTimer) {
    const Clock::time_point now = Clock::now();
    ASSERT_LT(now, deadline) << "the child acknowledged only " << CountLines(out)
                             << " events in 30 s";
    ReadOutcome r = ReadSome(read_end.get(), &out, deadline - now);
    ASSERT_NE(r, ReadOutcome::kError) << std::strerror(errno);
    if (r == ReadOutcome::kEof) {
      FAIL() << "the child stopped before acknowledging " << kMinAcksBeforeTimer
             << " events: " << DescribeWaitStatus(child.Reap());
    }
  }
  // Let it run for a random while, reading all the time.
  std::uniform_int_distribution<int> run_ms(5, 150);
  *ran_ms = run_ms(rng);
  const Clock::time_point kill_at = Clock::now() + std::chrono::milliseconds(*ran_ms);
  for (Clock::time_point now = Clock::now(); now < kill_at; now = Clock::now()) {
    ReadOutcome r = ReadSome(read_end.get(), &out, kill_at - now);
    ASSERT_NE(r, ReadOutcome::kError) << std::strerror(errno);
    if (r == ReadOutcome::kEof) {
      FAIL() << "the child stopped by itself: " << DescribeWaitStatus(child.Reap());
    }
  }
  child.Kill();
  // Drain what it acknowledged before dying.
  for (;;) {
    const Clock::time_point now = Clock::now();
    ASSERT_LT(now, deadline) << "no EOF from the killed child";
    ReadOutcome r = ReadSome(read_end.get(), &out, deadline - now);
    ASSERT_NE(r, ReadOutcome::kError) << std::strerror(errno);
    if (r == ReadOutcome::kEof) break;
  }
  const int status = child.Reap();
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << DescribeWaitStatus(status);

  // Only complete lines were acknowledged.
  out.resize(out.rfind('\n') + 1);
  for (absl::string_view line : absl::StrSplit(out, '\n', absl::SkipEmpty())) {
    std::vector<absl::string_view> fields = absl::StrSplit(line, ' ');
    uint64_t position = 0;
    ASSERT_EQ(fields.size(), 2u) << "bad line: " << line;
    ASSERT_TRUE(absl::SimpleAtoi(fields[0], &position)) << "bad line: " << line;
    acks->push_back(Ack{position, std::string(fields[1])});
  }
}

// Parses "<prefix>-<index>of<count>"; returns false for other ids.
bool ParseId(absl::string_view id, absl::string_view* prefix, int* index, int* count) {
  const size_t dash = id.rfind('-');
  if (dash == absl::string_view::npos) return false;
  const size_t of = id.find("of", dash);
  if (of == absl::string_view::npos) return false;
  *prefix = id.substr(0, dash);
  return absl::SimpleAtoi(id.substr(dash + 1, of - dash - 1), index) &&
         absl::SimpleAtoi(id.substr(of + 2), count);
}

// Opens the log at `dir` and checks it against every acknowledged event.
// Returns the number of events in the log.
void VerifyLog(const std::string& dir, const std::vector<Ack>& all_acks,
               const std::vector<Ack>& round_acks, uint64_t* events_found) {
  Options options;
  options.create_if_missing = false;
  absl::StatusOr<std::unique_ptr<EventLog>> opened = OpenEventLog(dir, options);
  ASSERT_TRUE(opened.ok()) << opened.status();
  EventLog& log = **opened;

  const uint64_t last = log.LastPosition().value();
  std::vector<RecordedEvent> events;
  std::optional<Position> from;
  for (;;) {
    absl::StatusOr<std::vector<RecordedEvent>> page =
        log.ReadAll(Direction::kForwards, from, 5000);
    ASSERT_TRUE(page.ok()) << page.status();
    if (page->empty()) break;
    from = page->back().position.next();
    for (RecordedEvent& e : *page) events.push_back(std::move(e));
    ASSERT_LE(events.size(), last) << "ReadAll returns more than LastPosition";
  }
  *events_found = events.size();

  // Positions are gap-free from 1 to LastPosition.
  ASSERT_EQ(events.size(), last);
  for (size_t i = 0; i < events.size(); ++i) {
    ASSERT_EQ(events[i].position.value(), i + 1) << "gap or disorder at index " << i;
  }

  // Stream versions are gap-free; ids are unique.
  absl::flat_hash_map<std::string, uint64_t> next_version;
  absl::flat_hash_map<std::string, uint64_t> position_of;
  for (const RecordedEvent& e : events) {
    uint64_t& next = next_version[e.stream];
    ASSERT_EQ(e.stream_version.value(), next)
        << "stream " << e.stream << " at position " << e.position.value();
    ++next;
    ASSERT_TRUE(position_of.emplace(e.event_id, e.position.value()).second)
        << "id " << e.event_id << " twice";
  }
  for (const auto& [stream, n] : next_version) {
    absl::StatusOr<StreamVersion> v = log.GetStreamVersion(stream);
    ASSERT_TRUE(v.ok()) << stream << ": " << v.status();
    EXPECT_EQ(v->value(), n - 1) << stream;
  }

  // A multi-event append is there completely, in order, or not at all.
  for (size_t i = 0; i < events.size(); ++i) {
    absl::string_view prefix;
    int index = 0;
    int count = 0;
    ASSERT_TRUE(ParseId(events[i].event_id, &prefix, &index, &count)) << events[i].event_id;
    ASSERT_LE(static_cast<size_t>(index), i) << events[i].event_id;
    ASSERT_LE(i - index + count, events.size()) << "torn append at " << events[i].event_id;
    for (int k = 0; k < count; ++k) {
      const RecordedEvent& sibling = events[i - index + k];
      ASSERT_EQ(sibling.event_id, absl::StrFormat("%s-%dof%d", prefix, k, count))
          << "torn append around position " << events[i].position.value();
      ASSERT_EQ(sibling.stream, events[i].stream);
    }
  }

  // Every acknowledged event of every round is at its acknowledged position.
  for (const Ack& a : all_acks) {
    ASSERT_GE(a.position, 1u);
    ASSERT_LE(a.position, last) << "acknowledged event " << a.event_id << " at " << a.position
                                << " is beyond the last position";
    ASSERT_EQ(events[a.position - 1].event_id, a.event_id)
        << "acknowledged at position " << a.position;
  }
  // The id index was recovered too.
  for (const Ack& a : round_acks) {
    absl::StatusOr<Position> p = log.FindEvent(a.event_id);
    ASSERT_TRUE(p.ok()) << a.event_id << ": " << p.status();
    ASSERT_EQ(p->value(), a.position) << a.event_id;
  }
  absl::Status closed = log.Close();
  ASSERT_TRUE(closed.ok()) << closed;
}

uint64_t ChooseSeed() {
  if (const char* s = std::getenv("DEALWIRE_CRASH_SEED"); s != nullptr) {
    uint64_t seed = 0;
    if (absl::SimpleAtoi(s, &seed)) return seed;
  }
  return (uint64_t{std::random_device()()} << 32) ^ std::random_device()();
}

TEST(CrashTest, AcknowledgedAppendsSurviveSigkill) {
  const uint64_t seed = ChooseSeed();
  std::cout << "crash test seed: " << seed << " (DEALWIRE_CRASH_SEED=" << seed
            << " replays the run times)" << std::endl;
  RecordProperty("seed", std::to_string(seed));
  std::mt19937_64 rng(seed);

  const std::string dir =
      (fs::path(testing::TempDir()) / absl::StrFormat("dealwire_crash_test_%d", getpid()))
          .string();
  fs::remove_all(dir);
  struct DirCleanup {
    std::string dir;
    ~DirCleanup() {
      std::error_code ec;
      fs::remove_all(dir, ec);
    }
  } cleanup{dir};

  std::vector<Ack> all_acks;
  uint64_t events_found = 0;
  uint64_t previous_found = 0;
  for (int round = 0; round < kRounds; ++round) {
    SCOPED_TRACE(absl::StrFormat("round %d (seed %d)", round, seed));
    std::vector<Ack> round_acks;
    int ran_ms = 0;
    ASSERT_NO_FATAL_FAILURE(RunAndKillChild(dir, rng, &round_acks, &ran_ms));
    all_acks.insert(all_acks.end(), round_acks.begin(), round_acks.end());
    ASSERT_NO_FATAL_FAILURE(VerifyLog(dir, all_acks, round_acks, &events_found));
    ASSERT_GE(events_found, previous_found + round_acks.size());
    std::cout << absl::StrFormat(
                     "round %2d: ran %3d ms after first acks, acked %5d, log has %7d events "
                     "(+%d, %d committed but not acknowledged)",
                     round, ran_ms, round_acks.size(), events_found,
                     events_found - previous_found,
                     events_found - previous_found - round_acks.size())
              << std::endl;
    previous_found = events_found;
  }
  std::cout << absl::StrFormat("crash test totals: rounds=%d acked_events=%d events_found=%d",
                               kRounds, all_acks.size(), events_found)
            << std::endl;
}

}  // namespace
}  // namespace dealwire::store
