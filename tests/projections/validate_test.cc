// Tests of the state-free checks of an event (projections/validate.h).
#include "projections/validate.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/common/status_matchers.h"

namespace dealwire::projections {
namespace {

namespace v1 = dealwire::v1;
using ::dealwire::test_util::StatusIs;
using ::dealwire::test_util::StatusIsWith;

v1::Date Date(int y, int m, int d) {
  v1::Date out;
  out.set_year(y);
  out.set_month(m);
  out.set_day(d);
  return out;
}

v1::EffectiveDate Effective(int y, int m, int d, v1::DatePrecision p) {
  v1::EffectiveDate out;
  *out.mutable_date() = Date(y, m, d);
  out.set_precision(p);
  return out;
}

v1::Event ValidEvent() {
  v1::Event e;
  e.set_event_id("0b6f2c1e-7d4a-4e8b-9a51-3c2d1f0e9b7a");
  *e.mutable_effective() = Effective(2026, 1, 0, v1::DATE_PRECISION_MONTH);
  e.set_confidence(v1::CONFIDENCE_REPORTED);
  v1::Source* s = e.add_sources();
  s->set_publisher("Reuters");
  s->set_url("https://www.reuters.com/x");
  auto* org = e.mutable_payload()->mutable_organization_registered();
  org->set_org_id("openai");
  org->set_name("OpenAI");
  return e;
}

TEST(ValidateTest, CanonicalUuids) {
  EXPECT_TRUE(IsCanonicalUuid("0b6f2c1e-7d4a-4e8b-9a51-3c2d1f0e9b7a"));
  EXPECT_FALSE(IsCanonicalUuid("0B6F2C1E-7D4A-4E8B-9A51-3C2D1F0E9B7A"));  // upper case
  EXPECT_FALSE(IsCanonicalUuid("00000000-0000-0000-0000-000000000000"));  // nil
  EXPECT_FALSE(IsCanonicalUuid("0b6f2c1e7d4a4e8b9a513c2d1f0e9b7a"));      // no dashes
  EXPECT_FALSE(IsCanonicalUuid("0b6f2c1e-7d4a-4e8b-9a51-3c2d1f0e9b7g"));
  EXPECT_FALSE(IsCanonicalUuid(""));
}

TEST(ValidateTest, DatesAtEachPrecision) {
  EXPECT_OK(ValidateEffectiveDate(Effective(2026, 1, 28, v1::DATE_PRECISION_DAY), "d"));
  EXPECT_OK(ValidateEffectiveDate(Effective(2024, 2, 29, v1::DATE_PRECISION_DAY), "d"));
  EXPECT_OK(ValidateEffectiveDate(Effective(2026, 1, 0, v1::DATE_PRECISION_MONTH), "d"));
  EXPECT_OK(ValidateEffectiveDate(Effective(2026, 4, 0, v1::DATE_PRECISION_QUARTER), "d"));
  EXPECT_OK(ValidateEffectiveDate(Effective(2015, 0, 0, v1::DATE_PRECISION_YEAR), "d"));

  EXPECT_THAT(ValidateEffectiveDate(Effective(2026, 2, 29, v1::DATE_PRECISION_DAY), "x"),
              StatusIsWith(absl::StatusCode::kInvalidArgument, "x.date.day"));
  EXPECT_THAT(ValidateEffectiveDate(Effective(2100, 2, 29, v1::DATE_PRECISION_DAY), "x"),
              StatusIsWith(absl::StatusCode::kInvalidArgument, "x.date.day"));
  EXPECT_THAT(ValidateEffectiveDate(Effective(2026, 13, 0, v1::DATE_PRECISION_MONTH), "x"),
              StatusIsWith(absl::StatusCode::kInvalidArgument, "x.date.month"));
  EXPECT_THAT(ValidateEffectiveDate(Effective(2026, 1, 5, v1::DATE_PRECISION_MONTH), "x"),
              StatusIsWith(absl::StatusCode::kInvalidArgument, "x.date"));
  EXPECT_THAT(ValidateEffectiveDate(Effective(2026, 2, 0, v1::DATE_PRECISION_QUARTER), "x"),
              StatusIsWith(absl::StatusCode::kInvalidArgument, "QUARTER"));
  EXPECT_THAT(ValidateEffectiveDate(Effective(2026, 1, 0, v1::DATE_PRECISION_YEAR), "x"),
              StatusIsWith(absl::StatusCode::kInvalidArgument, "YEAR"));
  EXPECT_THAT(ValidateEffectiveDate(Effective(2026, 1, 0, v1::DATE_PRECISION_UNSPECIFIED), "x"),
              StatusIsWith(absl::StatusCode::kInvalidArgument, "x.precision"));
  EXPECT_THAT(ValidateEffectiveDate(Effective(0, 0, 0, v1::DATE_PRECISION_YEAR), "x"),
              StatusIsWith(absl::StatusCode::kInvalidArgument, "x.date.year"));
  EXPECT_THAT(ValidateDate(Date(2026, 0, 3), "p"),
              StatusIsWith(absl::StatusCode::kInvalidArgument, "p.day"));
  EXPECT_OK(ValidateDate(Date(0, 0, 0), "p"));  // unknown
}

TEST(ValidateTest, StreamNames) {
  EXPECT_OK(ValidateStreamName("deal/amazon-openai-2026", "stream"));
  EXPECT_THAT(ValidateStreamName("", "stream"),
              StatusIsWith(absl::StatusCode::kInvalidArgument, "stream"));
  EXPECT_THAT(ValidateStreamName("org/open ai", "stream"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ValidateStreamName(std::string(201, 'a'), "stream"),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_OK(ValidateStreamName(std::string(200, 'a'), "stream"));
}

TEST(ValidateTest, EnvelopeNamesTheOffendingField) {
  EXPECT_OK(ValidateEnvelope(ValidEvent(), "events[0]"));
  struct Case {
    const char* field;
    std::function<void(v1::Event&)> spoil;
  };
  const std::vector<Case> cases = {
      {"events[0].event_id", [](v1::Event& e) { e.set_event_id("x"); }},
      {"events[0].position", [](v1::Event& e) { e.set_position(5); }},
      {"events[0].stream_version", [](v1::Event& e) { e.set_stream_version(1); }},
      {"events[0].recorded_time", [](v1::Event& e) { e.mutable_recorded_time()->set_seconds(1); }},
      {"events[0].recorded_by", [](v1::Event& e) { e.set_recorded_by("me"); }},
      {"events[0].effective", [](v1::Event& e) { e.clear_effective(); }},
      {"events[0].confidence", [](v1::Event& e) { e.set_confidence(v1::CONFIDENCE_UNSPECIFIED); }},
      {"events[0].sources[0].publisher", [](v1::Event& e) { e.mutable_sources(0)->clear_publisher(); }},
      {"events[0].sources[0].url", [](v1::Event& e) { e.mutable_sources(0)->set_url("ftp://x"); }},
      {"events[0].sources[0].published_date.month",
       [](v1::Event& e) { *e.mutable_sources(0)->mutable_published_date() = Date(2026, 14, 0); }},
      {"events[0].sources", [](v1::Event& e) {
         for (int i = 0; i < 20; ++i) *e.add_sources() = e.sources(0);
       }},
      {"events[0].payload", [](v1::Event& e) { e.clear_payload(); }},
  };
  for (const Case& c : cases) {
    v1::Event e = ValidEvent();
    c.spoil(e);
    EXPECT_THAT(ValidateEnvelope(e, "events[0]"),
                StatusIsWith(absl::StatusCode::kInvalidArgument, c.field))
        << c.field;
  }
}

}  // namespace
}  // namespace dealwire::projections
