// store/event_log.h — the contract of Dealwire's durable event log.
//
// An EventLog is an append-only, totally ordered log of events, grouped into
// streams (aggregates). It is the only thing in Dealwire that writes events.
//
//   Options options;
//   ASSIGN_OR_RETURN(std::unique_ptr<EventLog> log, OpenEventLog("/var/lib/dealwire", options));
//   ASSIGN_OR_RETURN(AppendResult r,
//                    log->Append("org/openai", ExpectedVersion::NoStream(), {event}));
//   // r.first_position is durable here: it survives kill -9 and power loss.
//
// Guarantees
// - Durability: an append is acknowledged (Append returns, or AppendAsync's
//   callback runs with OK) only after its write batch is on disk (WAL fsync).
// - Atomicity: all events of one append are committed together or not at all.
// - Order: positions are gap-free and strictly increasing in commit order;
//   stream versions are gap-free from 0 within each stream. Appends queued
//   one after the other by one thread are committed in that order.
// - Idempotency, for ever: an append whose events were all written before
//   (same event ids, same stream, type and data — and tags, without a
//   decider — in the same order at consecutive positions) writes nothing and
//   returns the original positions;
//   an event id reused with different content is refused with ALREADY_EXISTS.
// - Group commit: concurrent appends are committed together in one write batch
//   by a single writer thread, and every batch written while the disk syncs
//   the previous ones is made durable by one fsync, so throughput is not
//   bounded by one fsync per append.
// - One decision per append: with a Decider (Options::decider), the writer
//   thread encodes and decides each append once, against the domain state
//   left by every append before it, committed or still in its group.
//
// Storage errors are survived, not fatal. When a write or a sync of the
// log fails (a full disk, an I/O error, too many open files), every append
// not yet acknowledged fails — with RESOURCE_EXHAUSTED for a full disk,
// UNAVAILABLE otherwise — and so does every new one, while reads go on.
// Options::storage_listener is told. The writer then reopens the log every
// Options::recovery_interval until it succeeds: the reopened log holds
// exactly the acknowledged events (the failed appends' records, written or
// not, are removed), the decider recovers its state from it, and appends
// are taken again. Failed appends are safe to retry: their event ids make
// the retry idempotent. Readers get UNAVAILABLE during a reopen.
//
// Beside the log it keeps two key-value spaces, each with a contract of its
// own: metadata() for server state (store/metadata.h) and state() for what
// is derived from the log (store/state_space.h).
//
// Thread-safety: all methods may be called concurrently from any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "store/types.h"

namespace rocksdb {
class FileSystem;
}  // namespace rocksdb

namespace dealwire::store {

class EventLog;
class MetadataStore;
class StateSpace;

// The events of one append in the caller's domain form, opaque to the log
// (ProposeAsync). The log owns it from ProposeAsync on, hands it to the
// Decider on the writer thread, and destroys it before it runs the append's
// callback, so a proposal may borrow memory that the callback releases.
class Proposal {
 public:
  virtual ~Proposal() = default;

  // The number of events proposed, checked against the log's limits before
  // the proposal is queued.
  virtual size_t size() const = 0;

  // About how many bytes the events take, for the queue's byte bound.
  virtual size_t bytes() const = 0;
};

// The events a decider may look up while it decides an append: every event
// accepted before it — committed, written but not yet durable, or earlier in
// the same group commit. Valid only during the Decide call it is given to.
class AcceptedEvents {
 public:
  virtual ~AcceptedEvents() = default;

  // Returns the accepted event with id `event_id`, or nullopt when there is
  // none. Returns the log's read errors.
  virtual absl::StatusOr<std::optional<RecordedEvent>> Find(absl::string_view event_id) const = 0;
};

// The domain's part of the write path: it turns proposals into events and
// decides, against the domain state, whether they may be appended. It runs
// on the log's writer thread, so that a decision and the commit it allows
// see the same state: no other append can slip in between.
//
// For each append of a group, in commit order, the writer calls Encode (for
// proposals), looks the event ids up, then — unless the append repeats
// written events or its expected version fails — calls Decide. The log
// knows nothing of the domain; the decider does.
//
// Thread-safety: Recover runs before the log accepts appends; Encode and
// Decide run only on the writer thread, one call at a time.
class Decider {
 public:
  virtual ~Decider() = default;

