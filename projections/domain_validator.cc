#include "projections/domain_validator.h"

#include <algorithm>
#include <cstdint>
#include <deque>
#include <functional>
#include <limits>
#include <optional>
#include <string>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "dealwire/v1/events.pb.h"
#include "projections/event_codec.h"
#include "projections/validate.h"

namespace dealwire::projections {
namespace {

namespace v1 = dealwire::v1;
using Case = v1::EventPayload::PayloadCase;

// Position meaning "the state as it is now", after every standing claim.
constexpr uint64_t kNow = std::numeric_limits<uint64_t>::max();
constexpr size_t kRecoverPage = 10000;

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

constexpr size_t kMaxAliases = 50;

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

enum class DealKind : uint8_t { kRound, kInvestment, kAcquisition };

struct Claim {
  uint64_t position;
  v1::DealStage stage;
};

struct Deal {
  DealKind kind;
  std::string company;     // round, investment: the company; acquisition: the target
  std::string party;       // investment: the investor; acquisition: the acquirer
  std::string round;       // investment: its round, or ""
  int64_t round_refs = 0;  // round: standing investments and valuations naming it
  // Standing stage claims in position order; the first is the report that
  // created the deal.
  std::vector<Claim> claims;
};

struct Partnership {
  uint64_t formed_at = 0;
  uint64_t ended_by = 0;  // position of the standing PartnershipEnded, or 0
};

// A payload as it stands at a position: a retraction's or correction's target.
struct Target {
  uint64_t position = 0;
  Case original_case = v1::EventPayload::PAYLOAD_NOT_SET;
  v1::EventPayload payload;  // the latest correction's replacement, or the original
};

const char* KindName(DealKind k) {
  switch (k) {
    case DealKind::kRound:
      return "funding round";
    case DealKind::kInvestment:
      return "investment";
    case DealKind::kAcquisition:
      return "acquisition";
  }
  return "deal";
}

const char* Article(DealKind k) { return k == DealKind::kRound ? "a" : "an"; }

const std::string& CaseName(const v1::EventPayload& p) {
  static const std::string* none = new std::string("payload");
  if (p.payload_case() == v1::EventPayload::PAYLOAD_NOT_SET) return *none;
  return v1::EventPayload::descriptor()->FindFieldByNumber(p.payload_case())->name();
}

const std::string& TypeName(Case c) {
  static const std::string* none = new std::string("no payload");
  if (c == v1::EventPayload::PAYLOAD_NOT_SET) return *none;
  return v1::EventPayload::descriptor()->FindFieldByNumber(c)->message_type()->name();
}

bool IsTerminal(v1::DealStage s) {
  return s == v1::DEAL_STAGE_CLOSED || s == v1::DEAL_STAGE_COLLAPSED;
}

// Returns why stage `next` may not follow `prev`, or "" when it may.
std::string StepError(v1::DealStage prev, v1::DealStage next) {
  if (IsTerminal(prev)) {
    return absl::StrCat(v1::DealStage_Name(prev), " is terminal: no stage may follow it");
  }
  if (next < prev) {
    return absl::StrCat(v1::DealStage_Name(next), " is earlier than ", v1::DealStage_Name(prev),
                        "; a deal moves back only by correcting or retracting the event that "
                        "moved it forward");
  }
  return "";
}

absl::Status Refused(absl::string_view base, absl::string_view leaf, absl::string_view what) {
  return absl::FailedPreconditionError(leaf.empty() ? absl::StrCat(base, ": ", what)
                                                    : absl::StrCat(base, ".", leaf, ": ", what));
}

// The deal a payload reports or changes, or nullptr.
const std::string* DealIdOf(const v1::EventPayload& p) {
  switch (p.payload_case()) {
    case v1::EventPayload::kFundingRoundReported:
      return &p.funding_round_reported().round_id();
    case v1::EventPayload::kInvestmentReported:
      return &p.investment_reported().investment_id();
    case v1::EventPayload::kAcquisitionReported:
      return &p.acquisition_reported().acquisition_id();
    case v1::EventPayload::kDealStageChanged:
      return &p.deal_stage_changed().deal_id();
    default:
      return nullptr;
  }
}

// The stage a deal payload claims, and the name of its field.
std::pair<v1::DealStage, const char*> StageOf(const v1::EventPayload& p) {
  switch (p.payload_case()) {
    case v1::EventPayload::kFundingRoundReported:
      return {p.funding_round_reported().stage(), "stage"};
    case v1::EventPayload::kInvestmentReported:
      return {p.investment_reported().stage(), "stage"};
    case v1::EventPayload::kAcquisitionReported:
      return {p.acquisition_reported().stage(), "stage"};
    default:
      return {p.deal_stage_changed().new_stage(), "new_stage"};
  }
}

// Calls `f(leaf, id)` for every organization `p` names (each occurrence),
// leaving out the organization an OrganizationRegistered registers.
template <typename F>
void ForEachOrg(const v1::EventPayload& p, F&& f) {
  const auto opt = [&](const char* leaf, const std::string& id) {
    if (!id.empty()) f(leaf, -1, id);
  };
  switch (p.payload_case()) {
    case v1::EventPayload::kOrganizationRegistered:
      opt("parent_org_id", p.organization_registered().parent_org_id());
      break;
    case v1::EventPayload::kOrganizationUpdated:
      f("org_id", -1, p.organization_updated().org_id());
      if (p.organization_updated().has_parent_org_id()) {
        opt("parent_org_id", p.organization_updated().parent_org_id());
      }
      break;
    case v1::EventPayload::kFundingRoundReported: {
      const auto& e = p.funding_round_reported();
      f("company_id", -1, e.company_id());
      for (int i = 0; i < e.lead_investor_ids_size(); ++i) {
        f("lead_investor_ids", i, e.lead_investor_ids(i));
      }
      break;
    }
    case v1::EventPayload::kInvestmentReported:
      f("investor_id", -1, p.investment_reported().investor_id());
      f("company_id", -1, p.investment_reported().company_id());
      break;
    case v1::EventPayload::kValuationReported:
      f("company_id", -1, p.valuation_reported().company_id());
      break;
    case v1::EventPayload::kStakeDisclosed:
      f("holder_id", -1, p.stake_disclosed().holder_id());
      f("company_id", -1, p.stake_disclosed().company_id());
      break;
    case v1::EventPayload::kAcquisitionReported:
      f("acquirer_id", -1, p.acquisition_reported().acquirer_id());
      f("target_id", -1, p.acquisition_reported().target_id());
      break;
    case v1::EventPayload::kPartnershipFormed: {
      const auto& parties = p.partnership_formed().parties();
      for (int i = 0; i < parties.size(); ++i) f("parties", i, parties[i].org_id());
      break;
    }
    case v1::EventPayload::kFacilityAnnounced:
      f("owner_id", -1, p.facility_announced().owner_id());
      opt("beneficiary_id", p.facility_announced().beneficiary_id());
      break;
    default:
      break;
  }
}

std::string OrgLeaf(const char* leaf, int index) {
  if (index < 0) return leaf;
  if (absl::string_view(leaf) == "parties") return absl::StrCat("parties[", index, "].org_id");
  return absl::StrCat(leaf, "[", index, "]");
}

// Returns the first field that says what `p` is about and differs in `r`
// (same payload case), with its value in `p`; {"", ""} when none differs.
std::pair<const char*, std::string> IdentityChange(const v1::EventPayload& p,
                                                   const v1::EventPayload& r) {
  std::pair<const char*, std::string> out{"", ""};
  const auto cmp = [&](const char* leaf, const std::string& a, const std::string& b) {
    if (out.first[0] == '\0' && a != b) out = {leaf, a};
  };
  switch (p.payload_case()) {
    case v1::EventPayload::kOrganizationRegistered:
      cmp("org_id", p.organization_registered().org_id(), r.organization_registered().org_id());
      break;
    case v1::EventPayload::kOrganizationUpdated:
      cmp("org_id", p.organization_updated().org_id(), r.organization_updated().org_id());
      break;
    case v1::EventPayload::kFundingRoundReported:
      cmp("round_id", p.funding_round_reported().round_id(), r.funding_round_reported().round_id());
      cmp("company_id", p.funding_round_reported().company_id(),
          r.funding_round_reported().company_id());
      break;
    case v1::EventPayload::kInvestmentReported: {
      const auto &a = p.investment_reported(), &b = r.investment_reported();
      cmp("investment_id", a.investment_id(), b.investment_id());
      cmp("investor_id", a.investor_id(), b.investor_id());
      cmp("company_id", a.company_id(), b.company_id());
      cmp("round_id", a.round_id(), b.round_id());
      break;
    }
    case v1::EventPayload::kDealStageChanged:
      cmp("deal_id", p.deal_stage_changed().deal_id(), r.deal_stage_changed().deal_id());
      break;
    case v1::EventPayload::kValuationReported:
      cmp("company_id", p.valuation_reported().company_id(), r.valuation_reported().company_id());
      break;
    case v1::EventPayload::kStakeDisclosed:
      cmp("holder_id", p.stake_disclosed().holder_id(), r.stake_disclosed().holder_id());
      cmp("company_id", p.stake_disclosed().company_id(), r.stake_disclosed().company_id());
      break;
    case v1::EventPayload::kAcquisitionReported: {
      const auto &a = p.acquisition_reported(), &b = r.acquisition_reported();
      cmp("acquisition_id", a.acquisition_id(), b.acquisition_id());
      cmp("acquirer_id", a.acquirer_id(), b.acquirer_id());
      cmp("target_id", a.target_id(), b.target_id());
      break;
    }
    case v1::EventPayload::kPartnershipFormed:
      cmp("partnership_id", p.partnership_formed().partnership_id(),
          r.partnership_formed().partnership_id());
      break;
    case v1::EventPayload::kPartnershipEnded:
      cmp("partnership_id", p.partnership_ended().partnership_id(),
          r.partnership_ended().partnership_id());
      break;
    case v1::EventPayload::kFacilityAnnounced:
      cmp("facility_id", p.facility_announced().facility_id(),
          r.facility_announced().facility_id());
      break;
    case v1::EventPayload::kFxRateReported:
      cmp("base_currency", p.fx_rate_reported().base_currency(),
          r.fx_rate_reported().base_currency());
      cmp("quote_currency", p.fx_rate_reported().quote_currency(),
          r.fx_rate_reported().quote_currency());
      break;
    default:
      break;
  }
  return out;
}

}  // namespace

// The state and the rules. Every change to the state goes through a helper
// that records how to undo it, so that a refused append (or, in Recover, a
// refused event) is rolled back exactly.
class DomainValidator::State {
 public:
  absl::Status Recover(const store::EventLog& log);
  absl::Status Validate(store::Position first_position,
                        const std::vector<store::ProposedEvent>& events);

