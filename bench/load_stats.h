// bench/load_stats.h — latency histograms and CPU accounting for
// dealwire-bench.
//
//   LatencyHistogram h;
//   h.RecordMicros(1234);                 // one sample, in microseconds
//   total.Merge(h);
//   double p99_ms = total.PercentileMs(0.99);
//
//   CpuClock server(server_pid);          // 0: this process
//   CpuMark start = CpuMark::Now(server);
//   ... run ...
//   std::optional<double> cores = start.CoresSince(server);  // CPU s / wall s
//
// LatencyHistogram keeps log-linear buckets with 64 sub-buckets per power of
// two: every recorded value is reproduced to within 1/64 (1.6 %), with exact
// count and maximum, in constant memory (about 18 KiB) and with an O(1),
// allocation-free Record. That makes it cheap enough for one histogram per
// subscriber and per caller on the delivery path.
//
// Thread-safety: none; use one histogram per thread (or per caller whose
// calls never overlap) and merge them once the threads are done.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace dealwire::bench {

class LatencyHistogram {
 public:
  LatencyHistogram();

  // Records one sample of `micros` microseconds. Negative samples (a clock
  // stepping back) are recorded as 0 and counted in negative_count().
  void RecordMicros(int64_t micros);

  // Adds every sample of `other` to this histogram.
  void Merge(const LatencyHistogram& other);

  // Returns the number of samples recorded.
  uint64_t count() const { return count_; }
  // Returns the number of negative samples (recorded as 0).
  uint64_t negative_count() const { return negative_; }

  // Returns the value at quantile `q` (0..1) in milliseconds, to within 1.6 %;
  // 0 when the histogram is empty.
  double PercentileMs(double q) const;
  // Returns the largest sample in milliseconds (exact); 0 when empty.
  double MaxMs() const { return static_cast<double>(max_) / 1000.0; }
  // Returns the mean in milliseconds (from the exact sum); 0 when empty.
  double MeanMs() const;

 private:
  static int BucketOf(uint64_t micros);
  static uint64_t BucketMidpoint(int bucket);

  std::vector<uint64_t> buckets_;
  uint64_t count_ = 0;
  uint64_t negative_ = 0;
  uint64_t max_ = 0;
  double sum_ = 0;
};

// Measures the CPU time (user + system) used by one process, to report how
// many cores the load generator and the server used during a scenario.
//
// Thread-safety: thread-compatible (const methods may be called concurrently).
// The fields of /proc/<pid>/stat (0: this process) that CPU figures need,
// in clock ticks; nullopt when it cannot be read.
struct ProcStat {
  pid_t ppid = 0;
  unsigned long long utime = 0, stime = 0;    // the process's own
  unsigned long long cutime = 0, cstime = 0;  // its children's, once reaped
};
std::optional<ProcStat> ReadProcStat(pid_t pid);

class CpuClock {
 public:
  // Measures process `pid`; 0 means this process.
  explicit CpuClock(pid_t pid) : pid_(pid) {}

  // Returns the CPU seconds the process has used since it started, or nullopt
  // when /proc cannot be read (the process is gone, or is not on this host).
  std::optional<double> CpuSeconds() const;

 private:
  pid_t pid_;
};

// A start point for CpuClock-based measurements: the wall time and the CPU
// seconds of one process.
struct CpuMark {
  std::chrono::steady_clock::time_point wall;
  std::optional<double> cpu_seconds;

  // Returns a mark of `clock` now.
  static CpuMark Now(const CpuClock& clock);
  // Returns the cores used by `clock`'s process since this mark (CPU seconds /
  // wall seconds), or nullopt when either reading failed.
  std::optional<double> CoresSince(const CpuClock& clock) const;
};

// Client and server CPU use over one measurement, as " client_cpu=… server_cpu=…"
// (the server's only when its pid is known, > 0).
class CpuReport {
 public:
  explicit CpuReport(pid_t server_pid)
      : client_(0),
        server_(server_pid),
        has_server_(server_pid > 0),
        client_start_(CpuMark::Now(client_)),
        server_start_(CpuMark::Now(server_)) {}

  // Returns the cores used since construction, formatted as above.
  std::string Finish() const;

 private:
  CpuClock client_;
  CpuClock server_;
  bool has_server_;
  CpuMark client_start_;
  CpuMark server_start_;
};

}  // namespace dealwire::bench
