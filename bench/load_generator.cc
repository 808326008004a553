// dealwire-bench — gRPC load generator for dealwired.
//
//   dealwire-bench [--server HOST:PORT] [--scenario all|append|append-batch|catchup|live|...]
//                  [--duration S] [--callers C] [--batch B] ...   (--help lists every flag)
//   bench/run_server_bench.sh [flags...]   (the same against a fresh dealwired)
//
// Scenarios, each printing one machine-readable summary line:
//   append         durable single-event appends from --callers concurrent
//                  callers (closed loop: each keeps one Append in flight) for
//                  --duration seconds or --events events. Line
//                  "append_1x<C>: <events/s> events/s p50=… p90=… p99=… max=…".
//   append-batch   the same with --batch events per append from
//                  --batch-callers callers: "append_<B>x<C>: …".
//   catchup        one Subscribe from_start over the whole log, until
//                  caught_up; the log is first filled to --catchup-events
//                  events if it is smaller: "catchup: <events/s> events/s …".
//   live           --subscribers live subscribers (from_end, callback
//                  reactors sharing --subscriber-channels connections) while
//                  appending at --rate events/s in batches of --live-batch,
//                  for --duration seconds. Lag is receive time − the event's
//                  recorded_time (server commit to client delivery); e2e is
//                  receive time − the send time written into the event.
//                  Checks gaps, duplicates and missing events per subscriber:
//                  "live_<N>x<rate>: <events/s> events/s delivered lag_p50=…".
//   ping           ReadAll(backwards, page_size 1) from --callers callers:
//                  the RPC floor under the append figures. Not part of `all`.
//   health         one grpc.health.v1 Check; exit status 0 when SERVING.
//                  Not part of `all`.
//   unread         whether subscribers that never read hurt a closed-loop
//                  appender and the server's memory: the append load of
//                  `append` without, then with --unread-subscribers
//                  Subscribe calls (from_end, no filter; their connections
//                  without BDP probing) that never read.
//                  Lines "unread_baseline_1x<C>: …" and
//                  "unread_<N>_1x<C>: … p99_ratio=… ended=… ended_codes=…",
//                  with the server's VmRSS/VmHWM when --server-pid is given.
//                  Not part of `all`.
//
// Scenarios of the query side (bench/intel_scenarios.h), which need a data
// set (see run_intel_bench.sh) and are not part of `all`:
//   projection-catchup  Admin.GetStats every 100 ms until projection_lag is
//                  0: "projection_catchup: <events/s> events/s …".
//   captable       --concurrency closed-loop GetCapTable callers over up to
//                  --companies companies for --duration s in each of three
//                  phases (current, as_of known_at_position, as_of
//                  effective_on): "captable_<phase>_x<C>: <calls/s> calls/s
//                  p50=… p90=… p99=… max=…".
//   rebuild        one Admin.RebuildProjections: progress lines, then
//                  "rebuild: <events/s> events/s … identical=true|false".
//
// Events are valid Dealwire events (see load_events.h): the run first
// registers --orgs organizations of its own, then appends OrganizationUpdated
// events for them with ExpectedVersion ANY.
//
// With --server-pid, each line also reports the cores the server used
// (from /proc); client_cpu is always this process's. The exit status is 1
// when a scenario had errors, gaps, duplicates or missing events.
//
// Client models for the closed-loop scenarios (--client, --cq-threads,
// --channels), measured with append_1x64 on a 2-core machine shared with the
// server: completion queues polled by two threads over 4 connections (`cq`,
// the default) cost ~17 µs of client CPU per call and reach ~15 % more than
// the callback API on one connection (`async`, ~21 µs per call; 4
// connections give it about half of that gain); one blocking thread per
// caller (`sync`) reaches ~15 % less than `async`. Several connections let
// the server spread its work over its polling threads.

#include <sys/types.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "bench/intel_scenarios.h"
#include "bench/load_events.h"
#include "bench/load_stats.h"
#include "dealwire/v1/event_store.grpc.pb.h"
#include "dealwire/v1/event_store.pb.h"
#include "fmt/core.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/support/byte_buffer.h"

namespace dealwire::bench {
namespace {

using v1::AppendRequest;
using v1::AppendResponse;
using v1::EventStore;
using SteadyClock = std::chrono::steady_clock;

constexpr int kMaxEventsPerAppend = 1000;  // the server's default limit
constexpr int kMaxFilterEntries = 100;     // per SubscriptionFilter list

// ---------------------------------------------------------------------------
// Flags
// ---------------------------------------------------------------------------

struct Flags {
  std::string server = "127.0.0.1:50051";
  std::vector<std::string> scenarios = {"all"};
  double duration = 10;
  uint64_t events = 0;
  double warmup = 1;
  int callers = 64;
  int batch = 100;
  int batch_callers = 8;
  std::string client = "cq";
  int cq_threads = 2;
  int channels = 4;
  int orgs = 1000;
  int event_bytes = 200;
  uint64_t catchup_events = 1'000'000;
  int fill_batch = 500;
  double catchup_timeout = 300;
  std::string catchup_client = "async";
  uint32_t catchup_batch = 1000;
  int subscribers = 1000;
  int unread_subscribers = 5000;
  double unread_settle = 20;
  int subscriber_channels = 4;
  double rate = 10000;
  int live_batch = 10;
  std::string filter = "org";
  uint32_t checkpoint_interval = 0;
  int max_inflight = 1000;
  double rpc_timeout = 30;
  double connect_timeout = 10;
  double drain_timeout = 30;
  std::string token;
  pid_t server_pid = 0;
  int companies = 200;
  int concurrency = 8;
  double rebuild_timeout = 3600;
};

// Scenarios that `all` names.
bool InAll(const std::string& scenario) {
  return scenario == "append" || scenario == "append-batch" || scenario == "catchup" ||
         scenario == "live";
}

bool Selected(const Flags& flags, const std::string& scenario) {
  for (const std::string& s : flags.scenarios) {
    if (s == scenario || (s == "all" && InAll(scenario))) return true;
  }
  return false;
}

IntelOptions IntelOptionsOf(const Flags& flags) {
  IntelOptions o;
  o.server = flags.server;
  o.token = flags.token;
  o.server_pid = flags.server_pid;
  o.connect_timeout = flags.connect_timeout;
  o.rpc_timeout = flags.rpc_timeout;
  o.companies = flags.companies;
  o.concurrency = flags.concurrency;
  o.channels = flags.channels;
  o.duration = flags.duration;
  o.warmup = flags.warmup;
  o.catchup_timeout = flags.catchup_timeout;
  o.rebuild_timeout = flags.rebuild_timeout;
  return o;
}

double Seconds(SteadyClock::duration d) { return std::chrono::duration<double>(d).count(); }

absl::Duration SecondsFlag(double s) { return absl::Milliseconds(static_cast<int64_t>(s * 1000)); }

std::chrono::system_clock::time_point DeadlineIn(absl::Duration d) {
  return std::chrono::system_clock::now() + absl::ToChronoMilliseconds(d);
}

uint64_t RandomSeed() {
  std::random_device rd;
  return (static_cast<uint64_t>(rd()) << 32) ^ rd();
}

// ---------------------------------------------------------------------------
// Connections
// ---------------------------------------------------------------------------

// What all scenarios share: the flags, the run's events, new connections.
// Thread-safety: NewChannel, NewStubs, NextSeed and the registration flag are
// for the main thread; the rest may be used from any thread.
class Env {
 public:
  // How a channel sizes its HTTP/2 receive windows.
  enum class ReceiveWindow {
    kAdaptive,  // gRPC's default: BDP probing grows them (to megabytes per call
                // on loopback), even for calls the application does not read
    kFixed,     // no BDP probing: each call's window stays at the initial 64 KiB,
                // so a call that is not read stops its sender after that
  };

  Env(const Flags& flags, std::string run_tag)
      : flags_(flags),
        events_({.run_tag = run_tag, .orgs = flags.orgs, .event_bytes = flags.event_bytes}),
        run_tag_(std::move(run_tag)) {}

  const Flags& flags() const { return flags_; }
  const LoadEvents& events() const { return events_; }
  const std::string& run_tag() const { return run_tag_; }

  // Returns a new channel with its own TCP connection (no subchannel sharing
  // with other channels of this process).
  std::shared_ptr<grpc::Channel> NewChannel(ReceiveWindow window = ReceiveWindow::kAdaptive) {
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    args.SetInt("dealwire.bench.channel", next_channel_++);  // distinct subchannel key
    args.SetInt(GRPC_ARG_ENABLE_RETRIES, 0);                 // no retry buffering on the hot path
    args.SetMaxReceiveMessageSize(8 << 20);
    if (window == ReceiveWindow::kFixed) args.SetInt(GRPC_ARG_HTTP2_BDP_PROBE, 0);
    return grpc::CreateCustomChannel(flags_.server, grpc::InsecureChannelCredentials(), args);
  }

  // Returns `n` stubs on `n` new channels; waits for each to connect.
  // Returns an empty vector when one did not connect within the timeout.
  std::vector<std::unique_ptr<EventStore::Stub>> NewStubs(
      int n, ReceiveWindow window = ReceiveWindow::kAdaptive) {
    std::vector<std::unique_ptr<EventStore::Stub>> stubs;
    for (int i = 0; i < n; ++i) {
      std::shared_ptr<grpc::Channel> channel = NewChannel(window);
      if (!channel->WaitForConnected(DeadlineIn(SecondsFlag(flags_.connect_timeout)))) {
        fmt::print(stderr, "dealwire-bench: cannot connect to {} within {} s\n", flags_.server,
                   flags_.connect_timeout);
        return {};
      }
      stubs.push_back(EventStore::NewStub(channel));
    }
    return stubs;
  }

  // Sets the credentials and deadline of one call.
  void Prepare(grpc::ClientContext* context, std::optional<absl::Duration> timeout) const {
    if (timeout) context->set_deadline(DeadlineIn(*timeout));
    if (!flags_.token.empty()) context->AddMetadata("authorization", "Bearer " + flags_.token);
  }

