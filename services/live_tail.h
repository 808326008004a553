// services/live_tail.h — a bounded window of the most recently committed
// events, decoded once and shared by every live subscriber.
//
//   LiveTail tail(log, 32768);
//   tail.Start();
//   std::vector<std::shared_ptr<const TailEntry>> entries;
//   switch (tail.Read(next_position, 256, &entries)) { ... }
//
// Subscribers at the end of the log read from here instead of the disk, so a
// commit is read and serialized once however many subscribers there are, and
// every subscriber writes the same bytes. The
// window holds at most `capacity` events and `capacity_bytes` of messages; a
// subscriber that falls further behind reads the log itself
// (LiveTail::kEvicted). Memory is bounded by both.
//
// Thread-safety: all methods may be called from any thread. Watchers are
// called on the tail's own thread and must not block.
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
#include <vector>

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
    kNothingNew,  // `from` is past the window's end: wait for a watcher call
    kEvicted,     // `from` is before the window: read the log instead
  };

  // REQUIRES: `log` outlives the tail; capacity > 0.
  LiveTail(store::EventLog* log, size_t capacity, size_t capacity_bytes);
  ~LiveTail();

  // Starts following the log from its current end. Call once.
  void Start();
  // Stops following; idempotent. Watchers are not called after it returns.
  void Stop();

  // Appends to `out` up to `max` entries with positions from `from` on.
  ReadResult Read(uint64_t from, size_t max,
                  std::vector<std::shared_ptr<const TailEntry>>* out) const;

  // The position of the last event in the window (or the log's end when the
  // tail started, if nothing came since).
  uint64_t last_position() const;

  // Registers `on_new`, called after new entries enter the window. Returns an
  // id for Unwatch. When Unwatch returns, the watcher is not running and will
  // not be called again.
  uint64_t Watch(std::function<void()> on_new);
  void Unwatch(uint64_t id);

 private:
  void Run();

  store::EventLog* const log_;
  const size_t capacity_;
  const size_t capacity_bytes_;

  mutable std::mutex mu_;
  std::deque<std::shared_ptr<const TailEntry>> window_;  // guarded by mu_; contiguous
  uint64_t last_ = 0;                                     // guarded by mu_
  size_t bytes_ = 0;                                      // guarded by mu_

  std::mutex wake_mu_;
  std::condition_variable wake_cv_;
  uint64_t committed_ = 0;  // guarded by wake_mu_: the log's end as last told
  bool stop_ = false;       // guarded by wake_mu_

  std::mutex watch_mu_;
  std::map<uint64_t, std::function<void()>> watchers_;  // guarded by watch_mu_
  uint64_t next_watch_id_ = 1;                          // guarded by watch_mu_

  uint64_t listener_id_ = 0;
  std::thread thread_;
};

}  // namespace dealwire::services
