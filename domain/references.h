// domain/references.h — what an event is about: the organizations, deals and
// partnerships a payload names, as ids and as the store's tags. The one
// place that knows which field of which payload names what.
//
//   ForEachOrg(payload, [](const char* leaf, int index, const std::string& id) {
//     // leaf "investor_id", index -1; leaf "parties", index 2 ...
//   });
//   std::vector<std::string> orgs = DirectOrgIds(payload);   // sorted, unique
//   std::vector<std::string> tags;
//   DirectTags(payload, &tags);   // {"org/amazon", "org/openai", "deal/amazon-openai-2026"}
//
// Tags: "org/<id>" for every organization a payload names, "deal/<id>" for
// the deal a funding round, investment, acquisition, valuation or stage
// change concerns, "partnership/<id>" for a partnership. What an event
// inherits from the events it refers to (a stage change the organizations
// of its deal, …) needs state: the decider adds it (decider.h).
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/strings/string_view.h"
#include "dealwire/v1/events.pb.h"

namespace dealwire::domain {

// Returns the tag under which events naming organization `org_id` go.
std::string OrgTag(absl::string_view org_id);
std::string DealTag(absl::string_view deal_id);
std::string PartnershipTag(absl::string_view partnership_id);
// The organization a tag names, or "" when it is not an org tag.
absl::string_view OrgOfTag(absl::string_view tag);

// Calls `f(leaf, index, id)` for every organization field `p` sets, in field
// order, each occurrence: `leaf` is the field's name and `index` its place
// in a repeated field (-1 for a singular one; for "parties" the party's
// index). An OrganizationRegistered's own org_id comes first, as leaf
// "org_id". Retractions and corrections name no organization themselves.
void ForEachOrg(const dealwire::v1::EventPayload& p,
                absl::FunctionRef<void(const char* leaf, int index, const std::string& id)> f);

// Returns the field path of an organization reference `leaf`/`index` as
// ForEachOrg gives it ("investor_id", "lead_investor_ids[2]",
// "parties[1].org_id").
std::string OrgLeaf(const char* leaf, int index);

// Returns the organizations `p` names itself (ForEachOrg), sorted and
// without duplicates.
std::vector<std::string> DirectOrgIds(const dealwire::v1::EventPayload& p);

// Appends the tags `p` carries by itself (organizations, deals, the
// partnership; a correction's replacement's), unsorted.
void DirectTags(const dealwire::v1::EventPayload& p, std::vector<std::string>* tags);

// Sorts `tags` and removes duplicates.
void NormalizeTags(std::vector<std::string>* tags);

// The deal a funding round, investment, acquisition or stage change reports
// or changes, or nullptr for other payloads.
const std::string* DealIdOf(const dealwire::v1::EventPayload& p);

// The stage a deal payload claims, and the name of its field ("stage", or
// "new_stage" for a stage change). REQUIRES: DealIdOf(p) != nullptr.
std::pair<dealwire::v1::DealStage, const char*> StageOf(const dealwire::v1::EventPayload& p);

// Returns the first field that says what `p` is about and differs in `r`
// (same payload case), with its value in `p`; {"", ""} when none differs.
// A correction may not change these (events.proto).
std::pair<const char*, std::string> IdentityChange(const dealwire::v1::EventPayload& p,
                                                   const dealwire::v1::EventPayload& r);

}  // namespace dealwire::domain
