// Unit tests of clients/cli/parse.h: what people type, turned into exact
// domain values, and refusals that name the field (exit code 2).
#include "clients/cli/parse.h"

#include <cstdint>
#include <set>
#include <string>

#include "clients/cli/cli.h"
#include "dealwire/v1/events.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace dealwire::cli {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

// Runs `f`, expecting a CommandError for bad input whose message starts with
// "<field>: "; returns the message.
template <typename F>
std::string Refusal(F f, const std::string& field) {
  try {
    f();
  } catch (const CommandError& e) {
    EXPECT_EQ(e.exit_code, kExitBadInput) << e.message;
    EXPECT_THAT(e.message, StartsWith(field + ": "));
    return e.message;
  }
  ADD_FAILURE() << "accepted, expected a refusal naming " << field;
  return "";
}

void ExpectMoney(const std::string& text, const std::string& currency, int64_t units,
                 int32_t nanos) {
  SCOPED_TRACE(text);
  v1::Money m;
  try {
    m = ParseMoney("--amount", text);
  } catch (const CommandError& e) {
    ADD_FAILURE() << "refused: " << e.message;
    return;
  }
  EXPECT_EQ(m.currency_code(), currency);
  EXPECT_EQ(m.units(), units);
  EXPECT_EQ(m.nanos(), nanos);
}

// --- Money ---------------------------------------------------------------------

