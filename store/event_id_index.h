// store/event_id_index.h — the event-id index of the log: event id → the
// position of its event, for idempotency "for ever". Internal to store/.
//
//   EventIdIndex index(db, cf, cf_options, dir, {});
//   RETURN_IF_ERROR(index.Open(/*all_indexed=*/false, last_position, scan));
//   index.Start(committed_position);
//   std::vector<std::optional<uint64_t>> found;
//   RETURN_IF_ERROR(index.Lookup(keys, &found));      // writer: before a group
//   index.Add(group_ids, group_last_position);         // writer: after it is written
//   index.Committed(position);                         // sync thread: after a sync
//
// Why not one key per event in the append's write batch: ids are random, so
// every insert into a sorted memtable is a full search, and the writer (or,
// with a hash memtable, the flush) paid more for it than for anything else
// of an append. Instead the ids of recent events live in memory (runs of up
// to Options::run_ids ids), and each full run, once its events are durable,
// is sorted and written as one table file that is ingested into the family
// (SstFileWriter + IngestExternalFile): the cheapest way to add sorted keys.
//
// Guarantees
// - Every committed event's id is found: in a run in memory or in the
//   family. A run leaves memory only after its file is ingested.
// - The family holds only ids of durable events, and a watermark: every
//   event up to that position is in it. A file is ingested whole with its
//   watermark, so after a crash the watermark is exact; Open reads the log
//   after it back into memory (at most a few runs).
// - Memory holds at most the ids of the events after the watermark.
//
// Thread-safety: Lookup and Find may be called from any thread; Add from
// the writer thread only; Open before Start, Stop once.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
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
#include "rocksdb/db.h"
#include "rocksdb/options.h"

namespace dealwire::store {

class EventIdIndex {
 public:
  struct Options {
    // Ids per run: a run is written as one table file when it is full.
    // Default: 131072 (about 3 MB of file, 10 MB of memory)
    size_t run_ids = 131072;
  };

  // Indexes into `cf` of `db` (created with `cf_options`), writing its files
  // in directory `dir` first. REQUIRES: they outlive the index.
  EventIdIndex(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf,
               rocksdb::ColumnFamilyOptions cf_options, std::string dir, Options options);
  ~EventIdIndex();

  EventIdIndex(const EventIdIndex&) = delete;
  EventIdIndex& operator=(const EventIdIndex&) = delete;

  // Reads the watermark and brings the ids of the events after it back into
  // memory: `scan(from, visit)` must call visit(id_key, position) for every
  // event of the log at positions >= from, in order. With `all_indexed` (a
  // log whose every id the family already holds: new, or of format 1) the
  // watermark is set to `last_position` instead. Removes files a crash left
  // half written. Returns the family's read and write errors.
  absl::Status Open(
      bool all_indexed, uint64_t last_position,
      const std::function<absl::Status(
          uint64_t from, const std::function<void(absl::string_view, uint64_t)>& visit)>& scan);

  // Starts the thread that writes full runs once their events are durable
  // (Committed says when).
  void Start();

  // Stops that thread once it has written every run that is ready (full,
  // its events durable); a write that fails is not tried again. What stays
  // in memory, Open finds again in the log. Idempotent.
  void Stop();

  // Sets `(*found)[i]` to the position of the event with id key `keys[i]`
  // (store/encoding.h EventIdKey), or nullopt; written events whether
  // durable or not. Returns the family's read errors.
  absl::Status Lookup(const std::vector<std::string>& keys,
                      std::vector<std::optional<uint64_t>>* found) const;

  // The position of the event with id key `key`, or nullopt. Returns the
  // family's read errors.
  absl::StatusOr<std::optional<uint64_t>> Find(const std::string& key) const;

  // Adds the ids of a group just written (not yet durable), whose last
  // event is at `last_position`. REQUIRES: writer thread; positions above
  // every earlier Add's.
  void Add(std::vector<std::pair<std::string, uint64_t>> ids, uint64_t last_position);

  // Tells that every event up to `position` is durable.
  void Committed(uint64_t position);

  // The watermark: every event up to it has its id in the family.
  uint64_t watermark() const;

 private:
  struct Run {
    absl::flat_hash_map<std::string, uint64_t> ids;
    uint64_t last_position = 0;
  };

  void IndexLoop();
  // Writes `run` as one file and ingests it into the family.
  absl::Status WriteRun(const Run& run, uint64_t sequence);

  rocksdb::DB* const db_;
  rocksdb::ColumnFamilyHandle* const cf_;
  const rocksdb::ColumnFamilyOptions cf_options_;
  const std::string dir_;
  const Options options_;

  // The runs in memory, oldest first; the last one is being filled.
  mutable std::shared_mutex mu_;
  std::deque<std::shared_ptr<Run>> runs_;  // guarded by mu_
  uint64_t watermark_ = 0;                 // guarded by mu_

  // The indexing thread and what it waits for.
  std::mutex work_mu_;
  std::condition_variable work_cv_;
  uint64_t committed_ = 0;  // guarded by work_mu_
  bool stopping_ = false;   // guarded by work_mu_
  std::thread indexer_;
};

}  // namespace dealwire::store
