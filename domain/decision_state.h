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
// Each table is kept in the log's state space and cached in memory within
// a budget (paged_table.h, decision_store.cc): a miss reads the entry back,
// changes are written in batches once their events are durable, and a
// start applies only the events after what was written.
//
// Every change goes through a helper that records how to undo it, so that a
// refused append (or, in Recover, a refused event) is rolled back exactly.
// Undo entries may view the payloads they concern: the proposal's (alive
// while its append is decided) or copies the state keeps until the log is
// cleared (Keep).
//
// Thread-safety: none; the log's writer thread alone uses it (after Recover).
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <limits>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "dealwire/v1/events.pb.h"
#include "domain/paged_table.h"
#include "store/event_log.h"
#include "store/state_space.h"

namespace dealwire::domain::internal {

// Position meaning "the state as it is now", after every standing claim.
inline constexpr uint64_t kNow = std::numeric_limits<uint64_t>::max();
inline constexpr size_t kMaxAliases = 50;
// The longest chain of parents the cycle check follows.
inline constexpr size_t kMaxParentSteps = 1 << 20;

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

// How each table's entries are kept in the state space (decision_store.cc):
// integers as base-128 varints (signed ones zigzag-encoded), strings
// length-prefixed.
struct Unit {};
struct OrgCodec {
  static void Encode(const Org& o, std::string* out);
  static bool Decode(absl::string_view in, Org* o);
};
struct DealCodec {
  static void Encode(const Deal& d, std::string* out);
  static bool Decode(absl::string_view in, Deal* d);
};
struct PartnershipCodec {
  static void Encode(const Partnership& p, std::string* out);
  static bool Decode(absl::string_view in, Partnership* p);
};
struct NumberCodec {
  static void Encode(uint64_t v, std::string* out);
  static bool Decode(absl::string_view in, uint64_t* v);
};
struct TextCodec {
  static void Encode(const std::string& v, std::string* out) { *out = v; }
  static bool Decode(absl::string_view in, std::string* v) {
    v->assign(in.data(), in.size());
    return true;
  }
};
struct UnitCodec {
  static void Encode(Unit, std::string*) {}
  static bool Decode(absl::string_view in, Unit*) { return in.empty(); }
};

// Writes the state's batches to the state space once the events they
// include are durable, in order, on a thread of its own
// (decision_store.cc).
class BatchWriter;

// Returns FAILED_PRECONDITION "<base>.<leaf>: <what>" ("<base>: <what>" for
// an empty leaf).
absl::Status Refused(absl::string_view base, absl::string_view leaf, absl::string_view what);

class DecisionState {
 public:
  // `space`: where the state is kept (null: in memory only, for a replay
  // that is only compared); `cache_bytes`: what the cached entries may
  // hold in memory before clean ones are evicted.
  DecisionState(store::StateSpace* space, size_t cache_bytes);
  ~DecisionState();
  DecisionState(const DecisionState&) = delete;
  DecisionState& operator=(const DecisionState&) = delete;

  // --- decision_store.cc: where the state is kept ---
  // Brings the state up to every committed event of `log`: from the state
  // kept in the state space when it was written for these events (it names
  // its last event's position and id), applying only the events after it;
  // else by replaying the whole log, after dropping what the state space
  // held. Forgets what is cached and drops every batch not yet written
  // first. Keeps `log` for the lookups of amendments while it replays and
  // for the writes that follow. See DomainDecider::Recover.
  absl::Status Recover(const store::EventLog& log);
  // Whether the last Recover started from the kept state, and how many
  // events it applied.
  bool restored() const { return restored_; }
  uint64_t replayed() const { return replayed_; }
  size_t cached_bytes() const { return cache_.bytes; }
  // See DomainDecider::WaitWritten.
  absl::Status WaitWritten();
  // Writes every change not yet written and stops the writing thread.
  // REQUIRES: every decided event is durable (or will never be).
  void Close();
  // Appends the whole state to `out`, deterministically (the same state
  // gives the same bytes, wherever its entries are). REQUIRES: no decision
  // in progress. For comparing states: it reads every table.
  absl::Status Save(std::string* out) const;

  // Checks the events of one append (`payloads[i]` of `events[i]`, which
  // would stand at `first_position + i`) in order, each against the state
  // the ones before left; on success counts them in and sets their tags,
  // else leaves no trace. See DomainDecider::Decide.
  absl::Status Decide(uint64_t first_position,
                      const std::vector<const dealwire::v1::EventPayload*>& payloads,
                      const store::AcceptedEvents& accepted,
                      std::vector<store::ProposedEvent>* events);

 private:
  // --- decision_store.cc ---
  // After a decision (or an event replayed) that stood: takes the changes
  // into a batch when enough are dirty, and evicts when the cache is over
  // its budget. `sync`: write the batch at once (the events are durable:
  // replaying); else hand it to the writer, to be written once they are.
  absl::Status Checkpoint(bool force, bool sync);
  // Every table's dirty entries and the position they reach, as a batch.
  store::StateBatch TakeDirty();
  void ClearCache();
  // Calls `f` with each table, always in the same order (Save's).
  template <typename F>
  void EachTable(F&& f) {
    f(orgs_);
    f(deals_);
    f(partnerships_);
    f(facilities_);
    f(retracted_);
    f(corrections_);
    f(skipped_);
  }
  template <typename F>
  void EachTable(F&& f) const {
    f(orgs_);
    f(deals_);
    f(partnerships_);
    f(facilities_);
    f(retracted_);
    f(corrections_);
    f(skipped_);
  }

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
  // Refuses decisions after a failed read of the kept state (UNAVAILABLE).
  absl::Status ReadFailure();

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
    map.MarkDirty(key);
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
  store::StateSpace* const space_;
  const size_t cache_bytes_;
  PageCache cache_;
  std::unique_ptr<BatchWriter> writer_;  // with a state space, after Recover
  // The last event the state includes, and the last one the batches taken
  // so far include.
  uint64_t through_ = 0;
  std::string through_id_;
  uint64_t taken_through_ = 0;
  bool restored_ = false;
  uint64_t replayed_ = 0;
  size_t evict_at_ = 0;    // Checkpoint sweeps the cache again from this size
  // A read of the state space failed: the cache may be wrong, so every
  // decision is refused (UNAVAILABLE) until Recover.
  bool poisoned_ = false;
  PagedTable<Org, OrgCodec> orgs_{'o', &cache_};
  PagedTable<Deal, DealCodec> deals_{'d', &cache_};
  PagedTable<Partnership, PartnershipCodec> partnerships_{'p', &cache_};
  PagedTable<uint64_t, NumberCodec> facilities_{'f', &cache_};   // id → announced at
  PagedTable<uint64_t, NumberCodec> retracted_{'r', &cache_};    // event id → retracted at
  PagedTable<std::string, TextCodec> corrections_{'c', &cache_};  // event id → latest correction
  PagedTable<Unit, UnitCodec> skipped_{'s', &cache_};             // events Recover could not apply
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
