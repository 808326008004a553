// domain/codec.h — how a dealwire.v1.Event is kept in the log.
//
//   store::ProposedEvent stored;
//   RETURN_IF_ERROR(EncodeEvent(request.events(0), request.stream(), "events[0]", "anonymous",
//                               &stored));
//   ...
//   dealwire::v1::Event event;
//   RETURN_IF_ERROR(DecodeEvent(recorded, &event));
//
// The log keeps the event's identity and order itself (event id, stream,
// version, position, recorded time); the record's data is the rest of the
// envelope and the payload, serialized deterministically, so an identical
// retry has identical bytes. The record's type is the payload's type name;
// its tags are the decider's (decider.h).
#pragma once

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "dealwire/v1/events.pb.h"
#include "store/types.h"

namespace dealwire::domain {

// Checks `event` as an event to append to `stream` (ValidateEnvelope, with
// `field` prefixing error messages, e.g. "events[3]"; a `stream` field that
// differs from `stream`) and fills `out` with what the log stores: its id,
// type and data, serialized once. `recorded_by` is the appending principal.
// `out->tags` is left as it is.
//
// Returns INVALID_ARGUMENT naming the field.
absl::Status EncodeEvent(const dealwire::v1::Event& event, absl::string_view stream,
                         absl::string_view field, absl::string_view recorded_by,
                         store::ProposedEvent* out);

// Like EncodeEvent, for an event whose sizes protobuf has cached (its
// ByteSizeLong was called since it last changed, as EventsProposal does):
// they are not computed again.
absl::Status EncodeEventWithCachedSizes(const dealwire::v1::Event& event,
                                        absl::string_view stream, absl::string_view field,
                                        absl::string_view recorded_by,
                                        store::ProposedEvent* out);

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
// The number of bytes AppendEventWire appends.
size_t EventWireSize(const store::RecordedEvent& recorded);

}  // namespace dealwire::domain