 private:
  // One event: `field` is the path of its payload ("events[2].payload").
  absl::Status Apply(const std::string& event_id, uint64_t position, const v1::EventPayload& p,
                     absl::string_view field);
  // A new claim standing at `at`.
  absl::Status Add(const v1::EventPayload& p, uint64_t at, const std::string& base);
  absl::Status Retract(const v1::EventRetracted& r, uint64_t at, const std::string& base);
  absl::Status Correct(const std::string& own_id, const v1::EventCorrected& c,
                       const std::string& base);
  // Removes the effects of `p` standing at `at`; `field` names the retraction's event_id.
  absl::Status Remove(const v1::EventPayload& p, uint64_t at, const std::string& field);
  // Replaces `old` standing at `at` with `r`; `base` is the replacement's path.
  absl::Status Replace(const v1::EventPayload& old, const v1::EventPayload& r, uint64_t at,
                       const std::string& base);

  absl::Status ReportDeal(DealKind kind, const std::string& id, const char* id_leaf,
                          const std::string& company, const std::string& party,
                          const std::string& round, v1::DealStage stage, uint64_t at,
                          const std::string& base);
  absl::Status CheckRound(const std::string& round, const std::string& company, uint64_t at,
                          const std::string& base);
  // Checks the stage steps of deal `id` around claim index `k` (the pairs
  // k-1→k and k→k+1 that exist).
  absl::Status CheckSteps(const std::string& id, const Deal& d, size_t k, absl::string_view base,
                          absl::string_view leaf, absl::string_view doing);
  absl::Status CheckOrgs(const v1::EventPayload& p, uint64_t at, const std::string& base);
  absl::Status CheckNoCycle(const std::string& org, uint64_t at, absl::string_view base,
                            absl::string_view leaf, absl::string_view doing);
  std::string ParentAt(const std::string& org, uint64_t at) const;

