// bench/log_loader.h — appends a stream of events straight into an event
// log through the server's write path minus gRPC: each event is proposed
// (domain::EventsProposal) and the log's decider (the DomainDecider in
// dealwire-gen) encodes and decides it on the writer thread, as it does for
// dealwired's appends.
//
//   store::Options options;
//   options.decider = std::make_shared<domain::DomainDecider>();
//   ASSIGN_OR_RETURN(auto log, store::OpenEventLog(dir, options));
//   LogLoader loader(*log, {.max_in_flight = options.max_queued_appends});
//   dealwire::v1::Event event;
//   while (generator.Next(&event)) {
//     if (!loader.Append(event)) break;   // a refusal stops the load
//   }
//   absl::Status s = loader.Finish();     // waits for every append
//
// Order: events are appended one per append, each to its event's `stream`
// with ExpectedVersion ANY, and committed in call order (the log queues
// appends in call order and its single writer decides and commits them in
// that order), so a data set that is valid in generation order stays valid
// although up to `max_in_flight` appends are pipelined. Every event gets
// the tags it would get if appended alone: the decider derives them from
// the state every earlier append left, committed or not.
//
// Thread-safety: Append and Finish belong to one thread; the log's
// completion thread reports outcomes concurrently.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>

#include "absl/status/status.h"
#include "dealwire/v1/events.pb.h"
#include "store/event_log.h"

namespace dealwire::bench {

struct LogLoaderOptions {
  // Appends issued but not yet acknowledged. Keep it at most the log's
  // Options::max_queued_appends, or a full queue refuses appends with
  // UNAVAILABLE. Default: 16384 (the log's default queue bound)
  size_t max_in_flight = 16384;

  // The appending principal, as dealwired records for a caller without
  // credentials. Default: "anonymous"
  std::string recorded_by = "anonymous";
};

class LogLoader {
 public:
  // REQUIRES: `log` outlives the loader; no one else appends to it meanwhile.
  LogLoader(store::EventLog& log, LogLoaderOptions options);
  ~LogLoader();

  LogLoader(const LogLoader&) = delete;
  LogLoader& operator=(const LogLoader&) = delete;

  // Appends `event` to its own `stream`, waiting first while max_in_flight
  // appends are unacknowledged. Returns false once any event was refused;
  // Finish then returns why.
  bool Append(const dealwire::v1::Event& event);

  // Waits until every append is acknowledged. Returns OK, or the first
  // refusal, its message prefixed with the event's index (0-based, in
  // Append order), payload type and stream.
  absl::Status Finish();

  // Returns the number of events passed to Append, and the number
  // acknowledged OK so far.
  uint64_t appended() const { return appended_; }
  uint64_t committed() const;

 private:
  void Fail(absl::Status status);

  store::EventLog& log_;
  const LogLoaderOptions options_;
  const uint64_t base_;  // the log's last position when the loader began
  uint64_t appended_ = 0;  // Append's thread only

  mutable std::mutex mu_;
  std::condition_variable cv_;
  size_t in_flight_ = 0;    // guarded by mu_
  uint64_t committed_ = 0;  // appends acknowledged OK; guarded by mu_
  absl::Status error_;      // the first refusal; guarded by mu_
};

}  // namespace dealwire::bench
