// common/calendar.h — the one calendar of Dealwire: proleptic Gregorian days
// in UTC, on absl::CivilDay.
//
//   if (!IsValidDate(2026, 2, 29)) { /* 2026 has no February 29 */ }
//   int64_t day = DayNumber(2026, 1, 28);     // days since 0001-01-01
//   absl::CivilDay d = CivilDayOf(day);        // 2026-01-28
//   bool overdue = DayNumber(2026, 3, 31) < TodayDayNumber();
//
// A day number counts days since 0001-01-01 (day 0), so that day numbers of
// every date Dealwire accepts (years 1..9999) are non-negative and order like
// the dates. Projections store day numbers: they never change meaning.
#pragma once

#include <cstdint>

#include "absl/time/civil_time.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace dealwire::common {

// Returns the number of days of `month` (1..12) of `year`.
int DaysInMonth(int year, int month);

// Returns whether year-month-day is a date (month 1..12, day 1..DaysInMonth);
// any year absl::CivilDay holds is accepted.
bool IsValidDate(int64_t year, int month, int day);

// Returns the day number of year-month-day. Months and days out of range
// normalize as absl::CivilDay does (month 13 is January of the next year).
int64_t DayNumber(int64_t year, int month, int day);

// Returns the day number of `day`.
int64_t DayNumber(absl::CivilDay day);

// Returns the date of day number `n`.
absl::CivilDay CivilDayOf(int64_t n);

// Returns today's day number in UTC, by `now`.
int64_t TodayDayNumber(absl::Time now = absl::Now());

}  // namespace dealwire::common
