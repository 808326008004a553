// domain/decision_state.h — the state the decider keeps, and its rules,
// split by family: organizations.cc, deals.cc, partnerships.cc (and
// facilities), amendments.cc (retractions and corrections). decider.cc
// drives them. Internal to domain/.
//
// The state is compact: per organization its registration, parent and alias
// claims and a count of the standing events that name it; per deal its kind,
// parties, organizations and standing stage claims; per partnership its
// organizations and end; facility ids; retracted and corrected event ids;
// and the events accepted but not yet committed. Other events are read back
// from the log when a retraction or correction names them: the only reads
// of the log on the write path, one point read per amendment.
//
// Every change goes through a helper that records how to undo it, so that a
// refused append (or, in Recover, a refused event) is rolled back exactly.
// Undo entries may view the payloads they concern: the proposal's (alive
// while its append is decided) or copies the state keeps until the log is
// cleared (Keep).
//
// Thread-safety: none; the log's writer thread alone uses it (after Recover).
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <limits>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "dealwire/v1/events.pb.h"
#include "store/event_log.h"

namespace dealwire::domain::internal {

// Position meaning "the state as it is now", after every standing claim.
inline constexpr uint64_t kNow = std::numeric_limits<uint64_t>::max();
inline constexpr size_t kMaxAliases = 50;

// A change of an organization's aliases: its registration (always the first
// claim) or an OrganizationUpdated that adds or removes some.
struct AliasClaim {
  uint64_t position = 0;
  std::vector<std::string> add, remove;
};

struct Org {
  uint64_t registered_at = 0;  // position of the standing OrganizationRegistered
  int64_t refs = 0;            // standing events naming it (not its registration)
  // Standing claims of its parent ("" for none), in position order: its
  // registration, then each OrganizationUpdated that sets parent_org_id.
  std::vector<std::pair<uint64_t, std::string>> parents;
  // Standing claims that change its aliases, in position order.
  std::vector<AliasClaim> aliases;
};

enum class DealKind : uint8_t { kRound, kInvestment, kAcquisition };

struct StageClaim {
  uint64_t position;
  dealwire::v1::DealStage stage;
};

struct Deal {
  DealKind kind;
  std::string company;     // round, investment: the company; acquisition: the target
  std::string party;       // investment: the investor; acquisition: the acquirer
  std::string round;       // investment: its round, or ""
  int64_t round_refs = 0;  // round: standing investments and valuations naming it
  // The organizations the report that created it names (a round's lead
  // investors too): what its stage changes are about.
  std::vector<std::string> orgs;
  // Standing stage claims in position order; the first is the report that
  // created the deal.
  std::vector<StageClaim> claims;
};

struct Partnership {
  uint64_t formed_at = 0;
  uint64_t ended_by = 0;  // position of the standing PartnershipEnded, or 0
  std::vector<std::string> orgs;  // its parties: what its end is about
};

// An event as it stands: a retraction's or correction's target.
struct Target {
  uint64_t position = 0;
  dealwire::v1::EventPayload::PayloadCase original_case =
      dealwire::v1::EventPayload::PAYLOAD_NOT_SET;
  dealwire::v1::EventPayload payload;  // the latest correction's replacement, or the original
  std::vector<std::string> tags;       // the original's tags
};

// Returns FAILED_PRECONDITION "<base>.<leaf>: <what>" ("<base>: <what>" for
// an empty leaf).
absl::Status Refused(absl::string_view base, absl::string_view leaf, absl::string_view what);

class DecisionState {
 public:
  // Rebuilds the state from every committed event of `log` and keeps `log`
  // for the lookups of amendments. See DomainDecider::Recover.
  absl::Status Recover(const store::EventLog& log);

  // --- decision_snapshot.cc: the state as bytes ---
  // Appends the whole state to `out`, deterministically (the same state
  // gives the same bytes). REQUIRES: no decision in progress.
  void Save(std::string* out) const;
  // Replaces the state with `saved` (from Save, when the log ended at
  // `at`), then applies every committed event of `log` after `at`.
  // INVALID_ARGUMENT when `saved` is not a state of this format.
  absl::Status Restore(absl::string_view saved, uint64_t at, const store::EventLog& log);

