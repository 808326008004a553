// Integration tests of the dealwired process itself: its command line, the
// started and stopped lines, start failures (a second server on the same data
// directory, a port in use), graceful shutdown (SIGTERM) and kill -9 under
// load, after which every acknowledged append must be readable, gap-free.

#include <signal.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <iostream>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/test_util.h"

namespace dealwire::integration {
namespace {

using ::testing::AnyOf;
using ::testing::ElementsAreArray;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;

using Strings = std::vector<std::string>;

class LifecycleTest : public ServerTest {};

// Returns the lines of `lines` that fully match `pattern`.
Strings Matching(const Strings& lines, const std::regex& pattern) {
  Strings out;
  for (const std::string& line : lines) {
    if (std::regex_match(line, pattern)) out.push_back(line);
  }
  return out;
}

// Escapes `s` for use in a std::regex.
std::string RegexEscape(const std::string& s) {
  static const std::regex special(R"([.^$|()\[\]{}*+?\\])");
  return std::regex_replace(s, special, R"(\$&)");
}

TEST_F(LifecycleTest, StartedAndStoppedLinesHaveTheDocumentedFormat) {
  std::smatch m;
  const std::string& started = server().started_line();
  const std::regex started_re(
      R"(dealwired (\S+) started data_dir=(\S+) listen=127\.0\.0\.1:(\d+) pid=(\d+))");
  ASSERT_TRUE(std::regex_match(started, m, started_re)) << started;
  const std::string version = m[1];
  EXPECT_EQ(m[2], data_dir());
  EXPECT_EQ(m[3], std::to_string(server().port()));
  EXPECT_NE(server().port(), 0);
  EXPECT_EQ(m[4], std::to_string(server().pid()));
  EXPECT_THAT(Matching(server().StderrLines(), std::regex(R"(dealwired .* started .*)")),
              SizeIs(1))
      << "exactly one started line";

  const int port = server().port();
  const std::string dir = data_dir();
  StopServer();
  const std::regex stopped_re("dealwired " + RegexEscape(version) + " stopped data_dir=" +
                              RegexEscape(dir) + " listen=127\\.0\\.0\\.1:" +
                              std::to_string(port) + "( .*)?");
  EXPECT_THAT(Matching(server().StderrLines(), stopped_re), SizeIs(1))
      << "no stopped line like 'dealwired " << version << " stopped data_dir=" << dir
      << " listen=127.0.0.1:" << port << "' in:\n"
      << server().StderrTail();
}

TEST_F(LifecycleTest, HelpAndVersionExitZero) {
  const std::regex version_re(R"(dealwired (\S+) started .*)");
  std::smatch m;
  ASSERT_TRUE(std::regex_match(server().started_line(), m, version_re));
  const std::string version = m[1];

  ASSERT_OK_AND_ASSIGN(ProcessExit help, ServerProcess::Run({"--help"}, absl::Seconds(30)));
  EXPECT_TRUE(help.exited && help.exit_code == 0) << help.Describe() << "\n" << help.output;
  EXPECT_THAT(help.output, HasSubstr("--data-dir"));
  EXPECT_THAT(help.output, HasSubstr("--listen"));

  ASSERT_OK_AND_ASSIGN(ProcessExit ver, ServerProcess::Run({"--version"}, absl::Seconds(30)));
  EXPECT_TRUE(ver.exited && ver.exit_code == 0) << ver.Describe() << "\n" << ver.output;
  EXPECT_THAT(ver.output, HasSubstr(version));
}

TEST_F(LifecycleTest, SecondServerOnTheSameDataDirFailsFast) {
  ASSERT_FALSE(RegisterOrg().empty());
  ASSERT_OK_AND_ASSIGN(
      ProcessExit second,
      ServerProcess::Run({"--data-dir", data_dir(), "--listen", "127.0.0.1:0"}, absl::Seconds(30)));
  EXPECT_TRUE(second.exited && second.exit_code == 1) << second.Describe() << "\n" << second.output;
  EXPECT_THAT(second.output, HasSubstr("already open"));
  EXPECT_THAT(second.output, testing::Not(HasSubstr(" started "))) << second.output;

  // The first server is unharmed.
  ASSERT_FALSE(RegisterOrg().empty());
  ASSERT_OK_AND_ASSIGN(std::vector<v1::Event> log, ReadWholeLog(stub()));
  EXPECT_THAT(PositionsOf(log), ElementsAreArray({1u, 2u}));
}

TEST_F(LifecycleTest, PortInUseIsAStartFailure) {
  // The port is taken by this test's server. A second server must not share
  // it (e.g. through SO_REUSEPORT): the kernel would split the clients
  // between two logs.
  TempDir other("other_server");
  ASSERT_OK_AND_ASSIGN(ProcessExit busy,
                       ServerProcess::Run({"--data-dir", other.path(), "--listen", server().address()},
                                          absl::Seconds(15)));
  EXPECT_TRUE(busy.exited && busy.exit_code == 1) << busy.Describe() << "\n" << busy.output;
  EXPECT_FALSE(busy.output.empty());
  EXPECT_THAT(busy.output, testing::Not(HasSubstr(" started ")));
}

TEST_F(LifecycleTest, DataDirThatIsAFileIsAStartFailure) {
  TempDir other("not_a_dir");
  const std::string file = other.path() + "/not-a-directory";
  {
    FILE* f = fopen(file.c_str(), "w");
    ASSERT_NE(f, nullptr);
    fputs("x", f);
    fclose(f);
  }
  ASSERT_OK_AND_ASSIGN(ProcessExit bad_dir,
                       ServerProcess::Run({"--data-dir", file, "--listen", "127.0.0.1:0"},
                                          absl::Seconds(15)));
  EXPECT_TRUE(bad_dir.exited && bad_dir.exit_code == 1)
      << bad_dir.Describe() << "\n" << bad_dir.output;
  EXPECT_THAT(bad_dir.output, HasSubstr(file));
  EXPECT_THAT(bad_dir.output, testing::Not(HasSubstr(" started ")));
}

// The memory budgets are flags, shown by --help; a value out of range is
// refused naming the flag, and a server with small budgets serves.
TEST_F(LifecycleTest, MemoryBudgetsAreFlagsAndBadValuesAreRefused) {
  ASSERT_OK_AND_ASSIGN(ProcessExit help, ServerProcess::Run({"--help"}, absl::Seconds(30)));
  for (const char* flag : {"--block-cache-bytes", "--memtable-bytes", "--cap-table-cache-bytes",
                           "--decider-cache-bytes"}) {
    EXPECT_THAT(help.output, HasSubstr(flag));
  }
  TempDir other("budgets");
  ASSERT_OK_AND_ASSIGN(ProcessExit bad,
                       ServerProcess::Run({"--data-dir", other.path(), "--memtable-bytes", "1024"},
                                          absl::Seconds(15)));
  EXPECT_FALSE(bad.exited && bad.exit_code == 0) << bad.Describe() << "\n" << bad.output;
  EXPECT_THAT(bad.output, HasSubstr("--memtable-bytes"));
  EXPECT_THAT(bad.output, testing::Not(HasSubstr(" started ")));

  ServerProcess::Options options;
  options.data_dir = other.path();
  options.extra_args = {"--block-cache-bytes", "8388608", "--memtable-bytes", "16777216",
                        "--cap-table-cache-bytes", "0"};
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<ServerProcess> small, ServerProcess::Start(options));
  EXPECT_THAT(small->started_line(), HasSubstr(" started "));
}

TEST_F(LifecycleTest, UnknownFlagIsRefused) {
  TempDir other("unknown_flag");
  ASSERT_OK_AND_ASSIGN(ProcessExit unknown,
                       ServerProcess::Run({"--data-dir", other.path(), "--no-such-flag"},
                                          absl::Seconds(15)));
  EXPECT_FALSE(unknown.exited && unknown.exit_code == 0)
      << unknown.Describe() << "\n" << unknown.output;
  EXPECT_THAT(unknown.output, HasSubstr("--no-such-flag"));
  EXPECT_THAT(unknown.output, testing::Not(HasSubstr(" started ")));
}

// --- Shutdown and crash under load ----------------------------------------------------

// Appends from several threads until told to stop or until a call fails.
// Records every acknowledged append and every attempted event id, so that
// after a restart the log can be checked against the acks.
class Load {
 public:
  static constexpr int kEventsPerAppend = 5;

