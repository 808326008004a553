#include "services/live_tail.h"

#include <pthread.h>

#include <algorithm>

#include "services/subscription.h"

namespace dealwire::services {

namespace {
size_t EntryBytes(const TailEntry& e) {
  size_t n = sizeof(TailEntry) + e.type.size() + e.stream.size() + e.message->size();
  for (const std::string& t : e.tags) n += t.size() + sizeof(std::string);
  return n;
}
}  // namespace

LiveTail::LiveTail(store::EventLog* log, size_t capacity, size_t capacity_bytes)
    : log_(log), capacity_(capacity), capacity_bytes_(capacity_bytes) {}

LiveTail::~LiveTail() { Stop(); }

void LiveTail::Start() {
  // The listener first, then the end: events committed in between come
  // twice (through the end read and the listener), and Take skips them;
  // none is missed.
  listener_id_ = log_->AddEventsListener([this](Batch batch) {
    {
      std::lock_guard l(inbox_mu_);
      inbox_events_ += batch->size();
      inbox_.push_back(std::move(batch));
      // A tail thread that cannot keep up drops the oldest: the window then
      // restarts after a gap, and subscribers before it read the log.
      while (inbox_.size() > 1 && inbox_events_ > capacity_) {
        inbox_events_ -= inbox_.front()->size();
        inbox_.pop_front();
      }
    }
    inbox_cv_.notify_one();
  });
  {
    std::lock_guard l(mu_);
    last_ = log_->LastPosition().value();
  }
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "dw-live-tail");
    Run();
  });
}

void LiveTail::Stop() {
  {
    std::lock_guard l(inbox_mu_);
    if (stop_) return;
    stop_ = true;
  }
  inbox_cv_.notify_one();
  if (listener_id_ != 0) log_->RemoveEventsListener(listener_id_);
  if (thread_.joinable()) thread_.join();
}

void LiveTail::Run() {
  for (;;) {
    std::deque<Batch> batches;
    {
      std::unique_lock l(inbox_mu_);
      inbox_cv_.wait(l, [&] { return stop_ || !inbox_.empty(); });
      if (stop_) return;
      batches.swap(inbox_);
      inbox_events_ = 0;
    }
    bool anyone;
    {
      std::lock_guard w(watch_mu_);
      anyone = !watchers_.empty();
    }
    const std::vector<uint64_t> fire = Take(batches, anyone);
    if (fire.empty()) continue;
    std::lock_guard w(watch_mu_);
    for (uint64_t id : fire) {
      if (auto it = watchers_.find(id); it != watchers_.end()) it->second();
    }
  }
}

std::vector<uint64_t> LiveTail::Take(const std::deque<Batch>& batches, bool anyone) {
  uint64_t last;
  {
    std::lock_guard l(mu_);
    last = last_;
  }
  // Serialized outside the lock: readers go on meanwhile.
  std::vector<std::shared_ptr<const TailEntry>> entries;
  uint64_t end = last;
  for (const Batch& batch : batches) {
    for (const store::RecordedEvent& r : *batch) {
      if (r.position.value() <= end) continue;  // seen before the listener was added
      end = r.position.value();
      if (!anyone) continue;
      auto entry = std::make_shared<TailEntry>();
      entry->message = EventMessage(r);
      entry->position = r.position.value();
      entry->type = r.type;
      entry->stream = r.stream;
      entry->tags = r.tags;
      entries.push_back(std::move(entry));
    }
  }
  std::vector<uint64_t> fire;
  std::lock_guard l(mu_);
  if (entries.empty()) {
    // Nobody listens (or nothing new): a subscriber arriving later starts
    // at the log's end or reads the log itself.
    if (end > last_) {
      window_.clear();
      bytes_ = 0;
      last_ = end;
    }
  } else {
    for (auto& e : entries) {
      if (e->position != last_ + 1) {  // a gap: dropped batches, or nobody listened
        window_.clear();
        bytes_ = 0;
      }
      last_ = e->position;
      bytes_ += EntryBytes(*e);
      window_.push_back(std::move(e));
    }
    // Keep at least the newest entry, whatever its size.
    while (window_.size() > 1 && (window_.size() > capacity_ || bytes_ > capacity_bytes_)) {
      bytes_ -= EntryBytes(*window_.front());
      window_.pop_front();
    }
  }
  auto ready = std::partition(armed_.begin(), armed_.end(),
                              [&](const auto& a) { return a.second > last_; });
  for (auto it = ready; it != armed_.end(); ++it) fire.push_back(it->first);
  armed_.erase(ready, armed_.end());
  return fire;
}

LiveTail::ReadResult LiveTail::Visit(
    uint64_t from, size_t max,
    absl::FunctionRef<bool(const std::shared_ptr<const TailEntry>&)> visit) const {
  std::lock_guard l(mu_);
  if (from > last_) return ReadResult::kNothingNew;
  if (window_.empty() || from < window_.front()->position) return ReadResult::kEvicted;
  for (size_t i = from - window_.front()->position, n = 0; i < window_.size() && n < max; ++i, ++n) {
    if (!visit(window_[i])) break;
  }
  return ReadResult::kOk;
}

uint64_t LiveTail::last_position() const {
  std::lock_guard l(mu_);
  return last_;
}

uint64_t LiveTail::Watch(std::function<void()> on_new) {
  std::lock_guard l(watch_mu_);
  const uint64_t id = next_watch_id_++;
  watchers_.emplace(id, std::move(on_new));
  return id;
}

void LiveTail::Unwatch(uint64_t id) {
  std::lock_guard w(watch_mu_);
  watchers_.erase(id);
  std::lock_guard l(mu_);
  std::erase_if(armed_, [id](const auto& a) { return a.first == id; });
}

bool LiveTail::Arm(uint64_t id, uint64_t from) {
  std::lock_guard l(mu_);
  if (from <= last_) return false;
  armed_.emplace_back(id, from);
  return true;
}

}  // namespace dealwire::services