  // Loads the decider's state from `log`, which is open for reads and holds
  // every committed event, replacing any state it had. Called by
  // OpenEventLog before any append (an error fails the open) and, on the
  // writer thread, after each reopen that follows a storage error (an error
  // keeps appends failing until the next attempt).
  virtual absl::Status Recover(const EventLog& log) = 0;

  // Optional: called by Close once every append is done and durable,
  // before the state space closes, so that a decider keeping its state
  // there (EventLog::state) writes what it has not yet. The default does
  // nothing.
  virtual void Closing() {}

  // Turns `proposal` (from ProposeAsync) into the events to store for
  // `stream`: fills `events` (empty on entry) with each event's id, type and
  // data, checking everything that needs no state. Tags are Decide's. Any
  // status but OK refuses the append, which the caller receives unchanged
  // (INVALID_ARGUMENT naming the field, by convention).
  virtual absl::Status Encode(absl::string_view stream, const Proposal& proposal,
                              std::vector<ProposedEvent>* events) = 0;

  // Decides one append that passed the log's own checks (limits,
  // idempotency, expected version): `events` would get positions
  // `first_position`, `first_position + 1`, … and `recorded_time`.
  // `proposal` is what Encode encoded them from, or null for an append of
  // complete events (AppendAsync). `accepted` finds the events accepted
  // before this append (not those of this append itself). Returns OK to accept it, having set each
  // event's tags (the log indexes nothing by them; readers filter by them;
  // they are not held to the limits of Options, which bound a caller's);
  // the decider must then count the events into its state, because the next
  // call comes before they are durable and must see them. Any other status
  // refuses the append: nothing of it is written and the caller receives the
  // status unchanged (INVALID_ARGUMENT or FAILED_PRECONDITION naming the
  // field, by convention). Repeats of written appends are never passed in.
  //
  // If the log fails to write a group it accepted, the log fails every later
  // append until it has reopened and called Recover again (see "Storage
  // errors"), so accepted state is never undone, only rebuilt. UNAVAILABLE
  // says the decider's own storage failed: the log treats it as its own
  // storage error (that append and every later one fail, nothing of the
  // group is written, and the recovery calls Recover).
  virtual absl::Status Decide(absl::string_view stream, Position first_position,
                              absl::Time recorded_time, const Proposal* proposal,
                              const AcceptedEvents& accepted,
                              std::vector<ProposedEvent>* events) = 0;
};

struct Options {
  // Create the log when `path` holds none. Default: true
  bool create_if_missing = true;

  // Position given to the first event of a new, empty log. Ignored once the
  // log holds events. Default: 1
  uint64_t first_position = 1;

  // Limits checked before an append is queued (for a proposal: its count
  // before, the rest once the decider has encoded it). An append beyond a
  // count limit fails with RESOURCE_EXHAUSTED, a malformed field with
  // INVALID_ARGUMENT; both messages name the field and the limit.
  size_t max_events_per_append = 1000;     // Default: 1000
  size_t max_event_bytes = 1 << 20;        // id+type+tags+data. Default: 1 MiB
  size_t max_stream_bytes = 200;           // Default: 200
  size_t max_event_id_bytes = 64;          // Default: 64
  size_t max_type_bytes = 128;             // Default: 128
  size_t max_tags_per_event = 64;          // Default: 64
  size_t max_tag_bytes = 200;              // Default: 200

  // Bound on appends waiting for the writer. When reached, new appends fail
  // at once with UNAVAILABLE (safe to retry: event ids make retries
  // idempotent). Default: 16384 appends or 256 MiB of events.
  size_t max_queued_appends = 16384;
  size_t max_queued_bytes = 256 << 20;

  // Upper bound of events committed in one write batch. Default: 20000
  size_t max_group_events = 20000;

  // Groups written but not yet durable while the disk syncs; beyond it the
  // writer waits. With the queue bounds above, this bounds the memory held by
  // appends in flight. Default: 8
  size_t max_unsynced_groups = 8;

  // Block cache shared by all column families of both databases (the log's
  // and the state space's). Default: 256 MiB
  size_t block_cache_bytes = 256 << 20;

  // Memtables of every column family of both databases, together: a burst
  // flushes sooner instead of filling every family's buffers. Default:
  // 128 MiB
  size_t memtable_bytes = 128 << 20;

  // Event ids of recent events are held in memory, and written to the id
  // index as one sorted file per this many (once their events are durable);
  // a restart reads the ids after the last file back from the log. Bounds
  // that memory (about 80 bytes an id) and the restart's reading. Default:
  // 131072
  size_t id_index_run = 131072;

