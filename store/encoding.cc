#include "store/encoding.h"

#include <array>

#include "common/uuid.h"

namespace dealwire::store::encoding {
namespace {
// The first byte of every record; bump when the layout changes. Format 1
// kept the event id as it was given; format 2 keeps a canonical UUID as
// 0x01 and its 16 bytes, any other id as 0x00 and its length-prefixed bytes.
constexpr char kRecordFormat1 = 1;
constexpr char kRecordFormat2 = 2;
}  // namespace

void PutFixed64BE(std::string* dst, uint64_t v) {
  char buf[8];
  for (int i = 7; i >= 0; --i) {
    buf[i] = static_cast<char>(v & 0xff);
    v >>= 8;
  }
  dst->append(buf, 8);
}

uint64_t DecodeFixed64BE(absl::string_view src) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<uint8_t>(src[i]);
  return v;
}

void PutVarint64(std::string* dst, uint64_t v) {
  while (v >= 0x80) {
    dst->push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  dst->push_back(static_cast<char>(v));
}

bool GetVarint64(absl::string_view* in, uint64_t* v) {
  uint64_t result = 0;
  for (int shift = 0; shift <= 63 && !in->empty(); shift += 7) {
    const uint8_t byte = static_cast<uint8_t>(in->front());
    in->remove_prefix(1);
    result |= static_cast<uint64_t>(byte & 0x7f) << shift;
    if ((byte & 0x80) == 0) {
      *v = result;
      return true;
    }
  }
  return false;
}

void PutLengthPrefixed(std::string* dst, absl::string_view s) {
  PutVarint64(dst, s.size());
  dst->append(s.data(), s.size());
}

bool GetLengthPrefixed(absl::string_view* in, absl::string_view* s) {
  uint64_t len;
  if (!GetVarint64(in, &len) || len > in->size()) return false;
  *s = in->substr(0, len);
  in->remove_prefix(len);
  return true;
}

std::string EventIdKey(absl::string_view id) {
  std::string k;
  std::array<uint8_t, 16> bytes;
  if (common::ParseCanonicalUuid(id, &bytes)) {
    k.reserve(17);
    k.push_back('\x01');
    k.append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    return k;
  }
  k.reserve(id.size() + 1);
  k.push_back('\0');
  k.append(id.data(), id.size());
  return k;
}

std::string EventKey(Position p) {
  std::string k;
  PutFixed64BE(&k, p.value());
  return k;
}

std::string StreamPrefix(absl::string_view stream) {
  std::string k;
  k.reserve(stream.size() + 9);
  k.append(stream.data(), stream.size());
  k.push_back('\0');
  return k;
}

std::string StreamKey(absl::string_view stream, StreamVersion v) {
  std::string k = StreamPrefix(stream);
  PutFixed64BE(&k, v.value());
  return k;
}

uint64_t DecodeSuffix(absl::string_view key) { return DecodeFixed64BE(key.substr(key.size() - 8)); }

void EncodeStreamRun(uint64_t first_position, uint64_t count, std::string* dst) {
  PutFixed64BE(dst, first_position);
  if (count > 1) PutVarint64(dst, count);
}

bool DecodeStreamRun(absl::string_view key, absl::string_view value, StreamRun* out) {
  if (key.size() < 9 || value.size() < 8) return false;
  out->first_version = DecodeSuffix(key);
  out->first_position = DecodeFixed64BE(value);
  value.remove_prefix(8);
  out->count = 1;
  if (!value.empty() && (!GetVarint64(&value, &out->count) || !value.empty() || out->count < 2)) {
    return false;
  }
  return true;
}

void EncodeRecordHead(absl::string_view stream, StreamVersion version, absl::Time recorded_time,
                      const ProposedEvent& e, absl::string_view id_key, std::string* dst) {
  dst->push_back(kRecordFormat2);
  PutVarint64(dst, version.value());
  PutVarint64(dst, static_cast<uint64_t>(absl::ToUnixMicros(recorded_time)));
  PutLengthPrefixed(dst, stream);
  if (id_key.size() == 17 && id_key[0] == '\x01') {
    dst->append(id_key.data(), id_key.size());  // 0x01 and the UUID's 16 bytes
  } else {
    dst->push_back('\0');
    PutLengthPrefixed(dst, e.event_id);
  }
  PutLengthPrefixed(dst, e.type);
  PutVarint64(dst, e.tags.size());
  for (const std::string& t : e.tags) PutLengthPrefixed(dst, t);
  PutVarint64(dst, e.data.size());
}

void EncodeRecord(absl::string_view stream, StreamVersion version, absl::Time recorded_time,
                  const ProposedEvent& e, std::string* dst) {
  EncodeRecordHead(stream, version, recorded_time, e, EventIdKey(e.event_id), dst);
  dst->append(e.data);
}

namespace {

// Reads a format 2 event id from the front of `*in` into `out`.
bool GetEventId(absl::string_view* in, std::string* out) {
  if (in->empty()) return false;
  const char form = in->front();
  in->remove_prefix(1);
  if (form == '\0') {
    absl::string_view id;
    if (!GetLengthPrefixed(in, &id)) return false;
    out->assign(id.data(), id.size());
    return true;
  }
  if (form != '\x01' || in->size() < 16) return false;
  static constexpr char kHex[] = "0123456789abcdef";
  out->resize(36);
  char* p = out->data();
  for (int i = 0, b = 0; i < 36; ++i) {
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      p[i] = '-';
      continue;
    }
    const uint8_t byte = static_cast<uint8_t>((*in)[b / 2]);
    p[i] = kHex[b % 2 == 0 ? byte >> 4 : byte & 0xf];
    ++b;
  }
  in->remove_prefix(16);
  return true;
}

}  // namespace

bool DecodeRecord(Position p, absl::string_view in, RecordedEvent* out) {
  if (in.empty() || (in.front() != kRecordFormat1 && in.front() != kRecordFormat2)) return false;
  const bool format2 = in.front() == kRecordFormat2;
  in.remove_prefix(1);
  uint64_t version, micros, ntags;
  absl::string_view stream, type, data;
  if (!GetVarint64(&in, &version) || !GetVarint64(&in, &micros) ||
      !GetLengthPrefixed(&in, &stream)) {
    return false;
  }
  if (format2) {
    if (!GetEventId(&in, &out->event_id)) return false;
  } else {
    absl::string_view id;
    if (!GetLengthPrefixed(&in, &id)) return false;
    out->event_id.assign(id.data(), id.size());
  }
  if (!GetLengthPrefixed(&in, &type) || !GetVarint64(&in, &ntags) || ntags > in.size()) {
    return false;
  }
  out->tags.clear();
  out->tags.reserve(ntags);
  for (uint64_t i = 0; i < ntags; ++i) {
    absl::string_view tag;
    if (!GetLengthPrefixed(&in, &tag)) return false;
    out->tags.emplace_back(tag);
  }
  if (!GetLengthPrefixed(&in, &data) || !in.empty()) return false;
  out->position = p;
  out->stream.assign(stream.data(), stream.size());
  out->stream_version = StreamVersion(version);
  out->recorded_time = absl::FromUnixMicros(static_cast<int64_t>(micros));
  out->type.assign(type.data(), type.size());
  out->data.assign(data.data(), data.size());
  return true;
}

}  // namespace dealwire::store::encoding