  // Checks the events of one append (`payloads[i]` of `events[i]`, which
  // would stand at `first_position + i`) in order, each against the state
  // the ones before left; on success counts them in and sets their tags,
  // else leaves no trace. See DomainDecider::Decide.
  absl::Status Decide(uint64_t first_position,
                      const std::vector<const dealwire::v1::EventPayload*>& payloads,
                      const store::AcceptedEvents& accepted,
                      std::vector<store::ProposedEvent>* events);

 private:
  // --- decider.cc: driving, lookups, tags ---
  // Applies every committed event of `log` from position `from` on, in
  // order.
  absl::Status Replay(const store::EventLog& log, uint64_t from = 0);
  // One event: `field` is the path of its payload ("events[2].payload").
  absl::Status Apply(const std::string& event_id, uint64_t position,
                     const dealwire::v1::EventPayload& p, absl::string_view field);
  // A new claim standing at `at`.
  absl::Status Add(const dealwire::v1::EventPayload& p, uint64_t at, const std::string& base);
  // Removes the effects of `p` standing at `at`; `field` names the
  // retraction's event_id.
  absl::Status Remove(const dealwire::v1::EventPayload& p, uint64_t at, const std::string& field);
  // Replaces `old` standing at `at` with `r`; `base` is the replacement's path.
  absl::Status Replace(const dealwire::v1::EventPayload& old, const dealwire::v1::EventPayload& r,
                       uint64_t at, const std::string& base);
  // Sets `*tags` to the tags of `p`, which was just applied: its own, plus
  // what it inherits (a stage change the organizations of its deal, a
  // partnership's end those of the partnership, an amendment its target's).
  absl::Status TagsOf(const dealwire::v1::EventPayload& p, std::vector<std::string>* tags);
  // Finds the event `event_id` (accepted earlier, committed or not);
  // nullopt when there is none.
  struct Found {
    uint64_t position;
    dealwire::v1::EventPayload payload;
    std::vector<std::string> tags;
  };
  absl::StatusOr<std::optional<Found>> FindEvent(const std::string& event_id);
  void Rollback();

  // --- organizations.cc ---
  // Checks that every organization `p` names is registered before `at`.
  absl::Status CheckOrgs(const dealwire::v1::EventPayload& p, uint64_t at,
                         const std::string& base);
  void AddRefs(const dealwire::v1::EventPayload& p, int delta);
  absl::Status RegisterOrganization(const dealwire::v1::EventPayload& p, uint64_t at,
                                    const std::string& base);
  absl::Status UpdateOrganization(const dealwire::v1::EventPayload& p, uint64_t at,
                                  const std::string& base);
  absl::Status RemoveOrganizationClaim(const dealwire::v1::EventPayload& p, uint64_t at,
                                       const std::string& field);
  absl::Status ReplaceOrganizationClaim(const dealwire::v1::EventPayload& r, uint64_t at,
                                        const std::string& base);
  absl::Status CheckNoCycle(const std::string& org, uint64_t at, absl::string_view base,
                            absl::string_view leaf, absl::string_view doing);
  std::string ParentAt(const std::string& org, uint64_t at) const;
  // Sets org's parent claim at `at` to `parent`, or removes it (nullopt).
  void SetParentClaim(const std::string& org, uint64_t at, std::optional<std::string> parent);
  // Sets org's alias claim at `at` to `claim`, or removes it (nullopt), and
  // checks that its alias set never exceeds kMaxAliases.
  absl::Status SetAliasClaim(const std::string& org, uint64_t at, std::optional<AliasClaim> claim,
                             absl::string_view base, absl::string_view leaf,
                             absl::string_view doing);

  // --- deals.cc ---
  absl::Status ReportDeal(const dealwire::v1::EventPayload& p, uint64_t at,
                          const std::string& base);
  absl::Status ChangeDealStage(const dealwire::v1::DealStageChanged& e, uint64_t at,
                               const std::string& base);
  absl::Status ReportValuation(const dealwire::v1::ValuationReported& e, uint64_t at,
                               const std::string& base);
  absl::Status RemoveDealClaim(const dealwire::v1::EventPayload& p, uint64_t at,
                               const std::string& field);
  absl::Status RemoveValuation(const dealwire::v1::ValuationReported& e);
  absl::Status ReplaceDealClaim(const dealwire::v1::EventPayload& r, uint64_t at,
                                const std::string& base);
  absl::Status ReplaceValuation(const dealwire::v1::ValuationReported& old,
                                const dealwire::v1::ValuationReported& r, uint64_t at,
                                const std::string& base);
  absl::Status CheckRound(const std::string& round, const std::string& company, uint64_t at,
                          const std::string& base);
  void AddRoundRef(absl::string_view round, int delta);
  // Checks the stage steps of deal `id` around claim index `k` (the pairs
  // k-1→k and k→k+1 that exist).
  absl::Status CheckSteps(const std::string& id, const Deal& d, size_t k, absl::string_view base,
                          absl::string_view leaf, absl::string_view doing);

