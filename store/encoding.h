// store/encoding.h — byte encodings of the log's keys and records.
//
// Keys use big-endian fixed-width integers so that RocksDB's bytewise order is
// numeric order (position 2^32 sorts after 2^32 - 1). Records are
// length-prefixed with varints. Internal to store/.
#pragma once

#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"
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
// Key of the stream index: stream, NUL, version. Streams contain no NUL.
std::string StreamKey(absl::string_view stream, StreamVersion v);
// Prefix of every stream-index key of `stream` (stream followed by NUL).
std::string StreamPrefix(absl::string_view stream);
// Key of the event-id index. A canonical lower-case UUID (the usual id) is
// stored as 0x01 and its 16 bytes; any other id as 0x00 and its bytes. Half
// the size keeps more of the index in cache, and the two forms never collide.
std::string EventIdKey(absl::string_view event_id);
// Key of the tag index: tag, NUL, position. Tags contain no NUL.
std::string TagKey(absl::string_view tag, Position p);
std::string TagPrefix(absl::string_view tag);
// The fixed 8-byte suffix of a stream or tag key.
uint64_t DecodeSuffix(absl::string_view key);

// Encodes everything of `e` but its position (which is the key).
void EncodeRecord(const RecordedEvent& e, std::string* dst);
// Same, from the parts, without building a RecordedEvent first.
void EncodeRecord(absl::string_view stream, StreamVersion version, absl::Time recorded_time,
                  const ProposedEvent& e, std::string* dst);
// Decodes a record stored under `p`. Returns false if `value` is corrupt.
bool DecodeRecord(Position p, absl::string_view value, RecordedEvent* out);

}  // namespace dealwire::store::encoding
