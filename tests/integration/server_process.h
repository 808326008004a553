// tests/integration/server_process.h — runs the real `dealwired` binary as a
// child process for integration tests.
//
//   TempDir dir("append");
//   ASSERT_OK_AND_ASSIGN(std::unique_ptr<ServerProcess> server,
//                        ServerProcess::Start(options));  // options.data_dir = dir.path()
//   auto stub = dealwire::v1::EventStore::NewStub(server->Channel());
//   ...
//   ASSERT_OK_AND_ASSIGN(ProcessExit exit, server->Stop());  // SIGTERM
//   EXPECT_EQ(exit.exit_code, 0);
//
// Start() spawns the binary with posix_spawn on `--listen 127.0.0.1:0`, reads
// its stderr through a pipe until the `started` line (bounded by a deadline),
// takes the real port from that line and waits until grpc.health.v1 reports
// SERVING. From then on a background thread drains the pipe, so the server
// never blocks on a full pipe; the lines are echoed to the test's stderr and
// the last ones kept for failure messages. A ServerProcess that is destroyed
// while its child still runs kills it (SIGKILL), so no server outlives its
// test, also when the test fails.
//
// Thread-safety: the const methods may be called from any thread; Channel(),
// Stop() and Kill() from one thread at a time (the test's).
#pragma once

#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "grpcpp/channel.h"

namespace dealwire::integration {

// Returns the path of the dealwired binary under test (the DEALWIRED_PATH
// compile definition of this library).
const std::string& DealwiredPath();

// How a child process ended.
struct ProcessExit {
  // True when the process called exit (then `exit_code` is set); false when a
  // signal ended it (then `signal` is set).
  bool exited = false;
  int exit_code = -1;
  int signal = 0;

  // What the process wrote: its stderr (the last kMaxKeptLines lines) for a
  // ServerProcess, its stdout and stderr for ServerProcess::Run.
  std::string output;

  // Returns e.g. "exit code 1" or "killed by signal 9 (Killed)".
  std::string Describe() const;
};

// A temporary directory under testing::TempDir(), unique per process and
// call, removed with its contents on destruction.
class TempDir {
 public:
  // Creates "<TempDir>/dealwire_<tag>_<pid>_<n>".
  explicit TempDir(absl::string_view tag);
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  // Absolute path of the directory.
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

class ServerProcess {
 public:
  struct Options {
    // The server's data directory. Required.
    std::string data_dir;

    // The --listen argument. Default: "127.0.0.1:0" (the OS picks the port).
    std::string listen = "127.0.0.1:0";

    // More arguments appended to the command line. Default: none.
    std::vector<std::string> extra_args;

    // Bound on the start: the `started` line and health SERVING must both
    // come within it. Default: 30 s.
    absl::Duration start_timeout = absl::Seconds(30);

    // Echo the server's stderr lines to the test's stderr, prefixed with
    // "[dealwired <pid>] ". Default: true.
    bool echo_stderr = true;
  };

  // Starts dealwired and returns once it serves (health SERVING).
  //
  // Fails with DEADLINE_EXCEEDED when the started line or SERVING does not
  // come within options.start_timeout (the child is killed), with
  // FAILED_PRECONDITION when the child exits before it started or prints a
  // started line without a port, and with INTERNAL when it cannot be
  // spawned. The message carries the child's stderr.
  static absl::StatusOr<std::unique_ptr<ServerProcess>> Start(Options options);

  // Runs dealwired with `args` (no --data-dir or --listen are added) until it
  // exits, with stdin on /dev/null and stdout and stderr captured together. Fails with
  // DEADLINE_EXCEEDED (after SIGKILL) when it runs longer than `timeout`.
  static absl::StatusOr<ProcessExit> Run(const std::vector<std::string>& args,
                                         absl::Duration timeout);

  // Kills the child (SIGKILL) when it still runs, and joins the drain thread.
  ~ServerProcess();
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  // "127.0.0.1:<port>", the address the server reported as bound.
  const std::string& address() const { return address_; }
  int port() const { return port_; }
  pid_t pid() const { return pid_; }
  const std::string& data_dir() const { return options_.data_dir; }

  // The exact `started` line the server printed (without the newline).
  const std::string& started_line() const { return started_line_; }

  // Returns a channel to the server, shared by every caller; nullptr once
  // Stop() or Kill() was called.
  std::shared_ptr<grpc::Channel> Channel() const { return channel_; }

  // Returns a new channel with its own TCP connection (a local subchannel
  // pool), e.g. for a subscriber whose flow control must not affect others.
  std::shared_ptr<grpc::Channel> NewChannel() const;
  // Like NewChannel, but the connection keeps each call's HTTP/2 receive
  // window at its initial 64 KiB (no BDP probing): a call whose client does
  // not read then stops the server after 64 KiB, as a slow reader would.
  std::shared_ptr<grpc::Channel> NewFixedWindowChannel() const;

  // Releases this object's channel (not the copies callers hold), sends
  // SIGTERM and waits up to `timeout` for the child to exit; returns
  // how it ended, with its whole stderr tail. When it does not exit in time
  // it is killed and DEADLINE_EXCEEDED returned. FAILED_PRECONDITION when it
  // was already stopped or killed.
  absl::StatusOr<ProcessExit> Stop(absl::Duration timeout = absl::Seconds(30));

  // Sends SIGKILL and waits up to `timeout` for the child to be reaped.
  absl::StatusOr<ProcessExit> Kill(absl::Duration timeout = absl::Seconds(10));

  // True until Stop() or Kill() has reaped the child.
  bool running() const;

  // Returns the child's resident set size (VmRSS of /proc/<pid>/status).
  absl::StatusOr<int64_t> RssBytes() const;

  // Returns the stderr lines read so far (at most the last kMaxKeptLines).
  std::vector<std::string> StderrLines() const;

  // Returns the last `n` stderr lines, joined with newlines.
  std::string StderrTail(size_t n = 40) const;

  static constexpr size_t kMaxKeptLines = 2000;

 private:
  explicit ServerProcess(Options options);

  // Sends `signal` and reaps the child within `timeout`.
  absl::StatusOr<ProcessExit> SignalAndWait(int signal, absl::Duration timeout);

  // Adds one line (without newline) to the kept lines and echoes it.
  void AddLine(std::string line);

  // Appends `text` to the partial line and returns the lines it completes
  // (all of them at EOF).
  std::vector<std::string> TakeLines(absl::string_view text, bool eof);

  // The drain thread: reads stderr_fd_ until EOF.
  void Drain();

  Options options_;
  pid_t pid_ = -1;
  int stderr_fd_ = -1;  // read end of the child's stderr pipe
  std::string address_;
  int port_ = 0;
  std::string started_line_;
  std::shared_ptr<grpc::Channel> channel_;
  std::thread drain_thread_;
  std::optional<ProcessExit> exit_;  // set once reaped
  std::atomic<bool> reaped_{false};   // exit_.has_value(), for running()

  mutable absl::Mutex mu_;
  std::deque<std::string> lines_ ABSL_GUARDED_BY(mu_);
  std::string partial_ ABSL_GUARDED_BY(mu_);  // text after the last newline
};

}  // namespace dealwire::integration
