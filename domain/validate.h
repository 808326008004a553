// domain/validate.h — checks of an event that need no state: the
// envelope (ids, provenance, dates), the payload's required fields, limits
// and formats, and the shape of values (money, dates, fractions).
//
//   absl::Status s = ValidateEnvelope(event, "events[2]");
//   // INVALID_ARGUMENT "events[2].effective.date.month: 13 is not a month"
//   // INVALID_ARGUMENT "events[2].payload.investment_reported.amount.currency_code:
//   //                   'XXX' is not an ISO 4217 currency code"
//
// Every failure is INVALID_ARGUMENT and its message starts with the path of
// the offending field, prefixed by the caller's `field`. Checks against the
// log's state (registered organizations, deal stages, …) are the decider's
// (decider.h).
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "dealwire/v1/events.pb.h"
#include "dealwire/v1/types.pb.h"

namespace dealwire::domain {

// Returns whether `id` is a domain id (organization, deal, partnership…):
// 1..100 bytes of [a-z0-9-], starting and ending with a letter or digit.
bool IsDomainId(absl::string_view id);

// The largest amount of money accepted: 10^15 whole units (a quadrillion
// dollars). Bounding every amount keeps sums of many amounts, in nanos, far
// inside int128 (and sums of units inside int64 up to 9,000 amounts), so
// projections never overflow.
inline constexpr int64_t kMaxMoneyUnits = 1'000'000'000'000'000;

// Checks a Money value of a domain event: a known ISO 4217 code, nanos in
// range with the sign of units, non-negative and at most kMaxMoneyUnits.
absl::Status ValidateMoney(const dealwire::v1::Money& money, absl::string_view field);

// Checks a stream name: 1..200 bytes of printable ASCII without spaces.
absl::Status ValidateStreamName(absl::string_view stream, absl::string_view field);

// Checks a (possibly partial) date: unknown parts are 0, set parts valid.
absl::Status ValidateDate(const dealwire::v1::Date& date, absl::string_view field);

// Checks an effective date: a precision is set and the date fits it.
absl::Status ValidateEffectiveDate(const dealwire::v1::EffectiveDate& date,
                                   absl::string_view field);

// Checks the client-set envelope of an event to append: event id, effective
// date, sources, confidence, a payload case (checked by ValidatePayload, with
// `field` + ".payload"); and that the server-set fields (stream_version,
// position, recorded_time, recorded_by) are empty.
absl::Status ValidateEnvelope(const dealwire::v1::Event& event, absl::string_view field);

// Checks everything events.proto states about `payload` that needs no state:
// a payload case; required ids, enums and values; id, slug and label formats;
// string, list and URL limits; money, dates and fractions; distinct parties
// where the contract asks for them. `field` is the payload's path, e.g.
// "events[2].payload"; messages continue it with the case and field name
// ("events[2].payload.stake_disclosed.holder_id: …").
absl::Status ValidatePayload(const dealwire::v1::EventPayload& payload, absl::string_view field);

}  // namespace dealwire::domain
