// bench/peers/peer_system.h — what dealwire-peer-bench asks of each peer
// (Redis, PostgreSQL, NATS JetStream): the same workloads as dealwire-bench,
// over each system's own C client library.
//
//   PeerOptions options{.port = 6379};
//   std::unique_ptr<PeerSystem> redis = NewRedisPeer(options);
//   absl::StatusOr<std::unique_ptr<WriteLoad>> load = redis->StartWrites(64, 1);
//   CallTotals warm = (*load)->Run(1.0);      // unmeasured
//   CallTotals t = (*load)->Run(10.0);        // 64 callers, 1 record per call
//   absl::Status s = redis->Drop();           // leaves the server idle and small
//
// Every write is acknowledged durably as far as the system's configuration
// allows (bench/peers/run.sh starts each server; bench/peers/README.md says
// what each acknowledgement means).
//
// Thread-safety: a PeerSystem and its WriteLoads are used from one thread;
// they may run threads of their own inside Run, Fill and ReadAll.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "bench/load_stats.h"

namespace dealwire::peers {

// The flags of dealwire-peer-bench that the systems use.
struct PeerOptions {
  std::string host = "127.0.0.1";  // Default: 127.0.0.1
  int port = 0;                    // REQUIRES: > 0
  int data_bytes = 200;            // bytes of each record's data field. Default: 200
  int streams = 1000;              // distinct stream names the records go to. Default: 1000
  int connections = 4;             // NATS only: connections the callers share. Default: 4
  std::string nats_client = "async";  // NATS only: "async" (ack handlers) or "sync" (a thread
                                      // per caller in js_Publish). Default: async
  double connect_timeout = 10;     // seconds. Default: 10
};

// What one Run of a WriteLoad did. A call is one append of `batch` records
// (one round trip for the batch, however the system sends it).
struct CallTotals {
  uint64_t calls = 0;   // acknowledged calls
  uint64_t events = 0;  // records in the acknowledged calls
  uint64_t errors = 0;  // failed calls
  std::string first_error;
  double seconds = 0;  // from the first call's start to the last one's end
  bench::LatencyHistogram latency;  // call start to acknowledgement, per acknowledged call

  // Adds `other`'s counts and samples (not its seconds) to these totals.
  void Merge(const CallTotals& other);
};

// Callers of one system, each keeping one call in flight (closed loop).
class WriteLoad {
 public:
  virtual ~WriteLoad() = default;

  // Keeps every caller's call in flight, a new one as soon as the previous
  // one is acknowledged, until `seconds` have passed; then waits for the calls
  // in flight and returns what they did.
  virtual CallTotals Run(double seconds) = 0;
};

// What a ReadAll did.
struct ReadTotals {
  uint64_t events = 0;
  uint64_t pages = 0;
  uint64_t bytes = 0;  // payload bytes received (fields or message data and subjects)
  uint64_t gaps = 0;   // positions not following the previous one (PostgreSQL only)
  double seconds = 0;
};

class PeerSystem {
 public:
  virtual ~PeerSystem() = default;

  // Returns OK when the server answers a trivial request; UNAVAILABLE
  // otherwise.
  virtual absl::Status Ping() = 0;

  // Recreates the system's empty log (table, stream or key) and connects
  // `callers` callers that append `batch` records per call.
  virtual absl::StatusOr<std::unique_ptr<WriteLoad>> StartWrites(int callers, int batch) = 0;

  // Recreates the empty log and writes `events` records into it (not meant to
  // be timed), leaving it as a reader would find it.
  virtual absl::Status Fill(uint64_t events) = 0;

  // Reads the whole log from its start in pages of `page` records, one page
  // request at a time.
  virtual absl::StatusOr<ReadTotals> ReadAll(int page) = 0;

  // Drops the log (and, for PostgreSQL, checkpoints) so that the server
  // stays idle and small while the other systems run.
  virtual absl::Status Drop() = 0;
};

// One factory per system (redis_peer.cc, postgres_peer.cc, nats_peer.cc).
// They do not connect; the calls above do.
std::unique_ptr<PeerSystem> NewRedisPeer(const PeerOptions& options);
std::unique_ptr<PeerSystem> NewPostgresPeer(const PeerOptions& options);
std::unique_ptr<PeerSystem> NewNatsPeer(const PeerOptions& options);

}  // namespace dealwire::peers
