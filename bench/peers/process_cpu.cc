#include "bench/peers/process_cpu.h"

#include <dirent.h>
#include <unistd.h>

#include <cstdlib>

#include "bench/load_stats.h"

namespace dealwire::peers {

std::optional<double> ProcessTreeCpu::CpuSeconds() const {
  // A process's own time and that of its reaped children (utime..cstime).
  const auto ticks_of = [](const bench::ProcStat& s) {
    return s.utime + s.stime + s.cutime + s.cstime;
  };
  const std::optional<bench::ProcStat> root = bench::ReadProcStat(pid_);
  if (!root) return std::nullopt;
  unsigned long long ticks = ticks_of(*root);
  if (DIR* proc = opendir("/proc")) {
    while (dirent* entry = readdir(proc)) {
      char* end = nullptr;
      const long pid = std::strtol(entry->d_name, &end, 10);
      if (end == entry->d_name || *end != '\0' || pid == pid_) continue;
      const std::optional<bench::ProcStat> child = bench::ReadProcStat(static_cast<pid_t>(pid));
      if (child && child->ppid == pid_) ticks += ticks_of(*child);
    }
    closedir(proc);
  }
  const long hz = sysconf(_SC_CLK_TCK);
  if (hz <= 0) return std::nullopt;
  return static_cast<double>(ticks) / static_cast<double>(hz);
}

}  // namespace dealwire::peers
