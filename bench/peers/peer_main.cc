// dealwire-peer-bench — dealwire-bench's write and read workloads against a
// peer: Redis (streams), PostgreSQL (a table) or NATS JetStream (a stream),
// over each one's C client library. bench/peers/run.sh starts the servers
// and runs it; bench/peers/README.md says what each figure means.
//
//   dealwire-peer-bench --system redis --workload single --callers 64 --port 6379
//   dealwire-peer-bench --system postgres --workload batch --batch 100 --batch-callers 8 --port 5432
//   dealwire-peer-bench --system nats --workload read --events 1000000 --port 4222
//   dealwire-peer-bench --system nats --workload ping --port 4222   # exit 0 when it answers
//
// Prints a '#' line saying what it runs, then one line like dealwire-bench's:
//   append_1x64: <events/s> events/s p50=… p90=… p99=… max=… events= appends= errors= seconds= client_cpu= server_cpu=
//   append_100x8: …
//   read: <events/s> events/s <MB/s> MB/s events= pages= gaps= seconds= page= client_cpu= server_cpu=
// (server_cpu only with --server-pid). Each workload starts from an empty log
// and drops it at the end. The exit status is 1 when a call failed or the
// read did not return every record.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>

#include "CLI/CLI.hpp"
#include "absl/status/status.h"
#include "absl/strings/str_format.h"
#include "bench/load_stats.h"
#include "bench/peers/peer_system.h"
#include "bench/peers/process_cpu.h"

namespace dealwire::peers {
namespace {

struct Flags {
  std::string system;
  std::string workload;
  PeerOptions peer;
  int callers = 64;
  int batch = 100;
  int batch_callers = 8;
  double duration = 10;
  double warmup = 1;
  uint64_t events = 1000000;
  int page = 1000;
  int server_pid = 0;
};

// Client and server cores over one measurement, as " client_cpu=… server_cpu=…".
class CpuWindow {
 public:
  explicit CpuWindow(pid_t server_pid)
      : client_(0),
        server_(server_pid),
        has_server_(server_pid > 0),
        wall_(std::chrono::steady_clock::now()),
        client_start_(client_.CpuSeconds()),
        server_start_(server_.CpuSeconds()) {}

  std::string Finish() const {
    const double wall =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_).count();
    std::string out;
    if (wall <= 0) return out;
    const std::optional<double> client = client_.CpuSeconds();
    if (client && client_start_) {
      out += absl::StrFormat(" client_cpu=%.2f", (*client - *client_start_) / wall);
    }
    if (has_server_) {
      const std::optional<double> server = server_.CpuSeconds();
      if (server && server_start_) {
        out += absl::StrFormat(" server_cpu=%.2f", (*server - *server_start_) / wall);
      }
    }
    return out;
  }

 private:
  bench::CpuClock client_;
  ProcessTreeCpu server_;
  bool has_server_;
  std::chrono::steady_clock::time_point wall_;
  std::optional<double> client_start_;
  std::optional<double> server_start_;
};

std::unique_ptr<PeerSystem> NewPeer(const Flags& flags) {
  if (flags.system == "redis") return NewRedisPeer(flags.peer);
  if (flags.system == "postgres") return NewPostgresPeer(flags.peer);
  return NewNatsPeer(flags.peer);
}

int Fail(const Flags& flags, const absl::Status& status) {
  std::fprintf(stderr, "dealwire-peer-bench: %s %s: %s\n", flags.system.c_str(),
               flags.workload.c_str(), std::string(status.message()).c_str());
  return 1;
}

int RunWrites(const Flags& flags, PeerSystem& peer, int callers, int batch) {
  const std::string name = absl::StrFormat("append_%dx%d", batch, callers);
  std::printf("# %s %s: %d callers x %d record(s) per append, %g s (after %g s warm-up), %d-byte data\n",
              flags.system.c_str(), name.c_str(), callers, batch, flags.duration, flags.warmup,
              flags.peer.data_bytes);
  std::fflush(stdout);
  absl::StatusOr<std::unique_ptr<WriteLoad>> load = peer.StartWrites(callers, batch);
  if (!load.ok()) return Fail(flags, load.status());
  if (flags.warmup > 0) {
    const CallTotals warm = (*load)->Run(flags.warmup);
    if (warm.errors > 0) {
      return Fail(flags, absl::InternalError("warm-up: " + warm.first_error));
    }
  }
  const CpuWindow cpu(flags.server_pid);
  const CallTotals t = (*load)->Run(flags.duration);
  const std::string cpu_text = cpu.Finish();
  load->reset();
  const double rate = t.seconds > 0 ? static_cast<double>(t.events) / t.seconds : 0;
  std::printf(
      "%s: %.0f events/s p50=%.2fms p90=%.2fms p99=%.2fms max=%.2fms events=%llu appends=%llu "
      "errors=%llu seconds=%.2f%s\n",
      name.c_str(), rate, t.latency.PercentileMs(0.50), t.latency.PercentileMs(0.90),
      t.latency.PercentileMs(0.99), t.latency.MaxMs(), static_cast<unsigned long long>(t.events),
      static_cast<unsigned long long>(t.calls), static_cast<unsigned long long>(t.errors),
      t.seconds, cpu_text.c_str());
  std::fflush(stdout);
  if (t.errors > 0) std::fprintf(stderr, "%s: first error: %s\n", name.c_str(), t.first_error.c_str());
  if (absl::Status s = peer.Drop(); !s.ok()) return Fail(flags, s);
  return t.errors == 0 && t.calls > 0 ? 0 : 1;
}

int RunRead(const Flags& flags, PeerSystem& peer) {
  std::printf("# %s read: fill %llu records (not timed), then read them all in pages of %d\n",
              flags.system.c_str(), static_cast<unsigned long long>(flags.events), flags.page);
  std::fflush(stdout);
  const auto fill_start = std::chrono::steady_clock::now();
  if (absl::Status s = peer.Fill(flags.events); !s.ok()) return Fail(flags, s);
  const double fill_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - fill_start).count();
  std::printf("# %s read: filled %llu records in %.1f s\n", flags.system.c_str(),
              static_cast<unsigned long long>(flags.events), fill_seconds);
  std::fflush(stdout);
  const CpuWindow cpu(flags.server_pid);
  absl::StatusOr<ReadTotals> t = peer.ReadAll(flags.page);
  const std::string cpu_text = cpu.Finish();
  if (!t.ok()) return Fail(flags, t.status());
  const double rate = t->seconds > 0 ? static_cast<double>(t->events) / t->seconds : 0;
  const double mbps = t->seconds > 0 ? static_cast<double>(t->bytes) / t->seconds / 1e6 : 0;
  std::printf("read: %.0f events/s %.1f MB/s events=%llu pages=%llu gaps=%llu seconds=%.2f page=%d%s\n",
              rate, mbps, static_cast<unsigned long long>(t->events),
              static_cast<unsigned long long>(t->pages), static_cast<unsigned long long>(t->gaps),
              t->seconds, flags.page, cpu_text.c_str());
  std::fflush(stdout);
  if (absl::Status s = peer.Drop(); !s.ok()) return Fail(flags, s);
  if (t->events != flags.events) {
    return Fail(flags, absl::DataLossError(absl::StrFormat(
                           "read %llu records, filled %llu",
                           static_cast<unsigned long long>(t->events),
                           static_cast<unsigned long long>(flags.events))));
  }
  return 0;
}

