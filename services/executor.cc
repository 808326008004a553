#include "services/executor.h"

#include <pthread.h>
#include <sys/resource.h>
#include <unistd.h>

#include <string>
#include <utility>

namespace dealwire::services {

Executor::Executor(size_t threads, size_t max_queued, absl::string_view name, int nice)
    : max_queued_(max_queued) {
  const std::string thread_name(name.substr(0, 15));  // the kernel's limit
  for (size_t i = 0; i < threads; ++i) {
    threads_.emplace_back([this, thread_name, nice] {
      pthread_setname_np(pthread_self(), thread_name.c_str());
      // Linux keeps a nice value per thread. Lowering one's own priority
      // needs no privilege; a failure leaves the thread as it was.
      if (nice != 0) (void)setpriority(PRIO_PROCESS, static_cast<id_t>(gettid()), nice);
      Loop();
    });
  }
}

Executor::~Executor() { Shutdown(); }

bool Executor::Submit(absl::AnyInvocable<void() &&> task) {
  {
    std::lock_guard l(mu_);
    if (stopping_ || queue_.size() >= max_queued_) return false;
    queue_.push_back(std::move(task));
  }
  cv_.notify_one();
  return true;
}

void Executor::Shutdown() {
  {
    std::lock_guard l(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  for (std::thread& t : threads_) {
    if (t.joinable()) t.join();
  }
}

void Executor::Loop() {
  for (;;) {
    absl::AnyInvocable<void() &&> task;
    {
      std::unique_lock l(mu_);
      cv_.wait(l, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, and everything queued ran
      task = std::move(queue_.front());
      queue_.pop_front();
    }
    std::move(task)();
  }
}

}  // namespace dealwire::services
