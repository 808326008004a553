// bench/peers/peer_records.h — the records the peers append: the same
// information as one of dealwire-bench's events (a stream, a fresh random
// event id, a type and the data).
//
//   RecordShape shape(/*streams=*/1000, /*data_bytes=*/200);
//   RecordSource source(shape, /*seed=*/caller + 1);
//   const Record& r = source.Next();   // r.stream "org/bench-000417", r.event_id "6f0e…"
//
// Thread-safety: a RecordShape is immutable and may be shared; a
// RecordSource belongs to one caller (thread or event-loop slot) at a time.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace dealwire::peers {

inline constexpr absl::string_view kRecordType = "OrganizationUpdated";

// The stream names and the data every record shares.
class RecordShape {
 public:
  RecordShape(int streams, int data_bytes);

  int streams() const { return static_cast<int>(streams_.size()); }
  const std::string& stream(int k) const { return streams_[k]; }
  // Returns `data_bytes` pseudo-random bytes (incompressible, fixed per run).
  absl::string_view data() const { return data_; }

 private:
  std::vector<std::string> streams_;  // "org/bench-000000" …
  std::string data_;
};

struct Record {
  int stream_index = 0;
  absl::string_view stream;
  std::string event_id;                // canonical lower-case version 4 UUID
  std::array<uint8_t, 16> event_id_bytes{};
};

// Makes one caller's records: consecutive records go to different streams.
class RecordSource {
 public:
  RecordSource(const RecordShape& shape, uint64_t seed);

  // Returns the next record; valid until the following call.
  const Record& Next();
  const RecordShape& shape() const { return shape_; }

 private:
  uint64_t NextRandom();  // splitmix64

  const RecordShape& shape_;
  uint64_t state_;
  uint64_t count_ = 0;
  Record record_;
};

}  // namespace dealwire::peers
