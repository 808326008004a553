#include "common/event_jsonl.h"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/stubs/stringpiece.h"
#include "google/protobuf/type.pb.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/type_resolver.h"
#include "google/protobuf/util/type_resolver_util.h"

namespace dealwire::common {
namespace {

namespace v1 = dealwire::v1;

constexpr absl::string_view kUtf8Bom = "\xEF\xBB\xBF";
constexpr absl::string_view kTypeUrlPrefix = "type.googleapis.com";

// The type resolver that MessageToJsonString and JsonStringToMessage use for
// generated messages, with a cache in front. protobuf 3.21 resolves every
// message and enum type anew for each message it prints or parses (building a
// google.protobuf.Type from descriptors); a copy from the cache is cheaper, and
// the results are the same. One per thread: no locking on the hot path.
class CachingTypeResolver final : public google::protobuf::util::TypeResolver {
 public:
  CachingTypeResolver()
      : base_(google::protobuf::util::NewTypeResolverForDescriptorPool(
            std::string(kTypeUrlPrefix), google::protobuf::DescriptorPool::generated_pool())) {}

  google::protobuf::util::Status ResolveMessageType(const std::string& type_url,
                                                    google::protobuf::Type* type) override {
    return Resolve(type_url, type, messages_,
                   [this](const std::string& url, google::protobuf::Type* out) {
                     return base_->ResolveMessageType(url, out);
                   });
  }

  google::protobuf::util::Status ResolveEnumType(const std::string& type_url,
                                                 google::protobuf::Enum* enum_type) override {
    return Resolve(type_url, enum_type, enums_,
                   [this](const std::string& url, google::protobuf::Enum* out) {
                     return base_->ResolveEnumType(url, out);
                   });
  }

 private:
  template <typename T, typename Fn>
  static google::protobuf::util::Status Resolve(const std::string& type_url, T* out,
                                                absl::flat_hash_map<std::string, T>& cache,
                                                Fn resolve) {
    if (auto it = cache.find(type_url); it != cache.end()) {
      *out = it->second;
      return google::protobuf::util::Status();
    }
    google::protobuf::util::Status status = resolve(type_url, out);
    if (status.ok()) {
      // The printer never reads the source file name; not copying it saves
      // allocations on every use.
      out->clear_source_context();
      cache.emplace(type_url, *out);
    }
    return status;
  }

