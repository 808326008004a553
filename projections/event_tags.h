// projections/event_tags.h — what an event is about, in the store's terms.
//
// Every event is stored with a type name and tags so that the store can
// index and filter it without knowing the domain:
//
//   ASSIGN_OR_RETURN(std::vector<std::string> tags, EventTags(event.payload(), log));
//   // {"org/amazon", "org/openai", "deal/amazon-openai-2026"}
//
// Tags: "org/<id>" for every organization the payload names; "deal/<id>" for
// the deal a funding round, investment, acquisition or stage change concerns;
// "partnership/<id>" for a partnership. Events that refer to earlier events
// inherit their organizations: a DealStageChanged those of its deal, a
// PartnershipEnded those of its partnership, an EventRetracted or
// EventCorrected those of the event it targets (plus the replacement's own).
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "dealwire/v1/events.pb.h"
#include "store/event_log.h"

namespace dealwire::projections {

// Returns the payload's type name as in EventPayload ("InvestmentReported"),
// or "" when no payload is set.
std::string EventTypeName(const dealwire::v1::EventPayload& payload);

// Returns whether `name` is the type name of some EventPayload case.
bool IsEventTypeName(absl::string_view name);

// Returns the tag under which events naming organization `org_id` are indexed.
std::string OrgTag(absl::string_view org_id);
std::string DealTag(absl::string_view deal_id);
std::string PartnershipTag(absl::string_view partnership_id);

// Returns the organizations `payload` names itself (without looking up the
// events it refers to), sorted and without duplicates.
std::vector<std::string> DirectOrgIds(const dealwire::v1::EventPayload& payload);

// Returns the tags of `payload`, sorted and without duplicates. Reads `log`
// for the events it refers to, then `earlier`: the events before it in the
// same append (not in the log yet), so that an append holding a deal and its
// stage change tags both alike, and a retry of it is identical. A reference
// to an unknown deal, partnership or event adds nothing (validation is the
// caller's concern). Fails only when the log cannot be read.
absl::StatusOr<std::vector<std::string>> EventTags(
    const dealwire::v1::EventPayload& payload, const store::EventLog& log,
    absl::Span<const store::ProposedEvent> earlier = {});

}  // namespace dealwire::projections
