#include "tests/integration/server_process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>
#include <utility>

#include "absl/memory/memory.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpcpp/client_context.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/support/channel_arguments.h"
#include "gtest/gtest.h"

extern char** environ;

#ifndef DEALWIRED_PATH
#error "DEALWIRED_PATH must name the dealwired binary (see tests/integration/CMakeLists.txt)"
#endif

namespace dealwire::integration {
namespace {

namespace fs = std::filesystem;

absl::Status ErrnoStatus(absl::string_view what) {
  return absl::InternalError(absl::StrCat(what, ": ", std::strerror(errno)));
}

// A child process with its stderr on a pipe.
struct Spawned {
  pid_t pid = -1;
  int stderr_fd = -1;
};

// Spawns `args` (args[0] is the binary) with stdin on /dev/null, stderr on a
// new pipe whose read end is returned, and stdout inherited or (when
// `capture_stdout`) on the same pipe.
absl::StatusOr<Spawned> SpawnWithStderrPipe(const std::vector<std::string>& args,
                                            bool capture_stdout) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return ErrnoStatus("pipe2");
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, fds[1], 2);  // dup2 clears CLOEXEC
  if (capture_stdout) posix_spawn_file_actions_adddup2(&actions, fds[1], 1);
  std::vector<char*> argv;
  for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  Spawned child;
  const int rc = posix_spawn(&child.pid, args[0].c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  close(fds[1]);
  if (rc != 0) {
    close(fds[0]);
    return absl::InternalError(
        absl::StrCat("posix_spawn ", args[0], ": ", std::strerror(rc)));
  }
  child.stderr_fd = fds[0];
  return child;
}

ProcessExit ExitFromWaitStatus(int status) {
  ProcessExit exit;
  if (WIFEXITED(status)) {
    exit.exited = true;
    exit.exit_code = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    exit.signal = WTERMSIG(status);
  }
  return exit;
}

// Waits up to `timeout` for `pid` to exit and reaps it. Returns nullopt when
// it still runs at the deadline. Waits on a pidfd (no polling); falls back to
// short waitpid(WNOHANG) steps when pidfds are unavailable.
std::optional<ProcessExit> WaitForExit(pid_t pid, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  // pidfd_open(2) through syscall(2): glibc 2.36 declares it without C linkage.
  const int pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
  if (pidfd >= 0) {
    while (true) {
      const int64_t ms = std::max<int64_t>(0, absl::ToInt64Milliseconds(deadline - absl::Now()));
      pollfd p{pidfd, POLLIN, 0};
      const int r = poll(&p, 1, static_cast<int>(std::min<int64_t>(ms, 1 << 30)));
      if (r > 0) break;
      if (r < 0 && errno == EINTR) continue;
      if (r == 0 || r < 0) {
        close(pidfd);
        return std::nullopt;
      }
    }
    close(pidfd);
  }
  while (true) {
    int status = 0;
    const pid_t r = waitpid(pid, &status, pidfd >= 0 ? 0 : WNOHANG);
    if (r == pid) return ExitFromWaitStatus(status);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) {
      ProcessExit unknown;
      unknown.output = absl::StrCat("waitpid: ", std::strerror(errno));
      return unknown;
    }
    // Fallback only (no pidfd): the child still runs.
    if (absl::Now() >= deadline) return std::nullopt;
    absl::SleepFor(absl::Milliseconds(5));
  }
}

// Returns the port of the "listen=<host>:<port>" token of a started line, or
// 0 when there is none.
std::pair<std::string, int> ParseListen(absl::string_view line) {
  for (absl::string_view token : absl::StrSplit(line, ' ', absl::SkipEmpty())) {
    if (!absl::ConsumePrefix(&token, "listen=")) continue;
    const size_t colon = token.rfind(':');
    if (colon == absl::string_view::npos) return {"", 0};
    int port = 0;
    if (!absl::SimpleAtoi(token.substr(colon + 1), &port)) return {"", 0};
    return {std::string(token.substr(0, colon)), port};
  }
  return {"", 0};
}

bool IsStartedLine(absl::string_view line) {
  return absl::StartsWith(line, "dealwired ") && absl::StrContains(line, " started ");
}

std::shared_ptr<grpc::Channel> MakeChannel(const std::string& address, bool own_connection,
                                           bool fixed_window = false) {
  grpc::ChannelArguments args;
  if (fixed_window) args.SetInt(GRPC_ARG_HTTP2_BDP_PROBE, 0);
  args.SetMaxReceiveMessageSize(-1);
  args.SetMaxSendMessageSize(-1);
  if (own_connection) args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  return grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args);
}

