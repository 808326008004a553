#include "services/subscription.h"

#include <algorithm>
#include <limits>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "google/protobuf/util/time_util.h"
#include "common/event_types.h"
#include "domain/codec.h"
#include "domain/references.h"
#include "domain/validate.h"

namespace dealwire::services {
namespace {

namespace v1 = dealwire::v1;

// Events examined per Next call.
constexpr size_t kBatch = 256;
constexpr size_t kMaxPrefixBytes = 200;
constexpr size_t kMaxNameBytes = 128;
constexpr int kMaxFilterEntries = 100;
constexpr char kKeyPrefix[] = "subscription/";

std::string Key(absl::string_view name) { return absl::StrCat(kKeyPrefix, name); }

std::vector<std::string> Sorted(const google::protobuf::RepeatedPtrField<std::string>& v) {
  std::vector<std::string> out(v.begin(), v.end());
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

google::protobuf::Timestamp Now() {
  return google::protobuf::util::TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(absl::Now()));
}

}  // namespace

absl::StatusOr<EventFilter> EventFilter::FromProto(const v1::SubscriptionFilter& proto,
                                                   absl::string_view field) {
  EventFilter f;
  for (const auto& [name, list] :
       {std::pair{"event_types", &proto.event_types()},
        std::pair{"stream_prefixes", &proto.stream_prefixes()},
        std::pair{"org_ids", &proto.org_ids()}}) {
    if (list->size() > kMaxFilterEntries) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "%s.%s: %d entries exceed the limit of %d", field, name, list->size(),
          kMaxFilterEntries));
    }
    if (Sorted(*list).size() != static_cast<size_t>(list->size())) {
      return absl::InvalidArgumentError(
          absl::StrFormat("%s.%s: holds an entry twice", field, name));
    }
  }
  for (int i = 0; i < proto.event_types_size(); ++i) {
    if (!common::IsEventTypeName(proto.event_types(i))) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "%s.event_types[%d]: '%s' is not an event type (e.g. \"InvestmentReported\")", field, i,
          proto.event_types(i).substr(0, 100)));
    }
    f.types_.Insert(proto.event_types(i));
  }
  for (int i = 0; i < proto.stream_prefixes_size(); ++i) {
    const std::string& p = proto.stream_prefixes(i);
    if (p.empty() || p.size() > kMaxPrefixBytes) {
      return absl::InvalidArgumentError(
          absl::StrFormat("%s.stream_prefixes[%d]: must be 1..200 bytes", field, i));
    }
    f.prefixes_.push_back(p);
  }
  for (int i = 0; i < proto.org_ids_size(); ++i) {
    if (!domain::IsDomainId(proto.org_ids(i))) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "%s.org_ids[%d]: '%s' is not an organization id (1..100 of [a-z0-9-])", field, i,
          proto.org_ids(i).substr(0, 100)));
    }
    f.org_tags_.Insert(domain::OrgTag(proto.org_ids(i)));
  }
  return f;
}

void NameSet::Insert(std::string name) {
  if (Contains(name)) return;
  names_.push_back(std::move(name));
  if (names_.size() > kSmall) {
    if (index_.empty()) index_.insert(names_.begin(), names_.end());
    index_.insert(names_.back());
  }
}

bool NameSet::Contains(absl::string_view name) const {
  if (!index_.empty()) return index_.contains(name);
  for (const std::string& n : names_) {
    if (n == name) return true;
  }
  return false;
}

bool EventFilter::Matches(absl::string_view type, absl::string_view stream,
                          const std::vector<std::string>& tags) const {
  if (!types_.empty() && !types_.Contains(type)) return false;
  if (!prefixes_.empty() &&
      std::none_of(prefixes_.begin(), prefixes_.end(),
                   [&](const std::string& p) { return absl::StartsWith(stream, p); })) {
    return false;
  }
  if (!org_tags_.empty() && std::none_of(tags.begin(), tags.end(), [&](const std::string& t) {
        return org_tags_.Contains(t);
      })) {
    return false;
  }
  return true;
}

namespace {

// A length-delimited field's tag and length (at most 6 bytes here: field
// numbers below 16, lengths below 4 GiB).
void AppendFrameHeader(int field_number, size_t size, std::string* out) {
  out->push_back(static_cast<char>(field_number << 3 | 2));  // wire type 2: length-delimited
  for (uint64_t n = size;; n >>= 7) {
    if (n < 0x80) {
      out->push_back(static_cast<char>(n));
      break;
    }
    out->push_back(static_cast<char>((n & 0x7f) | 0x80));
  }
}

}  // namespace

