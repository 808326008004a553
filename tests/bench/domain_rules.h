// tests/bench/domain_rules.h — an independent, test-only reading of the
// stateful rules of events.proto, for checking data sets (the seed story, the
// synthetic generator) event by event in append order.
//
//   DomainRules rules;
//   for (const dealwire::v1::Event& e : events) ASSERT_OK(rules.Apply(e)) << e.DebugString();
//
// Apply checks the envelope (ValidateEnvelope, a stream name) and then what
// needs state: event ids unique; organizations registered before they are
// named (parents too, no parent cycles); one namespace of deal ids, later
// reports of a deal naming the same parties; rounds named by investments and
// valuations exist and belong to the company; deal stages only move forward
// (RUMORED → IN_TALKS → AGREED → ANNOUNCED → CLOSED, open → COLLAPSED) and
// nothing follows CLOSED or COLLAPSED; priced rounds have post-money ≥
// pre-money in one currency; partnerships and facilities are unique and a
// partnership ends once; retractions and corrections name a standing event
// that is neither a retraction nor a correction, corrections keep the payload
// case and what the event is about; and the stream conventions ("org/<id>",
// "deal/<id>", "partnership/<id>", "facility/<id>", "fx/<BASE>-<QUOTE>", a
// retraction or correction in its target's stream).
//
// It keeps state per organization, deal, partnership, facility and event id:
// fine for a few hundred thousand events.
#pragma once

#include <cstdint>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "dealwire/v1/events.pb.h"
#include "domain/validate.h"

namespace dealwire::test_util {

class DomainRules {
 public:
  // Checks `e` against the events applied before it and, when it passes,
  // applies it. Returns INVALID_ARGUMENT or FAILED_PRECONDITION naming the
  // rule and the event.
  absl::Status Apply(const dealwire::v1::Event& e) {
    absl::Status s = Check(e);
    if (!s.ok()) {
      return absl::Status(
          s.code(), absl::StrCat("event ", e.event_id(), " (", e.stream(), "): ", s.message()));
    }
    return absl::OkStatus();
  }

 private:
  using Event = dealwire::v1::Event;
  using Payload = dealwire::v1::EventPayload;
  using Case = dealwire::v1::EventPayload::PayloadCase;

  struct Org {
    std::string parent;
  };
  struct Deal {
    Case kind;
    int stage;
    std::string company;  // the round's company, the investee, the target
    std::string other;    // the investor, the acquirer
    std::string round;    // an investment's round
  };
  struct Recorded {
    Case kind;
    std::string stream;
    std::string company;  // ValuationReported, StakeDisclosed
    std::string holder;   // StakeDisclosed
    bool retracted = false;
  };

  static absl::Status Invalid(absl::string_view what) { return absl::InvalidArgumentError(what); }
  static absl::Status Failed(absl::string_view what) { return absl::FailedPreconditionError(what); }

  static bool IsOpen(int stage) {
    return stage >= dealwire::v1::DEAL_STAGE_RUMORED && stage <= dealwire::v1::DEAL_STAGE_ANNOUNCED;
  }

  // A stage claim `next` about a deal at `current`: the same open stage or a
  // later one; COLLAPSED from any open stage.
  static bool StageMayFollow(int current, int next) {
    if (!IsOpen(current)) return false;
    if (next == dealwire::v1::DEAL_STAGE_COLLAPSED) return true;
    return next >= current && next <= dealwire::v1::DEAL_STAGE_CLOSED;
  }

  static bool KnownCurrency(absl::string_view code) {
    static constexpr absl::string_view kCodes[] = {"USD", "EUR", "GBP", "JPY", "CHF", "CNY",
                                                   "CAD", "AUD", "INR", "SAR", "AED"};
    for (absl::string_view c : kCodes) {
      if (c == code) return true;
    }
    return false;
  }

