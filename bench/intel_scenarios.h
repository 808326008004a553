// bench/intel_scenarios.h — dealwire-bench scenarios against the query side
// of a running dealwired (dealwire.v1.MarketIntel and dealwire.v1.Admin).
// They need a data set (e.g. from `dealwire-gen --data-dir`, see
// run_intel_bench.sh), so none of them is part of `--scenario all`.
//
//   IntelOptions options{.server = "127.0.0.1:50051"};
//   bool ok = RunProjectionCatchup(options) && RunCapTable(options) && RunRebuild(options);
//
// Each prints `#` lines saying what it runs and one machine-readable summary
// line per measurement, and returns false when the scenario had errors:
//   projection-catchup  polls Admin.GetStats every 100 ms until
//                       projection_lag is 0; "projection_catchup: <events/s>
//                       events/s applied= seconds= …" (the rate over the
//                       polled window, and since the server's start with
//                       server_pid).
//   captable            picks up to `companies` companies that have funding
//                       rounds (ListDeals, kind ROUND), then runs
//                       `concurrency` closed-loop GetCapTable callers for
//                       `duration` s in each of three phases: current (no
//                       as_of), as_of.known_at_position (random in
//                       [1, projection_position]) and as_of.effective_on
//                       (random day in 2015-01-01..2026-12-31), with
//                       include_pending alternately false and true;
//                       "captable_<phase>_x<C>: <calls/s> calls/s p50= p90=
//                       p99= max= calls= not_found= errors= …". NOT_FOUND
//                       (the company is not registered as of the answer) is
//                       an answer, counted apart, not an error.
//   rebuild             one Admin.RebuildProjections; prints each progress
//                       message, then "rebuild: <events/s> events/s events=
//                       elapsed_s= identical= …". Digests that differ are an
//                       error.
//
// Thread-safety: the functions may be called from one thread at a time.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>

namespace dealwire::bench {

struct IntelOptions {
  // dealwired address HOST:PORT. Default: 127.0.0.1:50051
  std::string server = "127.0.0.1:50051";
  // Bearer token for the calls, or empty. Default: empty
  std::string token;
  // pid of the server on this host for CPU figures, or 0. Default: 0
  pid_t server_pid = 0;
  // Seconds to wait for a connection. Default: 10
  double connect_timeout = 10;
  // Deadline of each unary call, seconds. Default: 30
  double rpc_timeout = 30;

  // captable: companies to query at most. Default: 200
  int companies = 200;
  // captable: concurrent callers, one call in flight each. Default: 8
  int concurrency = 8;
  // captable: connections the callers are spread over. Default: 4
  int channels = 4;
  // captable: measured seconds per phase. Default: 10
  double duration = 10;
  // captable: unmeasured seconds of current cap tables first. Default: 1
  double warmup = 1;

  // projection-catchup: seconds to wait for projection_lag 0. Default: 300
  double catchup_timeout = 300;
  // rebuild: deadline of the RebuildProjections call, seconds. Default: 3600
  double rebuild_timeout = 3600;
};

// Runs the scenario of the same name (see above). Returns false on errors.
bool RunProjectionCatchup(const IntelOptions& options);
bool RunCapTable(const IntelOptions& options);
bool RunRebuild(const IntelOptions& options);

}  // namespace dealwire::bench
