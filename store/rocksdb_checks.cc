// store/rocksdb_checks.cc — what an append must pass before it is
// written, and its records once it has: the limits on its stream and events
// (CheckStream, CheckEvents), repeats of written events (CheckRepeat), the
// expected version (NextVersion), and the decider's decision (Prepare; the
// events it may look up are a GroupView).
#include <algorithm>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/match.h"
#include "absl/strings/str_format.h"
#include "rocksdb/write_batch.h"
#include "store/encoding.h"
#include "store/event_id_index.h"
#include "store/rocksdb_event_log.h"

namespace dealwire::store {
namespace {

namespace enc = encoding;

bool HasNul(absl::string_view s) { return absl::StrContains(s, absl::string_view("\0", 1)); }

// Whether `e` (in `stream`) repeats an event written as `other_*`. Tags
// count only where the caller sets them (`with_tags`); a decider derives
// them from the rest (see types.h).
bool SameContent(absl::string_view stream, const ProposedEvent& e, absl::string_view other_stream,
                 absl::string_view type, const std::vector<std::string>& tags,
                 absl::string_view data, bool with_tags) {
  return stream == other_stream && e.type == type && e.data == data &&
         (!with_tags || e.tags == tags);
}

}  // namespace

absl::Status RocksDbEventLog::CheckStream(absl::string_view stream, size_t events) const {
  const Options& o = options_;
  if (stream.empty()) return absl::InvalidArgumentError("stream: must not be empty");
  if (stream.size() > o.max_stream_bytes) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "stream: %d bytes exceed the limit of %d (max_stream_bytes)", stream.size(),
        o.max_stream_bytes));
  }
  if (HasNul(stream)) return absl::InvalidArgumentError("stream: must not contain NUL bytes");
  if (events == 0) return absl::InvalidArgumentError("events: an append needs at least one event");
  if (events > o.max_events_per_append) {
    return absl::ResourceExhaustedError(absl::StrFormat(
        "events: %d events exceed the limit of %d per append (max_events_per_append)", events,
        o.max_events_per_append));
  }
  return absl::OkStatus();
}

absl::Status RocksDbEventLog::CheckEvents(std::vector<ProposedEvent>& events,
                                          size_t* bytes) const {
  const Options& o = options_;
  *bytes = 0;
  // Ids repeated within the append: a set only when there are several.
  absl::flat_hash_map<absl::string_view, size_t> seen;
  if (events.size() > 1) seen.reserve(events.size());
  for (size_t i = 0; i < events.size(); ++i) {
    ProposedEvent& e = events[i];
    if (e.event_id.empty()) {
      return absl::InvalidArgumentError(absl::StrFormat("events[%d].event_id: must not be empty", i));
    }
    if (e.event_id.size() > o.max_event_id_bytes) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "events[%d].event_id: %d bytes exceed the limit of %d (max_event_id_bytes)", i,
          e.event_id.size(), o.max_event_id_bytes));
    }
    if (HasNul(e.event_id)) {
      return absl::InvalidArgumentError(
          absl::StrFormat("events[%d].event_id: must not contain NUL bytes", i));
    }
    if (events.size() > 1) {
      if (auto [it, inserted] = seen.emplace(e.event_id, i); !inserted) {
        return absl::InvalidArgumentError(absl::StrFormat(
            "events[%d].event_id: '%s' repeats events[%d].event_id within one append", i,
            e.event_id, it->second));
      }
    }
    if (e.type.size() > o.max_type_bytes) {
      return absl::InvalidArgumentError(
          absl::StrFormat("events[%d].type: %d bytes exceed the limit of %d (max_type_bytes)", i,
                          e.type.size(), o.max_type_bytes));
    }
    if (e.tags.size() > o.max_tags_per_event) {
      return absl::ResourceExhaustedError(
          absl::StrFormat("events[%d].tags: %d tags exceed the limit of %d (max_tags_per_event)", i,
                          e.tags.size(), o.max_tags_per_event));
    }
    size_t size = e.event_id.size() + e.type.size() + e.data.size();
    for (size_t t = 0; t < e.tags.size(); ++t) {
      const std::string& tag = e.tags[t];
      if (tag.empty() || tag.size() > o.max_tag_bytes || HasNul(tag)) {
        return absl::InvalidArgumentError(absl::StrFormat(
            "events[%d].tags[%d]: must be 1..%d bytes without NUL (max_tag_bytes)", i, t,
            o.max_tag_bytes));
      }
      size += tag.size();
    }
    // Tags are a set: keep the first occurrence of each, in order.
    for (size_t t = 1; t < e.tags.size();) {
      if (std::find(e.tags.begin(), e.tags.begin() + t, e.tags[t]) != e.tags.begin() + t) {
        e.tags.erase(e.tags.begin() + t);
      } else {
        ++t;
      }
    }
    if (size > o.max_event_bytes) {
      return absl::ResourceExhaustedError(
          absl::StrFormat("events[%d]: %d bytes exceed the limit of %d (max_event_bytes)", i, size,
                          o.max_event_bytes));
    }
    *bytes += size;
  }
  return absl::OkStatus();
}