  static absl::Status CheckMoney(const dealwire::v1::Money& m, absl::string_view field) {
    if (!KnownCurrency(m.currency_code())) {
      return Invalid(absl::StrCat(field, ": unknown currency '", m.currency_code(), "'"));
    }
    if (m.units() < 0 || m.nanos() < 0 || m.nanos() > 999'999'999) {
      return Invalid(absl::StrCat(field, ": negative or malformed amount"));
    }
    return absl::OkStatus();
  }

  absl::Status Registered(const std::string& org, absl::string_view field) const {
    if (org.empty()) return Invalid(absl::StrCat(field, ": required"));
    if (!orgs_.contains(org)) {
      return Failed(absl::StrCat(field, ": organization '", org, "' is not registered"));
    }
    return absl::OkStatus();
  }

  // Whether making `parent` the parent of `org` closes a cycle.
  bool WouldCycle(const std::string& org, std::string parent) const {
    for (int hops = 0; !parent.empty() && hops <= static_cast<int>(orgs_.size()); ++hops) {
      if (parent == org) return true;
      parent = orgs_.at(parent).parent;
    }
    return !parent.empty();
  }

  static absl::Status StreamIs(const Event& e, absl::string_view kind, absl::string_view id) {
    if (e.stream() != absl::StrCat(kind, "/", id)) {
      return Invalid(absl::StrCat("stream: '", e.stream(), "' is not '", kind, "/", id, "'"));
    }
    return absl::OkStatus();
  }

  // A deal report (FundingRoundReported, InvestmentReported,
  // AcquisitionReported): creates the deal or checks the later claim.
  absl::Status ReportDeal(const std::string& id, Deal deal, absl::string_view field) {
    if (!dealwire::domain::IsDomainId(id)) {
      return Invalid(absl::StrCat(field, ": malformed deal id '", id, "'"));
    }
    if (deal.stage == dealwire::v1::DEAL_STAGE_UNSPECIFIED) {
      return Invalid(absl::StrCat(field, ": stage required"));
    }
    auto it = deals_.find(id);
    if (it == deals_.end()) {
      deals_.emplace(id, std::move(deal));
      return absl::OkStatus();
    }
    Deal& known = it->second;
    if (known.kind != deal.kind)
      return Failed(absl::StrCat(field, ": deal id reused for another kind"));
    if (known.company != deal.company || known.other != deal.other || known.round != deal.round) {
      return Failed(absl::StrCat(field, ": later report names other parties"));
    }
    if (!StageMayFollow(known.stage, deal.stage)) {
      return Failed(absl::StrCat(field, ": stage ", known.stage, " -> ", deal.stage));
    }
    known.stage = deal.stage;
    return absl::OkStatus();
  }

  absl::Status CheckRoundOf(const std::string& round, const std::string& company,
                            absl::string_view field) const {
    auto it = deals_.find(round);
    if (it == deals_.end() || it->second.kind != Payload::kFundingRoundReported) {
      return Failed(absl::StrCat(field, ": round '", round, "' does not exist"));
    }
    if (it->second.company != company) {
      return Failed(absl::StrCat(field, ": round '", round, "' is not of '", company, "'"));
    }
    return absl::OkStatus();
  }

  absl::Status CheckValuation(const dealwire::v1::ValuationReported& v) const {
    if (absl::Status s = Registered(v.company_id(), "valuation.company_id"); !s.ok()) return s;
    if (!v.has_valuation()) return Invalid("valuation.valuation: required");
    if (absl::Status s = CheckMoney(v.valuation(), "valuation.valuation"); !s.ok()) return s;
    if (v.basis() == dealwire::v1::VALUATION_BASIS_UNSPECIFIED) return Invalid("basis required");
    if (!v.round_id().empty())
      return CheckRoundOf(v.round_id(), v.company_id(), "valuation.round_id");
    return absl::OkStatus();
  }

