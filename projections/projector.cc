#include "projections/projector.h"

#include <algorithm>
#include <map>
#include <set>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/event_types.h"
#include "domain/codec.h"
#include "domain/references.h"
#include "projections/folds.h"
#include "projections/state_keys.h"
#include "projections/state_reader.h"

namespace dealwire::projections {
namespace {

namespace v1 = dealwire::v1;
namespace state = dealwire::state::v1;
using Case = v1::EventPayload::PayloadCase;


// The entity key a payload is a claim about, or "" for retractions and
// corrections (which change the claims of their target instead).
std::string EntityKeyOf(const v1::EventPayload& p) {
  switch (p.payload_case()) {
    case Case::kOrganizationRegistered:
      return keys::Org(p.organization_registered().org_id());
    case Case::kOrganizationUpdated:
      return keys::Org(p.organization_updated().org_id());
    case Case::kFundingRoundReported:
      return keys::Deal(p.funding_round_reported().round_id());
    case Case::kInvestmentReported:
      return keys::Deal(p.investment_reported().investment_id());
    case Case::kAcquisitionReported:
      return keys::Deal(p.acquisition_reported().acquisition_id());
    case Case::kDealStageChanged:
      return keys::Deal(p.deal_stage_changed().deal_id());
    case Case::kValuationReported:
      return keys::Company(p.valuation_reported().company_id());
    case Case::kStakeDisclosed:
      return keys::Company(p.stake_disclosed().company_id());
    case Case::kPartnershipFormed:
      return keys::Partnership(p.partnership_formed().partnership_id());
    case Case::kPartnershipEnded:
      return keys::Partnership(p.partnership_ended().partnership_id());
    case Case::kFacilityAnnounced:
      return keys::Facility(p.facility_announced().facility_id());
    case Case::kFxRateReported:
      return keys::Fx(p.fx_rate_reported().base_currency(), p.fx_rate_reported().quote_currency());
    case Case::kEventRetracted:
    case Case::kEventCorrected:
    case Case::PAYLOAD_NOT_SET:
      return "";
  }
  return "";
}

// Appends field `org_ids` (13) of state.v1.Claim for `org` to `out`.
void AppendOrgId(absl::string_view org, std::string* out) {
  out->push_back(static_cast<char>((13 << 3) | 2));  // field 13, length-delimited
  size_t n = org.size();
  while (n >= 0x80) {
    out->push_back(static_cast<char>((n & 0x7f) | 0x80));
    n >>= 7;
  }
  out->push_back(static_cast<char>(n));
  out->append(org.data(), org.size());
}

std::string ToHex(uint64_t a, uint64_t b) { return absl::StrFormat("%016x%016x", a, b); }

}  // namespace

// One batch: the writes it has made so far (an overlay over the snapshot
// taken when it began) and the organizations whose views it must refresh.
// Reads are point reads of the overlay, then the snapshot; range reads go to
// the snapshot only, where the batch's own claims are not needed.
class Projector::Batch final {
 public:
  // What this batch did to each organization's claims.
  struct OrgChanges {
    std::vector<std::string> claim_keys;           // claims added, in order
    std::vector<v1::OrganizationUpdated> updates;  // the updates among them
    bool registered = false;                       // a registration among them
  };

  Batch(Projector* p, std::unique_ptr<store::StateSnapshot> snapshot)
      : p_(p), snapshot_(std::move(snapshot)), base_(snapshot_.get(), p->prefix_) {}

  absl::StatusOr<std::optional<std::string>> Get(absl::string_view key) const {
    if (auto it = overlay_.find(key); it != overlay_.end()) return it->second;
    return base_.Get(key);
  }

  void Put(std::string key, std::string value) { overlay_[std::move(key)] = std::move(value); }
  void Delete(std::string key) { overlay_[std::move(key)] = std::nullopt; }

  absl::StatusOr<const Head*> FindHead(const std::string& entity_key) {
    auto& heads_ = p_->heads_;
    if (auto it = heads_.find(entity_key); it != heads_.end()) return &it->second;
    Head head;
    absl::StatusOr<std::optional<std::string>> raw = base_.Get(keys::HeadKey(entity_key));
    if (!raw.ok()) return raw.status();
    if (raw->has_value()) {
      head.exists = true;
      if (!(*raw)->empty()) head.orgs = absl::StrSplit(**raw, ',');
    }
    return &heads_.emplace(entity_key, std::move(head)).first->second;
  }

