#include "domain/codec.h"

#include "absl/strings/str_cat.h"
#include "common/event_types.h"
#include "domain/validate.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "google/protobuf/util/time_util.h"
#include "google/protobuf/wire_format_lite.h"

namespace dealwire::domain {

namespace v1 = dealwire::v1;
using google::protobuf::internal::WireFormatLite;

absl::Status EncodeEvent(const v1::Event& event, absl::string_view stream, absl::string_view field,
                         absl::string_view recorded_by, store::ProposedEvent* out) {
  event.ByteSizeLong();  // caches the sizes of every part
  return EncodeEventWithCachedSizes(event, stream, field, recorded_by, out);
}

absl::Status EncodeEventWithCachedSizes(const v1::Event& event, absl::string_view stream,
                                        absl::string_view field, absl::string_view recorded_by,
                                        store::ProposedEvent* out) {
  if (absl::Status s = ValidateEnvelope(event, field); !s.ok()) return s;
  if (!event.stream().empty() && event.stream() != stream) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ".stream: '", event.stream().substr(0, 200),
                     "' differs from the request's stream; leave it empty"));
  }
  out->event_id = event.event_id();
  out->type = common::EventTypeName(event.payload());
  // Only what the log does not keep by itself, written straight from
  // `event` in field order: the bytes of a v1::Event holding just these
  // fields (there are no maps, so this is also its deterministic form),
  // into a buffer of exactly their size.
  using google::protobuf::io::CodedOutputStream;
  constexpr auto kDelimited = WireFormatLite::WIRETYPE_LENGTH_DELIMITED;
  const auto delimited = [](int field, size_t size) {
    return WireFormatLite::TagSize(field, WireFormatLite::TYPE_MESSAGE) +
           CodedOutputStream::VarintSize32(static_cast<uint32_t>(size)) + size;
  };
  size_t size = delimited(v1::Event::kEffectiveFieldNumber, event.effective().GetCachedSize());
  for (const v1::Source& source : event.sources()) {
    size += delimited(v1::Event::kSourcesFieldNumber, source.GetCachedSize());
  }
  if (event.confidence() != 0) {
    size += WireFormatLite::TagSize(v1::Event::kConfidenceFieldNumber, WireFormatLite::TYPE_ENUM) +
            WireFormatLite::EnumSize(event.confidence());
  }
  if (!recorded_by.empty()) size += delimited(v1::Event::kRecordedByFieldNumber, recorded_by.size());
  size += delimited(v1::Event::kPayloadFieldNumber, event.payload().GetCachedSize());
  out->data.resize(size);
  auto* p = reinterpret_cast<uint8_t*>(out->data.data());
  const auto message = [&p](int field, const google::protobuf::MessageLite& m) {
    p = WireFormatLite::WriteTagToArray(field, kDelimited, p);
    p = CodedOutputStream::WriteVarint32ToArray(static_cast<uint32_t>(m.GetCachedSize()), p);
    p = m.SerializeWithCachedSizesToArray(p);
  };
  message(v1::Event::kEffectiveFieldNumber, event.effective());
  for (const v1::Source& source : event.sources()) message(v1::Event::kSourcesFieldNumber, source);
  if (event.confidence() != 0) p = WireFormatLite::WriteEnumToArray(
      v1::Event::kConfidenceFieldNumber, event.confidence(), p);
  if (!recorded_by.empty()) {
    p = WireFormatLite::WriteTagToArray(v1::Event::kRecordedByFieldNumber, kDelimited, p);
    p = CodedOutputStream::WriteVarint32ToArray(static_cast<uint32_t>(recorded_by.size()), p);
    p = CodedOutputStream::WriteRawToArray(recorded_by.data(), static_cast<int>(recorded_by.size()),
                                           p);
  }
  message(v1::Event::kPayloadFieldNumber, event.payload());
  if (p != reinterpret_cast<uint8_t*>(out->data.data()) + size) {
    return absl::InternalError(absl::StrCat(field, ": the event changed while it was encoded"));
  }
  return absl::OkStatus();
}

absl::Status DecodeEvent(const store::RecordedEvent& r, v1::Event* out) {
  out->Clear();
  if (!out->ParseFromString(r.data)) {
    return absl::DataLossError(
        absl::StrCat("event at position ", r.position.value(), " cannot be parsed"));
  }
  out->set_event_id(r.event_id);
  out->set_stream(r.stream);
  out->set_stream_version(r.stream_version.value());
  out->set_position(r.position.value());
  *out->mutable_recorded_time() = google::protobuf::util::TimeUtil::MicrosecondsToTimestamp(
      absl::ToUnixMicros(r.recorded_time));
  return absl::OkStatus();
}

