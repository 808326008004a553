#include "projections/event_codec.h"

#include "absl/strings/str_cat.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "google/protobuf/util/time_util.h"
#include "projections/event_tags.h"
#include "projections/validate.h"

namespace dealwire::projections {

namespace v1 = dealwire::v1;

absl::StatusOr<store::ProposedEvent> EncodeEvent(const v1::Event& event, absl::string_view stream,
                                                 absl::string_view field,
                                                 absl::string_view recorded_by,
                                                 const store::EventLog& log) {
  if (absl::Status s = ValidateEnvelope(event, field); !s.ok()) return s;
  if (!event.stream().empty() && event.stream() != stream) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ".stream: '", event.stream().substr(0, 200),
                     "' differs from the request's stream; leave it empty"));
  }
  absl::StatusOr<std::vector<std::string>> tags = EventTags(event.payload(), log);
  if (!tags.ok()) return tags.status();

  // Only what the log does not keep by itself.
  v1::Event kept;
  *kept.mutable_effective() = event.effective();
  *kept.mutable_sources() = event.sources();
  kept.set_confidence(event.confidence());
  kept.set_recorded_by(std::string(recorded_by));
  *kept.mutable_payload() = event.payload();

  store::ProposedEvent out;
  out.event_id = event.event_id();
  out.type = EventTypeName(event.payload());
  out.tags = *std::move(tags);
  {
    google::protobuf::io::StringOutputStream raw(&out.data);
    google::protobuf::io::CodedOutputStream coded(&raw);
    coded.SetSerializationDeterministic(true);
    kept.SerializeToCodedStream(&coded);
  }
  return out;
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

}  // namespace dealwire::projections
