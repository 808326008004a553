// store/rocksdb_write_pipeline.cc — the write path: appends queued
// (AppendAsync, ProposeAsync, Enqueue), the writer, sync and completion
// threads, the group written in one batch (WriteGroup), and each commit
// published to readers, waiters and listeners.
//
// Write path, a three-stage pipeline:
//  1. The writer thread takes everything queued (up to
//     Options::max_group_events) and decides the group in one pass: the
//     decider encodes each proposal; one MultiGet looks up every event id of
//     the group; then each append in turn is checked for repeats (against the
//     log and the appends before it in the group) and its expected version,
//     decided by the decider against the state all earlier appends left, and
//     added to one WriteBatch, which is written to the WAL and memtables
//     without waiting for the disk.
//  2. The sync thread takes every group written so far, makes the WAL durable
//     with one SyncWAL (fdatasync), then publishes the new end of the log.
//  3. The completion thread runs the groups' callbacks, in order.
// While stage 2 waits for the disk, stage 1 already builds the next group.
// Nothing is acknowledged, and no reader sees an event (reads stop at the
// published end), before its group is durable. A repeat of an event that is
// written but not yet durable is acknowledged only after it is, since groups
// are synced and acknowledged in order.
#include <algorithm>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "rocksdb/db.h"
#include "rocksdb/write_batch.h"
#include "store/encoding.h"
#include "store/event_id_index.h"
#include "store/rocksdb_event_log.h"

