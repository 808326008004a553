#include "services/event_store_service.h"

#include <deque>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "google/protobuf/util/time_util.h"
#include "common/page_token.h"
#include "domain/codec.h"
#include "domain/proposal.h"
#include "domain/validate.h"
#include "services/status_mapping.h"

namespace dealwire::services {

namespace v1 = dealwire::v1;

namespace {

constexpr int kDefaultPageSize = 100;
constexpr int kMaxPageSize = 1000;
// Events a filtered ReadAll examines for one page at most; a sparse filter
// then returns a short page with a token instead of scanning the whole log.
constexpr size_t kReadScanBudget = 10000;
constexpr uint32_t kDefaultCheckpointInterval = 1000;
constexpr absl::Duration kDefaultHeartbeat = absl::Seconds(30);
constexpr uint32_t kMaxBatchEvents = 1000;
// A batch stops growing at this size, far below the message limit.
constexpr size_t kMaxBatchBytes = 4 << 20;

// Whether `m` is a serialized SubscribeResponse carrying one `event`
// (field 1, length-delimited: tag byte 0x0A).
bool IsEventMessage(const std::string& m) {
  return !m.empty() && m[0] == static_cast<char>(v1::SubscribeResponse::kEventFieldNumber << 3 | 2);
}

absl::StatusOr<int> PageSize(int32_t requested, absl::string_view field) {
  if (requested < 0) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": must not be negative"));
  }
  if (requested == 0) return kDefaultPageSize;
  return std::min(requested, kMaxPageSize);
}

store::Direction ToDirection(v1::Direction d) {
  return d == v1::DIRECTION_BACKWARDS ? store::Direction::kBackwards : store::Direction::kForwards;
}

google::protobuf::Timestamp ToTimestamp(absl::Time t) {
  return google::protobuf::util::TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(t));
}

// Returns a ByteBuffer over `bytes` that keeps them alive, without copying.
grpc::ByteBuffer WrapShared(const std::shared_ptr<const std::string>& bytes) {
  auto* owner = new std::shared_ptr<const std::string>(bytes);
  grpc::Slice slice(const_cast<char*>(bytes->data()), bytes->size(),
                    [](void* p) { delete static_cast<std::shared_ptr<const std::string>*>(p); },
                    owner);
  return grpc::ByteBuffer(&slice, 1);
}

bool ParseByteBuffer(const grpc::ByteBuffer& buffer, google::protobuf::Message* out) {
  std::vector<grpc::Slice> slices;
  if (!buffer.Dump(&slices).ok()) return false;
  std::string bytes;
  for (const grpc::Slice& s : slices) {
    bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
  }
  return out->ParseFromString(bytes);
}

// What a call gets when the executor's queue is full.
absl::Status BusyError() {
  return absl::UnavailableError("the server is busy (its queue of synced writes is full); retry");
}

// A Subscribe call refused before it started.
class RefusedSubscribe final : public grpc::ServerWriteReactor<grpc::ByteBuffer> {
 public:
  explicit RefusedSubscribe(const grpc::Status& status) { Finish(status); }
  void OnDone() override { delete this; }
};

}  // namespace

// One running Subscribe call. It writes one message at a time and keeps,
// besides the message in flight, the next messages ready, within the
// subscriber budget (Options::subscriber_buffer_bytes) for both. Messages
// come from the live tail on the calling thread (memory only) or, behind
// its window, from the log on the executor, read while the previous write
// is in flight. When it is at the end it arms the tail once; a subscriber
// whose write has been in flight for 100 ms (its client does not read)
// prepares nothing more, so it is neither woken nor holds more, and past
// Options::subscriber_stall_timeout it is cut off.
class SubscribeReactor final : public grpc::ServerWriteReactor<grpc::ByteBuffer> {
 public:
  using Message = SubscriptionCursor::Message;

  // A subscription whose cursor comes later (Begin), once a named
  // subscription is looked up on the executor.
  SubscribeReactor(EventStoreService* service, grpc::CallbackServerContext* context,
                   std::string name, absl::Duration heartbeat, uint32_t max_batch)
      : service_(service),
        context_(context),
        name_(std::move(name)),
        budget_(service->options_.subscriber_buffer_bytes),
        heartbeat_(heartbeat),
        max_batch_(max_batch),
        last_write_(absl::Now()) {}