  // The domain's encoding and decisions, run on the writer thread before an
  // append is committed (see Decider), or null for none: appends are then
  // written as given, and ProposeAsync is refused. Default: null
  std::shared_ptr<Decider> decider;

  // Source of recorded_time. Recorded times are made non-decreasing with
  // position even if the clock steps back. Default: absl::Now
  std::function<absl::Time()> clock = [] { return absl::Now(); };

  // The file system the log's database is kept on (not the state space's),
  // or null for the machine's. Tests give one that injects faults. Default:
  // null
  std::shared_ptr<rocksdb::FileSystem> file_system;

  // After a storage error (see "Storage errors" on EventLog), how long the
  // writer waits between attempts to reopen the log. Default: 1 s
  absl::Duration recovery_interval = absl::Seconds(1);

  // Called on the writer thread when appends start failing for a storage
  // error (with that error: RESOURCE_EXHAUSTED or UNAVAILABLE) and again,
  // with OK, once the log has recovered and takes appends. Not called for
  // the state space. It must not block or call into the log. Default: none
  std::function<void(const absl::Status&)> storage_listener;
};

// Called with the outcome of an append, on the log's completion thread (after
// the append is durable and published to readers): it must not block (hand
// long work to another thread).
using AppendCallback = absl::AnyInvocable<void(absl::StatusOr<AppendResult>) &&>;

// Called on the log's sync thread after each group commit with the new last
// position. It must not block and must not call AddCommitListener or
// RemoveCommitListener.
using CommitListener = std::function<void(Position last_committed)>;

// Called on the log's completion thread with the events of each group
// commit that wrote any: in position order, contiguous from one call to the
// next, once they are durable and LastPosition covers them, and before the
// callbacks of their appends run. The events are the ones the writer
// committed (moved out of the appends, not read back), shared by every
// listener. It must not block and must not call AddEventsListener or
// RemoveEventsListener.
using EventsListener = std::function<void(std::shared_ptr<const std::vector<RecordedEvent>>)>;

class EventLog {
 public:
  virtual ~EventLog() = default;

  // Appends `events` to `stream` atomically and returns once they are durable.
  //
  // Returns:
  //   OK                  — the events are durable; or every event had been
  //                         appended before with identical content
  //                         (result.duplicate, nothing written).
  //   ABORTED             — `expected` does not hold; the message names the
  //                         stream's actual version. Re-read and retry.
  //   ALREADY_EXISTS      — an event id was used before with other content,
  //                         or only some of the events are repeats, or the
  //                         repeats are not in their original order.
  //   INVALID_ARGUMENT    — a malformed field: no events; an empty or
  //                         over-long stream, event id or tag; an over-long
  //                         type; NUL bytes in a stream, event id or tag; an
  //                         id repeated within the append. The message names
  //                         the field (and the limit, for lengths).
  //   RESOURCE_EXHAUSTED  — a count or size limit: too many events in one
  //                         append, too many tags on an event, an event too
  //                         large. The message names the limit.
  //   UNAVAILABLE         — the log is closing or its queue is full, or
  //                         a storage error other than a full disk; retry.
  //   RESOURCE_EXHAUSTED  — also: the disk is full (the message says so).
  //   DATA_LOSS           — a record read back is corrupt.
  //   any other status    — Options::decider refused the append.
  // After a storage error nothing of the failed appends is acknowledged;
  // see "Storage errors" below.
  absl::StatusOr<AppendResult> Append(std::string stream, ExpectedVersion expected,
                                      std::vector<ProposedEvent> events);

  // Like Append, but returns at once and calls `done` with the outcome.
  // Errors found before queuing (limits, malformed fields, closing, queue
  // full) call `done` on the calling thread before AppendAsync returns. With
  // a decider, Decide sees the events (with a null proposal) and may refuse
  // them.
  virtual void AppendAsync(std::string stream, ExpectedVersion expected,
                           std::vector<ProposedEvent> events, AppendCallback done) = 0;

  // Appends the events of `proposal` to `stream`, as AppendAsync does, once
  // Options::decider has encoded them and decided them on the writer
  // thread (Decider::Encode, then Decide). Returns at once. The outcome's
  // codes are Append's, plus whatever Encode or Decide refuse with.
  // FAILED_PRECONDITION when the log has no decider.
  virtual void ProposeAsync(std::string stream, ExpectedVersion expected,
                            std::unique_ptr<Proposal> proposal, AppendCallback done) = 0;

