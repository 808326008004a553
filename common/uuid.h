// common/uuid.h — event ids: canonical lower-case UUIDs, one implementation
// for the server, the store's index keys, the CLI and the load generators.
//
//   if (!IsCanonicalUuid(id)) { /* INVALID_ARGUMENT */ }
//   std::array<uint8_t, 16> bytes;
//   if (ParseCanonicalUuid(id, &bytes)) { /* the 16 bytes of the id */ }
//   std::string fresh = NewRandomUuid();               // from the OS's entropy
//   FormatUuidV4(rng(), rng(), &out);                  // from a caller's bits
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <utility>

#include "absl/strings/string_view.h"

namespace dealwire::common {

// Returns whether `id` is a UUID in canonical lower-case 8-4-4-4-12 form and
// not the nil UUID.
bool IsCanonicalUuid(absl::string_view id);

// Parses `id` when it has the canonical lower-case 8-4-4-4-12 form (the nil
// UUID included) into its 16 bytes. Returns false, leaving `out` unspecified,
// for any other string.
bool ParseCanonicalUuid(absl::string_view id, std::array<uint8_t, 16>* out);

// Writes the random (version 4, variant 10) UUID made of the bits `hi`, `lo`
// into `out` in canonical form, setting the version and variant bits; returns
// the halves as written. Reuses `out`'s memory.
std::pair<uint64_t, uint64_t> FormatUuidV4(uint64_t hi, uint64_t lo, std::string* out);

// Returns a new random version 4 UUID from std::random_device.
std::string NewRandomUuid();

}  // namespace dealwire::common