// Waits until grpc.health.v1.Health reports SERVING for service "" (with
// Watch, so without polling), or the deadline.
absl::Status WaitForServing(const std::shared_ptr<grpc::Channel>& channel, absl::Time deadline) {
  using grpc::health::v1::HealthCheckRequest;
  using grpc::health::v1::HealthCheckResponse;
  std::unique_ptr<grpc::health::v1::Health::Stub> stub = grpc::health::v1::Health::NewStub(channel);
  HealthCheckRequest request;  // service "": the whole server
  HealthCheckResponse response;
  // One Check, waiting for the connection: whether the server serves.
  grpc::Status checked;
  auto serving = [&] {
    grpc::ClientContext check_ctx;
    check_ctx.set_deadline(absl::ToChronoTime(deadline));
    check_ctx.set_wait_for_ready(true);
    checked = stub->Check(&check_ctx, request, &response);
    return checked.ok() && response.status() == HealthCheckResponse::SERVING;
  };
  // Usually the server serves as soon as it printed its started line.
  if (serving()) return absl::OkStatus();
  // Otherwise wait for the change with Watch (no polling).
  grpc::ClientContext ctx;
  ctx.set_deadline(absl::ToChronoTime(deadline));
  ctx.set_wait_for_ready(true);
  std::unique_ptr<grpc::ClientReader<HealthCheckResponse>> reader = stub->Watch(&ctx, request);
  std::string seen;
  while (reader->Read(&response)) {
    seen = HealthCheckResponse::ServingStatus_Name(response.status());
    if (response.status() == HealthCheckResponse::SERVING) {
      ctx.TryCancel();
      reader->Finish();
      return absl::OkStatus();
    }
  }
  const grpc::Status status = reader->Finish();
  if (status.error_code() == grpc::StatusCode::UNIMPLEMENTED) {
    // A health service without Watch: one Check (it must serve by now).
    if (serving()) return absl::OkStatus();
    return absl::FailedPreconditionError(absl::StrCat(
        "health Check: ", checked.error_message(), " status ",
        HealthCheckResponse::ServingStatus_Name(response.status())));
  }
  return absl::DeadlineExceededError(
      absl::StrCat("health Watch did not report SERVING (last status: ",
                   seen.empty() ? "none" : seen, "; call ended with code ",
                   static_cast<int>(status.error_code()), " ", status.error_message(), ")"));
}

}  // namespace

const std::string& DealwiredPath() {
  static const auto* path = new std::string(DEALWIRED_PATH);
  return *path;
}

std::string ProcessExit::Describe() const {
  if (exited) return absl::StrCat("exit code ", exit_code);
  if (signal != 0) return absl::StrCat("killed by signal ", signal, " (", strsignal(signal), ")");
  return "unknown end";
}

// --- TempDir -----------------------------------------------------------------

TempDir::TempDir(absl::string_view tag) {
  static std::atomic<int> counter{0};
  fs::path base = fs::absolute(fs::path(testing::TempDir()));
  path_ = (base / absl::StrCat("dealwire_", tag, "_", getpid(), "_", counter++)).string();
  std::error_code ec;
  fs::remove_all(path_, ec);
  fs::create_directories(path_);
}

TempDir::~TempDir() {
  std::error_code ec;
  fs::remove_all(path_, ec);
}

// --- ServerProcess -----------------------------------------------------------

ServerProcess::ServerProcess(Options options) : options_(std::move(options)) {}

