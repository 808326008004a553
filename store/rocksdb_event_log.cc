// The RocksDB engine behind store/event_log.h.
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
// The state space (state_space.h) is a second database in the subdirectory
// `state`, with its own memtables and write queue: derived state is written
// in large batches, and in the log's database those batches would hold up
// appends (one write queue) and lengthen every sync (one WAL). It writes no
// WAL at all (what a crash loses is derived again). It never runs ahead of
// the log: it is built from published events only, which are durable.
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
#include <fcntl.h>
#include <pthread.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <thread>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "rocksdb/cache.h"
#include "rocksdb/db.h"
#include "rocksdb/env.h"
#include "rocksdb/file_system.h"
#include "rocksdb/filter_policy.h"
#include "rocksdb/memtablerep.h"
#include "rocksdb/options.h"
#include "rocksdb/slice_transform.h"
#include "rocksdb/table.h"
#include "rocksdb/write_batch.h"
#include "rocksdb/write_buffer_manager.h"
#include "store/encoding.h"
#include "store/event_id_index.h"
#include "store/event_log.h"
#include "store/info_log.h"
#include "store/metadata.h"
#include "store/state_space.h"

namespace dealwire::store {
namespace {

namespace enc = encoding;

constexpr char kEventsCf[] = "events";
constexpr char kStreamsCf[] = "streams";
// The state space's database, in the log's directory; and the column family
// that held it inside the log's database before (dropped when found: the
// state is derived and is rebuilt).
constexpr char kStateDir[] = "state";
constexpr char kLegacyStateCf[] = "state";
constexpr char kEventIdsCf[] = "event_ids";
// Format 1's tag index, dropped when found.
constexpr char kLegacyTagsCf[] = "tags";
constexpr char kMetadataCf[] = "metadata";
constexpr size_t kMaxMetadataKeyBytes = 1024;
// The file Recover writes to learn whether the disk takes writes again.
constexpr char kWriteProbe[] = "dealwire-write-probe";
constexpr size_t kWriteProbeBytes = 1 << 20;
// The decider's state as of the last clean Close (see SaveDeciderState).
constexpr char kDeciderStateFile[] = "decider-state";
constexpr char kDeciderStateMagic[] = "dealwire.decider-state.1\n";
// Each database's LOG (see info_log.h) is renamed LOG.old past this size.
constexpr size_t kInfoLogBytes = 16 << 20;

// The log's format version, in the default column family.
constexpr char kFormatKey[] = "dealwire.log.format";
constexpr uint64_t kFormat = 2;

// Streams whose next version the writer remembers; beyond this the cache is
// dropped and refilled from the stream index on demand.
constexpr size_t kMaxCachedStreams = 1 << 20;

// The part of a key before its 8-byte suffix (the stream, or nothing for an
// event's position). Each stream's keys, and the events' keys, arrive in
// increasing order, so RocksDB keeps one insert hint per prefix and inserts
// become near O(1) instead of a full skip-list search per key. The state
// space uses it too: projections key claims and timelines by position under
// an entity, and write them in order.
class IndexKeyPrefix final : public rocksdb::SliceTransform {
 public:
  const char* Name() const override { return "dealwire.IndexKeyPrefix"; }
  rocksdb::Slice Transform(const rocksdb::Slice& key) const override {
    return rocksdb::Slice(key.data(), key.size() - 8);
  }
  bool InDomain(const rocksdb::Slice& key) const override { return key.size() >= 8; }
};

absl::Status FromRocks(const rocksdb::Status& s, absl::string_view what) {
  if (s.ok()) return absl::OkStatus();
  const std::string msg = absl::StrCat(what, ": ", s.ToString());
  if (s.IsNotFound()) return absl::NotFoundError(msg);
  if (s.IsCorruption()) return absl::DataLossError(msg);
  if (s.IsInvalidArgument()) return absl::InvalidArgumentError(msg);
  if (s.IsBusy() || s.IsTryAgain()) return absl::UnavailableError(msg);
  return absl::InternalError(msg);
}

// A failed write or sync of the log: RESOURCE_EXHAUSTED for a full disk,
// UNAVAILABLE for any other (the log recovers by itself; see event_log.h).
absl::Status StorageError(const rocksdb::Status& s, absl::string_view what) {
  if (s.ok()) return absl::OkStatus();
  if (s.IsNoSpace()) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "the disk is full (", what, ": ", s.ToString(),
        "); appends resume by themselves once space is freed"));
  }
  return absl::UnavailableError(absl::StrCat("storage error (", what, ": ", s.ToString(),
                                             "); the log reopens by itself, retry"));
}

// Whether the disk holding the log at `path` has room to write its WALs
// out as table files while it opens: twice their size and 64 MiB to spare.
// (A flush that fails for want of space leaves its partial file behind,
// taking what an open without it would need.)
bool RoomToFlushWal(const std::string& path) {
  std::error_code ec;
  uint64_t wal = 0;
  for (const auto& entry : std::filesystem::directory_iterator(path, ec)) {
    if (entry.path().extension() == ".log") wal += entry.file_size(ec);
  }
  const std::filesystem::space_info space = std::filesystem::space(path, ec);
  if (ec) return false;
  return space.available > 2 * wal + (uint64_t{64} << 20);
}

rocksdb::Slice ToSlice(absl::string_view s) { return rocksdb::Slice(s.data(), s.size()); }
absl::string_view ToView(const rocksdb::Slice& s) { return absl::string_view(s.data(), s.size()); }

// The stream index entries of one stream (keys "name\0..."), as the bounds
// of an iterator. Not copyable: the iterator points at its bounds, so the
// range outlives the iterator.
class StreamRange {
 public:
  explicit StreamRange(absl::string_view stream)
      : lower_(enc::StreamPrefix(stream)), upper_(lower_) {
    upper_.back() = '\1';  // "name\1" bounds every key of "name\0"
  }
  StreamRange(const StreamRange&) = delete;
  StreamRange& operator=(const StreamRange&) = delete;

  std::unique_ptr<rocksdb::Iterator> Open(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf) {
    lower_slice_ = ToSlice(lower_);
    upper_slice_ = ToSlice(upper_);
    rocksdb::ReadOptions ro;
    ro.iterate_lower_bound = &lower_slice_;
    ro.iterate_upper_bound = &upper_slice_;
    return std::unique_ptr<rocksdb::Iterator>(db->NewIterator(ro, cf));
  }

 private:
  std::string lower_, upper_;
  rocksdb::Slice lower_slice_, upper_slice_;
};

bool HasNul(absl::string_view s) { return absl::StrContains(s, absl::string_view("\0", 1)); }

