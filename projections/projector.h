// projections/projector.h — folds the log into one generation of projection
// state (layout: state_keys.h).
//
//   Projector p(log, &log->state(), /*generation=*/1);
//   RETURN_IF_ERROR(p.Load());
//   RETURN_IF_ERROR(p.ApplyUpTo(log->LastPosition().value(), 20000));
//
// Exactly once: each batch of events is written together with the position
// it has applied, in one atomic StateSpace::Write batch. After a crash the
// state is that of some whole batch, and applying resumes right after its
// position: nothing is applied twice and nothing is replayed from the start.
//
// Deterministic: the state after applying positions 1..P is the same bytes
// however the events were split into batches, so a rebuild can be compared
// with the live state by digest.
//
// Thread-safety: a Projector is used by one thread at a time; applied() may
// be read from any thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "dealwire/state/v1/state.pb.h"
#include "dealwire/v1/market_intel.pb.h"
#include "store/event_log.h"
#include "store/state_space.h"

namespace dealwire::projections {

class Projector {
 public:
  // Binds to `generation` of `state`, which it folds the events of `log`
  // into. Both must outlive it.
  Projector(const store::EventLog* log, store::StateSpace* state, uint64_t generation);

  // Reads the applied position of the generation (0 when it is empty).
  absl::Status Load();

  // The last position applied.
  uint64_t applied() const { return applied_.load(std::memory_order_acquire); }
  uint64_t generation() const { return generation_; }

  // Applies the committed events after applied() up to `end` inclusive, in
  // batches of at most `max_batch_events` (and about 8 MiB of events). `on_batch` (optional) is called
  // after each batch is written with the new applied position; `stop`
  // (optional) is asked before each batch and ends the call early with OK.
  // Returns the log's read errors, DATA_LOSS for an event that does not
  // decode, or the state write's errors; the state then stays at the last
  // whole batch.
  absl::Status ApplyUpTo(uint64_t end, size_t max_batch_events,
                         const std::function<void(uint64_t applied)>& on_batch = nullptr,
                         const std::function<bool()>& stop = nullptr);

 private:
  class Batch;

  // What is known of an entity's first claim: whether there is one, and the
  // organizations it names. Never changes once there is one (claims keep
  // their org ids), so it is cached across batches.
  struct Head {
    bool exists = false;
    std::vector<std::string> orgs;
  };
  static constexpr size_t kMaxCachedHeads = 500000;
  // Organizations' current views as this projector last wrote them (nullopt:
  // none), so that refreshing a view after an update reads no state.
  static constexpr size_t kMaxCachedViews = 100000;

  const store::EventLog* log_;
  store::StateSpace* state_;
  uint64_t generation_;
  std::string prefix_;
  std::atomic<uint64_t> applied_{0};
  dealwire::state::v1::Stats stats_;
  absl::flat_hash_map<std::string, Head> heads_;  // owned by the applying thread
  absl::flat_hash_map<std::string, std::optional<v1::Organization>> views_;  // likewise
};

// Returns a digest (hex) of every key and value of `generation`, as of
// `snapshot`. Equal digests mean byte-identical state.
absl::StatusOr<std::string> StateDigest(const store::StateSnapshot& snapshot, uint64_t generation);

}  // namespace dealwire::projections
