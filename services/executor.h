// services/executor.h — a fixed pool of threads for work that may block
// (queries that wait for the projections, folds over many claims), so that
// gRPC's callback threads never do.
//
//   Executor pool(4, 1024);
//   if (!pool.Submit([=] { ...; reactor->Finish(status); })) reactor->Finish(unavailable);
//
// Bounded: at most `max_queued` tasks wait; Submit refuses more. Thread-safe.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/strings/string_view.h"

namespace dealwire::services {

class Executor {
 public:
  // `nice` above 0 runs the threads at a lower priority than the process's
  // others (work that must not take CPU from appends).
  Executor(size_t threads, size_t max_queued, absl::string_view name, int nice = 0);
  // Runs what is queued, then joins the threads.
  ~Executor();

  // Queues `task`. Returns false (and drops it) when the queue is full or
  // the executor is shutting down.
  bool Submit(absl::AnyInvocable<void() &&> task);

  // Stops accepting tasks, runs those queued and joins. Idempotent.
  void Shutdown();

 private:
  void Loop();

  const size_t max_queued_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<absl::AnyInvocable<void() &&>> queue_;  // guarded by mu_
  bool stopping_ = false;                            // guarded by mu_
  std::vector<std::thread> threads_;
};

}  // namespace dealwire::services
