#include "services/live_tail.h"

#include <pthread.h>

#include "services/subscription.h"

namespace dealwire::services {

namespace {
// Events read from the log per step; watchers hear of each step.
constexpr size_t kReadBatch = 1024;
}  // namespace

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
  const uint64_t end = log_->LastPosition().value();
  {
    std::lock_guard l(mu_);
    last_ = end;
  }
  {
    std::lock_guard l(wake_mu_);
    committed_ = end;
  }
  // The listener runs on the log's commit thread: it only records the new
  // end and wakes the tail's own thread, which does the reading.
  listener_id_ = log_->AddCommitListener([this](store::Position p) {
    {
      std::lock_guard l(wake_mu_);
      committed_ = p.value();
    }
    wake_cv_.notify_one();
  });
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "dw-live-tail");
    Run();
  });
}

void LiveTail::Stop() {
  {
    std::lock_guard l(wake_mu_);
    if (stop_) return;
    stop_ = true;
  }
  wake_cv_.notify_one();
  if (listener_id_ != 0) log_->RemoveCommitListener(listener_id_);
  if (thread_.joinable()) thread_.join();
}

void LiveTail::Run() {
  for (;;) {
    uint64_t target;
    uint64_t from;
    {
      std::lock_guard l(mu_);
      from = last_ + 1;
    }
    {
      std::unique_lock l(wake_mu_);
      wake_cv_.wait(l, [&] { return stop_ || committed_ >= from; });
      if (stop_) return;
      target = committed_;
    }
    {
      // Nobody listens: skip the reading; a subscriber arriving later starts
      // at the log's end or reads the log itself.
      std::lock_guard w(watch_mu_);
      if (watchers_.empty()) {
        std::lock_guard l(mu_);
        window_.clear();
        bytes_ = 0;
        last_ = target;
        continue;
      }
    }
    while (from <= target) {
      absl::StatusOr<std::vector<store::RecordedEvent>> records =
          log_->ReadAll(store::Direction::kForwards, store::Position(from), kReadBatch);
      if (!records.ok() || records->empty()) break;  // the log closes; Stop follows
      std::vector<std::shared_ptr<const TailEntry>> entries;
      entries.reserve(records->size());
      for (store::RecordedEvent& r : *records) {
        auto entry = std::make_shared<TailEntry>();
        entry->message = EventMessage(r);
        entry->position = r.position.value();
        entry->type = std::move(r.type);
        entry->stream = std::move(r.stream);
        entry->tags = std::move(r.tags);
        entries.push_back(std::move(entry));
      }
      from = records->back().position.value() + 1;
      {
        std::lock_guard l(mu_);
        for (auto& e : entries) {
          bytes_ += EntryBytes(*e);
          window_.push_back(std::move(e));
        }
        // Keep at least the newest entry, whatever its size.
        while (window_.size() > 1 && (window_.size() > capacity_ || bytes_ > capacity_bytes_)) {
          bytes_ -= EntryBytes(*window_.front());
          window_.pop_front();
        }
        last_ = from - 1;
      }
      std::lock_guard l(watch_mu_);
      for (auto& [id, watcher] : watchers_) watcher();
    }
  }
}

LiveTail::ReadResult LiveTail::Read(uint64_t from, size_t max,
                                    std::vector<std::shared_ptr<const TailEntry>>* out) const {
  std::lock_guard l(mu_);
  if (from > last_) return ReadResult::kNothingNew;
  if (window_.empty() || from < window_.front()->position) return ReadResult::kEvicted;
  size_t i = from - window_.front()->position;
  for (size_t n = 0; i < window_.size() && n < max; ++i, ++n) out->push_back(window_[i]);
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
  std::lock_guard l(watch_mu_);
  watchers_.erase(id);
}

}  // namespace dealwire::services