TEST(ParseMoney, AcceptsTheFormsAnalystsWrite) {
  ExpectMoney("50B USD", "USD", 50'000'000'000, 0);
  ExpectMoney("$8,000,000,000", "USD", 8'000'000'000, 0);
  ExpectMoney("USD 11000000000", "USD", 11'000'000'000, 0);
  ExpectMoney("€4M", "EUR", 4'000'000, 0);
  ExpectMoney("4.5M EUR", "EUR", 4'500'000, 0);
  ExpectMoney("1.25T USD", "USD", 1'250'000'000'000, 0);
  ExpectMoney("£950K", "GBP", 950'000, 0);
  ExpectMoney("$8 billion", "USD", 8'000'000'000, 0);
  ExpectMoney("$1.25 billion", "USD", 1'250'000'000, 0);
  ExpectMoney("300 million USD", "USD", 300'000'000, 0);
  ExpectMoney("¥1.2bn", "JPY", 1'200'000'000, 0);
  ExpectMoney("US$5m", "USD", 5'000'000, 0);
  ExpectMoney("  50b   USD ", "USD", 50'000'000'000, 0);
  ExpectMoney("CHF 3.5", "CHF", 3, 500'000'000);
  ExpectMoney("USD11000000000", "USD", 11'000'000'000, 0);
  ExpectMoney("$50B USD", "USD", 50'000'000'000, 0);  // the same currency twice is fine
  ExpectMoney("0 USD", "USD", 0, 0);
}

TEST(ParseMoney, DecimalsAreExactToTheNano) {
  // Binary floating point would turn these into ...99999 or ...00001.
  ExpectMoney("0.1 USD", "USD", 0, 100'000'000);
  ExpectMoney("1.000000001 EUR", "EUR", 1, 1);
  ExpectMoney("2.675 USD", "USD", 2, 675'000'000);
  ExpectMoney("1.234567891234K USD", "USD", 1234, 567'891'234);
  ExpectMoney("0.000000001T USD", "USD", 1000, 0);
  ExpectMoney("1.50000000000 USD", "USD", 1, 500'000'000);  // trailing zeros beyond nanos
  ExpectMoney(".5M USD", "USD", 500'000, 0);
  ExpectMoney("1,234,567.89 USD", "USD", 1'234'567, 890'000'000);
}

TEST(ParseMoney, TheLargestAmountIsTenToTheFifteen) {
  ExpectMoney("1000T USD", "USD", 1'000'000'000'000'000, 0);
  EXPECT_THAT(Refusal([] { ParseMoney("--amount", "1000.000000001T USD"); }, "--amount"),
              HasSubstr("too large"));
  EXPECT_THAT(Refusal([] { ParseMoney("--amount", "9223372036854775808 USD"); }, "--amount"),
              HasSubstr("too large"));
  EXPECT_THAT(
      Refusal([] { ParseMoney("--amount", "99999999999999999999999999999 USD"); }, "--amount"),
      HasSubstr("too large"));
  EXPECT_THAT(Refusal([] { ParseMoney("--amount", "10000000T USD"); }, "--amount"),
              HasSubstr("too large"));
}

TEST(ParseMoney, RefusesBadInputNamingTheField) {
  EXPECT_THAT(Refusal([] { ParseMoney("--amount", "50X USD"); }, "--amount"), HasSubstr("'X'"));
  EXPECT_THAT(Refusal([] { ParseMoney("--amount", "USD"); }, "--amount"), HasSubstr("no number"));
  EXPECT_THAT(Refusal([] { ParseMoney("--amount", "1.2.3M USD"); }, "--amount"),
              HasSubstr("not a number"));
  EXPECT_THAT(Refusal([] { ParseMoney("--amount", "50B"); }, "--amount"),
              HasSubstr("no currency"));
  EXPECT_THAT(Refusal([] { ParseMoney("--amount", "-5 USD"); }, "--amount"),
              HasSubstr("negative"));
  EXPECT_THAT(Refusal([] { ParseMoney("--amount", "USD -5"); }, "--amount"),
              HasSubstr("negative"));
  EXPECT_THAT(Refusal([] { ParseMoney("--amount", "50B ABC"); }, "--amount"),
              HasSubstr("ISO 4217"));
  EXPECT_THAT(Refusal([] { ParseMoney("--amount", "5 HRK"); }, "--amount"),  // withdrawn 2023
              HasSubstr("ISO 4217"));
  EXPECT_THAT(Refusal([] { ParseMoney("--amount", "5 XXX"); }, "--amount"), HasSubstr("ISO 4217"));
  EXPECT_THAT(Refusal([] { ParseMoney("--amount", "50B usd"); }, "--amount"), HasSubstr("USD"));
  EXPECT_THAT(Refusal([] { ParseMoney("--amount", "$50B EUR"); }, "--amount"),
              HasSubstr("two currencies"));
  EXPECT_THAT(Refusal([] { ParseMoney("--amount", "50 USD EUR"); }, "--amount"),
              HasSubstr("USD"));
  Refusal([] { ParseMoney("--amount", "50 USD 7"); }, "--amount");
  Refusal([] { ParseMoney("--amount", "B 50 USD"); }, "--amount");
  Refusal([] { ParseMoney("--amount", "50 USD B"); }, "--amount");
  Refusal([] { ParseMoney("--amount", "50 B B USD"); }, "--amount");
  Refusal([] { ParseMoney("--amount", "5 6 USD"); }, "--amount");
  Refusal([] { ParseMoney("--amount", ""); }, "--amount");
  Refusal([] { ParseMoney("--amount", "1,00 USD"); }, "--amount");
  Refusal([] { ParseMoney("--amount", "1000,000 USD"); }, "--amount");
  Refusal([] { ParseMoney("--amount", "5. USD"); }, "--amount");
  Refusal([] { ParseMoney("--amount", "5#USD"); }, "--amount");
  Refusal([] { ParseMoney("--amount", "fifty USD"); }, "--amount");
  EXPECT_THAT(Refusal([] { ParseMoney("--amount", "0.0000000001 USD"); }, "--amount"),
              HasSubstr("billionth"));
  // The field named is the one given.
  Refusal([] { ParseMoney("--price", "50X USD"); }, "--price");
}

TEST(ParseMoney, BoundWordsSetTheAmountBound) {
  v1::AmountBound b;
  v1::Money m = ParseBoundedMoney("--amount", "up to $50B", &b);
  EXPECT_EQ(b, v1::AMOUNT_BOUND_UP_TO);
  EXPECT_EQ(m.units(), 50'000'000'000);
  m = ParseBoundedMoney("--amount", "at least 8B USD", &b);
  EXPECT_EQ(b, v1::AMOUNT_BOUND_AT_LEAST);
  EXPECT_EQ(m.units(), 8'000'000'000);
  m = ParseBoundedMoney("--amount", "~100B USD", &b);
  EXPECT_EQ(b, v1::AMOUNT_BOUND_APPROXIMATE);
  EXPECT_EQ(m.units(), 100'000'000'000);
  m = ParseBoundedMoney("--amount", "As much as $830B", &b);
  EXPECT_EQ(b, v1::AMOUNT_BOUND_UP_TO);
  m = ParseBoundedMoney("--amount", "50B USD", &b);
  EXPECT_EQ(b, v1::AMOUNT_BOUND_UNSPECIFIED);
  Refusal([&] { ParseBoundedMoney("--amount", "up to", &b); }, "--amount");
}

TEST(ParseRate, ExactDecimalsInTheQuoteCurrency) {
  v1::Money r = ParseRate("--rate", "1.0842", "USD");
  EXPECT_EQ(r.currency_code(), "USD");
  EXPECT_EQ(r.units(), 1);
  EXPECT_EQ(r.nanos(), 84'200'000);
  r = ParseRate("--rate", "0.006912345", "USD");
  EXPECT_EQ(r.units(), 0);
  EXPECT_EQ(r.nanos(), 6'912'345);
  Refusal([] { ParseRate("--rate", "0", "USD"); }, "--rate");
  Refusal([] { ParseRate("--rate", "-1.1", "USD"); }, "--rate");
  Refusal([] { ParseRate("--rate", "1.1 USD", "USD"); }, "--rate");
  Refusal([] { ParseRate("--rate", "0.0000000001", "USD"); }, "--rate");
}

TEST(Iso4217, ActiveCodesOnly) {
  EXPECT_EQ(ParseCurrency("--quote", "ZWG"), "ZWG");
  for (const char* code : {"HRK", "VEF", "XTS", "XXX", "ABC", "USDX"}) {
    Refusal([code] { ParseCurrency("--quote", code); }, "--quote");
  }
  EXPECT_EQ(ParseCurrency("--base", "EUR"), "EUR");
  EXPECT_THAT(Refusal([] { ParseCurrency("--base", "eur"); }, "--base"), HasSubstr("EUR"));
  Refusal([] { ParseCurrency("--quote", "EURO"); }, "--quote");
}

// --- Dates ---------------------------------------------------------------------

TEST(ParseEffective, EachPrecision) {
  v1::EffectiveDate d = ParseEffective("--effective", "2026-01-28");
  EXPECT_EQ(d.precision(), v1::DATE_PRECISION_DAY);
  EXPECT_EQ(d.date().year(), 2026);
  EXPECT_EQ(d.date().month(), 1);
  EXPECT_EQ(d.date().day(), 28);

  d = ParseEffective("--effective", "2026-01");
  EXPECT_EQ(d.precision(), v1::DATE_PRECISION_MONTH);
  EXPECT_EQ(d.date().year(), 2026);
  EXPECT_EQ(d.date().month(), 1);
  EXPECT_EQ(d.date().day(), 0);

  d = ParseEffective("--effective", "2026-Q3");
  EXPECT_EQ(d.precision(), v1::DATE_PRECISION_QUARTER);
  EXPECT_EQ(d.date().month(), 7);  // the quarter's first month
  EXPECT_EQ(d.date().day(), 0);
  EXPECT_EQ(ParseEffective("--effective", "2026-q1").date().month(), 1);

  d = ParseEffective("--effective", "2026");
  EXPECT_EQ(d.precision(), v1::DATE_PRECISION_YEAR);
  EXPECT_EQ(d.date().year(), 2026);
  EXPECT_EQ(d.date().month(), 0);

  EXPECT_EQ(ParseEffective("--effective", "2024-02-29").date().day(), 29);  // leap year
}

TEST(ParseEffective, RefusesImpossibleDates) {
  EXPECT_THAT(Refusal([] { ParseEffective("--effective", "2026-02-30"); }, "--effective"),
              HasSubstr("2026-02-30"));
  Refusal([] { ParseEffective("--effective", "2025-02-29"); }, "--effective");
  EXPECT_THAT(Refusal([] { ParseEffective("--effective", "2026-13"); }, "--effective"),
              HasSubstr("month"));
  Refusal([] { ParseEffective("--effective", "2026-00"); }, "--effective");
  EXPECT_THAT(Refusal([] { ParseEffective("--effective", "2026-Q5"); }, "--effective"),
              HasSubstr("Q5"));
  Refusal([] { ParseEffective("--effective", "2026-Q0"); }, "--effective");
  Refusal([] { ParseEffective("--effective", "26-01"); }, "--effective");
  Refusal([] { ParseEffective("--effective", "2026-1"); }, "--effective");
  Refusal([] { ParseEffective("--effective", "2026-01-1"); }, "--effective");
  Refusal([] { ParseEffective("--effective", "2026-01-28-01"); }, "--effective");
  Refusal([] { ParseEffective("--effective", "January 2026"); }, "--effective");
  Refusal([] { ParseEffective("--effective", ""); }, "--effective");
  Refusal([] { ParseEffective("--expected-close", "1800"); }, "--expected-close");
  // Founding dates may be older.
  EXPECT_EQ(ParseEffectiveInYears("--founded", "1847", 1000, 2200).date().year(), 1847);
}

TEST(ParseDay, DayPrecisionOnly) {
  const v1::Date d = ParseDay("--on", "2026-01-28");
  EXPECT_EQ(d.day(), 28);
  Refusal([] { ParseDay("--on", "2026-01"); }, "--on");
}

// --- Enums -----------------------------------------------------------------------

TEST(ParseEnum, FriendlyNamesWithOrWithoutPrefix) {
  EXPECT_EQ(ParseEnum<v1::DealStage>("--stage", "in-talks"), v1::DEAL_STAGE_IN_TALKS);
  EXPECT_EQ(ParseEnum<v1::DealStage>("--stage", "IN_TALKS"), v1::DEAL_STAGE_IN_TALKS);
  EXPECT_EQ(ParseEnum<v1::DealStage>("--stage", "deal_stage_in_talks"), v1::DEAL_STAGE_IN_TALKS);
  EXPECT_EQ(ParseEnum<v1::DealStage>("--stage", "DEAL_STAGE_CLOSED"), v1::DEAL_STAGE_CLOSED);
  EXPECT_EQ(ParseEnum<v1::DealStage>("--stage", " In Talks "), v1::DEAL_STAGE_IN_TALKS);
  EXPECT_EQ(ParseEnum<v1::OrganizationKind>("--kind", "sovereign-fund"),
            v1::ORGANIZATION_KIND_SOVEREIGN_FUND);
  EXPECT_EQ(ParseEnum<v1::Instrument>("--instrument", "credits"), v1::INSTRUMENT_CREDITS);
  EXPECT_EQ(ParseEnum<v1::ValuationBasis>("--basis", "public-market"),
            v1::VALUATION_BASIS_PUBLIC_MARKET);
  EXPECT_EQ(ParseEnum<v1::PartnershipRole>("--party", "cloud_provider"),
            v1::PARTNERSHIP_ROLE_CLOUD_PROVIDER);
  EXPECT_EQ(ParseEnum<v1::AmountBound>("--amount-bound", "up-to"), v1::AMOUNT_BOUND_UP_TO);
  EXPECT_EQ(ParseEnum<v1::Confidence>("--confidence", "official"), v1::CONFIDENCE_OFFICIAL);
}

TEST(ParseEnum, RefusalListsTheAcceptedValues) {
  const std::string m =
      Refusal([] { ParseEnum<v1::DealStage>("--stage", "negotiating"); }, "--stage");
  EXPECT_THAT(m, HasSubstr("'negotiating' is not a deal stage"));
  EXPECT_THAT(m, HasSubstr("rumored, in-talks, agreed, announced, closed, collapsed"));
  EXPECT_THAT(Refusal([] { ParseEnum<v1::DealStage>("--stage", "unspecified"); }, "--stage"),
              HasSubstr("in-talks"));
  Refusal([] { ParseEnum<v1::DealStage>("--stage", ""); }, "--stage");
  // Another type's prefix is not this type's value.
  Refusal([] { ParseEnum<v1::DealStage>("--stage", "INSTRUMENT_EQUITY"); }, "--stage");
  EXPECT_THAT(Refusal([] { ParseEnum<v1::OrganizationKind>("--kind", "bank"); }, "--kind"),
              HasSubstr("an organization kind"));
}

TEST(ParseConfidence, NamesAndFullNames) {
  EXPECT_EQ(ParseConfidence("--confidence", "reported"), v1::CONFIDENCE_REPORTED);
  EXPECT_EQ(ParseConfidence("--confidence", "CONFIDENCE_RUMORED"), v1::CONFIDENCE_RUMORED);
  Refusal([] { ParseConfidence("--confidence", "likely"); }, "--confidence");
  Refusal([] { ParseConfidence("--confidence", "unspecified"); }, "--confidence");
}

// --- Ownership ----------------------------------------------------------------

TEST(ParseOwnership, ExactAndRanges) {
  EXPECT_EQ(ParsePercentPpm("--ownership", "27%"), 270'000);
  EXPECT_EQ(ParsePercentPpm("--ownership", "27.5 %"), 275'000);
  EXPECT_EQ(ParsePercentPpm("--ownership", "0.0001%"), 1);
  EXPECT_EQ(ParsePercentPpm("--ownership", "100%"), 1'000'000);

  v1::OwnershipFraction f = ParseOwnership("--ownership", "27%");
  ASSERT_TRUE(f.has_exact());
  EXPECT_EQ(f.exact().parts_per_million(), 270'000);

  for (const char* text : {"20-30%", "20% - 30%", "20 to 30 %", "20\xE2\x80\x93" "30%"}) {
    SCOPED_TRACE(text);
    f = ParseOwnership("--ownership", text);
    ASSERT_TRUE(f.has_range());
    EXPECT_EQ(f.range().min_parts_per_million(), 200'000);
    EXPECT_EQ(f.range().max_parts_per_million(), 300'000);
  }
  f = ParseOwnership("--ownership", ">10%");
  ASSERT_TRUE(f.has_range());
  EXPECT_EQ(f.range().min_parts_per_million(), 100'000);
  EXPECT_EQ(f.range().max_parts_per_million(), 1'000'000);
  f = ParseOwnership("--ownership", "less than 5%");
  ASSERT_TRUE(f.has_range());
  EXPECT_EQ(f.range().min_parts_per_million(), 0);
  EXPECT_EQ(f.range().max_parts_per_million(), 50'000);
}

TEST(ParseOwnership, Refusals) {
  EXPECT_THAT(Refusal([] { ParseOwnership("--ownership", "27"); }, "--ownership"),
              HasSubstr("27%"));
  Refusal([] { ParseOwnership("--ownership", "101%"); }, "--ownership");
  Refusal([] { ParseOwnership("--ownership", "-5%"); }, "--ownership");
  Refusal([] { ParseOwnership("--ownership", "30-20%"); }, "--ownership");
  Refusal([] { ParseOwnership("--ownership", "0.00001%"); }, "--ownership");
  Refusal([] { ParseOwnership("--ownership", "substantial"); }, "--ownership");
  Refusal([] { ParseOwnership("--ownership", "1,000%"); }, "--ownership");
}

// --- Identifiers -------------------------------------------------------------

TEST(ParseId, Slugs) {
  EXPECT_EQ(ParseId("--investor", "amazon"), "amazon");
  EXPECT_EQ(ParseId("--id", "amazon-openai-2026"), "amazon-openai-2026");
  Refusal([] { ParseId("--investor", "Amazon"); }, "--investor");
  Refusal([] { ParseId("--investor", "-amazon"); }, "--investor");
  Refusal([] { ParseId("--investor", "amazon-"); }, "--investor");
  Refusal([] { ParseId("--investor", "ama zon"); }, "--investor");
  Refusal([] { ParseId("--investor", ""); }, "--investor");
  Refusal([] { ParseId("--investor", std::string(101, 'a')); }, "--investor");
  EXPECT_EQ(Slugify("Amazon Web Services, Inc."), "amazon-web-services-inc");
  EXPECT_EQ(ParseSector("--sector", "ai-foundation-models"), "ai-foundation-models");
  Refusal([] { ParseSector("--sector", "AI"); }, "--sector");
}

TEST(EventIds, CanonicalUuids) {
  std::set<std::string> seen;
  for (int i = 0; i < 100; ++i) {
    const std::string id = NewEventId();
    EXPECT_EQ(ParseEventId("--event-id", id), id);
    EXPECT_EQ(id[14], '4');                              // version 4
    EXPECT_NE(std::string("89ab").find(id[19]), std::string::npos);  // variant 10
    seen.insert(id);
  }
  EXPECT_EQ(seen.size(), 100u);
  EXPECT_EQ(ParseEventId("--event-id", "0B6F2C1E-7D4A-4E8B-9A51-3C2D1F0E9B7A"),
            "0b6f2c1e-7d4a-4e8b-9a51-3c2d1f0e9b7a");
  Refusal([] { ParseEventId("--event-id", "00000000-0000-0000-0000-000000000000"); }, "--event-id");
  Refusal([] { ParseEventId("--event-id", "0b6f2c1e7d4a4e8b9a513c2d1f0e9b7a"); }, "--event-id");
  Refusal([] { ParseEventId("--event-id", "0b6f2c1e-7d4a-4e8b-9a51-3c2d1f0e9b7g"); }, "--event-id");
}

TEST(Urls, HttpOnlyAndHost) {
  EXPECT_EQ(ParseUrl("--source", "https://www.reuters.com/a?b=c"), "https://www.reuters.com/a?b=c");
  EXPECT_EQ(UrlHost("https://www.reuters.com/a?b=c"), "reuters.com");
  EXPECT_EQ(UrlHost("http://user@example.com:8080/x"), "example.com");
  Refusal([] { ParseUrl("--source", "ftp://example.com/a"); }, "--source");
  Refusal([] { ParseUrl("--source", "example.com/a"); }, "--source");
  Refusal([] { ParseUrl("--source", "https:///a"); }, "--source");
  Refusal([] { ParseUrl("--source", "https://exa mple.com"); }, "--source");
  Refusal([] { ParseText("--name", "", 200); }, "--name");
  Refusal([] { ParseText("--name", std::string(201, 'x'), 200); }, "--name");
  EXPECT_EQ(ParseText("--description", "", 4000, false), "");
}

}  // namespace
}  // namespace dealwire::cli
