// common/page_token.h — the one page-token codec of Dealwire's listings.
//
//   const uint64_t fp = RequestFingerprint({request.stream(), filter_bytes});
//   std::string token = EncodePageToken({.position = next, .cursor = ""}, fp);
//   ...
//   ASSIGN_OR_RETURN(PageToken t, DecodePageToken(request.page_token(), fp));
//
// A token is opaque to clients: web-safe base64 of a version byte, the
// fingerprint of the request that produced it, a position and a cursor. A
// token is refused (INVALID_ARGUMENT naming `page_token`) when it was not
// made by this codec or when the request it comes back with differs in the
// fields that make the fingerprint. Tokens do not expire and stay valid
// across restarts (the fingerprint uses no seeded hash).
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace dealwire::common {

struct PageToken {
  // Where the next page starts, or the log position a listing is folded at.
  uint64_t position = 0;
  // The key after which the next page starts (listings by key); may be empty.
  std::string cursor;
};

// Returns a stable 64-bit fingerprint (FNV-1a) of `parts`, in order; parts
// are separated, so {"ab", "c"} and {"a", "bc"} differ.
uint64_t RequestFingerprint(std::initializer_list<absl::string_view> parts);

// Returns the token for `token` and the request fingerprint `fingerprint`.
std::string EncodePageToken(const PageToken& token, uint64_t fingerprint);

// Returns the token `text` encodes. INVALID_ARGUMENT "page_token: …" when it
// is not a token or was made for a request with another fingerprint. Also
// reads the tokens of Dealwire 0.1's EventStore.ReadAll (16 bytes: position
// and fingerprint), which did not expire either.
absl::StatusOr<PageToken> DecodePageToken(absl::string_view text, uint64_t fingerprint);

}  // namespace dealwire::common