  absl::Status Apply(const store::RecordedEvent& recorded) {
    v1::Event event;
    if (absl::Status s = domain::DecodeEvent(recorded, &event); !s.ok()) return s;
    state::Stats& stats = p_->stats_;
    ++(*stats.mutable_events_by_type())[common::EventTypeName(event.payload())];
    const v1::EventPayload& payload = event.payload();
    if (payload.has_event_retracted() || payload.has_event_corrected()) {
      return ApplyToTarget(recorded, event);
    }
    const v1::EventPayload& p = event.payload();
    const uint64_t position = recorded.position.value();
    const std::string entity_key = EntityKeyOf(p);
    const std::string claim_key = keys::ClaimKey(entity_key, position);
    // The organizations a claim is about: those it names, and for a stage
    // change or a partnership's end those of the deal or partnership (from
    // this state, which holds every earlier event, committed together or
    // not).
    std::vector<std::string> orgs = domain::DirectOrgIds(p);
    absl::StatusOr<const Head*> head = FindHead(entity_key);
    if (!head.ok()) return head.status();
    const bool fresh = !(*head)->exists;
    if (p.has_deal_stage_changed() || p.has_partnership_ended()) {
      orgs.insert(orgs.end(), (*head)->orgs.begin(), (*head)->orgs.end());
      std::sort(orgs.begin(), orgs.end());
      orgs.erase(std::unique(orgs.begin(), orgs.end()), orgs.end());
    }
    if (fresh) {
      p_->heads_[entity_key] = Head{true, orgs};
      Put(keys::HeadKey(entity_key), absl::StrJoin(orgs, ","));
    }
    // The claim is the stored event itself (state.v1.Claim shares its field
    // numbers) followed by its org ids: no re-encoding.
    std::string claim;
    domain::AppendEventWire(recorded, &claim);
    for (const std::string& org : orgs) AppendOrgId(org, &claim);
    for (const std::string& org : orgs) Put(keys::Timeline(org, position), claim_key);
    switch (p.payload_case()) {
      case Case::kOrganizationRegistered:
        stats.set_organizations(stats.organizations() + 1);
        break;
      case Case::kFundingRoundReported: {
        const v1::FundingRoundReported& r = p.funding_round_reported();
        Put(absl::StrCat(keys::DealsOfCompanyPrefix(r.company_id()), r.round_id()), "");
        break;
      }
      case Case::kInvestmentReported: {
        const v1::InvestmentReported& i = p.investment_reported();
        Put(absl::StrCat(keys::DealsOfCompanyPrefix(i.company_id()), i.investment_id()), "");
        Put(absl::StrCat(keys::DealsOfInvestorPrefix(i.investor_id()), i.investment_id()), "");
        break;
      }
      case Case::kAcquisitionReported: {
        const v1::AcquisitionReported& a = p.acquisition_reported();
        Put(absl::StrCat(keys::DealsOfCompanyPrefix(a.target_id()), a.acquisition_id()), "");
        Put(absl::StrCat(keys::DealsOfInvestorPrefix(a.acquirer_id()), a.acquisition_id()), "");
        break;
      }
      case Case::kStakeDisclosed:
        Put(absl::StrCat(keys::StakesOfHolderPrefix(p.stake_disclosed().holder_id()),
                         p.stake_disclosed().company_id()),
            "");
        break;
      case Case::kPartnershipFormed:
        if (fresh) stats.set_partnerships(stats.partnerships() + 1);
        for (const v1::PartnershipParty& party : p.partnership_formed().parties()) {
          Put(absl::StrCat(keys::PartnershipsOfPrefix(party.org_id()),
                           p.partnership_formed().partnership_id()),
              "");
        }
        break;
      case Case::kFacilityAnnounced: {
        const v1::FacilityAnnounced& f = p.facility_announced();
        if (fresh) stats.set_facilities(stats.facilities() + 1);
        Put(absl::StrCat(keys::FacilitiesOfPrefix(f.owner_id()), f.facility_id()), "");
        if (!f.beneficiary_id().empty()) {
          Put(absl::StrCat(keys::FacilitiesOfPrefix(f.beneficiary_id()), f.facility_id()), "");
        }
        break;
      }
      default:
        break;
    }
    const bool is_report = p.has_funding_round_reported() || p.has_investment_reported() ||
                           p.has_acquisition_reported();
    if (is_report && fresh) stats.set_deals(stats.deals() + 1);
    if (p.has_organization_registered() || p.has_organization_updated()) {
      const std::string& org = p.has_organization_registered() ? p.organization_registered().org_id()
                                                               : p.organization_updated().org_id();
      OrgChanges& changes = org_changes_[org];
      changes.claim_keys.push_back(claim_key);
      if (p.has_organization_registered()) {
        changes.registered = true;
      } else {
        changes.updates.push_back(p.organization_updated());
      }
    }
    Put(claim_key, std::move(claim));
    return absl::OkStatus();
  }

