#include "bench/log_loader.h"

#include <algorithm>
#include <deque>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "projections/event_codec.h"
#include "projections/event_tags.h"

namespace dealwire::bench {

namespace v1 = dealwire::v1;
using store::Position;

// A read view of an event log plus the events appended to it but perhaps
// not committed yet, for the reads EncodeEvent makes (through EventTags):
// ReadTag forwards, FindEvent and ReadEvent. A pending event carries its
// identity and tags, not its data. Every other method is UNIMPLEMENTED (or
// inert): this is not a log, only what tag derivation reads.
//
// Pending events are given the positions the log will give them (the log
// is not appended to by anyone else, and appends commit in call order), and
// stay in the view until Forget says they are readable from the log; an
// event may be in both for a while, and reads merge the two by position.
//
// Thread-safety: none; the loader's thread alone adds, forgets and reads.
class PendingView final : public store::EventLog {
 public:
  explicit PendingView(const store::EventLog& log) : log_(log) {}

  // Adds `event` as the event at `position`, the one after the last added.
  void Add(Position position, const std::string& stream, const store::ProposedEvent& event) {
    store::RecordedEvent r;
    r.position = position;
    r.stream = stream;
    r.event_id = event.event_id;
    r.type = event.type;
    r.tags = event.tags;
    for (const std::string& tag : r.tags) by_tag_[tag].push_back(position.value());
    by_id_[r.event_id] = position;
    pending_.push_back(std::move(r));
  }

  // Drops the pending events at positions up to `committed`: the log
  // returns them now.
  void Forget(Position committed) {
    while (!pending_.empty() && pending_.front().position <= committed) {
      const store::RecordedEvent& r = pending_.front();
      for (const std::string& tag : r.tags) {
        auto it = by_tag_.find(tag);
        if (it == by_tag_.end()) continue;
        std::vector<uint64_t>& positions = it->second;
        // The oldest pending event carrying the tag is this one.
        if (!positions.empty() && positions.front() == r.position.value()) {
          positions.erase(positions.begin());
        }
        if (positions.empty()) by_tag_.erase(it);
      }
      auto id = by_id_.find(r.event_id);
      if (id != by_id_.end() && id->second == r.position) by_id_.erase(id);
      pending_.pop_front();
    }
  }

  absl::StatusOr<std::vector<store::RecordedEvent>> ReadTag(absl::string_view tag,
                                                            store::Direction direction,
                                                            std::optional<Position> from,
                                                            size_t limit) const override {
    if (direction != store::Direction::kForwards) {
      return absl::UnimplementedError("PendingView reads tags forwards only");
    }
    absl::StatusOr<std::vector<store::RecordedEvent>> out =
        log_.ReadTag(tag, direction, from, limit);
    if (!out.ok() || out->size() >= limit) return out;
    auto it = by_tag_.find(tag);
    if (it == by_tag_.end()) return out;
    uint64_t after = from ? from->value() - 1 : 0;  // positions start at 1
    if (!out->empty()) after = std::max(after, out->back().position.value());
    for (const uint64_t p : it->second) {
      if (out->size() >= limit) break;
      if (p <= after) continue;
      if (const store::RecordedEvent* r = Pending(Position(p))) out->push_back(*r);
    }
    return out;
  }

  absl::StatusOr<Position> FindEvent(absl::string_view event_id) const override {
    auto it = by_id_.find(event_id);
    if (it != by_id_.end()) return it->second;
    return log_.FindEvent(event_id);
  }

  absl::StatusOr<store::RecordedEvent> ReadEvent(Position position) const override {
    if (const store::RecordedEvent* r = Pending(position)) return *r;
    return log_.ReadEvent(position);
  }

  Position LastPosition() const override {
    return pending_.empty() ? log_.LastPosition() : pending_.back().position;
  }