  // Blocks until the append of `proposal` is done and returns its outcome.
  absl::StatusOr<AppendResult> Propose(std::string stream, ExpectedVersion expected,
                                       std::unique_ptr<Proposal> proposal);

  // Reads share these rules: `limit` 0 returns an empty vector; a start
  // beyond either end returns an empty vector (it is not clamped); only
  // committed events are returned; a closed log returns UNAVAILABLE.
  //
  // Reads up to `limit` events of `stream` in `direction`, starting at
  // version `from` inclusive (nullopt: the first event forwards, the last
  // backwards). Returns NOT_FOUND if the stream has no event; an empty vector
  // when `from` lies beyond either end.
  virtual absl::StatusOr<std::vector<RecordedEvent>> ReadStream(
      absl::string_view stream, Direction direction, std::optional<StreamVersion> from,
      size_t limit) const = 0;

  // Reads up to `limit` events of the whole log in `direction`, starting at
  // position `from` inclusive (nullopt: the first event forwards, the last
  // backwards). Only committed (durable) events are returned. Returns an empty
  // vector past either end.
  virtual absl::StatusOr<std::vector<RecordedEvent>> ReadAll(
      Direction direction, std::optional<Position> from, size_t limit) const = 0;

  // Returns the event at `position`, or NOT_FOUND.
  virtual absl::StatusOr<RecordedEvent> ReadEvent(Position position) const = 0;

  // Returns the position of the event with `event_id`, or NOT_FOUND.
  virtual absl::StatusOr<Position> FindEvent(absl::string_view event_id) const = 0;

  // Returns the version of the last event of `stream`, or NOT_FOUND.
  virtual absl::StatusOr<StreamVersion> GetStreamVersion(absl::string_view stream) const = 0;

  // Returns the position of the last committed event; first_position - 1 when
  // the log is empty.
  virtual Position LastPosition() const = 0;

  // Blocks until the last committed position is greater than `after` and
  // returns it. Returns DEADLINE_EXCEEDED at `deadline` and UNAVAILABLE when
  // the log closes first.
  virtual absl::StatusOr<Position> WaitForPosition(Position after, absl::Time deadline) const = 0;

  // Registers `listener` to be told of every commit from now on. Returns an id
  // for RemoveCommitListener. This is how live readers follow the log without
  // polling.
  virtual uint64_t AddCommitListener(CommitListener listener) = 0;
  // Unregisters a listener. When it returns, the listener is not running and
  // will not be called again.
  virtual void RemoveCommitListener(uint64_t id) = 0;

  // Registers `listener` to be handed the events of every commit from now on
  // (see EventsListener): how the live tail gets committed events without
  // reading them back. Returns an id for RemoveEventsListener, which, once
  // it returns, guarantees the listener is not running and will not be
  // called again. A listener added while appends run may first be handed
  // events it had already seen through a read: it skips what it has.
  virtual uint64_t AddEventsListener(EventsListener listener) = 0;
  virtual void RemoveEventsListener(uint64_t id) = 0;

  // The small durable key-value space beside the log, for server state such
  // as the checkpoints of named subscriptions (store/metadata.h). It lives
  // as long as the log and closes with it.
  virtual MetadataStore& metadata() = 0;

  // The key-value space beside the log for state derived from it
  // (store/state_space.h). It lives as long as the log and closes with it;
  // a reader of the log may use it too (it is thread-safe). The domain's
  // decider keeps its state there, under keys starting with "decider/".
  virtual StateSpace& state() const = 0;

  // Stops accepting appends (they fail with UNAVAILABLE), commits what is
  // queued, runs its callbacks, wakes waiters and closes the files. Idempotent;
  // the destructor calls it.
  virtual absl::Status Close() = 0;
};

// Opens (or creates) the log stored in directory `path`.
//
// Returns:
//   OK
//   NOT_FOUND          — no log at `path` and !options.create_if_missing.
//   FAILED_PRECONDITION — another process holds the log open (lock file).
//   INVALID_ARGUMENT   — options are inconsistent (e.g. first_position 0).
//   any status of options.decider->Recover.
//   INTERNAL / DATA_LOSS — the files cannot be read.
absl::StatusOr<std::unique_ptr<EventLog>> OpenEventLog(const std::string& path,
                                                       Options options);

}  // namespace dealwire::store
