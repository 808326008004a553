// store/rocksdb_event_log.h — the RocksDB engine behind store/event_log.h,
// store/metadata.h and store/state_space.h: the class every rocksdb_*.cc
// file implements a part of, and what those files share. Internal to
// store/; store/README.md says which file owns what. OpenEventLog
// (rocksdb_open.cc) is the only way in:
//
//   ASSIGN_OR_RETURN(std::unique_ptr<EventLog> log, OpenEventLog(path, options));
//
// Layout (column families; integers big-endian so bytewise order is numeric):
//   events     position                    → record (encoding.h, format 2)
//   streams    stream NUL first version    → first position [, count]: one
//                                            run per append (encoding.h)
//   event_ids  event_id (16 bytes for UUIDs) → position, written in sorted
//              runs by the EventIdIndex (event_id_index.h), with its watermark
//   metadata   key                         → value (server state, metadata.h)
//   default    kFormatKey                  → the log's format version
// Every append writes its event records and one stream run in one
// WriteBatch, so the stream index never disagrees with the log, even after a
// crash; its ids go to the EventIdIndex, which keeps the ids of recent events
// in memory and is exact after a crash too (it reads them back from the
// log). Format 1 (Dealwire 0.1) also kept a tag index (family
// `tags`, tag NUL position → "") and one stream-index key per event; opening
// such a log drops the tag index (nothing reads it) and reads its per-event
// stream keys as runs of one. A log of a format newer than this build's is
// refused.
//
// The state space is a second database, in the subdirectory `state`
// (rocksdb_state.cc). Appends go through a three-stage pipeline of threads:
// writer, sync, completion (rocksdb_write_pipeline.cc).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "rocksdb/db.h"
#include "rocksdb/env.h"
#include "rocksdb/options.h"
#include "rocksdb/write_batch.h"
#include "store/encoding.h"
#include "store/event_id_index.h"
#include "store/event_log.h"
#include "store/metadata.h"
#include "store/state_space.h"
#include "store/types.h"

namespace dealwire::store {

// Each database's LOG (see info_log.h) is renamed LOG.old past this size.
inline constexpr size_t kInfoLogBytes = 16 << 20;

// Where earlier versions saved the decider's state whole; an open removes
// it (the decider keeps its state in the state space now).
inline constexpr char kLegacyDeciderStateFile[] = "decider-state";

// Streams whose next version the writer remembers; beyond this the cache is
// dropped and refilled from the stream index on demand.
inline constexpr size_t kMaxCachedStreams = 1 << 20;

// Whether a state-space key is inserted into the memtable with a hint (for
// the key without its last 8 bytes): keys of 8 bytes or more, except those
// ending in '/'. Those are where the state's range deletions start, and a
// range start must take no hint: RocksDB 7.8 inserts a range deletion into
// the memtable's range-deletion list with the point list's hint for its
// prefix, and a hint used in both lists corrupts them (an assertion abort
// in InlineSkipList::Insert). State::Write refuses range starts that would.
inline bool StateKeyTakesHint(absl::string_view key) {
  return key.size() >= 8 && key.back() != '/';
}

// Returns `s` for a caller, its message prefixed by `what`: NOT_FOUND,
// DATA_LOSS (corruption), INVALID_ARGUMENT, UNAVAILABLE (busy, try again),
// INTERNAL for the rest.
absl::Status FromRocks(const rocksdb::Status& s, absl::string_view what);

// A failed write or sync of the log: RESOURCE_EXHAUSTED for a full disk,
// UNAVAILABLE for any other (the log recovers by itself; see event_log.h).
absl::Status StorageError(const rocksdb::Status& s, absl::string_view what);

inline rocksdb::Slice ToSlice(absl::string_view s) { return rocksdb::Slice(s.data(), s.size()); }
inline absl::string_view ToView(const rocksdb::Slice& s) {
  return absl::string_view(s.data(), s.size());
}

struct PendingAppend {
  std::string stream;
  ExpectedVersion expected;
  // Complete events (AppendAsync), or filled by the decider's Encode.
  std::vector<ProposedEvent> events;
  // The domain's form of the events (ProposeAsync), or null.
  std::unique_ptr<Proposal> proposal;
  AppendCallback done;
  size_t bytes = 0;
};

// A group written by the writer thread, waiting for the sync thread.
struct WrittenGroup {
  std::vector<PendingAppend> appends;
  std::vector<absl::StatusOr<AppendResult>> results;
  // The log's end once this group is durable.
  uint64_t last_position = 0;
  // Whether this group wrote anything (a group of refusals and repeats
  // does not, but still waits for the groups before it).
  bool wrote = false;
};

// What the writer knows about the group it is building.
struct GroupState {
  uint64_t next_position;
  absl::Time recorded_time;
  // stream → next version, for streams appended to in this group.
  absl::flat_hash_map<std::string, uint64_t> versions;
  struct IdInGroup {
    uint64_t position;
    uint64_t version;
    const PendingAppend* owner;
    const ProposedEvent* event;
  };
  // event_id → where this group put it. Views into the group's appends.
  absl::flat_hash_map<absl::string_view, IdInGroup> ids;
  // The id keys and positions of the events written, for the id index.
  std::vector<std::pair<std::string, uint64_t>> written_ids;
};

class RocksDbEventLog;

// The events accepted before an append of the group being built (see
// AcceptedEvents): the group's earlier appends, then the id index and the
// records written (durable or not). Writer thread only.
class GroupView final : public AcceptedEvents {
 public:
  GroupView(const RocksDbEventLog& log, const GroupState& group) : log_(log), group_(group) {}
  absl::StatusOr<std::optional<RecordedEvent>> Find(absl::string_view event_id) const override;

