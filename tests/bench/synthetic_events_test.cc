// Tests of the synthetic event generator (bench/synthetic_events.h): it is
// deterministic, and what it generates is valid when appended in order.
#include "bench/synthetic_events.h"

#include <algorithm>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "common/event_jsonl.h"
#include "tests/bench/domain_rules.h"
#include "tests/common/status_matchers.h"

namespace dealwire::bench {
namespace {

namespace v1 = dealwire::v1;
using Case = v1::EventPayload::PayloadCase;

std::string Jsonl(const SyntheticOptions& options) {
  SyntheticEvents gen(options);
  v1::Event e;
  std::string out;
  while (gen.Next(&e)) common::AppendEventJsonl(e, &out);
  return out;
}

TEST(SyntheticEventsTest, SameOptionsGiveTheSameBytes) {
  const SyntheticOptions options{.seed = 7, .events = 20'000, .companies = 300, .investors = 100};
  const std::string a = Jsonl(options);
  const std::string b = Jsonl(options);
  EXPECT_EQ(a.size(), b.size());
  EXPECT_TRUE(a == b) << "the same seed gave different output";
  EXPECT_EQ(std::count(a.begin(), a.end(), '\n'), 20'000);
}

TEST(SyntheticEventsTest, OtherSeedsGiveOtherData) {
  SyntheticOptions options{.seed = 7, .events = 2'000, .companies = 300, .investors = 100};
  const std::string a = Jsonl(options);
  options.seed = 8;
  const std::string b = Jsonl(options);
  EXPECT_NE(a, b);
}

TEST(SyntheticEventsTest, YieldsExactlyTheEventsAskedFor) {
  SyntheticEvents none({.seed = 1, .events = 0});
  v1::Event e;
  EXPECT_FALSE(none.Next(&e));

  // Tiny runs stay valid too.
  for (size_t n : {1, 2, 3, 10, 100}) {
    SyntheticEvents gen({.seed = 3, .events = n, .companies = 1, .investors = 1});
    test_util::DomainRules rules;
    size_t count = 0;
    while (gen.Next(&e)) {
      ++count;
      ASSERT_OK(rules.Apply(e)) << e.DebugString();
    }
    EXPECT_EQ(count, n);
    EXPECT_EQ(gen.generated(), n);
  }
}

// The checker below must itself refuse what the contract refuses, or the
// data-set tests could not fail.
TEST(DomainRulesTest, RefusesWhatTheContractRefuses) {
  int next_id = 0;
  auto event = [&](const std::string& stream) {
    v1::Event e;
    e.set_event_id(absl::StrFormat("00000000-0000-4000-8000-%012d", ++next_id));
    e.set_stream(stream);
    e.mutable_effective()->mutable_date()->set_year(2026);
    e.mutable_effective()->set_precision(v1::DATE_PRECISION_YEAR);
    e.set_confidence(v1::CONFIDENCE_REPORTED);
    return e;
  };
  auto reg = [&](const std::string& id) {
    v1::Event e = event("org/" + id);
    auto* r = e.mutable_payload()->mutable_organization_registered();
    r->set_org_id(id);
    r->set_name(id);
    r->set_kind(v1::ORGANIZATION_KIND_COMPANY);
    return e;
  };
  auto invest = [&](const std::string& id, const std::string& investor, v1::DealStage stage) {
    v1::Event e = event("deal/" + id);
    auto* r = e.mutable_payload()->mutable_investment_reported();
    r->set_investment_id(id);
    r->set_investor_id(investor);
    r->set_company_id("openai");
    r->set_instrument(v1::INSTRUMENT_EQUITY);
    r->set_stage(stage);
    return e;
  };
  auto stage = [&](const std::string& id, v1::DealStage s) {
    v1::Event e = event("deal/" + id);
    e.mutable_payload()->mutable_deal_stage_changed()->set_deal_id(id);
    e.mutable_payload()->mutable_deal_stage_changed()->set_new_stage(s);
    return e;
  };

  test_util::DomainRules rules;
  ASSERT_OK(rules.Apply(reg("openai")));
  ASSERT_OK(rules.Apply(reg("amazon")));
  const v1::Event twice = reg("openai");
  EXPECT_THAT(rules.Apply(twice), test_util::StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(rules.Apply(invest("x-openai", "amazn", v1::DEAL_STAGE_IN_TALKS)),
              test_util::StatusIsWith(absl::StatusCode::kFailedPrecondition, "not registered"));
  ASSERT_OK(rules.Apply(invest("amazon-openai", "amazon", v1::DEAL_STAGE_IN_TALKS)));
  EXPECT_THAT(rules.Apply(stage("amazon-openai", v1::DEAL_STAGE_RUMORED)),
              test_util::StatusIs(absl::StatusCode::kFailedPrecondition));
  ASSERT_OK(rules.Apply(stage("amazon-openai", v1::DEAL_STAGE_CLOSED)));
  EXPECT_THAT(rules.Apply(stage("amazon-openai", v1::DEAL_STAGE_COLLAPSED)),
              test_util::StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(rules.Apply(stage("no-such-deal", v1::DEAL_STAGE_CLOSED)),
              test_util::StatusIs(absl::StatusCode::kFailedPrecondition));

  v1::Event valuation = event("org/openai");
  valuation.mutable_payload()->mutable_valuation_reported()->set_company_id("openai");
  valuation.mutable_payload()->mutable_valuation_reported()->set_basis(
      v1::VALUATION_BASIS_ESTIMATE);
  auto* money = valuation.mutable_payload()->mutable_valuation_reported()->mutable_valuation();
  money->set_currency_code("USD");
  money->set_units(830'000'000'000);
  ASSERT_OK(rules.Apply(valuation));
  v1::Event retract = event("org/openai");
  retract.mutable_payload()->mutable_event_retracted()->set_event_id(valuation.event_id());
  ASSERT_OK(rules.Apply(retract));
  retract.set_event_id("00000000-0000-4000-8000-999999999999");
  EXPECT_THAT(rules.Apply(retract),
              test_util::StatusIsWith(absl::StatusCode::kFailedPrecondition, "retracted"));
  v1::Event wrong_stream = invest("amazon-openai-2", "amazon", v1::DEAL_STAGE_IN_TALKS);
  wrong_stream.set_stream("deal/other");
  EXPECT_THAT(rules.Apply(wrong_stream), test_util::StatusIs(absl::StatusCode::kInvalidArgument));
}

// What the header promises of a realistic data set, checked on 200k events.
class SyntheticDataSetTest : public ::testing::Test {
 protected:
  static constexpr size_t kEvents = 200'000;

  static void SetUpTestSuite() {
    data_ = new Data;
    SyntheticEvents gen({.seed = 42, .events = kEvents, .companies = 3000, .investors = 1000});
    data_->planned_orgs = gen.planned_companies() + gen.planned_investors();
    test_util::DomainRules rules;
    v1::Event e;
    while (gen.Next(&e)) {
      const Case c = e.payload().payload_case();
      ++data_->counts[c];
      if (data_->first_error.ok()) {
        absl::Status s = rules.Apply(e);
        if (!s.ok()) {
          data_->first_error =
              absl::Status(s.code(), absl::StrCat(s.message(), "\n", e.DebugString()));
        }
      }
      const v1::Date& d = e.effective().date();
      ++data_->years[d.year()];
      ++data_->precisions[e.effective().precision()];
      ++data_->confidences[e.confidence()];
      if (c == Case::kInvestmentReported && e.payload().investment_reported().has_amount()) {
        ++data_->currencies[e.payload().investment_reported().amount().currency_code()];
      }
      // Late reports: effective before the latest effective date seen in the
      // same stream so far.
      const int key = d.year() * 10000 + d.month() * 100 + d.day();
      int& latest = data_->latest_in_stream[e.stream()];
      if (key < latest) ++data_->late;
      latest = std::max(latest, key);
      if (data_->sample.size() < 5'000) data_->sample.push_back(e);
      data_->generator_counts_match =
          data_->generator_counts_match && gen.count(c) == data_->counts[c];
    }
  }
  static void TearDownTestSuite() {
    delete data_;
    data_ = nullptr;
  }

  struct Data {
    absl::Status first_error;
    size_t planned_orgs = 0;
    absl::flat_hash_map<Case, size_t> counts;
    absl::flat_hash_map<int, size_t> years;
    absl::flat_hash_map<int, size_t> precisions;
    absl::flat_hash_map<int, size_t> confidences;
    absl::flat_hash_map<std::string, size_t> currencies;
    absl::flat_hash_map<std::string, int> latest_in_stream;
    size_t late = 0;
    std::vector<v1::Event> sample;
    bool generator_counts_match = true;
  };
  static Data* data_;

  static double Share(Case c) {
    auto it = data_->counts.find(c);
    return it == data_->counts.end() ? 0.0 : static_cast<double>(it->second) / kEvents;
  }
};
SyntheticDataSetTest::Data* SyntheticDataSetTest::data_ = nullptr;

TEST_F(SyntheticDataSetTest, EveryEventIsValidWhenAppendedInOrder) {
  // ValidateEnvelope, canonical unique event ids, organizations registered
  // before use, stages only forward, rounds of the same company, retractions
  // and corrections of standing events, stream conventions: see DomainRules.
  EXPECT_OK(data_->first_error);
}

TEST_F(SyntheticDataSetTest, MixIsRealistic) {
  EXPECT_EQ(data_->counts[Case::kOrganizationRegistered], data_->planned_orgs);
  EXPECT_EQ(data_->planned_orgs, 4000u);  // 2 % of 200k
  struct Expected {
    Case c;
    double min;
    double max;
  };
  const Expected kExpected[] = {
      {Case::kOrganizationUpdated, 0.005, 0.02}, {Case::kFundingRoundReported, 0.08, 0.14},
      {Case::kInvestmentReported, 0.27, 0.40},   {Case::kDealStageChanged, 0.16, 0.27},
      {Case::kValuationReported, 0.10, 0.17},    {Case::kStakeDisclosed, 0.03, 0.06},
      {Case::kAcquisitionReported, 0.005, 0.02}, {Case::kPartnershipFormed, 0.045, 0.09},
      {Case::kPartnershipEnded, 0.005, 0.02},    {Case::kFacilityAnnounced, 0.012, 0.035},
      {Case::kFxRateReported, 0.005, 0.02},      {Case::kEventRetracted, 0.002, 0.01},
      {Case::kEventCorrected, 0.002, 0.01},
  };
  for (const Expected& x : kExpected) {
    EXPECT_GE(Share(x.c), x.min) << x.c;
    EXPECT_LE(Share(x.c), x.max) << x.c;
  }
  EXPECT_TRUE(data_->generator_counts_match) << "SyntheticEvents::count disagrees";
}

TEST_F(SyntheticDataSetTest, DatesConfidencesAndCurrenciesAreSpread) {
  for (int year = 2015; year <= 2026; ++year) {
    EXPECT_GT(data_->years[year], kEvents / 40) << year;
  }
  EXPECT_EQ(data_->years.size(), 12u) << "effective dates outside 2015..2026";
  for (int p = v1::DATE_PRECISION_DAY; p <= v1::DATE_PRECISION_YEAR; ++p) {
    EXPECT_GT(data_->precisions[p], kEvents / 20) << v1::DatePrecision_Name(p);
  }
  for (int c = v1::CONFIDENCE_RUMORED; c <= v1::CONFIDENCE_OFFICIAL; ++c) {
    EXPECT_GT(data_->confidences[c], kEvents / 20) << v1::Confidence_Name(c);
  }
  size_t amounts = 0;
  for (const auto& [code, n] : data_->currencies) amounts += n;
  EXPECT_GT(data_->currencies["USD"], amounts * 7 / 10);
  for (const char* code : {"EUR", "GBP", "JPY"}) {
    EXPECT_GT(data_->currencies[code], amounts / 100) << code;
  }
  // Some claims are reported late (the header says about 5 %).
  EXPECT_GT(data_->late, kEvents / 50);
  EXPECT_LT(data_->late, kEvents / 5);
}

TEST_F(SyntheticDataSetTest, EventsSurviveJsonLinesUnchanged) {
  std::string text;
  for (const v1::Event& e : data_->sample) common::AppendEventJsonl(e, &text);
  ASSERT_OK_AND_ASSIGN(std::vector<v1::Event> back, common::ParseEventsJsonl(text, "gen"));
  ASSERT_EQ(back.size(), data_->sample.size());
  google::protobuf::util::JsonPrintOptions options;
  for (size_t i = 0; i < back.size(); ++i) {
    ASSERT_TRUE(google::protobuf::util::MessageDifferencer::Equals(back[i], data_->sample[i])) << i;
  }
  // AppendEventJsonl agrees with MessageToJsonString.
  for (size_t i = 0; i < 500; ++i) {
    std::string mine;
    common::AppendEventJsonl(data_->sample[i], &mine);
    std::string reference;
    ASSERT_TRUE(
        google::protobuf::util::MessageToJsonString(data_->sample[i], &reference, options).ok());
    ASSERT_EQ(mine, reference + "\n");
  }
}

}  // namespace
}  // namespace dealwire::bench
