// Tests of the one calendar (common/calendar.h).
#include "common/calendar.h"

#include "gtest/gtest.h"

namespace dealwire::common {
namespace {

TEST(CalendarTest, DayNumbersCountFromYearOne) {
  EXPECT_EQ(DayNumber(1, 1, 1), 0);
  EXPECT_EQ(DayNumber(1, 12, 31), 364);
  EXPECT_EQ(DayNumber(2, 1, 1), 365);
  EXPECT_EQ(DayNumber(1970, 1, 1), 719162);
  EXPECT_EQ(DayNumber(2026, 1, 1) - DayNumber(2025, 1, 1), 365);
  EXPECT_EQ(DayNumber(absl::CivilDay(2026, 1, 28)), DayNumber(2026, 1, 28));
}

TEST(CalendarTest, LeapYears) {
  EXPECT_EQ(DayNumber(2024, 3, 1) - DayNumber(2024, 2, 28), 2);  // divisible by 4
  EXPECT_EQ(DayNumber(2023, 3, 1) - DayNumber(2023, 2, 28), 1);
  EXPECT_EQ(DayNumber(1900, 3, 1) - DayNumber(1900, 2, 28), 1);  // by 100, not 400
  EXPECT_EQ(DayNumber(2000, 3, 1) - DayNumber(2000, 2, 28), 2);  // by 400
  EXPECT_EQ(DaysInMonth(2024, 2), 29);
  EXPECT_EQ(DaysInMonth(2023, 2), 28);
  EXPECT_EQ(DaysInMonth(1900, 2), 28);
  EXPECT_EQ(DaysInMonth(2000, 2), 29);
  EXPECT_EQ(DaysInMonth(2026, 4), 30);
  EXPECT_EQ(DaysInMonth(2026, 12), 31);
}

TEST(CalendarTest, ValidDates) {
  EXPECT_TRUE(IsValidDate(2024, 2, 29));
  EXPECT_FALSE(IsValidDate(2026, 2, 29));
  EXPECT_FALSE(IsValidDate(2026, 4, 31));
  EXPECT_FALSE(IsValidDate(2026, 13, 1));
  EXPECT_FALSE(IsValidDate(2026, 0, 1));
  EXPECT_FALSE(IsValidDate(2026, 1, 0));
  EXPECT_TRUE(IsValidDate(9999, 12, 31));
}

TEST(CalendarTest, MonthsPastTwelveNormalize) {
  EXPECT_EQ(DayNumber(2026, 13, 1), DayNumber(2027, 1, 1));
  EXPECT_EQ(DayNumber(2026, 15, 1) - 1, DayNumber(2027, 2, 28));
}

TEST(CalendarTest, DayNumbersRoundTrip) {
  for (const int64_t n : {0L, 364L, 719162L, 739643L, 3652058L}) {
    EXPECT_EQ(DayNumber(CivilDayOf(n)), n);
  }
  EXPECT_EQ(CivilDayOf(DayNumber(2026, 1, 28)), absl::CivilDay(2026, 1, 28));
}

TEST(CalendarTest, TodayIsUtc) {
  // 2026-01-28 23:30 UTC is still the 28th, whatever the local zone says.
  const absl::Time t = absl::FromCivil(absl::CivilSecond(2026, 1, 28, 23, 30, 0),
                                       absl::UTCTimeZone());
  EXPECT_EQ(TodayDayNumber(t), DayNumber(2026, 1, 28));
  EXPECT_EQ(TodayDayNumber(t + absl::Hours(1)), DayNumber(2026, 1, 29));
}

}  // namespace
}  // namespace dealwire::common
