// clients/cli/parse.h — parsing what people type into domain values. Every
// parser names the field in its error (CommandError, exit 2) so bad input is
// refused before anything is sent.
#pragma once

#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "dealwire/v1/types.pb.h"

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

}  // namespace dealwire::cli
