#include "bench/intel_scenarios.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <memory>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/time/civil_time.h"
#include "bench/load_stats.h"
#include "dealwire/v1/admin.grpc.pb.h"
#include "dealwire/v1/admin.pb.h"
#include "dealwire/v1/market_intel.grpc.pb.h"
#include "dealwire/v1/market_intel.pb.h"
#include "fmt/core.h"
#include "grpcpp/grpcpp.h"

namespace dealwire::bench {
namespace {

using SteadyClock = std::chrono::steady_clock;

double Seconds(SteadyClock::duration d) { return std::chrono::duration<double>(d).count(); }

// Returns `seconds` in whole milliseconds.
std::chrono::milliseconds Millis(double seconds) {
  return std::chrono::milliseconds(static_cast<int64_t>(seconds * 1000));
}

std::chrono::system_clock::time_point DeadlineIn(double seconds) {
  return std::chrono::system_clock::now() + Millis(seconds);
}

std::string StatusText(const grpc::Status& status) {
  return fmt::format("{} ({})", status.error_message(), static_cast<int>(status.error_code()));
}

// Returns a new channel with its own TCP connection (`index` keeps it apart
// from the process's other channels); waits for it to connect. Returns null
// when it does not connect in time.
std::shared_ptr<grpc::Channel> Connect(const IntelOptions& options, int index) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  args.SetInt("dealwire.bench.intel_channel", index);  // distinct subchannel key
  args.SetInt(GRPC_ARG_ENABLE_RETRIES, 0);
  args.SetMaxReceiveMessageSize(64 << 20);
  std::shared_ptr<grpc::Channel> channel =
      grpc::CreateCustomChannel(options.server, grpc::InsecureChannelCredentials(), args);
  if (!channel->WaitForConnected(DeadlineIn(options.connect_timeout))) {
    fmt::print(stderr, "dealwire-bench: cannot connect to {} within {} s\n", options.server,
               options.connect_timeout);
    return nullptr;
  }
  return channel;
}

// Sets the credentials and (when > 0) the deadline of one call.
void Prepare(const IntelOptions& options, grpc::ClientContext* context, double timeout) {
  if (timeout > 0) context->set_deadline(DeadlineIn(timeout));
  if (!options.token.empty()) context->AddMetadata("authorization", "Bearer " + options.token);
}

std::optional<v1::GetStatsResponse> GetStats(const IntelOptions& options, v1::Admin::Stub& admin) {
  grpc::ClientContext context;
  Prepare(options, &context, options.rpc_timeout);
  v1::GetStatsResponse response;
  const grpc::Status status = admin.GetStats(&context, v1::GetStatsRequest(), &response);
  if (!status.ok()) {
    fmt::print(stderr, "dealwire-bench: Admin.GetStats: {}\n", StatusText(status));
    return std::nullopt;
  }
  return response;
}

// Returns how long ago process `pid` started (from /proc), or nullopt.
std::optional<double> ProcessAgeSeconds(pid_t pid) {
  if (pid <= 0) return std::nullopt;
  std::ifstream stat_file(fmt::format("/proc/{}/stat", pid));
  std::string stat((std::istreambuf_iterator<char>(stat_file)), std::istreambuf_iterator<char>());
  // Fields after the command (which may hold spaces) start after the last ')'.
  const size_t paren = stat.rfind(')');
  if (paren == std::string::npos) return std::nullopt;
  std::istringstream fields(stat.substr(paren + 2));
  std::string field;
  // starttime is field 22 of the line; field 3 (state) is the first here.
  for (int i = 3; i <= 22; ++i) {
    if (!(fields >> field)) return std::nullopt;
  }
  std::ifstream uptime_file("/proc/uptime");
  double uptime = 0;
  if (!(uptime_file >> uptime)) return std::nullopt;
  const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  return uptime - std::stod(field) / ticks;
}

uint64_t RandomSeed() {
  std::random_device rd;
  return (static_cast<uint64_t>(rd()) << 32) ^ rd();
}

// ---------------------------------------------------------------------------
// captable
// ---------------------------------------------------------------------------

// Returns up to `n` distinct companies that have funding rounds, in deal id
// order, or nullopt on error.
std::optional<std::vector<std::string>> PickCompanies(const IntelOptions& options,
                                                      v1::MarketIntel::Stub& intel, int n) {
  constexpr int kMaxPages = 1000;
  std::vector<std::string> companies;
  absl::flat_hash_set<std::string> seen;
  std::string token;
  uint64_t rounds = 0;
  int pages = 0;
  const SteadyClock::time_point start = SteadyClock::now();
  do {
    grpc::ClientContext context;
    Prepare(options, &context, options.rpc_timeout);
    v1::ListDealsRequest request;
    request.set_kind(v1::DEAL_KIND_ROUND);
    request.set_page_size(1000);
    request.set_page_token(token);
    v1::ListDealsResponse response;
    const grpc::Status status = intel.ListDeals(&context, request, &response);
    if (!status.ok()) {
      fmt::print(stderr, "captable: ListDeals: {}\n", StatusText(status));
      return std::nullopt;
    }
    ++pages;
    for (const v1::Deal& deal : response.deals()) {
      ++rounds;
      if (seen.insert(deal.company_id()).second) {
        companies.push_back(deal.company_id());
        if (static_cast<int>(companies.size()) == n) break;
      }
    }
    token = response.next_page_token();
  } while (!token.empty() && static_cast<int>(companies.size()) < n && pages < kMaxPages);
  fmt::print("# captable: {} companies from {} rounds on {} ListDeals page(s) in {:.2f} s\n",
             companies.size(), rounds, pages, Seconds(SteadyClock::now() - start));
  return companies;
}

enum class Phase { kCurrent, kKnownAtPosition, kEffectiveOn };

const char* PhaseName(Phase phase) {
  switch (phase) {
    case Phase::kCurrent:
      return "current";
    case Phase::kKnownAtPosition:
      return "known_at_position";
    case Phase::kEffectiveOn:
      return "effective_on";
  }
  return "";
}

// What one caller measured.
struct CallerTotals {
  LatencyHistogram latency;  // answered calls: OK and NOT_FOUND
  uint64_t ok = 0;
  uint64_t not_found = 0;
  uint64_t errors = 0;
  uint64_t holders = 0;  // holder lines in the OK answers
  std::string first_error;
  SteadyClock::time_point last_done;
};

// Runs `options.concurrency` closed-loop GetCapTable callers for `seconds`
// and returns their merged totals and the measured seconds.
std::pair<CallerTotals, double> CapTableLoad(
    const IntelOptions& options, const std::vector<std::unique_ptr<v1::MarketIntel::Stub>>& stubs,
    const std::vector<std::string>& companies, Phase phase, uint64_t max_position,
    double seconds) {
  constexpr uint64_t kMaxErrors = 100;  // per caller
  const absl::CivilDay first_day(2015, 1, 1);
  const int64_t days = absl::CivilDay(2026, 12, 31) - first_day + 1;
  std::vector<CallerTotals> callers(options.concurrency);
  std::vector<std::thread> threads;
  const SteadyClock::time_point start = SteadyClock::now();
  const SteadyClock::time_point end = start + Millis(seconds);
  for (int i = 0; i < options.concurrency; ++i) {
    threads.emplace_back([&, i] {
      CallerTotals& t = callers[i];
      t.last_done = start;
      v1::MarketIntel::Stub& stub = *stubs[i % stubs.size()];
      std::mt19937_64 rng(RandomSeed());
      v1::GetCapTableRequest request;
      v1::GetCapTableResponse response;
      for (uint64_t call = 0; SteadyClock::now() < end && t.errors < kMaxErrors; ++call) {
        request.Clear();
        request.set_company_id(companies[rng() % companies.size()]);
        request.set_include_pending((call & 1) != 0);
        switch (phase) {
          case Phase::kCurrent:
            break;
          case Phase::kKnownAtPosition:
            request.mutable_as_of()->set_known_at_position(1 + rng() % max_position);
            break;
          case Phase::kEffectiveOn: {
            const absl::CivilDay day = first_day + static_cast<int64_t>(rng() % days);
            v1::Date* date = request.mutable_as_of()->mutable_effective_on();
            date->set_year(static_cast<int32_t>(day.year()));
            date->set_month(day.month());
            date->set_day(day.day());
            break;
          }
        }
        grpc::ClientContext context;
        Prepare(options, &context, options.rpc_timeout);
        response.Clear();
        const SteadyClock::time_point begin = SteadyClock::now();
        const grpc::Status status = stub.GetCapTable(&context, request, &response);
        t.last_done = SteadyClock::now();
        if (status.ok() || status.error_code() == grpc::StatusCode::NOT_FOUND) {
          t.latency.RecordMicros(
              std::chrono::duration_cast<std::chrono::microseconds>(t.last_done - begin).count());
        }
        if (status.ok()) {
          ++t.ok;
          t.holders += static_cast<uint64_t>(response.cap_table().holders_size());
        } else if (status.error_code() == grpc::StatusCode::NOT_FOUND) {
          ++t.not_found;
        } else {
          ++t.errors;
          if (t.first_error.empty()) t.first_error = StatusText(status);
        }
      }
    });
  }
  for (std::thread& t : threads) t.join();
  CallerTotals total;
  total.last_done = start;
  for (const CallerTotals& c : callers) {
    total.latency.Merge(c.latency);
    total.ok += c.ok;
    total.not_found += c.not_found;
    total.errors += c.errors;
    total.holders += c.holders;
    if (total.first_error.empty()) total.first_error = c.first_error;
    total.last_done = std::max(total.last_done, c.last_done);
  }
  return {std::move(total), Seconds(total.last_done - start)};
}

}  // namespace

