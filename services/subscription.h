// services/subscription.h — the transport-free core of subscriptions and
// filtered reads: filters, the per-subscriber cursor, and the registry of
// durable named subscriptions.
//
//   ASSIGN_OR_RETURN(EventFilter filter, EventFilter::FromProto(request.filter(), "filter"));
//   SubscriptionCursor cursor(log, tail, /*next=*/1, filter, /*checkpoint_interval=*/1000);
//   std::deque<SubscriptionCursor::Message> out;
//   RETURN_IF_ERROR(cursor.Next(&out));   // events, checkpoints, caught_up, fell_behind
//
// Nothing here knows gRPC; services/event_store_service.cc adapts it.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "dealwire/v1/event_store.pb.h"
#include "services/live_tail.h"
#include "store/event_log.h"
#include "store/metadata.h"

namespace dealwire::services {

// A set of names a filter checks every event against: a few compares while
// it is short (the usual case: every live subscriber checks every event, and
// hashing each type and tag per subscriber was most of the live tail's
// work), a hash lookup once it is longer.
class NameSet {
 public:
  // Adds `name` (once however often it is added).
  void Insert(std::string name);
  bool Contains(absl::string_view name) const;
  bool empty() const { return names_.empty(); }

 private:
  // Lists up to this long are matched by comparing, not hashing.
  static constexpr size_t kSmall = 8;
  std::vector<std::string> names_;
  absl::flat_hash_set<std::string> index_;  // every name, once there are more than kSmall
};

// Which events a subscription or read delivers. An event matches when it
// matches every non-empty list of the filter; within a list, any entry.
class EventFilter {
 public:
  // Returns the filter of `proto`, or INVALID_ARGUMENT naming the bad entry
  // (unknown event type, empty or over-long prefix, malformed org id).
  static absl::StatusOr<EventFilter> FromProto(const dealwire::v1::SubscriptionFilter& proto,
                                               absl::string_view field);

  bool Matches(absl::string_view type, absl::string_view stream,
               const std::vector<std::string>& tags) const;
  bool empty() const { return types_.empty() && prefixes_.empty() && org_tags_.empty(); }

 private:
  NameSet types_;
  std::vector<std::string> prefixes_;
  NameSet org_tags_;
};

// A serialized dealwire.v1.SubscribeResponse, shared by every subscriber
// that sends it.
using WireMessage = std::shared_ptr<const std::string>;

// Returns the SubscribeResponse carrying event `r`, serialized without
// parsing the record (domain::AppendEventWire).
WireMessage EventMessage(const store::RecordedEvent& r);

// Returns a SubscribeResponse whose field `field_number` (a message field)
// holds the serialized bytes `content`: protobuf's length-delimited framing.
WireMessage FramedMessage(int field_number, absl::string_view content);

// Returns `m` serialized.
WireMessage SerializedMessage(const dealwire::v1::SubscribeResponse& m);

// Returns whether two filters have the same entries, in any order.
bool SameFilter(const dealwire::v1::SubscriptionFilter& a,
                const dealwire::v1::SubscriptionFilter& b);

// The reading side of one subscription: from a position, through the log
// (catch-up), then through the live tail, producing the messages to send.
// Not thread-safe: one subscriber owns it.
class SubscriptionCursor {
 public:
  using Message = WireMessage;

  // Starts at position `next` (the first position to examine).
  SubscriptionCursor(const store::EventLog* log, const LiveTail* tail, uint64_t next,
                     EventFilter filter, uint32_t checkpoint_interval);

  // Appends the next messages to `out`: up to one batch of examined events
  // (matching ones as `event`, and a `checkpoint` every checkpoint_interval
  // examined events), `fell_behind` when the live tail has moved past the
  // cursor, `caught_up` when the cursor reaches the end. Appends nothing when
  // it is at the end and has said so. Fails only when the log cannot be read.
  // Next may read the disk; the two steps it takes split that off:
  absl::Status Next(std::deque<Message>* out);

  enum class Step {
    kProduced,  // messages were appended
    kAtEnd,     // at the live end, `caught_up` said: wait for the tail
    kNeedsLog,  // behind the live tail's window: NextFromLog is next
  };
  // Takes what it can from the live tail — memory only, never blocks —
  // appending event messages up to about `max_bytes` (at least one).
  Step NextFromTail(std::deque<Message>* out, size_t max_bytes);
  // Reads the next batch from the log (may wait for the disk): as many
  // events as are likely to produce about `max_bytes` of messages, judged
  // by the previous read (at least one event).
  absl::Status NextFromLog(std::deque<Message>* out, size_t max_bytes);

  // The last position examined.
  uint64_t last_examined() const { return next_ - 1; }
  // The first position not yet examined.
  uint64_t next() const { return next_; }
  bool live() const { return live_; }

 private:
  void Examine(uint64_t position, absl::string_view type, absl::string_view stream,
               const std::vector<std::string>& tags, const Message& event,
               std::deque<Message>* out);

  const store::EventLog* const log_;
  const LiveTail* const tail_;
  uint64_t next_;
  const EventFilter filter_;
  const uint32_t checkpoint_interval_;
  uint32_t since_checkpoint_ = 0;
  bool live_ = false;
  // Message bytes per examined event in the last read of the log.
  size_t bytes_per_event_ = 512;
};

// Durable named subscriptions, kept in the log's metadata.
// Thread-safe.
class SubscriptionRegistry {
 public:
  // Keeps the records in `metadata`; reads of `log` are only of its end
  // (Commit). Both must outlive the registry.
  SubscriptionRegistry(store::MetadataStore* metadata, const store::EventLog* log)
      : metadata_(metadata), log_(log) {}

  // Returns the subscription `name`, or NOT_FOUND.
  absl::StatusOr<dealwire::v1::NamedSubscription> Get(absl::string_view name) const;

  // Returns the subscription `name`, creating it with `filter` and
  // `checkpoint` if it does not exist. An existing one whose filter differs
  // from a non-empty `filter` is FAILED_PRECONDITION.
  absl::StatusOr<dealwire::v1::NamedSubscription> GetOrCreate(
      absl::string_view name, const dealwire::v1::SubscriptionFilter* filter,
      uint64_t checkpoint);

  // Stores `position` as the checkpoint of `name`. NOT_FOUND for an unknown
  // name; INVALID_ARGUMENT beyond the log's end.
  absl::StatusOr<dealwire::v1::NamedSubscription> Commit(absl::string_view name,
                                                         uint64_t position);

  // Lists subscriptions by name after `after` (empty: from the first).
  absl::StatusOr<std::vector<dealwire::v1::NamedSubscription>> List(absl::string_view after,
                                                                    size_t limit) const;

  // Deletes `name`, or NOT_FOUND.
  absl::Status Delete(absl::string_view name);

  // Checks a subscription name: 1..128 bytes of [a-z0-9._-], starting with a
  // letter or digit.
  static absl::Status ValidateName(absl::string_view name, absl::string_view field);

 private:
  absl::Status Put(const dealwire::v1::NamedSubscription& s);

  store::MetadataStore* const metadata_;
  const store::EventLog* const log_;
  mutable std::mutex mu_;  // serializes read-modify-write of records
};

}  // namespace dealwire::services