  // Returns a fresh UUID generator seed.
  uint64_t NextSeed() { return RandomSeed() ^ (0x9e3779b97f4a7c15ULL * ++seeds_); }

  // Whether the run's organizations are registered on the server.
  bool orgs_registered() const { return orgs_registered_; }
  void set_orgs_registered() { orgs_registered_ = true; }

 private:
  const Flags& flags_;
  LoadEvents events_;
  std::string run_tag_;
  int next_channel_ = 0;
  uint64_t seeds_ = 0;
  bool orgs_registered_ = false;
};

// ---------------------------------------------------------------------------
// Closed-loop call driver
// ---------------------------------------------------------------------------

// Outcome of a run of calls.
struct CallTotals {
  LatencyHistogram latency;
  uint64_t ok_calls = 0;
  uint64_t ok_events = 0;  // events carried by the successful calls
  uint64_t errors = 0;
  std::string first_error;
  double seconds = 0;  // first start to last completion
};

// How a CallDriver makes one unary call, both ways.
template <typename Request, typename Response>
struct UnaryMethod {
  std::function<void(EventStore::Stub&, grpc::ClientContext*, const Request*, Response*,
                     std::function<void(grpc::Status)>)>
      async_call;
  std::function<grpc::Status(EventStore::Stub&, grpc::ClientContext*, const Request&, Response*)>
      sync_call;
  std::function<std::unique_ptr<grpc::ClientAsyncResponseReader<Response>>(
      EventStore::Stub&, grpc::ClientContext*, const Request&, grpc::CompletionQueue*)>
      cq_call;
  // Returns the events a request carries (for events/s).
  std::function<uint64_t(const Request&)> events;
};

UnaryMethod<AppendRequest, AppendResponse> AppendMethod() {
  return {
      [](EventStore::Stub& stub, grpc::ClientContext* context, const AppendRequest* request,
         AppendResponse* response, std::function<void(grpc::Status)> done) {
        stub.async()->Append(context, request, response, std::move(done));
      },
      [](EventStore::Stub& stub, grpc::ClientContext* context, const AppendRequest& request,
         AppendResponse* response) { return stub.Append(context, request, response); },
      [](EventStore::Stub& stub, grpc::ClientContext* context, const AppendRequest& request,
         grpc::CompletionQueue* cq) { return stub.PrepareAsyncAppend(context, request, cq); },
      [](const AppendRequest& request) { return static_cast<uint64_t>(request.events_size()); }};
}

UnaryMethod<v1::ReadAllRequest, v1::ReadAllResponse> ReadAllMethod() {
  return {
      [](EventStore::Stub& stub, grpc::ClientContext* context, const v1::ReadAllRequest* request,
         v1::ReadAllResponse* response, std::function<void(grpc::Status)> done) {
        stub.async()->ReadAll(context, request, response, std::move(done));
      },
      [](EventStore::Stub& stub, grpc::ClientContext* context, const v1::ReadAllRequest& request,
         v1::ReadAllResponse* response) { return stub.ReadAll(context, request, response); },
      [](EventStore::Stub& stub, grpc::ClientContext* context, const v1::ReadAllRequest& request,
         grpc::CompletionQueue* cq) { return stub.PrepareAsyncReadAll(context, request, cq); },
      [](const v1::ReadAllRequest&) { return uint64_t{0}; }};
}

// How callers make their calls (--client).
enum class ClientMode {
  kCallback,         // "async": the callback API on gRPC's callback threads
  kSync,             // "sync": one thread per caller, blocking calls
  kCompletionQueue,  // "cq": the completion-queue API, each queue polled by one thread
  kStream,           // "stream": appends only: one AppendStream call per channel
};

ClientMode ParseClientMode(const std::string& s) {
  if (s == "sync") return ClientMode::kSync;
  if (s == "cq") return ClientMode::kCompletionQueue;
  if (s == "stream") return ClientMode::kStream;
  return ClientMode::kCallback;
}

// Drives unary calls from `callers` concurrent callers, each keeping one call
// in flight (closed loop), until `next` returns false for every caller or
// `max_errors` calls failed. See ClientMode for the ways of calling; in the
// asynchronous ones a caller's next call is started from the completion of
// its previous one.
//
// Thread-safety: `next` is called concurrently for different callers, never
// concurrently for one caller.
template <typename Request, typename Response>
class CallDriver {
 public:
  // Fills the caller's next request; returns false when the caller is done.
  using NextFn = std::function<bool(int caller, UuidGenerator& ids, Request* request)>;

  CallDriver(Env& env, const std::vector<std::unique_ptr<EventStore::Stub>>& stubs, int callers,
             ClientMode mode, UnaryMethod<Request, Response> method, NextFn next,
             uint64_t max_errors = 100)
      : env_(env),
        mode_(mode),
        method_(std::move(method)),
        next_(std::move(next)),
        max_errors_(max_errors),
        rpc_timeout_(SecondsFlag(env.flags().rpc_timeout)),
        stubs_count_(stubs.size()) {
    callers_.reserve(callers);
    for (int i = 0; i < callers; ++i) {
      callers_.push_back(
          std::make_unique<Caller>(i, stubs[i % stubs.size()].get(), env.NextSeed()));
    }
  }

  // Runs until every caller is done and returns the merged totals. Gives up
  // (exits the process) when the callers are not done `limit` after the
  // start plus the RPC timeout, which cannot happen unless gRPC loses a call.
  CallTotals Run(absl::Duration limit) {
    const SteadyClock::time_point start = SteadyClock::now();
    const absl::Duration bound = limit + rpc_timeout_ + absl::Seconds(10);
    switch (mode_) {
      case ClientMode::kCallback: {
        {
          absl::MutexLock lock(&mu_);
          active_ = static_cast<int>(callers_.size());
        }
        for (auto& c : callers_) StartNext(*c);
        absl::MutexLock lock(&mu_);
        const auto all_done = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return active_ == 0; };
        if (!mu_.AwaitWithTimeout(absl::Condition(&all_done), bound)) GiveUp();
        break;
      }
      case ClientMode::kSync: {
        std::vector<std::thread> threads;
        threads.reserve(callers_.size());
        for (auto& c : callers_) threads.emplace_back([this, &c] { RunSync(*c); });
        for (std::thread& t : threads) t.join();
        break;
      }
      case ClientMode::kCompletionQueue: {
        std::vector<std::thread> threads;
        const auto deadline = DeadlineIn(bound);
        for (int t = 0; t < env_.flags().cq_threads; ++t) {
          threads.emplace_back([this, t, deadline] { RunCq(t, deadline); });
        }
        for (std::thread& t : threads) t.join();
        break;
      }
      case ClientMode::kStream: {
        if constexpr (std::is_same_v<Request, AppendRequest>) {
          std::vector<std::thread> threads;
          const size_t streams = std::min(stubs_count_, callers_.size());
          for (size_t s = 0; s < streams; ++s) {
            threads.emplace_back([this, s, streams, bound] { RunStream(s, streams, bound); });
          }
          for (std::thread& t : threads) t.join();
        } else {
          fmt::print(stderr, "dealwire-bench: --client stream is for the append scenarios\n");
          std::_Exit(2);
        }
        break;
      }
    }
    CallTotals totals;
    SteadyClock::time_point last = start;
    for (const auto& c : callers_) {
      totals.latency.Merge(c->latency);
      totals.ok_calls += c->ok_calls;
      totals.ok_events += c->ok_events;
      totals.errors += c->errors;
      if (totals.first_error.empty()) totals.first_error = c->first_error;
      last = std::max(last, c->last_done);
    }
    totals.seconds = Seconds(last - start);
    return totals;
  }

 private:
  struct Caller {
    Caller(int i, EventStore::Stub* s, uint64_t seed) : index(i), stub(s), ids(seed) {}
    const int index;
    EventStore::Stub* const stub;
    UuidGenerator ids;
    std::unique_ptr<grpc::ClientContext> context;
    std::unique_ptr<grpc::ClientAsyncResponseReader<Response>> reader;  // kCompletionQueue
    grpc::Status status;                                                // kCompletionQueue
    Request request;
    Response response;
    SteadyClock::time_point begin;
    SteadyClock::time_point last_done;
    LatencyHistogram latency;
    uint64_t ok_calls = 0;
    uint64_t ok_events = 0;
    uint64_t errors = 0;
    std::string first_error;
  };

  [[noreturn]] static void GiveUp() {
    fmt::print(stderr, "dealwire-bench: calls did not finish in time; giving up\n");
    std::_Exit(1);
  }

  bool TakeNext(Caller& c) {
    if (errors_.load(std::memory_order_relaxed) >= max_errors_) return false;
    return next_(c.index, c.ids, &c.request);
  }

  // Prepares the next call of `c`; returns false when it is done.
  bool Begin(Caller& c) {
    if (!TakeNext(c)) return false;
    c.context = std::make_unique<grpc::ClientContext>();
    env_.Prepare(c.context.get(), rpc_timeout_);
    c.response.Clear();
    c.begin = SteadyClock::now();
    return true;
  }

  void Record(Caller& c, const grpc::Status& status) {
    const SteadyClock::time_point now = SteadyClock::now();
    c.last_done = now;
    if (status.ok()) {
      c.latency.RecordMicros(
          std::chrono::duration_cast<std::chrono::microseconds>(now - c.begin).count());
      ++c.ok_calls;
      c.ok_events += method_.events(c.request);
    } else {
      ++c.errors;
      errors_.fetch_add(1, std::memory_order_relaxed);
      if (c.first_error.empty()) {
        c.first_error =
            fmt::format("{} ({})", status.error_message(), static_cast<int>(status.error_code()));
      }
    }
  }

  void StartNext(Caller& c) {
    if (!Begin(c)) {
      absl::MutexLock lock(&mu_);
      --active_;
      return;
    }
    method_.async_call(*c.stub, c.context.get(), &c.request, &c.response,
                       [this, &c](grpc::Status status) {
                         Record(c, status);
                         StartNext(c);
                       });
  }

  void RunSync(Caller& c) {
    while (Begin(c)) {
      const grpc::Status status =
          method_.sync_call(*c.stub, c.context.get(), c.request, &c.response);
      Record(c, status);
    }
  }