  // Not used by tag derivation.
  void AppendAsync(std::string, store::ExpectedVersion, std::vector<store::ProposedEvent>,
                   store::AppendCallback done) override {
    std::move(done)(Unimplemented());
  }
  absl::StatusOr<std::vector<store::RecordedEvent>> ReadStream(absl::string_view, store::Direction,
                                                               std::optional<store::StreamVersion>,
                                                               size_t) const override {
    return Unimplemented();
  }
  absl::StatusOr<std::vector<store::RecordedEvent>> ReadAll(store::Direction,
                                                            std::optional<Position>,
                                                            size_t) const override {
    return Unimplemented();
  }
  absl::StatusOr<store::StreamVersion> GetStreamVersion(absl::string_view) const override {
    return Unimplemented();
  }
  absl::StatusOr<Position> WaitForPosition(Position, absl::Time) const override {
    return Unimplemented();
  }
  uint64_t AddCommitListener(store::CommitListener) override { return 0; }
  void RemoveCommitListener(uint64_t) override {}
  absl::Status PutMetadata(absl::string_view, absl::string_view) override {
    return Unimplemented();
  }
  absl::StatusOr<std::string> GetMetadata(absl::string_view) const override {
    return Unimplemented();
  }
  absl::Status DeleteMetadata(absl::string_view) override { return Unimplemented(); }
  absl::StatusOr<std::vector<std::pair<std::string, std::string>>> ListMetadata(
      absl::string_view, absl::string_view, size_t) const override {
    return Unimplemented();
  }
  absl::Status WriteState(const store::StateBatch&) override { return Unimplemented(); }
  absl::StatusOr<std::unique_ptr<store::StateSnapshot>> SnapshotState() const override {
    return Unimplemented();
  }
  absl::Status Close() override { return absl::OkStatus(); }

 private:
  static absl::Status Unimplemented() {
    return absl::UnimplementedError("PendingView only serves the reads of EventTags");
  }

  // Returns the pending event at `position`, or null.
  const store::RecordedEvent* Pending(Position position) const {
    if (pending_.empty() || position < pending_.front().position ||
        position > pending_.back().position) {
      return nullptr;
    }
    return &pending_[position.value() - pending_.front().position.value()];
  }

  const store::EventLog& log_;
  std::deque<store::RecordedEvent> pending_;  // consecutive positions
  absl::flat_hash_map<std::string, std::vector<uint64_t>> by_tag_;  // ascending
  absl::flat_hash_map<std::string, Position> by_id_;
};

LogLoader::LogLoader(store::EventLog& log, LogLoaderOptions options)
    : log_(log),
      options_(std::move(options)),
      base_(log.LastPosition().value()),
      view_(std::make_unique<PendingView>(log)) {}

LogLoader::~LogLoader() { (void)Finish(); }

uint64_t LogLoader::committed() const {
  std::lock_guard<std::mutex> lock(mu_);
  return committed_;
}

void LogLoader::Fail(absl::Status status) {
  std::lock_guard<std::mutex> lock(mu_);
  if (error_.ok()) error_ = std::move(status);
  cv_.notify_all();
}

bool LogLoader::Append(const v1::Event& event) {
  uint64_t committed;
  {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [this] { return in_flight_ < options_.max_in_flight || !error_.ok(); });
    if (!error_.ok()) return false;
    committed = committed_;
  }
  view_->Forget(Position(base_ + committed));

  const uint64_t index = appended_;
  // Says which event failed, as "event <index> (<type> to <stream>): <why>".
  auto describe = [index, type = projections::EventTypeName(event.payload()),
                   stream = event.stream()](const absl::Status& s) {
    return absl::Status(s.code(), absl::StrCat("event ", index, " (", type, " to ", stream,
                                               "): ", s.message()));
  };
  absl::StatusOr<store::ProposedEvent> encoded = projections::EncodeEvent(
      event, event.stream(), "events[0]", options_.recorded_by, *view_);
  if (!encoded.ok()) {
    Fail(describe(encoded.status()));
    return false;
  }
  const Position position(base_ + 1 + index);
  view_->Add(position, event.stream(), *encoded);
  ++appended_;
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++in_flight_;
  }
  std::vector<store::ProposedEvent> events;
  events.push_back(*std::move(encoded));
  // Runs on the log's completion thread, in commit order (or on this thread,
  // before AppendAsync returns, for errors found before queuing).
  log_.AppendAsync(
      event.stream(), store::ExpectedVersion::Any(), std::move(events),
      [this, position, describe](absl::StatusOr<store::AppendResult> result) mutable {
        absl::Status status = result.status();
        if (status.ok() && (result->duplicate || result->first_position != position)) {
          status = absl::InternalError(absl::StrCat(
              "expected to be committed at position ", position.value(), ", got position ",
              result->first_position.value(), result->duplicate ? " (a duplicate)" : ""));
        }
        std::lock_guard<std::mutex> lock(mu_);
        --in_flight_;
        if (status.ok()) {
          ++committed_;
        } else if (error_.ok()) {
          error_ = describe(status);
        }
        cv_.notify_all();
      });
  std::lock_guard<std::mutex> lock(mu_);
  return error_.ok();
}

absl::Status LogLoader::Finish() {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [this] { return in_flight_ == 0; });
  return error_;
}

}  // namespace dealwire::bench
