// Tests of the decisions of appends (domain/decider.h), through a real event
// log: every refusal must leave the log and the decider's state as they
// were; tags come from the same state, also for events still in flight.
#include "domain/decider.h"

#include <unistd.h>

#include <atomic>
#include <cctype>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "dealwire/v1/events.pb.h"
#include "domain/codec.h"
#include "domain/proposal.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "store/event_log.h"
#include "tests/common/status_matchers.h"

namespace dealwire::domain {
namespace {

namespace fs = std::filesystem;
namespace v1 = dealwire::v1;
using ::dealwire::test_util::StatusIs;
using ::dealwire::test_util::StatusIsWith;
using store::Position;

constexpr absl::StatusCode kRefused = absl::StatusCode::kFailedPrecondition;
constexpr absl::StatusCode kInvalid = absl::StatusCode::kInvalidArgument;

// --- Event builders ------------------------------------------------------------

v1::Event Ev(v1::EventPayload payload) {
  static std::atomic<uint64_t> counter{0};
  v1::Event e;
  e.set_event_id(absl::StrFormat("00000000-0000-4000-8000-%012x", ++counter));
  e.mutable_effective()->mutable_date()->set_year(2026);
  e.mutable_effective()->set_precision(v1::DATE_PRECISION_YEAR);
  e.set_confidence(v1::CONFIDENCE_REPORTED);
  *e.mutable_payload() = std::move(payload);
  return e;
}

v1::Event Reg(const std::string& id, const std::string& parent = "") {
  v1::EventPayload p;
  auto* e = p.mutable_organization_registered();
  e->set_org_id(id);
  e->set_name(id);
  e->set_kind(v1::ORGANIZATION_KIND_COMPANY);
  e->set_parent_org_id(parent);
  return Ev(std::move(p));
}

v1::Event Rename(const std::string& id) {
  v1::EventPayload p;
  p.mutable_organization_updated()->set_org_id(id);
  p.mutable_organization_updated()->set_name(id + " Inc");
  return Ev(std::move(p));
}

v1::Event SetParent(const std::string& id, const std::string& parent) {
  v1::EventPayload p;
  p.mutable_organization_updated()->set_org_id(id);
  p.mutable_organization_updated()->set_parent_org_id(parent);
  return Ev(std::move(p));
}

v1::Event Round(const std::string& id, const std::string& company,
                v1::DealStage stage = v1::DEAL_STAGE_IN_TALKS,
                std::vector<std::string> leads = {}) {
  v1::EventPayload p;
  auto* e = p.mutable_funding_round_reported();
  e->set_round_id(id);
  e->set_company_id(company);
  e->set_label("series_a");
  e->set_stage(stage);
  for (auto& l : leads) e->add_lead_investor_ids(l);
  return Ev(std::move(p));
}

v1::Event Inv(const std::string& id, const std::string& investor, const std::string& company,
              v1::DealStage stage = v1::DEAL_STAGE_RUMORED, const std::string& round = "") {
  v1::EventPayload p;
  auto* e = p.mutable_investment_reported();
  e->set_investment_id(id);
  e->set_investor_id(investor);
  e->set_company_id(company);
  e->set_round_id(round);
  e->set_instrument(v1::INSTRUMENT_EQUITY);
  e->set_stage(stage);
  e->mutable_amount()->set_currency_code("USD");
  e->mutable_amount()->set_units(1000);
  return Ev(std::move(p));
}

v1::Event Stage(const std::string& deal, v1::DealStage stage) {
  v1::EventPayload p;
  p.mutable_deal_stage_changed()->set_deal_id(deal);
  p.mutable_deal_stage_changed()->set_new_stage(stage);
  return Ev(std::move(p));
}

v1::Event Val(const std::string& company, const std::string& round = "") {
  v1::EventPayload p;
  auto* e = p.mutable_valuation_reported();
  e->set_company_id(company);
  e->set_round_id(round);
  e->set_basis(v1::VALUATION_BASIS_ESTIMATE);
  e->mutable_valuation()->set_currency_code("USD");
  e->mutable_valuation()->set_units(1);
  return Ev(std::move(p));
}

v1::Event Stake(const std::string& holder, const std::string& company) {
  v1::EventPayload p;
  p.mutable_stake_disclosed()->set_holder_id(holder);
  p.mutable_stake_disclosed()->set_company_id(company);
  p.mutable_stake_disclosed()->mutable_ownership()->set_qualifier("substantial");
  return Ev(std::move(p));
}

v1::Event Acq(const std::string& id, const std::string& acquirer, const std::string& target,
              v1::DealStage stage = v1::DEAL_STAGE_ANNOUNCED) {
  v1::EventPayload p;
  auto* e = p.mutable_acquisition_reported();
  e->set_acquisition_id(id);
  e->set_acquirer_id(acquirer);
  e->set_target_id(target);
  e->set_stage(stage);
  return Ev(std::move(p));
}

v1::Event Form(const std::string& id, const std::string& a, const std::string& b) {
  v1::EventPayload p;
  auto* e = p.mutable_partnership_formed();
  e->set_partnership_id(id);
  auto* x = e->add_parties();
  x->set_org_id(a);
  x->set_role(v1::PARTNERSHIP_ROLE_CLOUD_PROVIDER);
  x = e->add_parties();
  x->set_org_id(b);
  x->set_role(v1::PARTNERSHIP_ROLE_CUSTOMER);
  return Ev(std::move(p));
}

v1::Event End(const std::string& id) {
  v1::EventPayload p;
  p.mutable_partnership_ended()->set_partnership_id(id);
  return Ev(std::move(p));
}

v1::Event Fac(const std::string& id, const std::string& owner,
              const std::string& beneficiary = "") {
  v1::EventPayload p;
  auto* e = p.mutable_facility_announced();
  e->set_facility_id(id);
  e->set_owner_id(owner);
  e->set_beneficiary_id(beneficiary);
  e->set_location("New Carlisle, Indiana, US");
  return Ev(std::move(p));
}

v1::Event Fx() {
  v1::EventPayload p;
  p.mutable_fx_rate_reported()->set_base_currency("EUR");
  p.mutable_fx_rate_reported()->set_quote_currency("USD");
  p.mutable_fx_rate_reported()->mutable_rate()->set_currency_code("USD");
  p.mutable_fx_rate_reported()->mutable_rate()->set_units(1);
  return Ev(std::move(p));
}

v1::Event Retract(const v1::Event& target) {
  v1::EventPayload p;
  p.mutable_event_retracted()->set_event_id(target.event_id());
  return Ev(std::move(p));
}

v1::Event Correct(const v1::Event& target, const v1::Event& replacement) {
  v1::EventPayload p;
  p.mutable_event_corrected()->set_event_id(target.event_id());
  *p.mutable_event_corrected()->mutable_replacement() = replacement.payload();
  return Ev(std::move(p));
}

// --- Fixture -----------------------------------------------------------------

class DeciderTest : public testing::Test {
 protected:
  void SetUp() override {
    static std::atomic<int> counter{0};
    std::string name = testing::UnitTest::GetInstance()->current_test_info()->name();
    for (char& c : name) {
      if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
    }
    dir_ = (fs::path(testing::TempDir()) /
            absl::StrFormat("dealwire_decider_%d_%d_%s", getpid(), counter++, name))
               .string();
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    ASSERT_OK(Open());
  }