  // Polls one completion queue for the callers i with i % cq_threads == t.
  void RunCq(int t, std::chrono::system_clock::time_point deadline) {
    grpc::CompletionQueue cq;
    const auto start_next = [&](Caller& c) {
      if (!Begin(c)) return false;
      c.reader = method_.cq_call(*c.stub, c.context.get(), c.request, &cq);
      c.reader->StartCall();
      c.reader->Finish(&c.response, &c.status, &c);
      return true;
    };
    int active = 0;
    const size_t step = static_cast<size_t>(env_.flags().cq_threads);
    for (size_t i = static_cast<size_t>(t); i < callers_.size(); i += step) {
      if (start_next(*callers_[i])) ++active;
    }
    // Bounded: every call has a deadline, and the wait itself has one.
    while (active > 0) {
      void* tag = nullptr;
      bool ok = false;
      if (cq.AsyncNext(&tag, &ok, deadline) != grpc::CompletionQueue::GOT_EVENT) GiveUp();
      Caller& c = *static_cast<Caller*>(tag);
      Record(c, c.status);
      if (!start_next(c)) --active;
    }
    cq.Shutdown();
    void* tag = nullptr;
    bool ok = false;
    while (cq.Next(&tag, &ok)) {
    }
  }

  // Runs the callers i with i % streams == s over one AppendStream call on
  // their channel: each keeps one append in flight (its correlation id is
  // the caller's index); the outcomes of a response start the callers' next
  // appends, written together (buffered, then one flush).
  void RunStream(size_t s, size_t streams, absl::Duration bound) {
    grpc::ClientContext context;
    context.set_deadline(DeadlineIn(bound));
    env_.Prepare(&context, bound);
    std::unique_ptr<grpc::ClientReaderWriter<v1::AppendStreamRequest, v1::AppendStreamResponse>>
        call = callers_[s]->stub->AppendStream(&context);
    v1::AppendStreamRequest request;
    std::vector<Caller*> ready;
    const auto write_ready = [&] {
      for (size_t i = 0; i < ready.size(); ++i) {
        Caller& c = *ready[i];
        request.set_correlation_id(static_cast<uint64_t>(c.index));
        request.mutable_append()->Swap(&c.request);
        grpc::WriteOptions options;
        if (i + 1 < ready.size()) options.set_buffer_hint();
        const bool ok = call->Write(request, options);
        request.mutable_append()->Swap(&c.request);
        if (!ok) return false;
      }
      ready.clear();
      return true;
    };
    int active = 0;
    for (size_t i = s; i < callers_.size(); i += streams) {
      if (Begin(*callers_[i])) {
        ready.push_back(callers_[i].get());
        ++active;
      }
    }
    bool open = write_ready();
    v1::AppendStreamResponse response;
    while (open && active > 0 && call->Read(&response)) {
      for (const v1::AppendOutcome& o : response.outcomes()) {
        Caller& c = *callers_[static_cast<size_t>(o.correlation_id())];
        Record(c, o.has_failure() ? grpc::Status(static_cast<grpc::StatusCode>(o.failure().code()),
                                                 o.failure().message())
                                  : grpc::Status::OK);
        if (Begin(c)) {
          ready.push_back(&c);
        } else {
          --active;
        }
      }
      open = write_ready();
    }
    call->WritesDone();
    while (call->Read(&response)) {
    }
    const grpc::Status status = call->Finish();
    if (active > 0) {
      // The call ended early: every caller still waiting counts an error.
      for (size_t i = s; i < callers_.size(); i += streams) {
        Caller& c = *callers_[i];
        if (c.last_done < c.begin) Record(c, status.ok() ? grpc::Status::CANCELLED : status);
      }
    }
  }

  Env& env_;
  const ClientMode mode_;
  const UnaryMethod<Request, Response> method_;
  const NextFn next_;
  const uint64_t max_errors_;
  const absl::Duration rpc_timeout_;
  const size_t stubs_count_;
  std::vector<std::unique_ptr<Caller>> callers_;
  std::atomic<uint64_t> errors_{0};
  absl::Mutex mu_;
  int active_ ABSL_GUARDED_BY(mu_) = 0;
};

using AppendDriver = CallDriver<AppendRequest, AppendResponse>;

// Registers the run's organizations (once per process). Returns false on any
// error.
bool EnsureOrgsRegistered(Env& env, const std::vector<std::unique_ptr<EventStore::Stub>>& stubs) {
  if (env.orgs_registered()) return true;
  std::atomic<int> next_org{0};
  const int orgs = env.events().orgs();
  AppendDriver driver(
      env, stubs, std::min(orgs, 64), ParseClientMode(env.flags().client), AppendMethod(),
      [&](int, UuidGenerator& ids, AppendRequest* request) {
        const int org = next_org.fetch_add(1);
        if (org >= orgs) return false;
        env.events().FillRegistration(org, ids, request);
        return true;
      },
      /*max_errors=*/1);
  const CallTotals totals = driver.Run(absl::Minutes(5));
  if (totals.errors > 0) {
    fmt::print(stderr, "dealwire-bench: registering organizations failed: {}\n",
               totals.first_error);
    return false;
  }
  fmt::print("# registered {} organizations bench-{}-* in {:.2f} s\n", orgs, env.run_tag(),
             totals.seconds);
  std::fflush(stdout);
  env.set_orgs_registered();
  return true;
}

// ---------------------------------------------------------------------------
// append / append-batch
// ---------------------------------------------------------------------------

// Appends updates of `batch` events from `callers` callers for `seconds`
// (or `events` events, when not 0) and returns the totals.
CallTotals UpdateLoad(Env& env, const std::vector<std::unique_ptr<EventStore::Stub>>& stubs,
                      int callers, int batch, double seconds, uint64_t events) {
  const int orgs = env.events().orgs();
  const SteadyClock::time_point end =
      SteadyClock::now() + std::chrono::milliseconds(static_cast<int64_t>(seconds * 1000));
  const uint64_t appends = events == 0 ? 0 : (events + static_cast<uint64_t>(batch) - 1) / batch;
  std::atomic<uint64_t> started{0};
  AppendDriver driver(env, stubs, callers, ParseClientMode(env.flags().client), AppendMethod(),
                      [&](int caller, UuidGenerator& ids, AppendRequest* request) {
                        uint64_t n = 0;
                        if (appends > 0) {
                          n = started.fetch_add(1, std::memory_order_relaxed);
                          if (n >= appends) return false;
                        } else {
                          if (SteadyClock::now() >= end) return false;
                          n = started.fetch_add(1, std::memory_order_relaxed);
                        }
                        // Callers spread over the organizations; consecutive
                        // appends of one caller go to different streams.
                        const int org =
                            static_cast<int>((n + static_cast<uint64_t>(caller) * 7919) %
                                             static_cast<uint64_t>(orgs));
                        env.events().FillUpdates(org, batch, ids, absl::Now(), request);
                        return true;
                      });
  return driver.Run(appends > 0 ? absl::Hours(1) : SecondsFlag(seconds));
}

// One measured append load: its totals and the cores used meanwhile
// (CpuReport's text).
struct AppendLoad {
  CallTotals totals;
  std::string cpu_text;
};

// Runs the append scenario's load on `stubs`: `warmup` seconds of unmeasured
// appends (none when --events is given), then --duration seconds (or
// --events events) measured, of `batch` events per append from `callers`
// callers.
AppendLoad MeasureUpdateLoad(Env& env, const std::vector<std::unique_ptr<EventStore::Stub>>& stubs,
                             int callers, int batch, double warmup) {
  const Flags& flags = env.flags();
  if (warmup > 0 && flags.events == 0) UpdateLoad(env, stubs, callers, batch, warmup, 0);
  CpuReport cpu(flags.server_pid);
  AppendLoad load;
  load.totals = UpdateLoad(env, stubs, callers, batch, flags.duration, flags.events);
  load.cpu_text = cpu.Finish();
  return load;
}

// Prints the summary line of an append load, "<name>: <events/s> events/s
// p50=… p90=… p99=… max=… events=… appends=… errors=… seconds=…", then the
// cores used and `extra`; the first error goes to stderr. Returns whether no
// append failed.
bool PrintAppendLine(const std::string& name, const AppendLoad& load, std::string_view extra) {
  const CallTotals& t = load.totals;
  const double rate = t.seconds > 0 ? static_cast<double>(t.ok_events) / t.seconds : 0;
  fmt::print(
      "{}: {:.0f} events/s p50={:.2f}ms p90={:.2f}ms p99={:.2f}ms max={:.2f}ms events={} "
      "appends={} errors={} seconds={:.2f}{}{}\n",
      name, rate, t.latency.PercentileMs(0.50), t.latency.PercentileMs(0.90),
      t.latency.PercentileMs(0.99), t.latency.MaxMs(), t.ok_events, t.ok_calls, t.errors, t.seconds,
      load.cpu_text, extra);
  if (t.errors > 0) fmt::print(stderr, "{}: first error: {}\n", name, t.first_error);
  std::fflush(stdout);
  return t.errors == 0;
}

// Returns how long an append load runs, for a `#` line: "<N> events" or
// "<S> s (after <W> s warm-up)".
std::string DescribeAppendLength(const Flags& flags) {
  return flags.events > 0 ? fmt::format("{} events", flags.events)
                          : fmt::format("{} s (after {} s warm-up)", flags.duration, flags.warmup);
}

bool RunAppendScenario(Env& env, int callers, int batch) {
  const Flags& flags = env.flags();
  std::vector<std::unique_ptr<EventStore::Stub>> stubs = env.NewStubs(flags.channels);
  if (stubs.empty() || !EnsureOrgsRegistered(env, stubs)) return false;
  const std::string name = fmt::format("append_{}x{}", batch, callers);
  fmt::print("# {}: {} callers x {} event(s) per append, {} client, {} channel(s), {}\n", name,
             callers, batch, flags.client, flags.channels, DescribeAppendLength(flags));
  std::fflush(stdout);
  return PrintAppendLine(name, MeasureUpdateLoad(env, stubs, callers, batch, flags.warmup), "");
}

// ---------------------------------------------------------------------------
// ping
// ---------------------------------------------------------------------------

// Reads the last event (ReadAll backwards, page_size 1) from --callers
// callers for --duration: the RPC round trip and per-call cost without a
// durable write, the floor under the append figures.
bool RunPingScenario(Env& env) {
  const Flags& flags = env.flags();
  std::vector<std::unique_ptr<EventStore::Stub>> stubs = env.NewStubs(flags.channels);
  if (stubs.empty()) return false;
  const std::string name = fmt::format("ping_x{}", flags.callers);
  fmt::print("# {}: {} callers x ReadAll(backwards, page_size 1), {} client, {} channel(s), {} s\n",
             name, flags.callers, flags.client, flags.channels, flags.duration);
  std::fflush(stdout);
  const auto run = [&](double seconds) {
    const SteadyClock::time_point end =
        SteadyClock::now() + std::chrono::milliseconds(static_cast<int64_t>(seconds * 1000));
    CallDriver<v1::ReadAllRequest, v1::ReadAllResponse> driver(
        env, stubs, flags.callers, ParseClientMode(flags.client), ReadAllMethod(),
        [&](int, UuidGenerator&, v1::ReadAllRequest* request) {
          request->set_direction(v1::DIRECTION_BACKWARDS);
          request->set_page_size(1);
          return SteadyClock::now() < end;
        });
    return driver.Run(SecondsFlag(seconds));
  };
  if (flags.warmup > 0) run(flags.warmup);
  CpuReport cpu(flags.server_pid);
  const CallTotals t = run(flags.duration);
  const std::string cpu_text = cpu.Finish();
  fmt::print(
      "{}: {:.0f} calls/s p50={:.2f}ms p90={:.2f}ms p99={:.2f}ms max={:.2f}ms calls={} errors={} "
      "seconds={:.2f}{}\n",
      name, t.seconds > 0 ? static_cast<double>(t.ok_calls) / t.seconds : 0,
      t.latency.PercentileMs(0.50), t.latency.PercentileMs(0.90), t.latency.PercentileMs(0.99),
      t.latency.MaxMs(), t.ok_calls, t.errors, t.seconds, cpu_text);
  if (t.errors > 0) fmt::print(stderr, "{}: first error: {}\n", name, t.first_error);
  std::fflush(stdout);
  return t.errors == 0;
}

// ---------------------------------------------------------------------------
// catchup
// ---------------------------------------------------------------------------

// Returns the position of the last event in the log (0 when empty), or
// nullopt on error.
std::optional<uint64_t> LastPosition(Env& env, EventStore::Stub& stub) {
  grpc::ClientContext context;
  env.Prepare(&context, SecondsFlag(env.flags().rpc_timeout));
  v1::ReadAllRequest request;
  request.set_direction(v1::DIRECTION_BACKWARDS);
  request.set_page_size(1);
  v1::ReadAllResponse response;
  const grpc::Status status = stub.ReadAll(&context, request, &response);
  if (!status.ok()) {
    fmt::print(stderr, "dealwire-bench: ReadAll: {} ({})\n", status.error_message(),
               static_cast<int>(status.error_code()));
    return std::nullopt;
  }
  return response.last_position();
}

// What one catch-up subscriber received: events counted and checked for
// gaps and duplicates (the log is gap-free from position 1).
struct CatchupProgress {
  uint64_t events = 0;
  uint64_t previous = 0;  // last event position
  uint64_t gaps = 0;
  uint64_t dups = 0;
  uint64_t sampled_bytes = 0;  // serialized size of every 1024th event
  uint64_t samples = 0;
  std::optional<uint64_t> caught_up;
  SteadyClock::time_point first_event;
  SteadyClock::time_point end;  // when caught_up arrived

