// store/rocksdb_open.cc — opening and closing the engine: the databases'
// options (one block cache and one memtable budget for the log's column
// families and the state space), the column families, the format version,
// the log's end and its event-id index brought up, the decider recovered and
// the threads started; Close; and OpenEventLog, the way in.
#include <pthread.h>

#include <algorithm>
#include <filesystem>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "rocksdb/cache.h"
#include "rocksdb/db.h"
#include "rocksdb/env.h"
#include "rocksdb/file_system.h"
#include "rocksdb/filter_policy.h"
#include "rocksdb/memtablerep.h"
#include "rocksdb/options.h"
#include "rocksdb/slice_transform.h"
#include "rocksdb/table.h"
#include "rocksdb/write_buffer_manager.h"
#include "store/encoding.h"
#include "store/event_id_index.h"
#include "store/event_log.h"
#include "store/info_log.h"
#include "store/rocksdb_event_log.h"

namespace dealwire::store {
namespace {

namespace enc = encoding;

constexpr char kEventsCf[] = "events";
constexpr char kStreamsCf[] = "streams";
// The column family that held the state space inside the log's database
// before it had a database of its own (dropped when found: the state is
// derived and is rebuilt).
constexpr char kLegacyStateCf[] = "state";
constexpr char kEventIdsCf[] = "event_ids";
// Format 1's tag index, dropped when found.
constexpr char kLegacyTagsCf[] = "tags";
constexpr char kMetadataCf[] = "metadata";

// The log's format version, in the default column family.
constexpr char kFormatKey[] = "dealwire.log.format";
constexpr uint64_t kFormat = 2;

// The part of a key before its 8-byte suffix (the stream, or nothing for an
// event's position). Each stream's keys, and the events' keys, arrive in
// increasing order, so RocksDB keeps one insert hint per prefix and inserts
// become near O(1) instead of a full skip-list search per key. The state
// space uses it too: projections key claims and timelines by position under
// an entity, and write them in order.
class IndexKeyPrefix : public rocksdb::SliceTransform {
 public:
  const char* Name() const override { return "dealwire.IndexKeyPrefix"; }
  rocksdb::Slice Transform(const rocksdb::Slice& key) const override {
    return rocksdb::Slice(key.data(), key.size() - 8);
  }
  bool InDomain(const rocksdb::Slice& key) const override { return key.size() >= 8; }
};

// The state space's insert hints: IndexKeyPrefix without the range starts
// (StateKeyTakesHint).
class StateKeyHintPrefix final : public IndexKeyPrefix {
 public:
  const char* Name() const override { return "dealwire.StateKeyHintPrefix"; }
  bool InDomain(const rocksdb::Slice& key) const override {
    return StateKeyTakesHint(ToView(key));
  }
};

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

}  // namespace

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
  db_options.write_buffer_manager = std::make_shared<rocksdb::WriteBufferManager>(o.memtable_bytes);
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
      cf.memtable_insert_with_hint_prefix_extractor = std::make_shared<StateKeyHintPrefix>();
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
  if (absl::Status state = log->OpenStateDb(db_options, cf_options(Access::kState, 32 << 20));
      !state.ok()) {
    return state;
  }

  if (absl::Status ids = log->OpenIndex(*new_format); !ids.ok()) return ids;
  // After the id watermark: a crash in between finds format 1 again.
  if (*new_format) {
    if (absl::Status f = log->WriteFormat(); !f.ok()) return f;
  }
  log->ids_->Start();
  {
    std::error_code ec;
    std::filesystem::remove(absl::StrCat(log->path_, "/", kLegacyDeciderStateFile), ec);
  }
  if (o.decider != nullptr) {
    if (absl::Status s = o.decider->Recover(*log); !s.ok()) return s;
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
  if (options_.decider != nullptr) options_.decider->Closing();
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

absl::StatusOr<std::unique_ptr<EventLog>> OpenEventLog(const std::string& path, Options options) {
  return RocksDbEventLog::Open(path, std::move(options));
}

}  // namespace dealwire::store