// Whether `e` (in `stream`) repeats an event written as `other_*`. Tags
// count only where the caller sets them (`with_tags`); a decider derives
// them from the rest (see types.h).
bool SameContent(absl::string_view stream, const ProposedEvent& e, absl::string_view other_stream,
                 absl::string_view type, const std::vector<std::string>& tags,
                 absl::string_view data, bool with_tags) {
  return stream == other_stream && e.type == type && e.data == data &&
         (!with_tags || e.tags == tags);
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
  static absl::StatusOr<std::unique_ptr<EventLog>> Open(const std::string& path, Options options);

  ~RocksDbEventLog() override { Close().IgnoreError(); }

  void AppendAsync(std::string stream, ExpectedVersion expected, std::vector<ProposedEvent> events,
                   AppendCallback done) override;
  void ProposeAsync(std::string stream, ExpectedVersion expected,
                    std::unique_ptr<Proposal> proposal, AppendCallback done) override;
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
  absl::StatusOr<Position> WaitForPosition(Position after, absl::Time deadline) const override;
  uint64_t AddCommitListener(CommitListener listener) override;
  void RemoveCommitListener(uint64_t id) override;
  uint64_t AddEventsListener(EventsListener listener) override;
  void RemoveEventsListener(uint64_t id) override;
  MetadataStore& metadata() override { return metadata_store_; }
  StateSpace& state() override { return state_space_; }
  absl::Status Close() override;

 private:
  friend class GroupView;

  // The metadata family of the log's database (metadata()).
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

  // The state space's database (state()).
  class State final : public StateSpace {
   public:
    explicit State(RocksDbEventLog& log) : log_(log) {}
    absl::Status Write(const StateBatch& batch) override;
    absl::StatusOr<std::unique_ptr<StateSnapshot>> Snapshot() const override;

   private:
    RocksDbEventLog& log_;
    // Set after a write failed for a storage error.
    std::atomic<bool> write_failed_{false};
  };

  explicit RocksDbEventLog(Options options) : options_(std::move(options)) {}

  // Reads the log's format version, refusing a newer one with
  // FAILED_PRECONDITION. Returns true when the log has none: it is new, or
  // of format 1 (whose stream keys format 2 reads as runs of one, and whose
  // every id is in the id family); WriteFormat then makes it format 2.
  absl::StatusOr<bool> CheckFormat(const std::string& path);
  absl::Status WriteFormat();
  // Checks the stream of an append, and the count of its events.
  absl::Status CheckStream(absl::string_view stream, size_t events) const;
  // Checks the events of an append (ids, types, tags, sizes), removes
  // repeated tags, and sets `*bytes` to their size.
  absl::Status CheckEvents(std::vector<ProposedEvent>& events, size_t* bytes) const;
  // Queues `a`, or calls its callback with why it cannot be queued.
  void Enqueue(PendingAppend a);
  void WriterLoop();
  void SyncLoop();
  void CompleteLoop();
  // Writes `group` (not yet durable) and returns what the sync thread needs.
  WrittenGroup WriteGroup(std::vector<PendingAppend> group);
  // Reads the record at `position`, durable or not (writer thread only).
  absl::StatusOr<RecordedEvent> ReadRecord(Position position) const;
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
  // Returns the last run of `stream`'s index, written or only committed ones.
  absl::StatusOr<std::optional<enc::StreamRun>> LastRun(absl::string_view stream,
                                                        bool committed_only) const;
  absl::StatusOr<std::vector<RecordedEvent>> MultiRead(const std::vector<uint64_t>& positions) const
;  // REQUIRES: db_mu_ held shared
  void Publish(uint64_t last);
  // Hands the events the groups committed to the events listeners.
  void HandCommittedEvents(std::deque<WrittenGroup>& groups);
  // What a read of the log's database gets while it has none: closed, or
  // reopening after a storage error.
  absl::Status Unreadable() const;

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
  // Brings the decider up: from the state it saved at the last Close
  // (kDeciderStateFile) when that matches the log, else by Recover.
  // REQUIRES: the log open for reads, no append running.
  absl::Status RecoverDecider();
  // The file kDeciderStateFile holds: the decider's state with the log's
  // last written event; nullopt when the decider keeps none or the log is
  // failed. Sets saved_at_. REQUIRES: writer thread (or it is done).
  std::optional<std::string> DeciderStateFile();
  // Has the decider save its state into kDeciderStateFile, if it keeps one.
  // REQUIRES: every append done, the database open.
  void SaveDeciderState();
  // Writer thread, after a group: every Options::decider_save_events
  // events, takes the decider's state and writes the file on saver_, so
  // that a start after kill -9 replays at most about that many events.
  void MaybeSaveDeciderState();
  void JoinSaver();

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
  uint64_t next_listener_id_ = 1;                               // guarded by listeners_mu_
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
  // The position of the last saved decider state (or of the log's end at
  // open), and the thread writing one.
  uint64_t saved_at_ = 0;
  std::thread saver_;
  std::atomic<bool> saving_{false};

  Metadata metadata_store_{*this};
  State state_space_{*this};
};

absl::StatusOr<std::unique_ptr<EventLog>> RocksDbEventLog::Open(const std::string& path,
                                                               Options options) {
  if (options.first_position == 0) {
    return absl::InvalidArgumentError("first_position: must be at least 1");
  }
  if (options.max_unsynced_groups == 0 || options.max_group_events == 0 ||
      options.id_index_run == 0) {
    return absl::InvalidArgumentError(
        "max_unsynced_groups, max_group_events, id_index_run: must be at least 1");
  }
  std::unique_ptr<RocksDbEventLog> log(new RocksDbEventLog(std::move(options)));
  const Options& o = log->options_;
  log->path_ = path;

  rocksdb::DBOptions& db_options = log->db_options_;
  if (o.file_system != nullptr) {
    log->env_ = rocksdb::NewCompositeEnv(o.file_system);
    db_options.env = log->env_.get();
  }
  db_options.create_if_missing = o.create_if_missing;
  db_options.create_missing_column_families = true;
  db_options.max_background_jobs = 2;
  // One budget for the memtables of every column family of both databases
  // (the log's and the state space's): a burst flushes sooner instead of
  // filling every family's buffers.
  db_options.write_buffer_manager = std::make_shared<rocksdb::WriteBufferManager>(128 << 20);
  db_options.bytes_per_sync = 1 << 20;
  db_options.max_total_wal_size = 512 << 20;
  db_options.keep_log_file_num = 3;
  db_options.max_log_file_size = 8 << 20;
  db_options.avoid_unnecessary_blocking_io = true;
  // No preallocation: RocksDB would reserve each new WAL file a tenth more
  // than a memtable (70 MB) with fallocate, which on a nearly full disk
  // takes what the reopen and the restart need, and stays taken by the WAL
  // files a kill -9 leaves.
  db_options.allow_fallocate = false;
  // One writer thread writes everything; the hash memtable of event_ids
  // does not support concurrent inserts anyway.
  db_options.allow_concurrent_memtable_write = false;

  std::shared_ptr<rocksdb::Cache> cache = rocksdb::NewLRUCache(o.block_cache_bytes);
  // kLog: the events, keyed by position (scanned, inserted in order);
  // kIndex: the stream index, read by prefix (one stream); kPointLookup:
  // random keys read only by Get (event ids); kState: the state space;
  // kSmall: the rest.
  enum class Access { kSmall, kLog, kIndex, kPointLookup, kState };
  auto cf_options = [&](Access access, size_t write_buffer) {
    const bool point_lookups = access == Access::kPointLookup;
    const bool state = access == Access::kState;
    const bool index = access == Access::kIndex;
    rocksdb::BlockBasedTableOptions table;
    table.block_cache = cache;
    table.block_size = 16 << 10;
    table.cache_index_and_filter_blocks = true;
    table.pin_l0_filter_and_index_blocks_in_cache = true;
    if (point_lookups || state || index) {
      // Most id lookups are for new ids, most state lookups for absent keys,
      // and every first append to a stream looks for its last run: a bloom
      // filter (of whole keys; of streams for the index) answers "absent"
      // without reading a block.
      table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
      table.whole_key_filtering = !index;
    }
    rocksdb::ColumnFamilyOptions cf;
    cf.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
    // Fresh data is not compressed: flushes and the first compactions run on
    // the same cores as the writer. Older, larger levels use LZ4.
    cf.compression_per_level = {rocksdb::kNoCompression, rocksdb::kNoCompression,
                                rocksdb::kLZ4Compression, rocksdb::kLZ4Compression,
                                rocksdb::kLZ4Compression, rocksdb::kLZ4Compression,
                                rocksdb::kLZ4Compression};
    cf.write_buffer_size = write_buffer;
    cf.max_write_buffer_number = 4;
    cf.level_compaction_dynamic_level_bytes = true;
    // The events need no hint: their positions only grow, and the memtable's
    // own insert position already sits at the end (a hint measured 5-20 %
    // slower for 100-event appends). A state entity's claims arrive in order
    // under its prefix, among other entities': they are inserted next to the
    // entity's last one.
    if (state) {
      cf.memtable_insert_with_hint_prefix_extractor = std::make_shared<IndexKeyPrefix>();
      cf.memtable_whole_key_filtering = true;
      cf.memtable_prefix_bloom_size_ratio = 0.02;
    }
    if (index) {
      // The stream is the prefix: a seek within one stream consults the
      // stream's bloom filters first. A stream's runs arrive in order among
      // other streams': each is inserted next to its stream's last one
      // (the full search of a random insert was a fifth of the writer's
      // time for 1-event appends; a hash memtable would be cheaper still,
      // but its iterators do not support SeekForPrev).
      cf.prefix_extractor = std::make_shared<IndexKeyPrefix>();
      cf.memtable_prefix_bloom_size_ratio = 0.02;
      cf.memtable_insert_with_hint_prefix_extractor = std::make_shared<IndexKeyPrefix>();
    }
    if (point_lookups) {
      cf.prefix_extractor.reset(rocksdb::NewNoopTransform());
      cf.memtable_factory.reset(rocksdb::NewHashLinkListRepFactory(1 << 18));
      cf.memtable_whole_key_filtering = true;
      cf.memtable_prefix_bloom_size_ratio = 0.05;
    }
    return cf;
  };
  // The id family is written by ingesting files (event_id_index.h): its
  // memtable holds little.
  log->ids_options_ = cf_options(Access::kPointLookup, 4 << 20);
  log->cfs_ = {
      {rocksdb::kDefaultColumnFamilyName, cf_options(Access::kSmall, 4 << 20)},
      {kEventsCf, cf_options(Access::kLog, 64 << 20)},
      {kStreamsCf, cf_options(Access::kIndex, 4 << 20)},
      {kEventIdsCf, log->ids_options_},
      {kMetadataCf, cf_options(Access::kSmall, 4 << 20)},
  };
  std::vector<rocksdb::ColumnFamilyDescriptor> cfs = log->cfs_;
  // Column families an earlier version left (its state space, format 1's tag
  // index) are opened to be dropped.
  std::vector<std::string> legacy;
  {
    std::vector<std::string> existing;
    if (rocksdb::DB::ListColumnFamilies(db_options, path, &existing).ok()) {
      for (const char* name : {kLegacyStateCf, kLegacyTagsCf}) {
        if (std::find(existing.begin(), existing.end(), name) != existing.end()) {
          legacy.emplace_back(name);
          cfs.emplace_back(name, cf_options(Access::kSmall, 4 << 20));
        }
      }
    }
  }

  if (o.create_if_missing) {
    // RocksDB creates the directory itself but not its parents.
    std::error_code ec;
    std::filesystem::create_directories(path, ec);
    if (ec) {
      return absl::InternalError(
          absl::StrCat("creating the directory of the event log ", path, ": ", ec.message()));
    }
  }
  if (std::filesystem::is_directory(path)) {
    db_options.info_log = std::make_shared<InfoLog>(path, kInfoLogBytes);
  }
  rocksdb::Status s;
  {
    std::unique_lock l(log->db_mu_);
    s = log->OpenLogDb(cfs, /*on_full_disk=*/!RoomToFlushWal(path));
  }
  if (!s.ok()) {
    const std::string msg = s.ToString();
    if (absl::StrContains(msg, "LOCK") || absl::StrContains(msg, "lock")) {
      return absl::FailedPreconditionError(absl::StrCat(
          "event log at ", path, " is already open in another process or instance (", msg, ")"));
    }
    if (!o.create_if_missing && absl::StrContains(msg, "does not exist")) {
      return absl::NotFoundError(absl::StrCat("no event log at ", path));
    }
    if (s.IsNoSpace()) {
      return absl::ResourceExhaustedError(
          absl::StrCat("opening event log at ", path, ": the disk is full (", msg, ")"));
    }
    return FromRocks(s, absl::StrCat("opening event log at ", path));
  }
  absl::StatusOr<bool> new_format = log->CheckFormat(path);
  if (!new_format.ok()) return new_format.status();
  for (size_t i = legacy.size(); i > 0; --i) {
    rocksdb::ColumnFamilyHandle* h = log->handles_.back();
    log->handles_.pop_back();
    s = log->db_->DropColumnFamily(h);
    log->db_->DestroyColumnFamilyHandle(h);
    if (!s.ok()) {
      return FromRocks(s, absl::StrCat("dropping the column family '", legacy[i - 1],
                                       "' of an earlier version"));
    }
  }

  // The state space: written by one thread in large batches, read by
  // queries through snapshots. It shares the memtable budget and the block
  // cache with the log.
  {
    rocksdb::Options state_options(db_options, cf_options(Access::kState, 32 << 20));
    state_options.env = rocksdb::Env::Default();
    state_options.create_if_missing = true;
    state_options.max_total_wal_size = 256 << 20;
    const std::string state_path = absl::StrCat(path, "/", kStateDir);
    std::error_code ec;
    std::filesystem::create_directories(state_path, ec);
    state_options.info_log = std::make_shared<InfoLog>(state_path, kInfoLogBytes);
    rocksdb::DB* state_raw = nullptr;
    s = rocksdb::DB::Open(state_options, state_path, &state_raw);
    if (!s.ok()) return FromRocks(s, absl::StrCat("opening the state space at ", state_path));
    std::unique_lock l(log->db_mu_);
    log->state_db_.reset(state_raw);
  }

  if (absl::Status ids = log->OpenIndex(*new_format); !ids.ok()) return ids;
  // After the id watermark: a crash in between finds format 1 again.
  if (*new_format) {
    if (absl::Status f = log->WriteFormat(); !f.ok()) return f;
  }
  log->ids_->Start();
  log->saved_at_ = log->last_position_;
  if (o.decider != nullptr) {
    if (absl::Status s = log->RecoverDecider(); !s.ok()) return s;
  }
  log->writer_ = std::thread([p = log.get()] {
    pthread_setname_np(pthread_self(), "dw-log-writer");
    p->WriterLoop();
  });
  log->syncer_ = std::thread([p = log.get()] {
    pthread_setname_np(pthread_self(), "dw-log-sync");
    p->SyncLoop();
  });
  log->completer_ = std::thread([p = log.get()] {
    pthread_setname_np(pthread_self(), "dw-log-done");
    p->CompleteLoop();
  });
  return std::unique_ptr<EventLog>(std::move(log));
}