  Load(ServerProcess& server, int threads) {
    std::shared_ptr<grpc::Channel> channel = server.Channel();
    for (int t = 0; t < threads; ++t) {
      threads_.emplace_back([this, channel] { Run(channel); });
    }
  }
  ~Load() { Join(); }

  // Waits until `n` appends are acked (or a thread failed); false on timeout.
  bool WaitForAcks(size_t n, absl::Duration timeout) {
    absl::MutexLock lock(&mu_);
    const auto enough = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return acks_.size() >= n || !unexpected_.empty();
    };
    return mu_.AwaitWithTimeout(absl::Condition(&enough), timeout) && unexpected_.empty();
  }

  void Join() {
    stop_ = true;
    for (std::thread& t : threads_) {
      if (t.joinable()) t.join();
    }
  }

  struct Ack {
    Strings ids;
    uint64_t first_position;
    uint64_t last_position;
  };
  std::vector<Ack> acks() {
    absl::MutexLock lock(&mu_);
    return acks_;
  }
  // Event ids of appends that failed (their outcome is unknown).
  std::vector<Strings> failed() {
    absl::MutexLock lock(&mu_);
    return failed_;
  }
  // Failures with a code other than UNAVAILABLE or CANCELLED.
  Strings unexpected() {
    absl::MutexLock lock(&mu_);
    return unexpected_;
  }
  absl::flat_hash_map<std::string, int> failure_codes() {
    absl::MutexLock lock(&mu_);
    return failure_codes_;
  }

