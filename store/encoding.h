// store/encoding.h — byte encodings of the log's keys and records.
//
// Keys use big-endian fixed-width integers so that RocksDB's bytewise order is
// numeric order (position 2^32 sorts after 2^32 - 1). Records are
// length-prefixed with varints. Internal to store/.
#pragma once

#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "store/types.h"

namespace dealwire::store::encoding {

// Appends `v` as 8 big-endian bytes.
void PutFixed64BE(std::string* dst, uint64_t v);
// Decodes 8 big-endian bytes. REQUIRES: src.size() >= 8.
uint64_t DecodeFixed64BE(absl::string_view src);

void PutVarint64(std::string* dst, uint64_t v);
// Reads a varint from the front of `*in` and advances it. Returns false when
// `*in` is truncated or malformed.
bool GetVarint64(absl::string_view* in, uint64_t* v);
void PutLengthPrefixed(std::string* dst, absl::string_view s);
bool GetLengthPrefixed(absl::string_view* in, absl::string_view* s);

// Key of the events column family: the position.
std::string EventKey(Position p);
// Key of the stream index: stream, NUL, the first version of a run of the
// stream's events. Streams contain no NUL.
std::string StreamKey(absl::string_view stream, StreamVersion first);
// Prefix of every stream-index key of `stream` (stream followed by NUL).
std::string StreamPrefix(absl::string_view stream);
// The fixed 8-byte suffix of a stream key: the run's first version.
uint64_t DecodeSuffix(absl::string_view key);

// A run of the stream index: `count` events of one stream at consecutive
// versions from `first_version` and consecutive positions from
// `first_position` — the events of one append. One key per append, not per
// event. Value: the first position (8 bytes big-endian), then the count as a
// varint when it is more than 1; an 8-byte value is a run of one, which is
// also how format 1 kept every event.
struct StreamRun {
  uint64_t first_version = 0;
  uint64_t first_position = 0;
  uint64_t count = 0;
};
void EncodeStreamRun(uint64_t first_position, uint64_t count, std::string* dst);
// Decodes the run stored under `key` with `value`. Returns false when corrupt.
bool DecodeStreamRun(absl::string_view key, absl::string_view value, StreamRun* out);

// Key of the event-id index. A canonical lower-case UUID (the usual id) is
// stored as 0x01 and its 16 bytes; any other id as 0x00 and its bytes. Half
// the size keeps more of the index in cache, and the two forms never collide.
std::string EventIdKey(absl::string_view event_id);

// Encodes everything of an event but its position (which is the key), in
// record format 2: a canonical UUID id takes its 16 bytes instead of 36.
void EncodeRecord(absl::string_view stream, StreamVersion version, absl::Time recorded_time,
                  const ProposedEvent& e, std::string* dst);
// Encodes the same record but its data (which follows it, as is: the record
// is `*dst` then `e.data`), taking the id from `id_key`, e.event_id's
// EventIdKey, so that the id is parsed once.
void EncodeRecordHead(absl::string_view stream, StreamVersion version, absl::Time recorded_time,
                      const ProposedEvent& e, absl::string_view id_key, std::string* dst);
// Decodes a record (format 1 or 2) stored under `p`. Returns false if
// `value` is corrupt.
bool DecodeRecord(Position p, absl::string_view value, RecordedEvent* out);

}  // namespace dealwire::store::encoding