int Main(int argc, char** argv) {
  Flags flags;
  CLI::App app{"dealwire-peer-bench: dealwire-bench's workloads against Redis, PostgreSQL or "
               "NATS JetStream (see bench/peers/README.md)"};
  app.add_option("--system", flags.system, "the peer")
      ->required()
      ->check(CLI::IsMember({"redis", "postgres", "nats"}));
  app.add_option("--workload", flags.workload,
                 "single (1-record appends), batch (--batch records per append), read (fill "
                 "--events, then read them all), ping (exit 0 when the server answers)")
      ->required()
      ->check(CLI::IsMember({"ping", "single", "batch", "read"}));
  app.add_option("--host", flags.peer.host, "server address")->capture_default_str();
  app.add_option("--port", flags.peer.port, "server port")->required()->check(CLI::Range(1, 65535));
  app.add_option("--callers", flags.callers, "single: concurrent callers (one append in flight each)")
      ->capture_default_str()
      ->check(CLI::Range(1, 4096));
  app.add_option("--batch", flags.batch, "batch: records per append")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000));
  app.add_option("--batch-callers", flags.batch_callers, "batch: concurrent callers")
      ->capture_default_str()
      ->check(CLI::Range(1, 4096));
  app.add_option("--duration", flags.duration, "single, batch: measured seconds")
      ->capture_default_str()
      ->check(CLI::Range(0.1, 3600.0));
  app.add_option("--warmup", flags.warmup, "single, batch: unmeasured seconds first")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 600.0));
  app.add_option("--events", flags.events, "read: records to fill the log with, then read")
      ->capture_default_str()
      ->check(CLI::Range(uint64_t{1}, uint64_t{1000000000}));
  app.add_option("--page", flags.page, "read: records per page (fetch)")
      ->capture_default_str()
      ->check(CLI::Range(1, 100000));
  app.add_option("--data-bytes", flags.peer.data_bytes, "bytes of each record's data field")
      ->capture_default_str()
      ->check(CLI::Range(0, 100000));
  app.add_option("--streams", flags.peer.streams, "stream names the records are spread over")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000000));
  app.add_option("--connections", flags.peer.connections,
                 "nats: connections the callers share (redis, postgres: one per caller)")
      ->capture_default_str()
      ->check(CLI::Range(1, 4096));
  app.add_option("--nats-client", flags.peer.nats_client,
                 "nats: async (each caller's next publish from its ack handler) or sync (a thread "
                 "per caller blocked in js_Publish, or in js_PublishAsyncComplete for batches)")
      ->capture_default_str()
      ->check(CLI::IsMember({"async", "sync"}));
  app.add_option("--connect-timeout", flags.peer.connect_timeout, "seconds")
      ->capture_default_str()
      ->check(CLI::Range(0.1, 3600.0));
  app.add_option("--server-pid", flags.server_pid,
                 "pid of the server (with its child processes) to report its CPU use (0: do not)")
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  std::unique_ptr<PeerSystem> peer = NewPeer(flags);
  if (flags.workload == "ping") {
    if (absl::Status s = peer->Ping(); !s.ok()) return Fail(flags, s);
    std::printf("ping: %s ok\n", flags.system.c_str());
    return 0;
  }
  if (flags.workload == "single") return RunWrites(flags, *peer, flags.callers, 1);
  if (flags.workload == "batch") return RunWrites(flags, *peer, flags.batch_callers, flags.batch);
  return RunRead(flags, *peer);
}

}  // namespace
}  // namespace dealwire::peers

int main(int argc, char** argv) { return dealwire::peers::Main(argc, argv); }
