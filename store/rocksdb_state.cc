// store/rocksdb_state.cc — the state space (store/state_space.h): its
// database, its writes and its snapshots.
//
// The state space is a second database in the subdirectory `state`, with
// its own memtables and write queue: derived state is written in large
// batches, and in the log's database those batches would hold up appends
// (one write queue) and lengthen every sync (one WAL). It writes no WAL at
// all (what a crash loses is derived again). It never runs ahead of the log:
// it is built from published events only, which are durable.
#include <algorithm>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <system_error>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "rocksdb/db.h"
#include "rocksdb/env.h"
#include "rocksdb/options.h"
#include "rocksdb/write_batch.h"
#include "store/info_log.h"
#include "store/rocksdb_event_log.h"

namespace dealwire::store {
namespace {

// The state space's database, in the log's directory.
constexpr char kStateDir[] = "state";

// The value of `key`, or nullopt when there is none.
absl::StatusOr<std::optional<std::string>> GetValue(rocksdb::DB* db, const rocksdb::ReadOptions& ro,
                                                    rocksdb::ColumnFamilyHandle* cf,
                                                    absl::string_view key) {
  std::string value;
  const rocksdb::Status s = db->Get(ro, cf, ToSlice(key), &value);
  if (s.IsNotFound()) return std::optional<std::string>();
  if (!s.ok()) return FromRocks(s, "reading state");
  return std::optional<std::string>(std::move(value));
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
    return GetValue(db_, ro, cf_, key);
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

}  // namespace

absl::Status RocksDbEventLog::OpenStateDb(const rocksdb::DBOptions& db_options,
                                          const rocksdb::ColumnFamilyOptions& cf_options) {
  rocksdb::Options state_options(db_options, cf_options);
  state_options.env = rocksdb::Env::Default();
  state_options.create_if_missing = true;
  state_options.max_total_wal_size = 256 << 20;
  // Keys are inserted with hints (memtable_insert_with_hint_prefix_extractor),
  // which RocksDB supports only with memtable inserts on one thread at a
  // time; two threads write here (the projector and the decider's writer).
  state_options.allow_concurrent_memtable_write = false;
  const std::string state_path = absl::StrCat(path_, "/", kStateDir);
  std::error_code ec;
  std::filesystem::create_directories(state_path, ec);
  state_options.info_log = std::make_shared<InfoLog>(state_path, kInfoLogBytes);
  rocksdb::DB* state_raw = nullptr;
  const rocksdb::Status s = rocksdb::DB::Open(state_options, state_path, &state_raw);
  if (!s.ok()) return FromRocks(s, absl::StrCat("opening the state space at ", state_path));
  std::unique_lock l(db_mu_);
  state_db_.reset(state_raw);
  return absl::OkStatus();
}

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
        if (StateKeyTakesHint(w.key)) {
          return absl::InvalidArgumentError(absl::StrCat(
              "state range deletion: the first key must be shorter than 8 bytes or end with "
              "'/', not '",
              absl::CEscape(w.key), "'"));
        }
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

absl::Status RocksDbEventLog::State::Persist() {
  std::shared_lock l(log_.db_mu_);
  if (log_.state_db_ == nullptr) return absl::UnavailableError("event log is closed");
  rocksdb::FlushOptions fo;
  fo.wait = false;
  fo.allow_write_stall = true;  // never wait for room: the flush is only asked for
  return StorageError(log_.state_db_->Flush(fo), "flushing the state space");
}

absl::StatusOr<std::optional<std::string>> RocksDbEventLog::State::Get(
    absl::string_view key) const {
  std::shared_lock l(log_.db_mu_);
  if (log_.state_db_ == nullptr) return absl::UnavailableError("event log is closed");
  return GetValue(log_.state_db_.get(), rocksdb::ReadOptions(),
                  log_.state_db_->DefaultColumnFamily(), key);
}

absl::StatusOr<std::unique_ptr<StateSnapshot>> RocksDbEventLog::State::Snapshot() const {
  std::shared_lock l(log_.db_mu_);
  if (log_.state_db_ == nullptr) return absl::UnavailableError("event log is closed");
  rocksdb::DB* db = log_.state_db_.get();
  return std::unique_ptr<StateSnapshot>(
      new RocksDbStateSnapshot(std::move(l), db, db->DefaultColumnFamily()));
}

}  // namespace dealwire::store