WireMessage FramedMessage(int field_number, absl::string_view content) {
  auto out = std::make_shared<std::string>();
  out->reserve(content.size() + 6);
  AppendFrameHeader(field_number, content.size(), out.get());
  out->append(content.data(), content.size());
  return out;
}

WireMessage EventMessage(const store::RecordedEvent& r) {
  // The frame's header, then the event written in place: one buffer.
  const size_t n = domain::EventWireSize(r);
  auto out = std::make_shared<std::string>();
  out->reserve(n + 6);
  AppendFrameHeader(v1::SubscribeResponse::kEventFieldNumber, n, out.get());
  domain::AppendEventWire(r, out.get());
  return out;
}

WireMessage SerializedMessage(const v1::SubscribeResponse& m) {
  return std::make_shared<const std::string>(m.SerializeAsString());
}

bool SameFilter(const v1::SubscriptionFilter& a, const v1::SubscriptionFilter& b) {
  return Sorted(a.event_types()) == Sorted(b.event_types()) &&
         Sorted(a.stream_prefixes()) == Sorted(b.stream_prefixes()) &&
         Sorted(a.org_ids()) == Sorted(b.org_ids());
}

SubscriptionCursor::SubscriptionCursor(const store::EventLog* log, const LiveTail* tail,
                                       uint64_t next, EventFilter filter,
                                       uint32_t checkpoint_interval)
    : log_(log),
      tail_(tail),
      next_(next),
      filter_(std::move(filter)),
      checkpoint_interval_(checkpoint_interval) {}

void SubscriptionCursor::Examine(uint64_t position, absl::string_view type,
                                 absl::string_view stream, const std::vector<std::string>& tags,
                                 const Message& event, std::deque<Message>* out) {
  next_ = position + 1;
  if (event != nullptr && filter_.Matches(type, stream, tags)) out->push_back(event);
  if (++since_checkpoint_ >= checkpoint_interval_) {
    since_checkpoint_ = 0;
    v1::SubscribeResponse m;
    m.mutable_checkpoint()->set_position(position);
    out->push_back(SerializedMessage(m));
  }
}

SubscriptionCursor::Step SubscriptionCursor::NextFromTail(std::deque<Message>* out,
                                                          size_t max_bytes) {
  size_t bytes = 0;
  size_t counted = out->size();
  const LiveTail::ReadResult read =
      tail_->Visit(next_, kBatch, [&](const std::shared_ptr<const TailEntry>& e) {
        Examine(e->position, e->type, e->stream, e->tags, e->message, out);
        for (; counted < out->size(); ++counted) bytes += (*out)[counted]->size();
        return bytes < max_bytes;
      });
  switch (read) {
    case LiveTail::ReadResult::kOk:
      return Step::kProduced;
    case LiveTail::ReadResult::kNothingNew:
      if (!live_) {
        live_ = true;
        v1::SubscribeResponse m;
        m.mutable_caught_up()->set_position(next_ - 1);
        out->push_back(SerializedMessage(m));
        return Step::kProduced;
      }
      return Step::kAtEnd;
    case LiveTail::ReadResult::kEvicted:
      break;
  }
  if (live_) {
    live_ = false;
    v1::SubscribeResponse m;
    m.mutable_fell_behind()->set_position(next_ - 1);
    m.mutable_fell_behind()->set_reason(
        "the live buffer moved past this subscriber; continuing from the log");
    out->push_back(SerializedMessage(m));
  }
  return Step::kNeedsLog;
}

absl::Status SubscriptionCursor::NextFromLog(std::deque<Message>* out, size_t max_bytes) {
  // As many events as the bytes the last reads produced per event say fit.
  const size_t per_event = std::max<size_t>(1, bytes_per_event_);
  const size_t count = std::clamp<size_t>(max_bytes / per_event, 1, kBatch);
  absl::StatusOr<std::vector<store::RecordedEvent>> records =
      log_->ReadAll(store::Direction::kForwards, store::Position(next_), count);
  if (!records.ok()) return records.status();
  size_t bytes = 0;
  for (const store::RecordedEvent& r : *records) {
    Message event;
    if (filter_.Matches(r.type, r.stream, r.tags)) {
      event = EventMessage(r);
      bytes += event->size();
    }
    Examine(r.position.value(), r.type, r.stream, r.tags, event, out);
  }
  if (!records->empty()) bytes_per_event_ = (bytes + records->size() - 1) / records->size();
  return absl::OkStatus();
}

