#include "services/appends.h"

#include <utility>

#include "domain/proposal.h"
#include "services/status_mapping.h"
#include "google/protobuf/util/time_util.h"

namespace dealwire::services {

namespace v1 = dealwire::v1;

absl::StatusOr<store::ExpectedVersion> ToExpected(const v1::AppendRequest& r) {
  if (!r.has_expected_version()) return store::ExpectedVersion::Any();
  const v1::ExpectedVersion& x = r.expected_version();
  switch (x.value_case()) {
    case v1::ExpectedVersion::kExact:
      return store::ExpectedVersion::Exact(store::StreamVersion(x.exact()));
    case v1::ExpectedVersion::kState:
      switch (x.state()) {
        case v1::EXPECTED_STATE_UNSPECIFIED:
        case v1::EXPECTED_STATE_ANY:
          return store::ExpectedVersion::Any();
        case v1::EXPECTED_STATE_NO_STREAM:
          return store::ExpectedVersion::NoStream();
        case v1::EXPECTED_STATE_STREAM_EXISTS:
          return store::ExpectedVersion::StreamExists();
        default:
          return absl::InvalidArgumentError("expected_version.state: unknown value");
      }
    case v1::ExpectedVersion::VALUE_NOT_SET:
      return store::ExpectedVersion::Any();
  }
  return store::ExpectedVersion::Any();
}

void FillAppendResponse(const store::AppendResult& r, v1::AppendResponse* response) {
  response->set_first_position(r.first_position.value());
  response->set_last_position(r.last_position.value());
  response->set_first_stream_version(r.first_version.value());
  response->set_next_expected_version(r.next_expected_version().value());
  response->set_duplicate(r.duplicate);
  *response->mutable_recorded_time() = google::protobuf::util::TimeUtil::MicrosecondsToTimestamp(
      absl::ToUnixMicros(r.recorded_time));
}

// --- AppendStreams -----------------------------------------------------------

bool AppendStreams::Add(AppendStreamReactor* r) {
  std::lock_guard l(mu_);
  if (shut_down_) return false;
  active_.insert(r);
  return true;
}

void AppendStreams::Remove(AppendStreamReactor* r) {
  std::lock_guard l(mu_);
  active_.erase(r);
}

void AppendStreams::ShutdownAll() {
  std::lock_guard l(mu_);
  if (shut_down_) return;
  shut_down_ = true;
  // Under mu_: a reactor unregisters in OnDone, so none is deleted meanwhile.
  for (AppendStreamReactor* r : active_) {
    r->End(absl::UnavailableError(
        "the server is shutting down; resend the appends that got no outcome, with the same "
        "event ids"));
  }
}

// --- AppendStreamReactor -----------------------------------------------------

AppendStreamReactor::AppendStreamReactor(store::EventLog* log, std::string principal,
                                         AppendStreams* streams)
    : log_(log), principal_(std::move(principal)), streams_(streams) {}

void AppendStreamReactor::Start() {
  std::unique_lock l(mu_);
  if (!streams_->Add(this)) {
    closed_ = true;
    end_ = absl::UnavailableError("the server is shutting down");
  }
  Advance(std::move(l));
}

void AppendStreamReactor::End(absl::Status status) {
  std::unique_lock l(mu_);
  if (!closed_ || end_.ok()) end_ = std::move(status);
  closed_ = true;
  Advance(std::move(l));
}

void AppendStreamReactor::OnReadDone(bool ok) {
  std::unique_lock l(mu_);
  reading_ = false;
  if (!ok || finished_) {
    closed_ = true;  // the client closed its side (or the call is over)
    Advance(std::move(l));
    return;
  }
  std::unique_ptr<v1::AppendStreamRequest> request = std::move(next_);
  const uint64_t sequence = read_++;
  ++in_flight_;
  slots_.emplace_back();
  proposing_ = true;  // keeps the call from finishing until this returns
  // Proposed before the next read starts, so that appends are queued in
  // the order they arrive. Not under mu_: the callback may run at once.
  l.unlock();
  const uint64_t correlation_id = request->correlation_id();
  absl::StatusOr<store::ExpectedVersion> expected = ToExpected(request->append());
  if (!expected.ok()) {
    Complete(sequence, correlation_id, expected.status());
  } else {
    const v1::AppendRequest& append = request->append();
    // The request outlives the proposal, which borrows its events: the
    // callback owns it, and the log destroys the proposal first.
    std::unique_ptr<store::Proposal> proposal =
        domain::EventsProposal::Borrow(append.events(), principal_);
    const std::string& stream = append.stream();
    log_->ProposeAsync(stream, *expected, std::move(proposal),
                       [this, sequence, correlation_id, request = std::move(request)](
                           absl::StatusOr<store::AppendResult> r) {
                         Complete(sequence, correlation_id, r);
                       });
  }
  l.lock();
  proposing_ = false;
  Advance(std::move(l));
}

void AppendStreamReactor::Complete(uint64_t sequence, uint64_t correlation_id,
                                   const absl::StatusOr<store::AppendResult>& result) {
  v1::AppendOutcome outcome;
  outcome.set_correlation_id(correlation_id);
  if (result.ok()) {
    FillAppendResponse(*result, outcome.mutable_response());
  } else {
    outcome.mutable_failure()->set_code(static_cast<int>(result.status().code()));
    outcome.mutable_failure()->set_message(std::string(result.status().message()));
  }
  std::unique_lock l(mu_);
  --in_flight_;
  slots_[sequence - written_] = std::move(outcome);
  Advance(std::move(l));
}

void AppendStreamReactor::OnWriteDone(bool ok) {
  std::unique_lock l(mu_);
  writing_ = false;
  response_.Clear();
  if (!ok) {
    // The client is gone: nothing more can be sent. The appends in flight
    // still complete; the call finishes after them.
    closed_ = true;
    if (end_.ok()) end_ = absl::CancelledError("the client went away");
  }
  Advance(std::move(l));
}

void AppendStreamReactor::OnCancel() {
  End(absl::CancelledError("the call was cancelled; resend the appends that got no outcome"));
}

void AppendStreamReactor::OnDone() {
  streams_->Remove(this);
  delete this;
}

void AppendStreamReactor::Advance(std::unique_lock<std::mutex> l) {
  bool write = false, read = false, finish = false;
  if (!writing_ && !finished_ && !slots_.empty() && slots_.front().has_value() &&
      (end_.ok() || !absl::IsCancelled(end_))) {
    while (!slots_.empty() && slots_.front().has_value()) {
      *response_.add_outcomes() = *std::move(slots_.front());
      slots_.pop_front();
      ++written_;
    }
    writing_ = write = true;
  } else if (!writing_ && absl::IsCancelled(end_)) {
    // Nothing can be sent to a client that went away: drop what is ready.
    while (!slots_.empty() && slots_.front().has_value()) {
      slots_.pop_front();
      ++written_;
    }
  }
  // Not while a request is being proposed: the next one must queue after it.
  if (!closed_ && !reading_ && !proposing_ && !finished_ && in_flight_ < kMaxInFlight) {
    next_ = std::make_unique<v1::AppendStreamRequest>();
    reading_ = read = true;
  }
  if (closed_ && !finished_ && !writing_ && !proposing_ && in_flight_ == 0 && slots_.empty()) {
    finished_ = finish = true;
  }
  v1::AppendStreamRequest* target = next_.get();
  const grpc::Status status = ToGrpcStatus(end_);
  l.unlock();
  // Outside mu_: gRPC may run reactions inline. Each of these was decided
  // under mu_ with a flag that keeps the call from finishing meanwhile.
  if (write) StartWrite(&response_);
  if (read) StartRead(target);
  if (finish) Finish(status);
}

}  // namespace dealwire::services
