#include "services/server.h"

#include <cstdio>
#include <mutex>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/health_check_service_interface.h"
#include "domain/decider.h"
#include "projections/market_projections.h"
#include "services/admin_service.h"
#include "services/event_store_service.h"
#include "services/executor.h"
#include "services/market_intel_service.h"
#include "store/event_log.h"

namespace dealwire::services {

// Whether the log takes appends (store::Options::storage_listener), shown
// on health: dealwire.v1.EventStore and the server as a whole are
// NOT_SERVING while a storage error stops appends; MarketIntel and Admin,
// which only read, stay SERVING. Each change is one line on stderr.
class StorageHealth {
 public:
  // Called on the log's writer thread.
  void Told(const absl::Status& storage) {
    std::lock_guard l(mu_);
    if (storage.ok() == writable_) return;
    writable_ = storage.ok();
    if (writable_) {
      std::fprintf(stderr, "dealwired storage recovered: appends are taken again\n");
    } else {
      std::fprintf(stderr, "dealwired storage error, appends refused until it recovers: %s\n",
                   std::string(storage.message()).c_str());
    }
    Show();
  }
  // Health is shown from now on (the server is serving).
  void Attach(grpc::HealthCheckServiceInterface* health) {
    std::lock_guard l(mu_);
    health_ = health;
    Show();
  }
  // Health is no longer changed (the server is stopping).
  void Detach() {
    std::lock_guard l(mu_);
    health_ = nullptr;
  }

 private:
  void Show() {
    if (health_ == nullptr) return;
    // By name: SetServingStatus(bool) would set every service.
    health_->SetServingStatus("dealwire.v1.EventStore", writable_);
    health_->SetServingStatus("", writable_);
  }

  std::mutex mu_;
  grpc::HealthCheckServiceInterface* health_ = nullptr;  // guarded by mu_
  bool writable_ = true;                                  // guarded by mu_
};

absl::StatusOr<std::unique_ptr<Server>> Server::Start(const ServerOptions& options) {
  std::unique_ptr<Server> server(new Server());
  server->options_ = options;
  server->storage_health_ = std::make_shared<StorageHealth>();

  store::Options log_options;
  log_options.decider = std::make_shared<domain::DomainDecider>(
      domain::DomainDecider::Options{.cache_bytes = options.decider_cache_bytes});
  log_options.block_cache_bytes = options.block_cache_bytes;
  log_options.memtable_bytes = options.memtable_bytes;
  log_options.storage_listener = [health = server->storage_health_](const absl::Status& s) {
    health->Told(s);
  };
  absl::StatusOr<std::unique_ptr<store::EventLog>> log =
      store::OpenEventLog(options.data_dir, std::move(log_options));
  if (!log.ok()) return log.status();
  server->log_ = *std::move(log);
  projections::MarketProjections::Options projection_options;
  projection_options.cap_table_cache_bytes = options.cap_table_cache_bytes;
  absl::StatusOr<std::unique_ptr<projections::MarketProjections>> projections =
      projections::MarketProjections::Open(server->log_.get(), &server->log_->state(),
                                           std::move(projection_options));
  if (!projections.ok()) return projections.status();
  server->projections_ = *std::move(projections);
  server->queries_ = std::make_unique<Executor>(options.query_threads, options.max_queued_queries,
                                                "dw-query");
  server->event_store_ =
      std::make_unique<EventStoreService>(server->log_.get(), server->queries_.get(),
                                          EventStoreService::Options{
                                              .subscriber_buffer_bytes =
                                                  options.subscriber_buffer_bytes,
                                              .subscriber_stall_timeout =
                                                  options.subscriber_stall_timeout,
                                          });
  server->market_intel_ =
      std::make_unique<MarketIntelService>(server->projections_.get(), server->queries_.get());
  server->admin_ =
      std::make_unique<AdminService>(server->projections_.get(), server->queries_.get());

  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(options.listen, grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(server->event_store_.get());
  builder.RegisterService(server->market_intel_.get());
  builder.RegisterService(server->admin_.get());
  // Without this, gRPC sets SO_REUSEPORT and a second server on a busy port
  // would start and share the port (and the clients) with the first.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder.SetMaxReceiveMessageSize(options.max_message_bytes);
  builder.SetMaxSendMessageSize(options.max_message_bytes);
  server->grpc_server_ = builder.BuildAndStart();
  if (server->grpc_server_ == nullptr || port == 0) {
    server->event_store_->Shutdown();
    return absl::UnavailableError(absl::StrCat("cannot listen on ", options.listen));
  }
  const size_t colon = options.listen.rfind(':');
  server->address_ = absl::StrCat(options.listen.substr(0, colon), ":", port);
  grpc::HealthCheckServiceInterface* health = server->grpc_server_->GetHealthCheckService();
  health->SetServingStatus("dealwire.v1.MarketIntel", true);
  health->SetServingStatus("dealwire.v1.Admin", true);
  server->storage_health_->Attach(health);
  return server;
}

Server::~Server() { Shutdown().IgnoreError(); }

absl::Status Server::Shutdown() {
  if (shut_down_) return shutdown_status_;
  shut_down_ = true;
  if (grpc_server_ != nullptr) {
    storage_health_->Detach();
    grpc_server_->GetHealthCheckService()->SetServingStatus(false);
  }
  // Subscriptions first: Server::Shutdown waits for every call to end.
  if (event_store_ != nullptr) event_store_->Shutdown();
  if (admin_ != nullptr) admin_->Shutdown();
  if (grpc_server_ != nullptr) {
    grpc_server_->Shutdown(absl::ToChronoTime(absl::Now() + options_.shutdown_grace));
    grpc_server_->Wait();
  }
  // Queries still queued finish (they answer calls gRPC has let go of).
  if (queries_ != nullptr) queries_->Shutdown();
  if (projections_ != nullptr) projections_->Stop();
  event_store_.reset();
  market_intel_.reset();
  admin_.reset();
  if (log_ != nullptr) shutdown_status_ = log_->Close();
  return shutdown_status_;
}

}  // namespace dealwire::services