rocksdb::Status RocksDbEventLog::OpenLogDb(std::vector<rocksdb::ColumnFamilyDescriptor> cfs,
                                           bool on_full_disk) {
  rocksdb::DB* raw = nullptr;
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DBOptions options = db_options_;
  options.avoid_flush_during_recovery = on_full_disk;
  rocksdb::Status s = rocksdb::DB::Open(options, path_, cfs, &handles, &raw);
  if (!s.ok()) return s;
  db_.reset(raw);
  handles_ = std::move(handles);
  events_ = handles_[1];
  streams_ = handles_[2];
  event_ids_ = handles_[3];
  metadata_ = handles_[4];
  return s;
}

absl::Status RocksDbEventLog::OpenIndex(bool all_indexed) {
  // The log's end and its last recorded time come from its last event.
  last_position_ = options_.first_position - 1;
  {
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator({}, events_));
    it->SeekToLast();
    if (it->Valid()) {
      RecordedEvent last;
      if (it->key().size() != 8 ||
          !enc::DecodeRecord(Position(enc::DecodeFixed64BE(ToView(it->key()))),
                             ToView(it->value()), &last)) {
        return absl::DataLossError(
            absl::StrCat("event log at ", path_, ": last record is corrupt"));
      }
      last_position_ = last.position.value();
      last_recorded_micros_ = absl::ToUnixMicros(last.recorded_time);
    }
    if (!it->status().ok()) return FromRocks(it->status(), "reading the log's end");
  }
  committed_.store(last_position_, std::memory_order_release);
  ids_ = std::make_unique<EventIdIndex>(db_.get(), event_ids_, ids_options_, path_,
                                        EventIdIndex::Options{.run_ids = options_.id_index_run});
  return ids_->Open(
      all_indexed, last_position_,
      [this](uint64_t from, const std::function<void(absl::string_view, uint64_t)>& visit) {
        std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), events_));
        RecordedEvent e;
        for (it->Seek(ToSlice(enc::EventKey(Position(from)))); it->Valid(); it->Next()) {
          const Position p(enc::DecodeFixed64BE(ToView(it->key())));
          if (it->key().size() != 8 || !enc::DecodeRecord(p, ToView(it->value()), &e)) {
            return absl::DataLossError(
                absl::StrFormat("event at position %d is corrupt", p.value()));
          }
          visit(enc::EventIdKey(e.event_id), p.value());
        }
        return FromRocks(it->status(), "reading the log for its recent event ids");
      });
}

absl::Status RocksDbEventLog::CloseLogDb() {
  if (ids_ != nullptr) {
    ids_->Stop();
    ids_.reset();
  }
  absl::Status closed;
  if (db_ != nullptr) {
    for (rocksdb::ColumnFamilyHandle* h : handles_) db_->DestroyColumnFamilyHandle(h);
    handles_.clear();
    closed = FromRocks(db_->Close(), "closing event log");
    db_.reset();
  }
  return closed;
}

void RocksDbEventLog::Fail(const absl::Status& error) {
  {
    std::lock_guard l(failure_mu_);
    if (!failure_.ok()) return;
    failure_ = error;
  }
  {
    // Wakes the writer to start the recovery even if no append comes.
    std::lock_guard l(mu_);
    failed_.store(true, std::memory_order_release);
  }
  queue_cv_.notify_one();
  if (options_.storage_listener) options_.storage_listener(error);
}