  SubscribeReactor(EventStoreService* service, grpc::CallbackServerContext* context,
                   std::string name, SubscriptionCursor cursor, absl::Duration heartbeat,
                   uint32_t max_batch)
      : SubscribeReactor(service, context, std::move(name), heartbeat, max_batch) {
    cursor_.emplace(std::move(cursor));
    starting_ = false;
  }

  // Starts delivery with `cursor` (or, given none, the one the reactor was
  // made with), or ends the call with `refused`. REQUIRES: called once.
  void Begin(std::optional<SubscriptionCursor> cursor = std::nullopt,
             absl::Status refused = absl::OkStatus()) {
    {
      std::lock_guard l(mu_);
      if (cursor.has_value()) cursor_.emplace(*std::move(cursor));
      starting_ = false;
    }
    if (!refused.ok()) {
      End(ToGrpcStatus(refused));
      return;
    }
    if (!service_->Register(this)) {
      End(ToGrpcStatus(absl::UnavailableError("the server is shutting down")));
      return;
    }
    watch_id_ = service_->tail_.Watch([this] {
      {
        std::lock_guard l(mu_);
        armed_ = false;
      }
      Pump();
    });
    Pump();
  }

  const std::string& name() const { return name_; }

  // Ends the call with `status` once the write in flight (if any) is done.
  void End(grpc::Status status) {
    {
      std::lock_guard l(mu_);
      if (!end_.has_value()) end_ = std::move(status);
    }
    Pump();
  }

  // Called by the service's ticker: heartbeats, retries of refused reads,
  // and the cut-off of a subscriber whose client stopped taking messages.
  void Tick(absl::Time now) {
    bool cancel = false;
    {
      std::lock_guard l(mu_);
      if (finished_) {
        // A client that takes nothing does not take the status either:
        // the call is then cancelled, which frees what it holds.
        cancel = cut_ && !cancelled_ && now - cut_at_ >= kCutGrace;
        if (cancel) cancelled_ = true;
      } else if (writing_ && !cut_ && now - write_started_ >= service_->options_.subscriber_stall_timeout) {
        cut_ = true;
        cut_at_ = now;
        if (!end_.has_value()) {
          end_ = ToGrpcStatus(absl::ResourceExhaustedError(absl::StrFormat(
              "the subscriber took no message for %s (subscriber_stall_timeout) with %d bytes "
              "waiting; resume after the last event received or your last checkpoint",
              absl::FormatDuration(service_->options_.subscriber_stall_timeout),
              current_bytes_ + pending_bytes_)));
        }
      }
    }
    if (cancel) {
      context_->TryCancel();
      return;
    }
    Pump();
  }

  // Writes the next message if none is in flight and there is one, and
  // keeps the next ones coming.
  void Pump() {
    for (;;) {
      Message next;
      std::optional<grpc::Status> finish;
      size_t read = 0;  // bytes of room for a read of the log, if one is to start
      std::optional<uint64_t> arm_at;
      {
        std::lock_guard l(mu_);
        if (finished_) return;
        if (end_.has_value()) {
          // A read in flight owns the cursor and comes back here, as the
          // start does; a write in flight is waited for, unless the
          // subscriber is being cut off.
          if (reading_ || starting_ || (writing_ && !cut_)) return;
          finish = *end_;
          finished_ = true;
        } else if (cursor_.has_value()) {
          SubscriptionCursor::Step step = SubscriptionCursor::Step::kProduced;
          const absl::Time now = absl::Now();
          // A filter may pass over a whole step of the tail without a
          // message: step on until there is one to send, or none for now.
          while (!reading_ && MayFillLocked(now)) {
            const size_t before = pending_.size();
            step = cursor_->NextFromTail(&pending_, RoomLocked());
            for (size_t i = before; i < pending_.size(); ++i) pending_bytes_ += pending_[i]->size();
            if (step != SubscriptionCursor::Step::kProduced || !pending_.empty()) break;
          }
          if (!writing_ && !pending_.empty()) {
            next = TakeLocked();
          } else if (!writing_ && !reading_ && now - last_write_ >= heartbeat_) {
            v1::SubscribeResponse m;
            *m.mutable_heartbeat()->mutable_server_time() = ToTimestamp(now);
            m.mutable_heartbeat()->set_last_position(service_->log_->LastPosition().value());
            next = SerializedMessage(m);
          }
          if (next != nullptr) {
            current_ = WrapShared(next);
            current_bytes_ = next->size();
            writing_ = true;
            write_started_ = now;
            last_write_ = now;
          }
          // A read of the log is a hop to another thread: only once a
          // quarter of the budget is free, not for every message sent.
          if (step == SubscriptionCursor::Step::kNeedsLog && MayFillLocked(now) &&
              RoomLocked() >= budget_ / 4) {
            reading_ = true;
            read = RoomLocked();
          } else if (step == SubscriptionCursor::Step::kAtEnd && !armed_) {
            armed_ = true;
            arm_at = cursor_->next();
          }
        }
      }
      // Outside the lock: gRPC may run reactions inline.
      if (finish.has_value()) {
        Finish(*finish);
        return;
      }
      // No buffer_hint: a hinted write completes only once something else
      // flushes the connection, and the next write waits for this one.
      if (next != nullptr) StartWrite(&current_);
      if (read > 0) ReadLog(read);
      if (arm_at.has_value() && !service_->tail_.Arm(watch_id_, *arm_at)) {
        std::lock_guard l(mu_);
        armed_ = false;
        continue;  // it came meanwhile
      }
      return;
    }
  }

