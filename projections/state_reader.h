// projections/state_reader.h — reading one generation of projection state,
// and the loads every answer shares (entities, a company's deals, names).
//
//   ASSIGN_OR_RETURN(std::unique_ptr<store::StateSnapshot> snap, state->Snapshot());
//   SnapshotReader reader(snap.get(), keys::GenerationPrefix(generation));
//   ASSIGN_OR_RETURN(std::vector<v1::Deal> deals, LoadCompanyDeals(reader, "openai", filter));
//
// Keys passed to a StateReader are relative to the generation (state_keys.h).
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "dealwire/state/v1/state.pb.h"
#include "dealwire/v1/market_intel.pb.h"
#include "projections/folds.h"
#include "store/state_space.h"

namespace dealwire::projections {

// Read access to one generation. Thread-safety: as the implementation's.
class StateReader {
 public:
  virtual ~StateReader() = default;

  // Returns the value under `key`, or nullopt.
  virtual absl::StatusOr<std::optional<std::string>> Get(absl::string_view key) const = 0;

  // Calls `visit` with each key starting with `prefix` (the key relative to
  // the generation) that sorts after `start_after` (empty: from the first),
  // in key order, until it returns false.
  virtual absl::Status Scan(
      absl::string_view prefix,
      const std::function<bool(absl::string_view key, absl::string_view value)>& visit,
      absl::string_view start_after = "") const = 0;

  // Returns the last key under `prefix` (relative to the generation), or
  // nullopt.
  virtual absl::StatusOr<std::optional<std::string>> LastKey(absl::string_view prefix) const = 0;

  // Returns the claims about the entity `entity_key` (keys::Org(id), …) in
  // position order (none when it has none), or DATA_LOSS when one does not
  // parse.
  absl::StatusOr<dealwire::state::v1::Entity> GetEntity(absl::string_view entity_key) const;

  // Calls `visit` with every entity of a kind ("o/", "d/", …) in id order,
  // until it returns false.
  absl::Status ScanEntities(
      absl::string_view kind,
      const std::function<bool(const dealwire::state::v1::Entity& entity)>& visit) const;

  // Returns up to `limit` ids of entities of a kind ("o/", "d/", …) that sort
  // after `start_after`, in order, skipping over their claims.
  absl::StatusOr<std::vector<std::string>> ListEntityIds(absl::string_view kind,
                                                         absl::string_view start_after,
                                                         size_t limit) const;

  // Returns the last path component of every key under `prefix`.
  absl::StatusOr<std::vector<std::string>> ListIds(absl::string_view prefix) const;
};

// A StateReader over a store snapshot. Thread-safe.
class SnapshotReader final : public StateReader {
 public:
  SnapshotReader(const store::StateSnapshot* snapshot, std::string generation_prefix)
      : snapshot_(snapshot), prefix_(std::move(generation_prefix)) {}

  absl::StatusOr<std::optional<std::string>> Get(absl::string_view key) const override;
  absl::Status Scan(absl::string_view prefix,
                    const std::function<bool(absl::string_view, absl::string_view)>& visit,
                    absl::string_view start_after = "") const override;
  absl::StatusOr<std::optional<std::string>> LastKey(absl::string_view prefix) const override;

 private:
  const store::StateSnapshot* snapshot_;
  std::string prefix_;
};

// Returns the deals of a company (rounds, investments into it, acquisitions
// of it), folded under `filter`, ordered by deal id.
absl::StatusOr<std::vector<dealwire::v1::Deal>> LoadCompanyDeals(const StateReader& reader,
                                                                 absl::string_view company_id,
                                                                 const ClaimFilter& filter);

// Computes a company's cap table under `filter`, without names (see
// FillCapTableNames). NOT_FOUND when the company is not registered under
// `filter`.
absl::StatusOr<dealwire::v1::CapTable> ComputeCapTable(const StateReader& reader,
                                                      absl::string_view company_id,
                                                      const ClaimFilter& filter,
                                                      bool include_pending);

// Resolves display names. `Current` reads the materialized views (vo/);
// otherwise names are folded under the filter. Caches within one answer.
class NameResolver {
 public:
  NameResolver(const StateReader* reader, std::optional<ClaimFilter> filter)
      : reader_(reader), filter_(std::move(filter)) {}

  // Returns the organization under the resolver's filter, or nullopt.
  absl::StatusOr<std::optional<dealwire::v1::Organization>> Organization(absl::string_view org_id);
  // Returns the display name, or "" when unknown.
  std::string Name(absl::string_view org_id);
  // Returns the top of the org's parent chain, or "" when it has no parent.
  std::string Rollup(absl::string_view org_id);

 private:
  const StateReader* reader_;
  std::optional<ClaimFilter> filter_;  // nullopt: current views
  std::map<std::string, std::optional<dealwire::v1::Organization>, std::less<>> cache_;
};

// Sets company_name and every holder's name.
void FillCapTableNames(NameResolver& names, dealwire::v1::CapTable* table);

}  // namespace dealwire::projections