absl::Status RocksDbEventLog::TruncateAfter(uint64_t last) {
  rocksdb::WriteBatch batch;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator({}, events_));
  RecordedEvent e;
  for (it->Seek(ToSlice(enc::EventKey(Position(last + 1)))); it->Valid(); it->Next()) {
    const Position p(enc::DecodeFixed64BE(ToView(it->key())));
    if (it->key().size() != 8 || !enc::DecodeRecord(p, ToView(it->value()), &e)) {
      return absl::DataLossError(absl::StrFormat("event at position %d is corrupt", p.value()));
    }
    batch.Delete(events_, it->key());
    // A run starts at one of its events' versions: deleting the key of
    // every event's version removes the run of each failed append.
    batch.Delete(streams_, ToSlice(enc::StreamKey(e.stream, e.stream_version)));
  }
  if (!it->status().ok()) return FromRocks(it->status(), "reading the failed appends");
  it.reset();
  if (batch.Count() == 0) return absl::OkStatus();
  rocksdb::WriteOptions wo;
  wo.sync = true;
  return StorageError(db_->Write(wo, &batch), "removing the failed appends");
}

absl::Status RocksDbEventLog::ProbeWrite() const {
  rocksdb::Env* env = db_options_.env;
  const std::string name = absl::StrCat(path_, "/", kWriteProbe);
  std::unique_ptr<rocksdb::WritableFile> file;
  rocksdb::Status s = env->NewWritableFile(name, &file, rocksdb::EnvOptions());
  if (s.ok()) s = file->Append(std::string(kWriteProbeBytes, '\0'));
  if (s.ok()) s = file->Sync();
  if (file != nullptr) {
    const rocksdb::Status closed = file->Close();
    if (s.ok()) s = closed;
  }
  env->DeleteFile(name).PermitUncheckedError();
  return StorageError(s, "writing to the log's disk");
}

absl::Status RocksDbEventLog::Recover() {
  // A disk that is still full keeps the database open for reads.
  if (absl::Status probed = ProbeWrite(); !probed.ok()) return probed;
  {
    // Groups still in the sync thread's hands fail there (it syncs nothing
    // once failed_ is set); the reopen waits for them, so no thread uses the
    // database it closes.
    std::unique_lock l(sync_mu_);
    sync_space_cv_.wait(l, [this] { return unsynced_.empty() && !sync_busy_; });
  }
  const uint64_t published = committed_.load(std::memory_order_acquire);
  // A state saved with events that were never acknowledged (they are
  // removed below) must not be loaded: the file goes.
  JoinSaver();
  if (saved_at_ > published) {
    std::error_code ec;
    std::filesystem::remove(absl::StrCat(path_, "/", kDeciderStateFile), ec);
    saved_at_ = published;
  }
  absl::Status s;
  {
    std::unique_lock l(db_mu_);
    reopening_.store(true, std::memory_order_relaxed);
    CloseLogDb().IgnoreError();  // the database is failed: its close may fail too
    // After a storage error the disk may be nearly full: replay without
    // writing table files.
    const rocksdb::Status opened = OpenLogDb(cfs_, /*on_full_disk=*/true);
    if (!opened.ok()) {
      s = StorageError(opened, absl::StrCat("reopening the event log at ", path_));
    } else {
      s = TruncateAfter(published);
      if (s.ok()) s = OpenIndex(/*all_indexed=*/false);
      if (s.ok() && last_position_ != published) {
        s = absl::InternalError(absl::StrFormat(
            "the reopened log ends at %d, not at its published end %d", last_position_,
            published));
      }
      if (s.ok()) {
        ids_->Start();
      } else {
        CloseLogDb().IgnoreError();
      }
    }
    reopening_.store(false, std::memory_order_relaxed);
  }
  if (!s.ok()) return s;
  next_versions_.clear();
  if (options_.decider != nullptr) {
    if (s = RecoverDecider(); !s.ok()) return s;
  }
  // Told before the first append is taken again, so that whoever follows
  // the listener (health, the server's stderr) says so first.
  if (options_.storage_listener) options_.storage_listener(absl::OkStatus());
  {
    std::lock_guard l(failure_mu_);
    failure_ = absl::OkStatus();
  }
  failed_.store(false, std::memory_order_release);
  return absl::OkStatus();
}

namespace {

// The saved state's checksum, stable across builds: FNV-1a's step over
// 8-byte little-endian words (then the last bytes one by one), eight times
// fewer multiplications than over bytes for a file of tens of MB.
uint64_t Fnv1a(absl::string_view bytes) {
  uint64_t h = 0xcbf29ce484222325ULL;
  size_t i = 0;
  for (; i + 8 <= bytes.size(); i += 8) {
    uint64_t w = 0;
    for (int b = 7; b >= 0; --b) w = w << 8 | static_cast<unsigned char>(bytes[i + b]);
    h ^= w;
    h *= 0x100000001b3ULL;
  }
  for (; i < bytes.size(); ++i) {
    h ^= static_cast<unsigned char>(bytes[i]);
    h *= 0x100000001b3ULL;
  }
  return h;
}

void PutFixed64(std::string* out, uint64_t v) {
  for (int i = 7; i >= 0; --i) out->push_back(static_cast<char>(v >> (8 * i)));
}

bool GetFixed64(absl::string_view* in, uint64_t* v) {
  if (in->size() < 8) return false;
  *v = enc::DecodeFixed64BE(in->substr(0, 8));
  in->remove_prefix(8);
  return true;
}

// Writes `bytes` to `path` so that after a crash it is there whole or not
// at all: a temporary file, synced, renamed, and the directory synced.
absl::Status WriteFileAtomically(const std::string& dir, const std::string& path,
                                 absl::string_view bytes) {
  const std::string tmp = path + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return absl::InternalError(absl::StrCat("creating ", tmp, ": ", strerror(errno)));
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const std::string why = strerror(errno);
      ::close(fd);
      ::unlink(tmp.c_str());
      return absl::InternalError(absl::StrCat("writing ", tmp, ": ", why));
    }
    done += static_cast<size_t>(n);
  }
  const bool synced = ::fdatasync(fd) == 0;
  ::close(fd);
  if (!synced || ::rename(tmp.c_str(), path.c_str()) != 0) {
    const std::string why = strerror(errno);
    ::unlink(tmp.c_str());
    return absl::InternalError(absl::StrCat("saving ", path, ": ", why));
  }
  const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  return absl::OkStatus();
}

}  // namespace

std::optional<std::string> RocksDbEventLog::DeciderStateFile() {
  if (options_.decider == nullptr || db_ == nullptr || failed_.load(std::memory_order_acquire)) {
    return std::nullopt;
  }
  absl::StatusOr<std::string> state = options_.decider->SaveState();
  if (!state.ok()) return std::nullopt;  // a decider that keeps none
  // The file names the log's last event, so that it is used only with the
  // log it was saved from.
  std::string id;
  const uint64_t at = last_position_;
  if (at >= options_.first_position) {
    absl::StatusOr<RecordedEvent> last = ReadRecord(Position(at));
    if (!last.ok()) return std::nullopt;
    id = last->event_id;
  }
  std::string file = kDeciderStateMagic;
  PutFixed64(&file, at);
  PutFixed64(&file, id.size());
  file += id;
  PutFixed64(&file, state->size());
  file += *state;
  PutFixed64(&file, Fnv1a(file));
  saved_at_ = at;
  return file;
}

void RocksDbEventLog::JoinSaver() {
  if (saver_.joinable()) saver_.join();
}

void RocksDbEventLog::SaveDeciderState() {
  JoinSaver();
  std::optional<std::string> file = DeciderStateFile();
  // Not saved (on a full disk, say): the next start replays from the last
  // saved state, or the whole log.
  if (file.has_value()) {
    WriteFileAtomically(path_, absl::StrCat(path_, "/", kDeciderStateFile), *file).IgnoreError();
  }
}

void RocksDbEventLog::MaybeSaveDeciderState() {
  const uint64_t every = options_.decider_save_events;
  if (every == 0 || options_.decider == nullptr || last_position_ < saved_at_ + every ||
      saving_.load(std::memory_order_acquire)) {
    return;
  }
  JoinSaver();  // the previous one is done
  std::optional<std::string> file = DeciderStateFile();
  if (!file.has_value()) return;
  saving_.store(true, std::memory_order_release);
  saver_ = std::thread([this, file = *std::move(file)] {
    pthread_setname_np(pthread_self(), "dw-log-save");
    WriteFileAtomically(path_, absl::StrCat(path_, "/", kDeciderStateFile), file).IgnoreError();
    saving_.store(false, std::memory_order_release);
  });
}

