#include "common/uuid.h"

#include <random>

namespace dealwire::common {
namespace {

bool IsDash(size_t i) { return i == 8 || i == 13 || i == 18 || i == 23; }

// The value of each lower-case hex digit; 0xff for every other byte.
struct HexTable {
  uint8_t value[256];
  constexpr HexTable() : value() {
    for (int c = 0; c < 256; ++c) value[c] = 0xff;
    for (int c = '0'; c <= '9'; ++c) value[c] = static_cast<uint8_t>(c - '0');
    for (int c = 'a'; c <= 'f'; ++c) value[c] = static_cast<uint8_t>(c - 'a' + 10);
  }
};
constexpr HexTable kHex;

// Offsets of the 16 digit pairs in the 36-byte form.
constexpr int kPairs[16] = {0, 2, 4, 6, 9, 11, 14, 16, 19, 21, 24, 26, 28, 30, 32, 34};

}  // namespace

bool ParseCanonicalUuid(absl::string_view id, std::array<uint8_t, 16>* out) {
  if (id.size() != 36 || id[8] != '-' || id[13] != '-' || id[18] != '-' || id[23] != '-') {
    return false;
  }
  const auto* p = reinterpret_cast<const unsigned char*>(id.data());
  uint8_t bad = 0;
  for (int i = 0; i < 16; ++i) {
    const uint8_t hi = kHex.value[p[kPairs[i]]];
    const uint8_t lo = kHex.value[p[kPairs[i] + 1]];
    bad |= static_cast<uint8_t>(hi | lo) & 0xf0;  // 0xff marks a non-digit
    (*out)[i] = static_cast<uint8_t>(hi << 4 | (lo & 0x0f));
  }
  return bad == 0;
}

bool IsCanonicalUuid(absl::string_view id) {
  std::array<uint8_t, 16> bytes;
  if (!ParseCanonicalUuid(id, &bytes)) return false;
  for (const uint8_t b : bytes) {
    if (b != 0) return true;
  }
  return false;  // the nil UUID
}

std::pair<uint64_t, uint64_t> FormatUuidV4(uint64_t hi, uint64_t lo, std::string* out) {
  static constexpr char kHex[] = "0123456789abcdef";
  hi = (hi & ~0xf000ULL) | 0x4000ULL;            // version 4
  lo = (lo & ~(0xcULL << 60)) | (0x8ULL << 60);  // variant 10xx
  out->resize(36);
  char* p = out->data();
  int nibble = 0;
  for (int i = 0; i < 36; ++i) {
    if (IsDash(i)) {
      p[i] = '-';
      continue;
    }
    const uint64_t word = nibble < 16 ? hi : lo;
    p[i] = kHex[(word >> (60 - 4 * (nibble % 16))) & 0xf];
    ++nibble;
  }
  return {hi, lo};
}

std::string NewRandomUuid() {
  std::random_device rd;
  auto bits = [&rd] { return (static_cast<uint64_t>(rd()) << 32) | rd(); };
  std::string out;
  const uint64_t hi = bits();
  FormatUuidV4(hi, bits(), &out);
  return out;
}

}  // namespace dealwire::common
