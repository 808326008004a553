#include "clients/cli/parse.h"

#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "clients/cli/cli.h"

namespace dealwire::cli {
namespace {

bool IsLeap(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }
int DaysIn(int y, int m) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && IsLeap(y) ? 29 : kDays[m - 1];
}

int Number(absl::string_view field, absl::string_view part, absl::string_view text,
           size_t digits) {
  int v = 0;
  if (part.size() != digits || !absl::SimpleAtoi(part, &v) || !absl::ascii_isdigit(part[0])) {
    BadInput(field, absl::StrCat("'", text,
                                 "' is not a date (use 2026-01-28, 2026-01, 2026-Q1 or 2026)"));
  }
  return v;
}

}  // namespace

v1::EffectiveDate ParseEffective(absl::string_view field, absl::string_view text) {
  text = absl::StripAsciiWhitespace(text);
  const std::vector<absl::string_view> parts = absl::StrSplit(text, '-');
  v1::EffectiveDate out;
  v1::Date* d = out.mutable_date();
  if (parts.empty() || parts.size() > 3) {
    BadInput(field, absl::StrCat("'", text, "' is not a date (use 2026-01-28, 2026-01, 2026-Q1 or 2026)"));
  }
  const int year = Number(field, parts[0], text, 4);
  if (year < 1900 || year > 2200) {
    BadInput(field, absl::StrCat("year ", year, " is outside 1900..2200"));
  }
  d->set_year(year);
  out.set_precision(v1::DATE_PRECISION_YEAR);
  if (parts.size() >= 2) {
    if (parts.size() == 2 && (absl::StartsWith(parts[1], "Q") || absl::StartsWith(parts[1], "q"))) {
      const int q = Number(field, parts[1].substr(1), text, 1);
      if (q < 1 || q > 4) BadInput(field, absl::StrCat("quarter Q", q, " is outside Q1..Q4"));
      d->set_month((q - 1) * 3 + 1);
      out.set_precision(v1::DATE_PRECISION_QUARTER);
      return out;
    }
    const int month = Number(field, parts[1], text, 2);
    if (month < 1 || month > 12) BadInput(field, absl::StrCat("month ", month, " is outside 1..12"));
    d->set_month(month);
    out.set_precision(v1::DATE_PRECISION_MONTH);
  }
  if (parts.size() == 3) {
    const int day = Number(field, parts[2], text, 2);
    if (day < 1 || day > DaysIn(year, d->month())) {
      BadInput(field, absl::StrCat("'", text, "' is not a day of the calendar"));
    }
    d->set_day(day);
    out.set_precision(v1::DATE_PRECISION_DAY);
  }
  return out;
}

v1::Date ParseDay(absl::string_view field, absl::string_view text) {
  v1::EffectiveDate e = ParseEffective(field, text);
  if (e.precision() != v1::DATE_PRECISION_DAY) {
    BadInput(field, absl::StrCat("'", text, "' is not a day (use 2026-01-28)"));
  }
  return e.date();
}

v1::Confidence ParseConfidence(absl::string_view field, absl::string_view text) {
  std::string t = absl::AsciiStrToUpper(absl::StripAsciiWhitespace(text));
  if (!absl::StartsWith(t, "CONFIDENCE_")) t = absl::StrCat("CONFIDENCE_", t);
  v1::Confidence c;
  if (!v1::Confidence_Parse(t, &c) || c == v1::CONFIDENCE_UNSPECIFIED) {
    BadInput(field, absl::StrCat("'", text, "' is not a confidence (rumored, reported, "
                                            "confirmed, official)"));
  }
  return c;
}

absl::Time ParseTimestamp(absl::string_view field, absl::string_view text) {
  text = absl::StripAsciiWhitespace(text);
  absl::Time t;
  std::string err;
  if (absl::ParseTime(absl::RFC3339_full, text, &t, &err)) return t;
  if (text.size() == 10) {
    const v1::Date d = ParseDay(field, text);
    return absl::FromCivil(absl::CivilDay(d.year(), d.month(), d.day()), absl::UTCTimeZone());
  }
  BadInput(field, absl::StrCat("'", text,
                               "' is not a time (use RFC 3339, 2026-01-28T12:00:00Z, or a day)"));
}

}  // namespace dealwire::cli
