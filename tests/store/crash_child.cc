// store_crash_child DIR — the victim of store_crash_test.
//
// Opens the event log at DIR and appends from 8 threads until it is killed:
// single events and, every fifth append, three events at once, to a few
// streams with ExpectedVersion::Any. After each acknowledged append it writes
// one line "position event_id\n" per event to stdout, all lines of an append
// in one write(2) under a mutex, so that a line the parent sees complete was
// acknowledged before it was written.
//
// Event ids are "<nonce>-<thread>-<counter>-<index>of<count>", the nonce
// being unique per run (pid and start time), so ids never repeat across runs
// and the parent can check that a multi-event append is all or nothing.
//
// Exits by itself (status 0) after 120 s in case nobody kills it.

#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "store/event_log.h"

namespace {

using dealwire::store::AppendResult;
using dealwire::store::EventLog;
using dealwire::store::ExpectedVersion;
using dealwire::store::ProposedEvent;

constexpr int kThreads = 8;
constexpr int kStreams = 5;
const absl::Duration kMaxRunTime = absl::Seconds(120);

std::mutex stdout_mu;

// Writes all of `s` to fd 1. Returns false when stdout is gone.
bool WriteAll(const std::string& s) {
  std::lock_guard<std::mutex> lock(stdout_mu);
  size_t done = 0;
  while (done < s.size()) {
    ssize_t n = write(1, s.data() + done, s.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    done += static_cast<size_t>(n);
  }
  return true;
}

void Run(EventLog* log, const std::string& nonce, int thread, absl::Time stop) {
  for (uint64_t counter = 0; absl::Now() < stop; ++counter) {
    const int count = counter % 5 == 4 ? 3 : 1;
    std::vector<ProposedEvent> events;
    for (int i = 0; i < count; ++i) {
      ProposedEvent e;
      e.event_id = absl::StrFormat("%s-%d-%d-%dof%d", nonce, thread, counter, i, count);
      e.type = "CrashTestEvent";
      e.tags = {absl::StrFormat("thread/%d", thread)};
      e.data = absl::StrFormat("payload %s %s", e.event_id, std::string(64 + counter % 64, 'x'));
      events.push_back(std::move(e));
    }
    const std::string stream = absl::StrFormat("crash/%d", (thread + counter) % kStreams);
    absl::StatusOr<AppendResult> r;
    // A full queue is retryable; the event ids make the retry idempotent.
    for (int attempt = 0;; ++attempt) {
      r = log->Append(stream, ExpectedVersion::Any(), events);
      if (r.ok() || r.status().code() != absl::StatusCode::kUnavailable || attempt == 1000) break;
    }
    if (!r.ok()) {
      std::fprintf(stderr, "crash_child: append failed: %s\n", r.status().ToString().c_str());
      std::_Exit(3);
    }
    if (r->last_position.value() - r->first_position.value() + 1 != events.size()) {
      std::fprintf(stderr, "crash_child: append of %zu events got positions %llu..%llu\n",
                   events.size(), static_cast<unsigned long long>(r->first_position.value()),
                   static_cast<unsigned long long>(r->last_position.value()));
      std::_Exit(4);
    }
    std::string lines;
    for (int i = 0; i < count; ++i) {
      absl::StrAppendFormat(&lines, "%d %s\n", r->first_position.value() + i,
                            events[i].event_id);
    }
    if (!WriteAll(lines)) std::_Exit(5);
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s DIR\n", argv[0]);
    return 2;
  }
  absl::StatusOr<std::unique_ptr<EventLog>> log =
      dealwire::store::OpenEventLog(argv[1], dealwire::store::Options());
  if (!log.ok()) {
    std::fprintf(stderr, "crash_child: open %s: %s\n", argv[1], log.status().ToString().c_str());
    return 2;
  }
  const std::string nonce =
      absl::StrFormat("%d.%d", getpid(), absl::ToUnixNanos(absl::Now()));
  const absl::Time stop = absl::Now() + kMaxRunTime;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back(Run, log->get(), nonce, t, stop);
  }
  for (std::thread& t : threads) t.join();
  absl::Status closed = (*log)->Close();
  if (!closed.ok()) {
    std::fprintf(stderr, "crash_child: close: %s\n", closed.ToString().c_str());
    return 1;
  }
  return 0;
}