  void TakeEvent(const v1::Event& event) {
    const uint64_t position = event.position();
    if (events == 0) first_event = SteadyClock::now();
    if (position <= previous) {
      ++dups;
    } else {
      gaps += position - previous - 1;
      previous = position;
    }
    if ((events & 1023) == 0) {
      sampled_bytes += event.ByteSizeLong();
      ++samples;
    }
    ++events;
  }

  // Takes one message; returns false once caught up.
  bool Take(const v1::SubscribeResponse& message) {
    switch (message.message_case()) {
      case v1::SubscribeResponse::kEvent:
        TakeEvent(message.event());
        return true;
      case v1::SubscribeResponse::kEvents:
        for (const v1::Event& e : message.events().events()) TakeEvent(e);
        return true;
      case v1::SubscribeResponse::kCaughtUp:
        caught_up = message.caught_up().position();
        end = SteadyClock::now();
        return false;
      default:
        return true;
    }
  }
};

// A catch-up subscriber on the callback API: reads until caught_up, then
// cancels the call.
class CatchupReactor final : public grpc::ClientReadReactor<v1::SubscribeResponse> {
 public:
  explicit CatchupReactor(CatchupProgress& progress) : progress_(progress) {}

  // Starts the call. REQUIRES: called once; `context` outlives the call.
  void Start(EventStore::Stub& stub, grpc::ClientContext* context,
             const v1::SubscribeRequest& request) {
    context_ = context;
    stub.async()->Subscribe(context, &request, this);
    StartRead(&message_);
    StartCall();
  }

  void OnReadDone(bool ok) override {
    if (!ok) return;  // OnDone follows
    if (!progress_.Take(message_)) {
      context_->TryCancel();
      return;
    }
    StartRead(&message_);
  }

  void OnDone(const grpc::Status& status) override {
    absl::MutexLock lock(&mu_);
    status_ = status;
    done_ = true;
  }

  // Waits until OnDone ran or `timeout` passed; returns whether it ran.
  bool AwaitDone(absl::Duration timeout) {
    absl::MutexLock lock(&mu_);
    return mu_.AwaitWithTimeout(absl::Condition(&done_), timeout);
  }

  // REQUIRES: AwaitDone returned true.
  grpc::Status status() {
    absl::MutexLock lock(&mu_);
    return status_;
  }

 private:
  CatchupProgress& progress_;
  grpc::ClientContext* context_ = nullptr;
  v1::SubscribeResponse message_;
  absl::Mutex mu_;
  bool done_ ABSL_GUARDED_BY(mu_) = false;
  grpc::Status status_ ABSL_GUARDED_BY(mu_);
};

bool RunCatchupScenario(Env& env) {
  const Flags& flags = env.flags();
  std::vector<std::unique_ptr<EventStore::Stub>> stubs = env.NewStubs(flags.channels);
  if (stubs.empty()) return false;
  std::optional<uint64_t> last = LastPosition(env, *stubs[0]);
  if (!last) return false;
  if (*last < flags.catchup_events) {
    if (!EnsureOrgsRegistered(env, stubs)) return false;
    last = LastPosition(env, *stubs[0]);
    if (!last) return false;
  }
  if (*last < flags.catchup_events) {
    const uint64_t missing = flags.catchup_events - *last;
    fmt::print("# catchup: the log holds {} events; appending {} more in batches of {}\n", *last,
               missing, flags.fill_batch);
    std::fflush(stdout);
    const CallTotals fill =
        UpdateLoad(env, stubs, flags.batch_callers, flags.fill_batch, 0, missing);
    if (fill.errors > 0) {
      fmt::print(stderr, "catchup: filling the log failed: {}\n", fill.first_error);
      return false;
    }
    last = LastPosition(env, *stubs[0]);
    if (!last) return false;
  }
  fmt::print("# catchup: one subscriber from_start over {} events, on its own channel, {} client\n",
             *last, flags.catchup_client);
  std::fflush(stdout);

  std::unique_ptr<EventStore::Stub> stub = EventStore::NewStub(env.NewChannel());
  grpc::ClientContext context;
  env.Prepare(&context, SecondsFlag(flags.catchup_timeout));
  v1::SubscribeRequest request;
  request.set_from_start(true);
  request.set_max_batch_events(flags.catchup_batch);
  CatchupProgress progress;
  grpc::Status status;
  CpuReport cpu(flags.server_pid);
  const SteadyClock::time_point start = SteadyClock::now();
  if (flags.catchup_client == "sync") {
    // One blocking reader: the reading thread polls the connection itself.
    std::unique_ptr<grpc::ClientReader<v1::SubscribeResponse>> reader =
        stub->Subscribe(&context, request);
    v1::SubscribeResponse message;
    // Bounded by the log size: the loop ends at caught_up, or by the deadline.
    while (reader->Read(&message) && progress.Take(message)) {
    }
    progress.end = SteadyClock::now();
    context.TryCancel();
    status = reader->Finish();
  } else {
    CatchupReactor reactor(progress);
    reactor.Start(*stub, &context, request);
    // The call has a deadline, so OnDone comes; the extra wait is a backstop.
    if (!reactor.AwaitDone(SecondsFlag(flags.catchup_timeout) + absl::Seconds(10))) {
      fmt::print(stderr, "catchup: the call did not end after its deadline; giving up\n");
      std::_Exit(1);
    }
    status = reactor.status();
  }
  const std::string cpu_text = cpu.Finish();
  if (!progress.caught_up) {
    fmt::print(stderr,
               "catchup: the stream ended before caught_up, after {} events (last position {}): "
               "{} ({})\n",
               progress.events, progress.previous, status.error_message(),
               static_cast<int>(status.error_code()));
    progress.end = SteadyClock::now();
  }
  const double seconds = Seconds(progress.end - start);
  const double first_event_ms =
      progress.events == 0 ? 0 : Seconds(progress.first_event - start) * 1000;
  const double mean_bytes = progress.samples == 0 ? 0
                                                  : static_cast<double>(progress.sampled_bytes) /
                                                        static_cast<double>(progress.samples);
  const double rate = seconds > 0 ? static_cast<double>(progress.events) / seconds : 0;
  fmt::print(
      "catchup: {:.0f} events/s {:.1f} MB/s events={} caught_up={} first_event={:.1f}ms gaps={} "
      "dups={} seconds={:.2f} client={} batch={}{}\n",
      rate, rate * mean_bytes / 1e6, progress.events, progress.caught_up.value_or(0),
      first_event_ms, progress.gaps, progress.dups, seconds, flags.catchup_client,
      flags.catchup_batch, cpu_text);
  std::fflush(stdout);
  return progress.caught_up.has_value() && progress.gaps == 0 && progress.dups == 0;
}

// ---------------------------------------------------------------------------
// live
// ---------------------------------------------------------------------------

// What all live subscribers report to the scenario.
class LiveBoard {
 public:
  void Started() {
    absl::MutexLock lock(&mu_);
    ++started_;
  }
  void CaughtUp() {
    absl::MutexLock lock(&mu_);
    ++caught_up_;
  }
  void Done(grpc::StatusCode code) {
    absl::MutexLock lock(&mu_);
    ++done_;
    ++done_codes_[code];
  }
  // Waits until `n` subscribers have their initial metadata (or are done) or
  // `timeout` passed; returns the number started.
  int AwaitStarted(int n, absl::Duration timeout) {
    absl::MutexLock lock(&mu_);
    const auto ready = [this, n]()
                           ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return started_ + done_ >= n; };
    mu_.AwaitWithTimeout(absl::Condition(&ready), timeout);
    return started_;
  }
  // Waits until `n` subscribers are caught up (or done) or `timeout` passed;
  // returns the number caught up.
  int AwaitCaughtUp(int n, absl::Duration timeout) {
    absl::MutexLock lock(&mu_);
    const auto ready = [this, n]()
                           ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return caught_up_ + done_ >= n; };
    mu_.AwaitWithTimeout(absl::Condition(&ready), timeout);
    return caught_up_;
  }
  // Waits until `n` subscribers are done or `timeout` passed; returns the
  // number done.
  int AwaitDone(int n, absl::Duration timeout) {
    absl::MutexLock lock(&mu_);
    const auto ready = [this, n]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return done_ >= n; };
    mu_.AwaitWithTimeout(absl::Condition(&ready), timeout);
    return done_;
  }
  // Returns the number of subscribers done so far, by status code.
  std::map<grpc::StatusCode, int> DoneCodes() {
    absl::MutexLock lock(&mu_);
    return done_codes_;
  }

 private:
  absl::Mutex mu_;
  int started_ ABSL_GUARDED_BY(mu_) = 0;
  int caught_up_ ABSL_GUARDED_BY(mu_) = 0;
  int done_ ABSL_GUARDED_BY(mu_) = 0;
  std::map<grpc::StatusCode, int> done_codes_ ABSL_GUARDED_BY(mu_);
};