 private:
  void Run(std::shared_ptr<grpc::Channel> channel) {
    std::unique_ptr<v1::EventStore::Stub> stub = v1::EventStore::NewStub(channel);
    const std::string org = NewOrgId("load");
    bool registered = false;
    for (int i = 0; !stop_ && i < 1000000; ++i) {
      std::vector<v1::Event> events;
      if (!registered) events.push_back(OrgRegistered(org));
      while (events.size() < kEventsPerAppend) {
        events.push_back(OrgUpdated(org, absl::StrCat("load append ", i, ".", events.size())));
      }
      Strings ids = IdsOf(events);
      absl::StatusOr<v1::AppendResponse> r =
          Append(*stub, OrgStream(org), std::move(events), std::nullopt, absl::Seconds(20));
      absl::MutexLock lock(&mu_);
      if (r.ok()) {
        registered = true;
        acks_.push_back({std::move(ids), r->first_position(), r->last_position()});
        continue;
      }
      ++failure_codes_[absl::StatusCodeToString(r.status().code())];
      failed_.push_back(std::move(ids));
      if (r.status().code() != absl::StatusCode::kUnavailable &&
          r.status().code() != absl::StatusCode::kCancelled) {
        unexpected_.push_back(r.status().ToString());
      }
      return;  // the server is going away; later appends would only fail
    }
  }

  std::atomic<bool> stop_{false};
  std::vector<std::thread> threads_;
  absl::Mutex mu_;
  std::vector<Ack> acks_ ABSL_GUARDED_BY(mu_);
  std::vector<Strings> failed_ ABSL_GUARDED_BY(mu_);
  Strings unexpected_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, int> failure_codes_ ABSL_GUARDED_BY(mu_);
};