  void OnWriteDone(bool ok) override {
    {
      std::lock_guard l(mu_);
      writing_ = false;
      current_.Clear();
      current_bytes_ = 0;
      if (!ok) {
        if (finished_) return;
        if (!end_.has_value()) end_ = ToGrpcStatus(absl::CancelledError("the subscriber went away"));
      }
    }
    Pump();
  }

  void OnCancel() override {
    End(ToGrpcStatus(absl::CancelledError("the subscription was cancelled")));
  }

  void OnDone() override {
    // Finish is never called while a read is in flight (Pump), and OnDone
    // comes after Finish: nothing of this reactor runs any more.
    if (watch_id_ != 0) service_->tail_.Unwatch(watch_id_);
    service_->Unregister(this);
    delete this;
  }

 private:
  // How long a cut-off subscriber has to take its status before its call is
  // cancelled.
  static constexpr absl::Duration kCutGrace = absl::Seconds(5);
  // How long a write may be in flight while the next messages are prepared.
  static constexpr absl::Duration kPrefetchWhileWriting = absl::Milliseconds(100);

  // Whether to take more messages: there is room in the budget, and no
  // write has been in flight for long. A client that stopped reading thus
  // keeps what it had when it stopped (not a full budget each, from the
  // log), and a reading one still gets the next batch read while one is
  // written.
  bool MayFillLocked(absl::Time now) const {
    return RoomLocked() > 0 && (!writing_ || now - write_started_ < kPrefetchWhileWriting);
  }
  // What is left of the budget (a single message may overrun it).
  size_t RoomLocked() const {
    const size_t held = current_bytes_ + pending_bytes_;
    return held < budget_ ? budget_ - held : 0;
  }

  // Takes the next message to write from pending_: an event message joined
  // with the event messages after it, up to max_batch_ and the budget, into
  // one SubscribeResponse.events. Each event message is already the bytes
  // of one EventBatch.events entry (field 1 as well), so the batch is their
  // concatenation under a new header.
  Message TakeLocked() {
    Message first = std::move(pending_.front());
    pending_.pop_front();
    pending_bytes_ -= first->size();
    if (max_batch_ <= 1 || !IsEventMessage(*first)) return first;
    // Half the budget, so that the next batch is read while this one is
    // written.
    const size_t limit = std::min(kMaxBatchBytes, budget_ / 2);
    std::string events;
    uint32_t n = 1;
    while (n < max_batch_ && !pending_.empty()) {
      const std::string& m = *pending_.front();
      if (!IsEventMessage(m) || first->size() + events.size() + m.size() > limit) break;
      if (events.empty()) {
        events.reserve(std::min(limit, first->size() + pending_bytes_));
        events = *first;
      }
      events += m;
      pending_bytes_ -= m.size();
      pending_.pop_front();
      ++n;
    }
    if (n == 1) return first;
    return FramedMessage(v1::SubscribeResponse::kEventsFieldNumber, events);
  }

