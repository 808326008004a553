#include "common/page_token.h"

#include "absl/strings/escaping.h"

namespace dealwire::common {
namespace {

constexpr char kTokenVersion = 1;

void PutFixed64(uint64_t v, std::string* out) {
  for (int i = 0; i < 8; ++i) out->push_back(static_cast<char>(v >> (56 - 8 * i)));
}

uint64_t GetFixed64(absl::string_view in) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<uint8_t>(in[i]);
  return v;
}

absl::Status NotOurs() {
  return absl::InvalidArgumentError("page_token: is not a token this server returned");
}

absl::Status OtherRequest() {
  return absl::InvalidArgumentError(
      "page_token: was returned for a different request (the other fields must stay the same)");
}

}  // namespace

uint64_t RequestFingerprint(std::initializer_list<absl::string_view> parts) {
  uint64_t h = 1469598103934665603ull;
  for (absl::string_view part : parts) {
    for (unsigned char c : part) h = (h ^ c) * 1099511628211ull;
    h = (h ^ 0xff) * 1099511628211ull;  // separator
  }
  return h;
}

std::string EncodePageToken(const PageToken& token, uint64_t fingerprint) {
  std::string raw;
  raw.reserve(17 + token.cursor.size());
  raw.push_back(kTokenVersion);
  PutFixed64(fingerprint, &raw);
  PutFixed64(token.position, &raw);
  raw.append(token.cursor);
  return absl::WebSafeBase64Escape(raw);
}

absl::StatusOr<PageToken> DecodePageToken(absl::string_view text, uint64_t fingerprint) {
  std::string raw;
  if (!absl::WebSafeBase64Unescape(text, &raw)) return NotOurs();
  PageToken out;
  if (raw.size() == 16) {  // EventStore.ReadAll's tokens before the version byte
    out.position = GetFixed64(raw);
    if (GetFixed64(absl::string_view(raw).substr(8)) != fingerprint) return OtherRequest();
    return out;
  }
  if (raw.size() < 17 || raw[0] != kTokenVersion) return NotOurs();
  if (GetFixed64(absl::string_view(raw).substr(1)) != fingerprint) return OtherRequest();
  out.position = GetFixed64(absl::string_view(raw).substr(9));
  out.cursor = raw.substr(17);
  return out;
}

}  // namespace dealwire::common
