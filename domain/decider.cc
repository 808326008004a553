// The decider's driver: Recover and Decide, the dispatch of each event to
// the rules of its family (organizations.cc, deals.cc, partnerships.cc,
// amendments.cc), the events accepted but not yet committed, and tags.
#include "domain/decider.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "common/event_types.h"
#include "dealwire/v1/events.pb.h"
#include "domain/codec.h"
#include "domain/decision_state.h"
#include "domain/proposal.h"
#include "domain/references.h"
#include "domain/validate.h"

namespace dealwire::domain {
namespace internal {
namespace {

namespace v1 = dealwire::v1;

constexpr size_t kRecoverPage = 10000;

}  // namespace

absl::Status Refused(absl::string_view base, absl::string_view leaf, absl::string_view what) {
  return absl::FailedPreconditionError(leaf.empty() ? absl::StrCat(base, ": ", what)
                                                    : absl::StrCat(base, ".", leaf, ": ", what));
}

// --- Driving -----------------------------------------------------------------

// A failed read of the kept state, as a decision's error: the log then
// recovers (as from its own storage errors) and calls Recover.
absl::Status DecisionState::ReadFailure() {
  poisoned_ = true;
  return absl::UnavailableError(
      absl::StrCat("reading the decider's state: ", cache_.read_error.message()));
}

absl::Status DecisionState::Replay(const store::EventLog& log, uint64_t first) {
  std::optional<store::Position> from;
  if (first > 0) from = store::Position(first);
  v1::Event event;
  for (;;) {
    absl::StatusOr<std::vector<store::RecordedEvent>> page =
        log.ReadAll(store::Direction::kForwards, from, kRecoverPage);
    if (!page.ok()) return page.status();
    if (page->empty()) return absl::OkStatus();
    for (const store::RecordedEvent& r : *page) {
      if (absl::Status s = DecodeEvent(r, &event); !s.ok()) return s;
      const absl::Status s = Apply(r.event_id, r.position.value(), event.payload(), "payload");
      if (!cache_.read_error.ok()) return ReadFailure();
      if (s.ok()) {
        Commit();
      } else if (absl::IsFailedPrecondition(s) || absl::IsInvalidArgument(s)) {
        Rollback();  // an event that breaks a rule: left out
        skipped_.insert(r.event_id);
      } else {
        return s;  // the log cannot be read
      }
      through_ = r.position.value();
      through_id_ = r.event_id;
      ++replayed_;
      if (absl::Status c = Checkpoint(/*force=*/false, /*sync=*/true); !c.ok()) return c;
    }
    from = page->back().position.next();
  }
}

absl::Status DecisionState::Decide(uint64_t first_position,
                                   const std::vector<const v1::EventPayload*>& payloads,
                                   const store::AcceptedEvents& accepted,
                                   std::vector<store::ProposedEvent>* events) {
  if (poisoned_) return ReadFailure();
  accepted_ = &accepted;
  earlier_.clear();
  absl::Status s;
  for (size_t i = 0; s.ok() && i < events->size(); ++i) {
    store::ProposedEvent& e = (*events)[i];
    const v1::EventPayload& payload = *payloads[i];
    const uint64_t position = first_position + i;
    s = Apply(e.event_id, position, payload, absl::StrCat("events[", i, "].payload"));
    if (s.ok()) s = TagsOf(payload, &e.tags);
    if (s.ok()) earlier_.push_back({&e.event_id, position, &payload, &e.tags});
  }
  accepted_ = nullptr;
  earlier_.clear();
  if (!cache_.read_error.ok()) {
    Commit();  // the cache is thrown away by the Recover that follows
    return ReadFailure();
  }
  if (!s.ok()) {
    Rollback();
    return s;
  }
  Commit();
  if (!events->empty()) {
    through_ = first_position + events->size() - 1;
    through_id_ = events->back().event_id;
  }
  if (s = Checkpoint(/*force=*/false, /*sync=*/false); !s.ok()) poisoned_ = true;
  return s;
}

void DecisionState::Rollback() {
  for (auto it = undo_.rbegin(); it != undo_.rend(); ++it) {
    switch (it->kind) {
      case Undo::kOrgRef:
        if (auto org = orgs_.find(it->key); org != orgs_.end()) org->second.refs -= it->delta;
        break;
      case Undo::kRoundRef:
        if (auto deal = deals_.find(it->key); deal != deals_.end()) {
          deal->second.round_refs -= it->delta;
        }
        break;
      case Undo::kCustom:
        it->custom();
        break;
    }
  }
  Commit();
}

absl::Status DecisionState::Apply(const std::string& event_id, uint64_t position,
                                  const v1::EventPayload& p, absl::string_view field) {
  const std::string base = absl::StrCat(field, ".", common::PayloadCaseName(p));
  switch (p.payload_case()) {
    case v1::EventPayload::kEventRetracted:
      return Retract(p.event_retracted(), position, base);
    case v1::EventPayload::kEventCorrected:
      return Correct(event_id, p.event_corrected(), base);
    case v1::EventPayload::kOrganizationRegistered:
    case v1::EventPayload::kOrganizationUpdated:
    case v1::EventPayload::kFundingRoundReported:
    case v1::EventPayload::kInvestmentReported:
    case v1::EventPayload::kDealStageChanged:
    case v1::EventPayload::kValuationReported:
    case v1::EventPayload::kStakeDisclosed:
    case v1::EventPayload::kAcquisitionReported:
    case v1::EventPayload::kPartnershipFormed:
    case v1::EventPayload::kPartnershipEnded:
    case v1::EventPayload::kFacilityAnnounced:
    case v1::EventPayload::kFxRateReported:
    case v1::EventPayload::PAYLOAD_NOT_SET:
      return Add(p, position, base);
  }
  return Add(p, position, base);
}

absl::Status DecisionState::Add(const v1::EventPayload& p, uint64_t at, const std::string& base) {
  if (absl::Status s = CheckOrgs(p, at, base); !s.ok()) return s;
  absl::Status s;
  switch (p.payload_case()) {
    case v1::EventPayload::kOrganizationRegistered:
      s = RegisterOrganization(p, at, base);
      break;
    case v1::EventPayload::kOrganizationUpdated:
      s = UpdateOrganization(p, at, base);
      break;
    case v1::EventPayload::kFundingRoundReported:
    case v1::EventPayload::kInvestmentReported:
    case v1::EventPayload::kAcquisitionReported:
      s = ReportDeal(p, at, base);
      break;
    case v1::EventPayload::kDealStageChanged:
      s = ChangeDealStage(p.deal_stage_changed(), at, base);
      break;
    case v1::EventPayload::kValuationReported:
      s = ReportValuation(p.valuation_reported(), at, base);
      break;
    case v1::EventPayload::kPartnershipFormed:
      s = FormPartnership(p.partnership_formed(), at, base);
      break;
    case v1::EventPayload::kPartnershipEnded:
      s = EndPartnership(p.partnership_ended(), at, base);
      break;
    case v1::EventPayload::kFacilityAnnounced:
      s = AnnounceFacility(p.facility_announced(), at, base);
      break;
    case v1::EventPayload::kStakeDisclosed:
    case v1::EventPayload::kFxRateReported:
      break;  // they need only their organizations
    case v1::EventPayload::kEventRetracted:
    case v1::EventPayload::kEventCorrected:
    case v1::EventPayload::PAYLOAD_NOT_SET:
      return absl::InternalError(absl::StrCat(base, ": not a claim"));
  }
  if (!s.ok()) return s;
  AddRefs(p, +1);
  return absl::OkStatus();
}

absl::Status DecisionState::Remove(const v1::EventPayload& p, uint64_t at,
                                   const std::string& field) {
  AddRefs(p, -1);
  switch (p.payload_case()) {
    case v1::EventPayload::kOrganizationRegistered:
    case v1::EventPayload::kOrganizationUpdated:
      return RemoveOrganizationClaim(p, at, field);
    case v1::EventPayload::kFundingRoundReported:
    case v1::EventPayload::kInvestmentReported:
    case v1::EventPayload::kAcquisitionReported:
    case v1::EventPayload::kDealStageChanged:
      return RemoveDealClaim(p, at, field);
    case v1::EventPayload::kValuationReported:
      return RemoveValuation(p.valuation_reported());
    case v1::EventPayload::kPartnershipFormed:
    case v1::EventPayload::kPartnershipEnded:
      return RemovePartnershipClaim(p, at, field);
    case v1::EventPayload::kFacilityAnnounced:
      RemoveFacility(p.facility_announced(), at);
      return absl::OkStatus();
    case v1::EventPayload::kStakeDisclosed:
    case v1::EventPayload::kFxRateReported:
    case v1::EventPayload::kEventRetracted:
    case v1::EventPayload::kEventCorrected:
    case v1::EventPayload::PAYLOAD_NOT_SET:
      return absl::OkStatus();
  }
  return absl::OkStatus();
}

absl::Status DecisionState::Replace(const v1::EventPayload& old, const v1::EventPayload& r,
                                    uint64_t at, const std::string& base) {
  AddRefs(old, -1);
  if (absl::Status s = CheckOrgs(r, at, base); !s.ok()) return s;
  AddRefs(r, +1);
  switch (r.payload_case()) {
    case v1::EventPayload::kOrganizationRegistered:
    case v1::EventPayload::kOrganizationUpdated:
      return ReplaceOrganizationClaim(r, at, base);
    case v1::EventPayload::kFundingRoundReported:
    case v1::EventPayload::kInvestmentReported:
    case v1::EventPayload::kAcquisitionReported:
    case v1::EventPayload::kDealStageChanged:
      return ReplaceDealClaim(r, at, base);
    case v1::EventPayload::kValuationReported:
      return ReplaceValuation(old.valuation_reported(), r.valuation_reported(), at, base);
    case v1::EventPayload::kStakeDisclosed:
    case v1::EventPayload::kPartnershipFormed:
    case v1::EventPayload::kPartnershipEnded:
    case v1::EventPayload::kFacilityAnnounced:
    case v1::EventPayload::kFxRateReported:
    case v1::EventPayload::kEventRetracted:
    case v1::EventPayload::kEventCorrected:
    case v1::EventPayload::PAYLOAD_NOT_SET:
      return absl::OkStatus();  // they keep no state beyond their ids and organizations
  }
  return absl::OkStatus();
}

// --- Tags --------------------------------------------------------------------

absl::Status DecisionState::TagsOf(const v1::EventPayload& p, std::vector<std::string>* tags) {
  tags->clear();
  DirectTags(p, tags);
  const auto inherit_orgs = [tags](const std::vector<std::string>& orgs) {
    for (const std::string& org : orgs) tags->push_back(OrgTag(org));
  };
  const auto inherit_event = [&](const std::string& event_id) -> absl::Status {
    absl::StatusOr<std::optional<Found>> target = FindEvent(event_id);
    if (!target.ok()) return target.status();
    if (target->has_value()) tags->insert(tags->end(), (*target)->tags.begin(), (*target)->tags.end());
    return absl::OkStatus();
  };
  switch (p.payload_case()) {
    case v1::EventPayload::kDealStageChanged:
      if (auto it = deals_.find(p.deal_stage_changed().deal_id()); it != deals_.end()) {
        inherit_orgs(it->second.orgs);
      }
      break;
    case v1::EventPayload::kPartnershipEnded:
      if (auto it = partnerships_.find(p.partnership_ended().partnership_id());
          it != partnerships_.end()) {
        inherit_orgs(it->second.orgs);
      }
      break;
    case v1::EventPayload::kEventRetracted:
      if (absl::Status s = inherit_event(p.event_retracted().event_id()); !s.ok()) return s;
      break;
    case v1::EventPayload::kEventCorrected:
      if (absl::Status s = inherit_event(p.event_corrected().event_id()); !s.ok()) return s;
      break;
    case v1::EventPayload::kOrganizationRegistered:
    case v1::EventPayload::kOrganizationUpdated:
    case v1::EventPayload::kFundingRoundReported:
    case v1::EventPayload::kInvestmentReported:
    case v1::EventPayload::kValuationReported:
    case v1::EventPayload::kStakeDisclosed:
    case v1::EventPayload::kAcquisitionReported:
    case v1::EventPayload::kPartnershipFormed:
    case v1::EventPayload::kFacilityAnnounced:
    case v1::EventPayload::kFxRateReported:
    case v1::EventPayload::PAYLOAD_NOT_SET:
      break;
  }
  NormalizeTags(tags);
  return absl::OkStatus();
}

// --- Lookups -----------------------------------------------------------------

absl::StatusOr<std::optional<DecisionState::Found>> DecisionState::FindEvent(
    const std::string& event_id) {
  Found found;
  // Earlier in the append being decided.
  for (auto e = earlier_.rbegin(); e != earlier_.rend(); ++e) {
    if (*e->event_id == event_id) {
      found.position = e->position;
      found.payload = *e->payload;
      found.tags = *e->tags;
      return std::optional<Found>(std::move(found));
    }
  }
  // Accepted before it (while deciding), or committed (while recovering).
  std::optional<store::RecordedEvent> recorded;
  if (accepted_ != nullptr) {
    absl::StatusOr<std::optional<store::RecordedEvent>> r = accepted_->Find(event_id);
    if (!r.ok()) return r.status();
    recorded = *std::move(r);
  } else if (log_ != nullptr) {
    absl::StatusOr<store::Position> position = log_->FindEvent(event_id);
    if (!absl::IsNotFound(position.status())) {
      if (!position.ok()) return position.status();
      absl::StatusOr<store::RecordedEvent> r = log_->ReadEvent(*position);
      if (!r.ok()) return r.status();
      recorded = *std::move(r);
    }
  }
  if (!recorded.has_value()) return std::nullopt;
  v1::Event event;
  if (absl::Status s = DecodeEvent(*recorded, &event); !s.ok()) return s;
  found.position = recorded->position.value();
  found.tags = std::move(recorded->tags);
  found.payload = std::move(*event.mutable_payload());
  return std::optional<Found>(std::move(found));
}

}  // namespace internal

// --- DomainDecider -----------------------------------------------------------

DomainDecider::DomainDecider(Options options) : options_(options) {}
DomainDecider::~DomainDecider() { Closing(); }

absl::Status DomainDecider::Recover(const store::EventLog& log) {
  if (state_ == nullptr) {
    state_ = std::make_unique<internal::DecisionState>(
        options_.in_memory ? nullptr : &log.state(), options_.cache_bytes);
  }
  return state_->Recover(log);
}

void DomainDecider::Closing() {
  if (state_ != nullptr) state_->Close();
}

bool DomainDecider::restored() const { return state_ != nullptr && state_->restored(); }
uint64_t DomainDecider::replayed() const { return state_ != nullptr ? state_->replayed() : 0; }
size_t DomainDecider::cached_bytes() const { return state_ != nullptr ? state_->cached_bytes() : 0; }
absl::Status DomainDecider::WaitWritten() {
  return state_ != nullptr ? state_->WaitWritten() : absl::OkStatus();
}

absl::StatusOr<std::string> DomainDecider::StateBytes() const {
  if (state_ == nullptr) return absl::FailedPreconditionError("the decider is not recovered");
  std::string out;
  if (absl::Status s = state_->Save(&out); !s.ok()) return s;
  return out;
}

absl::Status DomainDecider::Encode(absl::string_view stream, const store::Proposal& proposal,
                                   std::vector<store::ProposedEvent>* events) {
  const auto* p = dynamic_cast<const EventsProposal*>(&proposal);
  if (p == nullptr) return absl::InternalError("events: not an EventsProposal");
  if (absl::Status s = ValidateStreamName(stream, "stream"); !s.ok()) return s;
  events->resize(p->size());
  for (size_t i = 0; i < p->size(); ++i) {
    // The proposal cached the events' sizes (proposal.h).
    if (absl::Status s = EncodeEventWithCachedSizes(p->event(i), stream,
                                                    absl::StrCat("events[", i, "]"),
                                                    p->recorded_by(), &(*events)[i]);
        !s.ok()) {
      return s;
    }
  }
  return absl::OkStatus();
}

absl::Status DomainDecider::Decide(absl::string_view /*stream*/, store::Position first_position,
                                   absl::Time /*recorded_time*/, const store::Proposal* proposal,
                                   const store::AcceptedEvents& accepted,
                                   std::vector<store::ProposedEvent>* events) {
  const auto* p = dynamic_cast<const EventsProposal*>(proposal);
  if (p == nullptr) {
    return absl::FailedPreconditionError(
        "events: this log decides proposed events only (EventLog::ProposeAsync)");
  }
  std::vector<const dealwire::v1::EventPayload*> payloads;
  payloads.reserve(p->size());
  for (size_t i = 0; i < p->size(); ++i) payloads.push_back(&p->event(i).payload());
  if (state_ == nullptr) return absl::FailedPreconditionError("the decider is not recovered");
  return state_->Decide(first_position.value(), payloads, accepted, events);
}

}  // namespace dealwire::domain