absl::StatusOr<std::unique_ptr<ServerProcess>> ServerProcess::Start(Options options) {
  if (options.data_dir.empty()) return absl::InvalidArgumentError("Options.data_dir is required");
  const absl::Time deadline = absl::Now() + options.start_timeout;
  auto server = absl::WrapUnique(new ServerProcess(std::move(options)));
  const Options& opts = server->options_;

  std::vector<std::string> args = {DealwiredPath(), "--data-dir", opts.data_dir, "--listen",
                                   opts.listen};
  args.insert(args.end(), opts.extra_args.begin(), opts.extra_args.end());
  absl::StatusOr<Spawned> child = SpawnWithStderrPipe(args, /*capture_stdout=*/false);
  if (!child.ok()) return child.status();
  server->pid_ = child->pid;
  server->stderr_fd_ = child->stderr_fd;

  // Read stderr until the started line, the child's end or the deadline.
  const auto fail = [&](absl::Status status) -> absl::Status {
    if (!server->exit_.has_value()) {
      kill(server->pid_, SIGKILL);
      server->exit_ = WaitForExit(server->pid_, absl::Seconds(10));
      server->reaped_ = server->exit_.has_value();
    }
    std::string text = absl::StrCat(status.message(), "; command: ", absl::StrJoin(args, " "),
                                    "; stderr:\n", server->StderrTail(60));
    return absl::Status(status.code(), text);
  };
  char buf[4096];
  while (server->started_line_.empty()) {
    const absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) {
      return fail(absl::DeadlineExceededError(absl::StrCat(
          "dealwired printed no started line within ", absl::FormatDuration(opts.start_timeout))));
    }
    pollfd p{server->stderr_fd_, POLLIN, 0};
    const int r = poll(&p, 1, static_cast<int>(absl::ToInt64Milliseconds(left)) + 1);
    if (r < 0 && errno != EINTR) return fail(ErrnoStatus("poll"));
    if (r <= 0) continue;
    const ssize_t n = read(server->stderr_fd_, buf, sizeof buf);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n <= 0) {
      // EOF: the child closed stderr, so it is exiting.
      server->exit_ = WaitForExit(server->pid_, absl::Seconds(10));
      server->reaped_ = server->exit_.has_value();
      std::string how = server->exit_.has_value() ? server->exit_->Describe() : "still running";
      return fail(absl::FailedPreconditionError(
          absl::StrCat("dealwired closed stderr before its started line (", how, ")")));
    }
    // The first started line ends the loop; text after it stays in partial_
    // or lines_ for the drain thread.
    for (std::string& line : server->TakeLines(absl::string_view(buf, static_cast<size_t>(n)),
                                               /*eof=*/false)) {
      if (server->started_line_.empty() && IsStartedLine(line)) server->started_line_ = line;
      server->AddLine(std::move(line));
    }
  }

  const auto [host, port] = ParseListen(server->started_line_);
  if (port <= 0) {
    return fail(absl::FailedPreconditionError(
        absl::StrCat("no real port in the started line: ", server->started_line_)));
  }
  server->port_ = port;
  server->address_ = absl::StrCat(host.empty() ? "127.0.0.1" : host, ":", port);
  server->drain_thread_ = std::thread([s = server.get()] { s->Drain(); });
  server->channel_ = MakeChannel(server->address_, /*own_connection=*/false);

  if (absl::Status serving = WaitForServing(server->channel_, deadline); !serving.ok()) {
    return fail(serving);
  }
  return server;
}

absl::StatusOr<ProcessExit> ServerProcess::Run(const std::vector<std::string>& args,
                                               absl::Duration timeout) {
  std::vector<std::string> argv = {DealwiredPath()};
  argv.insert(argv.end(), args.begin(), args.end());
  absl::StatusOr<Spawned> child = SpawnWithStderrPipe(argv, /*capture_stdout=*/true);
  if (!child.ok()) return child.status();
  const absl::Time deadline = absl::Now() + timeout;
  std::string text;
  char buf[4096];
  bool timed_out = false;
  while (true) {
    const absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) {
      timed_out = true;
      break;
    }
    pollfd p{child->stderr_fd, POLLIN, 0};
    const int r = poll(&p, 1, static_cast<int>(absl::ToInt64Milliseconds(left)) + 1);
    if (r < 0 && errno != EINTR) break;
    if (r <= 0) continue;
    const ssize_t n = read(child->stderr_fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    text.append(buf, static_cast<size_t>(n));
  }
  close(child->stderr_fd);
  if (timed_out) kill(child->pid, SIGKILL);
  std::optional<ProcessExit> exit =
      WaitForExit(child->pid, timed_out ? absl::Seconds(10) : std::max(deadline - absl::Now(),
                                                                       absl::Seconds(1)));
  if (!exit.has_value()) {
    kill(child->pid, SIGKILL);
    exit = WaitForExit(child->pid, absl::Seconds(10));
    timed_out = true;
  }
  if (timed_out) {
    return absl::DeadlineExceededError(absl::StrCat("dealwired ", absl::StrJoin(args, " "),
                                                    " ran longer than ",
                                                    absl::FormatDuration(timeout),
                                                    "; stderr:\n", text));
  }
  exit->output = std::move(text);
  return *exit;
}

ServerProcess::~ServerProcess() {
  if (pid_ > 0 && !exit_.has_value()) {
    kill(pid_, SIGKILL);
    exit_ = WaitForExit(pid_, absl::Seconds(30));
    reaped_ = exit_.has_value();
  }
  if (drain_thread_.joinable()) drain_thread_.join();
  if (stderr_fd_ >= 0) close(stderr_fd_);
}

std::shared_ptr<grpc::Channel> ServerProcess::NewChannel() const {
  return MakeChannel(address_, /*own_connection=*/true);
}

std::shared_ptr<grpc::Channel> ServerProcess::NewFixedWindowChannel() const {
  return MakeChannel(address_, /*own_connection=*/true, /*fixed_window=*/true);
}