absl::StatusOr<std::optional<RecordedEvent>> GroupView::Find(absl::string_view event_id) const {
  if (auto it = group_.ids.find(event_id); it != group_.ids.end()) {
    const GroupState::IdInGroup& in = it->second;
    RecordedEvent r;
    r.position = Position(in.position);
    r.stream = in.owner->stream;
    r.stream_version = StreamVersion(in.version);
    r.recorded_time = group_.recorded_time;
    r.event_id = in.event->event_id;
    r.type = in.event->type;
    r.tags = in.event->tags;
    r.data = in.event->data;
    return std::optional<RecordedEvent>(std::move(r));
  }
  absl::StatusOr<std::optional<uint64_t>> position =
      log_.ids_->Find(enc::EventIdKey(event_id));
  if (!position.ok()) return position.status();
  if (!position->has_value()) return std::optional<RecordedEvent>();
  absl::StatusOr<RecordedEvent> r = log_.ReadRecord(Position(**position));
  if (!r.ok()) return r.status();
  return std::optional<RecordedEvent>(*std::move(r));
}

absl::StatusOr<uint64_t> RocksDbEventLog::NextVersion(const std::string& stream,
                                                      const GroupState& g) {
  if (auto it = g.versions.find(stream); it != g.versions.end()) return it->second;
  if (auto it = next_versions_.find(stream); it != next_versions_.end()) return it->second;
  absl::StatusOr<std::optional<enc::StreamRun>> last = LastRun(stream, /*committed_only=*/false);
  if (!last.ok()) return last.status();
  const uint64_t next = last->has_value() ? (*last)->first_version + (*last)->count : 0;
  if (next_versions_.size() >= kMaxCachedStreams) next_versions_.clear();
  next_versions_.emplace(stream, next);
  return next;
}

absl::StatusOr<AppendResult> RocksDbEventLog::CheckRepeat(
    const PendingAppend& a, const GroupState& g,
    const std::vector<std::optional<uint64_t>>& known) {
  AppendResult result;
  result.duplicate = true;
  for (size_t i = 0; i < a.events.size(); ++i) {
    const ProposedEvent& e = a.events[i];
    if (!known[i].has_value()) {
      return absl::AlreadyExistsError(absl::StrFormat(
          "events[%d].event_id: '%s' is new but other events of this append were written "
          "before; an append must be entirely new or an exact repeat",
          i, e.event_id));
    }
    uint64_t position, version;
    bool same;
    if (auto it = g.ids.find(e.event_id); it != g.ids.end()) {
      const ProposedEvent& o = *it->second.event;
      position = it->second.position;
      version = it->second.version;
      result.recorded_time = g.recorded_time;
      same = SameContent(a.stream, e, it->second.owner->stream, o.type, o.tags, o.data,
                         options_.decider == nullptr);
    } else {
      absl::StatusOr<RecordedEvent> r = ReadRecord(Position(*known[i]));
      if (!r.ok()) return r.status();
      position = r->position.value();
      version = r->stream_version.value();
      result.recorded_time = r->recorded_time;
      same = SameContent(a.stream, e, r->stream, r->type, r->tags, r->data,
                         options_.decider == nullptr);
    }
    if (!same) {
      return absl::AlreadyExistsError(absl::StrFormat(
          "events[%d].event_id: '%s' was already written at position %d with different content",
          i, e.event_id, position));
    }
    if (i == 0) {
      result.first_position = Position(position);
      result.first_version = StreamVersion(version);
    } else if (position != result.first_position.value() + i) {
      return absl::AlreadyExistsError(absl::StrFormat(
          "events[%d].event_id: '%s' was written at position %d, not right after "
          "events[%d]; a repeat must be the same events in the same order",
          i, e.event_id, position, i - 1));
    }
    result.last_position = Position(position);
    result.last_version = StreamVersion(version);
  }
  return result;
}

