#include "projections/validate.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace dealwire::projections {
namespace {

namespace v1 = dealwire::v1;

constexpr size_t kMaxStreamBytes = 200;
constexpr size_t kMaxDomainIdBytes = 100;
constexpr int kMaxSources = 20;
constexpr size_t kMaxPublisherBytes = 200;
constexpr size_t kMaxUrlBytes = 2048;
constexpr size_t kMaxTitleBytes = 500;

absl::Status Invalid(absl::string_view field, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", what));
}

bool IsLeapYear(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

int DaysInMonth(int year, int month) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return month == 2 && IsLeapYear(year) ? 29 : kDays[month - 1];
}

}  // namespace

bool IsCanonicalUuid(absl::string_view id) {
  if (id.size() != 36) return false;
  bool all_zero = true;
  for (size_t i = 0; i < id.size(); ++i) {
    const char c = id[i];
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (c != '-') return false;
    } else if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')) {
      all_zero = all_zero && c == '0';
    } else {
      return false;
    }
  }
  return !all_zero;
}

bool IsDomainId(absl::string_view id) {
  if (id.empty() || id.size() > kMaxDomainIdBytes) return false;
  for (const char c : id) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
  }
  return true;
}

absl::Status ValidateStreamName(absl::string_view stream, absl::string_view field) {
  if (stream.empty()) return Invalid(field, "is required");
  if (stream.size() > kMaxStreamBytes) {
    return Invalid(field, absl::StrFormat("%d bytes exceed the limit of %d", stream.size(),
                                          kMaxStreamBytes));
  }
  for (const char c : stream) {
    if (c < 0x21 || c > 0x7e) {
      return Invalid(field, "must be printable ASCII without spaces (0x21..0x7E)");
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateDate(const v1::Date& d, absl::string_view field) {
  if (d.year() == 0 && d.month() == 0 && d.day() == 0) return absl::OkStatus();
  if (d.year() < 1 || d.year() > 9999) {
    return Invalid(absl::StrCat(field, ".year"), absl::StrFormat("%d is not in 1..9999", d.year()));
  }
  if (d.month() < 0 || d.month() > 12) {
    return Invalid(absl::StrCat(field, ".month"), absl::StrFormat("%d is not a month", d.month()));
  }
  if (d.day() != 0) {
    if (d.month() == 0) return Invalid(absl::StrCat(field, ".day"), "is set but month is not");
    if (d.day() < 1 || d.day() > DaysInMonth(d.year(), d.month())) {
      return Invalid(absl::StrCat(field, ".day"),
                     absl::StrFormat("%04d-%02d has no day %d", d.year(), d.month(), d.day()));
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateEffectiveDate(const v1::EffectiveDate& e, absl::string_view field) {
  const std::string date_field = absl::StrCat(field, ".date");
  const v1::Date& d = e.date();
  if (absl::Status s = ValidateDate(d, date_field); !s.ok()) return s;
  if (d.year() == 0) return Invalid(absl::StrCat(date_field, ".year"), "is required");
  switch (e.precision()) {
    case v1::DATE_PRECISION_DAY:
      if (d.month() == 0 || d.day() == 0) {
        return Invalid(date_field, "a DAY precision date needs year, month and day");
      }
      break;
    case v1::DATE_PRECISION_MONTH:
      if (d.month() == 0 || d.day() != 0) {
        return Invalid(date_field, "a MONTH precision date needs year and month, and day 0");
      }
      break;
    case v1::DATE_PRECISION_QUARTER:
      if (d.day() != 0 || (d.month() != 1 && d.month() != 4 && d.month() != 7 && d.month() != 10)) {
        return Invalid(date_field,
                       "a QUARTER precision date needs month 1, 4, 7 or 10 (the quarter's "
                       "first month) and day 0");
      }
      break;
    case v1::DATE_PRECISION_YEAR:
      if (d.month() != 0 || d.day() != 0) {
        return Invalid(date_field, "a YEAR precision date needs month and day 0");
      }
      break;
    default:
      return Invalid(absl::StrCat(field, ".precision"), "is required");
  }
  return absl::OkStatus();
}

absl::Status ValidateEnvelope(const v1::Event& e, absl::string_view field) {
  if (!IsCanonicalUuid(e.event_id())) {
    return Invalid(absl::StrCat(field, ".event_id"),
                   absl::StrCat("'", e.event_id().substr(0, 64),
                                "' is not a canonical lower-case UUID (8-4-4-4-12 hex digits, "
                                "not the nil UUID)"));
  }
  if (e.stream_version() != 0) {
    return Invalid(absl::StrCat(field, ".stream_version"), "is set by the server; leave it 0");
  }
  if (e.position() != 0) {
    return Invalid(absl::StrCat(field, ".position"), "is set by the server; leave it 0");
  }
  if (e.has_recorded_time()) {
    return Invalid(absl::StrCat(field, ".recorded_time"), "is set by the server; leave it empty");
  }
  if (!e.recorded_by().empty()) {
    return Invalid(absl::StrCat(field, ".recorded_by"), "is set by the server; leave it empty");
  }
  if (!e.has_effective()) return Invalid(absl::StrCat(field, ".effective"), "is required");
  if (absl::Status s = ValidateEffectiveDate(e.effective(), absl::StrCat(field, ".effective"));
      !s.ok()) {
    return s;
  }
  if (e.confidence() == v1::CONFIDENCE_UNSPECIFIED || !v1::Confidence_IsValid(e.confidence())) {
    return Invalid(absl::StrCat(field, ".confidence"), "is required");
  }
  if (e.sources_size() > kMaxSources) {
    return Invalid(absl::StrCat(field, ".sources"),
                   absl::StrFormat("%d sources exceed the limit of %d", e.sources_size(),
                                   kMaxSources));
  }
  for (int i = 0; i < e.sources_size(); ++i) {
    const v1::Source& s = e.sources(i);
    const std::string f = absl::StrCat(field, ".sources[", i, "]");
    if (s.publisher().empty() || s.publisher().size() > kMaxPublisherBytes) {
      return Invalid(absl::StrCat(f, ".publisher"), "must be 1..200 bytes");
    }
    if (!s.url().empty() &&
        (s.url().size() > kMaxUrlBytes ||
         !(absl::StartsWith(s.url(), "https://") || absl::StartsWith(s.url(), "http://")))) {
      return Invalid(absl::StrCat(f, ".url"),
                     "must be an absolute http(s) URL of at most 2048 bytes, or empty");
    }
    if (s.title().size() > kMaxTitleBytes) {
      return Invalid(absl::StrCat(f, ".title"), "must be at most 500 bytes");
    }
    if (absl::Status st = ValidateDate(s.published_date(), absl::StrCat(f, ".published_date"));
        !st.ok()) {
      return st;
    }
  }
  if (e.payload().payload_case() == v1::EventPayload::PAYLOAD_NOT_SET) {
    return Invalid(absl::StrCat(field, ".payload"), "is required (one domain event)");
  }
  return absl::OkStatus();
}

}  // namespace dealwire::projections