  // Writes everything into one state batch with `applied`.
  absl::Status Finish(uint64_t applied) {
    for (const std::string& org : rewritten_orgs_) org_changes_[org];
    for (const auto& [org, changes] : org_changes_) {
      if (absl::Status s = RefreshOrgView(org, changes, applied); !s.ok()) return s;
    }
    Put(keys::StatsKey(), domain::DeterministicBytes(p_->stats_));
    Put(keys::Applied(), keys::Fixed64(applied));
    // One write per key, so order does not change the result; in key order
    // the memtable inserts are much cheaper (each lands next to the last).
    std::vector<std::pair<const std::string*, std::optional<std::string>*>> writes;
    writes.reserve(overlay_.size());
    for (auto& [key, value] : overlay_) writes.emplace_back(&key, &value);
    std::sort(writes.begin(), writes.end(),
              [](const auto& a, const auto& b) { return *a.first < *b.first; });
    store::StateBatch batch;
    for (auto& [key, value] : writes) {
      if (value->has_value()) {
        batch.Put(absl::StrCat(p_->prefix_, *key), std::move(**value));
      } else {
        batch.Delete(absl::StrCat(p_->prefix_, *key));
      }
    }
    return p_->state_->Write(batch);
  }

 private:
  // Applies an EventRetracted or EventCorrected to the claim it targets (the
  // timelines refer to that one stored claim).
  absl::Status ApplyToTarget(const store::RecordedEvent& recorded, const v1::Event& event) {
    const v1::EventPayload& payload = event.payload();
    const bool retract = payload.has_event_retracted();
    const std::string& target_id = retract ? payload.event_retracted().event_id()
                                           : payload.event_corrected().event_id();
    absl::StatusOr<store::Position> at = p_->log_->FindEvent(target_id);
    if (!at.ok()) return at.status();
    absl::StatusOr<store::RecordedEvent> target = p_->log_->ReadEvent(*at);
    if (!target.ok()) return target.status();
    v1::Event original;
    if (absl::Status s = domain::DecodeEvent(*target, &original); !s.ok()) return s;

    const std::string entity_key = EntityKeyOf(original.payload());
    const std::string claim_key = keys::ClaimKey(entity_key, at->value());
    absl::StatusOr<std::optional<std::string>> raw = Get(claim_key);
    if (!raw.ok()) return raw.status();
    state::Claim claim;
    if (!raw->has_value() || !claim.ParseFromString(**raw)) {
      return absl::DataLossError(absl::StrCat("the claim of event ", target_id,
                                              " is missing from the projection state"));
    }
    state::Stats& stats = p_->stats_;
    if (retract) {
      claim.set_retracted_at(recorded.position.value());
      stats.set_retracted_events(stats.retracted_events() + 1);
      if (original.payload().has_organization_registered()) {
        stats.set_organizations(stats.organizations() - 1);
      }
    } else {
      if (claim.corrections_size() == 0) stats.set_corrected_events(stats.corrected_events() + 1);
      state::Correction* c = claim.add_corrections();
      c->set_position(recorded.position.value());
      *c->mutable_effective() = event.effective();
      c->set_confidence(event.confidence());
      *c->mutable_sources() = event.sources();
      *c->mutable_replacement() = payload.event_corrected().replacement();
    }
    Put(claim_key, claim.SerializeAsString());
    for (const std::string& org : claim.org_ids()) {
      Put(keys::VersionKey(org), keys::Fixed64(recorded.position.value()));
    }
    if (absl::StartsWith(entity_key, "o/")) rewritten_orgs_.insert(entity_key.substr(2));
    return absl::OkStatus();
  }

