// Tests of event ids (common/uuid.h).
#include "common/uuid.h"

#include <set>

#include "gtest/gtest.h"

namespace dealwire::common {
namespace {

TEST(UuidTest, CanonicalUuids) {
  EXPECT_TRUE(IsCanonicalUuid("0b6f2c1e-7d4a-4e8b-9a51-3c2d1f0e9b7a"));
  EXPECT_FALSE(IsCanonicalUuid("0B6F2C1E-7D4A-4E8B-9A51-3C2D1F0E9B7A"));  // upper case
  EXPECT_FALSE(IsCanonicalUuid("00000000-0000-0000-0000-000000000000"));  // nil
  EXPECT_FALSE(IsCanonicalUuid("0b6f2c1e7d4a4e8b9a513c2d1f0e9b7a"));      // no dashes
  EXPECT_FALSE(IsCanonicalUuid("0b6f2c1e-7d4a-4e8b-9a51-3c2d1f0e9b7g"));
  EXPECT_FALSE(IsCanonicalUuid("0b6f2c1e-7d4a-4e8b-9a51-3c2d1f0e9b7a0"));
  EXPECT_FALSE(IsCanonicalUuid(""));
}

TEST(UuidTest, ParsesTheSixteenBytes) {
  std::array<uint8_t, 16> b;
  ASSERT_TRUE(ParseCanonicalUuid("0b6f2c1e-7d4a-4e8b-9a51-3c2d1f0e9b7a", &b));
  EXPECT_EQ(b[0], 0x0b);
  EXPECT_EQ(b[3], 0x1e);
  EXPECT_EQ(b[4], 0x7d);
  EXPECT_EQ(b[15], 0x7a);
  EXPECT_TRUE(ParseCanonicalUuid("00000000-0000-0000-0000-000000000000", &b));
  EXPECT_FALSE(ParseCanonicalUuid("0B6F2C1E-7D4A-4E8B-9A51-3C2D1F0E9B7A", &b));
  EXPECT_FALSE(ParseCanonicalUuid("order-42", &b));
}

TEST(UuidTest, FormatsVersionFour) {
  std::string id;
  const auto [hi, lo] = FormatUuidV4(0, 0, &id);
  EXPECT_EQ(id, "00000000-0000-4000-8000-000000000000");
  EXPECT_EQ(hi, 0x4000u);
  EXPECT_EQ(lo, 0x8000000000000000u);
  FormatUuidV4(~0ULL, ~0ULL, &id);
  EXPECT_EQ(id, "ffffffff-ffff-4fff-bfff-ffffffffffff");
  EXPECT_TRUE(IsCanonicalUuid(id));
}

TEST(UuidTest, RandomUuidsAreCanonicalAndDistinct) {
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    const std::string id = NewRandomUuid();
    EXPECT_TRUE(IsCanonicalUuid(id)) << id;
    EXPECT_EQ(id[14], '4') << id;
    EXPECT_TRUE(seen.insert(id).second) << id;
  }
}

}  // namespace
}  // namespace dealwire::common