// One live subscriber: a Subscribe call from_end driven by a callback
// reactor. Its counters are written only by its own reactions (never
// concurrent); the scenario reads them after OnDone (through LiveBoard's
// mutex), except `received`, which it polls.
class LiveSubscriber final : public grpc::ClientReadReactor<v1::SubscribeResponse> {
 public:
  // Whether the subscriber reads its messages.
  enum class Reading {
    kRead,
    kNever,  // starts the call but never reads (the unread scenario): only its
             // initial metadata and its status arrive
  };

  LiveSubscriber(const LoadEvents& events, LiveBoard& board, int group, int groups, bool filtered)
      : events_(events), board_(board), group_(group), groups_(groups), filtered_(filtered) {}

  // Starts the call. REQUIRES: called once.
  void Start(Env& env, EventStore::Stub& stub, const v1::SubscribeRequest& request,
             Reading reading = Reading::kRead) {
    request_ = request;
    env.Prepare(&context_, std::nullopt);
    stub.async()->Subscribe(&context_, &request_, this);
    if (reading == Reading::kRead) StartRead(&response_);
    StartCall();
  }

  void Cancel() { context_.TryCancel(); }

  // Runs when the server's initial metadata arrives, which needs no read:
  // dealwired sends it with its first message (caught_up, for from_end).
  void OnReadInitialMetadataDone(bool ok) override {
    if (ok) board_.Started();  // else OnDone follows
  }

  void OnReadDone(bool ok) override {
    if (!ok) return;  // OnDone follows
    switch (response_.message_case()) {
      case v1::SubscribeResponse::kEvent:
        OnEvent(response_.event());
        break;
      case v1::SubscribeResponse::kCaughtUp:
        ++caught_ups;
        if (!caught_up_position) {
          caught_up_position = response_.caught_up().position();
          last_position = std::max(last_position, *caught_up_position);
          board_.CaughtUp();
        }
        break;
      case v1::SubscribeResponse::kFellBehind:
        ++fell_behind;
        break;
      case v1::SubscribeResponse::kCheckpoint:
        ++checkpoints;
        break;
      case v1::SubscribeResponse::kHeartbeat:
        ++heartbeats;
        break;
      default:
        break;
    }
    StartRead(&response_);
  }

  void OnDone(const grpc::Status& s) override {
    status = s;
    board_.Done(s.error_code());
  }

  int group() const { return group_; }

  // Counters; see the class comment for who may read them when.
  std::atomic<uint64_t> received{0};  // valid events (in order, of this group)
  std::optional<uint64_t> caught_up_position;
  uint64_t caught_ups = 0;
  uint64_t fell_behind = 0;
  uint64_t checkpoints = 0;
  uint64_t heartbeats = 0;
  uint64_t last_position = 0;  // of the last event (or caught_up)
  uint64_t dups = 0;           // positions not above the previous one
  uint64_t unexpected = 0;     // events not matching the filter
  uint64_t early = 0;          // events before caught_up
  LatencyHistogram lag;        // receive time - recorded_time
  LatencyHistogram e2e;        // receive time - send time in the event
  grpc::Status status;

 private:
  void OnEvent(const v1::Event& event) {
    const absl::Time now = absl::Now();
    const uint64_t position = event.position();
    if (position <= last_position) {
      ++dups;
      return;
    }
    if (!caught_up_position) ++early;
    last_position = position;
    if (filtered_) {
      const std::optional<int> org =
          event.payload().has_organization_updated()
              ? events_.OrgIndex(event.payload().organization_updated().org_id())
              : std::nullopt;
      if (!org || *org % groups_ != group_) {
        ++unexpected;
        return;
      }
    }
    const absl::Time recorded = absl::FromUnixSeconds(event.recorded_time().seconds()) +
                                absl::Nanoseconds(event.recorded_time().nanos());
    lag.RecordMicros(absl::ToInt64Microseconds(now - recorded));
    if (std::optional<absl::Time> sent = LoadEvents::SentTime(event)) {
      e2e.RecordMicros(absl::ToInt64Microseconds(now - *sent));
    }
    received.store(received.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  }

  const LoadEvents& events_;
  LiveBoard& board_;
  const int group_;
  const int groups_;
  const bool filtered_;
  grpc::ClientContext context_;
  v1::SubscribeRequest request_;
  v1::SubscribeResponse response_;
};

// Appends at a fixed rate (open loop): every tick one append of `batch`
// updates to the next organization, started asynchronously, at most
// `max_inflight` outstanding. Records every committed range per organization.
class PacedAppender {
 public:
  struct Range {
    int org;
    uint64_t first;
    uint64_t last;
  };

  PacedAppender(Env& env, EventStore::Stub& stub, int batch, int max_inflight)
      : env_(env), stub_(stub), batch_(batch), max_inflight_(max_inflight), ids_(env.NextSeed()) {}

  // Waits (bounded) for the appends in flight; their callbacks use this.
  ~PacedAppender() {
    if (!AwaitIdle()) {
      fmt::print(stderr, "dealwire-bench: live appends still in flight; giving up\n");
      std::_Exit(1);
    }
  }

  // Appends `ticks` batches, one every `interval`, then waits (bounded) for
  // the outstanding ones. Returns false when `max_inflight` appends stayed
  // outstanding for 30 s, or they did not finish in time.
  bool Run(uint64_t ticks, std::chrono::nanoseconds interval) {
    const int orgs = env_.events().orgs();
    const SteadyClock::time_point start = SteadyClock::now();
    bool stalled = false;
    for (uint64_t k = 0; k < ticks && !stalled; ++k) {
      std::this_thread::sleep_until(start + interval * k);
      {
        absl::MutexLock lock(&mu_);
        const auto has_room = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
          return inflight_ < max_inflight_;
        };
        if (!mu_.AwaitWithTimeout(absl::Condition(&has_room), absl::Seconds(30))) {
          stalled = true;
          continue;
        }
        ++inflight_;
        max_seen_inflight_ = std::max(max_seen_inflight_, inflight_);
      }
      auto call = std::make_unique<Call>();
      call->org = static_cast<int>(k % static_cast<uint64_t>(orgs));
      env_.events().FillUpdates(call->org, batch_, ids_, absl::Now(), &call->request);
      env_.Prepare(&call->context, SecondsFlag(env_.flags().rpc_timeout));
      call->begin = SteadyClock::now();
      Call* raw = call.release();
      stub_.async()->Append(&raw->context, &raw->request, &raw->response,
                            [this, raw](grpc::Status status) { Finish(raw, status); });
    }
    seconds_ = Seconds(SteadyClock::now() - start);
    return AwaitIdle() && !stalled;
  }

  // The results; REQUIRES: Run returned.
  const std::vector<Range>& ranges() const { return ranges_; }
  const LatencyHistogram& latency() const { return latency_; }
  uint64_t events() const { return events_; }
  uint64_t errors() const { return errors_; }
  const std::string& first_error() const { return first_error_; }
  int max_inflight_seen() const { return max_seen_inflight_; }
  double seconds() const { return seconds_; }

 private:
  struct Call {
    int org = 0;
    grpc::ClientContext context;
    AppendRequest request;
    AppendResponse response;
    SteadyClock::time_point begin;
  };

