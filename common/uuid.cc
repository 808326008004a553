#include "common/uuid.h"

#include <random>

namespace dealwire::common {
namespace {

bool IsDash(size_t i) { return i == 8 || i == 13 || i == 18 || i == 23; }

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

}  // namespace

bool ParseCanonicalUuid(absl::string_view id, std::array<uint8_t, 16>* out) {
  if (id.size() != 36) return false;
  size_t n = 0;
  for (size_t i = 0; i < id.size(); ++i) {
    if (IsDash(i)) {
      if (id[i] != '-') return false;
      continue;
    }
    const int v = HexValue(id[i]);
    if (v < 0) return false;
    if (n % 2 == 0) {
      (*out)[n / 2] = static_cast<uint8_t>(v << 4);
    } else {
      (*out)[n / 2] |= static_cast<uint8_t>(v);
    }
    ++n;
  }
  return true;
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
