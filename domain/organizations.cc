// The rules of organizations: registration, updates (parents without
// cycles, at most kMaxAliases aliases), and that every organization an event
// names is registered before it.
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "domain/decision_state.h"
#include "domain/references.h"

namespace dealwire::domain::internal {
namespace {

namespace v1 = dealwire::v1;

// The alias change `p` (an organization event standing at `at`) makes, if any.
std::optional<AliasClaim> AliasClaimOf(const v1::EventPayload& p, uint64_t at) {
  if (p.has_organization_registered()) {
    const auto& e = p.organization_registered();
    if (e.aliases().empty()) return std::nullopt;
    return AliasClaim{at, {e.aliases().begin(), e.aliases().end()}, {}};
  }
  const auto& e = p.organization_updated();
  if (e.add_aliases().empty() && e.remove_aliases().empty()) return std::nullopt;
  return AliasClaim{at,
                    {e.add_aliases().begin(), e.add_aliases().end()},
                    {e.remove_aliases().begin(), e.remove_aliases().end()}};
}

// Whether ForEachOrg's reference is the organization a registration registers.
bool IsOwnRegistration(const v1::EventPayload& p, const char* leaf) {
  return p.has_organization_registered() && absl::string_view(leaf) == "org_id";
}

}  // namespace

absl::Status DecisionState::CheckOrgs(const v1::EventPayload& p, uint64_t at,
                                      const std::string& base) {
  absl::Status out;
  ForEachOrg(p, [&](const char* leaf, int index, const std::string& id) {
    if (!out.ok() || IsOwnRegistration(p, leaf)) return;
    auto it = orgs_.find(id);
    if (it == orgs_.end()) {
      out = Refused(base, OrgLeaf(leaf, index),
                    absl::StrCat("organization '", id, "' is not registered"));
    } else if (it->second.registered_at >= at) {
      out = Refused(base, OrgLeaf(leaf, index),
                    absl::StrFormat("organization '%s' is registered only at position %d, after "
                                    "the corrected event (position %d)",
                                    id, it->second.registered_at, at));
    }
  });
  return out;
}

void DecisionState::AddRefs(const v1::EventPayload& p, int delta) {
  ForEachOrg(p, [&](const char* leaf, int, const std::string& id) {
    if (!IsOwnRegistration(p, leaf)) AddOrgRef(id, delta);
  });
}

void DecisionState::AddOrgRef(absl::string_view org, int delta) {
  auto it = orgs_.find(org);
  if (it == orgs_.end()) return;  // only for events Recover skipped
  orgs_.MarkDirty(it);
  it->second.refs += delta;
  undo_.push_back({Undo::kOrgRef, org, delta, nullptr});
}

absl::Status DecisionState::RegisterOrganization(const v1::EventPayload& p, uint64_t at,
                                                 const std::string& base) {
  const std::string& id = p.organization_registered().org_id();
  if (orgs_.contains(id)) {
    return Refused(base, "org_id",
                   absl::StrCat("organization '", id,
                                "' is already registered; use OrganizationUpdated to change it"));
  }
  Save(orgs_, id);
  Org org{at, 0, {{at, p.organization_registered().parent_org_id()}}, {}};
  if (auto aliases = AliasClaimOf(p, at)) org.aliases.push_back(*std::move(aliases));
  orgs_.emplace(id, std::move(org));
  return absl::OkStatus();
}

absl::Status DecisionState::UpdateOrganization(const v1::EventPayload& p, uint64_t at,
                                               const std::string& base) {
  const v1::OrganizationUpdated& e = p.organization_updated();
  if (e.has_parent_org_id()) {
    SetParentClaim(e.org_id(), at, e.parent_org_id());
    if (absl::Status s = CheckNoCycle(e.org_id(), kNow, base, "parent_org_id",
                                      absl::StrCat("making '", e.parent_org_id(), "' the parent"));
        !s.ok()) {
      return s;
    }
  }
  return SetAliasClaim(e.org_id(), at, AliasClaimOf(p, at), base, "add_aliases", "adding them");
}

absl::Status DecisionState::RemoveOrganizationClaim(const v1::EventPayload& p, uint64_t at,
                                                    const std::string& field) {
  if (p.has_organization_registered()) {
    const std::string& id = p.organization_registered().org_id();
    auto it = orgs_.find(id);
    if (it == orgs_.end()) return absl::OkStatus();
    if (it->second.refs > 0) {
      return Refused(field, "",
                     absl::StrFormat("retracting it would unregister organization '%s', which %d "
                                     "standing events still name; retract or correct them first",
                                     id, it->second.refs));
    }
    Save(orgs_, id);
    orgs_.erase(id);
    return absl::OkStatus();
  }
  const v1::OrganizationUpdated& e = p.organization_updated();
  if (absl::Status s = SetAliasClaim(e.org_id(), at, std::nullopt, field, "", "retracting it");
      !s.ok()) {
    return s;
  }
  if (!e.has_parent_org_id()) return absl::OkStatus();
  SetParentClaim(e.org_id(), at, std::nullopt);
  const std::string doing =
      absl::StrCat("retracting it (restoring the earlier parent of '", e.org_id(), "')");
  for (const uint64_t when : {at, kNow}) {
    if (absl::Status s = CheckNoCycle(e.org_id(), when, field, "", doing); !s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::Status DecisionState::ReplaceOrganizationClaim(const v1::EventPayload& r, uint64_t at,
                                                     const std::string& base) {
  const bool registered = r.has_organization_registered();
  const std::string& org =
      registered ? r.organization_registered().org_id() : r.organization_updated().org_id();
  std::optional<std::string> parent;
  if (registered) {
    parent = r.organization_registered().parent_org_id();
  } else if (r.organization_updated().has_parent_org_id()) {
    parent = r.organization_updated().parent_org_id();
  }
  SetParentClaim(org, at, parent);
  for (const uint64_t when : {at, kNow}) {
    if (absl::Status s = CheckNoCycle(org, when, base, "parent_org_id", "the new parent");
        !s.ok()) {
      return s;
    }
  }
  return SetAliasClaim(org, at, AliasClaimOf(r, at), base, registered ? "aliases" : "add_aliases",
                       "the new aliases");
}

std::string DecisionState::ParentAt(const std::string& org, uint64_t at) const {
  auto it = orgs_.find(org);
  if (it == orgs_.end()) return "";
  const auto& claims = it->second.parents;
  for (auto c = claims.rbegin(); c != claims.rend(); ++c) {
    if (c->first <= at) return c->second;
  }
  return "";
}

absl::Status DecisionState::CheckNoCycle(const std::string& org, uint64_t at,
                                         absl::string_view base, absl::string_view leaf,
                                         absl::string_view doing) {
  std::string chain = org;
  std::string cur = ParentAt(org, at);
  // Parents never form a cycle (this check keeps them so), so the walk ends
  // at a root; the bound only stops it on a state that is corrupt.
  for (size_t steps = 0; !cur.empty() && steps <= kMaxParentSteps; ++steps) {
    absl::StrAppend(&chain, " → ", cur);
    if (cur == org) {
      return Refused(base, leaf, absl::StrCat(doing, " would make the parents a cycle: ", chain));
    }
    cur = ParentAt(cur, at);
  }
  return absl::OkStatus();
}

void DecisionState::SetParentClaim(const std::string& org, uint64_t at,
                                   std::optional<std::string> parent) {
  auto it = orgs_.find(org);
  if (it == orgs_.end()) return;
  Save(orgs_, org);
  auto& claims = it->second.parents;
  auto c = std::lower_bound(claims.begin(), claims.end(), at,
                            [](const auto& claim, uint64_t p) { return claim.first < p; });
  if (c != claims.end() && c->first == at) c = claims.erase(c);
  if (parent.has_value()) claims.insert(c, {at, *std::move(parent)});
}

absl::Status DecisionState::SetAliasClaim(const std::string& org, uint64_t at,
                                          std::optional<AliasClaim> claim, absl::string_view base,
                                          absl::string_view leaf, absl::string_view doing) {
  auto it = orgs_.find(org);
  if (it == orgs_.end()) return absl::OkStatus();
  auto& claims = it->second.aliases;
  auto c = std::lower_bound(claims.begin(), claims.end(), at,
                            [](const AliasClaim& claim, uint64_t p) { return claim.position < p; });
  const bool had = c != claims.end() && c->position == at;
  if (!had && !claim.has_value()) return absl::OkStatus();
  Save(orgs_, org);
  if (had) c = claims.erase(c);
  if (claim.has_value()) claims.insert(c, *std::move(claim));
  absl::flat_hash_set<absl::string_view> set;
  for (const AliasClaim& a : claims) {
    set.insert(a.add.begin(), a.add.end());
    for (const std::string& r : a.remove) set.erase(r);
    if (set.size() > kMaxAliases) {
      return Refused(base, leaf,
                     absl::StrFormat("%s would give organization '%s' %d aliases (from position "
                                     "%d), more than %d",
                                     doing, org, set.size(), a.position, kMaxAliases));
    }
  }
  return absl::OkStatus();
}

}  // namespace dealwire::domain::internal
