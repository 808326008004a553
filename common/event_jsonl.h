// common/event_jsonl.h — events as JSON Lines: one dealwire.v1.Event per
// line, in protobuf's canonical JSON mapping (lowerCamelCase field names, enum
// value names, 64-bit integers as strings), for demo data, bulk import and
// generated load.
//
//   ASSIGN_OR_RETURN(std::vector<dealwire::v1::Event> events,
//                    ReadEventsJsonlFile("demo/seed_story.jsonl"));
//   std::string out;
//   for (const dealwire::v1::Event& e : events) AppendEventJsonl(e, &out);
//
//   std::ifstream in(path);                  // 1M+ lines: one event at a time
//   EventJsonlReader reader(in, path);
//   dealwire::v1::Event event;
//   int line = 0;
//   for (;;) {
//     ASSIGN_OR_RETURN(bool more, reader.Next(&event, &line));
//     if (!more) break;
//     ...  // event.stream() is the stream to append it to
//   }
//
// Format: each line holds one JSON object that is a dealwire.v1.Event; its
// `stream` field names the stream the event is appended to and is required.
// Empty lines, lines of only blanks and lines whose first non-blank character
// is '#' are comments and are skipped. A line may end in "\r\n"; a UTF-8 byte
// order mark before the first line is ignored. Unknown JSON fields are errors
// (a misspelt field is never silently dropped).
//
// Parsing checks only the JSON shape and the presence of `stream`; whether an
// event is valid for the log (ValidateEnvelope, domain rules) is the appender's
// business.
#pragma once

#include <istream>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "dealwire/v1/events.pb.h"

namespace dealwire::common {

// Returns the JSON of one line (without its '\n'): without a "\r" ending nor,
// on the `first_line`, a UTF-8 byte order mark; empty for blank lines and
// comments. For readers that split lines themselves (the CLI's import).
absl::string_view EventLineText(absl::string_view line, bool first_line);

// Parses `json`, one event in the canonical JSON mapping, into `out` (cleared
// first). Returns INVALID_ARGUMENT with the JSON parser's reason, on one
// line. Does not require `stream`.
absl::Status ParseEventJson(absl::string_view json, dealwire::v1::Event* out);

// Parses `text`, JSON Lines of events, into the events in line order.
// `source_name` (a file name, "stdin") prefixes error messages.
//
// Returns INVALID_ARGUMENT "<source_name>:<line>: <reason>" for the first
// line (1-based) that is not a JSON dealwire.v1.Event (the reason is the JSON
// parser's) or whose event has no stream ("stream: missing").
absl::StatusOr<std::vector<dealwire::v1::Event>> ParseEventsJsonl(absl::string_view text,
                                                                  absl::string_view source_name);

// Reads the file at `path` and parses it as ParseEventsJsonl does, with `path`
// as the source name.
//
// Returns NOT_FOUND when there is no file at `path`, PERMISSION_DENIED when it
// cannot be opened, DATA_LOSS when reading it fails midway, or the
// INVALID_ARGUMENT of ParseEventsJsonl.
absl::StatusOr<std::vector<dealwire::v1::Event>> ReadEventsJsonlFile(const std::string& path);

// Reads JSON Lines of events from a stream one event at a time, so that files
// of millions of lines are never held in memory.
//
// Thread-safety: none; one reader belongs to one thread at a time.
class EventJsonlReader {
 public:
  // Reads from `in`, which must outlive the reader. `source_name` prefixes
  // error messages.
  EventJsonlReader(std::istream& in, std::string source_name);

  EventJsonlReader(const EventJsonlReader&) = delete;
  EventJsonlReader& operator=(const EventJsonlReader&) = delete;

  // Reads up to the next event line, skipping comments, and fills `out`
  // (cleared first) with its event and `*line` (when not null) with its
  // 1-based line number. Returns true when an event was read and false at
  // the end of the input.
  //
  // Returns INVALID_ARGUMENT "<source_name>:<line>: <reason>" for a line that
  // is not a JSON dealwire.v1.Event or has no stream (`*line` is set to it);
  // the next call goes on with the following line. Returns DATA_LOSS when
  // reading the stream fails.
  absl::StatusOr<bool> Next(dealwire::v1::Event* out, int* line);

  // Returns the number of lines read so far (comments included).
  int lines_read() const { return line_; }

 private:
  std::istream& in_;
  std::string source_name_;
  std::string buffer_;
  int line_ = 0;
};

// Appends to `out` the event as one line of JSON (canonical mapping, compact,
// lowerCamelCase field names, fields at their default value left out)
// followed by '\n'. Parsing the line gives back `event`.
//
// REQUIRES: `event` has a JSON form: its string fields are valid UTF-8 and its
// recorded_time, when set, lies within years 1..9999 (every event read from
// the log has one). Otherwise the line written starts with "!" and names the
// error, so that reading the output fails at that line instead of skipping it.
void AppendEventJsonl(const dealwire::v1::Event& event, std::string* out);

}  // namespace dealwire::common