  void TearDown() override {
    log_.reset();
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  // (Re)opens the log with a new decider, which recovers from the log (or
  // without one).
  absl::Status Open(bool decide = true) {
    log_.reset();
    store::Options options;
    if (decide) {
      decider_ = std::make_shared<DomainDecider>();
      options.decider = decider_;
    }
    options.clock = clock_;
    absl::StatusOr<std::unique_ptr<store::EventLog>> log = store::OpenEventLog(dir_, options);
    if (!log.ok()) return log.status();
    log_ = *std::move(log);
    decide_ = decide;
    return absl::OkStatus();
  }

  // The events as a log without a decider stores them (no tags).
  absl::StatusOr<std::vector<store::ProposedEvent>> Encode(const std::vector<v1::Event>& events,
                                                           const std::string& stream) {
    std::vector<store::ProposedEvent> out(events.size());
    for (size_t i = 0; i < events.size(); ++i) {
      if (absl::Status s =
              EncodeEvent(events[i], stream, absl::StrCat("events[", i, "]"), "tester", &out[i]);
          !s.ok()) {
        return s;
      }
    }
    return out;
  }

  // Appends `events` to `stream` (a new stream by default): proposed, or
  // encoded when the log has no decider.
  absl::StatusOr<store::AppendResult> Append(const std::vector<v1::Event>& events,
                                             std::string stream = "") {
    if (stream.empty()) stream = absl::StrCat("test/", ++streams_);
    if (decide_) {
      return log_->Propose(stream, store::ExpectedVersion::Any(),
                           EventsProposal::Own(events, "tester"));
    }
    absl::StatusOr<std::vector<store::ProposedEvent>> proposed = Encode(events, stream);
    if (!proposed.ok()) return proposed.status();
    return log_->Append(stream, store::ExpectedVersion::Any(), *std::move(proposed));
  }

  // Returns the stored event with id `event_id`.
  absl::StatusOr<store::RecordedEvent> Stored(const std::string& event_id) {
    absl::StatusOr<Position> p = log_->FindEvent(event_id);
    if (!p.ok()) return p.status();
    return log_->ReadEvent(*p);
  }

  // Expects the append of `events` to a new stream to be refused with `code`
  // and a message containing `text`, and nothing of it to be written.
  void ExpectRefused(const std::vector<v1::Event>& events, const std::string& text,
                     absl::StatusCode code = kRefused) {
    const Position before = log_->LastPosition();
    const std::string stream = absl::StrCat("refused/", ++streams_);
    EXPECT_THAT(Append(events, stream), StatusIsWith(code, text));
    EXPECT_EQ(log_->LastPosition(), before);
    EXPECT_THAT(log_->GetStreamVersion(stream), StatusIs(absl::StatusCode::kNotFound));
    for (const v1::Event& e : events) {
      EXPECT_THAT(log_->FindEvent(e.event_id()), StatusIs(absl::StatusCode::kNotFound));
    }
  }

  std::string dir_;
  // Each group commit reads the clock once: one microsecond per group, so
  // events of one group share a recorded time and others do not.
  std::shared_ptr<std::atomic<int64_t>> ticks_ = std::make_shared<std::atomic<int64_t>>(0);
  std::function<absl::Time()> clock_ = [t = ticks_] {
    return absl::FromUnixMicros(1'800'000'000'000'000 + t->fetch_add(1));
  };
  std::shared_ptr<DomainDecider> decider_;
  std::unique_ptr<store::EventLog> log_;
  bool decide_ = true;
  int streams_ = 0;
};

#define APPEND_OK(...) ASSERT_OK(Append({__VA_ARGS__}))

// --- Organizations -------------------------------------------------------------

TEST_F(DeciderTest, EveryReferencedOrganizationMustBeRegistered) {
  APPEND_OK(Reg("amazon"), Reg("openai"), Round("openai-r", "openai"),
            Form("aws-openai", "amazon", "openai"));
  const std::string p = "events[0].payload.";
  const std::string missing = ": organization 'ghost' is not registered";
  ExpectRefused({Inv("i1", "ghost", "openai")}, p + "investment_reported.investor_id" + missing);
  ExpectRefused({Inv("i1", "amazon", "ghost")}, p + "investment_reported.company_id" + missing);
  ExpectRefused({Round("r1", "ghost")}, p + "funding_round_reported.company_id" + missing);
  ExpectRefused({Round("r1", "openai", v1::DEAL_STAGE_RUMORED, {"amazon", "ghost"})},
                p + "funding_round_reported.lead_investor_ids[1]" + missing);
  ExpectRefused({Val("ghost")}, p + "valuation_reported.company_id" + missing);
  ExpectRefused({Stake("ghost", "openai")}, p + "stake_disclosed.holder_id" + missing);
  ExpectRefused({Stake("amazon", "ghost")}, p + "stake_disclosed.company_id" + missing);
  ExpectRefused({Acq("a1", "ghost", "openai")}, p + "acquisition_reported.acquirer_id" + missing);
  ExpectRefused({Acq("a1", "amazon", "ghost")}, p + "acquisition_reported.target_id" + missing);
  ExpectRefused({Form("p1", "amazon", "ghost")},
                p + "partnership_formed.parties[1].org_id" + missing);
  ExpectRefused({Fac("f1", "ghost")}, p + "facility_announced.owner_id" + missing);
  ExpectRefused({Fac("f1", "amazon", "ghost")}, p + "facility_announced.beneficiary_id" + missing);
  ExpectRefused({Reg("aws", "ghost")}, p + "organization_registered.parent_org_id" + missing);
  ExpectRefused({Rename("ghost")}, p + "organization_updated.org_id" + missing);
  ExpectRefused({SetParent("openai", "ghost")}, p + "organization_updated.parent_org_id" + missing);
  // The second event of an append is named by its index.
  ExpectRefused({Val("openai"), Stake("ghost", "openai")},
                "events[1].payload.stake_disclosed.holder_id" + missing);
  // With the organizations registered, all of them pass.
  APPEND_OK(Reg("ghost"));
  APPEND_OK(Inv("i1", "ghost", "openai"), Round("r1", "openai", v1::DEAL_STAGE_RUMORED, {"ghost"}),
            Val("ghost"), Stake("ghost", "openai"), Acq("a1", "amazon", "ghost"),
            Form("p1", "amazon", "ghost"), Fac("f1", "ghost", "amazon"), Reg("aws", "ghost"),
            Rename("ghost"), SetParent("openai", "ghost"), Fx());
}

TEST_F(DeciderTest, AnAppendMayRegisterAndUseAnOrganization) {
  APPEND_OK(Reg("amazon"), Reg("openai"), Inv("amazon-openai", "amazon", "openai"),
            Stage("amazon-openai", v1::DEAL_STAGE_IN_TALKS));
  // Each event sees the ones before it, not the ones after it.
  ExpectRefused({Inv("x", "nvidia", "openai"), Reg("nvidia")},
                "events[0].payload.investment_reported.investor_id: organization 'nvidia' is not "
                "registered");
}

TEST_F(DeciderTest, AnOrganizationIsRegisteredOnce) {
  APPEND_OK(Reg("openai"));
  ExpectRefused({Reg("openai")},
                "events[0].payload.organization_registered.org_id: organization 'openai' is "
                "already registered");
  ExpectRefused({Reg("anthropic"), Reg("anthropic")},
                "events[1].payload.organization_registered.org_id: organization 'anthropic' is "
                "already registered");
}

TEST_F(DeciderTest, ParentsFormNoCycle) {
  APPEND_OK(Reg("amazon"), Reg("aws", "amazon"), Reg("aws-eu", "aws"));
  ExpectRefused({SetParent("amazon", "aws-eu")},
                "events[0].payload.organization_updated.parent_org_id: making 'aws-eu' the parent "
                "would make the parents a cycle: amazon → aws-eu → aws → amazon");
  ExpectRefused({SetParent("amazon", "aws")},
                "events[0].payload.organization_updated.parent_org_id");
  // Moving the parent elsewhere is fine, and removing it too.
  APPEND_OK(Reg("alphabet"), SetParent("aws", "alphabet"), SetParent("aws", ""));
  APPEND_OK(SetParent("amazon", "aws-eu"));  // aws has no parent now: no cycle
}

v1::Event Aliases(const std::string& id, int add_from, int add_to, int remove_from = 0,
                  int remove_to = 0) {
  v1::EventPayload p;
  p.mutable_organization_updated()->set_org_id(id);
  for (int i = add_from; i < add_to; ++i) {
    p.mutable_organization_updated()->add_add_aliases(absl::StrCat("alias ", i));
  }
  for (int i = remove_from; i < remove_to; ++i) {
    p.mutable_organization_updated()->add_remove_aliases(absl::StrCat("alias ", i));
  }
  return Ev(std::move(p));
}

TEST_F(DeciderTest, AnOrganizationHasAtMost50Aliases) {
  v1::Event reg = Reg("x");
  for (int i = 0; i < 30; ++i) {
    reg.mutable_payload()->mutable_organization_registered()->add_aliases(
        absl::StrCat("alias ", i));
  }
  APPEND_OK(reg);
  ExpectRefused({Aliases("x", 25, 51)},
                "events[0].payload.organization_updated.add_aliases: adding them would give "
                "organization 'x' 51 aliases");
  const v1::Event removal = Aliases("x", 0, 0, 0, 10);  // 20 left
  APPEND_OK(Aliases("x", 20, 50), removal);             // 50, then 40
  APPEND_OK(Aliases("x", 50, 60));                      // 50 again
  ExpectRefused({Retract(removal)},
                "events[0].payload.event_retracted.event_id: retracting it would give "
                "organization 'x' 60 aliases");
  ExpectRefused({Correct(removal, Aliases("x", 0, 0, 0, 9))},
                "events[0].payload.event_corrected.replacement.organization_updated.add_aliases: "
                "the new aliases would give organization 'x' 51 aliases");
  APPEND_OK(Correct(removal, Aliases("x", 0, 0, 0, 11)));  // 49
  APPEND_OK(Aliases("x", 0, 1));                           // 50
  ExpectRefused({Aliases("x", 60, 61)}, "51 aliases");
}

// --- Deals -------------------------------------------------------------------

TEST_F(DeciderTest, DealIdsAreOneNamespace) {
  APPEND_OK(Reg("amazon"), Reg("openai"), Round("d-round", "openai"),
            Inv("d-inv", "amazon", "openai"), Acq("d-acq", "amazon", "openai"));
  ExpectRefused({Inv("d-round", "amazon", "openai")},
                "events[0].payload.investment_reported.investment_id: 'd-round' is already the id "
                "of a funding round");
  ExpectRefused({Acq("d-inv", "amazon", "openai")},
                "events[0].payload.acquisition_reported.acquisition_id: 'd-inv' is already the id "
                "of an investment");
  ExpectRefused({Round("d-acq", "openai")},
                "events[0].payload.funding_round_reported.round_id: 'd-acq' is already the id of "
                "an acquisition");
}

TEST_F(DeciderTest, LaterReportsOfADealNameTheSameParties) {
  APPEND_OK(Reg("amazon"), Reg("google"), Reg("openai"), Reg("anthropic"), Round("r", "openai"),
            Round("r2", "openai"), Inv("i", "amazon", "openai", v1::DEAL_STAGE_RUMORED, "r"),
            Acq("a", "google", "anthropic"));
  const std::string p = "events[0].payload.";
  ExpectRefused({Round("r", "anthropic")},
                p + "funding_round_reported.company_id: funding round 'r' was reported with "
                    "company_id 'openai', not 'anthropic'");
  ExpectRefused({Inv("i", "google", "openai", v1::DEAL_STAGE_RUMORED, "r")},
                p + "investment_reported.investor_id: investment 'i' was reported with "
                    "investor_id 'amazon'");
  ExpectRefused({Inv("i", "amazon", "anthropic")}, p + "investment_reported.company_id");
  ExpectRefused({Inv("i", "amazon", "openai", v1::DEAL_STAGE_RUMORED, "r2")},
                p + "investment_reported.round_id: investment 'i' was reported with round_id 'r'");
  ExpectRefused({Inv("i", "amazon", "openai")}, p + "investment_reported.round_id");
  ExpectRefused({Acq("a", "amazon", "anthropic")}, p + "acquisition_reported.acquirer_id");
  ExpectRefused({Acq("a", "google", "openai")}, p + "acquisition_reported.target_id");
  // The same parties again: another claim about the same deals.
  APPEND_OK(Round("r", "openai"), Inv("i", "amazon", "openai", v1::DEAL_STAGE_IN_TALKS, "r"),
            Acq("a", "google", "anthropic"));
}

TEST_F(DeciderTest, RoundsOfInvestmentsAndValuationsExistAndMatchTheCompany) {
  APPEND_OK(Reg("amazon"), Reg("openai"), Reg("anthropic"), Round("openai-r", "openai"),
            Inv("inv", "amazon", "openai"));
  const std::string p = "events[0].payload.";
  ExpectRefused({Inv("i2", "amazon", "openai", v1::DEAL_STAGE_RUMORED, "nope")},
                p + "investment_reported.round_id: no funding round 'nope' was reported");
  ExpectRefused({Inv("i2", "amazon", "anthropic", v1::DEAL_STAGE_RUMORED, "openai-r")},
                p + "investment_reported.round_id: funding round 'openai-r' belongs to company "
                    "'openai', not 'anthropic'");
  ExpectRefused({Inv("i2", "amazon", "openai", v1::DEAL_STAGE_RUMORED, "inv")},
                p + "investment_reported.round_id: 'inv' is an investment, not a funding round");
  ExpectRefused({Val("openai", "nope")}, p + "valuation_reported.round_id: no funding round");
  ExpectRefused({Val("anthropic", "openai-r")},
                p + "valuation_reported.round_id: funding round 'openai-r' belongs to company");
  APPEND_OK(Inv("i2", "amazon", "openai", v1::DEAL_STAGE_RUMORED, "openai-r"),
            Val("openai", "openai-r"));
}

TEST_F(DeciderTest, StagesFollowTheStateMachine) {
  APPEND_OK(Reg("amazon"), Reg("openai"), Inv("i", "amazon", "openai", v1::DEAL_STAGE_RUMORED));
  const std::string p = "events[0].payload.";
  APPEND_OK(Stage("i", v1::DEAL_STAGE_IN_TALKS));
  APPEND_OK(Stage("i", v1::DEAL_STAGE_IN_TALKS));  // restating the open stage
  ExpectRefused({Stage("i", v1::DEAL_STAGE_RUMORED)},
                p + "deal_stage_changed.new_stage: investment 'i': DEAL_STAGE_RUMORED is earlier "
                    "than DEAL_STAGE_IN_TALKS");
  ExpectRefused({Inv("i", "amazon", "openai", v1::DEAL_STAGE_RUMORED)},
                p + "investment_reported.stage: investment 'i': DEAL_STAGE_RUMORED is earlier");
  APPEND_OK(Inv("i", "amazon", "openai", v1::DEAL_STAGE_ANNOUNCED));  // a forward jump
  APPEND_OK(Stage("i", v1::DEAL_STAGE_COLLAPSED));                    // from any open stage
  ExpectRefused({Stage("i", v1::DEAL_STAGE_COLLAPSED)},
                p + "deal_stage_changed.new_stage: investment 'i': DEAL_STAGE_COLLAPSED is "
                    "terminal");
  ExpectRefused({Stage("i", v1::DEAL_STAGE_CLOSED)}, p + "deal_stage_changed.new_stage");

  APPEND_OK(Round("r", "openai", v1::DEAL_STAGE_AGREED), Stage("r", v1::DEAL_STAGE_CLOSED));
  ExpectRefused({Stage("r", v1::DEAL_STAGE_CLOSED)},
                p + "deal_stage_changed.new_stage: funding round 'r': DEAL_STAGE_CLOSED is "
                    "terminal");
  ExpectRefused({Stage("r", v1::DEAL_STAGE_COLLAPSED)}, p + "deal_stage_changed.new_stage");
  ExpectRefused({Round("r", "openai", v1::DEAL_STAGE_CLOSED)}, p + "funding_round_reported.stage");
  APPEND_OK(Acq("a", "amazon", "openai", v1::DEAL_STAGE_CLOSED));
  ExpectRefused({Acq("a", "amazon", "openai", v1::DEAL_STAGE_CLOSED)},
                p + "acquisition_reported.stage");
}

TEST_F(DeciderTest, AStageChangeNeedsADeal) {
  APPEND_OK(Reg("openai"));
  ExpectRefused({Stage("nope", v1::DEAL_STAGE_AGREED)},
                "events[0].payload.deal_stage_changed.deal_id: no deal 'nope'");
}

// --- Partnerships and facilities -----------------------------------------------

TEST_F(DeciderTest, PartnershipsAndFacilitiesAreUniqueAndEndOnce) {
  APPEND_OK(Reg("aws"), Reg("anthropic"), Form("aws-anthropic", "aws", "anthropic"),
            Fac("indiana", "aws", "anthropic"));
  const std::string p = "events[0].payload.";
  ExpectRefused({Form("aws-anthropic", "anthropic", "aws")},
                p + "partnership_formed.partnership_id: partnership 'aws-anthropic' already "
                    "exists");
  ExpectRefused({Fac("indiana", "aws")},
                p + "facility_announced.facility_id: facility 'indiana' already exists");
  ExpectRefused({End("nope")},
                p + "partnership_ended.partnership_id: no partnership 'nope' was formed");
  APPEND_OK(End("aws-anthropic"));
  ExpectRefused({End("aws-anthropic")},
                p + "partnership_ended.partnership_id: partnership 'aws-anthropic' already ended");
  // Ended is still formed: its id stays taken.
  ExpectRefused({Form("aws-anthropic", "aws", "anthropic")},
                p + "partnership_formed.partnership_id");
}

// --- Retractions -------------------------------------------------------------

TEST_F(DeciderTest, ARetractionNamesAStandingOriginal) {
  const v1::Event reg = Reg("openai");
  const v1::Event val = Val("openai");
  APPEND_OK(reg, val);
  const std::string f = "events[0].payload.event_retracted.event_id: ";
  v1::Event unknown = Reg("x");
  ExpectRefused({Retract(unknown)}, f + "no event '" + unknown.event_id() + "'");
  const v1::Event retraction = Retract(val);
  APPEND_OK(retraction);
  ExpectRefused({Retract(val)}, f + "event '" + val.event_id() + "' was already retracted");
  ExpectRefused({Retract(retraction)},
                f + "event '" + retraction.event_id() + "' is of type EventRetracted");
  const v1::Event correction = Correct(reg, Reg("openai"));
  APPEND_OK(correction);
  ExpectRefused({Retract(correction)},
                f + "event '" + correction.event_id() + "' is of type EventCorrected");
}

TEST_F(DeciderTest, RetractingARegistrationNeedsNoStandingReference) {
  const v1::Event amazon = Reg("amazon");
  const v1::Event openai = Reg("openai");
  const v1::Event inv = Inv("i", "amazon", "openai");
  const v1::Event rename = Rename("openai");
  APPEND_OK(amazon, openai, inv, rename);
  const std::string f =
      "events[0].payload.event_retracted.event_id: retracting it would "
      "unregister organization 'openai', which 2 standing events still name";
  ExpectRefused({Retract(openai)}, f);
  APPEND_OK(Retract(inv));
  ExpectRefused({Retract(openai)}, "which 1 standing events still name");
  // Retracting the last reference first, in the same append, works.
  APPEND_OK(Retract(rename), Retract(openai));
  // The organization is unknown now, and may be registered anew.
  ExpectRefused({Val("openai")}, "organization 'openai' is not registered");
  APPEND_OK(Reg("openai"), Val("openai"));
  // A child names its parent.
  const v1::Event alphabet = Reg("alphabet");
  APPEND_OK(alphabet, Reg("google", "alphabet"));
  ExpectRefused({Retract(alphabet)}, "organization 'alphabet', which 1 standing events");
}

TEST_F(DeciderTest, RetractingTheReportThatCreatedADealNeedsNoOtherClaim) {
  const v1::Event first = Inv("i", "amazon", "openai", v1::DEAL_STAGE_RUMORED);
  const v1::Event second = Inv("i", "amazon", "openai", v1::DEAL_STAGE_IN_TALKS);
  const v1::Event stage = Stage("i", v1::DEAL_STAGE_AGREED);
  APPEND_OK(Reg("amazon"), Reg("openai"), first, second, stage);
  ExpectRefused({Retract(first)},
                "events[0].payload.event_retracted.event_id: retracting it would remove the "
                "report that created investment 'i' while 2 other claims about it stand");
  APPEND_OK(Retract(stage), Retract(second), Retract(first));
  // The deal is gone: its id is free, even for another kind of deal.
  ExpectRefused({Stage("i", v1::DEAL_STAGE_AGREED)}, "no deal 'i'");
  APPEND_OK(Acq("i", "amazon", "openai"));
}

TEST_F(DeciderTest, RetractingARoundNeedsNoStandingInvestmentOrValuation) {
  const v1::Event round = Round("r", "openai");
  const v1::Event inv = Inv("i", "amazon", "openai", v1::DEAL_STAGE_RUMORED, "r");
  const v1::Event val = Val("openai", "r");
  APPEND_OK(Reg("amazon"), Reg("openai"), round, inv, val);
  const std::string f =
      "events[0].payload.event_retracted.event_id: retracting it would remove "
      "funding round 'r', which ";
  ExpectRefused({Retract(round)}, f + "2 standing investments or valuations still name");
  APPEND_OK(Retract(inv));
  ExpectRefused({Retract(round)}, f + "1 standing investments or valuations still name");
  APPEND_OK(Retract(val), Retract(round));
  ExpectRefused({Val("openai", "r")}, "no funding round 'r' was reported");
}

TEST_F(DeciderTest, RetractingAFormationNeedsNoStandingEnd) {
  const v1::Event formed = Form("p", "aws", "anthropic");
  const v1::Event ended = End("p");
  APPEND_OK(Reg("aws"), Reg("anthropic"), formed, ended);
  ExpectRefused({Retract(formed)},
                "events[0].payload.event_retracted.event_id: retracting it would remove "
                "partnership 'p' while its PartnershipEnded");
  APPEND_OK(Retract(ended));
  APPEND_OK(End("p"));  // the end was withdrawn: the partnership may end again
  const v1::Event fac = Fac("f", "aws");
  APPEND_OK(fac, Retract(fac), Fac("f", "aws"));  // a retracted facility frees its id
}

TEST_F(DeciderTest, RetractingAParentChangeMayNotMakeACycle) {
  const v1::Event unparent = SetParent("aws", "");
  APPEND_OK(Reg("amazon"), Reg("aws", "amazon"), unparent, SetParent("amazon", "aws"));
  ExpectRefused({Retract(unparent)},
                "events[0].payload.event_retracted.event_id: retracting it (restoring the earlier "
                "parent of 'aws') would make the parents a cycle");
}

TEST_F(DeciderTest, OnlyARetractionMovesADealBack) {
  const v1::Event closed = Stage("i", v1::DEAL_STAGE_CLOSED);
  APPEND_OK(Reg("amazon"), Reg("openai"), Inv("i", "amazon", "openai", v1::DEAL_STAGE_RUMORED),
            closed);
  ExpectRefused({Stage("i", v1::DEAL_STAGE_IN_TALKS)}, "DEAL_STAGE_CLOSED is terminal");
  APPEND_OK(Retract(closed));
  APPEND_OK(Stage("i", v1::DEAL_STAGE_IN_TALKS));
  ExpectRefused({Stage("i", v1::DEAL_STAGE_RUMORED)}, "is earlier than DEAL_STAGE_IN_TALKS");
}

// --- Corrections -------------------------------------------------------------

TEST_F(DeciderTest, ACorrectionNamesAStandingOriginal) {
  const v1::Event reg = Reg("openai");
  const v1::Event val = Val("openai");
  APPEND_OK(reg, val);
  const std::string f = "events[0].payload.event_corrected.event_id: ";
  const v1::Event unknown = Val("openai");
  ExpectRefused({Correct(unknown, Val("openai"))}, f + "no event '" + unknown.event_id() + "'");
  const v1::Event correction = Correct(val, Val("openai"));
  APPEND_OK(correction);
  ExpectRefused({Correct(correction, Val("openai"))},
                f + "event '" + correction.event_id() +
                    "' is of type EventCorrected; correct the "
                    "original event instead");
  const v1::Event retraction = Retract(val);
  APPEND_OK(retraction);
  ExpectRefused({Correct(val, Val("openai"))}, f + "event '" + val.event_id() + "' was retracted");
  ExpectRefused({Correct(retraction, Retract(reg))},
                "events[0].payload.event_corrected.replacement: may not be an EventRetracted",
                kInvalid);
}

TEST_F(DeciderTest, ACorrectionKeepsTheTypeAndWhatTheEventIsAbout) {
  const v1::Event inv = Inv("i", "amazon", "openai");
  const v1::Event stake = Stake("amazon", "openai");
  const v1::Event form = Form("p", "amazon", "openai");
  APPEND_OK(Reg("amazon"), Reg("google"), Reg("openai"), inv, stake, form);
  const std::string r = "events[0].payload.event_corrected.replacement";
  ExpectRefused({Correct(inv, Val("openai"))},
                r + ": is of type ValuationReported but event '" + inv.event_id() +
                    "' is of type InvestmentReported",
                kInvalid);
  ExpectRefused({Correct(inv, Inv("i", "google", "openai"))},
                r + ".investment_reported.investor_id: differs from 'amazon' in the corrected "
                    "event; a correction cannot change what an event is about: retract the event "
                    "and report it anew instead",
                kInvalid);
  ExpectRefused({Correct(inv, Inv("j", "amazon", "openai"))},
                r + ".investment_reported.investment_id", kInvalid);
  ExpectRefused({Correct(stake, Stake("google", "openai"))}, r + ".stake_disclosed.holder_id",
                kInvalid);
  ExpectRefused({Correct(form, Form("q", "amazon", "openai"))},
                r + ".partnership_formed.partnership_id", kInvalid);
  // What may change: the amount, the stage, the parties of a partnership.
  v1::Event more = Inv("i", "amazon", "openai", v1::DEAL_STAGE_IN_TALKS);
  more.mutable_payload()->mutable_investment_reported()->mutable_amount()->set_units(5000);
  APPEND_OK(Correct(inv, more), Correct(form, Form("p", "google", "openai")));
}

TEST_F(DeciderTest, AReplacementIsCheckedAtTheOriginalsPosition) {
  const v1::Event fac = Fac("f", "aws");
  APPEND_OK(Reg("aws"), fac);
  ExpectRefused({Correct(fac, Fac("f", "aws", "ghost"))},
                "events[0].payload.event_corrected.replacement.facility_announced.beneficiary_id: "
                "organization 'ghost' is not registered");
  APPEND_OK(Reg("anthropic"));
  ExpectRefused({Correct(fac, Fac("f", "aws", "anthropic"))},
                "events[0].payload.event_corrected.replacement.facility_announced.beneficiary_id: "
                "organization 'anthropic' is registered only at position");
  // A valuation's round may change, to a round of its company reported before it.
  const v1::Event val = Val("anthropic");
  APPEND_OK(Round("early", "anthropic"), val, Round("late", "anthropic"), Reg("openai"),
            Round("other", "openai"));
  APPEND_OK(Correct(val, Val("anthropic", "early")));
  ExpectRefused(
      {Correct(val, Val("anthropic", "late"))},
      "events[0].payload.event_corrected.replacement.valuation_reported.round_id: funding "
      "round 'late' is reported only at position");
  ExpectRefused({Correct(val, Val("anthropic", "other"))},
                "valuation_reported.round_id: funding round 'other' belongs to company 'openai'");
}

TEST_F(DeciderTest, ACorrectedStageMustKeepTheSequenceLegal) {
  const v1::Event agreed = Stage("i", v1::DEAL_STAGE_AGREED);
  const v1::Event announced = Stage("i", v1::DEAL_STAGE_ANNOUNCED);
  APPEND_OK(Reg("amazon"), Reg("openai"), Inv("i", "amazon", "openai", v1::DEAL_STAGE_RUMORED),
            agreed, announced);
  const std::string r =
      "events[0].payload.event_corrected.replacement.deal_stage_changed.new_stage";
  ExpectRefused({Correct(agreed, Stage("i", v1::DEAL_STAGE_CLOSED))},
                r + ": the new stage would give deal 'i' the stage DEAL_STAGE_ANNOUNCED");
  ExpectRefused({Correct(announced, Stage("i", v1::DEAL_STAGE_IN_TALKS))},
                r + ": the new stage would give deal 'i' the stage DEAL_STAGE_IN_TALKS");
  // Moving the latest stage back by a correction is the legal way back.
  APPEND_OK(Correct(announced, Stage("i", v1::DEAL_STAGE_AGREED)));
  APPEND_OK(Stage("i", v1::DEAL_STAGE_AGREED));
}

TEST_F(DeciderTest, TheLatestCorrectionStands) {
  const v1::Event announced = Stage("i", v1::DEAL_STAGE_ANNOUNCED);
  APPEND_OK(Reg("amazon"), Reg("openai"), Inv("i", "amazon", "openai", v1::DEAL_STAGE_RUMORED),
            announced);
  APPEND_OK(Correct(announced, Stage("i", v1::DEAL_STAGE_CLOSED)));
  ExpectRefused({Stage("i", v1::DEAL_STAGE_ANNOUNCED)}, "DEAL_STAGE_CLOSED is terminal");
  APPEND_OK(Correct(announced, Stage("i", v1::DEAL_STAGE_IN_TALKS)));
  APPEND_OK(Stage("i", v1::DEAL_STAGE_AGREED));
  // A retraction of a corrected event removes what the latest correction says.
  const v1::Event reg = Reg("nvidia");
  const v1::Event fac = Fac("f", "openai");
  APPEND_OK(reg, fac, Correct(fac, Fac("f", "openai", "nvidia")));
  ExpectRefused({Retract(reg)}, "organization 'nvidia', which 1 standing events still name");
  APPEND_OK(Correct(fac, Fac("f", "openai")));
  APPEND_OK(Retract(reg));
}

TEST_F(DeciderTest, ACorrectedParentMayNotMakeACycle) {
  const v1::Event aws = Reg("aws");
  APPEND_OK(Reg("amazon"), aws, SetParent("amazon", "aws"));
  ExpectRefused({Correct(aws, Reg("aws", "amazon"))},
                "events[0].payload.event_corrected.replacement.organization_registered."
                "parent_org_id: the new parent would make the parents a cycle");
}

// --- Atomicity, recovery, repeats ------------------------------------------------

TEST_F(DeciderTest, ARefusedAppendLeavesNoTrace) {
  const v1::Event a = Reg("a");
  ExpectRefused({a, Reg("b"), Inv("i", "a", "ghost")},
                "events[2].payload.investment_reported.company_id: organization 'ghost' is not "
                "registered");
  // Neither 'a' nor 'b' were registered.
  ExpectRefused({Val("a")}, "organization 'a' is not registered");
  ExpectRefused({Val("b")}, "organization 'b' is not registered");
  const v1::Event c = Reg("c");
  APPEND_OK(Reg("a"), Reg("b"), c, Inv("i", "a", "b", v1::DEAL_STAGE_IN_TALKS));

  // Stage changes, ends, retractions and corrections are undone too.
  const v1::Event partner = Form("p", "a", "b");
  APPEND_OK(partner);
  ExpectRefused({Stage("i", v1::DEAL_STAGE_CLOSED), End("p"), Fac("f", "a"), Reg("d"),
                 Stage("i", v1::DEAL_STAGE_RUMORED)},
                "events[4].payload.deal_stage_changed.new_stage");
  APPEND_OK(Stage("i", v1::DEAL_STAGE_AGREED));  // not CLOSED
  APPEND_OK(Fac("f", "a"), Reg("d"));            // ids still free
  const v1::Event val = Val("a");
  APPEND_OK(val);
  ExpectRefused({Retract(val), Correct(partner, Form("p", "a", "c")), Val("ghost")},
                "events[2].payload.valuation_reported.company_id");
  APPEND_OK(Retract(val));      // not already retracted
  APPEND_OK(Retract(c));        // the corrected partnership does not name 'c'
  APPEND_OK(Retract(partner));  // the partnership had not ended
}

TEST_F(DeciderTest, AnAppendMayRetractOrCorrectItsOwnEvents) {
  const v1::Event a = Reg("a");
  const v1::Event b = Reg("b");
  APPEND_OK(a, b, Retract(a), Correct(b, Reg("b")));
  ExpectRefused({Val("a")}, "organization 'a' is not registered");
  APPEND_OK(Val("b"));
}

TEST_F(DeciderTest, EventsNotYetCommittedCanBeNamed) {
  // Appends in flight together are validated one after the other, before
  // any of them is committed; the later ones see the earlier ones.
  APPEND_OK(Reg("a"));
  std::vector<v1::Event> events;
  for (int i = 0; i < 20; ++i) events.push_back(Reg(absl::StrCat("org-", i)));
  std::vector<absl::Notification> done(events.size() * 2);
  std::vector<absl::Status> results(events.size() * 2);
  for (size_t i = 0; i < events.size(); ++i) {
    for (size_t j = 0; j < 2; ++j) {
      const v1::Event e = j == 0 ? events[i] : Retract(events[i]);
      const std::string stream = absl::StrCat("async/", i, "/", j);
      const size_t k = 2 * i + j;
      log_->ProposeAsync(stream, store::ExpectedVersion::Any(), EventsProposal::Own({e}, "tester"),
                         [&, k](absl::StatusOr<store::AppendResult> r) {
                           results[k] = r.status();
                           done[k].Notify();
                         });
    }
  }
  for (size_t k = 0; k < done.size(); ++k) {
    ASSERT_TRUE(done[k].WaitForNotificationWithTimeout(absl::Seconds(60)));
    EXPECT_OK(results[k]) << k;
  }
  ExpectRefused({Val("org-7")}, "organization 'org-7' is not registered");
  ExpectRefused({Retract(events[7])}, "was already retracted");
}

TEST_F(DeciderTest, TheStateSurvivesReopening) {
  const v1::Event closed = Stage("i", v1::DEAL_STAGE_CLOSED);
  const v1::Event val = Val("openai");
  const v1::Event announced = Stage("j", v1::DEAL_STAGE_ANNOUNCED);
  const v1::Event retracted_reg = Reg("gone");
  APPEND_OK(Reg("amazon"), Reg("openai"), Reg("aws", "amazon"),
            Inv("i", "amazon", "openai", v1::DEAL_STAGE_RUMORED), closed,
            Inv("j", "amazon", "openai", v1::DEAL_STAGE_RUMORED), announced,
            Form("p", "aws", "openai"), End("p"), Fac("f", "aws"), val, retracted_reg);
  APPEND_OK(Retract(val), Correct(announced, Stage("j", v1::DEAL_STAGE_COLLAPSED)),
            Retract(retracted_reg));
  APPEND_OK(Correct(announced, Stage("j", v1::DEAL_STAGE_IN_TALKS)));  // the latest stands
  ASSERT_OK(log_->Close());
  ASSERT_OK(Open());

  ExpectRefused({Reg("openai")}, "organization 'openai' is already registered");
  ExpectRefused({Val("gone")}, "organization 'gone' is not registered");
  ExpectRefused({SetParent("amazon", "aws")}, "cycle");
  ExpectRefused({Stage("i", v1::DEAL_STAGE_CLOSED)}, "DEAL_STAGE_CLOSED is terminal");
  ExpectRefused({Acq("i", "amazon", "openai")}, "'i' is already the id of an investment");
  ExpectRefused({End("p")}, "partnership 'p' already ended");
  ExpectRefused({Fac("f", "aws")}, "facility 'f' already exists");
  ExpectRefused({Retract(val)}, "was already retracted");
  ExpectRefused({Stage("j", v1::DEAL_STAGE_RUMORED)}, "is earlier than DEAL_STAGE_IN_TALKS");
  ExpectRefused({Retract(Reg("openai"))}, "no event");
  APPEND_OK(Stage("j", v1::DEAL_STAGE_AGREED));
  // Events appended before the reopening are found for retraction.
  APPEND_OK(Retract(closed), Stage("i", v1::DEAL_STAGE_IN_TALKS));
}

TEST_F(DeciderTest, RecoveryLeavesOutEventsThatBreakARule) {
  // Written without a decider: an investment in an unknown company, and a
  // report that reuses its id for a round.
  ASSERT_OK(Open(/*decide=*/false));
  const v1::Event amazon = Reg("amazon");
  const v1::Event inv = Inv("i", "amazon", "ghost");
  const v1::Event round = Round("i", "amazon");
  APPEND_OK(amazon, inv, round);
  ASSERT_OK(Open());
  // The investment was left out: its id is free, and 'ghost' is unknown.
  ExpectRefused({Val("ghost")}, "organization 'ghost' is not registered");
  APPEND_OK(Stage("i", v1::DEAL_STAGE_AGREED));  // the round stands
  ExpectRefused({Correct(inv, Inv("i", "amazon", "ghost"))},
                "events[0].payload.event_corrected.event_id: event '" + inv.event_id() +
                    "' breaks a rule of the domain");
  APPEND_OK(Retract(inv));
  ExpectRefused({Retract(inv)}, "was already retracted");
  // Retracting it took nothing away: the round still names 'amazon'.
  ExpectRefused({Retract(amazon)}, "organization 'amazon', which 1 standing events still name");
}

TEST_F(DeciderTest, ARepeatedAppendIsStillAccepted) {
  const std::vector<v1::Event> events = {Reg("amazon"), Reg("openai"),
                                         Inv("i", "amazon", "openai")};
  auto propose = [&] {
    return log_->Propose("org/x", store::ExpectedVersion::NoStream(),
                         EventsProposal::Own(events, "tester"));
  };
  ASSERT_OK_AND_ASSIGN(store::AppendResult first, propose());
  ASSERT_OK_AND_ASSIGN(store::AppendResult again, propose());
  EXPECT_TRUE(again.duplicate);
  EXPECT_EQ(again.first_position, first.first_position);
  ASSERT_OK(log_->Close());
  ASSERT_OK(Open());
  ASSERT_OK_AND_ASSIGN(again, propose());
  EXPECT_TRUE(again.duplicate);
  // Another principal's copy is other content.
  EXPECT_THAT(log_->Propose("org/x", store::ExpectedVersion::NoStream(),
                            EventsProposal::Own(events, "someone-else")),
              StatusIs(absl::StatusCode::kAlreadyExists));
}

TEST_F(DeciderTest, ARefusalLeavesAnExistingStreamAsItWas) {
  APPEND_OK(Reg("openai"));
  ASSERT_OK(Append({Rename("openai")}, "org/openai"));
  ASSERT_OK_AND_ASSIGN(store::StreamVersion before, log_->GetStreamVersion("org/openai"));
  const Position last = log_->LastPosition();
  EXPECT_THAT(Append({Rename("openai"), Reg("openai")}, "org/openai"),
              StatusIsWith(kRefused, "events[1].payload.organization_registered.org_id"));
  ASSERT_OK_AND_ASSIGN(store::StreamVersion after, log_->GetStreamVersion("org/openai"));
  EXPECT_EQ(after, before);
  EXPECT_EQ(log_->LastPosition(), last);
}

TEST_F(DeciderTest, ALogWithADeciderTakesProposalsOnly) {
  // Complete events would skip Encode's checks: they are refused.
  ASSERT_OK_AND_ASSIGN(std::vector<store::ProposedEvent> raw, Encode({Reg("openai")}, "org/o"));
  EXPECT_THAT(log_->Append("org/o", store::ExpectedVersion::Any(), raw),
              StatusIsWith(kRefused, "proposed events only"));
  EXPECT_EQ(log_->LastPosition(), Position(0));
}

TEST_F(DeciderTest, EncodeChecksTheStreamAndEveryEnvelope) {
  ExpectRefused({Reg("a"), Reg("Open AI")}, "events[1].payload.organization_registered.org_id",
                kInvalid);
  v1::Event no_date = Reg("b");
  no_date.clear_effective();
  ExpectRefused({no_date}, "events[0].effective: is required", kInvalid);
  v1::Event other_stream = Reg("c");
  other_stream.set_stream("org/elsewhere");
  ExpectRefused({other_stream}, "events[0].stream", kInvalid);
  EXPECT_THAT(log_->Propose("org a", store::ExpectedVersion::Any(),
                            EventsProposal::Own({Reg("d")}, "tester")),
              StatusIsWith(kInvalid, "stream: must be printable ASCII"));
  EXPECT_THAT(log_->Propose("org/e", store::ExpectedVersion::Any(), EventsProposal::Own({}, "t")),
              StatusIsWith(kInvalid, "events:"));
  EXPECT_EQ(log_->LastPosition(), Position(0));
  // Nothing of the refusals is in the state.
  APPEND_OK(Reg("a"), Reg("b"), Reg("c"), Reg("d"));
}

// --- Tags --------------------------------------------------------------------

TEST_F(DeciderTest, TagsNameWhatAnEventIsAboutAndWhatItInherits) {
  const v1::Event amazon = Reg("amazon"), aws = Reg("aws", "amazon"), openai = Reg("openai");
  const v1::Event round = Round("r", "openai", v1::DEAL_STAGE_IN_TALKS, {"amazon"});
  const v1::Event inv = Inv("i", "aws", "openai", v1::DEAL_STAGE_RUMORED, "r");
  const v1::Event stage = Stage("i", v1::DEAL_STAGE_AGREED);
  const v1::Event round_stage = Stage("r", v1::DEAL_STAGE_AGREED);
  const v1::Event form = Form("p", "aws", "openai");
  const v1::Event end = End("p");
  APPEND_OK(amazon, aws, openai, round, inv);
  APPEND_OK(stage, round_stage, form);
  APPEND_OK(end);
  const v1::Event retract = Retract(stage);
  const v1::Event correct = Correct(inv, Inv("i", "aws", "openai", v1::DEAL_STAGE_IN_TALKS, "r"));
  APPEND_OK(retract, correct);
  const std::map<std::string, std::vector<std::string>> want = {
      {amazon.event_id(), {"org/amazon"}},
      {aws.event_id(), {"org/amazon", "org/aws"}},
      {round.event_id(), {"deal/r", "org/amazon", "org/openai"}},
      {inv.event_id(), {"deal/i", "deal/r", "org/aws", "org/openai"}},
      {stage.event_id(), {"deal/i", "org/aws", "org/openai"}},
      {round_stage.event_id(), {"deal/r", "org/amazon", "org/openai"}},
      {form.event_id(), {"org/aws", "org/openai", "partnership/p"}},
      {end.event_id(), {"org/aws", "org/openai", "partnership/p"}},
      {retract.event_id(), {"deal/i", "org/aws", "org/openai"}},
      {correct.event_id(), {"deal/i", "deal/r", "org/aws", "org/openai"}},
  };
  for (const auto& [id, tags] : want) {
    ASSERT_OK_AND_ASSIGN(store::RecordedEvent e, Stored(id));
    EXPECT_THAT(e.tags, testing::ElementsAreArray(tags)) << e.type;
  }
}

// A decider that holds the writer in its first Encode until released, so
// that the appends queued meanwhile are decided together in the next group.
class HeldDecider final : public store::Decider {
 public:
  explicit HeldDecider(std::shared_ptr<store::Decider> inner) : inner_(std::move(inner)) {}
  absl::Status Recover(const store::EventLog& log) override { return inner_->Recover(log); }
  absl::Status Encode(absl::string_view stream, const store::Proposal& proposal,
                      std::vector<store::ProposedEvent>* events) override {
    if (!held_) {
      held_ = true;
      entered_.Notify();
      release_.WaitForNotification();
    }
    return inner_->Encode(stream, proposal, events);
  }
  absl::Status Decide(absl::string_view stream, store::Position first, absl::Time recorded,
                      const store::Proposal* proposal, const store::AcceptedEvents& accepted,
                      std::vector<store::ProposedEvent>* events) override {
    return inner_->Decide(stream, first, recorded, proposal, accepted, events);
  }
  void Closing() override { inner_->Closing(); }
  absl::Notification entered_, release_;

 private:
  std::shared_ptr<store::Decider> inner_;
  bool held_ = false;  // writer thread only
};

TEST_F(DeciderTest, TagsOfAnEventReferringToOnePendingInTheSameGroupCommit) {
  log_.reset();
  store::Options options;
  auto held = std::make_shared<HeldDecider>(std::make_shared<DomainDecider>());
  options.decider = held;
  options.clock = clock_;
  ASSERT_OK_AND_ASSIGN(log_, store::OpenEventLog(dir_, options));

  const v1::Event amazon = Reg("amazon"), openai = Reg("openai");
  const v1::Event inv = Inv("i", "amazon", "openai");
  const v1::Event stage = Stage("i", v1::DEAL_STAGE_IN_TALKS);
  const v1::Event retract = Retract(stage);
  const std::vector<std::vector<v1::Event>> appends = {
      {amazon, openai}, {inv}, {stage}, {retract}};
  std::vector<absl::Notification> done(appends.size());
  std::vector<absl::StatusOr<store::AppendResult>> results(appends.size());
  auto propose = [&](size_t k) {
    log_->ProposeAsync(absl::StrCat("s/", k), store::ExpectedVersion::Any(),
                       EventsProposal::Own(appends[k], "tester"),
                       [&, k](absl::StatusOr<store::AppendResult> r) {
                         results[k] = std::move(r);
                         done[k].Notify();
                       });
  };
  propose(0);  // held in Encode: the writer has taken it as a group of its own
  ASSERT_TRUE(held->entered_.WaitForNotificationWithTimeout(absl::Seconds(30)));
  for (size_t k = 1; k < appends.size(); ++k) propose(k);
  held->release_.Notify();
  for (size_t k = 0; k < appends.size(); ++k) {
    ASSERT_TRUE(done[k].WaitForNotificationWithTimeout(absl::Seconds(30)));
    ASSERT_OK(results[k]) << k;
  }
  // The investment, its stage change and that one's retraction were one
  // group.
  EXPECT_EQ(results[1]->recorded_time, results[2]->recorded_time);
  EXPECT_EQ(results[1]->recorded_time, results[3]->recorded_time);
  EXPECT_NE(results[0]->recorded_time, results[1]->recorded_time);

  ASSERT_OK_AND_ASSIGN(store::RecordedEvent s, Stored(stage.event_id()));
  EXPECT_THAT(s.tags, testing::ElementsAre("deal/i", "org/amazon", "org/openai"));
  ASSERT_OK_AND_ASSIGN(store::RecordedEvent r, Stored(retract.event_id()));
  EXPECT_THAT(r.tags, testing::ElementsAre("deal/i", "org/amazon", "org/openai"));
  // And so after a restart: the state is the log's.
  ASSERT_OK(Open());
  ExpectRefused({Retract(stage)}, "was already retracted");
}

}  // namespace
}  // namespace dealwire::domain