  // Waits until no append is in flight, at most the RPC timeout and 5 s;
  // returns whether none is.
  bool AwaitIdle() {
    absl::MutexLock lock(&mu_);
    const auto idle = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return inflight_ == 0; };
    return mu_.AwaitWithTimeout(absl::Condition(&idle),
                                SecondsFlag(env_.flags().rpc_timeout) + absl::Seconds(5));
  }

  void Finish(Call* raw, const grpc::Status& status) {
    std::unique_ptr<Call> call(raw);
    const SteadyClock::time_point now = SteadyClock::now();
    absl::MutexLock lock(&mu_);
    --inflight_;
    if (status.ok()) {
      latency_.RecordMicros(
          std::chrono::duration_cast<std::chrono::microseconds>(now - call->begin).count());
      ranges_.push_back(
          {call->org, call->response.first_position(), call->response.last_position()});
      events_ += static_cast<uint64_t>(call->request.events_size());
    } else {
      ++errors_;
      if (first_error_.empty()) {
        first_error_ =
            fmt::format("{} ({})", status.error_message(), static_cast<int>(status.error_code()));
      }
    }
  }

  Env& env_;
  EventStore::Stub& stub_;
  const int batch_;
  const int max_inflight_;
  UuidGenerator ids_;  // used by the pacing thread only
  double seconds_ = 0;
  absl::Mutex mu_;
  int inflight_ ABSL_GUARDED_BY(mu_) = 0;
  // Written under mu_ by the pacing thread and the callbacks; read once Run
  // has returned.
  int max_seen_inflight_ = 0;
  std::vector<Range> ranges_;
  LatencyHistogram latency_;
  uint64_t events_ = 0;
  uint64_t errors_ = 0;
  std::string first_error_;
};