absl::Status SubscriptionCursor::Next(std::deque<Message>* out) {
  if (NextFromTail(out, std::numeric_limits<size_t>::max()) != Step::kNeedsLog) {
    return absl::OkStatus();
  }
  return NextFromLog(out, std::numeric_limits<size_t>::max());
}

absl::Status SubscriptionRegistry::ValidateName(absl::string_view name, absl::string_view field) {
  const bool ok = !name.empty() && name.size() <= kMaxNameBytes &&
                  std::all_of(name.begin(), name.end(),
                              [](char c) {
                                return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                                       c == '.' || c == '_' || c == '-';
                              }) &&
                  name[0] != '.' && name[0] != '_' && name[0] != '-';
  if (ok) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      field, ": must be 1..128 bytes of [a-z0-9._-] starting with a letter or digit"));
}

absl::StatusOr<v1::NamedSubscription> SubscriptionRegistry::Get(absl::string_view name) const {
  absl::StatusOr<std::string> bytes = metadata_->Get(Key(name));
  if (absl::IsNotFound(bytes.status())) {
    return absl::NotFoundError(absl::StrCat("subscription '", name, "' not found"));
  }
  if (!bytes.ok()) return bytes.status();
  v1::NamedSubscription s;
  if (!s.ParseFromString(*bytes)) {
    return absl::DataLossError(absl::StrCat("subscription '", name, "' is corrupt"));
  }
  return s;
}

absl::Status SubscriptionRegistry::Put(const v1::NamedSubscription& s) {
  return metadata_->Put(Key(s.name()), s.SerializeAsString());
}

absl::StatusOr<v1::NamedSubscription> SubscriptionRegistry::GetOrCreate(
    absl::string_view name, const v1::SubscriptionFilter* filter, uint64_t checkpoint) {
  std::lock_guard l(mu_);
  absl::StatusOr<v1::NamedSubscription> existing = Get(name);
  if (existing.ok()) {
    if (filter != nullptr && !SameFilter(*filter, existing->filter())) {
      return absl::FailedPreconditionError(absl::StrCat(
          "filter: differs from the stored filter of subscription '", name,
          "'; omit it, or delete and recreate the subscription to change it"));
    }
    return existing;
  }
  if (!absl::IsNotFound(existing.status())) return existing.status();
  v1::NamedSubscription s;
  s.set_name(std::string(name));
  s.set_checkpoint_position(checkpoint);
  if (filter != nullptr) *s.mutable_filter() = *filter;
  *s.mutable_create_time() = Now();
  *s.mutable_update_time() = s.create_time();
  if (absl::Status st = Put(s); !st.ok()) return st;
  return s;
}

absl::StatusOr<v1::NamedSubscription> SubscriptionRegistry::Commit(absl::string_view name,
                                                                   uint64_t position) {
  std::lock_guard l(mu_);
  absl::StatusOr<v1::NamedSubscription> s = Get(name);
  if (!s.ok()) return s.status();
  const uint64_t end = log_->LastPosition().value();
  if (position > end) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "position: %d is beyond the end of the log (%d)", position, end));
  }
  s->set_checkpoint_position(position);
  *s->mutable_update_time() = Now();
  if (absl::Status st = Put(*s); !st.ok()) return st;
  return s;
}

absl::StatusOr<std::vector<v1::NamedSubscription>> SubscriptionRegistry::List(
    absl::string_view after, size_t limit) const {
  absl::StatusOr<std::vector<std::pair<std::string, std::string>>> rows =
      metadata_->List(kKeyPrefix, after.empty() ? "" : Key(after), limit);
  if (!rows.ok()) return rows.status();
  std::vector<v1::NamedSubscription> out;
  out.reserve(rows->size());
  for (const auto& [key, value] : *rows) {
    if (!out.emplace_back().ParseFromString(value)) {
      return absl::DataLossError(absl::StrCat("subscription record '", key, "' is corrupt"));
    }
  }
  return out;
}

absl::Status SubscriptionRegistry::Delete(absl::string_view name) {
  std::lock_guard l(mu_);
  absl::Status s = metadata_->Delete(Key(name));
  if (absl::IsNotFound(s)) {
    return absl::NotFoundError(absl::StrCat("subscription '", name, "' not found"));
  }
  return s;
}

}  // namespace dealwire::services
