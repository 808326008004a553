// store/rocksdb_reads.cc — reads of the log: a stream (through its runs in
// the stream index), the whole log by position, one event, an event id; and
// what a read gets while the log's database is closed or reopening.
#include <algorithm>
#include <memory>
#include <optional>
#include <shared_mutex>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "rocksdb/db.h"
#include "store/encoding.h"
#include "store/event_id_index.h"
#include "store/rocksdb_event_log.h"

namespace dealwire::store {
namespace {

namespace enc = encoding;

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

}  // namespace

absl::Status RocksDbEventLog::Unreadable() const {
  if (reopening_.load(std::memory_order_relaxed) || failed_.load(std::memory_order_acquire)) {
    return absl::UnavailableError("event log is reopening after a storage error; retry");
  }
  return absl::UnavailableError("event log is closed");
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
  absl::StatusOr<std::vector<RecordedEvent>> events;
  {
    // One hold of the lock for the index and the records: a reopen after a
    // storage error replaces db_.
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
    events = MultiRead(positions);
  }
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

}  // namespace dealwire::store
