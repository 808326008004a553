// tests/cli/cli_runner.h — runs the real `dealwire` binary as a child process
// for end-to-end tests.
//
//   CliResult r = RunCli({"--server", server->address(), "cap-table", "openai"});
//   EXPECT_EQ(r.exit_code, 0) << r.err;
//   EXPECT_THAT(r.out, HasSubstr("Microsoft"));
//
//   CliProcess tail({"--server", addr, "tail", "--org", "openai"});
//   ASSERT_TRUE(tail.WaitForOutput("caught up", absl::Seconds(10)));
//   tail.Interrupt();                       // SIGINT, as Ctrl-C
//   CliResult end = tail.Wait(absl::Seconds(10));
//
// Children get a clean environment: PATH, HOME, plus `env` ("NAME=value");
// DEALWIRE_SERVER and NO_COLOR are not inherited from the test's own
// environment. stdout and stderr are pipes (so never a TTY: no colour, no
// progress bar) unless stated otherwise.
#pragma once

#include <sys/types.h>

#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace dealwire::cli_test {

// Path of the dealwire binary under test (DEALWIRE_CLI_PATH).
const std::string& CliPath();

struct CliResult {
  int exit_code = -1;  // -1 when killed by a signal
  int signal = 0;
  std::string out;  // stdout
  std::string err;  // stderr
};

// Runs dealwire with `args`, feeding `stdin_text` to its stdin, and returns
// when it exits. Kills it (SIGKILL) after `timeout`; exit_code is then -1.
CliResult RunCli(const std::vector<std::string>& args, const std::vector<std::string>& env = {},
                 const std::string& stdin_text = "", absl::Duration timeout = absl::Seconds(60));

// A dealwire child that keeps running (tail): its output is collected in the
// background.
class CliProcess {
 public:
  explicit CliProcess(const std::vector<std::string>& args,
                      const std::vector<std::string>& env = {});
  ~CliProcess();  // kills the child if it still runs
  CliProcess(const CliProcess&) = delete;
  CliProcess& operator=(const CliProcess&) = delete;

  // Waits until stdout contains `text`; false at the deadline.
  bool WaitForOutput(const std::string& text, absl::Duration timeout);
  // Waits until stdout holds at least `n` lines; false at the deadline.
  bool WaitForLines(size_t n, absl::Duration timeout);
  std::string Out() const;
  std::string Err() const;
  // Sends SIGINT (Ctrl-C).
  void Interrupt();
  // Waits for the exit (SIGKILL after `timeout`) and returns everything.
  CliResult Wait(absl::Duration timeout);

 private:
  pid_t pid_ = -1;
  int out_fd_ = -1, err_fd_ = -1;
  std::thread out_thread_, err_thread_;
  mutable absl::Mutex mu_;
  std::string out_ ABSL_GUARDED_BY(mu_);
  std::string err_ ABSL_GUARDED_BY(mu_);
  bool reaped_ = false;
  CliResult result_;
};

}  // namespace dealwire::cli_test
