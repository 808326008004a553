// store/rocksdb_recovery.cc — how the engine meets storage errors (see
// "Storage errors" in store/event_log.h): what a RocksDB status means to a
// caller (FromRocks, StorageError); appends refused once a write or sync
// failed (Fail); and the way back (Recover: a write probe, the reopen, the
// removal of what was never acknowledged).
#include <filesystem>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "rocksdb/db.h"
#include "rocksdb/env.h"
#include "rocksdb/write_batch.h"
#include "store/encoding.h"
#include "store/event_id_index.h"
#include "store/rocksdb_event_log.h"

namespace dealwire::store {
namespace {

namespace enc = encoding;

// The file Recover writes to learn whether the disk takes writes again.
constexpr char kWriteProbe[] = "dealwire-write-probe";
constexpr size_t kWriteProbeBytes = 1 << 20;

}  // namespace

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
    if (s = options_.decider->Recover(*this); !s.ok()) return s;
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

}  // namespace dealwire::store
