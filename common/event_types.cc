#include "common/event_types.h"

#include <algorithm>

namespace dealwire::common {
namespace {

namespace v1 = dealwire::v1;

const google::protobuf::FieldDescriptor* CaseField(v1::EventPayload::PayloadCase c) {
  if (c == v1::EventPayload::PAYLOAD_NOT_SET) return nullptr;
  return v1::EventPayload::descriptor()->FindFieldByNumber(c);
}

}  // namespace

const std::string& EventTypeName(v1::EventPayload::PayloadCase c) {
  static const std::string* const none = new std::string();
  const google::protobuf::FieldDescriptor* f = CaseField(c);
  return f == nullptr ? *none : f->message_type()->name();
}

const std::string& EventTypeName(const v1::EventPayload& payload) {
  return EventTypeName(payload.payload_case());
}

const std::string& PayloadCaseName(const v1::EventPayload& payload) {
  static const std::string* const none = new std::string("payload");
  const google::protobuf::FieldDescriptor* f = CaseField(payload.payload_case());
  return f == nullptr ? *none : f->name();
}

const std::vector<std::string>& EventTypeNames() {
  static const std::vector<std::string>* const names = [] {
    auto* out = new std::vector<std::string>();
    const google::protobuf::OneofDescriptor* oneof =
        v1::EventPayload::descriptor()->FindOneofByName("payload");
    for (int i = 0; i < oneof->field_count(); ++i) {
      out->push_back(oneof->field(i)->message_type()->name());
    }
    return out;
  }();
  return *names;
}

bool IsEventTypeName(absl::string_view name) {
  const std::vector<std::string>& names = EventTypeNames();
  return std::find(names.begin(), names.end(), name) != names.end();
}

}  // namespace dealwire::common