absl::Status RocksDbEventLog::RecoverDecider() {
  Decider& decider = *options_.decider;
  const std::string path = absl::StrCat(path_, "/", kDeciderStateFile);
  std::string file;
  {
    std::ifstream in(path, std::ios::binary | std::ios::ate);
    if (in) {
      file.resize(static_cast<size_t>(in.tellg()));
      in.seekg(0);
      if (!in.read(file.data(), static_cast<std::streamsize>(file.size()))) file.clear();
    }
  }
  // Any mismatch means the file is not for these events: replay instead.
  absl::string_view rest = file;
  uint64_t at = 0, id_size = 0, state_size = 0, sum = 0;
  const absl::string_view magic = kDeciderStateMagic;
  if (!absl::ConsumePrefix(&rest, magic) || !GetFixed64(&rest, &at) ||
      !GetFixed64(&rest, &id_size) || rest.size() < id_size) {
    return decider.Recover(*this);
  }
  const absl::string_view id = rest.substr(0, id_size);
  rest.remove_prefix(id_size);
  if (!GetFixed64(&rest, &state_size) || rest.size() != state_size + 8) {
    return decider.Recover(*this);
  }
  const absl::string_view state = rest.substr(0, state_size);
  rest.remove_prefix(state_size);
  if (!GetFixed64(&rest, &sum) ||
      sum != Fnv1a(absl::string_view(file).substr(0, file.size() - 8)) || at > last_position_) {
    return decider.Recover(*this);
  }
  if (at >= options_.first_position) {
    absl::StatusOr<RecordedEvent> there = ReadRecord(Position(at));
    if (!there.ok() || there->event_id != id) return decider.Recover(*this);
  } else if (!id.empty()) {
    return decider.Recover(*this);
  }
  if (decider.RestoreState(state, Position(at), *this).ok()) return absl::OkStatus();
  return decider.Recover(*this);
}

absl::Status RocksDbEventLog::Unreadable() const {
  if (reopening_.load(std::memory_order_relaxed) || failed_.load(std::memory_order_acquire)) {
    return absl::UnavailableError("event log is reopening after a storage error; retry");
  }
  return absl::UnavailableError("event log is closed");
}

absl::StatusOr<bool> RocksDbEventLog::CheckFormat(const std::string& path) {
  std::string value;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), db_->DefaultColumnFamily(), kFormatKey,
                               &value);
  if (s.IsNotFound()) return true;  // a new log, or one of format 1 (which had no version key)
  if (!s.ok()) return FromRocks(s, "reading the log's format version");
  uint64_t format = 0;
  if (!absl::SimpleAtoi(value, &format) || format == 0) {
    return absl::DataLossError(
        absl::StrCat("event log at ", path, ": format version '", value, "' is corrupt"));
  }
  if (format > kFormat) {
    return absl::FailedPreconditionError(absl::StrFormat(
        "event log at %s has format %d, written by a newer Dealwire; this build reads "
        "formats 1..%d",
        path, format, kFormat));
  }
  return false;
}

absl::Status RocksDbEventLog::WriteFormat() {
  rocksdb::WriteOptions wo;
  wo.sync = true;
  return FromRocks(db_->Put(wo, db_->DefaultColumnFamily(), kFormatKey, absl::StrCat(kFormat)),
                   "writing the log's format version");
}

absl::Status RocksDbEventLog::CheckStream(absl::string_view stream, size_t events) const {
  const Options& o = options_;
  if (stream.empty()) return absl::InvalidArgumentError("stream: must not be empty");
  if (stream.size() > o.max_stream_bytes) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "stream: %d bytes exceed the limit of %d (max_stream_bytes)", stream.size(),
        o.max_stream_bytes));
  }
  if (HasNul(stream)) return absl::InvalidArgumentError("stream: must not contain NUL bytes");
  if (events == 0) return absl::InvalidArgumentError("events: an append needs at least one event");
  if (events > o.max_events_per_append) {
    return absl::ResourceExhaustedError(absl::StrFormat(
        "events: %d events exceed the limit of %d per append (max_events_per_append)", events,
        o.max_events_per_append));
  }
  return absl::OkStatus();
}

