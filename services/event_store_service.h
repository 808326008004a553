// services/event_store_service.h — dealwire.v1.EventStore over gRPC's
// callback API: a thin adapter from requests to the event log
// (store/event_log.h) and the subscription core (services/subscription.h).
//
//   EventStoreService service(log.get(), &executor, EventStoreService::Options());
//   builder.RegisterService(&service);
//   ...
//   service.Shutdown();   // ends live subscriptions with UNAVAILABLE
//   server->Shutdown();
//
// Appends are handed to the log's writer and finished from its callback
// (AppendStream's too, services/appends.h). Checkpoint commits, subscription
// deletes and the start of a named subscription, which are synced writes,
// run on the executor `executor`, never on gRPC's threads. A subscription's
// catch-up reads of the log run on the service's own catch-up threads,
// overlapping the write of the previous message;
// live events come from the live tail, which the log feeds with the events
// it committed. ReadStream and ReadAll run on gRPC's thread, bounded (a
// page): mostly served from RocksDB's memtables, block cache or the page
// cache, they read the disk for cold data; handing them to the executor
// measured 0.59x the rate of one-event reads on two cores (docs/server.md).
// Subscriptions write one message at a time and hold at most
// Options::subscriber_buffer_bytes of messages each. Subscribe is a raw
// method: events go out as the bytes the live tail serialized once for every
// subscriber.
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "absl/container/flat_hash_set.h"
#include "absl/time/time.h"
#include "dealwire/v1/event_store.grpc.pb.h"
#include "absl/functional/any_invocable.h"
#include "services/appends.h"
#include "services/executor.h"
#include "services/live_tail.h"
#include "services/subscription.h"
#include "store/event_log.h"

namespace dealwire::services {

class SubscribeReactor;

class EventStoreService final : public dealwire::v1::EventStore::WithRawCallbackMethod_Subscribe<
                                      dealwire::v1::EventStore::CallbackService> {
 public:
  struct Options {
    // Events, and bytes of them, kept in memory for live subscribers.
    // Default: 32768 events, 64 MiB
    size_t live_buffer_events = 32768;
    size_t live_buffer_bytes = 64 << 20;
    // How often idle subscriptions are checked for heartbeats and stalls.
    // Default: 100 ms
    absl::Duration tick = absl::Milliseconds(100);
    // The bytes of messages one subscription holds for its client: the
    // message in flight and those ready after it (a batch stops growing at
    // half of it; one event larger than it still goes, alone). A subscriber that
    // does not read thus holds at most this much besides gRPC's own state
    // for the call, and once the live buffer has moved past it, it is told
    // `fell_behind` and continues from the log. Default: 256 KiB
    size_t subscriber_buffer_bytes = 256 << 10;
    // A subscription whose client has taken no message for this long is cut
    // off: it ends with RESOURCE_EXHAUSTED, and if the client takes nothing
    // within 5 s more, the call is cancelled. Default: 60 s
    absl::Duration subscriber_stall_timeout = absl::Seconds(60);
    // Principal recorded on appended events. Default: "anonymous"
    std::string principal = "anonymous";
  };

  // REQUIRES: `log` and `executor` outlive the service; `executor` runs the
  // tasks queued until its shutdown (Server shuts it down after gRPC's
  // server, so every call's queued work still finishes it).
  EventStoreService(store::EventLog* log, Executor* executor, Options options);
  ~EventStoreService() override;

  // Ends every live subscription with UNAVAILABLE and refuses new ones; ends
  // every AppendStream call once the appends it read have their outcomes.
  // Idempotent. Call before grpc::Server::Shutdown, which waits for them.
  void Shutdown();

  grpc::ServerUnaryReactor* Append(grpc::CallbackServerContext* context,
                                   const dealwire::v1::AppendRequest* request,
                                   dealwire::v1::AppendResponse* response) override;
  grpc::ServerBidiReactor<dealwire::v1::AppendStreamRequest, dealwire::v1::AppendStreamResponse>*
  AppendStream(grpc::CallbackServerContext* context) override;
  grpc::ServerUnaryReactor* ReadStream(grpc::CallbackServerContext* context,
                                       const dealwire::v1::ReadStreamRequest* request,
                                       dealwire::v1::ReadStreamResponse* response) override;
  grpc::ServerUnaryReactor* ReadAll(grpc::CallbackServerContext* context,
                                    const dealwire::v1::ReadAllRequest* request,
                                    dealwire::v1::ReadAllResponse* response) override;
  // Request: a serialized SubscribeRequest; responses: serialized
  // SubscribeResponse messages.
  grpc::ServerWriteReactor<grpc::ByteBuffer>* Subscribe(grpc::CallbackServerContext* context,
                                                       const grpc::ByteBuffer* request) override;
  grpc::ServerUnaryReactor* CommitCheckpoint(
      grpc::CallbackServerContext* context, const dealwire::v1::CommitCheckpointRequest* request,
      dealwire::v1::CommitCheckpointResponse* response) override;
  grpc::ServerUnaryReactor* ListSubscriptions(
      grpc::CallbackServerContext* context, const dealwire::v1::ListSubscriptionsRequest* request,
      dealwire::v1::ListSubscriptionsResponse* response) override;
  grpc::ServerUnaryReactor* DeleteSubscription(
      grpc::CallbackServerContext* context,
      const dealwire::v1::DeleteSubscriptionRequest* request,
      dealwire::v1::DeleteSubscriptionResponse* response) override;

 private:
  friend class SubscribeReactor;

  // Subscriptions register while they run, so that heartbeats, shutdown and
  // DeleteSubscription can reach them. Register returns false once shut down.
  bool Register(SubscribeReactor* r);
  void Unregister(SubscribeReactor* r);
  void TickLoop();
  // Runs `work` on executor_ and finishes `reactor` with its status;
  // UNAVAILABLE at once when the executor's queue is full.
  void Offload(grpc::ServerUnaryReactor* reactor, absl::AnyInvocable<absl::Status() &&> work);

  store::EventLog* const log_;
  Executor* const executor_;  // synced writes and catch-up reads
  const Options options_;
  // Catch-up reads of the log for subscriptions behind the live tail, on two
  // threads of their own. (Below the server's priority they caught up at
  // 0.67x the rate on two cores shared with the client; appends are
  // protected by the budgets instead.) Bounded: every subscription has at
  // most one read queued.
  Executor readers_;
  LiveTail tail_;
  SubscriptionRegistry registry_;
  AppendStreams append_streams_;

  std::mutex mu_;
  absl::flat_hash_set<SubscribeReactor*> active_;  // guarded by mu_
  bool shut_down_ = false;                         // guarded by mu_
  std::condition_variable tick_cv_;
  std::thread ticker_;
};

}  // namespace dealwire::services
