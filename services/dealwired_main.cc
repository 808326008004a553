// dealwired — the Dealwire server.
//
//   dealwired --data-dir /var/lib/dealwire --listen 127.0.0.1:50051
//
// Serves dealwire.v1.EventStore, grpc.health.v1.Health and server reflection.
// SIGTERM or SIGINT stops it gracefully (see services/server.h). Logs one
// line to stderr when it starts and one when it stops.
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <string>

#include "CLI/CLI.hpp"
#include "absl/synchronization/mutex.h"
#include "services/server.h"

#ifndef DEALWIRE_VERSION
#define DEALWIRE_VERSION "0.0.0"
#endif

int main(int argc, char** argv) {
  dealwire::services::ServerOptions options;
  CLI::App app{
      "dealwired " DEALWIRE_VERSION
      " - the Dealwire server: a durable event log of market-intelligence claims, served "
      "over gRPC (dealwire.v1.EventStore, grpc.health.v1, reflection).\n\n"
      "Example:\n  dealwired --data-dir ./data --listen 127.0.0.1:50051\n"};
  app.add_option("--data-dir", options.data_dir,
                 "directory of the event log (RocksDB); created when missing")
      ->capture_default_str();
  app.add_option("--listen", options.listen,
                 "HOST:PORT to serve on; port 0 picks a free port (the start line shows it)")
      ->capture_default_str();
  app.add_option("--subscriber-buffer-bytes", options.subscriber_buffer_bytes,
                 "bytes of messages one subscription may hold for its client (the message in "
                 "flight and those ready after it); a client slower than the log is told "
                 "fell_behind and continues from the log")
      ->capture_default_str()
      ->check(CLI::Range(size_t{4096}, size_t{1} << 30));
  double stall_seconds = absl::ToDoubleSeconds(options.subscriber_stall_timeout);
  app.add_option("--subscriber-stall-timeout", stall_seconds,
                 "seconds a subscription's client may take no message before the subscription "
                 "is ended with RESOURCE_EXHAUSTED (and its call cancelled 5 s later)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--decider-cache-bytes", options.decider_cache_bytes,
                 "bytes of the write side's domain state (organizations, deals, partnerships, "
                 "amendments) held in memory; the rest is kept on disk and read back when an "
                 "append needs it")
      ->capture_default_str()
      ->check(CLI::Range(size_t{1} << 20, size_t{1} << 40));
  app.add_option("--block-cache-bytes", options.block_cache_bytes,
                 "bytes of the block cache the log and the projections share (indexes, "
                 "projection state read again and again)")
      ->capture_default_str()
      ->check(CLI::Range(size_t{1} << 20, size_t{1} << 40));
  app.add_option("--memtable-bytes", options.memtable_bytes,
                 "bytes of write buffers (memtables) of the log and the projections together; "
                 "beyond it they are flushed to disk")
      ->capture_default_str()
      ->check(CLI::Range(size_t{4} << 20, size_t{1} << 40));
  app.add_option("--cap-table-cache-bytes", options.cap_table_cache_bytes,
                 "bytes of folded current cap tables kept for repeated questions")
      ->capture_default_str()
      ->check(CLI::Range(size_t{0}, size_t{1} << 40));
  app.set_version_flag("--version", "dealwired " DEALWIRE_VERSION);
  CLI11_PARSE(app, argc, argv);
  options.subscriber_stall_timeout = absl::Seconds(stall_seconds);

  // Debian's abseil is built with Mutex deadlock detection on, which costs
  // on every lock of gRPC's; a server does not pay that.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);

  // Signals are taken by sigwait below, so block them before any thread
  // starts: every thread inherits the mask.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  absl::StatusOr<std::unique_ptr<dealwire::services::Server>> server =
      dealwire::services::Server::Start(options);
  if (!server.ok()) {
    std::fprintf(stderr, "dealwired %s failed to start: data_dir=%s listen=%s: %s\n",
                 DEALWIRE_VERSION, options.data_dir.c_str(), options.listen.c_str(),
                 std::string(server.status().ToString()).c_str());
    return 1;
  }
  std::fprintf(stderr, "dealwired %s started data_dir=%s listen=%s pid=%d\n", DEALWIRE_VERSION,
               options.data_dir.c_str(), (*server)->address().c_str(), static_cast<int>(getpid()));
  std::fflush(stderr);

  int signal_number = 0;
  sigwait(&stop_signals, &signal_number);
  absl::Status stopped = (*server)->Shutdown();
  std::fprintf(stderr, "dealwired %s stopped data_dir=%s listen=%s signal=%s%s%s\n",
               DEALWIRE_VERSION, options.data_dir.c_str(), (*server)->address().c_str(),
               signal_number == SIGTERM ? "SIGTERM" : "SIGINT", stopped.ok() ? "" : " error=",
               stopped.ok() ? "" : std::string(stopped.message()).c_str());
  return stopped.ok() ? 0 : 1;
}
