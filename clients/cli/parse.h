// clients/cli/parse.h — parsing what people type into domain values. Every
// parser names the field in its error (CommandError, exit 2) so bad input is
// refused before anything is sent.
#pragma once

#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "dealwire/v1/event_store.pb.h"
#include "dealwire/v1/types.pb.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/generated_enum_reflection.h"

namespace dealwire::cli {

// "2026-01-28" (DAY), "2026-01" (MONTH), "2026-Q1" (QUARTER, dated on the
// quarter's first month), "2026" (YEAR). Refuses impossible dates
// (2026-02-30), months outside 1..12, quarters outside 1..4, years outside
// 1900..2200.
v1::EffectiveDate ParseEffective(absl::string_view field, absl::string_view text);

// A DAY-precision date only ("2026-01-28"), as a Date.
v1::Date ParseDay(absl::string_view field, absl::string_view text);

// rumored | reported | confirmed | official (any case; the enum's full name
// CONFIDENCE_REPORTED too).
v1::Confidence ParseConfidence(absl::string_view field, absl::string_view text);

// RFC 3339 ("2026-01-28T12:00:00Z", offsets allowed) or a DAY date (its
// midnight UTC).
absl::Time ParseTimestamp(absl::string_view field, absl::string_view text);

// Like ParseEffective, with the year bounded by [min_year, max_year] instead
// of 1900..2200 (founding dates may be older).
v1::EffectiveDate ParseEffectiveInYears(absl::string_view field, absl::string_view text,
                                        int min_year, int max_year);

// --- Money ---------------------------------------------------------------------

// The largest amount the server accepts: 10^15 whole units.
inline constexpr int64_t kMaxMoneyUnits = 1'000'000'000'000'000;

// Parses an amount of money, exactly (integer arithmetic on the digits):
//   "50B USD", "$8,000,000,000", "USD 11000000000", "€4M", "4.5M EUR",
//   "1.25T USD", "£950K", "$8 billion", "300 million USD", "¥1.2bn".
// A currency is a symbol ($ USD, € EUR, £ GBP, ¥ JPY, ₹ INR, ₩ KRW, US$) or
// an upper-case ISO 4217 code, before or after the number; a scale is K, M,
// B (bn), T or thousand, million, billion, trillion right after the number;
// commas group thousands (1,234,567). Refuses negative amounts, a missing,
// unknown or repeated (different) currency, more precision than 10^-9, more
// than kMaxMoneyUnits units and anything else.
v1::Money ParseMoney(absl::string_view field, absl::string_view text);

// ParseMoney, also reading a leading bound: "up to 50B USD" (UP_TO), "as
// much as", "at least" / "more than" / ">" (AT_LEAST), "about" /
// "approximately" / "roughly" / "around" / "~" (APPROXIMATE). `*bound` is
// AMOUNT_BOUND_UNSPECIFIED when the text has none.
v1::Money ParseBoundedMoney(absl::string_view field, absl::string_view text,
                            v1::AmountBound* bound);

// A strictly positive decimal with at most 9 decimals ("1.0842", "150.25",
// "0.0069"), as Money in `currency`: for FX rates.
v1::Money ParseRate(absl::string_view field, absl::string_view text, absl::string_view currency);

// An upper-case ISO 4217 code ("EUR"); refuses others, naming the field.
std::string ParseCurrency(absl::string_view field, absl::string_view text);

// --- Enums -----------------------------------------------------------------------

// Returns the number of the value of enum `type` named by `text`: the value's
// name in any case, with dashes, underscores or spaces, with or without the
// type's prefix ("in-talks", "IN_TALKS", "deal_stage_in_talks" all name
// DEAL_STAGE_IN_TALKS). The *_UNSPECIFIED value is refused; the error lists
// the accepted values.
int ParseEnumValue(absl::string_view field, const google::protobuf::EnumDescriptor* type,
                   absl::string_view text);

// The accepted labels of enum `type`, e.g. "rumored, in-talks, agreed, …".
std::string EnumChoices(const google::protobuf::EnumDescriptor* type);

// ParseEnumValue for a generated enum type:
//   auto stage = ParseEnum<v1::DealStage>("--stage", "in-talks");
template <typename E>
E ParseEnum(absl::string_view field, absl::string_view text) {
  return static_cast<E>(ParseEnumValue(field, google::protobuf::GetEnumDescriptor<E>(), text));
}

// --- Appends ------------------------------------------------------------------

// The state a stream must be in for an append: a stream version ("0",
// "12"), "any", "no-stream" (also "no_stream", "none") or "exists" (also
// "stream-exists"), in any case.
v1::ExpectedVersion ParseExpectedVersion(absl::string_view field, absl::string_view text);

// --- Ownership ----------------------------------------------------------------

// A percentage as parts per million, exact: "27%" → 270000, "27.5 %" →
// 275000, "0.0001%" → 1. The '%' is required; 0..100 %, at most 4 decimals.
int64_t ParsePercentPpm(absl::string_view field, absl::string_view text);

// An ownership fraction: "27%" (exact), "20-30%" / "20% - 30%" / "20 to 30 %"
// (range), ">10%" / "at least 10%" / "more than 10%" (10..100 %), "<5%" /
// "up to 5%" / "less than 5%" (0..5 %). A range's minimum is at most its
// maximum. The qualifier is left empty.
v1::OwnershipFraction ParseOwnership(absl::string_view field, absl::string_view text);

// --- Identifiers and text ---------------------------------------------------

// A domain id (organization, deal, partnership, facility): 1..100 bytes of
// a-z, 0-9 and '-', starting and ending with a letter or digit.
std::string ParseId(absl::string_view field, absl::string_view text);

// Turns free text into a domain id: lower-case, runs of other characters as
// one '-', trimmed to 100 bytes ("Amazon Web Services" → "amazon-web-services").
std::string Slugify(absl::string_view text);

// A sector slug: 1..64 bytes of lower-kebab-case ("ai-foundation-models").
std::string ParseSector(absl::string_view field, absl::string_view text);

// An event id: a UUID in canonical 8-4-4-4-12 form (upper-case hex is
// lower-cased); the nil UUID is refused.
std::string ParseEventId(absl::string_view field, absl::string_view text);

// Returns a new random (version 4) UUID in canonical lower-case form.
std::string NewEventId();

// An absolute http or https URL of at most 2048 bytes, without spaces.
std::string ParseUrl(absl::string_view field, absl::string_view text);

// The host of an http(s) URL without a leading "www." ("https://www.reuters.com/x"
// → "reuters.com"); empty when there is none.
std::string UrlHost(absl::string_view url);

// Checks that `text` has at most `max_bytes` bytes (and at least 1 when
// `required`), naming the field; returns it.
std::string ParseText(absl::string_view field, absl::string_view text, size_t max_bytes,
                      bool required = true);

}  // namespace dealwire::cli