// Checks the log after a restart against `load`: positions 1..N gap-free;
// every acked append at its acked positions; each failed append entirely
// present or entirely absent; no event that was never sent.
void CheckLogAgainstLoad(v1::EventStore::Stub& stub, Load& load) {
  v1::ReadAllRequest request;
  request.set_page_size(1000);
  ASSERT_OK_AND_ASSIGN(std::vector<v1::Event> log, ReadWholeLog(stub, request));
  ASSERT_THAT(PositionsOf(log), ElementsAreArray(Range(1, log.size())))
      << "the log is not gap-free from 1";
  absl::flat_hash_map<std::string, uint64_t> position_of;
  for (const v1::Event& e : log) position_of[e.event_id()] = e.position();

  const std::vector<Load::Ack> acks = load.acks();
  size_t lost = 0;
  for (const Load::Ack& ack : acks) {
    ASSERT_EQ(ack.last_position - ack.first_position + 1, ack.ids.size());
    for (size_t i = 0; i < ack.ids.size(); ++i) {
      auto it = position_of.find(ack.ids[i]);
      if (it == position_of.end()) {
        ++lost;
        ADD_FAILURE() << "acked event " << ack.ids[i] << " (position "
                      << ack.first_position + i << ") is missing after the restart";
        continue;
      }
      EXPECT_EQ(it->second, ack.first_position + i) << ack.ids[i];
    }
  }
  size_t failed_present = 0;
  for (const Strings& ids : load.failed()) {
    size_t present = 0;
    for (const std::string& id : ids) present += position_of.contains(id) ? 1 : 0;
    EXPECT_TRUE(present == 0 || present == ids.size())
        << "a failed append is partly stored: " << present << " of " << ids.size();
    if (present == ids.size()) ++failed_present;
  }
  const size_t accounted = (acks.size() + failed_present) * Load::kEventsPerAppend;
  EXPECT_EQ(log.size(), accounted) << "the log holds events of no append";
  std::cout << "after restart: " << log.size() << " events; " << acks.size()
            << " appends acked, " << load.failed().size() << " failed (" << failed_present
            << " of them stored anyway), " << lost << " acked events lost" << std::endl;
}

TEST_F(LifecycleTest, GracefulShutdownKeepsEveryAckedAppendAndEndsSubscribers) {
  Subscription live(server().Channel(), FromEnd());
  Subscription from_start(server().Channel(), FromStart());
  Received live_got, from_start_got;
  ASSERT_OK(ReadUntil(live, &live_got, HasCaughtUp(), absl::Seconds(30)));
  ASSERT_OK(ReadUntil(from_start, &from_start_got, HasCaughtUp(), absl::Seconds(30)));

  Load load(server(), 8);
  ASSERT_TRUE(load.WaitForAcks(300, absl::Seconds(60))) << absl::StrJoin(load.unexpected(), "\n");
  StopServer();  // SIGTERM while the appenders run; exit 0 and the stopped line
  load.Join();
  EXPECT_THAT(load.unexpected(), IsEmpty());
  for (const auto& [code, n] : load.failure_codes()) {
    std::cout << "appends failing at shutdown: " << n << " " << code << std::endl;
  }

  // Live subscribers end with UNAVAILABLE.
  for (Subscription* sub : {&live, &from_start}) {
    std::optional<absl::Status> end = sub->WaitForEnd(absl::Seconds(30));
    ASSERT_TRUE(end.has_value()) << "a subscription still runs after the server stopped";
    EXPECT_THAT(*end, StatusIs(absl::StatusCode::kUnavailable));
  }

  StartServer();
  ASSERT_NE(server_, nullptr);
  CheckLogAgainstLoad(stub(), load);
  // The log goes on after the restart.
  ASSERT_OK_AND_ASSIGN(v1::ReadAllResponse end, ReadAll(stub(), v1::ReadAllRequest()));
  const std::string org = RegisterOrg();
  ASSERT_OK_AND_ASSIGN(std::vector<v1::Event> log, ReadWholeLog(stub()));
  ASSERT_FALSE(log.empty());
  EXPECT_EQ(log.back().position(), end.last_position() + 1);
}

TEST_F(LifecycleTest, KillNineUnderLoadLosesNoAckedAppend) {
  Subscription live(server().Channel(), FromEnd());
  Received live_got;
  ASSERT_OK(ReadUntil(live, &live_got, HasCaughtUp(), absl::Seconds(30)));

  Load load(server(), 8);
  ASSERT_TRUE(load.WaitForAcks(300, absl::Seconds(60))) << absl::StrJoin(load.unexpected(), "\n");
  ASSERT_OK_AND_ASSIGN(ProcessExit killed, server().Kill());
  EXPECT_EQ(killed.signal, SIGKILL) << killed.Describe();
  load.Join();
  EXPECT_THAT(load.unexpected(), IsEmpty());
  std::optional<absl::Status> end = live.WaitForEnd(absl::Seconds(30));
  ASSERT_TRUE(end.has_value()) << "a subscription still runs after the server was killed";
  EXPECT_THAT(*end, StatusIs(absl::StatusCode::kUnavailable));

  StartServer();
  ASSERT_NE(server_, nullptr);
  CheckLogAgainstLoad(stub(), load);
}

}  // namespace
}  // namespace dealwire::integration