bool RunLiveScenario(Env& env) {
  const Flags& flags = env.flags();
  std::vector<std::unique_ptr<EventStore::Stub>> append_stubs = env.NewStubs(1);
  if (append_stubs.empty() || !EnsureOrgsRegistered(env, append_stubs)) return false;
  std::vector<std::unique_ptr<EventStore::Stub>> sub_stubs =
      env.NewStubs(flags.subscriber_channels);
  if (sub_stubs.empty()) return false;

  const bool filtered = flags.filter == "org";
  const int orgs = env.events().orgs();
  // Subscriber j follows group j % groups; group g holds the organizations
  // o with o % groups == g (at most kMaxFilterEntries of them, the
  // contract's limit per filter list; groups beyond the subscribers then
  // have none). Unfiltered, everyone gets everything.
  const int groups =
      filtered ? std::min(orgs, std::max(flags.subscribers,
                                         (orgs + kMaxFilterEntries - 1) / kMaxFilterEntries))
               : 1;
  const uint64_t ticks = static_cast<uint64_t>(flags.rate * flags.duration / flags.live_batch);
  const auto interval =
      std::chrono::nanoseconds(static_cast<int64_t>(1e9 * flags.live_batch / flags.rate));
  const std::string name = fmt::format("live_{}x{:.0f}", flags.subscribers, flags.rate);
  fmt::print(
      "# {}: {} subscribers on {} channel(s), filter={} ({} group(s), fan-out {:.1f}), appending "
      "{:.0f} events/s in batches of {} for {} s\n",
      name, flags.subscribers, flags.subscriber_channels, flags.filter, groups,
      static_cast<double>(flags.subscribers) / groups, flags.rate, flags.live_batch,
      flags.duration);
  std::fflush(stdout);

  LiveBoard board;
  std::vector<std::unique_ptr<LiveSubscriber>> subscribers;
  subscribers.reserve(flags.subscribers);
  const SteadyClock::time_point subscribe_start = SteadyClock::now();
  for (int j = 0; j < flags.subscribers; ++j) {
    const int group = j % groups;
    v1::SubscribeRequest request;
    request.set_from_end(true);
    if (flags.checkpoint_interval > 0) request.set_checkpoint_interval(flags.checkpoint_interval);
    if (filtered) {
      for (int o = group; o < orgs; o += groups) {
        request.mutable_filter()->add_org_ids(env.events().OrgId(o));
      }
    }
    subscribers.push_back(
        std::make_unique<LiveSubscriber>(env.events(), board, group, groups, filtered));
    subscribers.back()->Start(env, *sub_stubs[j % sub_stubs.size()], request);
  }
  const int caught_up = board.AwaitCaughtUp(flags.subscribers, absl::Seconds(60));
  const double subscribe_seconds = Seconds(SteadyClock::now() - subscribe_start);
  bool ok = true;
  if (caught_up < flags.subscribers) {
    fmt::print(stderr, "{}: only {} of {} subscribers caught up within 60 s\n", name, caught_up,
               flags.subscribers);
    ok = false;
  }

  PacedAppender appender(env, *append_stubs[0], flags.live_batch, flags.max_inflight);
  CpuReport cpu(flags.server_pid);
  const SteadyClock::time_point start = SteadyClock::now();
  if (ok && !appender.Run(ticks, interval)) {
    fmt::print(stderr, "{}: appends did not complete in time\n", name);
    ok = false;
  }

  // Expected deliveries per group: the committed events of its organizations.
  std::vector<std::vector<PacedAppender::Range>> ranges_by_group(groups);
  std::vector<uint64_t> expected_by_group(groups, 0);
  uint64_t min_first = UINT64_MAX;
  for (const PacedAppender::Range& r : appender.ranges()) {
    ranges_by_group[r.org % groups].push_back(r);
    expected_by_group[r.org % groups] += r.last - r.first + 1;
    min_first = std::min(min_first, r.first);
  }
  uint64_t expected = 0;
  for (const auto& s : subscribers) expected += expected_by_group[s->group()];
  // Returns the events of `group` at positions up to `last`.
  const auto expected_up_to = [&](int group, uint64_t last) {
    uint64_t n = 0;
    for (const PacedAppender::Range& r : ranges_by_group[group]) {
      if (r.first <= last) n += std::min(last, r.last) - r.first + 1;
    }
    return n;
  };

  // Drain: wait (bounded) until every subscriber has its events.
  const SteadyClock::time_point drain_end =
      SteadyClock::now() +
      std::chrono::milliseconds(static_cast<int64_t>(flags.drain_timeout * 1000));
  uint64_t received = 0;
  for (;;) {
    received = 0;
    for (const auto& s : subscribers) received += s->received.load(std::memory_order_relaxed);
    if (received >= expected || SteadyClock::now() >= drain_end) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  const double seconds = Seconds(SteadyClock::now() - start);
  const std::string cpu_text = cpu.Finish();

  for (auto& s : subscribers) s->Cancel();
  const int done = board.AwaitDone(flags.subscribers, absl::Seconds(30));
  if (done < flags.subscribers) {
    // Their reactors may still run: leave them alive.
    fmt::print(stderr, "{}: {} subscriptions did not end after cancel\n", name,
               flags.subscribers - done);
    for (auto& s : subscribers) s.release();
    return false;
  }

  LatencyHistogram lag;
  LatencyHistogram e2e;
  uint64_t gaps = 0, missing = 0, dups = 0, unexpected = 0, early = 0, fell_behind = 0,
           checkpoints = 0, short_subscribers = 0, ended_early = 0, late_start = 0;
  std::string first_status;
  for (const auto& s : subscribers) {
    lag.Merge(s->lag);
    e2e.Merge(s->e2e);
    dups += s->dups;
    unexpected += s->unexpected;
    early += s->early;
    fell_behind += s->fell_behind;
    checkpoints += s->checkpoints;
    // Every received event is distinct (positions increase) and of the
    // group (else `unexpected`), so fewer than the expected events up to the
    // last one received are holes; expected events after it never came.
    const uint64_t got = s->received.load(std::memory_order_relaxed);
    const uint64_t want_up_to_last = expected_up_to(s->group(), s->last_position);
    if (got < want_up_to_last) gaps += want_up_to_last - got;
    const uint64_t not_delivered = expected_by_group[s->group()] - want_up_to_last;
    if (not_delivered > 0) {
      ++short_subscribers;
      missing += not_delivered;
    }
    if (s->caught_up_position && appender.ranges().size() > 0 &&
        *s->caught_up_position >= min_first) {
      ++late_start;  // went live after the appends began: the counts do not apply
    }
    if (s->status.error_code() != grpc::StatusCode::CANCELLED) {
      ++ended_early;
      if (first_status.empty()) {
        first_status = fmt::format("{} ({})", s->status.error_message(),
                                   static_cast<int>(s->status.error_code()));
      }
    }
  }
  // The final count, consistent with missing/gaps (a few may have arrived
  // after the drain ended).
  received = 0;
  for (const auto& s : subscribers) received += s->received.load(std::memory_order_relaxed);
  const double delivered_rate = seconds > 0 ? static_cast<double>(received) / seconds : 0;
  const double appended_rate =
      appender.seconds() > 0 ? static_cast<double>(appender.events()) / appender.seconds() : 0;
  fmt::print(
      "{}: {:.0f} events/s delivered lag_p50={:.2f}ms lag_p90={:.2f}ms lag_p99={:.2f}ms "
      "lag_max={:.2f}ms e2e_p50={:.2f}ms e2e_p99={:.2f}ms appended={} appended_rate={:.0f} "
      "append_p99={:.2f}ms append_inflight_max={} delivered={} expected={} missing={} gaps={} "
      "dups={} unexpected={} fell_behind={} checkpoints={} append_errors={} subscribers={} "
      "subscribe_s={:.2f} seconds={:.2f}{}\n",
      name, delivered_rate, lag.PercentileMs(0.50), lag.PercentileMs(0.90), lag.PercentileMs(0.99),
      lag.MaxMs(), e2e.PercentileMs(0.50), e2e.PercentileMs(0.99), appender.events(), appended_rate,
      appender.latency().PercentileMs(0.99), appender.max_inflight_seen(), received, expected,
      missing, gaps, dups, unexpected, fell_behind, checkpoints, appender.errors(),
      flags.subscribers, subscribe_seconds, seconds, cpu_text);
  if (appender.errors() > 0)
    fmt::print(stderr, "{}: first append error: {}\n", name, appender.first_error());
  if (ended_early > 0) {
    fmt::print(stderr, "{}: {} subscriptions ended by the server: {}\n", name, ended_early,
               first_status);
  }
  if (late_start > 0 || early > 0) {
    fmt::print(stderr, "{}: {} subscribers went live late, {} events arrived before caught_up\n",
               name, late_start, early);
  }
  if (short_subscribers > 0) {
    fmt::print(stderr,
               "{}: {} subscribers still lacked {} events {} s after the last append (missing)\n",
               name, short_subscribers, missing, flags.drain_timeout);
  }
  std::fflush(stdout);
  return ok && missing == 0 && gaps == 0 && dups == 0 && unexpected == 0 &&
         appender.errors() == 0 && ended_early == 0;
}

// ---------------------------------------------------------------------------
// unread
// ---------------------------------------------------------------------------

// The memory of one process, from /proc/<pid>/status, in KiB.
struct ProcMemory {
  uint64_t rss_kib = 0;  // VmRSS: resident now
  uint64_t hwm_kib = 0;  // VmHWM: the most that was resident
};

// Returns the memory of process `pid` (0: this process), or nullopt when
// /proc cannot be read (the process is gone, or is not on this host).
std::optional<ProcMemory> ReadProcMemory(pid_t pid) {
  std::ifstream in(pid == 0 ? std::string("/proc/self/status")
                            : fmt::format("/proc/{}/status", pid));
  ProcMemory out;
  bool rss = false;
  bool hwm = false;
  std::string key;
  // Lines "VmRSS:\t  12345 kB"; the values of other keys are skipped.
  while (in >> key) {
    if (key == "VmRSS:") {
      rss = static_cast<bool>(in >> out.rss_kib);
    } else if (key == "VmHWM:") {
      hwm = static_cast<bool>(in >> out.hwm_kib);
    }
    in.ignore(std::numeric_limits<std::streamsize>::max(), '\n');
  }
  if (!rss || !hwm) return std::nullopt;
  return out;
}

// Returns " <who>_rss_mb=…" (and " <who>_hwm_mb=…" when `with_hwm`), in MiB,
// of process `pid` (0: this process); empty when it cannot be read.
std::string DescribeMemory(std::string_view who, pid_t pid, bool with_hwm) {
  const std::optional<ProcMemory> m = ReadProcMemory(pid);
  if (!m) return "";
  std::string out = fmt::format(" {}_rss_mb={:.1f}", who, static_cast<double>(m->rss_kib) / 1024);
  if (with_hwm) {
    out += fmt::format(" {}_hwm_mb={:.1f}", who, static_cast<double>(m->hwm_kib) / 1024);
  }
  return out;
}

// Returns the server's memory as DescribeMemory does; empty without
// --server-pid.
std::string DescribeServerMemory(const Flags& flags, bool with_hwm) {
  return flags.server_pid > 0 ? DescribeMemory("server", flags.server_pid, with_hwm) : "";
}

// Returns `codes` as "CODE:n,CODE:n" in code order ("none" when empty).
std::string DescribeCodes(const std::map<grpc::StatusCode, int>& codes) {
  if (codes.empty()) return "none";
  std::vector<std::string> parts;
  for (const auto& [code, n] : codes) {
    // grpc::StatusCode and absl::StatusCode share their numbers.
    parts.push_back(
        absl::StrCat(absl::StatusCodeToString(static_cast<absl::StatusCode>(code)), ":", n));
  }
  return absl::StrJoin(parts, ",");
}

// Runs the append load of `append` (1 event per append from --callers
// callers) twice: alone (baseline), then with --unread-subscribers Subscribe
// calls open (from_end, no filter, LiveSubscribers on --subscriber-channels
// connections with fixed receive windows) that never read, so every appended
// event is for each of them and none is taken. The second phase has no
// warm-up (the connections are warm from the first): its figures include the
// time the subscribers' flow-control windows fill. Then cancels the calls.
// Returns false when an append failed or a call did not end within 30 s of
// its cancellation.
bool RunUnreadScenario(Env& env) {
  const Flags& flags = env.flags();
  std::vector<std::unique_ptr<EventStore::Stub>> stubs = env.NewStubs(flags.channels);
  if (stubs.empty() || !EnsureOrgsRegistered(env, stubs)) return false;
  const int n = flags.unread_subscribers;
  const std::string baseline_name = fmt::format("unread_baseline_1x{}", flags.callers);
  const std::string name = fmt::format("unread_{}_1x{}", n, flags.callers);
  fmt::print("# {}: {} callers x 1 event per append, {} client, {} channel(s), {}\n", baseline_name,
             flags.callers, flags.client, flags.channels, DescribeAppendLength(flags));
  std::fflush(stdout);
  const AppendLoad baseline = MeasureUpdateLoad(env, stubs, flags.callers, 1, flags.warmup);
  bool ok = PrintAppendLine(baseline_name, baseline, DescribeServerMemory(flags, false));

  // Fixed receive windows: with gRPC's adaptive ones the client's transport
  // keeps taking the unread messages (megabytes per call), and the server
  // would serve fast readers, not subscribers that stopped reading.
  std::vector<std::unique_ptr<EventStore::Stub>> sub_stubs =
      env.NewStubs(flags.subscriber_channels, Env::ReceiveWindow::kFixed);
  if (sub_stubs.empty()) return false;
  fmt::print(
      "# {}: {} Subscribe calls (from_end, no filter) on {} channel(s) without BDP probing that "
      "never read, then the same appends without warm-up\n",
      name, n, flags.subscriber_channels);
  std::fflush(stdout);
  LiveBoard board;
  std::vector<std::unique_ptr<LiveSubscriber>> subscribers;
  subscribers.reserve(n);
  v1::SubscribeRequest request;
  request.set_from_end(true);
  const SteadyClock::time_point subscribe_start = SteadyClock::now();
  for (int j = 0; j < n; ++j) {
    subscribers.push_back(std::make_unique<LiveSubscriber>(env.events(), board, /*group=*/0,
                                                           /*groups=*/1, /*filtered=*/false));
    subscribers.back()->Start(env, *sub_stubs[j % sub_stubs.size()], request,
                              LiveSubscriber::Reading::kNever);
  }
  // Started: the server's initial metadata arrived (it comes with caught_up).
  const int started = board.AwaitStarted(n, absl::Seconds(30));
  const double subscribe_seconds = Seconds(SteadyClock::now() - subscribe_start);
  if (started < n) {
    fmt::print(stderr, "{}: only {} of {} calls started within 30 s\n", name, started, n);
  }

  // Appended but not measured while the calls' flow-control windows fill
  // (the server then serves them as readers); measured after.
  const AppendLoad unread =
      MeasureUpdateLoad(env, stubs, flags.callers, 1, /*warmup=*/flags.unread_settle);
  const std::string memory = DescribeServerMemory(flags, true) + DescribeMemory("client", 0, false);
  // Calls done before the cancellation below were ended by the server (or
  // the connection).
  const std::map<grpc::StatusCode, int> ended_codes = board.DoneCodes();
  int ended = 0;
  for (const auto& [code, count] : ended_codes) ended += count;
  const double baseline_p99 = baseline.totals.latency.PercentileMs(0.99);
  const double p99_ratio =
      baseline_p99 > 0 ? unread.totals.latency.PercentileMs(0.99) / baseline_p99 : 0;
  ok = PrintAppendLine(name, unread,
                       fmt::format("{} p99_ratio={:.2f} ended={} ended_codes={} subscribers={} "
                                   "started={} subscribe_s={:.2f}",
                                   memory, p99_ratio, ended, DescribeCodes(ended_codes), n, started,
                                   subscribe_seconds)) &&
       ok;

  const SteadyClock::time_point cancel_start = SteadyClock::now();
  for (auto& s : subscribers) s->Cancel();
  const int done = board.AwaitDone(n, absl::Seconds(30));
  if (done < n) {
    // Their reactors may still run: leave them alive.
    fmt::print(stderr, "{}: {} calls did not end within 30 s of their cancellation\n", name,
               n - done);
    for (auto& s : subscribers) s.release();
    return false;
  }
  fmt::print("# {}: all calls ended {:.2f} s after their cancellation: {}{}\n", name,
             Seconds(SteadyClock::now() - cancel_start), DescribeCodes(board.DoneCodes()),
             DescribeServerMemory(flags, false));
  std::fflush(stdout);
  return ok;
}

// ---------------------------------------------------------------------------
// health
// ---------------------------------------------------------------------------

// Calls grpc.health.v1.Health/Check for the whole server (the empty service
// name) and returns true when it answers SERVING.
bool HealthCheck(Env& env) {
  std::shared_ptr<grpc::Channel> channel = env.NewChannel();
  grpc::GenericStub stub(channel);
  grpc::ClientContext context;
  env.Prepare(&context, SecondsFlag(env.flags().connect_timeout));
  // HealthCheckRequest{service: ""} serializes to zero bytes (but the
  // buffer must hold a slice to be a valid message).
  grpc::Slice empty;
  grpc::ByteBuffer request(&empty, 1);
  grpc::ByteBuffer response;
  absl::Mutex mu;
  std::optional<grpc::Status> result;
  stub.UnaryCall(&context, "/grpc.health.v1.Health/Check", grpc::StubOptions(), &request, &response,
                 [&](grpc::Status status) {
                   absl::MutexLock lock(&mu);
                   result = std::move(status);
                 });
  {
    absl::MutexLock lock(&mu);
    // The call has a deadline, so the callback comes; the wait is bounded too
    // (and the callback refers to this frame: exit rather than return).
    const auto done = [&result]() { return result.has_value(); };
    if (!mu.AwaitWithTimeout(absl::Condition(&done),
                             SecondsFlag(env.flags().connect_timeout) + absl::Seconds(5))) {
      fmt::print(stderr, "health: no answer after the call's deadline\n");
      std::_Exit(1);
    }
  }
  if (!result->ok()) {
    fmt::print(stderr, "health: {} ({})\n", result->error_message(),
               static_cast<int>(result->error_code()));
    return false;
  }
  // HealthCheckResponse{status = 1 (SERVING)} is the two bytes 08 01.
  std::vector<grpc::Slice> slices;
  if (!response.Dump(&slices).ok()) return false;
  std::string bytes;
  for (const grpc::Slice& s : slices) {
    bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
  }
  const bool serving = bytes == std::string("\x08\x01", 2);
  fmt::print("health: {}\n", serving ? "SERVING" : "NOT_SERVING");
  return serving;
}

}  // namespace
}  // namespace dealwire::bench