  // --- partnerships.cc (partnerships and facilities) ---
  absl::Status FormPartnership(const dealwire::v1::PartnershipFormed& e, uint64_t at,
                               const std::string& base);
  absl::Status EndPartnership(const dealwire::v1::PartnershipEnded& e, uint64_t at,
                              const std::string& base);
  absl::Status AnnounceFacility(const dealwire::v1::FacilityAnnounced& e, uint64_t at,
                                const std::string& base);
  absl::Status RemovePartnershipClaim(const dealwire::v1::EventPayload& p, uint64_t at,
                                      const std::string& field);
  void RemoveFacility(const dealwire::v1::FacilityAnnounced& e, uint64_t at);

  // --- amendments.cc ---
  absl::Status Retract(const dealwire::v1::EventRetracted& r, uint64_t at,
                       const std::string& base);
  absl::Status Correct(const std::string& own_id, const dealwire::v1::EventCorrected& c,
                       const std::string& base);
  // Finds the event `event_id` as it stands now (with its latest
  // correction's replacement); nullopt when there is none.
  absl::StatusOr<std::optional<Target>> FindTarget(const std::string& event_id);
  // Finds the event a retraction (to_retract) or correction names, refusing
  // (FAILED_PRECONDITION at `base`.event_id) one that does not exist, is a
  // retraction or correction itself, or was retracted.
  absl::StatusOr<Target> StandingTarget(const std::string& id, const std::string& base,
                                        bool to_retract);

  // State changes, each undoable.
  template <typename Map>
  void Save(Map& map, const std::string& key) {
    auto it = map.find(key);
    if (it == map.end()) {
      undo_.push_back({Undo::kCustom, {}, 0, [&map, key] { map.erase(key); }});
    } else {
      undo_.push_back({Undo::kCustom, {}, 0, [&map, key, old = it->second]() mutable {
                         map.insert_or_assign(key, std::move(old));
                       }});
    }
  }
  // Adds `delta` to the standing references of organization `org` (a view
  // into a payload that lives until the undo log is cleared: the
  // proposal's, or one in kept_).
  void AddOrgRef(absl::string_view org, int delta);
  // Keeps `payload` (looked up, not the proposal's) until the undo log is
  // cleared, so that undo entries may view it; returns the kept copy.
  const dealwire::v1::EventPayload& Keep(dealwire::v1::EventPayload payload) {
    return kept_.emplace_back(std::move(payload));
  }
  // Clears the undo log: the changes stand.
  void Commit() {
    undo_.clear();
    kept_.clear();
  }

  // An event of the append being decided, before the one being decided.
  struct Earlier {
    const std::string* event_id;
    uint64_t position;
    const dealwire::v1::EventPayload* payload;
    const std::vector<std::string>* tags;
  };

  const store::EventLog* log_ = nullptr;               // during Recover
  const store::AcceptedEvents* accepted_ = nullptr;    // during Decide
  std::vector<Earlier> earlier_;                       // during Decide
  absl::flat_hash_map<std::string, Org> orgs_;
  absl::flat_hash_map<std::string, Deal> deals_;
  absl::flat_hash_map<std::string, Partnership> partnerships_;
  absl::flat_hash_map<std::string, uint64_t> facilities_;      // id → announced at
  absl::flat_hash_map<std::string, uint64_t> retracted_;       // event id → retracted at
  absl::flat_hash_map<std::string, std::string> corrections_;  // event id → latest correction
  absl::flat_hash_set<std::string> skipped_;                   // events Recover could not apply
  // How to undo each change, newest last. Reference counts are the most
  // frequent changes: they are undone by key, without a closure.
  struct Undo {
    enum Kind : uint8_t { kOrgRef, kRoundRef, kCustom } kind;
    absl::string_view key;  // kOrgRef, kRoundRef: the organization or round
    int delta;              // kOrgRef, kRoundRef: what was added
    std::function<void()> custom;
  };
  std::vector<Undo> undo_;
  std::deque<dealwire::v1::EventPayload> kept_;  // see Keep
};

}  // namespace dealwire::domain::internal