  // Finds the event `event_id` (accepted earlier, committed or not) as it
  // stands now; nullopt when there is none.
  absl::StatusOr<std::optional<Target>> FindTarget(const std::string& event_id);
  // Finds the event a retraction (to_retract) or correction names, refusing
  // (FAILED_PRECONDITION at `base`.event_id) one that does not exist, is a
  // retraction or correction itself, or was retracted.
  absl::StatusOr<Target> StandingTarget(const std::string& id, const std::string& base,
                                        bool to_retract);
  absl::StatusOr<std::optional<std::pair<uint64_t, v1::EventPayload>>> FindEvent(
      const std::string& event_id);

  // State changes, each undoable.
  template <typename Map>
  void Save(Map& map, const std::string& key) {
    auto it = map.find(key);
    if (it == map.end()) {
      undo_.push_back([&map, key] { map.erase(key); });
    } else {
      undo_.push_back(
          [&map, key, old = it->second]() mutable { map.insert_or_assign(key, std::move(old)); });
    }
  }
  void AddRefs(const v1::EventPayload& p, int delta);
  void AddRoundRef(const std::string& round, int delta);
  // Sets org's parent claim at `at` to `parent`, or removes it (nullopt).
  void SetParentClaim(const std::string& org, uint64_t at, std::optional<std::string> parent);
  // Sets org's alias claim at `at` to `claim`, or removes it (nullopt), and
  // checks that its alias set never exceeds kMaxAliases.
  absl::Status SetAliasClaim(const std::string& org, uint64_t at, std::optional<AliasClaim> claim,
                             absl::string_view base, absl::string_view leaf,
                             absl::string_view doing);
  void Rollback();
  void Prune();

