// Tests of the page-token codec (common/page_token.h).
#include "common/page_token.h"

#include "absl/strings/escaping.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/common/status_matchers.h"

namespace dealwire::common {
namespace {

using ::dealwire::test_util::StatusIsWith;

TEST(PageTokenTest, RoundTrips) {
  const uint64_t fp = RequestFingerprint({"all", "DIRECTION_FORWARDS"});
  const std::string token = EncodePageToken({.position = 1234567, .cursor = "openai"}, fp);
  ASSERT_OK_AND_ASSIGN(PageToken t, DecodePageToken(token, fp));
  EXPECT_EQ(t.position, 1234567u);
  EXPECT_EQ(t.cursor, "openai");
  // Opaque and URL-safe.
  EXPECT_EQ(token.find_first_of("+/= "), std::string::npos);
}

TEST(PageTokenTest, RefusesATokenOfAnotherRequest) {
  const std::string token =
      EncodePageToken({.position = 7, .cursor = ""}, RequestFingerprint({"stream", "a"}));
  EXPECT_THAT(DecodePageToken(token, RequestFingerprint({"stream", "b"})),
              StatusIsWith(absl::StatusCode::kInvalidArgument, "page_token: was returned for a "
                                                               "different request"));
}

TEST(PageTokenTest, RefusesWhatIsNoToken) {
  const uint64_t fp = RequestFingerprint({"x"});
  for (const char* bad : {"not a token!", "AAAA", ""}) {
    EXPECT_THAT(DecodePageToken(bad, fp),
                StatusIsWith(absl::StatusCode::kInvalidArgument, "page_token:"))
        << bad;
  }
}

TEST(PageTokenTest, ReadsTheEarlierReadAllTokens) {
  // Dealwire 0.1's ReadAll token: 8 bytes of position, 8 of fingerprint.
  const uint64_t fp = RequestFingerprint({"all", "DIRECTION_FORWARDS", ""});
  std::string raw;
  for (int i = 0; i < 8; ++i) raw.push_back(static_cast<char>(uint64_t{42} >> (56 - 8 * i)));
  for (int i = 0; i < 8; ++i) raw.push_back(static_cast<char>(fp >> (56 - 8 * i)));
  ASSERT_OK_AND_ASSIGN(PageToken t, DecodePageToken(absl::WebSafeBase64Escape(raw), fp));
  EXPECT_EQ(t.position, 42u);
  EXPECT_THAT(DecodePageToken(absl::WebSafeBase64Escape(raw), fp + 1),
              StatusIsWith(absl::StatusCode::kInvalidArgument, "different request"));
}

TEST(PageTokenTest, FingerprintsSeparateTheirParts) {
  EXPECT_NE(RequestFingerprint({"ab", "c"}), RequestFingerprint({"a", "bc"}));
  EXPECT_EQ(RequestFingerprint({"a", "b"}), RequestFingerprint({"a", "b"}));
}

}  // namespace
}  // namespace dealwire::common