 private:
  const RocksDbEventLog& log_;
  const GroupState& group_;
};

class RocksDbEventLog final : public EventLog {
 public:
  // rocksdb_open.cc
  static absl::StatusOr<std::unique_ptr<EventLog>> Open(const std::string& path, Options options);

  ~RocksDbEventLog() override { Close().IgnoreError(); }

  // rocksdb_write_pipeline.cc
  void AppendAsync(std::string stream, ExpectedVersion expected, std::vector<ProposedEvent> events,
                   AppendCallback done) override;
  void ProposeAsync(std::string stream, ExpectedVersion expected,
                    std::unique_ptr<Proposal> proposal, AppendCallback done) override;
  // rocksdb_reads.cc
  absl::StatusOr<std::vector<RecordedEvent>> ReadStream(absl::string_view stream,
                                                        Direction direction,
                                                        std::optional<StreamVersion> from,
                                                        size_t limit) const override;
  absl::StatusOr<std::vector<RecordedEvent>> ReadAll(Direction direction,
                                                     std::optional<Position> from,
                                                     size_t limit) const override;
  absl::StatusOr<RecordedEvent> ReadEvent(Position position) const override;
  absl::StatusOr<Position> FindEvent(absl::string_view event_id) const override;
  absl::StatusOr<StreamVersion> GetStreamVersion(absl::string_view stream) const override;
  Position LastPosition() const override {
    return Position(committed_.load(std::memory_order_acquire));
  }
  // rocksdb_write_pipeline.cc
  absl::StatusOr<Position> WaitForPosition(Position after, absl::Time deadline) const override;
  uint64_t AddCommitListener(CommitListener listener) override;
  void RemoveCommitListener(uint64_t id) override;
  uint64_t AddEventsListener(EventsListener listener) override;
  void RemoveEventsListener(uint64_t id) override;
  MetadataStore& metadata() override { return metadata_store_; }
  StateSpace& state() const override { return state_space_; }
  // rocksdb_open.cc
  absl::Status Close() override;

 private:
  friend class GroupView;

  // The metadata family of the log's database (metadata();
  // rocksdb_metadata.cc).
  class Metadata final : public MetadataStore {
   public:
    explicit Metadata(RocksDbEventLog& log) : log_(log) {}
    absl::Status Put(absl::string_view key, absl::string_view value) override;
    absl::StatusOr<std::string> Get(absl::string_view key) const override;
    absl::Status Delete(absl::string_view key) override;
    absl::StatusOr<std::vector<std::pair<std::string, std::string>>> List(
        absl::string_view prefix, absl::string_view start_after, size_t limit) const override;

   private:
    RocksDbEventLog& log_;
  };

  // The state space's database (state(); rocksdb_state.cc).
  class State final : public StateSpace {
   public:
    explicit State(RocksDbEventLog& log) : log_(log) {}
    absl::Status Write(const StateBatch& batch) override;
    absl::StatusOr<std::optional<std::string>> Get(absl::string_view key) const override;
    absl::Status Persist() override;
    absl::StatusOr<std::unique_ptr<StateSnapshot>> Snapshot() const override;