int main(int argc, char** argv) {
  using dealwire::bench::Flags;
  Flags flags;
  CLI::App app{"dealwire-bench: gRPC load generator for dealwired (see bench/README.md)"};
  app.get_formatter()->column_width(34);
  app.add_option("--server", flags.server, "dealwired address HOST:PORT")->capture_default_str();
  app.add_option("--scenario", flags.scenarios,
                 "scenarios to run, comma-separated: all (= append,append-batch,catchup,live), "
                 "append, append-batch, catchup, live, ping (cheap reads: the RPC floor), health, "
                 "unread (appends beside subscribers that never read); on a loaded data set (not "
                 "in all): projection-catchup, captable, rebuild")
      ->delimiter(',')
      ->check(CLI::IsMember({"all", "append", "append-batch", "catchup", "live", "ping", "health",
                             "unread", "projection-catchup", "captable", "rebuild"}))
      ->capture_default_str();
  app.add_option("--duration", flags.duration,
                 "seconds of the append, append-batch and live scenarios, and of each captable "
                 "and unread phase")
      ->check(CLI::Range(0.1, 3600.0))
      ->capture_default_str();
  app.add_option("--events", flags.events,
                 "append/append-batch (and each unread phase): stop after this many events "
                 "instead of --duration (0: use --duration)")
      ->capture_default_str();
  app.add_option("--warmup", flags.warmup,
                 "seconds of unmeasured appends before append/append-batch and the unread "
                 "baseline (of current cap tables before captable)")
      ->check(CLI::Range(0.0, 600.0))
      ->capture_default_str();
  app.add_option("--callers", flags.callers,
                 "append, ping, unread: concurrent callers (one call in flight each)")
      ->check(CLI::Range(1, 4096))
      ->capture_default_str();
  app.add_option("--batch", flags.batch, "append-batch: events per append")
      ->check(CLI::Range(1, dealwire::bench::kMaxEventsPerAppend))
      ->capture_default_str();
  app.add_option("--batch-callers", flags.batch_callers,
                 "append-batch (and catch-up fill): concurrent callers")
      ->check(CLI::Range(1, 4096))
      ->capture_default_str();
  app.add_option("--client", flags.client,
                 "append/ping client: async (callback API, gRPC's threads), cq (completion queues "
                 "polled by --cq-threads threads), sync (one thread per caller) or, for the "
                 "append scenarios, stream (one EventStore.AppendStream call per channel, each "
                 "caller still keeping one append in flight)")
      ->check(CLI::IsMember({"async", "cq", "sync", "stream"}))
      ->capture_default_str();
  app.add_option("--cq-threads", flags.cq_threads,
                 "with --client cq: completion queues, each polled by its own thread")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  app.add_option("--channels", flags.channels,
                 "append, append-batch, ping, captable, unread: connections the callers are spread "
                 "over")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  app.add_option("--orgs", flags.orgs,
                 "organizations registered by the run and updated by the load")
      ->check(CLI::Range(1, 1000000))
      ->capture_default_str();
  app.add_option("--event-bytes", flags.event_bytes, "serialized size of one update event")
      ->check(CLI::Range(0, 4000))
      ->capture_default_str();
  app.add_option("--catchup-events", flags.catchup_events,
                 "catchup: fill the log to at least this many events first")
      ->capture_default_str();
  app.add_option("--fill-batch", flags.fill_batch,
                 "catchup: events per append when filling the log")
      ->check(CLI::Range(1, dealwire::bench::kMaxEventsPerAppend))
      ->capture_default_str();
  app.add_option("--catchup-batch", flags.catchup_batch,
                 "catchup: max_batch_events of the Subscribe (1: one event per message)")
      ->check(CLI::Range(1, 1000))
      ->capture_default_str();
  app.add_option("--catchup-timeout", flags.catchup_timeout,
                 "catchup: deadline of the Subscribe call; projection-catchup: longest wait for "
                 "projection_lag 0; seconds")
      ->check(CLI::Range(1.0, 3600.0))
      ->capture_default_str();
  app.add_option(
         "--catchup-client", flags.catchup_client,
         "catchup: async (a callback reactor; the least client CPU) or sync (a blocking reader)")
      ->check(CLI::IsMember({"async", "sync"}))
      ->capture_default_str();
  app.add_option("--subscribers", flags.subscribers, "live: concurrent live subscribers (from_end)")
      ->check(CLI::Range(1, 100000))
      ->capture_default_str();
  app.add_option("--unread-subscribers", flags.unread_subscribers,
                 "unread: Subscribe calls (from_end, no filter) that never read a message")
      ->check(CLI::Range(1, 100000))
      ->capture_default_str();
  app.add_option("--unread-settle", flags.unread_settle,
                 "unread: seconds of unmeasured appends after the calls start, while their "
                 "flow-control windows fill (0: measure the filling too)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  app.add_option("--subscriber-channels", flags.subscriber_channels,
                 "live, unread: connections the subscribers share")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  app.add_option("--rate", flags.rate, "live: appended events per second")
      ->check(CLI::Range(1.0, 10000000.0))
      ->capture_default_str();
  app.add_option("--live-batch", flags.live_batch,
                 "live: events per append (appends/s = rate / this)")
      ->check(CLI::Range(1, dealwire::bench::kMaxEventsPerAppend))
      ->capture_default_str();
  app.add_option("--filter", flags.filter,
                 "live: org (subscriber j follows the orgs o with o % G == j % G, G = min(orgs, "
                 "max(subscribers, orgs/100)): each event reaches subscribers/G of them) or none "
                 "(every subscriber gets every event)")
      ->check(CLI::IsMember({"org", "none"}))
      ->capture_default_str();
  app.add_option("--checkpoint-interval", flags.checkpoint_interval,
                 "live: SubscribeRequest.checkpoint_interval (0: the server's default)")
      ->capture_default_str();
  app.add_option("--max-inflight", flags.max_inflight,
                 "live: bound on outstanding appends of the paced appender")
      ->check(CLI::Range(1, 100000))
      ->capture_default_str();
  app.add_option("--rpc-timeout", flags.rpc_timeout, "deadline of each unary call, seconds")
      ->check(CLI::Range(0.1, 3600.0))
      ->capture_default_str();
  app.add_option("--connect-timeout", flags.connect_timeout, "seconds to wait for a connection")
      ->check(CLI::Range(0.1, 3600.0))
      ->capture_default_str();
  app.add_option(
         "--drain-timeout", flags.drain_timeout,
         "live: seconds to wait after the last append for the subscribers to get every event")
      ->check(CLI::Range(0.0, 3600.0))
      ->capture_default_str();
  app.add_option("--companies", flags.companies,
                 "captable: companies with funding rounds to query (at most)")
      ->check(CLI::Range(1, 100000))
      ->capture_default_str();
  app.add_option("--concurrency", flags.concurrency,
                 "captable: concurrent GetCapTable callers (sync, one call in flight each)")
      ->check(CLI::Range(1, 4096))
      ->capture_default_str();
  app.add_option("--rebuild-timeout", flags.rebuild_timeout,
                 "rebuild: deadline of the RebuildProjections call, seconds")
      ->check(CLI::Range(1.0, 86400.0))
      ->capture_default_str();
  app.add_option("--token", flags.token,
                 "bearer token sent as 'authorization: Bearer …' (empty: none)");
  app.add_option("--server-pid", flags.server_pid,
                 "pid of the server on this host, to report its CPU use per scenario (and its "
                 "memory in unread) (0: do not)")
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  // Debian's abseil is built with Mutex deadlock detection on, which costs a
  // global graph update per lock in gRPC and here: not part of the load.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);

  // Run tag: makes this run's organization ids unique on the server.
  const std::string run_tag =
      fmt::format("{:08x}", static_cast<uint32_t>(dealwire::bench::RandomSeed()));
  dealwire::bench::Env env(flags, run_tag);

  if (dealwire::bench::Selected(flags, "health")) {
    // First, and alone unless other scenarios are named too.
    if (!dealwire::bench::HealthCheck(env)) return 1;
    if (flags.scenarios == std::vector<std::string>{"health"}) return 0;
  }

  fmt::print(
      "dealwire-bench: server={} scenarios={} run={} event_bytes={} client={} "
      "hardware_threads={}\n",
      flags.server, absl::StrJoin(flags.scenarios, ","), run_tag, env.events().update_event_bytes(),
      flags.client, std::thread::hardware_concurrency());
  std::fflush(stdout);

  if (env.NewStubs(1).empty()) return 1;  // the server is not there: say so once
  bool ok = true;
  if (dealwire::bench::Selected(flags, "ping")) {
    ok = dealwire::bench::RunPingScenario(env) && ok;
  }
  if (dealwire::bench::Selected(flags, "append")) {
    ok = dealwire::bench::RunAppendScenario(env, flags.callers, 1) && ok;
  }
  if (dealwire::bench::Selected(flags, "append-batch")) {
    ok = dealwire::bench::RunAppendScenario(env, flags.batch_callers, flags.batch) && ok;
  }
  if (dealwire::bench::Selected(flags, "catchup")) {
    ok = dealwire::bench::RunCatchupScenario(env) && ok;
  }
  if (dealwire::bench::Selected(flags, "live")) {
    ok = dealwire::bench::RunLiveScenario(env) && ok;
  }
  if (dealwire::bench::Selected(flags, "unread")) {
    ok = dealwire::bench::RunUnreadScenario(env) && ok;
  }
  const dealwire::bench::IntelOptions intel = dealwire::bench::IntelOptionsOf(flags);
  if (dealwire::bench::Selected(flags, "projection-catchup")) {
    ok = dealwire::bench::RunProjectionCatchup(intel) && ok;
  }
  if (dealwire::bench::Selected(flags, "captable")) {
    ok = dealwire::bench::RunCapTable(intel) && ok;
  }
  if (dealwire::bench::Selected(flags, "rebuild")) {
    ok = dealwire::bench::RunRebuild(intel) && ok;
  }
  return ok ? 0 : 1;
}
