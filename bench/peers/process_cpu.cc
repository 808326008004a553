#include "bench/peers/process_cpu.h"

#include <dirent.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

namespace dealwire::peers {
namespace {

struct StatFields {
  pid_t ppid = 0;
  unsigned long long ticks = 0;  // utime + stime + cutime + cstime
};

// Reads /proc/<pid>/stat: ppid is field 4, utime..cstime fields 14..17,
// counted after the command name's closing parenthesis (it may hold spaces).
std::optional<StatFields> ReadStat(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!in || !std::getline(in, line)) return std::nullopt;
  const size_t paren = line.rfind(')');
  if (paren == std::string::npos) return std::nullopt;
  std::istringstream fields(line.substr(paren + 1));
  std::string field;
  StatFields out;
  for (int i = 3; i <= 17 && fields >> field; ++i) {
    if (i == 4) out.ppid = static_cast<pid_t>(std::stol(field));
    if (i >= 14) out.ticks += std::stoull(field);
  }
  if (!fields) return std::nullopt;
  return out;
}

}  // namespace

std::optional<double> ProcessTreeCpu::CpuSeconds() const {
  const std::optional<StatFields> root = ReadStat(pid_);
  if (!root) return std::nullopt;
  unsigned long long ticks = root->ticks;
  if (DIR* proc = opendir("/proc")) {
    while (dirent* entry = readdir(proc)) {
      char* end = nullptr;
      const long pid = std::strtol(entry->d_name, &end, 10);
      if (end == entry->d_name || *end != '\0' || pid == pid_) continue;
      const std::optional<StatFields> child = ReadStat(static_cast<pid_t>(pid));
      if (child && child->ppid == pid_) ticks += child->ticks;
    }
    closedir(proc);
  }
  const long hz = sysconf(_SC_CLK_TCK);
  if (hz <= 0) return std::nullopt;
  return static_cast<double>(ticks) / static_cast<double>(hz);
}

}  // namespace dealwire::peers