std::string DeterministicBytes(const google::protobuf::Message& message) {
  std::string out;
  google::protobuf::io::StringOutputStream stream(&out);
  google::protobuf::io::CodedOutputStream coded(&stream);
  coded.SetSerializationDeterministic(true);
  message.SerializeToCodedStream(&coded);
  coded.Trim();
  return out;
}

namespace {

using google::protobuf::io::CodedOutputStream;

size_t VarintField(int field, uint64_t v) {
  return WireFormatLite::TagSize(field, WireFormatLite::TYPE_UINT64) +
         CodedOutputStream::VarintSize64(v);
}
size_t BytesField(int field, size_t n) {
  return WireFormatLite::TagSize(field, WireFormatLite::TYPE_BYTES) +
         CodedOutputStream::VarintSize64(n) + n;
}
uint8_t* WriteBytesField(int field, absl::string_view bytes, uint8_t* p) {
  p = WireFormatLite::WriteTagToArray(field, WireFormatLite::WIRETYPE_LENGTH_DELIMITED, p);
  p = CodedOutputStream::WriteVarint64ToArray(bytes.size(), p);
  return CodedOutputStream::WriteRawToArray(bytes.data(), static_cast<int>(bytes.size()), p);
}

// The recorded time as google.protobuf.Timestamp fields: seconds, and
// nanos, never negative.
struct WireTime {
  int64_t seconds;
  int32_t nanos;
  size_t size() const {
    return (seconds != 0 ? VarintField(1, static_cast<uint64_t>(seconds)) : 0) +
           (nanos != 0 ? VarintField(2, static_cast<uint64_t>(nanos)) : 0);
  }
};

WireTime TimeOf(const store::RecordedEvent& r) {
  const int64_t micros = absl::ToUnixMicros(r.recorded_time);
  WireTime t{micros / 1000000, static_cast<int32_t>(micros % 1000000) * 1000};
  if (t.nanos < 0) {
    t.nanos += 1000000000;
    t.seconds -= 1;
  }
  return t;
}

size_t WireSize(const store::RecordedEvent& r, const WireTime& t) {
  return BytesField(v1::Event::kEventIdFieldNumber, r.event_id.size()) +
         BytesField(v1::Event::kStreamFieldNumber, r.stream.size()) +
         (r.stream_version.value() != 0
              ? VarintField(v1::Event::kStreamVersionFieldNumber, r.stream_version.value())
              : 0) +
         VarintField(v1::Event::kPositionFieldNumber, r.position.value()) +
         BytesField(v1::Event::kRecordedTimeFieldNumber, t.size()) + r.data.size();
}

}  // namespace

size_t EventWireSize(const store::RecordedEvent& r) { return WireSize(r, TimeOf(r)); }

// What protobuf's serializer writes for these fields (in field order,
// defaults left out), into a buffer of exactly their size, as
// EncodeEventWithCachedSizes writes the data.
void AppendEventWire(const store::RecordedEvent& r, std::string* out) {
  const WireTime t = TimeOf(r);
  const size_t at = out->size();
  out->resize(at + WireSize(r, t));
  auto* p = reinterpret_cast<uint8_t*>(out->data()) + at;
  p = WriteBytesField(v1::Event::kEventIdFieldNumber, r.event_id, p);
  p = WriteBytesField(v1::Event::kStreamFieldNumber, r.stream, p);
  if (r.stream_version.value() != 0) {
    p = WireFormatLite::WriteUInt64ToArray(v1::Event::kStreamVersionFieldNumber,
                                           r.stream_version.value(), p);
  }
  p = WireFormatLite::WriteUInt64ToArray(v1::Event::kPositionFieldNumber, r.position.value(), p);
  p = WireFormatLite::WriteTagToArray(v1::Event::kRecordedTimeFieldNumber,
                                      WireFormatLite::WIRETYPE_LENGTH_DELIMITED, p);
  p = CodedOutputStream::WriteVarint64ToArray(t.size(), p);
  if (t.seconds != 0) p = WireFormatLite::WriteInt64ToArray(1, t.seconds, p);
  if (t.nanos != 0) p = WireFormatLite::WriteInt32ToArray(2, t.nanos, p);
  CodedOutputStream::WriteRawToArray(r.data.data(), static_cast<int>(r.data.size()), p);
}

}  // namespace dealwire::domain