  // Reads the next batch of the log on the executor. REQUIRES: reading_ was
  // set by the caller, which gives the cursor to this read until it clears.
  void ReadLog(size_t room) {
    const bool queued = service_->readers_.Submit([this, room] {
      std::deque<Message> got;
      const absl::Status s = cursor_->NextFromLog(&got, room);
      {
        std::lock_guard l(mu_);
        for (Message& m : got) {
          pending_bytes_ += m->size();
          pending_.push_back(std::move(m));
        }
        reading_ = false;
        if (!s.ok() && !end_.has_value()) end_ = ToGrpcStatus(s);
      }
      Pump();
    });
    if (!queued) {
      // The executor is full: the ticker's next Pump tries again.
      std::lock_guard l(mu_);
      reading_ = false;
    }
  }

  EventStoreService* const service_;
  grpc::CallbackServerContext* const context_;
  const std::string name_;
  const size_t budget_;

  std::mutex mu_;
  // Guarded by mu_, except during a read on the executor (reading_), which
  // owns it. Empty until a named subscription is looked up.
  std::optional<SubscriptionCursor> cursor_;
  bool starting_ = true;         // guarded by mu_: Begin has not run
  std::deque<Message> pending_;  // guarded by mu_
  size_t pending_bytes_ = 0;     // guarded by mu_
  grpc::ByteBuffer current_;     // guarded by mu_; alive until its write is done
  size_t current_bytes_ = 0;     // guarded by mu_
  bool writing_ = false;         // guarded by mu_
  bool reading_ = false;         // guarded by mu_
  bool armed_ = false;           // guarded by mu_: the tail will call once
  bool finished_ = false;        // guarded by mu_
  bool cut_ = false;             // guarded by mu_: past the stall timeout
  bool cancelled_ = false;       // guarded by mu_
  std::optional<grpc::Status> end_;  // guarded by mu_
  const absl::Duration heartbeat_;
  const uint32_t max_batch_;
  absl::Time last_write_;     // guarded by mu_
  absl::Time write_started_;  // guarded by mu_
  absl::Time cut_at_;         // guarded by mu_
  uint64_t watch_id_ = 0;
};

void EventStoreService::Offload(grpc::ServerUnaryReactor* reactor,
                                absl::AnyInvocable<absl::Status() &&> work) {
  const bool queued = executor_->Submit([reactor, work = std::move(work)]() mutable {
    reactor->Finish(ToGrpcStatus(std::move(work)()));
  });
  if (!queued) {
    reactor->Finish(ToGrpcStatus(BusyError()));
  }
}

EventStoreService::EventStoreService(store::EventLog* log, Executor* executor, Options options)
    : log_(log),
      executor_(executor),
      options_(std::move(options)),
      readers_(2, 1 << 20, "dw-catchup"),
      tail_(log, options_.live_buffer_events, options_.live_buffer_bytes),
      registry_(&log->metadata(), log) {
  tail_.Start();
  ticker_ = std::thread([this] { TickLoop(); });
}

EventStoreService::~EventStoreService() {
  Shutdown();
  if (ticker_.joinable()) ticker_.join();
  tail_.Stop();
}

void EventStoreService::Shutdown() {
  append_streams_.ShutdownAll();
  {
    std::lock_guard l(mu_);
    if (shut_down_) return;
    shut_down_ = true;
    for (SubscribeReactor* r : active_) {
      r->End(ToGrpcStatus(absl::UnavailableError("the server is shutting down; resume from your last checkpoint")));
    }
  }
  tick_cv_.notify_all();
}

bool EventStoreService::Register(SubscribeReactor* r) {
  std::lock_guard l(mu_);
  if (shut_down_) return false;
  active_.insert(r);
  return true;
}

void EventStoreService::Unregister(SubscribeReactor* r) {
  std::lock_guard l(mu_);
  active_.erase(r);
}

void EventStoreService::TickLoop() {
  std::unique_lock l(mu_);
  while (!shut_down_) {
    tick_cv_.wait_for(l, absl::ToChronoNanoseconds(options_.tick));
    if (shut_down_) break;
    // Under mu_, so no reactor is deleted meanwhile (OnDone unregisters).
    const absl::Time now = absl::Now();
    for (SubscribeReactor* r : active_) r->Tick(now);
  }
}