absl::Status RocksDbEventLog::CheckEvents(std::vector<ProposedEvent>& events,
                                          size_t* bytes) const {
  const Options& o = options_;
  *bytes = 0;
  // Ids repeated within the append: a set only when there are several.
  absl::flat_hash_map<absl::string_view, size_t> seen;
  if (events.size() > 1) seen.reserve(events.size());
  for (size_t i = 0; i < events.size(); ++i) {
    ProposedEvent& e = events[i];
    if (e.event_id.empty()) {
      return absl::InvalidArgumentError(absl::StrFormat("events[%d].event_id: must not be empty", i));
    }
    if (e.event_id.size() > o.max_event_id_bytes) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "events[%d].event_id: %d bytes exceed the limit of %d (max_event_id_bytes)", i,
          e.event_id.size(), o.max_event_id_bytes));
    }
    if (HasNul(e.event_id)) {
      return absl::InvalidArgumentError(
          absl::StrFormat("events[%d].event_id: must not contain NUL bytes", i));
    }
    if (events.size() > 1) {
      if (auto [it, inserted] = seen.emplace(e.event_id, i); !inserted) {
        return absl::InvalidArgumentError(absl::StrFormat(
            "events[%d].event_id: '%s' repeats events[%d].event_id within one append", i,
            e.event_id, it->second));
      }
    }
    if (e.type.size() > o.max_type_bytes) {
      return absl::InvalidArgumentError(
          absl::StrFormat("events[%d].type: %d bytes exceed the limit of %d (max_type_bytes)", i,
                          e.type.size(), o.max_type_bytes));
    }
    if (e.tags.size() > o.max_tags_per_event) {
      return absl::ResourceExhaustedError(
          absl::StrFormat("events[%d].tags: %d tags exceed the limit of %d (max_tags_per_event)", i,
                          e.tags.size(), o.max_tags_per_event));
    }
    size_t size = e.event_id.size() + e.type.size() + e.data.size();
    for (size_t t = 0; t < e.tags.size(); ++t) {
      const std::string& tag = e.tags[t];
      if (tag.empty() || tag.size() > o.max_tag_bytes || HasNul(tag)) {
        return absl::InvalidArgumentError(absl::StrFormat(
            "events[%d].tags[%d]: must be 1..%d bytes without NUL (max_tag_bytes)", i, t,
            o.max_tag_bytes));
      }
      size += tag.size();
    }
    // Tags are a set: keep the first occurrence of each, in order.
    for (size_t t = 1; t < e.tags.size();) {
      if (std::find(e.tags.begin(), e.tags.begin() + t, e.tags[t]) != e.tags.begin() + t) {
        e.tags.erase(e.tags.begin() + t);
      } else {
        ++t;
      }
    }
    if (size > o.max_event_bytes) {
      return absl::ResourceExhaustedError(
          absl::StrFormat("events[%d]: %d bytes exceed the limit of %d (max_event_bytes)", i, size,
                          o.max_event_bytes));
    }
    *bytes += size;
  }
  return absl::OkStatus();
}

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
      while (!queue_.empty() &&
             (group.empty() ||
              events + queue_.front().events.size() <= options_.max_group_events)) {
        events += queue_.front().events.size();
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
    MaybeSaveDeciderState();
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
      for (WrittenGroup& g : groups) {
        for (auto& r : g.results) {
          if (r.ok()) r = synced;
        }
      }
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

absl::StatusOr<std::optional<RecordedEvent>> GroupView::Find(absl::string_view event_id) const {
  if (auto it = group_.ids.find(event_id); it != group_.ids.end()) {
    const GroupState::IdInGroup& in = it->second;
    RecordedEvent r;
    r.position = Position(in.position);
    r.stream = in.owner->stream;
    r.stream_version = StreamVersion(in.version);
    r.recorded_time = group_.recorded_time;
    r.event_id = in.event->event_id;
    r.type = in.event->type;
    r.tags = in.event->tags;
    r.data = in.event->data;
    return std::optional<RecordedEvent>(std::move(r));
  }
  absl::StatusOr<std::optional<uint64_t>> position =
      log_.ids_->Find(enc::EventIdKey(event_id));
  if (!position.ok()) return position.status();
  if (!position->has_value()) return std::optional<RecordedEvent>();
  absl::StatusOr<RecordedEvent> r = log_.ReadRecord(Position(**position));
  if (!r.ok()) return r.status();
  return std::optional<RecordedEvent>(*std::move(r));
}

absl::StatusOr<std::optional<enc::StreamRun>> RocksDbEventLog::LastRun(
    absl::string_view stream, bool committed_only) const {
  std::shared_lock l(db_mu_);
  if (db_ == nullptr) return Unreadable();
  StreamRange range(stream);
  std::unique_ptr<rocksdb::Iterator> it = range.Open(db_.get(), streams_);
  const uint64_t committed = committed_.load(std::memory_order_acquire);
  // Seeks stay within the stream's prefix, whose bloom filters they consult.
  for (it->SeekForPrev(ToSlice(enc::StreamKey(stream, StreamVersion(UINT64_MAX)))); it->Valid();
       it->Prev()) {
    enc::StreamRun run;
    if (!enc::DecodeStreamRun(ToView(it->key()), ToView(it->value()), &run)) {
      return absl::DataLossError(absl::StrCat("stream index of '", stream, "' is corrupt"));
    }
    // A run is one append: committed whole or not at all.
    if (!committed_only || run.first_position <= committed) {
      return std::optional<enc::StreamRun>(run);
    }
  }
  if (!it->status().ok()) return FromRocks(it->status(), "reading the stream index");
  return std::optional<enc::StreamRun>();
}

absl::StatusOr<uint64_t> RocksDbEventLog::NextVersion(const std::string& stream,
                                                      const GroupState& g) {
  if (auto it = g.versions.find(stream); it != g.versions.end()) return it->second;
  if (auto it = next_versions_.find(stream); it != next_versions_.end()) return it->second;
  absl::StatusOr<std::optional<enc::StreamRun>> last = LastRun(stream, /*committed_only=*/false);
  if (!last.ok()) return last.status();
  const uint64_t next = last->has_value() ? (*last)->first_version + (*last)->count : 0;
  if (next_versions_.size() >= kMaxCachedStreams) next_versions_.clear();
  next_versions_.emplace(stream, next);
  return next;
}

absl::StatusOr<AppendResult> RocksDbEventLog::CheckRepeat(
    const PendingAppend& a, const GroupState& g,
    const std::vector<std::optional<uint64_t>>& known) {
  AppendResult result;
  result.duplicate = true;
  for (size_t i = 0; i < a.events.size(); ++i) {
    const ProposedEvent& e = a.events[i];
    if (!known[i].has_value()) {
      return absl::AlreadyExistsError(absl::StrFormat(
          "events[%d].event_id: '%s' is new but other events of this append were written "
          "before; an append must be entirely new or an exact repeat",
          i, e.event_id));
    }
    uint64_t position, version;
    bool same;
    if (auto it = g.ids.find(e.event_id); it != g.ids.end()) {
      const ProposedEvent& o = *it->second.event;
      position = it->second.position;
      version = it->second.version;
      result.recorded_time = g.recorded_time;
      same = SameContent(a.stream, e, it->second.owner->stream, o.type, o.tags, o.data,
                         options_.decider == nullptr);
    } else {
      absl::StatusOr<RecordedEvent> r = ReadRecord(Position(*known[i]));
      if (!r.ok()) return r.status();
      position = r->position.value();
      version = r->stream_version.value();
      result.recorded_time = r->recorded_time;
      same = SameContent(a.stream, e, r->stream, r->type, r->tags, r->data,
                         options_.decider == nullptr);
    }
    if (!same) {
      return absl::AlreadyExistsError(absl::StrFormat(
          "events[%d].event_id: '%s' was already written at position %d with different content",
          i, e.event_id, position));
    }
    if (i == 0) {
      result.first_position = Position(position);
      result.first_version = StreamVersion(version);
    } else if (position != result.first_position.value() + i) {
      return absl::AlreadyExistsError(absl::StrFormat(
          "events[%d].event_id: '%s' was written at position %d, not right after "
          "events[%d]; a repeat must be the same events in the same order",
          i, e.event_id, position, i - 1));
    }
    result.last_position = Position(position);
    result.last_version = StreamVersion(version);
  }
  return result;
}

absl::StatusOr<AppendResult> RocksDbEventLog::Prepare(
    PendingAppend& a, GroupState& g, const std::vector<std::optional<uint64_t>>& known,
    std::string* id_keys, rocksdb::WriteBatch* batch) {
  // A repeat is checked before the expected version: a retried append whose
  // first attempt succeeded must get its original result, not a conflict.
  if (std::any_of(known.begin(), known.end(), [](const auto& k) { return k.has_value(); })) {
    return CheckRepeat(a, g, known);
  }

  absl::StatusOr<uint64_t> next = NextVersion(a.stream, g);
  if (!next.ok()) return next.status();
  const uint64_t count = *next;  // events in the stream = next version
  const ExpectedVersion& x = a.expected;
  switch (x.kind()) {
    case ExpectedVersion::Kind::kAny:
      break;
    case ExpectedVersion::Kind::kNoStream:
      if (count != 0) {
        return absl::AbortedError(absl::StrFormat(
            "stream '%s': expected no stream, but it exists; actual version %d", a.stream,
            count - 1));
      }
      break;
    case ExpectedVersion::Kind::kStreamExists:
      if (count == 0) {
        return absl::AbortedError(absl::StrFormat(
            "stream '%s': expected the stream to exist, but the stream does not exist",
            a.stream));
      }
      break;
    case ExpectedVersion::Kind::kExact:
      if (count == 0) {
        return absl::AbortedError(
            absl::StrFormat("stream '%s': expected version %d, but the stream does not exist",
                            a.stream, x.version().value()));
      }
      if (count - 1 != x.version().value()) {
        return absl::AbortedError(
            absl::StrFormat("stream '%s': expected version %d, actual version %d", a.stream,
                            x.version().value(), count - 1));
      }
      break;
  }
  if (options_.decider != nullptr) {
    const GroupView accepted(*this, g);
    absl::Status decided =
        options_.decider->Decide(a.stream, Position(g.next_position), g.recorded_time,
                                 a.proposal.get(), accepted, &a.events);
    // The decider's tags are not held to the limits on a caller's: it has
    // counted the events into its state, so the append must not fail now.
    if (!decided.ok()) return decided;
  }

  AppendResult result;
  result.recorded_time = g.recorded_time;
  result.first_position = Position(g.next_position);
  result.first_version = StreamVersion(count);
  const uint64_t first_position = g.next_position;
  std::string value, pos_key;
  uint64_t version = count;
  for (size_t i = 0; i < a.events.size(); ++i) {
    const ProposedEvent& e = a.events[i];
    const uint64_t position = g.next_position++;
    pos_key = enc::EventKey(Position(position));
    value.clear();
    enc::EncodeRecordHead(a.stream, StreamVersion(version), g.recorded_time, e, id_keys[i],
                          &value);
    // The record is its head and the data, which the batch copies once.
    const rocksdb::Slice parts[2] = {ToSlice(value), ToSlice(e.data)};
    const rocksdb::Slice key = ToSlice(pos_key);
    batch->Put(events_, rocksdb::SliceParts(&key, 1), rocksdb::SliceParts(parts, 2));
    g.ids.emplace(e.event_id, GroupState::IdInGroup{position, version, &a, &e});
    g.written_ids.emplace_back(std::move(id_keys[i]), position);  // its last use
    ++version;
  }
  value.clear();
  enc::EncodeStreamRun(first_position, a.events.size(), &value);
  batch->Put(streams_, ToSlice(enc::StreamKey(a.stream, StreamVersion(count))), ToSlice(value));
  g.versions[a.stream] = version;
  result.last_position = Position(g.next_position - 1);
  result.last_version = StreamVersion(version - 1);
  return result;
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
        for (auto& r : out.results) {
          if (r.ok()) r = error;
        }
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

void RocksDbEventLog::RemoveCommitListener(uint64_t id) {
  std::unique_lock l(listeners_mu_);
  listeners_.erase(std::remove_if(listeners_.begin(), listeners_.end(),
                                  [id](const auto& p) { return p.first == id; }),
                   listeners_.end());
}

absl::Status RocksDbEventLog::Close() {
  std::lock_guard close_lock(close_mu_);
  if (close_done_) return close_status_;
  close_done_ = true;
  {
    std::lock_guard l(mu_);
    closing_ = true;
  }
  queue_cv_.notify_all();
  if (writer_.joinable()) writer_.join();
  if (syncer_.joinable()) syncer_.join();
  if (completer_.joinable()) completer_.join();
  SaveDeciderState();
  {
    std::lock_guard l(commit_mu_);
    closed_ = true;
  }
  commit_cv_.notify_all();
  std::unique_lock l(db_mu_);
  close_status_ = CloseLogDb();
  if (state_db_ != nullptr) {
    absl::Status s = FromRocks(state_db_->Close(), "closing the state space");
    if (close_status_.ok()) close_status_ = s;
    state_db_.reset();
  }
  return close_status_;
}

absl::StatusOr<std::vector<RecordedEvent>> RocksDbEventLog::MultiRead(
    const std::vector<uint64_t>& positions) const {
  const size_t n = positions.size();
  std::vector<std::string> key_bytes(n);
  std::vector<rocksdb::Slice> keys(n);
  std::vector<rocksdb::PinnableSlice> values(n);
  std::vector<rocksdb::Status> statuses(n);
  for (size_t i = 0; i < n; ++i) {
    key_bytes[i] = enc::EventKey(Position(positions[i]));
    keys[i] = ToSlice(key_bytes[i]);
  }
  db_->MultiGet(rocksdb::ReadOptions(), events_, n, keys.data(), values.data(), statuses.data());
  std::vector<RecordedEvent> out(n);
  for (size_t i = 0; i < n; ++i) {
    if (!statuses[i].ok()) return FromRocks(statuses[i], "reading indexed event");
    if (!enc::DecodeRecord(Position(positions[i]), ToView(values[i]), &out[i])) {
      return absl::DataLossError(absl::StrFormat("event at position %d is corrupt", positions[i]));
    }
  }
  return out;
}

absl::StatusOr<std::vector<RecordedEvent>> RocksDbEventLog::ReadStream(
    absl::string_view stream, Direction direction, std::optional<StreamVersion> from,
    size_t limit) const {
  std::vector<uint64_t> positions;
  {
    std::shared_lock l(db_mu_);
    if (db_ == nullptr) return Unreadable();
    StreamRange range(stream);
    std::unique_ptr<rocksdb::Iterator> it = range.Open(db_.get(), streams_);
    const uint64_t committed = committed_.load(std::memory_order_acquire);
    const bool forwards = direction == Direction::kForwards;
    const uint64_t start = from.has_value() ? from->value() : (forwards ? 0 : UINT64_MAX);
    // The run holding `start`, or the nearest one before it.
    it->SeekForPrev(ToSlice(enc::StreamKey(stream, StreamVersion(start))));
    if (forwards && !it->Valid() && it->status().ok()) {
      it->Seek(ToSlice(enc::StreamKey(stream, StreamVersion(0))));
    }
    for (; it->Valid() && positions.size() < limit; forwards ? it->Next() : it->Prev()) {
      enc::StreamRun run;
      if (!enc::DecodeStreamRun(ToView(it->key()), ToView(it->value()), &run)) {
        return absl::DataLossError(absl::StrCat("stream index of '", stream, "' is corrupt"));
      }
      // A run is one append: committed whole or not at all.
      if (run.first_position > committed) {
        if (forwards) break;
        continue;
      }
      const uint64_t end = run.first_version + run.count;  // exclusive
      if (forwards) {
        for (uint64_t v = std::max(start, run.first_version); v < end && positions.size() < limit;
             ++v) {
          positions.push_back(run.first_position + (v - run.first_version));
        }
      } else {
        if (start < run.first_version) continue;
        for (uint64_t v = std::min(start, end - 1) + 1; v > run.first_version;) {
          if (positions.size() >= limit) break;
          --v;
          positions.push_back(run.first_position + (v - run.first_version));
        }
      }
    }
    if (!it->status().ok()) return FromRocks(it->status(), "reading the stream index");
  }
  absl::StatusOr<std::vector<RecordedEvent>> events = MultiRead(positions);
  if (events.ok() && events->empty() && limit > 0) {
    // Tell "no such stream" from "nothing at or past `from`".
    absl::StatusOr<StreamVersion> v = GetStreamVersion(stream);
    if (!v.ok()) return v.status();
  }
  return events;
}

absl::StatusOr<std::vector<RecordedEvent>> RocksDbEventLog::ReadAll(Direction direction,
                                                                    std::optional<Position> from,
                                                                    size_t limit) const {
  std::shared_lock l(db_mu_);
  if (db_ == nullptr) return Unreadable();
  // Only committed events are visible: readers never see a group whose
  // callbacks have not been told yet.
  const uint64_t committed = committed_.load(std::memory_order_acquire);
  const std::string upper = enc::EventKey(Position(committed + 1));
  rocksdb::Slice upper_slice = ToSlice(upper);
  rocksdb::ReadOptions ro;
  if (committed != UINT64_MAX) ro.iterate_upper_bound = &upper_slice;
  ro.adaptive_readahead = true;
  // Scans of the log (the projector, subscribers catching up) read each block
  // once: they go through the operating system's cache and leave the block
  // cache to the indexes and the state that are read again and again.
  ro.fill_cache = false;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, events_));
  if (direction == Direction::kForwards) {
    if (from.has_value()) {
      it->Seek(ToSlice(enc::EventKey(*from)));
    } else {
      it->SeekToFirst();
    }
  } else {
    if (from.has_value() && from->value() <= committed) {
      it->SeekForPrev(ToSlice(enc::EventKey(*from)));
    } else {
      it->SeekToLast();
    }
  }
  std::vector<RecordedEvent> out;
  out.reserve(std::min<size_t>(limit, 4096));
  for (; it->Valid() && out.size() < limit;
       direction == Direction::kForwards ? it->Next() : it->Prev()) {
    RecordedEvent& e = out.emplace_back();
    if (it->key().size() != 8 ||
        !enc::DecodeRecord(Position(enc::DecodeFixed64BE(ToView(it->key()))), ToView(it->value()),
                           &e)) {
      return absl::DataLossError("corrupt record in the event log");
    }
  }
  if (!it->status().ok()) return FromRocks(it->status(), "reading the log");
  return out;
}