absl::StatusOr<ProcessExit> ServerProcess::Stop(absl::Duration timeout) {
  return SignalAndWait(SIGTERM, timeout);
}

absl::StatusOr<ProcessExit> ServerProcess::Kill(absl::Duration timeout) {
  return SignalAndWait(SIGKILL, timeout);
}

absl::StatusOr<ProcessExit> ServerProcess::SignalAndWait(int signal, absl::Duration timeout) {
  if (exit_.has_value()) {
    return absl::FailedPreconditionError(absl::StrCat("dealwired ", pid_, " was already reaped"));
  }
  // Drop this helper's own connection first: an idle client connection
  // delays dealwired's graceful shutdown (by about 5 s with gRPC 1.51).
  // Copies handed out by Channel() stay as they are.
  channel_.reset();
  if (kill(pid_, signal) != 0) return ErrnoStatus(absl::StrCat("kill ", pid_));
  exit_ = WaitForExit(pid_, timeout);
  reaped_ = exit_.has_value();
  bool timed_out = false;
  if (!exit_.has_value()) {
    timed_out = true;
    kill(pid_, SIGKILL);
    exit_ = WaitForExit(pid_, absl::Seconds(30));
    reaped_ = exit_.has_value();
  }
  // The child is gone, so the drain thread reaches EOF.
  if (drain_thread_.joinable()) drain_thread_.join();
  if (!exit_.has_value()) {
    exit_ = ProcessExit();
    reaped_ = exit_.has_value();
    return absl::InternalError(absl::StrCat("dealwired ", pid_, " could not be reaped"));
  }
  exit_->output = StderrTail(kMaxKeptLines);
  if (timed_out) {
    return absl::DeadlineExceededError(
        absl::StrCat("dealwired ", pid_, " did not exit within ", absl::FormatDuration(timeout),
                     " after signal ", signal, "; killed; stderr:\n", StderrTail(60)));
  }
  return *exit_;
}

bool ServerProcess::running() const { return pid_ > 0 && !reaped_.load(); }

absl::StatusOr<int64_t> ServerProcess::RssBytes() const {
  std::ifstream in(absl::StrCat("/proc/", pid_, "/status"));
  if (!in) return absl::NotFoundError(absl::StrCat("no /proc/", pid_, "/status"));
  std::string line;
  while (std::getline(in, line)) {
    absl::string_view rest = line;
    if (!absl::ConsumePrefix(&rest, "VmRSS:")) continue;
    rest = absl::StripAsciiWhitespace(rest);
    absl::ConsumeSuffix(&rest, "kB");
    int64_t kib = 0;
    if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(rest), &kib)) break;
    return kib * 1024;
  }
  return absl::InternalError(absl::StrCat("no VmRSS in /proc/", pid_, "/status"));
}

std::vector<std::string> ServerProcess::StderrLines() const {
  absl::MutexLock lock(&mu_);
  return std::vector<std::string>(lines_.begin(), lines_.end());
}

std::string ServerProcess::StderrTail(size_t n) const {
  absl::MutexLock lock(&mu_);
  const size_t from = lines_.size() > n ? lines_.size() - n : 0;
  std::string out;
  for (size_t i = from; i < lines_.size(); ++i) absl::StrAppend(&out, lines_[i], "\n");
  if (!partial_.empty()) absl::StrAppend(&out, partial_, "\n");
  return out;
}

void ServerProcess::AddLine(std::string line) {
  if (options_.echo_stderr) {
    std::cerr << absl::StrCat("[dealwired ", pid_, "] ", line, "\n") << std::flush;
  }
  absl::MutexLock lock(&mu_);
  lines_.push_back(std::move(line));
  while (lines_.size() > kMaxKeptLines) lines_.pop_front();
}

std::vector<std::string> ServerProcess::TakeLines(absl::string_view text, bool eof) {
  std::vector<std::string> complete;
  absl::MutexLock lock(&mu_);
  partial_.append(text.data(), text.size());
  if (eof && !partial_.empty()) partial_.push_back('\n');  // EOF ends the last line
  size_t nl;
  while ((nl = partial_.find('\n')) != std::string::npos) {
    complete.push_back(partial_.substr(0, nl));
    partial_.erase(0, nl + 1);
  }
  return complete;
}

void ServerProcess::Drain() {
  char buf[16384];
  while (true) {
    const ssize_t n = read(stderr_fd_, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    const absl::string_view text(buf, n > 0 ? static_cast<size_t>(n) : 0);
    for (std::string& line : TakeLines(text, /*eof=*/n <= 0)) AddLine(std::move(line));
    if (n <= 0) return;
  }
}

}  // namespace dealwire::integration