grpc::ServerUnaryReactor* EventStoreService::Append(grpc::CallbackServerContext* context,
                                                    const v1::AppendRequest* request,
                                                    v1::AppendResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  absl::StatusOr<store::ExpectedVersion> expected = ToExpected(*request);
  if (!expected.ok()) {
    reactor->Finish(ToGrpcStatus(expected.status()));
    return reactor;
  }
  // Everything else is decided once, on the log's writer thread (the
  // DomainDecider). The request outlives the append: the log destroys the
  // proposal, which borrows its events, before the callback finishes it.
  log_->ProposeAsync(request->stream(), *expected,
                     domain::EventsProposal::Borrow(request->events(), options_.principal),
                     [reactor, response](absl::StatusOr<store::AppendResult> r) {
                       if (r.ok()) FillAppendResponse(*r, response);
                       reactor->Finish(ToGrpcStatus(r.status()));
                     });
  return reactor;
}

grpc::ServerBidiReactor<v1::AppendStreamRequest, v1::AppendStreamResponse>*
EventStoreService::AppendStream(grpc::CallbackServerContext* /*context*/) {
  auto* reactor = new AppendStreamReactor(log_, options_.principal, &append_streams_);
  reactor->Start();
  return reactor;
}

grpc::ServerUnaryReactor* EventStoreService::ReadStream(grpc::CallbackServerContext* context,
                                                        const v1::ReadStreamRequest* request,
                                                        v1::ReadStreamResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  absl::Status status = [&]() -> absl::Status {
    if (absl::Status s = domain::ValidateStreamName(request->stream(), "stream"); !s.ok()) {
      return s;
    }
    absl::StatusOr<int> page_size = PageSize(request->page_size(), "page_size");
    if (!page_size.ok()) return page_size.status();
    const uint64_t fingerprint = common::RequestFingerprint(
        {"stream", request->stream(), v1::Direction_Name(request->direction())});
    std::optional<store::StreamVersion> from;
    if (!request->page_token().empty()) {
      absl::StatusOr<common::PageToken> next =
          common::DecodePageToken(request->page_token(), fingerprint);
      if (!next.ok()) return next.status();
      from = store::StreamVersion(next->position);
    } else if (request->has_from_version()) {
      from = store::StreamVersion(request->from_version());
    }
    absl::StatusOr<std::vector<store::RecordedEvent>> records = log_->ReadStream(
        request->stream(), ToDirection(request->direction()), from, *page_size + 1);
    if (!records.ok()) return records.status();
    if (records->size() > static_cast<size_t>(*page_size)) {
      response->set_next_page_token(common::EncodePageToken(
          {.position = records->back().stream_version.value(), .cursor = {}}, fingerprint));
      records->pop_back();
    }
    for (const store::RecordedEvent& r : *records) {
      if (absl::Status s = domain::DecodeEvent(r, response->add_events()); !s.ok()) return s;
    }
    absl::StatusOr<store::StreamVersion> last = log_->GetStreamVersion(request->stream());
    if (!last.ok()) return last.status();
    response->set_last_stream_version(last->value());
    return absl::OkStatus();
  }();
  reactor->Finish(ToGrpcStatus(status));
  return reactor;
}

grpc::ServerUnaryReactor* EventStoreService::ReadAll(grpc::CallbackServerContext* context,
                                                     const v1::ReadAllRequest* request,
                                                     v1::ReadAllResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  absl::Status status = [&]() -> absl::Status {
    absl::StatusOr<int> page_size = PageSize(request->page_size(), "page_size");
    if (!page_size.ok()) return page_size.status();
    absl::StatusOr<EventFilter> filter = EventFilter::FromProto(request->filter(), "filter");
    if (!filter.ok()) return filter.status();
    const store::Direction direction = ToDirection(request->direction());
    const bool forwards = direction == store::Direction::kForwards;
    const uint64_t fingerprint =
        common::RequestFingerprint({"all", v1::Direction_Name(request->direction()),
                                    domain::DeterministicBytes(request->filter())});
    std::optional<uint64_t> next;
    if (!request->page_token().empty()) {
      absl::StatusOr<common::PageToken> token =
          common::DecodePageToken(request->page_token(), fingerprint);
      if (!token.ok()) return token.status();
      next = token->position;
    } else if (request->has_from_position()) {
      next = request->from_position();
    }
    const uint64_t last = log_->LastPosition().value();
    response->set_last_position(last);
    // `next` is the next position to examine; the page ends when it is full,
    // when the log is exhausted, or when the scan budget is spent.
    size_t scanned = 0;
    bool exhausted = false;
    while (response->events_size() < *page_size && scanned < kReadScanBudget) {
      const size_t want = filter->empty()
                              ? static_cast<size_t>(*page_size - response->events_size())
                              : std::min<size_t>(1000, kReadScanBudget - scanned);
      std::optional<store::Position> from;
      if (next.has_value()) from = store::Position(*next);
      absl::StatusOr<std::vector<store::RecordedEvent>> records =
          log_->ReadAll(direction, from, want);
      if (!records.ok()) return records.status();
      size_t consumed = 0;
      for (const store::RecordedEvent& r : *records) {
        if (response->events_size() == *page_size) break;
        next = forwards ? r.position.value() + 1 : r.position.value() - 1;
        ++consumed;
        ++scanned;
        if (!filter->Matches(r.type, r.stream, r.tags)) continue;
        if (absl::Status s = domain::DecodeEvent(r, response->add_events()); !s.ok()) {
          return s;
        }
      }
      if (records->size() < want) {
        exhausted = consumed == records->size();
        break;
      }
    }
    if (!exhausted && next.has_value() && (forwards ? *next <= last : *next > 0)) {
      response->set_next_page_token(common::EncodePageToken({.position = *next, .cursor = {}}, fingerprint));
    }
    return absl::OkStatus();
  }();
  reactor->Finish(ToGrpcStatus(status));
  return reactor;
}