  const store::EventLog* log_ = nullptr;
  absl::flat_hash_map<std::string, Org> orgs_;
  absl::flat_hash_map<std::string, Deal> deals_;
  absl::flat_hash_map<std::string, Partnership> partnerships_;
  absl::flat_hash_map<std::string, uint64_t> facilities_;      // id → announced at
  absl::flat_hash_map<std::string, uint64_t> retracted_;       // event id → retracted at
  absl::flat_hash_map<std::string, std::string> corrections_;  // event id → latest correction
  absl::flat_hash_set<std::string> skipped_;                   // events Recover could not apply
  // Events accepted but not yet committed (the log's readers do not see
  // them): id → position and stored data, in position order for pruning.
  absl::flat_hash_map<std::string, std::pair<uint64_t, std::string>> pending_;
  std::deque<std::pair<uint64_t, std::string>> pending_order_;
  std::vector<std::function<void()>> undo_;
};

// --- Driving -----------------------------------------------------------------

absl::Status DomainValidator::State::Recover(const store::EventLog& log) {
  log_ = &log;
  std::optional<store::Position> from;
  v1::Event event;
  for (;;) {
    absl::StatusOr<std::vector<store::RecordedEvent>> page =
        log.ReadAll(store::Direction::kForwards, from, kRecoverPage);
    if (!page.ok()) return page.status();
    if (page->empty()) return absl::OkStatus();
    for (const store::RecordedEvent& r : *page) {
      if (absl::Status s = DecodeEvent(r, &event); !s.ok()) return s;
      const absl::Status s = Apply(r.event_id, r.position.value(), event.payload(), "payload");
      if (s.ok()) {
        undo_.clear();
      } else if (absl::IsFailedPrecondition(s) || absl::IsInvalidArgument(s)) {
        Rollback();  // an event that breaks a rule: left out
        skipped_.insert(r.event_id);
      } else {
        return s;  // the log cannot be read
      }
    }
    from = page->back().position.next();
  }
}

absl::Status DomainValidator::State::Validate(store::Position first_position,
                                              const std::vector<store::ProposedEvent>& events) {
  Prune();
  v1::Event event;
  for (size_t i = 0; i < events.size(); ++i) {
    const store::ProposedEvent& e = events[i];
    const std::string field = absl::StrCat("events[", i, "].payload");
    absl::Status s;
    if (!event.ParseFromString(e.data)) {
      s = absl::InvalidArgumentError(
          absl::StrCat("events[", i, "].data: is not a serialized dealwire.v1.Event"));
    } else {
      s = ValidatePayload(event.payload(), field);
    }
    const uint64_t position = first_position.value() + i;
    if (s.ok()) s = Apply(e.event_id, position, event.payload(), field);
    if (!s.ok()) {
      Rollback();
      return s;
    }
    pending_.insert_or_assign(e.event_id, std::make_pair(position, e.data));
    pending_order_.emplace_back(position, e.event_id);
    undo_.push_back([this, id = e.event_id] {
      pending_.erase(id);
      pending_order_.pop_back();
    });
  }
  undo_.clear();
  return absl::OkStatus();
}

void DomainValidator::State::Rollback() {
  for (auto it = undo_.rbegin(); it != undo_.rend(); ++it) (*it)();
  undo_.clear();
}

void DomainValidator::State::Prune() {
  if (log_ == nullptr) return;
  const uint64_t committed = log_->LastPosition().value();
  while (!pending_order_.empty() && pending_order_.front().first <= committed) {
    pending_.erase(pending_order_.front().second);
    pending_order_.pop_front();
  }
}

absl::Status DomainValidator::State::Apply(const std::string& event_id, uint64_t position,
                                           const v1::EventPayload& p, absl::string_view field) {
  const std::string base = absl::StrCat(field, ".", CaseName(p));
  switch (p.payload_case()) {
    case v1::EventPayload::kEventRetracted:
      return Retract(p.event_retracted(), position, base);
    case v1::EventPayload::kEventCorrected:
      return Correct(event_id, p.event_corrected(), base);
    default:
      return Add(p, position, base);
  }
}

// --- Lookups -----------------------------------------------------------------

absl::StatusOr<std::optional<std::pair<uint64_t, v1::EventPayload>>>
DomainValidator::State::FindEvent(const std::string& event_id) {
  v1::Event event;
  uint64_t position;
  if (auto it = pending_.find(event_id); it != pending_.end()) {
    position = it->second.first;
    if (!event.ParseFromString(it->second.second)) {
      return absl::InternalError(absl::StrCat("accepted event '", event_id, "' cannot be parsed"));
    }
  } else {
    if (log_ == nullptr) return std::nullopt;
    absl::StatusOr<store::Position> found = log_->FindEvent(event_id);
    if (absl::IsNotFound(found.status())) return std::nullopt;
    if (!found.ok()) return found.status();
    absl::StatusOr<store::RecordedEvent> recorded = log_->ReadEvent(*found);
    if (!recorded.ok()) return recorded.status();
    if (absl::Status s = DecodeEvent(*recorded, &event); !s.ok()) return s;
    position = found->value();
  }
  return std::make_pair(position, std::move(*event.mutable_payload()));
}

absl::StatusOr<std::optional<Target>> DomainValidator::State::FindTarget(
    const std::string& event_id) {
  auto original = FindEvent(event_id);
  if (!original.ok()) return original.status();
  if (!original->has_value()) return std::nullopt;
  Target t;
  t.position = (*original)->first;
  t.original_case = (*original)->second.payload_case();
  t.payload = std::move((*original)->second);
  if (auto it = corrections_.find(event_id); it != corrections_.end()) {
    auto correction = FindEvent(it->second);
    if (!correction.ok()) return correction.status();
    if (!correction->has_value()) {
      return absl::InternalError(absl::StrCat("correction '", it->second, "' not found"));
    }
    t.payload = std::move(*(*correction)->second.mutable_event_corrected()->mutable_replacement());
  }
  return t;
}

// --- Organizations -----------------------------------------------------------

absl::Status DomainValidator::State::CheckOrgs(const v1::EventPayload& p, uint64_t at,
                                               const std::string& base) {
  absl::Status out;
  ForEachOrg(p, [&](const char* leaf, int index, const std::string& id) {
    if (!out.ok()) return;
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

void DomainValidator::State::AddRefs(const v1::EventPayload& p, int delta) {
  ForEachOrg(p, [&](const char*, int, const std::string& id) {
    auto it = orgs_.find(id);
    if (it == orgs_.end()) return;  // only for events Recover skipped
    it->second.refs += delta;
    undo_.push_back([this, id, delta] {
      if (auto it = orgs_.find(id); it != orgs_.end()) it->second.refs -= delta;
    });
  });
}

std::string DomainValidator::State::ParentAt(const std::string& org, uint64_t at) const {
  auto it = orgs_.find(org);
  if (it == orgs_.end()) return "";
  const auto& claims = it->second.parents;
  for (auto c = claims.rbegin(); c != claims.rend(); ++c) {
    if (c->first <= at) return c->second;
  }
  return "";
}

absl::Status DomainValidator::State::CheckNoCycle(const std::string& org, uint64_t at,
                                                  absl::string_view base, absl::string_view leaf,
                                                  absl::string_view doing) {
  std::string chain = org;
  std::string cur = ParentAt(org, at);
  for (size_t steps = 0; !cur.empty() && steps <= orgs_.size(); ++steps) {
    absl::StrAppend(&chain, " → ", cur);
    if (cur == org) {
      return Refused(base, leaf, absl::StrCat(doing, " would make the parents a cycle: ", chain));
    }
    cur = ParentAt(cur, at);
  }
  return absl::OkStatus();
}

void DomainValidator::State::SetParentClaim(const std::string& org, uint64_t at,
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

absl::Status DomainValidator::State::SetAliasClaim(const std::string& org, uint64_t at,
                                                   std::optional<AliasClaim> claim,
                                                   absl::string_view base, absl::string_view leaf,
                                                   absl::string_view doing) {
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

// --- Deals -------------------------------------------------------------------

absl::Status DomainValidator::State::CheckRound(const std::string& round,
                                                const std::string& company, uint64_t at,
                                                const std::string& base) {
  auto it = deals_.find(round);
  if (it == deals_.end()) {
    return Refused(base, "round_id", absl::StrCat("no funding round '", round, "' was reported"));
  }
  const Deal& d = it->second;
  if (d.kind != DealKind::kRound) {
    return Refused(base, "round_id",
                   absl::StrCat("'", round, "' is ", Article(d.kind), " ", KindName(d.kind),
                                ", not a funding round"));
  }
  if (d.company != company) {
    return Refused(base, "round_id",
                   absl::StrCat("funding round '", round, "' belongs to company '", d.company,
                                "', not '", company, "'"));
  }
  if (d.claims.front().position >= at) {
    return Refused(base, "round_id",
                   absl::StrFormat("funding round '%s' is reported only at position %d, after "
                                   "the corrected event (position %d)",
                                   round, d.claims.front().position, at));
  }
  return absl::OkStatus();
}

void DomainValidator::State::AddRoundRef(const std::string& round, int delta) {
  auto it = deals_.find(round);
  if (it == deals_.end()) return;  // only for events Recover skipped
  it->second.round_refs += delta;
  undo_.push_back([this, round, delta] {
    if (auto it = deals_.find(round); it != deals_.end()) it->second.round_refs -= delta;
  });
}

absl::Status DomainValidator::State::CheckSteps(const std::string& id, const Deal& d, size_t k,
                                                absl::string_view base, absl::string_view leaf,
                                                absl::string_view doing) {
  for (size_t i = (k == 0 ? 1 : k); i <= k + 1 && i < d.claims.size(); ++i) {
    const Claim &prev = d.claims[i - 1], &next = d.claims[i];
    if (std::string why = StepError(prev.stage, next.stage); !why.empty()) {
      return Refused(base, leaf,
                     absl::StrFormat("%s would give deal '%s' the stage %s (position %d) after %s "
                                     "(position %d): %s",
                                     doing, id, v1::DealStage_Name(next.stage), next.position,
                                     v1::DealStage_Name(prev.stage), prev.position, why));
    }
  }
  return absl::OkStatus();
}

absl::Status DomainValidator::State::ReportDeal(DealKind kind, const std::string& id,
                                                const char* id_leaf, const std::string& company,
                                                const std::string& party, const std::string& round,
                                                v1::DealStage stage, uint64_t at,
                                                const std::string& base) {
  if (!round.empty()) {
    if (absl::Status s = CheckRound(round, company, at, base); !s.ok()) return s;
  }
  auto it = deals_.find(id);
  if (it == deals_.end()) {
    Save(deals_, id);
    deals_.emplace(id, Deal{kind, company, party, round, 0, {{at, stage}}});
  } else {
    const Deal& d = it->second;
    if (d.kind != kind) {
      return Refused(
          base, id_leaf,
          absl::StrCat("'", id, "' is already the id of ", Article(d.kind), " ", KindName(d.kind),
                       "; funding round, investment and acquisition ids share one "
                       "namespace"));
    }
    // The parties of a deal never change: compare with the first report.
    const char* const company_leaf = kind == DealKind::kAcquisition ? "target_id" : "company_id";
    const char* const party_leaf = kind == DealKind::kAcquisition ? "acquirer_id" : "investor_id";
    const auto differs = [&](const char* leaf, const std::string& was, const std::string& now) {
      return Refused(base, leaf,
                     absl::StrCat(KindName(kind), " '", id, "' was reported with ", leaf, " '", was,
                                  "', not '", now,
                                  "'; a later report of a deal names the "
                                  "same parties"));
    };
    if (d.company != company) return differs(company_leaf, d.company, company);
    if (d.party != party) return differs(party_leaf, d.party, party);
    if (d.round != round) return differs("round_id", d.round, round);
    if (std::string why = StepError(d.claims.back().stage, stage); !why.empty()) {
      return Refused(base, "stage", absl::StrCat(KindName(kind), " '", id, "': ", why));
    }
    Save(deals_, id);
    it->second.claims.push_back({at, stage});
  }
  if (!round.empty()) AddRoundRef(round, +1);
  return absl::OkStatus();
}

// --- New claims --------------------------------------------------------------

absl::Status DomainValidator::State::Add(const v1::EventPayload& p, uint64_t at,
                                         const std::string& base) {
  if (absl::Status s = CheckOrgs(p, at, base); !s.ok()) return s;
  absl::Status s;
  switch (p.payload_case()) {
    case v1::EventPayload::kOrganizationRegistered: {
      const std::string& id = p.organization_registered().org_id();
      if (orgs_.contains(id)) {
        return Refused(base, "org_id",
                       absl::StrCat("organization '", id,
                                    "' is already registered; use OrganizationUpdated to change "
                                    "it"));
      }
      Save(orgs_, id);
      Org org{at, 0, {{at, p.organization_registered().parent_org_id()}}, {}};
      if (auto aliases = AliasClaimOf(p, at)) org.aliases.push_back(*std::move(aliases));
      orgs_.emplace(id, std::move(org));
      break;
    }
    case v1::EventPayload::kOrganizationUpdated: {
      const v1::OrganizationUpdated& e = p.organization_updated();
      if (e.has_parent_org_id()) {
        SetParentClaim(e.org_id(), at, e.parent_org_id());
        s = CheckNoCycle(e.org_id(), kNow, base, "parent_org_id",
                         absl::StrCat("making '", e.parent_org_id(), "' the parent"));
      }
      if (s.ok()) {
        s = SetAliasClaim(e.org_id(), at, AliasClaimOf(p, at), base, "add_aliases", "adding them");
      }
      break;
    }
    case v1::EventPayload::kFundingRoundReported: {
      const auto& e = p.funding_round_reported();
      s = ReportDeal(DealKind::kRound, e.round_id(), "round_id", e.company_id(), "", "", e.stage(),
                     at, base);
      break;
    }
    case v1::EventPayload::kInvestmentReported: {
      const auto& e = p.investment_reported();
      s = ReportDeal(DealKind::kInvestment, e.investment_id(), "investment_id", e.company_id(),
                     e.investor_id(), e.round_id(), e.stage(), at, base);
      break;
    }
    case v1::EventPayload::kAcquisitionReported: {
      const auto& e = p.acquisition_reported();
      s = ReportDeal(DealKind::kAcquisition, e.acquisition_id(), "acquisition_id", e.target_id(),
                     e.acquirer_id(), "", e.stage(), at, base);
      break;
    }
    case v1::EventPayload::kDealStageChanged: {
      const auto& e = p.deal_stage_changed();
      auto it = deals_.find(e.deal_id());
      if (it == deals_.end()) {
        return Refused(base, "deal_id",
                       absl::StrCat("no deal '", e.deal_id(),
                                    "': no funding round, investment or acquisition with this id "
                                    "was reported"));
      }
      if (std::string why = StepError(it->second.claims.back().stage, e.new_stage());
          !why.empty()) {
        return Refused(base, "new_stage",
                       absl::StrCat(KindName(it->second.kind), " '", e.deal_id(), "': ", why));
      }
      Save(deals_, e.deal_id());
      it->second.claims.push_back({at, e.new_stage()});
      break;
    }
    case v1::EventPayload::kValuationReported: {
      const auto& e = p.valuation_reported();
      if (!e.round_id().empty()) {
        s = CheckRound(e.round_id(), e.company_id(), at, base);
        if (s.ok()) AddRoundRef(e.round_id(), +1);
      }
      break;
    }
    case v1::EventPayload::kPartnershipFormed: {
      const std::string& id = p.partnership_formed().partnership_id();
      if (auto it = partnerships_.find(id); it != partnerships_.end()) {
        return Refused(base, "partnership_id",
                       absl::StrFormat("partnership '%s' already exists (formed at position %d)",
                                       id, it->second.formed_at));
      }
      Save(partnerships_, id);
      partnerships_.emplace(id, Partnership{at, 0});
      break;
    }
    case v1::EventPayload::kPartnershipEnded: {
      const std::string& id = p.partnership_ended().partnership_id();
      auto it = partnerships_.find(id);
      if (it == partnerships_.end()) {
        return Refused(base, "partnership_id",
                       absl::StrCat("no partnership '", id, "' was formed"));
      }
      if (it->second.ended_by != 0) {
        return Refused(base, "partnership_id",
                       absl::StrFormat("partnership '%s' already ended (position %d)", id,
                                       it->second.ended_by));
      }
      Save(partnerships_, id);
      it->second.ended_by = at;
      break;
    }
    case v1::EventPayload::kFacilityAnnounced: {
      const std::string& id = p.facility_announced().facility_id();
      if (auto it = facilities_.find(id); it != facilities_.end()) {
        return Refused(base, "facility_id",
                       absl::StrFormat("facility '%s' already exists (announced at position %d)",
                                       id, it->second));
      }
      Save(facilities_, id);
      facilities_.emplace(id, at);
      break;
    }
    default:  // StakeDisclosed and FxRateReported need only their organizations
      break;
  }
  if (!s.ok()) return s;
  AddRefs(p, +1);
  return absl::OkStatus();
}

// --- Retractions -------------------------------------------------------------

absl::StatusOr<Target> DomainValidator::State::StandingTarget(
    const std::string& id, const std::string& base, bool to_retract) {
  absl::StatusOr<std::optional<Target>> target = FindTarget(id);
  if (!target.ok()) return target.status();
  if (!target->has_value()) return Refused(base, "event_id", absl::StrCat("no event '", id, "'"));
  const Target& t = **target;
  if (t.original_case == v1::EventPayload::kEventRetracted ||
      t.original_case == v1::EventPayload::kEventCorrected) {
    return Refused(base, "event_id",
                   absl::StrCat("event '", id, "' is of type ", TypeName(t.original_case),
                                to_retract ? "; retractions and corrections cannot be retracted"
                                           : "; correct the original event instead"));
  }
  if (auto it = retracted_.find(id); it != retracted_.end()) {
    return Refused(base, "event_id",
                   to_retract ? absl::StrFormat("event '%s' was already retracted (position %d)",
                                                id, it->second)
                              : absl::StrFormat(
                                    "event '%s' was retracted (position %d); it cannot be corrected",
                                    id, it->second));
  }
  return t;
}

absl::Status DomainValidator::State::Retract(const v1::EventRetracted& r, uint64_t at,
                                             const std::string& base) {
  const std::string& id = r.event_id();
  absl::StatusOr<Target> target = StandingTarget(id, base, /*to_retract=*/true);
  if (!target.ok()) return target.status();
  const Target& t = *target;
  if (!skipped_.contains(id)) {
    if (absl::Status s = Remove(t.payload, t.position, absl::StrCat(base, ".event_id")); !s.ok()) {
      return s;
    }
  }
  Save(retracted_, id);
  retracted_.emplace(id, at);
  return absl::OkStatus();
}

absl::Status DomainValidator::State::Remove(const v1::EventPayload& p, uint64_t at,
                                            const std::string& field) {
  AddRefs(p, -1);
  const auto refuse = [&](absl::string_view what) {
    return Refused(field, "", absl::StrCat("retracting it ", what));
  };
  switch (p.payload_case()) {
    case v1::EventPayload::kOrganizationRegistered: {
      const std::string& id = p.organization_registered().org_id();
      auto it = orgs_.find(id);
      if (it == orgs_.end()) break;
      if (it->second.refs > 0) {
        return refuse(absl::StrFormat(
            "would unregister organization '%s', which %d standing events still name; retract "
            "or correct them first",
            id, it->second.refs));
      }
      Save(orgs_, id);
      orgs_.erase(id);
      break;
    }
    case v1::EventPayload::kOrganizationUpdated: {
      const v1::OrganizationUpdated& e = p.organization_updated();
      if (absl::Status s = SetAliasClaim(e.org_id(), at, std::nullopt, field, "", "retracting it");
          !s.ok()) {
        return s;
      }
      if (!e.has_parent_org_id()) break;
      SetParentClaim(e.org_id(), at, std::nullopt);
      const std::string doing =
          absl::StrCat("retracting it (restoring the earlier parent of '", e.org_id(), "')");
      for (const uint64_t when : {at, kNow}) {
        if (absl::Status s = CheckNoCycle(e.org_id(), when, field, "", doing); !s.ok()) return s;
      }
      break;
    }
    case v1::EventPayload::kFundingRoundReported:
    case v1::EventPayload::kInvestmentReported:
    case v1::EventPayload::kAcquisitionReported:
    case v1::EventPayload::kDealStageChanged: {
      const std::string& id = *DealIdOf(p);
      auto it = deals_.find(id);
      if (it == deals_.end()) break;
      Deal& d = it->second;
      auto c = std::find_if(d.claims.begin(), d.claims.end(),
                            [at](const Claim& c) { return c.position == at; });
      if (c == d.claims.end()) break;
      const size_t k = c - d.claims.begin();
      if (d.claims.size() == 1) {
        if (d.round_refs > 0) {
          return refuse(absl::StrFormat(
              "would remove funding round '%s', which %d standing investments or valuations "
              "still name; retract them first",
              id, d.round_refs));
        }
        const std::string round = d.round;
        Save(deals_, id);
        deals_.erase(id);
        if (!round.empty()) AddRoundRef(round, -1);
        break;
      }
      if (k == 0) {
        return refuse(absl::StrFormat(
            "would remove the report that created %s '%s' while %d other claims about it stand; "
            "retract them first",
            KindName(d.kind), id, d.claims.size() - 1));
      }
      Save(deals_, id);
      d.claims.erase(c);
      if (k < d.claims.size()) {
        if (absl::Status s = CheckSteps(id, d, k, field, "", "retracting it"); !s.ok()) return s;
      }
      if (p.payload_case() == v1::EventPayload::kInvestmentReported && !d.round.empty()) {
        AddRoundRef(std::string(d.round), -1);
      }
      break;
    }
    case v1::EventPayload::kValuationReported:
      if (!p.valuation_reported().round_id().empty()) {
        AddRoundRef(p.valuation_reported().round_id(), -1);
      }
      break;
    case v1::EventPayload::kPartnershipFormed: {
      const std::string& id = p.partnership_formed().partnership_id();
      auto it = partnerships_.find(id);
      if (it == partnerships_.end()) break;
      if (it->second.ended_by != 0) {
        return refuse(absl::StrFormat(
            "would remove partnership '%s' while its PartnershipEnded (position %d) stands; "
            "retract that first",
            id, it->second.ended_by));
      }
      Save(partnerships_, id);
      partnerships_.erase(id);
      break;
    }
    case v1::EventPayload::kPartnershipEnded: {
      const std::string& id = p.partnership_ended().partnership_id();
      auto it = partnerships_.find(id);
      if (it == partnerships_.end() || it->second.ended_by != at) break;
      Save(partnerships_, id);
      it->second.ended_by = 0;
      break;
    }
    case v1::EventPayload::kFacilityAnnounced: {
      const std::string& id = p.facility_announced().facility_id();
      if (auto it = facilities_.find(id); it != facilities_.end() && it->second == at) {
        Save(facilities_, id);
        facilities_.erase(id);
      }
      break;
    }
    default:
      break;
  }
  return absl::OkStatus();
}

// --- Corrections -------------------------------------------------------------

absl::Status DomainValidator::State::Correct(const std::string& own_id, const v1::EventCorrected& c,
                                             const std::string& base) {
  const std::string& id = c.event_id();
  absl::StatusOr<Target> target = StandingTarget(id, base, /*to_retract=*/false);
  if (!target.ok()) return target.status();
  const Target& t = *target;
  if (skipped_.contains(id)) {
    return Refused(base, "event_id",
                   absl::StrCat("event '", id,
                                "' breaks a rule of the domain and is left out of the state; "
                                "retract it and report it anew"));
  }
  const v1::EventPayload& r = c.replacement();
  if (r.payload_case() != t.original_case) {
    return absl::InvalidArgumentError(absl::StrCat(base, ".replacement: is of type ",
                                                   TypeName(r.payload_case()), " but event '", id,
                                                   "' is of type ", TypeName(t.original_case),
                                                   "; a replacement has the type of the original"));
  }
  const std::string rbase = absl::StrCat(base, ".replacement.", CaseName(r));
  if (auto [leaf, was] = IdentityChange(t.payload, r); leaf[0] != '\0') {
    return absl::InvalidArgumentError(absl::StrCat(
        rbase, ".", leaf, ": differs from '", was,
        "' in the corrected event; a correction cannot "
        "change what an event is about: retract the event and report it anew instead"));
  }
  if (absl::Status s = Replace(t.payload, r, t.position, rbase); !s.ok()) return s;
  Save(corrections_, id);
  corrections_.insert_or_assign(id, own_id);
  return absl::OkStatus();
}

absl::Status DomainValidator::State::Replace(const v1::EventPayload& old, const v1::EventPayload& r,
                                             uint64_t at, const std::string& base) {
  AddRefs(old, -1);
  if (absl::Status s = CheckOrgs(r, at, base); !s.ok()) return s;
  AddRefs(r, +1);
  switch (r.payload_case()) {
    case v1::EventPayload::kOrganizationRegistered:
    case v1::EventPayload::kOrganizationUpdated: {
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
      if (absl::Status s = SetAliasClaim(org, at, AliasClaimOf(r, at), base,
                                         registered ? "aliases" : "add_aliases", "the new aliases");
          !s.ok()) {
        return s;
      }
      break;
    }
    case v1::EventPayload::kFundingRoundReported:
    case v1::EventPayload::kInvestmentReported:
    case v1::EventPayload::kAcquisitionReported:
    case v1::EventPayload::kDealStageChanged: {
      const std::string& id = *DealIdOf(r);
      auto it = deals_.find(id);
      if (it == deals_.end()) return absl::InternalError(absl::StrCat("deal '", id, "' missing"));
      Deal& d = it->second;
      auto c = std::find_if(d.claims.begin(), d.claims.end(),
                            [at](const Claim& c) { return c.position == at; });
      if (c == d.claims.end()) {
        return absl::InternalError(absl::StrCat("deal '", id, "' lacks its claim at ", at));
      }
      const auto [stage, leaf] = StageOf(r);
      if (c->stage == stage) break;
      Save(deals_, id);
      c->stage = stage;
      if (absl::Status s = CheckSteps(id, d, c - d.claims.begin(), base, leaf, "the new stage");
          !s.ok()) {
        return s;
      }
      break;
    }
    case v1::EventPayload::kValuationReported: {
      const std::string& was = old.valuation_reported().round_id();
      const std::string& now = r.valuation_reported().round_id();
      if (was == now) break;
      if (!was.empty()) AddRoundRef(was, -1);
      if (!now.empty()) {
        if (absl::Status s = CheckRound(now, r.valuation_reported().company_id(), at, base);
            !s.ok()) {
          return s;
        }
        AddRoundRef(now, +1);
      }
      break;
    }
    default:  // the rest keep no state beyond their ids and organizations
      break;
  }
  return absl::OkStatus();
}

// --- DomainValidator ---------------------------------------------------------

DomainValidator::DomainValidator() : state_(std::make_unique<State>()) {}
DomainValidator::~DomainValidator() = default;

absl::Status DomainValidator::Recover(const store::EventLog& log) {
  state_ = std::make_unique<State>();
  return state_->Recover(log);
}

absl::Status DomainValidator::Validate(absl::string_view /*stream*/, store::Position first_position,
                                       absl::Time /*recorded_time*/,
                                       const std::vector<store::ProposedEvent>& events) {
  return state_->Validate(first_position, events);
}

}  // namespace dealwire::projections
