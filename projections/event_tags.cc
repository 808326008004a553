#include "projections/event_tags.h"

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace dealwire::projections {
namespace {

namespace v1 = dealwire::v1;

// The tags a payload carries by itself, without looking anything up.
void DirectTags(const v1::EventPayload& p, std::vector<std::string>* tags) {
  auto org = [tags](const std::string& id) {
    if (!id.empty()) tags->push_back(OrgTag(id));
  };
  auto deal = [tags](const std::string& id) {
    if (!id.empty()) tags->push_back(DealTag(id));
  };
  switch (p.payload_case()) {
    case v1::EventPayload::kOrganizationRegistered:
      org(p.organization_registered().org_id());
      org(p.organization_registered().parent_org_id());
      break;
    case v1::EventPayload::kOrganizationUpdated:
      org(p.organization_updated().org_id());
      if (p.organization_updated().has_parent_org_id()) {
        org(p.organization_updated().parent_org_id());
      }
      break;
    case v1::EventPayload::kFundingRoundReported: {
      const auto& e = p.funding_round_reported();
      org(e.company_id());
      for (const std::string& id : e.lead_investor_ids()) org(id);
      deal(e.round_id());
      break;
    }
    case v1::EventPayload::kInvestmentReported: {
      const auto& e = p.investment_reported();
      org(e.investor_id());
      org(e.company_id());
      deal(e.investment_id());
      deal(e.round_id());
      break;
    }
    case v1::EventPayload::kDealStageChanged:
      deal(p.deal_stage_changed().deal_id());
      break;
    case v1::EventPayload::kValuationReported:
      org(p.valuation_reported().company_id());
      deal(p.valuation_reported().round_id());
      break;
    case v1::EventPayload::kStakeDisclosed:
      org(p.stake_disclosed().holder_id());
      org(p.stake_disclosed().company_id());
      break;
    case v1::EventPayload::kAcquisitionReported:
      org(p.acquisition_reported().acquirer_id());
      org(p.acquisition_reported().target_id());
      deal(p.acquisition_reported().acquisition_id());
      break;
    case v1::EventPayload::kPartnershipFormed:
      for (const auto& party : p.partnership_formed().parties()) org(party.org_id());
      if (!p.partnership_formed().partnership_id().empty()) {
        tags->push_back(PartnershipTag(p.partnership_formed().partnership_id()));
      }
      break;
    case v1::EventPayload::kPartnershipEnded:
      if (!p.partnership_ended().partnership_id().empty()) {
        tags->push_back(PartnershipTag(p.partnership_ended().partnership_id()));
      }
      break;
    case v1::EventPayload::kFacilityAnnounced:
      org(p.facility_announced().owner_id());
      org(p.facility_announced().beneficiary_id());
      break;
    case v1::EventPayload::kEventCorrected:
      DirectTags(p.event_corrected().replacement(), tags);
      break;
    case v1::EventPayload::kFxRateReported:
    case v1::EventPayload::kEventRetracted:
    case v1::EventPayload::PAYLOAD_NOT_SET:
      break;
  }
}

void AppendOrgTags(const std::vector<std::string>& from, std::vector<std::string>* tags) {
  for (const std::string& t : from) {
    if (absl::StartsWith(t, "org/")) tags->push_back(t);
  }
}

// Appends the organization tags of the first event carrying `tag`: in the
// log, else among `earlier`.
absl::Status InheritOrgTags(const store::EventLog& log,
                            absl::Span<const store::ProposedEvent> earlier,
                            const std::string& tag, std::vector<std::string>* tags) {
  absl::StatusOr<std::vector<store::RecordedEvent>> first =
      log.ReadTag(tag, store::Direction::kForwards, std::nullopt, 1);
  if (!first.ok()) return first.status();
  if (!first->empty()) {
    AppendOrgTags(first->front().tags, tags);
    return absl::OkStatus();
  }
  for (const store::ProposedEvent& e : earlier) {
    if (std::find(e.tags.begin(), e.tags.end(), tag) != e.tags.end()) {
      AppendOrgTags(e.tags, tags);
      break;
    }
  }
  return absl::OkStatus();
}

// Appends the tags of the event with id `event_id`, if there is one: in the
// log, else among `earlier`.
absl::Status InheritEventTags(const store::EventLog& log,
                              absl::Span<const store::ProposedEvent> earlier,
                              const std::string& event_id, std::vector<std::string>* tags) {
  absl::StatusOr<store::Position> position = log.FindEvent(event_id);
  if (absl::IsNotFound(position.status())) {
    for (const store::ProposedEvent& e : earlier) {
      if (e.event_id == event_id) {
        tags->insert(tags->end(), e.tags.begin(), e.tags.end());
        break;
      }
    }
    return absl::OkStatus();
  }
  if (!position.ok()) return position.status();
  absl::StatusOr<store::RecordedEvent> target = log.ReadEvent(*position);
  if (!target.ok()) return target.status();
  tags->insert(tags->end(), target->tags.begin(), target->tags.end());
  return absl::OkStatus();
}

}  // namespace

std::vector<std::string> DirectOrgIds(const v1::EventPayload& payload) {
  std::vector<std::string> tags;
  DirectTags(payload, &tags);
  std::vector<std::string> orgs;
  for (const std::string& tag : tags) {
    if (absl::StartsWith(tag, "org/")) orgs.push_back(tag.substr(4));
  }
  std::sort(orgs.begin(), orgs.end());
  orgs.erase(std::unique(orgs.begin(), orgs.end()), orgs.end());
  return orgs;
}

std::string EventTypeName(const v1::EventPayload& payload) {
  if (payload.payload_case() == v1::EventPayload::PAYLOAD_NOT_SET) return "";
  const google::protobuf::FieldDescriptor* field =
      v1::EventPayload::descriptor()->FindFieldByNumber(payload.payload_case());
  return field->message_type()->name();
}

bool IsEventTypeName(absl::string_view name) {
  const google::protobuf::OneofDescriptor* oneof =
      v1::EventPayload::descriptor()->FindOneofByName("payload");
  for (int i = 0; i < oneof->field_count(); ++i) {
    if (oneof->field(i)->message_type()->name() == name) return true;
  }
  return false;
}

std::string OrgTag(absl::string_view org_id) { return absl::StrCat("org/", org_id); }
std::string DealTag(absl::string_view deal_id) { return absl::StrCat("deal/", deal_id); }
std::string PartnershipTag(absl::string_view partnership_id) {
  return absl::StrCat("partnership/", partnership_id);
}

absl::StatusOr<std::vector<std::string>> EventTags(const v1::EventPayload& payload,
                                                   const store::EventLog& log,
                                                   absl::Span<const store::ProposedEvent> earlier) {
  std::vector<std::string> tags;
  DirectTags(payload, &tags);
  absl::Status inherited;
  switch (payload.payload_case()) {
    case v1::EventPayload::kDealStageChanged:
      if (!payload.deal_stage_changed().deal_id().empty()) {
        inherited =
            InheritOrgTags(log, earlier, DealTag(payload.deal_stage_changed().deal_id()), &tags);
      }
      break;
    case v1::EventPayload::kPartnershipEnded:
      if (!payload.partnership_ended().partnership_id().empty()) {
        inherited = InheritOrgTags(
            log, earlier, PartnershipTag(payload.partnership_ended().partnership_id()), &tags);
      }
      break;
    case v1::EventPayload::kEventRetracted:
      inherited = InheritEventTags(log, earlier, payload.event_retracted().event_id(), &tags);
      break;
    case v1::EventPayload::kEventCorrected:
      inherited = InheritEventTags(log, earlier, payload.event_corrected().event_id(), &tags);
      break;
    default:
      break;
  }
  if (!inherited.ok()) return inherited;
  std::sort(tags.begin(), tags.end());
  tags.erase(std::unique(tags.begin(), tags.end()), tags.end());
  return tags;
}

}  // namespace dealwire::projections