absl::StatusOr<RecordedEvent> RocksDbEventLog::ReadEvent(Position position) const {
  if (position.value() > committed_.load(std::memory_order_acquire) || position.value() == 0) {
    return absl::NotFoundError(absl::StrFormat("no event at position %d", position.value()));
  }
  return ReadRecord(position);
}

absl::StatusOr<RecordedEvent> RocksDbEventLog::ReadRecord(Position position) const {
  std::shared_lock l(db_mu_);
  if (db_ == nullptr) return Unreadable();
  std::string value;
  rocksdb::Status s =
      db_->Get(rocksdb::ReadOptions(), events_, ToSlice(enc::EventKey(position)), &value);
  if (s.IsNotFound()) {
    return absl::NotFoundError(absl::StrFormat("no event at position %d", position.value()));
  }
  if (!s.ok()) return FromRocks(s, "reading event");
  RecordedEvent e;
  if (!enc::DecodeRecord(position, value, &e)) {
    return absl::DataLossError(absl::StrFormat("event at position %d is corrupt", position.value()));
  }
  return e;
}

absl::StatusOr<Position> RocksDbEventLog::FindEvent(absl::string_view event_id) const {
  std::shared_lock l(db_mu_);
  if (db_ == nullptr) return Unreadable();
  absl::StatusOr<std::optional<uint64_t>> found = ids_->Find(enc::EventIdKey(event_id));
  if (!found.ok()) return found.status();
  // An event written but not yet durable is not there for readers.
  if (!found->has_value() || **found > committed_.load(std::memory_order_acquire)) {
    return absl::NotFoundError(absl::StrCat("no event with id '", event_id, "'"));
  }
  return Position(**found);
}

absl::StatusOr<StreamVersion> RocksDbEventLog::GetStreamVersion(absl::string_view stream) const {
  absl::StatusOr<std::optional<enc::StreamRun>> last = LastRun(stream, /*committed_only=*/true);
  if (!last.ok()) return last.status();
  if (!last->has_value()) {
    return absl::NotFoundError(absl::StrCat("stream '", stream, "' not found"));
  }
  return StreamVersion((*last)->first_version + (*last)->count - 1);
}

absl::Status RocksDbEventLog::Metadata::Put(absl::string_view key, absl::string_view value) {
  if (key.empty() || key.size() > kMaxMetadataKeyBytes) {
    return absl::InvalidArgumentError("metadata key: must be 1..1024 bytes");
  }
  std::shared_lock l(log_.db_mu_);
  if (log_.db_ == nullptr) return log_.Unreadable();
  rocksdb::WriteOptions wo;
  wo.sync = true;
  return StorageError(log_.db_->Put(wo, log_.metadata_, ToSlice(key), ToSlice(value)),
                      "writing metadata");
}