grpc::ServerWriteReactor<grpc::ByteBuffer>* EventStoreService::Subscribe(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* raw_request) {
  v1::SubscribeRequest parsed;
  const v1::SubscribeRequest* request = &parsed;
  absl::StatusOr<SubscribeReactor*> reactor = [&]() -> absl::StatusOr<SubscribeReactor*> {
    if (!ParseByteBuffer(*raw_request, &parsed)) {
      return absl::InvalidArgumentError("request: is not a SubscribeRequest");
    }
    const uint64_t end = log_->LastPosition().value();
    std::optional<uint64_t> start;  // the last position before the first to deliver
    switch (request->start_case()) {
      case v1::SubscribeRequest::kFromStart:
        if (!request->from_start()) {
          return absl::InvalidArgumentError("from_start: must be true when set");
        }
        start = 0;
        break;
      case v1::SubscribeRequest::kAfterPosition:
        if (request->after_position() > end) {
          return absl::InvalidArgumentError(absl::StrFormat(
              "after_position: %d is beyond the end of the log (%d)", request->after_position(),
              end));
        }
        start = request->after_position();
        break;
      case v1::SubscribeRequest::kFromEnd:
        if (!request->from_end()) return absl::InvalidArgumentError("from_end: must be true when set");
        start = end;
        break;
      case v1::SubscribeRequest::START_NOT_SET:
        if (request->subscription_name().empty()) {
          return absl::InvalidArgumentError(
              "start: one of from_start, after_position, from_end is required without a "
              "subscription_name");
        }
        break;
    }
    if (request->max_batch_events() > kMaxBatchEvents) {
      return absl::InvalidArgumentError(
          absl::StrFormat("max_batch_events: %d exceeds the limit of %d",
                          request->max_batch_events(), kMaxBatchEvents));
    }
    uint32_t interval = request->checkpoint_interval();
    if (interval == 0) interval = kDefaultCheckpointInterval;
    absl::Duration heartbeat = kDefaultHeartbeat;
    if (request->has_heartbeat_interval()) {
      heartbeat = absl::Seconds(request->heartbeat_interval().seconds()) +
                  absl::Nanoseconds(request->heartbeat_interval().nanos());
      if (heartbeat < absl::Seconds(1) || heartbeat > absl::Hours(1)) {
        return absl::InvalidArgumentError("heartbeat_interval: must be between 1 s and 1 h");
      }
    }
    if (request->subscription_name().empty()) {
      absl::StatusOr<EventFilter> filter = EventFilter::FromProto(request->filter(), "filter");
      if (!filter.ok()) return filter.status();
      return new SubscribeReactor(
          this, context, "",
          SubscriptionCursor(log_, &tail_, *start + 1, *std::move(filter), interval), heartbeat,
          request->max_batch_events());
    }
    if (absl::Status s = SubscriptionRegistry::ValidateName(request->subscription_name(),
                                                            "subscription_name");
        !s.ok()) {
      return s;
    }
    if (request->has_filter()) {
      if (absl::Status s = EventFilter::FromProto(request->filter(), "filter").status(); !s.ok()) {
        return s;
      }
    }
    // Looking the named subscription up may create it, a synced write: on
    // the executor, not on gRPC's thread. The reactor starts from there.
    auto* named = new SubscribeReactor(this, context, request->subscription_name(), heartbeat,
                                       request->max_batch_events());
    const bool queued = executor_->Submit(
        [this, named, name = request->subscription_name(),
         filter = request->has_filter() ? std::optional(request->filter()) : std::nullopt, start,
         interval]() {
          absl::StatusOr<v1::NamedSubscription> found =
              registry_.GetOrCreate(name, filter.has_value() ? &*filter : nullptr, start.value_or(0));
          absl::StatusOr<EventFilter> parsed =
              found.ok() ? EventFilter::FromProto(found->filter(), "filter")
                         : absl::StatusOr<EventFilter>(found.status());
          if (!parsed.ok()) {
            named->Begin(std::nullopt, parsed.status());
            return;
          }
          const uint64_t after = start.value_or(found->checkpoint_position());
          named->Begin(SubscriptionCursor(log_, &tail_, after + 1, *std::move(parsed), interval));
        });
    if (!queued) {
      named->Begin(std::nullopt, BusyError());
    }
    return named;
  }();
  if (!reactor.ok()) return new RefusedSubscribe(ToGrpcStatus(reactor.status()));
  if ((*reactor)->name().empty()) (*reactor)->Begin();
  return *reactor;
}