   private:
    RocksDbEventLog& log_;
    // Set after a write failed for a storage error.
    std::atomic<bool> write_failed_{false};
  };

  explicit RocksDbEventLog(Options options) : options_(std::move(options)) {}

  // Opening and closing (rocksdb_open.cc).
  //
  // Reads the log's format version, refusing a newer one with
  // FAILED_PRECONDITION. Returns true when the log has none: it is new, or
  // of format 1 (whose stream keys format 2 reads as runs of one, and whose
  // every id is in the id family); WriteFormat then makes it format 2.
  absl::StatusOr<bool> CheckFormat(const std::string& path);
  absl::Status WriteFormat();
  // Opens the log's database (not the state space) with `cfs`. REQUIRES:
  // db_mu_ held exclusively.
  // `on_full_disk`: the WAL is replayed into memtables without writing
  // table files, so that a log whose disk is full (or nearly) still opens;
  // otherwise the open flushes what it replays, so that the next open does
  // not replay it again.
  rocksdb::Status OpenLogDb(std::vector<rocksdb::ColumnFamilyDescriptor> cfs, bool on_full_disk);
  // Reads the log's end and brings the event-id index up (not started).
  // `all_indexed`: see EventIdIndex::Open. REQUIRES: the database is open,
  // writer thread or Open.
  absl::Status OpenIndex(bool all_indexed);
  // Closes the log's database and its id index, if open. REQUIRES: db_mu_
  // held exclusively.
  absl::Status CloseLogDb();

  // The state space's database (rocksdb_state.cc).
  //
  // Opens (or creates) the state space's database in the log's directory,
  // with the log's `db_options` (its memtable budget, block cache and
  // background jobs) and the state's `cf_options`. REQUIRES: Open.
  absl::Status OpenStateDb(const rocksdb::DBOptions& db_options,
                           const rocksdb::ColumnFamilyOptions& cf_options);

  // Checks before an append is written (rocksdb_checks.cc).
  //
  // Checks the stream of an append, and the count of its events.
  absl::Status CheckStream(absl::string_view stream, size_t events) const;
  // Checks the events of an append (ids, types, tags, sizes), removes
  // repeated tags, and sets `*bytes` to their size.
  absl::Status CheckEvents(std::vector<ProposedEvent>& events, size_t* bytes) const;
  // Decides one append whose ids were looked up (`known`: the position of
  // each event id written before, in the log or earlier in the group;
  // `id_keys`: their EventIdKeys, moved into the group's written ids when
  // the append is accepted).
  absl::StatusOr<AppendResult> Prepare(PendingAppend& a, GroupState& g,
                                       const std::vector<std::optional<uint64_t>>& known,
                                       std::string* id_keys, rocksdb::WriteBatch* batch);
  absl::StatusOr<AppendResult> CheckRepeat(const PendingAppend& a, const GroupState& g,
                                           const std::vector<std::optional<uint64_t>>& known);
  absl::StatusOr<uint64_t> NextVersion(const std::string& stream, const GroupState& g);

  // The write path (rocksdb_write_pipeline.cc).
  //
  // Queues `a`, or calls its callback with why it cannot be queued.
  void Enqueue(PendingAppend a);
  void WriterLoop();
  void SyncLoop();
  void CompleteLoop();
  // Writes `group` (not yet durable) and returns what the sync thread needs.
  WrittenGroup WriteGroup(std::vector<PendingAppend> group);
  void Publish(uint64_t last);
  // Hands the events the groups committed to the events listeners.
  void HandCommittedEvents(std::deque<WrittenGroup>& groups);

  // Reads (rocksdb_reads.cc).
  //
  // Reads the record at `position`, durable or not (writer thread only).
  absl::StatusOr<RecordedEvent> ReadRecord(Position position) const;
  // Returns the last run of `stream`'s index, written or only committed ones.
  absl::StatusOr<std::optional<encoding::StreamRun>> LastRun(absl::string_view stream,
                                                             bool committed_only) const;
  // REQUIRES: db_mu_ held shared
  absl::StatusOr<std::vector<RecordedEvent>> MultiRead(
      const std::vector<uint64_t>& positions) const;
  // What a read of the log's database gets while it has none: closed, or
  // reopening after a storage error.
  absl::Status Unreadable() const;

