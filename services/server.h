// services/server.h — a running Dealwire node: the event log on disk and
// the gRPC server in front of it.
//
//   ServerOptions options;
//   options.data_dir = "/var/lib/dealwire";
//   options.listen = "127.0.0.1:50051";
//   ASSIGN_OR_RETURN(std::unique_ptr<Server> server, Server::Start(options));
//   ... server->Shutdown();
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace grpc {
class Server;
}

namespace dealwire::store {
class EventLog;
}

namespace dealwire::projections {
class MarketProjections;
}

namespace dealwire::services {

class AdminService;
class EventStoreService;
class StorageHealth;
class Executor;
class MarketIntelService;

struct ServerOptions {
  // Directory of the event log; created when missing. Default: ./data
  std::string data_dir = "./data";
  // host:port to listen on; port 0 picks a free port. Default: 127.0.0.1:50051
  std::string listen = "127.0.0.1:50051";
  // How long Shutdown lets in-flight calls finish before cancelling them.
  // Default: 10 s
  absl::Duration shutdown_grace = absl::Seconds(10);
  // Largest request or response message. Default: 64 MiB
  int max_message_bytes = 64 << 20;
  // Threads answering MarketIntel and Admin queries, and how many queries
  // may wait for one. Default: 4 threads, 4096 queued
  size_t query_threads = 4;
  size_t max_queued_queries = 4096;
  // What one subscription may hold for a client that does not keep up, and
  // how long it may take nothing before it is cut off (see
  // EventStoreService::Options). Default: 256 KiB, 60 s
  size_t subscriber_buffer_bytes = 256 << 10;
  absl::Duration subscriber_stall_timeout = absl::Seconds(60);
  // What the write side's domain state may hold in memory; the rest is in
  // the state space (domain::DomainDecider::Options). Default: 128 MiB
  size_t decider_cache_bytes = 128 << 20;
  // Memory budgets of the storage and the projections (store::Options,
  // projections::MarketProjections::Options). Default: 256 MiB block cache,
  // 128 MiB memtables, 64 MiB of cached cap tables
  size_t block_cache_bytes = 256 << 20;
  size_t memtable_bytes = 128 << 20;
  size_t cap_table_cache_bytes = 64 << 20;
};

class Server {
 public:
  // Opens the log and starts serving. Returns FAILED_PRECONDITION when the
  // data directory is in use by another process, UNAVAILABLE when the
  // address cannot be bound, or the log's open errors.
  static absl::StatusOr<std::unique_ptr<Server>> Start(const ServerOptions& options);

  ~Server();

  // The address actually bound (with the chosen port when 0 was asked).
  const std::string& address() const { return address_; }

  // Stops gracefully: health NOT_SERVING, live subscriptions and rebuilds
  // end, no new calls, in-flight calls finish (appends keep their
  // acknowledgements), the projections stop after their current batch, the
  // log closes. Idempotent.
  absl::Status Shutdown();

 private:
  Server() = default;

  ServerOptions options_;
  std::string address_;
  std::unique_ptr<store::EventLog> log_;
  std::unique_ptr<projections::MarketProjections> projections_;
  std::unique_ptr<Executor> queries_;
  std::unique_ptr<EventStoreService> event_store_;
  std::unique_ptr<MarketIntelService> market_intel_;
  std::unique_ptr<AdminService> admin_;
  std::unique_ptr<grpc::Server> grpc_server_;
  // Health of dealwire.v1.EventStore (and of the server) follows whether
  // the log can write; shared with the log's storage listener.
  std::shared_ptr<StorageHealth> storage_health_;
  bool shut_down_ = false;
  absl::Status shutdown_status_;
};

}  // namespace dealwire::services
