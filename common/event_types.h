// common/event_types.h — the names of Dealwire's event types, from the
// EventPayload oneof of dealwire.v1 (events.proto), for the server, the CLI
// and the load generators alike.
//
//   EventTypeName(event.payload());        // "InvestmentReported"
//   PayloadCaseName(event.payload());      // "investment_reported"
//   IsEventTypeName("DealStageChanged");   // true
//   for (const std::string& name : EventTypeNames()) ...
//
// A type name is the payload message's name; the case name is the oneof
// field's name, as in field paths of error messages.
#pragma once

#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "dealwire/v1/events.pb.h"

namespace dealwire::common {

// Returns the payload's type name ("InvestmentReported"), or "" when no
// payload is set.
const std::string& EventTypeName(const dealwire::v1::EventPayload& payload);

// Returns the type name of payload case `c`, or "" for PAYLOAD_NOT_SET.
const std::string& EventTypeName(dealwire::v1::EventPayload::PayloadCase c);

// Returns the payload's oneof field name ("investment_reported"), or
// "payload" when no payload is set.
const std::string& PayloadCaseName(const dealwire::v1::EventPayload& payload);

// Returns whether `name` is the type name of some EventPayload case.
bool IsEventTypeName(absl::string_view name);

// Returns every type name, in field-number order.
const std::vector<std::string>& EventTypeNames();

}  // namespace dealwire::common
