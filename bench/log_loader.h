// bench/log_loader.h — appends a stream of events straight into an event
// log through the server's write path minus gRPC: EncodeEvent (envelope
// checks, tags, serialization) and EventLog::AppendAsync, with the log's
// Options::validator (the DomainValidator in dealwire-gen) checking each
// append on the writer thread.
//
//   store::Options options;
//   options.validator = std::make_shared<projections::DomainValidator>();
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
// appends in call order and its single writer commits them in that order),
// so a data set that is valid in generation order stays valid although up to
// `max_in_flight` appends are pipelined.
//
// Tags: EncodeEvent derives some tags by reading the log (a DealStageChanged
// inherits the organizations of its deal's first report, a PartnershipEnded
// those of its partnership, a retraction or correction those of its target).
// With appends in flight, the referred event may not be committed yet, and
// the log alone would answer "no such event": the event would be stored
// without the inherited tags. The loader therefore encodes against a view
// of the log that also holds the events it has appended but not yet seen
// committed, so every event gets the tags it would get if appended alone.
//
// Thread-safety: Append and Finish belong to one thread; the log's
// completion thread reports outcomes concurrently.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include "absl/status/status.h"
#include "dealwire/v1/events.pb.h"
#include "store/event_log.h"

namespace dealwire::bench {

class PendingView;

struct LogLoaderOptions {
  // Appends issued but not yet acknowledged. Keep it at most the log's
  // Options::max_queued_appends, or a full queue refuses appends with
  // UNAVAILABLE. Default: 16384 (the log's default queue bound)
  size_t max_in_flight = 16384;

  // `recorded_by` given to EncodeEvent, as dealwired does for a caller
  // without credentials. Default: "anonymous"
  std::string recorded_by = "anonymous";
};

class LogLoader {
 public:
  // REQUIRES: `log` outlives the loader; no one else appends to it meanwhile.
  LogLoader(store::EventLog& log, LogLoaderOptions options);
  ~LogLoader();

  LogLoader(const LogLoader&) = delete;
  LogLoader& operator=(const LogLoader&) = delete;

  // Encodes `event` for its own `stream` and appends it, waiting first while
  // max_in_flight appends are unacknowledged. Returns false once any event
  // was refused (by EncodeEvent or by the log); Finish then returns why.
  bool Append(const dealwire::v1::Event& event);

  // Waits until every append is acknowledged. Returns OK, or the first
  // refusal, its message prefixed with the event's index (0-based, in
  // Append order), payload type and stream.
  absl::Status Finish();

  // Returns the number of events passed to Append and accepted by
  // EncodeEvent, and the number acknowledged OK so far.
  uint64_t appended() const { return appended_; }
  uint64_t committed() const;

 private:
  void Fail(absl::Status status);

  store::EventLog& log_;
  const LogLoaderOptions options_;
  const uint64_t base_;  // the log's last position when the loader began
  std::unique_ptr<PendingView> view_;
  uint64_t appended_ = 0;  // Append's thread only

  mutable std::mutex mu_;
  std::condition_variable cv_;
  size_t in_flight_ = 0;    // guarded by mu_
  uint64_t committed_ = 0;  // appends acknowledged OK; guarded by mu_
  absl::Status error_;      // the first refusal; guarded by mu_
};

}  // namespace dealwire::bench