bool RunProjectionCatchup(const IntelOptions& options) {
  std::shared_ptr<grpc::Channel> channel = Connect(options, 0);
  if (channel == nullptr) return false;
  std::unique_ptr<v1::Admin::Stub> admin = v1::Admin::NewStub(channel);
  std::optional<v1::GetStatsResponse> first = GetStats(options, *admin);
  if (!first) return false;
  const SteadyClock::time_point first_time = SteadyClock::now();
  fmt::print(
      "# projection-catchup: polling Admin.GetStats every 100 ms until projection_lag is 0 (at "
      "most {} s); now last_position={} projection_position={} projection_lag={}\n",
      options.catchup_timeout, first->last_position(), first->projection_position(),
      first->projection_lag());
  std::fflush(stdout);
  CpuReport cpu(options.server_pid);
  v1::GetStatsResponse last = *first;
  SteadyClock::time_point last_time = first_time;
  SteadyClock::time_point next_report = first_time + std::chrono::seconds(10);
  const SteadyClock::time_point give_up = first_time + Millis(options.catchup_timeout);
  while (last.projection_lag() > 0) {
    if (SteadyClock::now() >= give_up) {
      fmt::print(stderr,
                 "projection-catchup: projection_lag is still {} after {} s (projection_position "
                 "{} of {})\n",
                 last.projection_lag(), options.catchup_timeout, last.projection_position(),
                 last.last_position());
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    std::optional<v1::GetStatsResponse> stats = GetStats(options, *admin);
    if (!stats) return false;
    last = *std::move(stats);
    last_time = SteadyClock::now();
    if (last_time >= next_report) {
      next_report = last_time + std::chrono::seconds(10);
      const double s = Seconds(last_time - first_time);
      fmt::print("# projection-catchup: {:.0f} s projection_position={} lag={} ({:.0f} events/s)\n",
                 s, last.projection_position(), last.projection_lag(),
                 static_cast<double>(last.projection_position() - first->projection_position()) /
                     s);
      std::fflush(stdout);
    }
  }
  const std::string cpu_text = cpu.Finish();
  const uint64_t applied = last.projection_position() - first->projection_position();
  const double seconds = Seconds(last_time - first_time);
  // On a fresh server the projections start from position 0 when it starts.
  const std::optional<double> age = ProcessAgeSeconds(options.server_pid);
  const std::optional<double> since_start_rate =
      age && *age > 0 ? std::optional<double>(static_cast<double>(last.projection_position()) /
                                              *age)
                      : std::nullopt;
  double rate = 0;
  std::string basis = "window";
  if (applied > 0 && seconds > 0) {
    rate = static_cast<double>(applied) / seconds;
  } else if (since_start_rate) {
    rate = *since_start_rate;  // caught up before the first poll
    basis = "server_start";
  }
  fmt::print(
      "projection_catchup: {:.0f} events/s basis={} applied={} seconds={:.2f} from={} to={} "
      "initial_lag={}{}{}\n",
      rate, basis, applied, seconds, first->projection_position(), last.projection_position(),
      first->projection_lag(),
      since_start_rate
          ? fmt::format(" since_server_start={:.0f} events/s server_age_s={:.2f}",
                        *since_start_rate, *age)
          : std::string(),
      cpu_text);
  fmt::print(
      "# projections: organizations={} deals={} partnerships={} facilities={} retracted={} "
      "corrected={}\n",
      last.organizations(), last.deals(), last.partnerships(), last.facilities(),
      last.retracted_events(), last.corrected_events());
  std::fflush(stdout);
  return true;
}

bool RunCapTable(const IntelOptions& options) {
  std::vector<std::unique_ptr<v1::MarketIntel::Stub>> stubs;
  std::shared_ptr<grpc::Channel> admin_channel;
  const int channels = std::max(1, std::min(options.channels, options.concurrency));
  for (int i = 0; i < channels; ++i) {
    std::shared_ptr<grpc::Channel> channel = Connect(options, i);
    if (channel == nullptr) return false;
    if (i == 0) admin_channel = channel;
    stubs.push_back(v1::MarketIntel::NewStub(channel));
  }
  std::unique_ptr<v1::Admin::Stub> admin = v1::Admin::NewStub(admin_channel);
  std::optional<v1::GetStatsResponse> stats = GetStats(options, *admin);
  if (!stats) return false;
  if (stats->projection_position() == 0) {
    fmt::print(stderr, "captable: the projections hold no events (load a data set first)\n");
    return false;
  }
  std::optional<std::vector<std::string>> companies =
      PickCompanies(options, *stubs[0], options.companies);
  if (!companies) return false;
  if (companies->empty()) {
    fmt::print(stderr, "captable: the server knows no funding rounds, so no cap tables\n");
    return false;
  }
  fmt::print(
      "# captable: {} callers (sync, {} channel(s)) x GetCapTable of {} companies, {} s per "
      "phase after {} s warm-up, include_pending alternately false/true, known_at_position in "
      "[1, {}]\n",
      options.concurrency, channels, companies->size(), options.duration, options.warmup,
      stats->projection_position());
  std::fflush(stdout);
  if (options.warmup > 0) {
    CapTableLoad(options, stubs, *companies, Phase::kCurrent, stats->projection_position(),
                 options.warmup);
  }
  bool ok = true;
  for (const Phase phase : {Phase::kCurrent, Phase::kKnownAtPosition, Phase::kEffectiveOn}) {
    CpuReport cpu(options.server_pid);
    auto [t, seconds] = CapTableLoad(options, stubs, *companies, phase,
                                     stats->projection_position(), options.duration);
    const std::string cpu_text = cpu.Finish();
    const uint64_t calls = t.ok + t.not_found;
    const std::string name = fmt::format("captable_{}_x{}", PhaseName(phase), options.concurrency);
    fmt::print(
        "{}: {:.0f} calls/s p50={:.2f}ms p90={:.2f}ms p99={:.2f}ms max={:.2f}ms calls={} "
        "not_found={} errors={} holders_avg={:.1f} seconds={:.2f}{}\n",
        name, seconds > 0 ? static_cast<double>(calls) / seconds : 0, t.latency.PercentileMs(0.50),
        t.latency.PercentileMs(0.90), t.latency.PercentileMs(0.99), t.latency.MaxMs(), calls,
        t.not_found, t.errors,
        t.ok > 0 ? static_cast<double>(t.holders) / static_cast<double>(t.ok) : 0.0, seconds,
        cpu_text);
    if (t.errors > 0) fmt::print(stderr, "{}: first error: {}\n", name, t.first_error);
    std::fflush(stdout);
    ok = ok && t.errors == 0;
  }
  return ok;
}

bool RunRebuild(const IntelOptions& options) {
  std::shared_ptr<grpc::Channel> channel = Connect(options, 0);
  if (channel == nullptr) return false;
  std::unique_ptr<v1::Admin::Stub> admin = v1::Admin::NewStub(channel);
  fmt::print("# rebuild: one Admin.RebuildProjections (deadline {} s)\n", options.rebuild_timeout);
  std::fflush(stdout);
  CpuReport cpu(options.server_pid);
  const SteadyClock::time_point start = SteadyClock::now();
  grpc::ClientContext context;
  Prepare(options, &context, options.rebuild_timeout);
  std::unique_ptr<grpc::ClientReader<v1::RebuildProjectionsResponse>> reader =
      admin->RebuildProjections(&context, v1::RebuildProjectionsRequest());
  v1::RebuildProjectionsResponse message;
  std::optional<v1::RebuildDone> done;
  uint64_t progress_messages = 0;
  while (reader->Read(&message)) {
    if (message.has_progress()) {
      ++progress_messages;
      const v1::RebuildProgress& p = message.progress();
      fmt::print("# rebuild: {:.1f} s applied_position={} target_position={} events/s={:.0f}\n",
                 Seconds(SteadyClock::now() - start), p.applied_position(), p.target_position(),
                 p.events_per_second());
      std::fflush(stdout);
    } else if (message.has_done()) {
      done = message.done();
    }
  }
  const grpc::Status status = reader->Finish();
  const double client_seconds = Seconds(SteadyClock::now() - start);
  const std::string cpu_text = cpu.Finish();
  if (!status.ok()) {
    fmt::print(stderr, "rebuild: RebuildProjections failed after {:.2f} s: {}\n", client_seconds,
               StatusText(status));
    return false;
  }
  if (!done) {
    fmt::print(stderr, "rebuild: the stream ended without a `done` message\n");
    return false;
  }
  const double elapsed =
      static_cast<double>(done->elapsed().seconds()) + done->elapsed().nanos() / 1e9;
  fmt::print(
      "rebuild: {:.0f} events/s events={} elapsed_s={:.2f} position={} identical={} "
      "live_digest={} rebuilt_digest={} progress_messages={} client_seconds={:.2f}{}\n",
      done->events_per_second(), done->events(), elapsed, done->position(),
      done->identical() ? "true" : "false", done->live_digest(), done->rebuilt_digest(),
      progress_messages, client_seconds, cpu_text);
  std::fflush(stdout);
  if (!done->identical()) {
    fmt::print(stderr,
               "rebuild: the rebuilt state differs from the live state at position {} (digests "
               "{} vs {})\n",
               done->position(), done->live_digest(), done->rebuilt_digest());
    return false;
  }
  return true;
}

}  // namespace dealwire::bench