namespace dealwire::store {

namespace enc = encoding;

namespace {

// Fails with `error` every append of `results` that had succeeded so far.
void FailAccepted(std::vector<absl::StatusOr<AppendResult>>& results, const absl::Status& error) {
  for (auto& r : results) {
    if (r.ok()) r = error;
  }
}

}  // namespace

void RocksDbEventLog::AppendAsync(std::string stream, ExpectedVersion expected,
                                  std::vector<ProposedEvent> events, AppendCallback done) {
  size_t bytes = 0;
  absl::Status status = CheckStream(stream, events.size());
  if (status.ok()) status = CheckEvents(events, &bytes);
  if (!status.ok()) {
    std::move(done)(status);
    return;
  }
  Enqueue(PendingAppend{std::move(stream), expected, std::move(events), nullptr, std::move(done),
                        bytes});
}

void RocksDbEventLog::ProposeAsync(std::string stream, ExpectedVersion expected,
                                   std::unique_ptr<Proposal> proposal, AppendCallback done) {
  absl::Status status;
  if (options_.decider == nullptr) {
    status = absl::FailedPreconditionError(
        "this event log has no decider: append complete events with AppendAsync");
  } else if (proposal == nullptr) {
    status = absl::InvalidArgumentError("events: no proposal");
  } else {
    status = CheckStream(stream, proposal->size());
  }
  if (!status.ok()) {
    proposal.reset();
    std::move(done)(status);
    return;
  }
  const size_t bytes = proposal->bytes();
  Enqueue(PendingAppend{std::move(stream), expected, {}, std::move(proposal), std::move(done),
                        bytes});
}

void RocksDbEventLog::Enqueue(PendingAppend a) {
  absl::Status status;
  {
    std::unique_lock l(mu_);
    if (closing_) {
      status = absl::UnavailableError("event log is closing");
    } else if (queue_.size() >= options_.max_queued_appends ||
               queued_bytes_ + a.bytes > options_.max_queued_bytes) {
      status = absl::UnavailableError(absl::StrFormat(
          "write queue is full (%d appends, %d bytes queued; max_queued_appends=%d, "
          "max_queued_bytes=%d); retry with the same event ids",
          queue_.size(), queued_bytes_, options_.max_queued_appends, options_.max_queued_bytes));
    } else {
      queued_bytes_ += a.bytes;
      queue_.push_back(std::move(a));
      const bool wake = queue_.size() == 1;
      l.unlock();
      // The writer only sleeps on an empty queue.
      if (wake) queue_cv_.notify_one();
      return;
    }
  }
  AppendCallback done = std::move(a.done);
  a.proposal.reset();
  std::move(done)(status);
}

void RocksDbEventLog::WriterLoop() {
  absl::Time next_recovery = absl::InfinitePast();
  for (;;) {
    std::vector<PendingAppend> group;
    bool closing = false;
    {
      std::unique_lock l(mu_);
      if (failed_.load(std::memory_order_acquire)) {
        // Appends are refused at once (WriteGroup) while the log waits to
        // try a reopen.
        queue_cv_.wait_until(l, absl::ToChronoTime(next_recovery),
                             [this] { return !queue_.empty() || closing_; });
      } else {
        queue_cv_.wait(l, [this] {
          return !queue_.empty() || closing_ || failed_.load(std::memory_order_acquire);
        });
      }
      if (queue_.empty() && closing_) break;  // everything queued is written
      closing = closing_;
      size_t events = 0;
      // A proposal's events are encoded later, on this thread: its count
      // is the proposal's.
      const auto count = [](const PendingAppend& a) {
        return a.proposal != nullptr ? a.proposal->size() : a.events.size();
      };
      while (!queue_.empty() &&
             (group.empty() || events + count(queue_.front()) <= options_.max_group_events)) {
        events += count(queue_.front());
        queued_bytes_ -= queue_.front().bytes;
        group.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    if (!closing && failed_.load(std::memory_order_acquire) && absl::Now() >= next_recovery) {
      if (absl::Status s = Recover(); !s.ok()) {
        next_recovery = absl::Now() + options_.recovery_interval;
        // The latest cause is what callers are told (still full, or not).
        std::lock_guard l(failure_mu_);
        failure_ = s;
      }
    }
    if (group.empty()) continue;
    WrittenGroup written = WriteGroup(std::move(group));
    {
      std::unique_lock l(sync_mu_);
      sync_space_cv_.wait(l, [this] { return unsynced_.size() < options_.max_unsynced_groups; });
      unsynced_.push_back(std::move(written));
    }
    sync_cv_.notify_one();
  }
  {
    std::lock_guard l(sync_mu_);
    writer_done_ = true;
  }
  sync_cv_.notify_one();
}

void RocksDbEventLog::SyncLoop() {
  for (;;) {
    std::deque<WrittenGroup> groups;
    {
      std::unique_lock l(sync_mu_);
      sync_cv_.wait(l, [this] { return !unsynced_.empty() || writer_done_; });
      if (unsynced_.empty()) {  // the writer is done and all is synced
        {
          std::lock_guard c(complete_mu_);
          syncer_done_ = true;
        }
        complete_cv_.notify_one();
        return;
      }
      groups.swap(unsynced_);
      sync_busy_ = true;
    }
    sync_space_cv_.notify_one();
    const bool wrote = std::any_of(groups.begin(), groups.end(),
                                   [](const WrittenGroup& g) { return g.wrote; });
    absl::Status synced;
    if (failed_.load(std::memory_order_acquire)) {
      // Groups written before a failure are not synced: the database is not
      // used again once a write or sync failed (RocksDB asserts on a sync
      // after a failed write), and the reopen removes them.
      std::lock_guard l(failure_mu_);
      synced = failure_.ok() ? absl::UnavailableError("storage error; retry") : failure_;
    } else if (wrote) {
      std::shared_lock l(db_mu_);
      const rocksdb::Status s = db_->SyncWAL();
      if (!s.ok()) {
        synced = StorageError(s, "syncing the write-ahead log");
        Fail(synced);
      }
    }
    if (!synced.ok()) {
      for (WrittenGroup& g : groups) FailAccepted(g.results, synced);
    } else if (groups.back().last_position > committed_.load(std::memory_order_relaxed)) {
      Publish(groups.back().last_position);
    }
    // Callbacks (which answer RPCs) run on their own thread, so that the
    // next fsync does not wait for them.
    {
      std::unique_lock l(complete_mu_);
      complete_space_cv_.wait(
          l, [this] { return completed_.size() < options_.max_unsynced_groups; });
      for (WrittenGroup& g : groups) completed_.push_back(std::move(g));
    }
    complete_cv_.notify_one();
    {
      std::lock_guard l(sync_mu_);
      sync_busy_ = false;
    }
    sync_space_cv_.notify_one();
  }
}

void RocksDbEventLog::CompleteLoop() {
  for (;;) {
    std::deque<WrittenGroup> groups;
    {
      std::unique_lock l(complete_mu_);
      complete_cv_.wait(l, [this] { return !completed_.empty() || syncer_done_; });
      if (completed_.empty()) return;
      groups.swap(completed_);
    }
    complete_space_cv_.notify_one();
    HandCommittedEvents(groups);
    for (WrittenGroup& g : groups) {
      for (size_t i = 0; i < g.appends.size(); ++i) {
        // The proposal goes first: it may borrow what the callback frees.
        g.appends[i].proposal.reset();
        std::move(g.appends[i].done)(std::move(g.results[i]));
      }
    }
  }
}

WrittenGroup RocksDbEventLog::WriteGroup(std::vector<PendingAppend> group) {
  WrittenGroup out;
  out.results.reserve(group.size());
  if (failed_.load(std::memory_order_acquire)) {
    std::lock_guard l(failure_mu_);
    out.results.assign(group.size(), failure_);
  } else {
    // Encoding: each proposal becomes events (checked as AppendAsync checks
    // a caller's).
    std::vector<absl::Status> encoded(group.size());
    size_t ids = 0;
    for (size_t i = 0; i < group.size(); ++i) {
      PendingAppend& a = group[i];
      if (a.proposal != nullptr) {
        encoded[i] = options_.decider->Encode(a.stream, *a.proposal, &a.events);
        if (encoded[i].ok() && a.events.size() != a.proposal->size()) {
          encoded[i] = absl::InternalError(absl::StrFormat(
              "the decider encoded %d events of a proposal of %d", a.events.size(),
              a.proposal->size()));
        }
        size_t bytes = 0;
        if (encoded[i].ok()) encoded[i] = CheckEvents(a.events, &bytes);
      }
      if (encoded[i].ok()) ids += a.events.size();
    }
    // One lookup of every id of the group.
    std::vector<std::string> id_keys;
    id_keys.reserve(ids);
    for (size_t i = 0; i < group.size(); ++i) {
      if (!encoded[i].ok()) continue;
      for (const ProposedEvent& e : group[i].events) id_keys.push_back(enc::EventIdKey(e.event_id));
    }
    std::vector<std::optional<uint64_t>> found;
    const absl::Status looked_up = ids_->Lookup(id_keys, &found);

    GroupState g;
    g.next_position = last_position_ + 1;
    const int64_t now = std::max(absl::ToUnixMicros(options_.clock()), last_recorded_micros_);
    g.recorded_time = absl::FromUnixMicros(now);
    rocksdb::WriteBatch batch;
    std::vector<std::optional<uint64_t>> known;
    size_t k = 0;  // the first lookup of the current append
    for (size_t i = 0; i < group.size(); ++i) {
      PendingAppend& a = group[i];
      if (!encoded[i].ok()) {
        out.results.push_back(encoded[i]);
        continue;
      }
      const size_t first = k;
      k += a.events.size();
      if (!looked_up.ok()) {
        out.results.push_back(looked_up);
        continue;
      }
      // Which ids were seen before: earlier in this group, or in the log.
      known.assign(a.events.size(), std::nullopt);
      for (size_t e = 0; e < a.events.size(); ++e) {
        if (auto it = g.ids.find(a.events[e].event_id); it != g.ids.end()) {
          known[e] = it->second.position;
        } else {
          known[e] = found[first + e];
        }
      }
      out.results.push_back(Prepare(a, g, known, id_keys.data() + first, &batch));
    }
    if (failed_.load(std::memory_order_acquire)) {
      // The decider failed (Prepare): nothing of the group is written.
      absl::Status error;
      {
        std::lock_guard l(failure_mu_);
        error = failure_;
      }
      FailAccepted(out.results, error);
      batch.Clear();
    }
    if (batch.Count() > 0) {
      // Not synced here: the sync thread makes it durable before anyone is
      // told (see the file comment).
      rocksdb::Status s;
      {
        std::shared_lock l(db_mu_);
        s = db_->Write(rocksdb::WriteOptions(), &batch);
      }
      if (!s.ok()) {
        const absl::Status error = StorageError(s, "writing appends");
        Fail(error);
        FailAccepted(out.results, error);
      } else {
        for (auto& [stream, next] : g.versions) {
          if (next_versions_.size() >= kMaxCachedStreams) next_versions_.clear();
          next_versions_[stream] = next;
        }
        last_position_ = g.next_position - 1;
        last_recorded_micros_ = now;
        out.wrote = true;
        ids_->Add(std::move(g.written_ids), last_position_);
      }
    }
  }
  out.last_position = last_position_;
  out.appends = std::move(group);
  return out;
}

void RocksDbEventLog::Publish(uint64_t last) {
  {
    std::lock_guard l(commit_mu_);
    committed_.store(last, std::memory_order_release);
  }
  commit_cv_.notify_all();
  ids_->Committed(last);
  std::shared_lock l(listeners_mu_);
  for (const auto& [id, listener] : listeners_) listener(Position(last));
}

absl::StatusOr<Position> RocksDbEventLog::WaitForPosition(Position after,
                                                          absl::Time deadline) const {
  std::unique_lock l(commit_mu_);
  commit_cv_.wait_until(l, absl::ToChronoTime(deadline), [&] {
    return closed_ || committed_.load(std::memory_order_acquire) > after.value();
  });
  const uint64_t last = committed_.load(std::memory_order_acquire);
  if (last > after.value()) return Position(last);
  if (closed_) return absl::UnavailableError("event log is closed");
  return absl::DeadlineExceededError(
      absl::StrFormat("no event after position %d before the deadline", after.value()));
}

uint64_t RocksDbEventLog::AddCommitListener(CommitListener listener) {
  std::unique_lock l(listeners_mu_);
  const uint64_t id = next_listener_id_++;
  listeners_.emplace_back(id, std::move(listener));
  return id;
}

void RocksDbEventLog::RemoveCommitListener(uint64_t id) {
  std::unique_lock l(listeners_mu_);
  listeners_.erase(std::remove_if(listeners_.begin(), listeners_.end(),
                                  [id](const auto& p) { return p.first == id; }),
                   listeners_.end());
}

uint64_t RocksDbEventLog::AddEventsListener(EventsListener listener) {
  std::lock_guard l(events_listeners_mu_);
  const uint64_t id = next_listener_id_++;
  events_listeners_.emplace_back(id, std::move(listener));
  return id;
}

void RocksDbEventLog::RemoveEventsListener(uint64_t id) {
  std::lock_guard l(events_listeners_mu_);
  std::erase_if(events_listeners_, [id](const auto& p) { return p.first == id; });
}

void RocksDbEventLog::HandCommittedEvents(std::deque<WrittenGroup>& groups) {
  std::lock_guard l(events_listeners_mu_);
  if (events_listeners_.empty()) return;
  size_t n = 0;
  for (const WrittenGroup& g : groups) {
    for (size_t i = 0; i < g.appends.size(); ++i) {
      if (g.results[i].ok() && !g.results[i]->duplicate) n += g.appends[i].events.size();
    }
  }
  if (n == 0) return;
  auto events = std::make_shared<std::vector<RecordedEvent>>();
  events->reserve(n);
  for (WrittenGroup& g : groups) {
    for (size_t i = 0; i < g.appends.size(); ++i) {
      if (!g.results[i].ok() || g.results[i]->duplicate) continue;
      const AppendResult& r = *g.results[i];
      PendingAppend& a = g.appends[i];
      for (size_t k = 0; k < a.events.size(); ++k) {
        ProposedEvent& e = a.events[k];
        RecordedEvent& out = events->emplace_back();
        out.position = Position(r.first_position.value() + k);
        out.stream = a.stream;
        out.stream_version = StreamVersion(r.first_version.value() + k);
        out.recorded_time = r.recorded_time;
        out.event_id = std::move(e.event_id);
        out.type = std::move(e.type);
        out.tags = std::move(e.tags);
        out.data = std::move(e.data);
      }
    }
  }
  // Positions run in order: appends are committed in the order grouped.
  std::shared_ptr<const std::vector<RecordedEvent>> shared = std::move(events);
  for (const auto& [id, listener] : events_listeners_) listener(shared);
}

}  // namespace dealwire::store
