#include "common/event_types.h"

#include <algorithm>

namespace dealwire::common {
namespace {

namespace v1 = dealwire::v1;

// The type and case names of each payload case, by field number: looked up
// on every event, so a table instead of the descriptor's search.
struct Names {
  std::vector<const std::string*> type, field;
};

const Names& CaseNames() {
  static const Names* const names = [] {
    auto* out = new Names();
    const google::protobuf::OneofDescriptor* oneof =
        v1::EventPayload::descriptor()->FindOneofByName("payload");
    for (int i = 0; i < oneof->field_count(); ++i) {
      const google::protobuf::FieldDescriptor* f = oneof->field(i);
      const size_t n = static_cast<size_t>(f->number());
      if (out->type.size() <= n) {
        out->type.resize(n + 1, nullptr);
        out->field.resize(n + 1, nullptr);
      }
      out->type[n] = &f->message_type()->name();
      out->field[n] = &f->name();
    }
    return out;
  }();
  return *names;
}

const std::string* Lookup(const std::vector<const std::string*>& table, int c) {
  const size_t n = static_cast<size_t>(c);
  return c > 0 && n < table.size() ? table[n] : nullptr;
}

}  // namespace

const std::string& EventTypeName(v1::EventPayload::PayloadCase c) {
  static const std::string* const none = new std::string();
  const std::string* name = Lookup(CaseNames().type, c);
  return name == nullptr ? *none : *name;
}

const std::string& EventTypeName(const v1::EventPayload& payload) {
  return EventTypeName(payload.payload_case());
}

const std::string& PayloadCaseName(const v1::EventPayload& payload) {
  static const std::string* const none = new std::string("payload");
  const std::string* name = Lookup(CaseNames().field, payload.payload_case());
  return name == nullptr ? *none : *name;
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
