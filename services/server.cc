#include "services/server.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/health_check_service_interface.h"
#include "services/event_store_service.h"
#include "store/event_log.h"

namespace dealwire::services {

absl::StatusOr<std::unique_ptr<Server>> Server::Start(const ServerOptions& options) {
  std::unique_ptr<Server> server(new Server());
  server->options_ = options;

  absl::StatusOr<std::unique_ptr<store::EventLog>> log =
      store::OpenEventLog(options.data_dir, store::Options());
  if (!log.ok()) return log.status();
  server->log_ = *std::move(log);
  server->event_store_ =
      std::make_unique<EventStoreService>(server->log_.get(), EventStoreService::Options());

  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(options.listen, grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(server->event_store_.get());
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
  health->SetServingStatus("dealwire.v1.EventStore", true);
  health->SetServingStatus(true);
  return server;
}

Server::~Server() { Shutdown().IgnoreError(); }

absl::Status Server::Shutdown() {
  if (shut_down_) return shutdown_status_;
  shut_down_ = true;
  if (grpc_server_ != nullptr) {
    grpc_server_->GetHealthCheckService()->SetServingStatus(false);
  }
  // Subscriptions first: Server::Shutdown waits for every call to end.
  if (event_store_ != nullptr) event_store_->Shutdown();
  if (grpc_server_ != nullptr) {
    grpc_server_->Shutdown(absl::ToChronoTime(absl::Now() + options_.shutdown_grace));
    grpc_server_->Wait();
  }
  event_store_.reset();
  if (log_ != nullptr) shutdown_status_ = log_->Close();
  return shutdown_status_;
}

}  // namespace dealwire::services
