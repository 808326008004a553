// store/types.h — value types of the event log: strong ids, the event as
// proposed by a caller and as recorded, and the append's expectations.
//
//   dealwire::store::ProposedEvent e;
//   e.event_id = "0b6f…"; e.type = "InvestmentReported";
//   e.tags = {"org/amazon", "org/openai"}; e.data = payload_bytes;
//   log->Append("deal/amazon-openai", ExpectedVersion::NoStream(), {e});
//
// The store attaches no meaning to `type`, `tags` or `data`: they are opaque
// bytes chosen by the domain layer.
#pragma once

#include <compare>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/time/time.h"

namespace dealwire::store {

// A strongly typed integer, so that a Position is never passed where a
// StreamVersion is expected (and vice versa).
template <typename Tag>
class NamedInt {
 public:
  constexpr NamedInt() = default;
  constexpr explicit NamedInt(uint64_t v) : value_(v) {}
  constexpr uint64_t value() const { return value_; }
  constexpr auto operator<=>(const NamedInt&) const = default;
  constexpr NamedInt next() const { return NamedInt(value_ + 1); }

  template <typename H>
  friend H AbslHashValue(H h, NamedInt n) {
    return H::combine(std::move(h), n.value_);
  }

 private:
  uint64_t value_ = 0;
};

// Global log position. Gap-free and strictly increasing; the first event of a
// log gets Options::first_position (Default: 1). Position 0 means "none".
using Position = NamedInt<struct PositionTag>;
// Version of an event inside its stream. The first event of a stream has 0.
using StreamVersion = NamedInt<struct StreamVersionTag>;

// What the caller believes about the stream before an append.
class ExpectedVersion {
 public:
  enum class Kind { kAny, kNoStream, kStreamExists, kExact };

  // No check at all.
  static ExpectedVersion Any() { return ExpectedVersion(Kind::kAny, 0); }
  // The stream must not have any event yet.
  static ExpectedVersion NoStream() { return ExpectedVersion(Kind::kNoStream, 0); }
  // The stream must have at least one event.
  static ExpectedVersion StreamExists() { return ExpectedVersion(Kind::kStreamExists, 0); }
  // The stream's last event must have exactly this version.
  static ExpectedVersion Exact(StreamVersion v) { return ExpectedVersion(Kind::kExact, v.value()); }

  Kind kind() const { return kind_; }
  // REQUIRES: kind() == kExact.
  StreamVersion version() const { return StreamVersion(version_); }
  std::string DebugString() const;

 private:
  ExpectedVersion(Kind k, uint64_t v) : kind_(k), version_(v) {}
  Kind kind_;
  uint64_t version_;
};

// An event as a caller proposes it.
struct ProposedEvent {
  // Caller-chosen unique id (a UUID in practice). Idempotency key, for ever.
  std::string event_id;
  // Caller-defined type name, kept for filtering without decoding `data`.
  std::string type;
  // What the event is about, for readers that filter without decoding
  // `data` (stored with the event; not indexed). A tag repeated within one
  // event is kept once, at its first place. With a Decider they are its to
  // set (Decider::Decide), and an identical retry is recognised by its
  // stream, type and data alone; without one, by its tags too.
  std::vector<std::string> tags;
  // Opaque payload.
  std::string data;
};

// An event as it stands in the log.
struct RecordedEvent {
  Position position;
  std::string stream;
  StreamVersion stream_version;
  // Set by the writer at commit, to the microsecond; non-decreasing with
  // position. All events of one group commit share it.
  absl::Time recorded_time;
  std::string event_id;
  std::string type;
  std::vector<std::string> tags;
  std::string data;
};

// The outcome of a successful append.
struct AppendResult {
  Position first_position;
  Position last_position;
  StreamVersion first_version;
  StreamVersion last_version;
  // When the events were recorded (for a duplicate: originally).
  absl::Time recorded_time;
  // True when every event of the append had been written before by an
  // identical append: nothing was written and the original positions are
  // returned.
  bool duplicate = false;

  // The version the next append to the stream should expect.
  StreamVersion next_expected_version() const { return last_version; }
};

enum class Direction { kForwards, kBackwards };

}  // namespace dealwire::store
