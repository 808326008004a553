#include "tests/cli/cli_runner.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

extern char** environ;

namespace dealwire::cli_test {
namespace {

std::vector<std::string> ChildEnv(const std::vector<std::string>& extra) {
  std::vector<std::string> env;
  for (const char* name : {"PATH", "HOME", "TMPDIR"}) {
    if (const char* v = std::getenv(name)) env.push_back(absl::StrCat(name, "=", v));
  }
  env.insert(env.end(), extra.begin(), extra.end());
  return env;
}

// Spawns the CLI with pipes for stdin (when `in_fd` is not null), stdout
// and stderr; returns the pid.
pid_t Spawn(const std::vector<std::string>& args, const std::vector<std::string>& extra_env,
            int* in_fd, int* out_fd, int* err_fd) {
  int in[2] = {-1, -1}, out[2], err[2];
  if (in_fd != nullptr && pipe2(in, O_CLOEXEC) != 0) std::abort();
  if (pipe2(out, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0) std::abort();
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  if (in_fd != nullptr) {
    posix_spawn_file_actions_adddup2(&actions, in[0], 0);
  } else {
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  }
  posix_spawn_file_actions_adddup2(&actions, out[1], 1);
  posix_spawn_file_actions_adddup2(&actions, err[1], 2);
  std::vector<std::string> argv_s = {CliPath()};
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& a : argv_s) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::vector<std::string> env_s = ChildEnv(extra_env);
  std::vector<char*> envp;
  for (std::string& e : env_s) envp.push_back(e.data());
  envp.push_back(nullptr);
  pid_t pid = -1;
  if (posix_spawn(&pid, CliPath().c_str(), &actions, nullptr, argv.data(), envp.data()) != 0) {
    std::abort();
  }
  posix_spawn_file_actions_destroy(&actions);
  if (in_fd != nullptr) {
    close(in[0]);
    *in_fd = in[1];
  }
  close(out[1]);
  close(err[1]);
  *out_fd = out[0];
  *err_fd = err[0];
  return pid;
}

void Reap(pid_t pid, absl::Time deadline, CliResult* r) {
  int status = 0;
  for (;;) {
    const pid_t done = waitpid(pid, &status, WNOHANG);
    if (done == pid) break;
    if (absl::Now() > deadline) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      break;
    }
    absl::SleepFor(absl::Milliseconds(5));
  }
  if (WIFEXITED(status)) {
    r->exit_code = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    r->exit_code = -1;
    r->signal = WTERMSIG(status);
  }
}

}  // namespace

const std::string& CliPath() {
  static const std::string path = DEALWIRE_CLI_PATH;
  return path;
}

CliResult RunCli(const std::vector<std::string>& args, const std::vector<std::string>& env,
                 const std::string& stdin_text, absl::Duration timeout) {
  int in_fd = -1, out_fd = -1, err_fd = -1;
  const pid_t pid = Spawn(args, env, &in_fd, &out_fd, &err_fd);
  CliResult r;
  const absl::Time deadline = absl::Now() + timeout;
  // Feed stdin and drain both outputs together, so no pipe fills up.
  size_t written = 0;
  if (stdin_text.empty()) {
    close(in_fd);
    in_fd = -1;
  } else {
    fcntl(in_fd, F_SETFL, O_NONBLOCK);
  }
  bool out_open = true, err_open = true;
  char buf[65536];
  while ((out_open || err_open) && absl::Now() < deadline) {
    pollfd fds[3];
    int n = 0;
    if (out_open) fds[n++] = {out_fd, POLLIN, 0};
    if (err_open) fds[n++] = {err_fd, POLLIN, 0};
    if (in_fd >= 0) fds[n++] = {in_fd, POLLOUT, 0};
    if (poll(fds, n, 100) < 0) break;
    for (int i = 0; i < n; ++i) {
      if (fds[i].revents == 0) continue;
      if (fds[i].fd == in_fd) {
        const ssize_t w = write(in_fd, stdin_text.data() + written, stdin_text.size() - written);
        if (w > 0) written += static_cast<size_t>(w);
        if (w < 0 || written == stdin_text.size()) {
          close(in_fd);
          in_fd = -1;
        }
        continue;
      }
      const ssize_t got = read(fds[i].fd, buf, sizeof buf);
      if (got <= 0) {
        (fds[i].fd == out_fd ? out_open : err_open) = false;
      } else {
        (fds[i].fd == out_fd ? r.out : r.err).append(buf, static_cast<size_t>(got));
      }
    }
  }
  if (in_fd >= 0) close(in_fd);
  close(out_fd);
  close(err_fd);
  Reap(pid, deadline, &r);
  return r;
}

CliProcess::CliProcess(const std::vector<std::string>& args, const std::vector<std::string>& env) {
  pid_ = Spawn(args, env, nullptr, &out_fd_, &err_fd_);
  auto drain = [this](int fd, bool is_out) {
    char buf[65536];
    for (;;) {
      const ssize_t got = read(fd, buf, sizeof buf);
      if (got <= 0) break;
      absl::MutexLock l(&mu_);
      (is_out ? out_ : err_).append(buf, static_cast<size_t>(got));
    }
  };
  out_thread_ = std::thread(drain, out_fd_, true);
  err_thread_ = std::thread(drain, err_fd_, false);
}

CliProcess::~CliProcess() {
  if (!reaped_) Wait(absl::ZeroDuration());
}

bool CliProcess::WaitForOutput(const std::string& text, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    {
      absl::MutexLock l(&mu_);
      if (out_.find(text) != std::string::npos) return true;
    }
    absl::SleepFor(absl::Milliseconds(10));
  }
  return false;
}

bool CliProcess::WaitForLines(size_t n, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    {
      absl::MutexLock l(&mu_);
      size_t lines = 0;
      for (char c : out_) lines += c == '\n';
      if (lines >= n) return true;
    }
    absl::SleepFor(absl::Milliseconds(10));
  }
  return false;
}

std::string CliProcess::Out() const {
  absl::MutexLock l(&mu_);
  return out_;
}
std::string CliProcess::Err() const {
  absl::MutexLock l(&mu_);
  return err_;
}

void CliProcess::Interrupt() {
  if (!reaped_) kill(pid_, SIGINT);
}

CliResult CliProcess::Wait(absl::Duration timeout) {
  if (!reaped_) {
    Reap(pid_, absl::Now() + timeout, &result_);
    reaped_ = true;
    out_thread_.join();
    err_thread_.join();
    close(out_fd_);
    close(err_fd_);
  }
  absl::MutexLock l(&mu_);
  result_.out = out_;
  result_.err = err_;
  return result_;
}

}  // namespace dealwire::cli_test