  // Recomputes an organization's current view and the name and subsidiary
  // indexes that depend on it. When the batch only added updates to an
  // organization with a view, they are applied to the view; otherwise all
  // its claims are folded again.
  absl::Status RefreshOrgView(const std::string& org_id, const OrgChanges& changes,
                              uint64_t applied) {
    std::optional<v1::Organization> before;
    if (auto cached = p_->views_.find(org_id); cached != p_->views_.end()) {
      // Taken, not copied: the refreshed view replaces it below (and a
      // failed batch drops the whole cache).
      before = std::move(cached->second);
    } else {
      absl::StatusOr<std::optional<std::string>> raw = Get(keys::OrgView(org_id));
      if (!raw.ok()) return raw.status();
      if (raw->has_value()) {
        before.emplace();
        if (!before->ParseFromString(**raw)) {
          return absl::DataLossError(absl::StrCat("organization view '", org_id, "' is corrupt"));
        }
      }
    }
    std::optional<v1::Organization> after;
    if (before.has_value() && !changes.registered && !rewritten_orgs_.contains(org_id)) {
      after = before;
      for (const v1::OrganizationUpdated& u : changes.updates) ApplyOrganizationUpdate(u, &*after);
    } else {
      // The stored claims, then this batch's, each as this batch left it.
      absl::StatusOr<state::Entity> stored = base_.GetEntity(keys::Org(org_id));
      if (!stored.ok()) return stored.status();
      state::Entity entity = *std::move(stored);
      for (state::Claim& c : *entity.mutable_claims()) {
        auto it = overlay_.find(keys::ClaimKey(keys::Org(org_id), c.position()));
        if (it != overlay_.end() && it->second.has_value() && !c.ParseFromString(*it->second)) {
          return absl::DataLossError(absl::StrCat("a claim of '", org_id, "' is corrupt"));
        }
      }
      for (const std::string& key : changes.claim_keys) {
        auto it = overlay_.find(key);
        if (it == overlay_.end() || !it->second.has_value() ||
            !entity.add_claims()->ParseFromString(*it->second)) {
          return absl::DataLossError(absl::StrCat("a claim of '", org_id, "' is corrupt"));
        }
      }
      after = FoldOrganization(entity, ClaimFilter::Now(0));
    }
    auto names = [](const std::optional<v1::Organization>& o) {
      std::set<std::string> out;
      if (!o.has_value()) return out;
      out.insert(keys::Lower(o->name()));
      for (const std::string& a : o->aliases()) out.insert(keys::Lower(a));
      return out;
    };
    const std::set<std::string> old_names = names(before), new_names = names(after);
    for (const std::string& n : old_names) {
      if (!new_names.contains(n)) Delete(keys::Name(n, org_id));
    }
    for (const std::string& n : new_names) {
      if (!old_names.contains(n)) Put(keys::Name(n, org_id), "");
    }
    const std::string old_parent = before.has_value() ? before->parent_org_id() : "";
    const std::string new_parent = after.has_value() ? after->parent_org_id() : "";
    if (old_parent != new_parent) {
      if (!old_parent.empty()) Delete(absl::StrCat(keys::ChildrenPrefix(old_parent), org_id));
      if (!new_parent.empty()) Put(absl::StrCat(keys::ChildrenPrefix(new_parent), org_id), "");
    }
    if (after.has_value()) {
      Put(keys::OrgView(org_id), after->SerializeAsString());
    } else if (before.has_value()) {
      Delete(keys::OrgView(org_id));
    }
    if (before.has_value() && (!after.has_value() || after->name() != before->name())) {
      Put(keys::NamesVersionKey(), keys::Fixed64(applied));
    }
    p_->views_[org_id] = std::move(after);
    return absl::OkStatus();
  }

