// projections/event_codec.h — how a dealwire.v1.Event is kept in the log.
//
//   ASSIGN_OR_RETURN(store::ProposedEvent stored,
//                    EncodeEvent(request.events(i), request.stream(), "events[0]", "anonymous", log));
//   ...
//   dealwire::v1::Event event;
//   RETURN_IF_ERROR(DecodeEvent(recorded, &event));
//
// The log keeps the event's identity and order itself (event id, stream,
// version, position, recorded time); the record's data is the rest of the
// envelope and the payload, serialized deterministically, so an identical
// retry has identical bytes. The record's type is the payload's type name and
// its tags come from EventTags (event_tags.h).
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "dealwire/v1/events.pb.h"
#include "store/event_log.h"

namespace dealwire::projections {

// Validates the envelope of `event` (see ValidateEnvelope; `field` prefixes
// error messages, e.g. "events[3]") as an event of `stream`, and returns what
// the log stores. `recorded_by` is the appending principal. Reads `log`, and
// `earlier` (the events before it in the same append, encoded), to tag events
// that refer to earlier ones (EventTags).
//
// Returns INVALID_ARGUMENT naming the field, or the log's read errors.
absl::StatusOr<store::ProposedEvent> EncodeEvent(
    const dealwire::v1::Event& event, absl::string_view stream, absl::string_view field,
    absl::string_view recorded_by, const store::EventLog& log,
    absl::Span<const store::ProposedEvent> earlier = {});

// Returns `message` serialized with map entries in key order, so that equal
// messages are equal bytes (digests, page tokens, stored state).
std::string DeterministicBytes(const google::protobuf::Message& message);

// Fills `out` (cleared first) with the stored event `recorded`. Returns
// DATA_LOSS when the record's data cannot be parsed.
absl::Status DecodeEvent(const store::RecordedEvent& recorded, dealwire::v1::Event* out);

// Appends to `out` the serialized dealwire.v1.Event of `recorded`, without
// parsing the record: the identity fields are encoded and the stored data
// (itself a serialized Event) follows, which protobuf parses as one message.
// Parsing the result gives what DecodeEvent gives. This is how events are
// streamed to many subscribers at the cost of a copy.
void AppendEventWire(const store::RecordedEvent& recorded, std::string* out);

}  // namespace dealwire::projections
