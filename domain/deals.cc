// The rules of deals (funding rounds, investments, acquisitions): one id
// namespace, the same parties in every report of a deal, rounds that exist
// and belong to the company, and the DealStage state machine.
#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "domain/decision_state.h"
#include "domain/references.h"

namespace dealwire::domain::internal {
namespace {

namespace v1 = dealwire::v1;

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

// What a report says about its deal.
struct Report {
  DealKind kind;
  const std::string* id;
  const char* id_leaf;
  const std::string* company;
  const std::string* party;
  const std::string* round;
  v1::DealStage stage;
};

Report ReportOf(const v1::EventPayload& p) {
  static const std::string* const none = new std::string();
  if (p.has_funding_round_reported()) {
    const auto& e = p.funding_round_reported();
    return {DealKind::kRound, &e.round_id(), "round_id", &e.company_id(), none, none, e.stage()};
  }
  if (p.has_investment_reported()) {
    const auto& e = p.investment_reported();
    return {DealKind::kInvestment, &e.investment_id(), "investment_id", &e.company_id(),
            &e.investor_id(), &e.round_id(), e.stage()};
  }
  const auto& e = p.acquisition_reported();
  return {DealKind::kAcquisition, &e.acquisition_id(), "acquisition_id", &e.target_id(),
          &e.acquirer_id(), none, e.stage()};
}

}  // namespace

absl::Status DecisionState::CheckRound(const std::string& round, const std::string& company,
                                       uint64_t at, const std::string& base) {
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

void DecisionState::AddRoundRef(absl::string_view round, int delta) {
  auto it = deals_.find(round);
  if (it == deals_.end()) return;  // only for events Recover skipped
  deals_.MarkDirty(it);
  it->second.round_refs += delta;
  undo_.push_back({Undo::kRoundRef, round, delta, nullptr});
}

absl::Status DecisionState::CheckSteps(const std::string& id, const Deal& d, size_t k,
                                       absl::string_view base, absl::string_view leaf,
                                       absl::string_view doing) {
  for (size_t i = (k == 0 ? 1 : k); i <= k + 1 && i < d.claims.size(); ++i) {
    const StageClaim &prev = d.claims[i - 1], &next = d.claims[i];
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

absl::Status DecisionState::ReportDeal(const v1::EventPayload& p, uint64_t at,
                                       const std::string& base) {
  const Report r = ReportOf(p);
  const std::string& id = *r.id;
  if (!r.round->empty()) {
    if (absl::Status s = CheckRound(*r.round, *r.company, at, base); !s.ok()) return s;
  }
  auto it = deals_.find(id);
  if (it == deals_.end()) {
    Save(deals_, id);
    deals_.emplace(id, Deal{r.kind, *r.company, *r.party, *r.round, 0, DirectOrgIds(p),
                            {{at, r.stage}}});
  } else {
    const Deal& d = it->second;
    if (d.kind != r.kind) {
      return Refused(
          base, r.id_leaf,
          absl::StrCat("'", id, "' is already the id of ", Article(d.kind), " ", KindName(d.kind),
                       "; funding round, investment and acquisition ids share one namespace"));
    }
    // The parties of a deal never change: compare with the first report.
    const char* const company_leaf = r.kind == DealKind::kAcquisition ? "target_id" : "company_id";
    const char* const party_leaf = r.kind == DealKind::kAcquisition ? "acquirer_id" : "investor_id";
    const auto differs = [&](const char* leaf, const std::string& was, const std::string& now) {
      return Refused(base, leaf,
                     absl::StrCat(KindName(r.kind), " '", id, "' was reported with ", leaf, " '",
                                  was, "', not '", now,
                                  "'; a later report of a deal names the same parties"));
    };
    if (d.company != *r.company) return differs(company_leaf, d.company, *r.company);
    if (d.party != *r.party) return differs(party_leaf, d.party, *r.party);
    if (d.round != *r.round) return differs("round_id", d.round, *r.round);
    if (std::string why = StepError(d.claims.back().stage, r.stage); !why.empty()) {
      return Refused(base, "stage", absl::StrCat(KindName(r.kind), " '", id, "': ", why));
    }
    Save(deals_, id);
    it->second.claims.push_back({at, r.stage});
  }
  if (!r.round->empty()) AddRoundRef(*r.round, +1);
  return absl::OkStatus();
}

absl::Status DecisionState::ChangeDealStage(const v1::DealStageChanged& e, uint64_t at,
                                            const std::string& base) {
  auto it = deals_.find(e.deal_id());
  if (it == deals_.end()) {
    return Refused(base, "deal_id",
                   absl::StrCat("no deal '", e.deal_id(),
                                "': no funding round, investment or acquisition with this id "
                                "was reported"));
  }
  if (std::string why = StepError(it->second.claims.back().stage, e.new_stage()); !why.empty()) {
    return Refused(base, "new_stage",
                   absl::StrCat(KindName(it->second.kind), " '", e.deal_id(), "': ", why));
  }
  Save(deals_, e.deal_id());
  it->second.claims.push_back({at, e.new_stage()});
  return absl::OkStatus();
}

absl::Status DecisionState::ReportValuation(const v1::ValuationReported& e, uint64_t at,
                                            const std::string& base) {
  if (e.round_id().empty()) return absl::OkStatus();
  if (absl::Status s = CheckRound(e.round_id(), e.company_id(), at, base); !s.ok()) return s;
  AddRoundRef(e.round_id(), +1);
  return absl::OkStatus();
}

absl::Status DecisionState::RemoveDealClaim(const v1::EventPayload& p, uint64_t at,
                                            const std::string& field) {
  const std::string& id = *DealIdOf(p);
  auto it = deals_.find(id);
  if (it == deals_.end()) return absl::OkStatus();
  Deal& d = it->second;
  auto c = std::find_if(d.claims.begin(), d.claims.end(),
                        [at](const StageClaim& c) { return c.position == at; });
  if (c == d.claims.end()) return absl::OkStatus();
  const size_t k = c - d.claims.begin();
  const auto refuse = [&](absl::string_view what) {
    return Refused(field, "", absl::StrCat("retracting it ", what));
  };
  if (d.claims.size() == 1) {
    if (d.round_refs > 0) {
      return refuse(absl::StrFormat(
          "would remove funding round '%s', which %d standing investments or valuations still "
          "name; retract them first",
          id, d.round_refs));
    }
    // An investment's round (the payload lives while the undo log names it).
    const std::string& round = p.investment_reported().round_id();
    Save(deals_, id);
    deals_.erase(id);
    if (!round.empty()) AddRoundRef(round, -1);
    return absl::OkStatus();
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
  if (p.has_investment_reported() && !p.investment_reported().round_id().empty()) {
    AddRoundRef(p.investment_reported().round_id(), -1);
  }
  return absl::OkStatus();
}

absl::Status DecisionState::RemoveValuation(const v1::ValuationReported& e) {
  if (!e.round_id().empty()) AddRoundRef(e.round_id(), -1);
  return absl::OkStatus();
}

absl::Status DecisionState::ReplaceDealClaim(const v1::EventPayload& r, uint64_t at,
                                             const std::string& base) {
  const std::string& id = *DealIdOf(r);
  auto it = deals_.find(id);
  if (it == deals_.end()) return absl::InternalError(absl::StrCat("deal '", id, "' missing"));
  Deal& d = it->second;
  auto c = std::find_if(d.claims.begin(), d.claims.end(),
                        [at](const StageClaim& c) { return c.position == at; });
  if (c == d.claims.end()) {
    return absl::InternalError(absl::StrCat("deal '", id, "' lacks its claim at ", at));
  }
  const auto [stage, leaf] = StageOf(r);
  if (c->stage == stage) return absl::OkStatus();
  Save(deals_, id);
  c->stage = stage;
  return CheckSteps(id, d, c - d.claims.begin(), base, leaf, "the new stage");
}

absl::Status DecisionState::ReplaceValuation(const v1::ValuationReported& old,
                                             const v1::ValuationReported& r, uint64_t at,
                                             const std::string& base) {
  if (old.round_id() == r.round_id()) return absl::OkStatus();
  if (!old.round_id().empty()) AddRoundRef(old.round_id(), -1);
  if (r.round_id().empty()) return absl::OkStatus();
  if (absl::Status s = CheckRound(r.round_id(), r.company_id(), at, base); !s.ok()) return s;
  AddRoundRef(r.round_id(), +1);
  return absl::OkStatus();
}

}  // namespace dealwire::domain::internal
