// services/live_tail.h — a bounded window of the most recently committed
// events, serialized once and shared by every live subscriber.
//
//   LiveTail tail(log, 32768, 64 << 20);
//   tail.Start();
//   const uint64_t id = tail.Watch([&] { ... });   // e.g. a subscriber's Pump
//   switch (tail.Visit(next_position, 256, [&](const auto& entry) { ...; return true; })) {
//     case LiveTail::ReadResult::kNothingNew:
//       if (!tail.Arm(id, next_position)) { /* it came meanwhile: read again */ }
//     ...
//   }
//
// The tail is handed the events of every commit by the log itself
// (EventLog::AddEventsListener), in the writer's hands, so a commit is
// serialized once however many subscribers there are, never read back from
// the disk, and every subscriber writes the same bytes. The window holds at
// most `capacity` events and `capacity_bytes` of messages; a subscriber
// that falls further behind reads the log itself (LiveTail::kEvicted).
// Memory is bounded by both (plus, between the log and the tail's thread,
// at most `capacity` events waiting to be serialized).
//
// Waking is one-shot: a watcher is called once after it is armed and the
// window reaches the position it armed for, so a subscriber busy writing
// (or whose client does not read) costs nothing per commit.
//
// Thread-safety: all methods may be called from any thread, including from
// a watcher. Watchers are called on the tail's own thread and must not
// block.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/functional/function_ref.h"
#include "store/event_log.h"

namespace dealwire::services {

// One committed event, as subscribers filter and send it.
struct TailEntry {
  uint64_t position = 0;
  std::string type;
  std::string stream;
  std::vector<std::string> tags;
  // The serialized SubscribeResponse carrying the event, ready to write.
  std::shared_ptr<const std::string> message;
};

class LiveTail {
 public:
  enum class ReadResult {
    kOk,          // entries were appended
    kNothingNew,  // `from` is past the window's end: Arm, then wait for the call
    kEvicted,     // `from` is before the window: read the log instead
  };

  // REQUIRES: `log` outlives the tail; capacity > 0.
  LiveTail(store::EventLog* log, size_t capacity, size_t capacity_bytes);
  ~LiveTail();

  // Starts following the log from its current end. Call once.
  void Start();
  // Stops following; idempotent. Watchers are not called after it returns.
  void Stop();

  // Calls `visit` with the entries from position `from` on, in order, at
  // most `max`, until it returns false. It runs under the tail's lock (so
  // that a thousand subscribers going over the same entries do not copy
  // them): it must be quick and must not call the tail.
  ReadResult Visit(uint64_t from, size_t max,
                   absl::FunctionRef<bool(const std::shared_ptr<const TailEntry>&)> visit) const;

  // The position of the last event in the window (or the log's end when the
  // tail started, if nothing came since).
  uint64_t last_position() const;

  // Registers `on_new` (not armed). Returns an id for Arm and Unwatch. When
  // Unwatch returns, the watcher is not running and will not be called
  // again.
  uint64_t Watch(std::function<void()> on_new);
  void Unwatch(uint64_t id);

  // Arms watcher `id` to be called once, after the window reaches position
  // `from`. Returns false, arming nothing, when it already has: read again.
  bool Arm(uint64_t id, uint64_t from);

 private:
  using Batch = std::shared_ptr<const std::vector<store::RecordedEvent>>;

  void Run();
  // Serializes `batches` into the window and returns the watchers to call.
  std::vector<uint64_t> Take(const std::deque<Batch>& batches, bool anyone);

  store::EventLog* const log_;
  const size_t capacity_;
  const size_t capacity_bytes_;

  mutable std::mutex mu_;
  std::deque<std::shared_ptr<const TailEntry>> window_;  // guarded by mu_; contiguous
  uint64_t last_ = 0;                                     // guarded by mu_
  size_t bytes_ = 0;                                      // guarded by mu_
  // Armed watchers and the position each waits for; guarded by mu_.
  std::vector<std::pair<uint64_t, uint64_t>> armed_;

  // Committed events handed over by the log, waiting for the tail's thread.
  std::mutex inbox_mu_;
  std::condition_variable inbox_cv_;
  std::deque<Batch> inbox_;  // guarded by inbox_mu_
  size_t inbox_events_ = 0;  // guarded by inbox_mu_
  bool stop_ = false;        // guarded by inbox_mu_

  std::mutex watch_mu_;
  std::map<uint64_t, std::function<void()>> watchers_;  // guarded by watch_mu_
  uint64_t next_watch_id_ = 1;                          // guarded by watch_mu_

  uint64_t listener_id_ = 0;
  std::thread thread_;
};

}  // namespace dealwire::services
