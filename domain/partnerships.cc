// The rules of partnerships (unique ids, an end at most once, no removal of
// a formation while its end stands) and facilities (unique ids).
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "domain/decision_state.h"
#include "domain/references.h"

namespace dealwire::domain::internal {

namespace v1 = dealwire::v1;

absl::Status DecisionState::FormPartnership(const v1::PartnershipFormed& e, uint64_t at,
                                            const std::string& base) {
  const std::string& id = e.partnership_id();
  if (auto it = partnerships_.find(id); it != partnerships_.end()) {
    return Refused(base, "partnership_id",
                   absl::StrFormat("partnership '%s' already exists (formed at position %d)", id,
                                   it->second.formed_at));
  }
  std::vector<std::string> orgs;
  orgs.reserve(e.parties_size());
  for (const v1::PartnershipParty& party : e.parties()) orgs.push_back(party.org_id());
  std::sort(orgs.begin(), orgs.end());
  orgs.erase(std::unique(orgs.begin(), orgs.end()), orgs.end());
  Save(partnerships_, id);
  partnerships_.emplace(id, Partnership{at, 0, std::move(orgs)});
  return absl::OkStatus();
}

absl::Status DecisionState::EndPartnership(const v1::PartnershipEnded& e, uint64_t at,
                                           const std::string& base) {
  const std::string& id = e.partnership_id();
  auto it = partnerships_.find(id);
  if (it == partnerships_.end()) {
    return Refused(base, "partnership_id", absl::StrCat("no partnership '", id, "' was formed"));
  }
  if (it->second.ended_by != 0) {
    return Refused(base, "partnership_id",
                   absl::StrFormat("partnership '%s' already ended (position %d)", id,
                                   it->second.ended_by));
  }
  Save(partnerships_, id);
  it->second.ended_by = at;
  return absl::OkStatus();
}

absl::Status DecisionState::AnnounceFacility(const v1::FacilityAnnounced& e, uint64_t at,
                                             const std::string& base) {
  const std::string& id = e.facility_id();
  if (auto it = facilities_.find(id); it != facilities_.end()) {
    return Refused(base, "facility_id",
                   absl::StrFormat("facility '%s' already exists (announced at position %d)", id,
                                   it->second));
  }
  Save(facilities_, id);
  facilities_.emplace(id, at);
  return absl::OkStatus();
}

absl::Status DecisionState::RemovePartnershipClaim(const v1::EventPayload& p, uint64_t at,
                                                   const std::string& field) {
  if (p.has_partnership_formed()) {
    const std::string& id = p.partnership_formed().partnership_id();
    auto it = partnerships_.find(id);
    if (it == partnerships_.end()) return absl::OkStatus();
    if (it->second.ended_by != 0) {
      return Refused(field, "",
                     absl::StrFormat("retracting it would remove partnership '%s' while its "
                                     "PartnershipEnded (position %d) stands; retract that first",
                                     id, it->second.ended_by));
    }
    Save(partnerships_, id);
    partnerships_.erase(id);
    return absl::OkStatus();
  }
  const std::string& id = p.partnership_ended().partnership_id();
  auto it = partnerships_.find(id);
  if (it == partnerships_.end() || it->second.ended_by != at) return absl::OkStatus();
  Save(partnerships_, id);
  it->second.ended_by = 0;
  return absl::OkStatus();
}

void DecisionState::RemoveFacility(const v1::FacilityAnnounced& e, uint64_t at) {
  const std::string& id = e.facility_id();
  if (auto it = facilities_.find(id); it != facilities_.end() && it->second == at) {
    Save(facilities_, id);
    facilities_.erase(id);
  }
}

}  // namespace dealwire::domain::internal
