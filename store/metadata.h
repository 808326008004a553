// store/metadata.h — the contract of the log's metadata: a small durable
// key-value space beside the event log, for server state such as the
// checkpoints of named subscriptions.
//
//   store::MetadataStore& metadata = log->metadata();
//   RETURN_IF_ERROR(metadata.Put("subscription/alerts", record));
//   ASSIGN_OR_RETURN(std::string bytes, metadata.Get("subscription/alerts"));
//
// Keys and values are opaque bytes (keys 1..1024 bytes). Writes are synced
// before they return; they are not ordered with appends. The space is kept
// in the log's directory, opens and closes with the log (EventLog::metadata)
// and is not part of the log: it has no positions.
//
// Thread-safety: all methods may be called concurrently from any thread.
#pragma once

#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace dealwire::store {

class MetadataStore {
 public:
  virtual ~MetadataStore() = default;

  // Stores `value` under `key`, replacing any value there, and returns once
  // it is synced. Returns OK; INVALID_ARGUMENT for a key outside 1..1024
  // bytes; UNAVAILABLE when the log is closed or reopening after a storage
  // error; a storage error: RESOURCE_EXHAUSTED when the disk is full,
  // UNAVAILABLE otherwise (retry).
  virtual absl::Status Put(absl::string_view key, absl::string_view value) = 0;

  // Returns the value stored under `key`, or NOT_FOUND when there is none.
  // UNAVAILABLE when the log is closed or reopening; read errors (INTERNAL,
  // DATA_LOSS).
  virtual absl::StatusOr<std::string> Get(absl::string_view key) const = 0;

  // Removes `key`, synced: OK, or NOT_FOUND when there is none; otherwise
  // Get's and Put's errors.
  virtual absl::Status Delete(absl::string_view key) = 0;

  // Returns up to `limit` pairs whose key starts with `prefix` and sorts
  // after `start_after` (empty: from the first), in key order. UNAVAILABLE
  // when the log is closed or reopening; read errors (INTERNAL, DATA_LOSS).
  virtual absl::StatusOr<std::vector<std::pair<std::string, std::string>>> List(
      absl::string_view prefix, absl::string_view start_after, size_t limit) const = 0;
};

}  // namespace dealwire::store
