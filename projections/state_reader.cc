#include "projections/state_reader.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "projections/state_keys.h"

namespace dealwire::projections {

namespace v1 = dealwire::v1;
namespace state = dealwire::state::v1;

absl::StatusOr<state::Entity> StateReader::GetEntity(absl::string_view entity_key) const {
  state::Entity entity;
  entity.set_id(std::string(entity_key.substr(entity_key.find('/') + 1)));
  const std::string prefix = keys::ClaimsPrefix(entity_key);
  bool corrupt = false;
  absl::Status s = Scan(prefix, [&](absl::string_view, absl::string_view value) {
    corrupt = !entity.add_claims()->ParseFromArray(value.data(), static_cast<int>(value.size()));
    return !corrupt;
  });
  if (!s.ok()) return s;
  if (corrupt) {
    return absl::DataLossError(absl::StrCat("projection state of '", entity_key, "' is corrupt"));
  }
  return entity;
}

absl::Status StateReader::ScanEntities(
    absl::string_view kind, const std::function<bool(const state::Entity&)>& visit) const {
  state::Entity entity;
  bool corrupt = false, stopped = false;
  absl::Status s = Scan(kind, [&](absl::string_view key, absl::string_view value) {
    const absl::string_view rest = key.substr(kind.size());
    const absl::string_view id = rest.substr(0, rest.find(keys::kClaimSeparator));
    if (id != entity.id()) {
      if (entity.claims_size() > 0 && !visit(entity)) {
        stopped = true;
        return false;
      }
      entity.Clear();
      entity.set_id(std::string(id));
    }
    corrupt = !entity.add_claims()->ParseFromArray(value.data(), static_cast<int>(value.size()));
    return !corrupt;
  });
  if (!s.ok()) return s;
  if (corrupt) return absl::DataLossError(absl::StrCat("projection state under '", kind, "' is corrupt"));
  if (!stopped && entity.claims_size() > 0) visit(entity);
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::string>> StateReader::ListEntityIds(absl::string_view kind,
                                                                    absl::string_view start_after,
                                                                    size_t limit) const {
  std::vector<std::string> ids;
  // After id X, continue past every "X!<position>" key: '"' sorts right
  // after '!'.
  std::string after = start_after.empty() ? "" : absl::StrCat(kind, start_after, "\"");
  while (ids.size() < limit) {
    std::optional<std::string> next;
    absl::Status s = Scan(
        kind,
        [&](absl::string_view key, absl::string_view) {
          const absl::string_view rest = key.substr(kind.size());
          next = std::string(rest.substr(0, rest.find(keys::kClaimSeparator)));
          return false;
        },
        after);
    if (!s.ok()) return s;
    if (!next.has_value()) break;
    after = absl::StrCat(kind, *next, "\"");
    ids.push_back(*std::move(next));
  }
  return ids;
}

absl::StatusOr<std::vector<std::string>> StateReader::ListIds(absl::string_view prefix) const {
  std::vector<std::string> ids;
  absl::Status s = Scan(prefix, [&](absl::string_view key, absl::string_view) {
    ids.emplace_back(key.substr(prefix.size()));
    return true;
  });
  if (!s.ok()) return s;
  return ids;
}

absl::StatusOr<std::optional<std::string>> SnapshotReader::Get(absl::string_view key) const {
  return snapshot_->Get(absl::StrCat(prefix_, key));
}

absl::Status SnapshotReader::Scan(
    absl::string_view prefix,
    const std::function<bool(absl::string_view, absl::string_view)>& visit,
    absl::string_view start_after) const {
  const size_t strip = prefix_.size();
  return snapshot_->Scan(absl::StrCat(prefix_, prefix),
                         start_after.empty() ? "" : absl::StrCat(prefix_, start_after),
                         [&](absl::string_view key, absl::string_view value) {
                           return visit(key.substr(strip), value);
                         });
}

absl::StatusOr<std::optional<std::string>> SnapshotReader::LastKey(absl::string_view prefix) const {
  absl::StatusOr<std::optional<std::string>> key = snapshot_->LastKey(absl::StrCat(prefix_, prefix));
  if (!key.ok() || !key->has_value()) return key;
  return std::optional<std::string>((*key)->substr(prefix_.size()));
}

absl::StatusOr<std::vector<v1::Deal>> LoadCompanyDeals(const StateReader& reader,
                                                       absl::string_view company_id,
                                                       const ClaimFilter& filter) {
  absl::StatusOr<std::vector<std::string>> ids =
      reader.ListIds(keys::DealsOfCompanyPrefix(company_id));
  if (!ids.ok()) return ids.status();
  std::vector<v1::Deal> deals;
  deals.reserve(ids->size());
  for (const std::string& id : *ids) {
    absl::StatusOr<state::Entity> entity = reader.GetEntity(keys::Deal(id));
    if (!entity.ok()) return entity.status();
    std::optional<v1::Deal> deal = FoldDeal(*entity, filter);
    // The index also lists deals whose company changed by correction or that
    // name the company in another role; keep only the company's own.
    if (deal.has_value() && deal->company_id() == company_id) deals.push_back(*std::move(deal));
  }
  return deals;
}

absl::StatusOr<v1::CapTable> ComputeCapTable(const StateReader& reader,
                                            absl::string_view company_id,
                                            const ClaimFilter& filter, bool include_pending) {
  absl::StatusOr<state::Entity> org = reader.GetEntity(keys::Org(company_id));
  if (!org.ok()) return org.status();
  if (!FoldOrganization(*org, filter).has_value()) {
    return absl::NotFoundError(absl::StrCat("company_id: no organization '", company_id, "'"));
  }
  absl::StatusOr<std::vector<v1::Deal>> deals = LoadCompanyDeals(reader, company_id, filter);
  if (!deals.ok()) return deals.status();
  absl::StatusOr<state::Entity> claims = reader.GetEntity(keys::Company(company_id));
  if (!claims.ok()) return claims.status();
  CapTableInput input;
  input.company_id = std::string(company_id);
  input.deals = *std::move(deals);
  input.company_claims = &*claims;
  input.name_of = [](absl::string_view) { return std::string(); };
  return FoldCapTable(input, filter, include_pending);
}

absl::StatusOr<std::optional<v1::Organization>> NameResolver::Organization(
    absl::string_view org_id) {
  if (auto it = cache_.find(org_id); it != cache_.end()) return it->second;
  std::optional<v1::Organization> org;
  if (filter_.has_value()) {
    absl::StatusOr<state::Entity> entity = reader_->GetEntity(keys::Org(org_id));
    if (!entity.ok()) return entity.status();
    org = FoldOrganization(*entity, *filter_);
  } else {
    absl::StatusOr<std::optional<std::string>> raw = reader_->Get(keys::OrgView(org_id));
    if (!raw.ok()) return raw.status();
    if (raw->has_value()) {
      org.emplace();
      if (!org->ParseFromString(**raw)) {
        return absl::DataLossError(absl::StrCat("organization view '", org_id, "' is corrupt"));
      }
    }
  }
  cache_.emplace(std::string(org_id), org);
  return org;
}

std::string NameResolver::Name(absl::string_view org_id) {
  absl::StatusOr<std::optional<v1::Organization>> org = Organization(org_id);
  if (!org.ok() || !org->has_value()) return "";
  return (*org)->name();
}

std::string NameResolver::Rollup(absl::string_view org_id) {
  std::string top;
  std::string at(org_id);
  // Parent chains are acyclic (validated on append); the bound only guards
  // against corrupt state.
  for (int depth = 0; depth < 64; ++depth) {
    absl::StatusOr<std::optional<v1::Organization>> org = Organization(at);
    if (!org.ok() || !org->has_value() || (*org)->parent_org_id().empty()) break;
    at = (*org)->parent_org_id();
    top = at;
  }
  return top;
}

void FillCapTableNames(NameResolver& names, v1::CapTable* table) {
  table->set_company_name(names.Name(table->company_id()));
  for (v1::Holding& h : *table->mutable_holders()) h.set_name(names.Name(h.org_id()));
}

}  // namespace dealwire::projections