absl::StatusOr<AppendResult> RocksDbEventLog::Prepare(
    PendingAppend& a, GroupState& g, const std::vector<std::optional<uint64_t>>& known,
    std::string* id_keys, rocksdb::WriteBatch* batch) {
  // A repeat is checked before the expected version: a retried append whose
  // first attempt succeeded must get its original result, not a conflict.
  if (std::any_of(known.begin(), known.end(), [](const auto& k) { return k.has_value(); })) {
    return CheckRepeat(a, g, known);
  }

  absl::StatusOr<uint64_t> next = NextVersion(a.stream, g);
  if (!next.ok()) return next.status();
  const uint64_t count = *next;  // events in the stream = next version
  const ExpectedVersion& x = a.expected;
  switch (x.kind()) {
    case ExpectedVersion::Kind::kAny:
      break;
    case ExpectedVersion::Kind::kNoStream:
      if (count != 0) {
        return absl::AbortedError(absl::StrFormat(
            "stream '%s': expected no stream, but it exists; actual version %d", a.stream,
            count - 1));
      }
      break;
    case ExpectedVersion::Kind::kStreamExists:
      if (count == 0) {
        return absl::AbortedError(absl::StrFormat(
            "stream '%s': expected the stream to exist, but the stream does not exist",
            a.stream));
      }
      break;
    case ExpectedVersion::Kind::kExact:
      if (count == 0) {
        return absl::AbortedError(
            absl::StrFormat("stream '%s': expected version %d, but the stream does not exist",
                            a.stream, x.version().value()));
      }
      if (count - 1 != x.version().value()) {
        return absl::AbortedError(
            absl::StrFormat("stream '%s': expected version %d, actual version %d", a.stream,
                            x.version().value(), count - 1));
      }
      break;
  }
  if (options_.decider != nullptr) {
    const GroupView accepted(*this, g);
    absl::Status decided =
        options_.decider->Decide(a.stream, Position(g.next_position), g.recorded_time,
                                 a.proposal.get(), accepted, &a.events);
    // The decider's own storage failed: as a storage error of the log's
    // (WriteGroup then writes nothing of the group).
    if (absl::IsUnavailable(decided)) Fail(decided);
    // The decider's tags are not held to the limits on a caller's: it has
    // counted the events into its state, so the append must not fail now.
    if (!decided.ok()) return decided;
  }

  AppendResult result;
  result.recorded_time = g.recorded_time;
  result.first_position = Position(g.next_position);
  result.first_version = StreamVersion(count);
  const uint64_t first_position = g.next_position;
  std::string value, pos_key;
  uint64_t version = count;
  for (size_t i = 0; i < a.events.size(); ++i) {
    const ProposedEvent& e = a.events[i];
    const uint64_t position = g.next_position++;
    pos_key = enc::EventKey(Position(position));
    value.clear();
    enc::EncodeRecordHead(a.stream, StreamVersion(version), g.recorded_time, e, id_keys[i],
                          &value);
    // The record is its head and the data, which the batch copies once.
    const rocksdb::Slice parts[2] = {ToSlice(value), ToSlice(e.data)};
    const rocksdb::Slice key = ToSlice(pos_key);
    batch->Put(events_, rocksdb::SliceParts(&key, 1), rocksdb::SliceParts(parts, 2));
    g.ids.emplace(e.event_id, GroupState::IdInGroup{position, version, &a, &e});
    g.written_ids.emplace_back(std::move(id_keys[i]), position);  // its last use
    ++version;
  }
  value.clear();
  enc::EncodeStreamRun(first_position, a.events.size(), &value);
  batch->Put(streams_, ToSlice(enc::StreamKey(a.stream, StreamVersion(count))), ToSlice(value));
  g.versions[a.stream] = version;
  result.last_position = Position(g.next_position - 1);
  result.last_version = StreamVersion(version - 1);
  return result;
}

}  // namespace dealwire::store
