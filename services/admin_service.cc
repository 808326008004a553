#include "services/admin_service.h"

#include <atomic>
#include <condition_variable>
#include <deque>
#include <optional>

#include "services/market_intel_service.h"
#include "services/status_mapping.h"

namespace dealwire::services {

namespace v1 = dealwire::v1;

// What the rebuild thread and the reactor share. The reactor is deleted by
// gRPC after OnDone; the rebuild thread only touches this state.
struct AdminService::RebuildCall {
  std::mutex mu;
  std::deque<v1::RebuildProjectionsResponse> pending;  // guarded by mu
  std::optional<grpc::Status> finish;                  // guarded by mu
  bool writing = false;                                // guarded by mu
  grpc::ServerWriteReactor<v1::RebuildProjectionsResponse>* reactor = nullptr;  // guarded by mu
  v1::RebuildProjectionsResponse in_flight;            // written by the reactor
  std::atomic<bool> cancelled{false};
  std::atomic<bool> done{false};  // the rebuild thread has finished

  // Starts the next write or the finish, if the reactor is idle.
  // REQUIRES: mu held.
  void Pump() {
    if (reactor == nullptr || writing) return;
    if (!pending.empty()) {
      in_flight = std::move(pending.front());
      pending.pop_front();
      writing = true;
      reactor->StartWrite(&in_flight);
    } else if (finish.has_value()) {
      writing = true;  // nothing more may be written
      reactor->Finish(*finish);
    }
  }
};

namespace {

class RebuildReactor final : public grpc::ServerWriteReactor<v1::RebuildProjectionsResponse> {
 public:
  explicit RebuildReactor(std::shared_ptr<AdminService::RebuildCall> call) : call_(call) {}

  void OnWriteDone(bool ok) override {
    std::lock_guard l(call_->mu);
    call_->writing = false;
    if (!ok) {
      call_->cancelled = true;
      call_->pending.clear();
      if (!call_->finish.has_value()) {
        call_->finish = ToGrpcStatus(absl::CancelledError("the client went away"));
      }
    }
    call_->Pump();
  }
  void OnCancel() override { call_->cancelled = true; }
  void OnDone() override {
    {
      std::lock_guard l(call_->mu);
      call_->reactor = nullptr;
    }
    delete this;
  }

 private:
  std::shared_ptr<AdminService::RebuildCall> call_;
};

}  // namespace

AdminService::~AdminService() { Shutdown(); }

void AdminService::Shutdown() {
  std::thread thread;
  {
    std::lock_guard l(mu_);
    shut_down_ = true;
    if (last_ != nullptr) last_->cancelled = true;
    thread.swap(thread_);
  }
  if (thread.joinable()) thread.join();
}

grpc::ServerUnaryReactor* AdminService::GetStats(grpc::CallbackServerContext* context,
                                                 const v1::GetStatsRequest* request,
                                                 v1::GetStatsResponse* response) {
  return AnswerOnPool(context, pool_, [this, request, response] {
    absl::StatusOr<v1::GetStatsResponse> r = projections_->GetStats(*request);
    if (r.ok()) *response = *std::move(r);
    return r.status();
  });
}

grpc::ServerWriteReactor<v1::RebuildProjectionsResponse>* AdminService::RebuildProjections(
    grpc::CallbackServerContext* /*context*/, const v1::RebuildProjectionsRequest* /*request*/) {
  auto call = std::make_shared<RebuildCall>();
  auto* reactor = new RebuildReactor(call);
  std::lock_guard l(mu_);
  call->reactor = reactor;
  auto refuse = [&](grpc::Status status) {
    std::lock_guard c(call->mu);
    call->finish = std::move(status);
    call->Pump();
    return reactor;
  };
  if (shut_down_) {
    return refuse(ToGrpcStatus(absl::UnavailableError("the server is shutting down")));
  }
  if (last_ != nullptr && !last_->done) {
    return refuse(ToGrpcStatus(absl::FailedPreconditionError("a rebuild of the projections is already running")));
  }
  if (thread_.joinable()) thread_.join();  // finished: returns at once
  last_ = call;
  thread_ = std::thread([this, call] {
    absl::Status s = projections_->Rebuild(
        [&](const v1::RebuildProjectionsResponse& message) {
          std::lock_guard c(call->mu);
          // Progress beyond what the client reads is dropped; the last
          // message (done) is always kept.
          if (call->pending.size() >= 4 && message.has_progress()) return;
          call->pending.push_back(message);
          call->Pump();
        },
        [&] { return call->cancelled.load(); });
    std::lock_guard c(call->mu);
    call->finish = ToGrpcStatus(s);
    call->done = true;
    call->Pump();
  });
  return reactor;
}

}  // namespace dealwire::services
