// bench/peers/process_cpu.h — the CPU time of a server that may be several
// processes (PostgreSQL's postmaster and its backends).
//
//   ProcessTreeCpu server(pid);
//   std::optional<double> before = server.CpuSeconds();
//   ... run ...
//   std::optional<double> after = server.CpuSeconds();   // (after - before) / wall = cores
//
// Counts user + system time of `pid` and of its live children, each with the
// time of its own children already reaped (cutime, cstime), so a backend that
// exits between two readings is counted once, through its parent.
//
// Thread-safety: thread-compatible.
#pragma once

#include <sys/types.h>

#include <optional>

namespace dealwire::peers {

class ProcessTreeCpu {
 public:
  explicit ProcessTreeCpu(pid_t pid) : pid_(pid) {}

  // Returns the CPU seconds used so far, or nullopt when `pid` cannot be read.
  std::optional<double> CpuSeconds() const;

 private:
  pid_t pid_;
};

}  // namespace dealwire::peers
