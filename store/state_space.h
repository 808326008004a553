// store/state_space.h — the contract of the log's state space: a key-value
// space beside the event log for state derived from it (projections), where
// a state and the log position it has applied are written in one atomic
// batch.
//
//   store::StateSpace& state = log->state();
//   store::StateBatch batch;
//   batch.Put("g1/applied", applied_bytes);
//   RETURN_IF_ERROR(state.Write(batch));
//   ASSIGN_OR_RETURN(std::unique_ptr<store::StateSnapshot> snapshot, state.Snapshot());
//   ASSIGN_OR_RETURN(std::optional<std::string> applied, snapshot->Get("g1/applied"));
//
// It is a database of its own (the subdirectory `state` of the log's
// directory), so its writes never wait in line with appends nor lengthen
// their syncs. It opens and closes with the log (EventLog::state).
//
// Thread-safety: all methods may be called concurrently from any thread.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace dealwire::store {

// Writes to the log's state space (see StateSpace::Write), applied
// atomically in order. Keys are 1..1024 bytes.
class StateBatch {
 public:
  enum class Op { kPut, kDelete, kDeleteRange };
  struct Write {
    Op op;
    std::string key;    // for kDeleteRange: the first key removed
    std::string value;  // for kDeleteRange: the first key kept (exclusive end)
  };

  void Put(std::string key, std::string value) {
    bytes_ += key.size() + value.size();
    writes_.push_back({Op::kPut, std::move(key), std::move(value)});
  }
  void Delete(std::string key) {
    bytes_ += key.size();
    writes_.push_back({Op::kDelete, std::move(key), {}});
  }
  // Removes every key in [begin, end). `begin` is shorter than 8 bytes or
  // ends with '/' (a prefix, as the ranges of the state's layouts are);
  // StateSpace::Write refuses others with INVALID_ARGUMENT.
  void DeleteRange(std::string begin, std::string end) {
    bytes_ += begin.size() + end.size();
    writes_.push_back({Op::kDeleteRange, std::move(begin), std::move(end)});
  }
  const std::vector<Write>& writes() const { return writes_; }
  size_t bytes() const { return bytes_; }
  bool empty() const { return writes_.empty(); }

 private:
  std::vector<Write> writes_;
  size_t bytes_ = 0;
};

// A consistent, read-only view of the log's state space at one moment
// (see StateSpace::Snapshot). Reads do not see later writes.
//
// Thread-safety: one snapshot may be read from several threads. The log must
// outlive it; a snapshot delays EventLog::Close until it is destroyed.
class StateSnapshot {
 public:
  virtual ~StateSnapshot() = default;

  // Returns the value stored under `key`, or nullopt when there is none.
  virtual absl::StatusOr<std::optional<std::string>> Get(absl::string_view key) const = 0;

  // Calls `visit` with every pair whose key starts with `prefix` and sorts
  // after `start_after` (empty: from the first), in key order, until `visit`
  // returns false. Returns read errors (INTERNAL, DATA_LOSS).
  virtual absl::Status Scan(
      absl::string_view prefix, absl::string_view start_after,
      const std::function<bool(absl::string_view key, absl::string_view value)>& visit) const = 0;

  // Returns the last key that starts with `prefix`, or nullopt when there is
  // none. Returns read errors (INTERNAL, DATA_LOSS).
  virtual absl::StatusOr<std::optional<std::string>> LastKey(absl::string_view prefix) const = 0;
};

class StateSpace {
 public:
  virtual ~StateSpace() = default;

  // Applies `batch` atomically. It is neither synced nor logged (the state
  // space has no write-ahead log): a clean EventLog::Close keeps every
  // batch; after kill -9 or a power loss the state space holds a prefix of
  // the batches written, each whole (those since its memtables were last
  // flushed are gone, and are derived again). A state built from published
  // events (which are durable) thus never runs ahead of the log.
  // Keys ending in an 8-byte big-endian number are cheapest to write in
  // increasing order of that number among keys with the same beginning.
  // Returns OK, INVALID_ARGUMENT (bad key or range), UNAVAILABLE (closed, or a
  // storage error), RESOURCE_EXHAUSTED (the disk is full), INTERNAL. After a
  // storage error the next call first resumes the state space (and fails
  // the same way while the cause lasts); the batch that failed is not
  // applied, so the caller writes it again.
  virtual absl::Status Write(const StateBatch& batch) = 0;

  // Starts writing what the memtables hold to table files (it does not
  // wait), so that after kill -9 or a power loss the state space holds at
  // least the batches written before this call once it completes. For a
  // writer that wants less to derive again after a crash than the
  // memtables' size. Returns UNAVAILABLE when the log is closed or a
  // storage error.
  virtual absl::Status Persist() = 0;

  // Returns the value stored under `key` now (no snapshot: the cheapest
  // read of one key), or nullopt when there is none; UNAVAILABLE when the
  // log is closed, or a read error (INTERNAL, DATA_LOSS).
  virtual absl::StatusOr<std::optional<std::string>> Get(absl::string_view key) const = 0;

  // Returns a consistent view of the state space as of now, or UNAVAILABLE
  // when the log is closed.
  virtual absl::StatusOr<std::unique_ptr<StateSnapshot>> Snapshot() const = 0;
};

}  // namespace dealwire::store
