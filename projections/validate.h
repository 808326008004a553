// projections/validate.h — checks of an event that need no state: the
// envelope (ids, provenance, dates) and the shape of values.
//
//   absl::Status s = ValidateEnvelope(event, "events[2]");
//   // INVALID_ARGUMENT "events[2].effective.date.month: 13 is not a month"
//
// Every failure is INVALID_ARGUMENT and its message starts with the path of
// the offending field, prefixed by the caller's `field`.
#pragma once

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "dealwire/v1/events.pb.h"
#include "dealwire/v1/types.pb.h"

namespace dealwire::projections {

// Returns whether `id` is a UUID in canonical lower-case 8-4-4-4-12 form.
bool IsCanonicalUuid(absl::string_view id);

// Returns whether `id` is a domain id (organization, deal, partnership…):
// 1..100 bytes of [a-z0-9-].
bool IsDomainId(absl::string_view id);

// Checks a stream name: 1..200 bytes of printable ASCII without spaces.
absl::Status ValidateStreamName(absl::string_view stream, absl::string_view field);

// Checks a (possibly partial) date: unknown parts are 0, set parts valid.
absl::Status ValidateDate(const dealwire::v1::Date& date, absl::string_view field);

// Checks an effective date: a precision is set and the date fits it.
absl::Status ValidateEffectiveDate(const dealwire::v1::EffectiveDate& date,
                                   absl::string_view field);

// Checks the client-set envelope of an event to append: event id, effective
// date, sources, confidence, a payload case; and that the server-set fields
// (stream_version, position, recorded_time, recorded_by) are empty.
absl::Status ValidateEnvelope(const dealwire::v1::Event& event, absl::string_view field);

}  // namespace dealwire::projections
