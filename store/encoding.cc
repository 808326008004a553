#include "store/encoding.h"

namespace dealwire::store::encoding {
namespace {
// The first byte of every record; bump when the layout changes.
constexpr char kRecordFormat = 1;
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

namespace {
int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}
}  // namespace

std::string EventIdKey(absl::string_view id) {
  std::string k;
  // xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx, lower-case hex.
  if (id.size() == 36 && id[8] == '-' && id[13] == '-' && id[18] == '-' && id[23] == '-') {
    k.reserve(17);
    k.push_back('\x01');
    int high = -1;
    for (size_t i = 0; i < id.size(); ++i) {
      if (i == 8 || i == 13 || i == 18 || i == 23) continue;
      const int v = HexValue(id[i]);
      if (v < 0) break;
      if (high < 0) {
        high = v;
      } else {
        k.push_back(static_cast<char>(high << 4 | v));
        high = -1;
      }
    }
    if (k.size() == 17) return k;
    k.clear();
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

std::string TagPrefix(absl::string_view tag) { return StreamPrefix(tag); }

std::string TagKey(absl::string_view tag, Position p) {
  std::string k = TagPrefix(tag);
  PutFixed64BE(&k, p.value());
  return k;
}

uint64_t DecodeSuffix(absl::string_view key) { return DecodeFixed64BE(key.substr(key.size() - 8)); }

namespace {
void EncodeParts(absl::string_view stream, StreamVersion version, absl::Time recorded_time,
                 absl::string_view event_id, absl::string_view type,
                 const std::vector<std::string>& tags, absl::string_view data, std::string* dst) {
  dst->push_back(kRecordFormat);
  PutVarint64(dst, version.value());
  PutVarint64(dst, static_cast<uint64_t>(absl::ToUnixMicros(recorded_time)));
  PutLengthPrefixed(dst, stream);
  PutLengthPrefixed(dst, event_id);
  PutLengthPrefixed(dst, type);
  PutVarint64(dst, tags.size());
  for (const std::string& t : tags) PutLengthPrefixed(dst, t);
  PutLengthPrefixed(dst, data);
}
}  // namespace

void EncodeRecord(const RecordedEvent& e, std::string* dst) {
  EncodeParts(e.stream, e.stream_version, e.recorded_time, e.event_id, e.type, e.tags, e.data, dst);
}

void EncodeRecord(absl::string_view stream, StreamVersion version, absl::Time recorded_time,
                  const ProposedEvent& e, std::string* dst) {
  EncodeParts(stream, version, recorded_time, e.event_id, e.type, e.tags, e.data, dst);
}

bool DecodeRecord(Position p, absl::string_view in, RecordedEvent* out) {
  if (in.empty() || in.front() != kRecordFormat) return false;
  in.remove_prefix(1);
  uint64_t version, micros, ntags;
  absl::string_view stream, id, type, data;
  if (!GetVarint64(&in, &version) || !GetVarint64(&in, &micros) ||
      !GetLengthPrefixed(&in, &stream) || !GetLengthPrefixed(&in, &id) ||
      !GetLengthPrefixed(&in, &type) || !GetVarint64(&in, &ntags) || ntags > in.size()) {
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
  out->event_id.assign(id.data(), id.size());
  out->type.assign(type.data(), type.size());
  out->data.assign(data.data(), data.size());
  return true;
}

}  // namespace dealwire::store::encoding