grpc::ServerUnaryReactor* EventStoreService::CommitCheckpoint(
    grpc::CallbackServerContext* context, const v1::CommitCheckpointRequest* request,
    v1::CommitCheckpointResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  // The commit is a synced write: not on gRPC's thread.
  Offload(reactor, [this, request, response]() -> absl::Status {
    if (absl::Status s =
            SubscriptionRegistry::ValidateName(request->subscription_name(), "subscription_name");
        !s.ok()) {
      return s;
    }
    absl::StatusOr<v1::NamedSubscription> s =
        registry_.Commit(request->subscription_name(), request->position());
    if (!s.ok()) return s.status();
    *response->mutable_subscription() = *std::move(s);
    return absl::OkStatus();
  });
  return reactor;
}

grpc::ServerUnaryReactor* EventStoreService::ListSubscriptions(
    grpc::CallbackServerContext* context, const v1::ListSubscriptionsRequest* request,
    v1::ListSubscriptionsResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  absl::Status status = [&]() -> absl::Status {
    absl::StatusOr<int> page_size = PageSize(request->page_size(), "page_size");
    if (!page_size.ok()) return page_size.status();
    const uint64_t fingerprint = common::RequestFingerprint({"subscriptions"});
    std::string after;
    if (!request->page_token().empty()) {
      absl::StatusOr<common::PageToken> token =
          common::DecodePageToken(request->page_token(), fingerprint);
      if (!token.ok()) return token.status();
      after = std::move(token->cursor);
    }
    absl::StatusOr<std::vector<v1::NamedSubscription>> list =
        registry_.List(after, *page_size + 1);
    if (!list.ok()) return list.status();
    if (list->size() > static_cast<size_t>(*page_size)) {
      list->pop_back();
      response->set_next_page_token(
          common::EncodePageToken({.position = 0, .cursor = list->back().name()}, fingerprint));
    }
    for (v1::NamedSubscription& s : *list) *response->add_subscriptions() = std::move(s);
    return absl::OkStatus();
  }();
  reactor->Finish(ToGrpcStatus(status));
  return reactor;
}

grpc::ServerUnaryReactor* EventStoreService::DeleteSubscription(
    grpc::CallbackServerContext* context, const v1::DeleteSubscriptionRequest* request,
    v1::DeleteSubscriptionResponse* /*response*/) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  Offload(reactor, [this, request]() -> absl::Status {
    if (absl::Status s = SubscriptionRegistry::ValidateName(request->name(), "name"); !s.ok()) {
      return s;
    }
    if (absl::Status s = registry_.Delete(request->name()); !s.ok()) return s;
    std::lock_guard l(mu_);
    for (SubscribeReactor* r : active_) {
      if (r->name() == request->name()) {
        r->End(ToGrpcStatus(absl::FailedPreconditionError(
            absl::StrCat("subscription '", request->name(), "' was deleted"))));
      }
    }
    return absl::OkStatus();
  });
  return reactor;
}

}  // namespace dealwire::services