  std::unique_ptr<google::protobuf::util::TypeResolver> base_;
  absl::flat_hash_map<std::string, google::protobuf::Type> messages_;
  absl::flat_hash_map<std::string, google::protobuf::Enum> enums_;
};

CachingTypeResolver& ThreadResolver() {
  thread_local CachingTypeResolver resolver;
  return resolver;
}

const std::string& EventTypeUrl() {
  static const std::string* const url =
      new std::string(absl::StrCat(kTypeUrlPrefix, "/", v1::Event::descriptor()->full_name()));
  return *url;
}

absl::Status LineError(absl::string_view source_name, int line, absl::string_view reason) {
  // The JSON parser's reasons may span lines; an error stays on one.
  return absl::InvalidArgumentError(absl::StrCat(
      source_name, ":", line, ": ", absl::StrReplaceAll(reason, {{"\r", " "}, {"\n", " "}})));
}

absl::string_view OneLine(absl::string_view reason, std::string* buffer) {
  *buffer = absl::StrReplaceAll(reason, {{"\r", " "}, {"\n", " "}});
  return *buffer;
}

// Parses one line (without its '\n') into `out`. Returns true when the line
// held an event and false when it is a comment or blank.
absl::StatusOr<bool> ParseLine(absl::string_view text, absl::string_view source_name, int line,
                               v1::Event* out) {
  const absl::string_view json = EventLineText(text, line == 1);
  if (json.empty()) return false;
  if (absl::Status s = ParseEventJson(json, out); !s.ok()) {
    return LineError(source_name, line, s.message());
  }
  if (out->stream().empty()) return LineError(source_name, line, "stream: missing");
  return true;
}

}  // namespace

absl::string_view EventLineText(absl::string_view line, bool first_line) {
  if (first_line && absl::StartsWith(line, kUtf8Bom)) line.remove_prefix(kUtf8Bom.size());
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  const absl::string_view rest = absl::StripLeadingAsciiWhitespace(line);
  if (rest.empty() || rest.front() == '#') return {};
  return line;
}

absl::Status ParseEventJson(absl::string_view json, v1::Event* out) {
  // What JsonStringToMessage does, with the cached type resolver.
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  thread_local std::string binary;
  binary.clear();
  const auto status = google::protobuf::util::JsonToBinaryString(
      &ThreadResolver(), EventTypeUrl(), google::protobuf::StringPiece(json.data(), json.size()),
      &binary, options);
  std::string reason;
  if (!status.ok()) {
    const auto message = status.message();
    return absl::InvalidArgumentError(
        OneLine(absl::string_view(message.data(), message.size()), &reason));
  }
  out->Clear();
  if (!out->ParseFromString(binary)) {
    return absl::InvalidArgumentError("JSON transcoder produced invalid protobuf output.");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<v1::Event>> ParseEventsJsonl(absl::string_view text,
                                                        absl::string_view source_name) {
  std::vector<v1::Event> events;
  int line = 0;
  while (!text.empty()) {
    ++line;
    const size_t end = text.find('\n');
    const absl::string_view current = text.substr(0, end);
    text.remove_prefix(end == absl::string_view::npos ? text.size() : end + 1);
    v1::Event event;
    absl::StatusOr<bool> parsed = ParseLine(current, source_name, line, &event);
    if (!parsed.ok()) return parsed.status();
    if (*parsed) events.push_back(std::move(event));
  }
  return events;
}

absl::StatusOr<std::vector<v1::Event>> ReadEventsJsonlFile(const std::string& path) {
  std::error_code ec;
  const std::filesystem::file_status st = std::filesystem::status(path, ec);
  if (!std::filesystem::exists(st)) {
    return absl::NotFoundError(absl::StrCat(path, ": no such file"));
  }
  if (std::filesystem::is_directory(st)) {
    return absl::NotFoundError(absl::StrCat(path, ": is a directory, not a file"));
  }
  std::ifstream in(path, std::ios::binary);
  if (!in.is_open()) {
    return absl::PermissionDeniedError(absl::StrCat(path, ": cannot open: ", std::strerror(errno)));
  }
  EventJsonlReader reader(in, path);
  std::vector<v1::Event> events;
  for (;;) {
    v1::Event event;
    absl::StatusOr<bool> more = reader.Next(&event, nullptr);
    if (!more.ok()) return more.status();
    if (!*more) break;
    events.push_back(std::move(event));
  }
  return events;
}

EventJsonlReader::EventJsonlReader(std::istream& in, std::string source_name)
    : in_(in), source_name_(std::move(source_name)) {}

absl::StatusOr<bool> EventJsonlReader::Next(v1::Event* out, int* line) {
  while (std::getline(in_, buffer_)) {
    ++line_;
    if (line != nullptr) *line = line_;
    absl::StatusOr<bool> parsed = ParseLine(buffer_, source_name_, line_, out);
    if (!parsed.ok() || *parsed) return parsed;
  }
  if (in_.bad()) {
    return absl::DataLossError(
        absl::StrCat(source_name_, ":", line_ + 1, ": read failed: ", std::strerror(errno)));
  }
  return false;
}

void AppendEventJsonl(const v1::Event& event, std::string* out) {
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = false;
  options.always_print_primitive_fields = false;
  options.always_print_enums_as_ints = false;
  options.preserve_proto_field_names = false;
  // What MessageToJsonString does, with the cached type resolver and one
  // scratch buffer per thread.
  thread_local std::string binary;
  thread_local std::string json;
  binary.clear();
  json.clear();
  event.SerializeToString(&binary);
  const auto status = google::protobuf::util::BinaryToJsonString(&ThreadResolver(), EventTypeUrl(),
                                                                 binary, &json, options);
  if (!status.ok()) {
    const auto message = status.message();
    absl::StrAppend(out, "!AppendEventJsonl: event '", event.event_id(), "' has no JSON form: ",
                    absl::StrReplaceAll(absl::string_view(message.data(), message.size()),
                                        {{"\r", " "}, {"\n", " "}}),
                    "\n");
    return;
  }
  out->append(json);
  out->push_back('\n');
}

}  // namespace dealwire::common
