#include "domain/references.h"

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace dealwire::domain {

namespace v1 = dealwire::v1;

namespace {
constexpr absl::string_view kOrgTagPrefix = "org/";
}  // namespace

std::string OrgTag(absl::string_view org_id) { return absl::StrCat(kOrgTagPrefix, org_id); }
std::string DealTag(absl::string_view deal_id) { return absl::StrCat("deal/", deal_id); }
std::string PartnershipTag(absl::string_view partnership_id) {
  return absl::StrCat("partnership/", partnership_id);
}

absl::string_view OrgOfTag(absl::string_view tag) {
  return absl::StartsWith(tag, kOrgTagPrefix) ? tag.substr(kOrgTagPrefix.size())
                                              : absl::string_view();
}

void ForEachOrg(const v1::EventPayload& p,
                absl::FunctionRef<void(const char* leaf, int index, const std::string& id)> f) {
  const auto opt = [&](const char* leaf, const std::string& id) {
    if (!id.empty()) f(leaf, -1, id);
  };
  switch (p.payload_case()) {
    case v1::EventPayload::kOrganizationRegistered:
      f("org_id", -1, p.organization_registered().org_id());
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
    case v1::EventPayload::kDealStageChanged:
    case v1::EventPayload::kPartnershipEnded:
    case v1::EventPayload::kFxRateReported:
    case v1::EventPayload::kEventRetracted:
    case v1::EventPayload::kEventCorrected:
    case v1::EventPayload::PAYLOAD_NOT_SET:
      break;
  }
}

std::string OrgLeaf(const char* leaf, int index) {
  if (index < 0) return leaf;
  if (absl::string_view(leaf) == "parties") return absl::StrCat("parties[", index, "].org_id");
  return absl::StrCat(leaf, "[", index, "]");
}

std::vector<std::string> DirectOrgIds(const v1::EventPayload& p) {
  std::vector<std::string> orgs;
  ForEachOrg(p, [&](const char*, int, const std::string& id) {
    if (!id.empty()) orgs.push_back(id);
  });
  std::sort(orgs.begin(), orgs.end());
  orgs.erase(std::unique(orgs.begin(), orgs.end()), orgs.end());
  return orgs;
}

void DirectTags(const v1::EventPayload& p, std::vector<std::string>* tags) {
  ForEachOrg(p, [&](const char*, int, const std::string& id) {
    if (!id.empty()) tags->push_back(OrgTag(id));
  });
  const auto deal = [tags](const std::string& id) {
    if (!id.empty()) tags->push_back(DealTag(id));
  };
  switch (p.payload_case()) {
    case v1::EventPayload::kFundingRoundReported:
      deal(p.funding_round_reported().round_id());
      break;
    case v1::EventPayload::kInvestmentReported:
      deal(p.investment_reported().investment_id());
      deal(p.investment_reported().round_id());
      break;
    case v1::EventPayload::kDealStageChanged:
      deal(p.deal_stage_changed().deal_id());
      break;
    case v1::EventPayload::kValuationReported:
      deal(p.valuation_reported().round_id());
      break;
    case v1::EventPayload::kAcquisitionReported:
      deal(p.acquisition_reported().acquisition_id());
      break;
    case v1::EventPayload::kPartnershipFormed:
      if (!p.partnership_formed().partnership_id().empty()) {
        tags->push_back(PartnershipTag(p.partnership_formed().partnership_id()));
      }
      break;
    case v1::EventPayload::kPartnershipEnded:
      if (!p.partnership_ended().partnership_id().empty()) {
        tags->push_back(PartnershipTag(p.partnership_ended().partnership_id()));
      }
      break;
    case v1::EventPayload::kEventCorrected:
      DirectTags(p.event_corrected().replacement(), tags);
      break;
    case v1::EventPayload::kOrganizationRegistered:
    case v1::EventPayload::kOrganizationUpdated:
    case v1::EventPayload::kStakeDisclosed:
    case v1::EventPayload::kFacilityAnnounced:
    case v1::EventPayload::kFxRateReported:
    case v1::EventPayload::kEventRetracted:
    case v1::EventPayload::PAYLOAD_NOT_SET:
      break;
  }
}

void NormalizeTags(std::vector<std::string>* tags) {
  std::sort(tags->begin(), tags->end());
  tags->erase(std::unique(tags->begin(), tags->end()), tags->end());
}

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
    case v1::EventPayload::kOrganizationRegistered:
    case v1::EventPayload::kOrganizationUpdated:
    case v1::EventPayload::kValuationReported:
    case v1::EventPayload::kStakeDisclosed:
    case v1::EventPayload::kPartnershipFormed:
    case v1::EventPayload::kPartnershipEnded:
    case v1::EventPayload::kFacilityAnnounced:
    case v1::EventPayload::kFxRateReported:
    case v1::EventPayload::kEventRetracted:
    case v1::EventPayload::kEventCorrected:
    case v1::EventPayload::PAYLOAD_NOT_SET:
      return nullptr;
  }
  return nullptr;
}

std::pair<v1::DealStage, const char*> StageOf(const v1::EventPayload& p) {
  switch (p.payload_case()) {
    case v1::EventPayload::kFundingRoundReported:
      return {p.funding_round_reported().stage(), "stage"};
    case v1::EventPayload::kInvestmentReported:
      return {p.investment_reported().stage(), "stage"};
    case v1::EventPayload::kAcquisitionReported:
      return {p.acquisition_reported().stage(), "stage"};
    case v1::EventPayload::kDealStageChanged:
      return {p.deal_stage_changed().new_stage(), "new_stage"};
    case v1::EventPayload::kOrganizationRegistered:
    case v1::EventPayload::kOrganizationUpdated:
    case v1::EventPayload::kValuationReported:
    case v1::EventPayload::kStakeDisclosed:
    case v1::EventPayload::kPartnershipFormed:
    case v1::EventPayload::kPartnershipEnded:
    case v1::EventPayload::kFacilityAnnounced:
    case v1::EventPayload::kFxRateReported:
    case v1::EventPayload::kEventRetracted:
    case v1::EventPayload::kEventCorrected:
    case v1::EventPayload::PAYLOAD_NOT_SET:
      break;
  }
  return {v1::DEAL_STAGE_UNSPECIFIED, ""};
}

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
    case v1::EventPayload::kEventRetracted:
    case v1::EventPayload::kEventCorrected:
    case v1::EventPayload::PAYLOAD_NOT_SET:
      break;
  }
  return out;
}

}  // namespace dealwire::domain
