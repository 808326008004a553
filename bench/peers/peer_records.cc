#include "bench/peers/peer_records.h"

#include <cstdio>

namespace dealwire::peers {
namespace {

uint64_t SplitMix64(uint64_t& state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

}  // namespace

RecordShape::RecordShape(int streams, int data_bytes) {
  streams_.reserve(static_cast<size_t>(streams));
  char name[32];
  for (int k = 0; k < streams; ++k) {
    std::snprintf(name, sizeof name, "org/bench-%06d", k);
    streams_.emplace_back(name);
  }
  uint64_t state = 0x5eed;
  data_.resize(static_cast<size_t>(data_bytes));
  for (char& c : data_) c = static_cast<char>(SplitMix64(state) & 0xff);
}

RecordSource::RecordSource(const RecordShape& shape, uint64_t seed)
    : shape_(shape), state_(seed * 0x2545f4914f6cdd1dULL) {
  record_.event_id.resize(36);
}

uint64_t RecordSource::NextRandom() { return SplitMix64(state_); }

const Record& RecordSource::Next() {
  // Callers start at different streams (the seed) and step by a prime, as
  // dealwire-bench spreads its callers over its organizations.
  const uint64_t n = count_++;
  record_.stream_index =
      static_cast<int>((n * 7919 + state_ % 1000003) % static_cast<uint64_t>(shape_.streams()));
  record_.stream = shape_.stream(record_.stream_index);

  const uint64_t hi = NextRandom();
  const uint64_t lo = NextRandom();
  for (int i = 0; i < 8; ++i) {
    record_.event_id_bytes[i] = static_cast<uint8_t>(hi >> (56 - 8 * i));
    record_.event_id_bytes[8 + i] = static_cast<uint8_t>(lo >> (56 - 8 * i));
  }
  record_.event_id_bytes[6] = static_cast<uint8_t>((record_.event_id_bytes[6] & 0x0f) | 0x40);
  record_.event_id_bytes[8] = static_cast<uint8_t>((record_.event_id_bytes[8] & 0x3f) | 0x80);
  static constexpr char kHex[] = "0123456789abcdef";
  size_t out = 0;
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) record_.event_id[out++] = '-';
    record_.event_id[out++] = kHex[record_.event_id_bytes[i] >> 4];
    record_.event_id[out++] = kHex[record_.event_id_bytes[i] & 0x0f];
  }
  return record_;
}

}  // namespace dealwire::peers