  Projector* p_;
  std::unique_ptr<store::StateSnapshot> snapshot_;
  SnapshotReader base_;
  absl::flat_hash_map<std::string, std::optional<std::string>> overlay_;
  std::map<std::string, OrgChanges> org_changes_;
  std::set<std::string> rewritten_orgs_;
};

Projector::Projector(const store::EventLog* log, store::StateSpace* state, uint64_t generation)
    : log_(log),
      state_(state),
      generation_(generation),
      prefix_(keys::GenerationPrefix(generation)) {}

absl::Status Projector::Load() {
  absl::StatusOr<std::unique_ptr<store::StateSnapshot>> snapshot = state_->Snapshot();
  if (!snapshot.ok()) return snapshot.status();
  SnapshotReader reader(snapshot->get(), prefix_);
  absl::StatusOr<std::optional<std::string>> applied = reader.Get(keys::Applied());
  if (!applied.ok()) return applied.status();
  absl::StatusOr<std::optional<std::string>> stats = reader.Get(keys::StatsKey());
  if (!stats.ok()) return stats.status();
  stats_.Clear();
  if (stats->has_value() && !stats_.ParseFromString(**stats)) {
    return absl::DataLossError("projection stats are corrupt");
  }
  applied_.store(applied->has_value() ? keys::ParseFixed64(**applied) : 0,
                 std::memory_order_release);
  return absl::OkStatus();
}

absl::Status Projector::ApplyUpTo(uint64_t end, size_t max_batch_events,
                                  const std::function<void(uint64_t)>& on_batch,
                                  const std::function<bool()>& stop) {
  constexpr size_t kReadPage = 4096;
  while (applied() < end) {
    if (stop && stop()) return absl::OkStatus();
    absl::StatusOr<std::unique_ptr<store::StateSnapshot>> snapshot = state_->Snapshot();
    if (!snapshot.ok()) return snapshot.status();
    // The cache of heads only grows; bound it by starting over.
    if (heads_.size() > kMaxCachedHeads) heads_.clear();
    if (views_.size() > kMaxCachedViews) views_.clear();
    Batch batch(this, *std::move(snapshot));
    const state::Stats stats_before = stats_;
    // A batch that is not written leaves no trace: not in the counts, not in
    // the cached heads (which may name its entities).
    auto abandon = [&](absl::Status s) {
      stats_ = stats_before;
      heads_.clear();
      views_.clear();
      return s;
    };
    uint64_t at = applied();
    size_t count = 0, bytes = 0;
    // A batch holds its events' claims until written: bound it by bytes too.
    constexpr size_t kMaxBatchBytes = 8 << 20;
    while (at < end && count < max_batch_events && bytes < kMaxBatchBytes) {
      const size_t want = std::min<uint64_t>({kReadPage, end - at, max_batch_events - count});
      absl::StatusOr<std::vector<store::RecordedEvent>> events =
          log_->ReadAll(store::Direction::kForwards, store::Position(at + 1), want);
      if (!events.ok()) return abandon(events.status());
      if (events->empty()) break;
      for (const store::RecordedEvent& e : *events) {
        if (absl::Status s = batch.Apply(e); !s.ok()) {
          return abandon(absl::Status(
              s.code(), absl::StrCat("projecting position ", e.position.value(), ": ", s.message())));
        }
        at = e.position.value();
        bytes += e.data.size();
      }
      count += events->size();
    }
    if (at == applied()) break;  // nothing more is committed
    if (absl::Status s = batch.Finish(at); !s.ok()) return abandon(s);
    applied_.store(at, std::memory_order_release);
    if (on_batch) on_batch(at);
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> StateDigest(const store::StateSnapshot& snapshot,
                                        uint64_t generation) {
  // Two FNV-1a variants over length-prefixed keys (relative to the
  // generation) and values: a 128-bit digest, stable across runs.
  uint64_t a = 0xcbf29ce484222325ULL, b = 0x84222325cbf29ce4ULL;
  auto mix = [&](absl::string_view bytes) {
    const uint64_t n = bytes.size();
    for (int i = 0; i < 8; ++i) {
      const auto c = static_cast<unsigned char>(n >> (8 * i));
      a = (a ^ c) * 0x100000001b3ULL;
      b = (b ^ c) * 0x100000001b3ULL + 1;
    }
    for (const char ch : bytes) {
      const auto c = static_cast<unsigned char>(ch);
      a = (a ^ c) * 0x100000001b3ULL;
      b = (b ^ c) * 0x100000001b3ULL + 1;
    }
  };
  const std::string prefix = keys::GenerationPrefix(generation);
  absl::Status s = snapshot.Scan(prefix, "", [&](absl::string_view k, absl::string_view v) {
    mix(k.substr(prefix.size()));
    mix(v);
    return true;
  });
  if (!s.ok()) return s;
  return ToHex(a, b);
}

}  // namespace dealwire::projections