absl::StatusOr<std::string> RocksDbEventLog::Metadata::Get(absl::string_view key) const {
  std::shared_lock l(log_.db_mu_);
  if (log_.db_ == nullptr) return log_.Unreadable();
  std::string value;
  rocksdb::Status s = log_.db_->Get(rocksdb::ReadOptions(), log_.metadata_, ToSlice(key), &value);
  if (s.IsNotFound()) return absl::NotFoundError(absl::StrCat("no metadata '", key, "'"));
  if (!s.ok()) return FromRocks(s, "reading metadata");
  return value;
}

absl::Status RocksDbEventLog::Metadata::Delete(absl::string_view key) {
  absl::StatusOr<std::string> existing = Get(key);
  if (!existing.ok()) return existing.status();
  std::shared_lock l(log_.db_mu_);
  if (log_.db_ == nullptr) return log_.Unreadable();
  rocksdb::WriteOptions wo;
  wo.sync = true;
  return StorageError(log_.db_->Delete(wo, log_.metadata_, ToSlice(key)), "deleting metadata");
}

absl::StatusOr<std::vector<std::pair<std::string, std::string>>> RocksDbEventLog::Metadata::List(
    absl::string_view prefix, absl::string_view start_after, size_t limit) const {
  std::shared_lock l(log_.db_mu_);
  if (log_.db_ == nullptr) return log_.Unreadable();
  std::unique_ptr<rocksdb::Iterator> it(
      log_.db_->NewIterator(rocksdb::ReadOptions(), log_.metadata_));
  if (start_after.empty() || start_after < prefix) {
    it->Seek(ToSlice(prefix));
  } else {
    it->Seek(ToSlice(start_after));
    if (it->Valid() && ToView(it->key()) == start_after) it->Next();
  }
  std::vector<std::pair<std::string, std::string>> out;
  for (; it->Valid() && out.size() < limit && it->key().starts_with(ToSlice(prefix)); it->Next()) {
    out.emplace_back(it->key().ToString(), it->value().ToString());
  }
  if (!it->status().ok()) return FromRocks(it->status(), "listing metadata");
  return out;
}

class RocksDbStateSnapshot final : public StateSnapshot {
 public:
  // REQUIRES: `lock` holds db_mu_ shared and the database is open.
  RocksDbStateSnapshot(std::shared_lock<std::shared_mutex> lock, rocksdb::DB* db,
                       rocksdb::ColumnFamilyHandle* cf)
      : lock_(std::move(lock)), db_(db), cf_(cf), snapshot_(db->GetSnapshot()) {}
  ~RocksDbStateSnapshot() override {
    spare_.reset();  // iterators before the snapshot they read
    db_->ReleaseSnapshot(snapshot_);
  }

  absl::StatusOr<std::optional<std::string>> Get(absl::string_view key) const override {
    rocksdb::ReadOptions ro;
    ro.snapshot = snapshot_;
    std::string value;
    rocksdb::Status s = db_->Get(ro, cf_, ToSlice(key), &value);
    if (s.IsNotFound()) return std::optional<std::string>();
    if (!s.ok()) return FromRocks(s, "reading state");
    return std::optional<std::string>(std::move(value));
  }

  absl::Status Scan(absl::string_view prefix, absl::string_view start_after,
                    const std::function<bool(absl::string_view, absl::string_view)>& visit)
      const override {
    // Creating an iterator costs far more than a seek, and queries scan many
    // short ranges: reuse one (a nested or concurrent Scan makes its own).
    std::unique_ptr<rocksdb::Iterator> it = Take();
    if (start_after.empty() || start_after < prefix) {
      it->Seek(ToSlice(prefix));
    } else {
      it->Seek(ToSlice(start_after));
      if (it->Valid() && ToView(it->key()) == start_after) it->Next();
    }
    for (; it->Valid() && it->key().starts_with(ToSlice(prefix)); it->Next()) {
      if (!visit(ToView(it->key()), ToView(it->value()))) break;
    }
    absl::Status status = FromRocks(it->status(), "scanning state");
    Return(std::move(it), status);
    return status;
  }

  absl::StatusOr<std::optional<std::string>> LastKey(absl::string_view prefix) const override {
    std::unique_ptr<rocksdb::Iterator> it = Take();
    // Every key with the prefix sorts at or before prefix + 0xff…: keys here
    // are at most 1024 bytes.
    std::string bound(prefix);
    bound.append(1025 - std::min<size_t>(prefix.size(), 1024), '\xff');
    it->SeekForPrev(ToSlice(bound));
    std::optional<std::string> key;
    if (it->Valid() && it->key().starts_with(ToSlice(prefix))) key = it->key().ToString();
    absl::Status status = FromRocks(it->status(), "reading state");
    Return(std::move(it), status);
    if (!status.ok()) return status;
    return key;
  }

 private:
  // The spare iterator, or a new one when it is in use.
  std::unique_ptr<rocksdb::Iterator> Take() const {
    {
      std::lock_guard l(spare_mu_);
      if (spare_ != nullptr) return std::move(spare_);
    }
    rocksdb::ReadOptions ro;
    ro.snapshot = snapshot_;
    return std::unique_ptr<rocksdb::Iterator>(db_->NewIterator(ro, cf_));
  }
  // Keeps `it` as the spare when it is healthy and there is none.
  void Return(std::unique_ptr<rocksdb::Iterator> it, const absl::Status& status) const {
    if (!status.ok()) return;
    std::lock_guard l(spare_mu_);
    if (spare_ == nullptr) spare_ = std::move(it);
  }

  std::shared_lock<std::shared_mutex> lock_;
  rocksdb::DB* db_;
  rocksdb::ColumnFamilyHandle* cf_;
  const rocksdb::Snapshot* snapshot_;
  mutable std::mutex spare_mu_;
  mutable std::unique_ptr<rocksdb::Iterator> spare_;  // guarded by spare_mu_
};

absl::Status RocksDbEventLog::State::Write(const StateBatch& batch) {
  rocksdb::WriteBatch wb;
  for (const StateBatch::Write& w : batch.writes()) {
    if (w.key.empty() || w.key.size() > 1024) {
      return absl::InvalidArgumentError("state key: must be 1..1024 bytes");
    }
    switch (w.op) {
      case StateBatch::Op::kPut:
        wb.Put(ToSlice(w.key), ToSlice(w.value));
        break;
      case StateBatch::Op::kDelete:
        wb.Delete(ToSlice(w.key));
        break;
      case StateBatch::Op::kDeleteRange:
        wb.DeleteRange(ToSlice(w.key), ToSlice(w.value));
        break;
    }
  }
  std::shared_lock l(log_.db_mu_);
  if (log_.state_db_ == nullptr) return absl::UnavailableError("event log is closed");
  // After a failed write (a flush that met a full disk) the state space
  // stops writing until it is resumed (RocksDB flushes its memtables
  // again).
  if (write_failed_.load(std::memory_order_acquire)) {
    if (absl::Status r = StorageError(log_.state_db_->Resume(), "resuming the state space");
        !r.ok()) {
      return r;
    }
    write_failed_.store(false, std::memory_order_release);
  }
  // No WAL: RocksDB cannot resume a database whose WAL failed (it asserts
  // on the next write), and the state is derived: what a crash loses of it
  // is derived again from the log.
  rocksdb::WriteOptions wo;
  wo.disableWAL = true;
  const rocksdb::Status written = log_.state_db_->Write(wo, &wb);
  if (written.IsIOError()) {
    write_failed_.store(true, std::memory_order_release);
    return StorageError(written, "writing state");
  }
  return FromRocks(written, "writing state");
}

absl::StatusOr<std::unique_ptr<StateSnapshot>> RocksDbEventLog::State::Snapshot() const {
  std::shared_lock l(log_.db_mu_);
  if (log_.state_db_ == nullptr) return absl::UnavailableError("event log is closed");
  rocksdb::DB* db = log_.state_db_.get();
  return std::unique_ptr<StateSnapshot>(
      new RocksDbStateSnapshot(std::move(l), db, db->DefaultColumnFamily()));
}

}  // namespace

absl::StatusOr<std::unique_ptr<EventLog>> OpenEventLog(const std::string& path, Options options) {
  return RocksDbEventLog::Open(path, std::move(options));
}

}  // namespace dealwire::store
