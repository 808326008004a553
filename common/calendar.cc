#include "common/calendar.h"

namespace dealwire::common {
namespace {

constexpr absl::CivilDay kDayZero(1, 1, 1);

}  // namespace

int DaysInMonth(int year, int month) {
  const absl::CivilMonth m(year, month);
  return static_cast<int>(absl::CivilDay(m + 1) - absl::CivilDay(m));
}

bool IsValidDate(int64_t year, int month, int day) {
  if (month < 1 || month > 12 || day < 1) return false;
  const absl::CivilDay d(year, month, day);
  return d.year() == year && d.month() == month && d.day() == day;
}

int64_t DayNumber(int64_t year, int month, int day) {
  return absl::CivilDay(year, month, day) - kDayZero;
}

int64_t DayNumber(absl::CivilDay day) { return day - kDayZero; }

absl::CivilDay CivilDayOf(int64_t n) { return kDayZero + n; }

int64_t TodayDayNumber(absl::Time now) {
  return DayNumber(absl::ToCivilDay(now, absl::UTCTimeZone()));
}

}  // namespace dealwire::common
