#include "bench/load_stats.h"

#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <fstream>
#include <sstream>
#include <string>

#include "absl/strings/str_format.h"

namespace dealwire::bench {
namespace {

// Values below 2^kSubBits are exact; above, each power of two is split into
// 2^(kSubBits-1) buckets.
constexpr int kSubBits = 7;
constexpr int kHalf = 1 << (kSubBits - 1);                     // 64 sub-buckets per octave
constexpr uint64_t kMaxMicros = (uint64_t{1} << 40) - 1;       // about 12.7 days
constexpr int kBuckets = (40 - kSubBits + 1) * kHalf + kHalf;  // BucketOf(kMaxMicros) + 1

}  // namespace

LatencyHistogram::LatencyHistogram() : buckets_(kBuckets, 0) {}

int LatencyHistogram::BucketOf(uint64_t micros) {
  micros = std::min(micros, kMaxMicros);
  if (micros < (uint64_t{1} << kSubBits)) return static_cast<int>(micros);
  const int msb = std::bit_width(micros) - 1;
  const int shift = msb - (kSubBits - 1);
  return shift * kHalf + static_cast<int>(micros >> shift);
}

uint64_t LatencyHistogram::BucketMidpoint(int bucket) {
  if (bucket < (1 << kSubBits)) return static_cast<uint64_t>(bucket);
  const int shift = bucket / kHalf - 1;
  const uint64_t lower = static_cast<uint64_t>(bucket - shift * kHalf) << shift;
  return lower + (uint64_t{1} << shift) / 2;
}

void LatencyHistogram::RecordMicros(int64_t micros) {
  uint64_t v = 0;
  if (micros < 0) {
    ++negative_;
  } else {
    v = static_cast<uint64_t>(micros);
  }
  ++buckets_[BucketOf(v)];
  ++count_;
  max_ = std::max(max_, v);
  sum_ += static_cast<double>(v);
}

void LatencyHistogram::Merge(const LatencyHistogram& other) {
  for (size_t i = 0; i < buckets_.size(); ++i) buckets_[i] += other.buckets_[i];
  count_ += other.count_;
  negative_ += other.negative_;
  max_ = std::max(max_, other.max_);
  sum_ += other.sum_;
}

double LatencyHistogram::PercentileMs(double q) const {
  if (count_ == 0) return 0;
  const uint64_t rank = std::max<uint64_t>(
      1, static_cast<uint64_t>(std::ceil(std::clamp(q, 0.0, 1.0) * static_cast<double>(count_))));
  uint64_t seen = 0;
  for (int b = 0; b < kBuckets; ++b) {
    seen += buckets_[b];
    if (seen >= rank) return static_cast<double>(std::min(BucketMidpoint(b), max_)) / 1000.0;
  }
  return MaxMs();
}

double LatencyHistogram::MeanMs() const {
  return count_ == 0 ? 0 : sum_ / static_cast<double>(count_) / 1000.0;
}

std::optional<ProcStat> ReadProcStat(pid_t pid) {
  const std::string path =
      pid == 0 ? std::string("/proc/self/stat") : "/proc/" + std::to_string(pid) + "/stat";
  std::ifstream in(path);
  std::string line;
  if (!in || !std::getline(in, line)) return std::nullopt;
  // The command name (field 2) may hold spaces; fields are counted after its
  // closing parenthesis. ppid is field 4, utime..cstime fields 14..17.
  const size_t paren = line.rfind(')');
  if (paren == std::string::npos) return std::nullopt;
  std::istringstream fields(line.substr(paren + 1));
  std::string field;
  ProcStat out;
  for (int i = 3; i <= 17 && fields >> field; ++i) {
    if (i == 4) out.ppid = static_cast<pid_t>(std::stol(field));
    if (i == 14) out.utime = std::stoull(field);
    if (i == 15) out.stime = std::stoull(field);
    if (i == 16) out.cutime = std::stoull(field);
    if (i == 17) out.cstime = std::stoull(field);
  }
  if (!fields) return std::nullopt;
  return out;
}

std::optional<double> CpuClock::CpuSeconds() const {
  const std::optional<ProcStat> stat = ReadProcStat(pid_);
  if (!stat) return std::nullopt;
  const long ticks = sysconf(_SC_CLK_TCK);
  if (ticks <= 0) return std::nullopt;
  return static_cast<double>(stat->utime + stat->stime) / static_cast<double>(ticks);
}

CpuMark CpuMark::Now(const CpuClock& clock) {
  return CpuMark{std::chrono::steady_clock::now(), clock.CpuSeconds()};
}

std::optional<double> CpuMark::CoresSince(const CpuClock& clock) const {
  const std::optional<double> now_cpu = clock.CpuSeconds();
  const double wall_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - wall).count();
  if (!now_cpu || !cpu_seconds || wall_seconds <= 0) return std::nullopt;
  return (*now_cpu - *cpu_seconds) / wall_seconds;
}

std::string CpuReport::Finish() const {
  std::string out;
  if (std::optional<double> c = client_start_.CoresSince(client_)) {
    out += absl::StrFormat(" client_cpu=%.2f", *c);
  }
  if (has_server_) {
    if (std::optional<double> s = server_start_.CoresSince(server_)) {
      out += absl::StrFormat(" server_cpu=%.2f", *s);
    }
  }
  return out;
}

}  // namespace dealwire::bench