  // Storage errors (rocksdb_recovery.cc).
  //
  // Records a storage error: every append fails with it until Recover.
  void Fail(const absl::Status& error);
  // Writer thread, after a storage error: waits until the sync thread has
  // nothing in hand, then closes and reopens the log's database, removes
  // the records after the published end (the failed appends'), and has the
  // decider recover. On success appends are taken again.
  absl::Status Recover();
  // Removes every record after `last` and its stream run, synced.
  // REQUIRES: db_mu_ held exclusively, the database open.
  absl::Status TruncateAfter(uint64_t last);
  // Writes, syncs and removes a small file beside the log: whether its disk
  // takes writes again.
  absl::Status ProbeWrite() const;

  const Options options_;
  std::string path_;
  // What the log's database is (re)opened with.
  std::unique_ptr<rocksdb::Env> env_;  // over options_.file_system, or null
  rocksdb::DBOptions db_options_;
  std::vector<rocksdb::ColumnFamilyDescriptor> cfs_;
  rocksdb::ColumnFamilyOptions ids_options_;

  // Guards the handles against Close: readers hold it shared.
  mutable std::shared_mutex db_mu_;
  std::unique_ptr<rocksdb::DB> db_;  // guarded by db_mu_
  rocksdb::ColumnFamilyHandle* events_ = nullptr;
  rocksdb::ColumnFamilyHandle* streams_ = nullptr;
  rocksdb::ColumnFamilyHandle* event_ids_ = nullptr;
  rocksdb::ColumnFamilyHandle* metadata_ = nullptr;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
  std::unique_ptr<rocksdb::DB> state_db_;  // guarded by db_mu_
  std::unique_ptr<EventIdIndex> ids_;      // set by Open

  // The queue between appenders and the writer. (std::mutex on the hot
  // path: it is cheaper than absl::Mutex where the latter runs with deadlock
  // detection.)
  std::mutex mu_;
  std::condition_variable queue_cv_;
  std::deque<PendingAppend> queue_;  // guarded by mu_
  size_t queued_bytes_ = 0;          // guarded by mu_
  bool closing_ = false;             // guarded by mu_
  std::thread writer_;

  // The hand-off from the writer to the sync thread.
  std::mutex sync_mu_;
  std::condition_variable sync_cv_;        // work for the sync thread
  std::condition_variable sync_space_cv_;  // room for the writer
  std::deque<WrittenGroup> unsynced_;      // guarded by sync_mu_
  bool writer_done_ = false;               // guarded by sync_mu_
  bool sync_busy_ = false;  // groups in the sync thread's hands; guarded by sync_mu_
  std::thread syncer_;

  // The hand-off from the sync thread to the completion thread.
  std::mutex complete_mu_;
  std::condition_variable complete_cv_;
  std::condition_variable complete_space_cv_;
  std::deque<WrittenGroup> completed_;  // guarded by complete_mu_
  bool syncer_done_ = false;            // guarded by complete_mu_
  std::thread completer_;
  // The storage error appends fail with, until Recover succeeds.
  std::mutex failure_mu_;
  absl::Status failure_;  // guarded by failure_mu_
  std::atomic<bool> failed_{false};
  // Set while the log's database is closed for a reopen.
  std::atomic<bool> reopening_{false};

  // Publication of commits to readers and waiters.
  mutable std::mutex commit_mu_;
  mutable std::condition_variable commit_cv_;
  std::atomic<uint64_t> committed_{0};
  bool closed_ = false;  // guarded by commit_mu_

  std::shared_mutex listeners_mu_;
  std::vector<std::pair<uint64_t, CommitListener>> listeners_;  // guarded by listeners_mu_
  // Ids of both kinds of listeners.
  std::atomic<uint64_t> next_listener_id_{1};
  std::mutex events_listeners_mu_;
  // guarded by events_listeners_mu_
  std::vector<std::pair<uint64_t, EventsListener>> events_listeners_;

  std::mutex close_mu_;
  bool close_done_ = false;     // guarded by close_mu_
  absl::Status close_status_;   // guarded by close_mu_

  // Owned by the writer thread (and by Open before it starts).
  uint64_t last_position_ = 0;
  int64_t last_recorded_micros_ = 0;
  absl::flat_hash_map<std::string, uint64_t> next_versions_;
  Metadata metadata_store_{*this};
  mutable State state_space_{*this};  // thread-safe: usable from a const log
};

}  // namespace dealwire::store
