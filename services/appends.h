// services/appends.h — appends over gRPC: the conversions Append and
// AppendStream share, and the reactor of one AppendStream call.
//
//   absl::StatusOr<store::ExpectedVersion> expected = ToExpected(request);
//   ...
//   FillAppendResponse(*result, &response);
//
//   // EventStoreService::AppendStream:
//   auto* r = new AppendStreamReactor(log, principal, &streams);
//   r->Start();
//   return r;
//
// No reaction blocks: each request is proposed to the log (its decider
// decides it on the writer thread) and its outcome written from the log's
// completion thread.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "dealwire/v1/event_store.grpc.pb.h"
#include "store/event_log.h"

namespace dealwire::services {

// Returns the expectation of `request` (absent: ANY), or INVALID_ARGUMENT
// "expected_version.state: unknown value".
absl::StatusOr<store::ExpectedVersion> ToExpected(const dealwire::v1::AppendRequest& request);

// Fills `response` with the outcome of a successful append.
void FillAppendResponse(const store::AppendResult& result, dealwire::v1::AppendResponse* response);

class AppendStreamReactor;

// The AppendStream calls running, so that a shutdown can end them.
// Thread-safe.
class AppendStreams {
 public:
  // Adds `r`; returns false once ShutdownAll ran.
  bool Add(AppendStreamReactor* r);
  void Remove(AppendStreamReactor* r);
  // Ends every call with UNAVAILABLE (after the outcomes of what it read)
  // and refuses new ones. Idempotent.
  void ShutdownAll();

 private:
  std::mutex mu_;
  absl::flat_hash_set<AppendStreamReactor*> active_;  // guarded by mu_
  bool shut_down_ = false;                            // guarded by mu_
};

// One AppendStream call: reads requests (at most kMaxInFlight ahead of their
// outcomes), proposes each to the log in arrival order, and writes outcomes
// in that order, as many per message as are ready. Deletes itself when done.
class AppendStreamReactor final
    : public grpc::ServerBidiReactor<dealwire::v1::AppendStreamRequest,
                                     dealwire::v1::AppendStreamResponse> {
 public:
  // Requests read but not yet answered, at most.
  static constexpr int kMaxInFlight = 1024;

  // REQUIRES: `log` and `streams` outlive the call.
  AppendStreamReactor(store::EventLog* log, std::string principal, AppendStreams* streams);

  // Starts reading. REQUIRES: called once, right after construction.
  void Start();

  // Stops reading and ends the call with `status` once every append read
  // has its outcome written.
  void End(absl::Status status);

  void OnReadDone(bool ok) override;
  void OnWriteDone(bool ok) override;
  void OnCancel() override;
  void OnDone() override;

 private:
  // Records the outcome of the `sequence`th request read, whose
  // correlation id is `correlation_id`.
  void Complete(uint64_t sequence, uint64_t correlation_id,
                const absl::StatusOr<store::AppendResult>& result);
  // Starts a write of the pending outcomes, a read, or the finish, as the
  // state allows; the caller holds `lock` and this releases it.
  void Advance(std::unique_lock<std::mutex> lock);

  store::EventLog* const log_;
  const std::string principal_;
  AppendStreams* const streams_;

  std::mutex mu_;
  std::unique_ptr<dealwire::v1::AppendStreamRequest> next_;  // the read in flight's target
  dealwire::v1::AppendStreamResponse response_;               // the write in flight
  // The outcomes not yet written, in request order: slot i is request
  // `written_ + i`, empty until its append completes. Only the filled slots
  // at the front are written, so outcomes keep request order although a
  // request refused before queuing completes at once.
  std::deque<std::optional<dealwire::v1::AppendOutcome>> slots_;
  uint64_t written_ = 0;   // requests whose outcome is written or being written
  uint64_t read_ = 0;      // requests read
  int in_flight_ = 0;      // requests read, outcome not yet recorded
  bool reading_ = false;   // a read is in flight
  bool writing_ = false;   // a write is in flight
  bool proposing_ = false; // OnReadDone is proposing a request
  bool closed_ = false;    // no more reads: the client closed its side, or the call ends
  bool finished_ = false;  // Finish was called
  absl::Status end_;       // the status to finish with
};

}  // namespace dealwire::services