  absl::Status CheckStake(const dealwire::v1::StakeDisclosed& s) const {
    if (absl::Status st = Registered(s.holder_id(), "stake.holder_id"); !st.ok()) return st;
    if (absl::Status st = Registered(s.company_id(), "stake.company_id"); !st.ok()) return st;
    if (s.holder_id() == s.company_id()) return Invalid("stake: holder is the company");
    const dealwire::v1::OwnershipFraction& o = s.ownership();
    if (o.value_case() == dealwire::v1::OwnershipFraction::VALUE_NOT_SET && o.qualifier().empty()) {
      return Invalid("stake.ownership: neither value nor qualifier");
    }
    if (o.has_exact() &&
        (o.exact().parts_per_million() < 0 || o.exact().parts_per_million() > 1'000'000)) {
      return Invalid("stake.ownership.exact out of range");
    }
    if (o.has_range() && (o.range().min_parts_per_million() < 0 ||
                          o.range().min_parts_per_million() > o.range().max_parts_per_million() ||
                          o.range().max_parts_per_million() > 1'000'000)) {
      return Invalid("stake.ownership.range malformed");
    }
    return absl::OkStatus();
  }

  absl::Status Check(const Event& e) {
    if (absl::Status s = dealwire::domain::ValidateEnvelope(e, "event"); !s.ok()) return s;
    if (absl::Status s = dealwire::domain::ValidateStreamName(e.stream(), "stream"); !s.ok()) {
      return s;
    }
    if (events_.contains(e.event_id())) return Failed("event_id: used twice");
    const Payload& p = e.payload();
    std::string company;
    std::string holder;
    switch (p.payload_case()) {
      case Payload::kOrganizationRegistered: {
        const auto& r = p.organization_registered();
        if (!dealwire::domain::IsDomainId(r.org_id())) return Invalid("org_id malformed");
        if (orgs_.contains(r.org_id())) return Failed("org_id: registered twice");
        if (r.name().empty() || r.name().size() > 200) return Invalid("name length");
        if (r.kind() == dealwire::v1::ORGANIZATION_KIND_UNSPECIFIED)
          return Invalid("kind required");
        if (!r.parent_org_id().empty()) {
          if (r.parent_org_id() == r.org_id()) return Invalid("parent is itself");
          if (absl::Status s = Registered(r.parent_org_id(), "parent_org_id"); !s.ok()) return s;
        }
        absl::flat_hash_set<std::string> seen;
        for (const std::string& sector : r.sectors()) {
          if (!dealwire::domain::IsDomainId(sector) || !seen.insert(sector).second) {
            return Invalid(absl::StrCat("sector '", sector, "' malformed or repeated"));
          }
        }
        seen.clear();
        for (const std::string& alias : r.aliases()) {
          if (alias.empty() || !seen.insert(alias).second) return Invalid("alias repeated");
        }
        if (r.has_founded()) {
          if (absl::Status s = dealwire::domain::ValidateEffectiveDate(r.founded(), "founded");
              !s.ok()) {
            return s;
          }
        }
        if (absl::Status s = StreamIs(e, "org", r.org_id()); !s.ok()) return s;
        orgs_.emplace(r.org_id(), Org{r.parent_org_id()});
        break;
      }
      case Payload::kOrganizationUpdated: {
        const auto& u = p.organization_updated();
        if (absl::Status s = Registered(u.org_id(), "org_id"); !s.ok()) return s;
        if (!u.has_name() && !u.has_kind() && !u.has_parent_org_id() && !u.replace_sectors() &&
            u.add_aliases_size() == 0 && u.remove_aliases_size() == 0 && !u.has_founded() &&
            !u.has_description() && !u.has_website()) {
          return Invalid("update changes nothing");
        }
        if (!u.replace_sectors() && u.sectors_size() > 0) return Invalid("sectors without replace");
        for (const std::string& a : u.add_aliases()) {
          for (const std::string& r : u.remove_aliases()) {
            if (a == r) return Invalid("alias added and removed");
          }
        }
        if (u.has_parent_org_id() && !u.parent_org_id().empty()) {
          if (absl::Status s = Registered(u.parent_org_id(), "parent_org_id"); !s.ok()) return s;
          if (WouldCycle(u.org_id(), u.parent_org_id())) return Failed("parent_org_id: cycle");
        }
        if (absl::Status s = StreamIs(e, "org", u.org_id()); !s.ok()) return s;
        if (u.has_parent_org_id()) orgs_[u.org_id()].parent = u.parent_org_id();
        break;
      }
      case Payload::kFundingRoundReported: {
        const auto& r = p.funding_round_reported();
        if (absl::Status s = Registered(r.company_id(), "company_id"); !s.ok()) return s;
        if (r.label().empty() || r.label().size() > 64) return Invalid("label length");
        for (char c : r.label()) {
          if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) {
            return Invalid(absl::StrCat("label '", r.label(), "' is not lower_snake_case"));
          }
        }
        if (r.has_target_amount()) {
          if (absl::Status s = CheckMoney(r.target_amount(), "target_amount"); !s.ok()) return s;
        }
        if (r.has_pre_money_valuation()) {
          if (absl::Status s = CheckMoney(r.pre_money_valuation(), "pre_money"); !s.ok()) return s;
        }
        if (r.has_post_money_valuation()) {
          if (absl::Status s = CheckMoney(r.post_money_valuation(), "post_money"); !s.ok())
            return s;
        }
        if (r.has_pre_money_valuation() && r.has_post_money_valuation()) {
          if (r.pre_money_valuation().currency_code() != r.post_money_valuation().currency_code()) {
            return Invalid("pre/post-money in different currencies");
          }
          if (r.post_money_valuation().units() < r.pre_money_valuation().units()) {
            return Invalid("post-money below pre-money");
          }
        }
        absl::flat_hash_set<std::string> leads;
        for (const std::string& lead : r.lead_investor_ids()) {
          if (absl::Status s = Registered(lead, "lead_investor_ids"); !s.ok()) return s;
          if (!leads.insert(lead).second) return Invalid("lead investor repeated");
        }
        if (absl::Status s = StreamIs(e, "deal", r.round_id()); !s.ok()) return s;
        if (absl::Status s =
                ReportDeal(r.round_id(),
                           Deal{Payload::kFundingRoundReported, r.stage(), r.company_id(), "", ""},
                           "round_id");
            !s.ok()) {
          return s;
        }
        break;
      }
      case Payload::kInvestmentReported: {
        const auto& r = p.investment_reported();
        if (absl::Status s = Registered(r.investor_id(), "investor_id"); !s.ok()) return s;
        if (absl::Status s = Registered(r.company_id(), "company_id"); !s.ok()) return s;
        if (r.investor_id() == r.company_id()) return Invalid("investor is the company");
        if (!r.round_id().empty()) {
          if (absl::Status s = CheckRoundOf(r.round_id(), r.company_id(), "round_id"); !s.ok()) {
            return s;
          }
        }
        if (r.has_amount()) {
          if (absl::Status s = CheckMoney(r.amount(), "amount"); !s.ok()) return s;
        }
        if (r.instrument() == dealwire::v1::INSTRUMENT_UNSPECIFIED) return Invalid("instrument");
        if (absl::Status s = StreamIs(e, "deal", r.investment_id()); !s.ok()) return s;
        if (absl::Status s = ReportDeal(r.investment_id(),
                                        Deal{Payload::kInvestmentReported, r.stage(),
                                             r.company_id(), r.investor_id(), r.round_id()},
                                        "investment_id");
            !s.ok()) {
          return s;
        }
        break;
      }
      case Payload::kAcquisitionReported: {
        const auto& r = p.acquisition_reported();
        if (absl::Status s = Registered(r.acquirer_id(), "acquirer_id"); !s.ok()) return s;
        if (absl::Status s = Registered(r.target_id(), "target_id"); !s.ok()) return s;
        if (r.acquirer_id() == r.target_id()) return Invalid("acquirer is the target");
        if (r.has_price()) {
          if (absl::Status s = CheckMoney(r.price(), "price"); !s.ok()) return s;
        }
        if (absl::Status s = StreamIs(e, "deal", r.acquisition_id()); !s.ok()) return s;
        if (absl::Status s = ReportDeal(
                r.acquisition_id(),
                Deal{Payload::kAcquisitionReported, r.stage(), r.target_id(), r.acquirer_id(), ""},
                "acquisition_id");
            !s.ok()) {
          return s;
        }
        break;
      }
      case Payload::kDealStageChanged: {
        const auto& c = p.deal_stage_changed();
        auto it = deals_.find(c.deal_id());
        if (it == deals_.end()) return Failed(absl::StrCat("deal '", c.deal_id(), "' unknown"));
        if (c.new_stage() == dealwire::v1::DEAL_STAGE_UNSPECIFIED) return Invalid("new_stage");
        if (!StageMayFollow(it->second.stage, c.new_stage())) {
          return Failed(absl::StrCat("deal '", c.deal_id(), "': stage ", it->second.stage, " -> ",
                                     c.new_stage()));
        }
        if (c.has_amount()) {
          if (absl::Status s = CheckMoney(c.amount(), "amount"); !s.ok()) return s;
        }
        if (absl::Status s = StreamIs(e, "deal", c.deal_id()); !s.ok()) return s;
        it->second.stage = c.new_stage();
        break;
      }
      case Payload::kValuationReported: {
        if (absl::Status s = CheckValuation(p.valuation_reported()); !s.ok()) return s;
        company = p.valuation_reported().company_id();
        if (absl::Status s = StreamIs(e, "org", company); !s.ok()) return s;
        break;
      }
      case Payload::kStakeDisclosed: {
        if (absl::Status s = CheckStake(p.stake_disclosed()); !s.ok()) return s;
        company = p.stake_disclosed().company_id();
        holder = p.stake_disclosed().holder_id();
        if (absl::Status s = StreamIs(e, "org", company); !s.ok()) return s;
        break;
      }
      case Payload::kPartnershipFormed: {
        const auto& f = p.partnership_formed();
        if (!dealwire::domain::IsDomainId(f.partnership_id()))
          return Invalid("partnership_id");
        if (partnerships_.contains(f.partnership_id())) return Failed("partnership formed twice");
        if (f.parties_size() < 2 || f.parties_size() > 20) return Invalid("2..20 parties");
        absl::flat_hash_set<std::string> orgs;
        absl::flat_hash_set<std::string> pairs;
        for (const auto& party : f.parties()) {
          if (absl::Status s = Registered(party.org_id(), "parties.org_id"); !s.ok()) return s;
          if (party.role() == dealwire::v1::PARTNERSHIP_ROLE_UNSPECIFIED) return Invalid("role");
          orgs.insert(party.org_id());
          if (!pairs.insert(absl::StrCat(party.org_id(), "/", party.role())).second) {
            return Invalid("(org, role) repeated");
          }
        }
        if (orgs.size() < 2) return Invalid("fewer than two organizations");
        if (f.has_value()) {
          if (absl::Status s = CheckMoney(f.value(), "value"); !s.ok()) return s;
        }
        if (absl::Status s = StreamIs(e, "partnership", f.partnership_id()); !s.ok()) return s;
        partnerships_.emplace(f.partnership_id(), false);
        break;
      }
      case Payload::kPartnershipEnded: {
        const auto& end = p.partnership_ended();
        auto it = partnerships_.find(end.partnership_id());
        if (it == partnerships_.end()) return Failed("partnership unknown");
        if (it->second) return Failed("partnership ended twice");
        if (absl::Status s = StreamIs(e, "partnership", end.partnership_id()); !s.ok()) return s;
        it->second = true;
        break;
      }
      case Payload::kFacilityAnnounced: {
        const auto& f = p.facility_announced();
        if (!dealwire::domain::IsDomainId(f.facility_id())) return Invalid("facility_id");
        if (!facilities_.insert(f.facility_id()).second) return Failed("facility announced twice");
        if (absl::Status s = Registered(f.owner_id(), "owner_id"); !s.ok()) return s;
        if (!f.beneficiary_id().empty()) {
          if (absl::Status s = Registered(f.beneficiary_id(), "beneficiary_id"); !s.ok()) return s;
        }
        if (f.location().empty() || f.location().size() > 200) return Invalid("location");
        if (f.has_amount()) {
          if (absl::Status s = CheckMoney(f.amount(), "amount"); !s.ok()) return s;
        }
        if (absl::Status s = StreamIs(e, "facility", f.facility_id()); !s.ok()) return s;
        break;
      }
      case Payload::kFxRateReported: {
        const auto& fx = p.fx_rate_reported();
        if (!KnownCurrency(fx.base_currency()) || !KnownCurrency(fx.quote_currency()) ||
            fx.base_currency() == fx.quote_currency()) {
          return Invalid("fx currencies");
        }
        if (fx.rate().currency_code() != fx.quote_currency()) return Invalid("rate currency");
        if (absl::Status s = CheckMoney(fx.rate(), "rate"); !s.ok()) return s;
        if (fx.rate().units() == 0 && fx.rate().nanos() == 0) return Invalid("rate is zero");
        if (absl::Status s =
                StreamIs(e, "fx", absl::StrCat(fx.base_currency(), "-", fx.quote_currency()));
            !s.ok()) {
          return s;
        }
        break;
      }
      case Payload::kEventRetracted: {
        const auto& r = p.event_retracted();
        auto it = events_.find(r.event_id());
        if (it == events_.end()) return Failed("retracts an unknown event");
        Recorded& target = it->second;
        if (target.kind == Payload::kEventRetracted || target.kind == Payload::kEventCorrected) {
          return Failed("retracts a retraction or correction");
        }
        if (target.retracted) return Failed("retracts a retracted event");
        if (e.stream() != target.stream) return Invalid("retraction not in the target's stream");
        target.retracted = true;
        break;
      }
      case Payload::kEventCorrected: {
        const auto& c = p.event_corrected();
        auto it = events_.find(c.event_id());
        if (it == events_.end()) return Failed("corrects an unknown event");
        const Recorded& target = it->second;
        if (target.kind == Payload::kEventRetracted || target.kind == Payload::kEventCorrected) {
          return Failed("corrects a retraction or correction");
        }
        if (target.retracted) return Failed("corrects a retracted event");
        if (c.replacement().payload_case() != target.kind)
          return Invalid("changes the payload case");
        if (e.stream() != target.stream) return Invalid("correction not in the target's stream");
        if (target.kind == Payload::kValuationReported) {
          if (c.replacement().valuation_reported().company_id() != target.company) {
            return Invalid("correction changes the company");
          }
          if (absl::Status s = CheckValuation(c.replacement().valuation_reported()); !s.ok()) {
            return s;
          }
        } else if (target.kind == Payload::kStakeDisclosed) {
          const auto& s = c.replacement().stake_disclosed();
          if (s.company_id() != target.company || s.holder_id() != target.holder) {
            return Invalid("correction changes the holder or company");
          }
          if (absl::Status st = CheckStake(s); !st.ok()) return st;
        } else {
          return Failed("only valuations and stakes are corrected in these data sets");
        }
        break;
      }
      default:
        return Invalid("no payload");
    }
    events_.emplace(e.event_id(), Recorded{p.payload_case(), e.stream(), company, holder});
    return absl::OkStatus();
  }

  absl::flat_hash_map<std::string, Org> orgs_;
  absl::flat_hash_map<std::string, Deal> deals_;
  absl::flat_hash_map<std::string, bool> partnerships_;  // id → ended
  absl::flat_hash_set<std::string> facilities_;
  absl::flat_hash_map<std::string, Recorded> events_;
};

}  // namespace dealwire::test_util
