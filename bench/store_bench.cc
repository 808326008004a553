// dealwire-store-bench — throughput and latency of the durable event log.
//
//   dealwire-store-bench [--dir PATH] [--events N] [--appenders C] [--domain]
//
//   --dir PATH      log directory (default: a fresh temporary directory,
//                   removed at the end)
//   --events N      events of the 100-event append phase; the single-event
//                   phase appends N/5 (default: 1000000)
//   --appenders C   threads of the single-event phase (default: 64)
//   --domain        through the server's write path minus gRPC: the log has
//                   the DomainDecider, and every append is a proposal of
//                   valid dealwire.v1 events, encoded and decided on the
//                   writer thread
//
// Phases, each printing one machine-readable line:
//   append_1xC:   single-event durable appends from C threads, each to its
//                 own stream, ExpectedVersion::Any;
//   append_100x4: 100-event appends from 4 threads;
//   read_all:     ReadAll forwards in pages of 10000 over the whole log.
// With --domain the lines are named domain_append_1xC and domain_append_100x4,
// and each also reports the process's CPU per event (cpu_us_per_event).
//
// Events look like Dealwire's: a 36-character UUID-like id, type
// "InvestmentReported", two tags "org/<k>" among 1000 organisations and about
// 200 bytes of protobuf-like data. With --domain they are the events
// dealwire-bench appends (load_events.h): OrganizationUpdated of about 200
// bytes serialized, to the streams of 1000 organizations registered first.

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <iterator>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <sys/resource.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "bench/load_events.h"
#include "domain/decider.h"
#include "domain/proposal.h"
#include "store/event_log.h"
#include "store/types.h"

namespace {

namespace fs = std::filesystem;
using dealwire::store::AppendResult;
using dealwire::store::Direction;
using dealwire::store::EventLog;
using dealwire::store::ExpectedVersion;
using dealwire::store::Position;
using dealwire::store::ProposedEvent;
using dealwire::store::RecordedEvent;
using Clock = std::chrono::steady_clock;

constexpr int kOrgs = 1000;
constexpr int kBatchSize = 100;
constexpr int kBatchAppenders = 4;
constexpr size_t kReadPage = 10000;

struct Flags {
  std::optional<std::string> dir;
  uint64_t events = 1'000'000;
  int appenders = 64;
  bool domain = false;
};

[[noreturn]] void Usage(const char* argv0, const std::string& error) {
  if (!error.empty()) std::fprintf(stderr, "%s: %s\n", argv0, error.c_str());
  std::fprintf(stderr,
               "usage: %s [--dir PATH] [--events N] [--appenders C] [--domain]\n"
               "  --dir PATH      log directory (default: a fresh temporary one, removed after)\n"
               "  --events N      events of the 100-event append phase; the single-event\n"
               "                  phase appends N/5 (default: 1000000)\n"
               "  --appenders C   threads of the single-event phase (default: 64)\n"
               "  --domain        through the server's write path minus gRPC (DomainDecider,\n"
               "                  proposals of valid events)\n",
               argv0);
  std::exit(error.empty() ? 0 : 2);
}

bool ParseUint(const char* s, uint64_t* out) {
  if (*s == '\0') return false;
  char* end = nullptr;
  errno = 0;
  unsigned long long v = std::strtoull(s, &end, 10);
  if (errno != 0 || *end != '\0' || s[0] == '-') return false;
  *out = v;
  return true;
}

Flags ParseFlags(int argc, char** argv) {
  Flags flags;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    std::optional<std::string> value;
    if (const size_t eq = arg.find('='); arg.rfind("--", 0) == 0 && eq != std::string::npos) {
      value = arg.substr(eq + 1);
      arg.resize(eq);
    }
    if (arg == "--help" || arg == "-h") Usage(argv[0], "");
    if (arg == "--domain") {
      flags.domain = true;
      continue;
    }
    if (arg != "--dir" && arg != "--events" && arg != "--appenders") {
      Usage(argv[0], "unknown flag " + arg);
    }
    if (!value) {
      if (i + 1 == argc) Usage(argv[0], arg + " needs a value");
      value = argv[++i];
    }
    uint64_t n = 0;
    if (arg == "--dir") {
      if (value->empty()) Usage(argv[0], "--dir needs a path");
      flags.dir = *value;
    } else if (arg == "--events") {
      if (!ParseUint(value->c_str(), &n) || n < kBatchSize) {
        Usage(argv[0], "--events needs a number >= 100");
      }
      flags.events = n;
    } else {
      if (!ParseUint(value->c_str(), &n) || n < 1 || n > 4096) {
        Usage(argv[0], "--appenders needs a number in 1..4096");
      }
      flags.appenders = static_cast<int>(n);
    }
  }
  return flags;
}

// Makes events that look like Dealwire's InvestmentReported.
class EventFactory {
 public:
  explicit EventFactory(uint64_t seed) : rng_(seed) {}

  ProposedEvent Next() {
    ProposedEvent e;
    e.event_id = Uuid();
    e.type = "InvestmentReported";
    const int investor = Org();
    int investee = Org();
    if (investee == investor) investee = (investee + 1) % kOrgs;
    e.tags = {absl::StrFormat("org/%d", investor), absl::StrFormat("org/%d", investee)};
    e.data = Payload(investor, investee);
    return e;
  }

 private:
  int Org() { return static_cast<int>(rng_() % kOrgs); }

  std::string Uuid() {
    const uint64_t hi = rng_();
    const uint64_t lo = rng_();
    return absl::StrFormat("%08x-%04x-4%03x-%04x-%012x", hi >> 32, (hi >> 16) & 0xffff,
                           hi & 0xfff, 0x8000 | ((lo >> 48) & 0x3fff), lo & 0xffffffffffffULL);
  }

  // About 200 bytes shaped like a serialized protobuf message: two org
  // names, an amount, a currency, a date, a source URL and a note.
  std::string Payload(int investor, int investee) {
    static constexpr const char* kWords[] = {
        "series", "seed", "round", "led", "by", "with", "participation", "from",
        "strategic", "investment", "valuation", "billion", "million", "announced",
        "partnership", "compute", "credits", "equity", "convertible", "note"};
    std::string out;
    auto varint = [&out](uint64_t v) {
      for (; v > 0x7f; v >>= 7) out.push_back(static_cast<char>((v & 0x7f) | 0x80));
      out.push_back(static_cast<char>(v));
    };
    auto field = [&out, &varint](int tag, const std::string& s) {
      varint(static_cast<uint64_t>(tag << 3 | 2));
      varint(s.size());
      out += s;
    };
    field(1, absl::StrFormat("org/%d", investor));
    field(2, absl::StrFormat("org/%d", investee));
    varint(3 << 3);  // the amount in cents
    varint(rng_() >> 20);
    field(4, "USD");
    field(5, absl::StrFormat("20%02d-%02d-%02d", 10 + rng_() % 16, 1 + rng_() % 12,
                             1 + rng_() % 28));
    field(6, absl::StrFormat("https://news.example.com/%016x", rng_()));
    const size_t target = 180 + rng_() % 41;
    std::string note;
    while (out.size() + note.size() + 3 < target) {
      if (!note.empty()) note += ' ';
      note += kWords[rng_() % std::size(kWords)];
    }
    note.resize(std::min(note.size(), target - out.size() - 3));
    field(7, note);
    return out;
  }

  std::mt19937_64 rng_;
};

// Exits with `what` when `r` is an error. The queue (16384 appends) cannot
// fill with at most 4096 appenders, so any error is a real one.
void MustSucceed(const absl::StatusOr<AppendResult>& r, const std::string& what) {
  if (!r.ok()) {
    std::fprintf(stderr, "append to %s failed: %s\n", what.c_str(), r.status().ToString().c_str());
    std::exit(1);
  }
}

double Percentile(std::vector<double>& v, double p) {
  if (v.empty()) return 0;
  const size_t k = std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())));
  std::nth_element(v.begin(), v.begin() + static_cast<ptrdiff_t>(k), v.end());
  return v[k];
}

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

// This process's CPU time (user + system), in seconds.
double ProcessCpuSeconds() {
  rusage u;
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

// One thread's appends, made before the clock starts: each call appends one.
using Appends = std::vector<std::function<void()>>;

// Runs `appends[t]` on thread t, one after the other, and prints one line
// named `name` for `events` events (with the process's CPU per event when
// `cpu`).
void RunAppends(const std::string& name, std::vector<Appends> appends, uint64_t events, bool cpu) {
  const size_t threads = appends.size();
  uint64_t total_appends = 0;
  for (const Appends& a : appends) total_appends += a.size();
  std::vector<std::vector<double>> latencies_ms(threads);
  std::vector<std::thread> workers;
  const double cpu_before = ProcessCpuSeconds();
  const Clock::time_point start = Clock::now();
  for (size_t t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      std::vector<double>& latencies = latencies_ms[t];
      latencies.reserve(appends[t].size());
      for (std::function<void()>& append : appends[t]) {
        const Clock::time_point begin = Clock::now();
        append();
        latencies.push_back(
            std::chrono::duration<double, std::milli>(Clock::now() - begin).count());
        append = nullptr;  // frees its events
      }
    });
  }
  for (std::thread& w : workers) w.join();
  const double seconds = Seconds(Clock::now() - start);
  const double cpu_seconds = ProcessCpuSeconds() - cpu_before;
  std::vector<double> all;
  for (const auto& l : latencies_ms) all.insert(all.end(), l.begin(), l.end());
  const double p50 = Percentile(all, 0.50);
  const double p99 = Percentile(all, 0.99);
  std::string extra;
  if (cpu) {
    extra = absl::StrFormat(" cpu_us_per_event=%.1f cores=%.2f",
                            cpu_seconds * 1e6 / static_cast<double>(events), cpu_seconds / seconds);
  }
  std::printf("%s: %.0f events/s p50=%.2fms p99=%.2fms events=%llu appends=%llu seconds=%.2f%s\n",
              name.c_str(), static_cast<double>(events) / seconds, p50, p99,
              static_cast<unsigned long long>(events),
              static_cast<unsigned long long>(total_appends), seconds, extra.c_str());
  std::fflush(stdout);
}

// Appends `total_events` in appends of `batch` events from `threads` threads,
// each to its own stream, and prints one line named `name`. Events are made
// before the clock starts, so the figure is the log's, not the generator's.
void AppendPhase(EventLog& log, const std::string& name, uint64_t total_events, int batch,
                 int threads) {
  const uint64_t total_appends = total_events / static_cast<uint64_t>(batch);
  std::vector<Appends> appends(threads);
  for (uint64_t a = 0; a < total_appends; ++a) {
    const int t = static_cast<int>(a % threads);
    appends[t].emplace_back();
  }
  for (int t = 0; t < threads; ++t) {
    EventFactory factory(std::hash<std::string>()(name) ^ static_cast<uint64_t>(t));
    const std::string stream = absl::StrFormat("bench/%s/%d", name, t);
    for (std::function<void()>& append : appends[t]) {
      std::vector<ProposedEvent> events;
      events.reserve(batch);
      for (int i = 0; i < batch; ++i) events.push_back(factory.Next());
      append = [&log, stream, events = std::move(events)]() mutable {
        MustSucceed(log.Append(stream, ExpectedVersion::Any(), std::move(events)), stream);
      };
    }
  }
  RunAppends(name, std::move(appends), total_appends * static_cast<uint64_t>(batch), false);
}

// The same through the DomainDecider: proposals of OrganizationUpdated
// events to the streams of `events.orgs()` registered organizations.
void DomainAppendPhase(EventLog& log, const dealwire::bench::LoadEvents& load,
                       const std::string& name, uint64_t total_events, int batch, int threads) {
  const uint64_t total_appends = total_events / static_cast<uint64_t>(batch);
  std::vector<Appends> appends(threads);
  for (uint64_t a = 0; a < total_appends; ++a) appends[a % threads].emplace_back();
  uint64_t k = 0;
  for (int t = 0; t < threads; ++t) {
    dealwire::bench::UuidGenerator ids(std::hash<std::string>()(name) ^ static_cast<uint64_t>(t));
    for (std::function<void()>& append : appends[t]) {
      const int org = static_cast<int>(k++ % static_cast<uint64_t>(load.orgs()));
      dealwire::v1::AppendRequest request;
      load.FillUpdates(org, batch, ids, absl::Now(), &request);
      std::vector<dealwire::v1::Event> events(request.events().begin(), request.events().end());
      append = [&log, stream = request.stream(), events = std::move(events)]() mutable {
        MustSucceed(log.Propose(stream, ExpectedVersion::Any(),
                                dealwire::domain::EventsProposal::Own(std::move(events), "bench")),
                    stream);
      };
    }
  }
  RunAppends(name, std::move(appends), total_appends * static_cast<uint64_t>(batch), true);
}

// Registers the organizations of `load`.
void RegisterOrgs(EventLog& log, const dealwire::bench::LoadEvents& load) {
  dealwire::bench::UuidGenerator ids(7);
  for (int org = 0; org < load.orgs(); ++org) {
    dealwire::v1::AppendRequest request;
    load.FillRegistration(org, ids, &request);
    std::vector<dealwire::v1::Event> events(request.events().begin(), request.events().end());
    MustSucceed(log.Propose(request.stream(), ExpectedVersion::NoStream(),
                            dealwire::domain::EventsProposal::Own(std::move(events), "bench")),
                request.stream());
  }
}

void ReadPhase(const EventLog& log) {
  uint64_t events = 0;
  uint64_t bytes = 0;
  std::optional<Position> from;
  const Clock::time_point start = Clock::now();
  for (;;) {
    absl::StatusOr<std::vector<RecordedEvent>> page =
        log.ReadAll(Direction::kForwards, from, kReadPage);
    if (!page.ok()) {
      std::fprintf(stderr, "ReadAll failed: %s\n", page.status().ToString().c_str());
      std::exit(1);
    }
    if (page->empty()) break;
    from = page->back().position.next();
    for (const RecordedEvent& e : *page) {
      ++events;
      bytes += e.stream.size() + e.event_id.size() + e.type.size() + e.data.size();
      for (const std::string& tag : e.tags) bytes += tag.size();
    }
  }
  const double seconds = Seconds(Clock::now() - start);
  std::printf("read_all: %.0f events/s %.1f MB/s events=%llu bytes=%llu seconds=%.2f\n",
              static_cast<double>(events) / seconds, static_cast<double>(bytes) / 1e6 / seconds,
              static_cast<unsigned long long>(events), static_cast<unsigned long long>(bytes),
              seconds);
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  const Flags flags = ParseFlags(argc, argv);
  std::string dir;
  bool remove_dir = false;
  if (flags.dir) {
    dir = *flags.dir;
  } else {
    dir = (fs::temp_directory_path() / absl::StrFormat("dealwire-store-bench-%d", getpid()))
              .string();
    std::error_code ec;
    fs::remove_all(dir, ec);
    remove_dir = true;
  }
  std::printf("store_bench: dir=%s events=%llu appenders=%d hardware_threads=%u\n", dir.c_str(),
              static_cast<unsigned long long>(flags.events), flags.appenders,
              std::thread::hardware_concurrency());
  std::fflush(stdout);

  int exit_code = 0;
  {
    dealwire::store::Options options;
    if (flags.domain) options.decider = std::make_shared<dealwire::domain::DomainDecider>();
    absl::StatusOr<std::unique_ptr<EventLog>> log = dealwire::store::OpenEventLog(dir, options);
    if (!log.ok()) {
      std::fprintf(stderr, "open %s: %s\n", dir.c_str(), log.status().ToString().c_str());
      return 1;
    }
    if (flags.domain) {
      const dealwire::bench::LoadEvents load({.run_tag = "store", .orgs = kOrgs, .event_bytes = 200});
      RegisterOrgs(**log, load);
      DomainAppendPhase(**log, load, absl::StrFormat("domain_append_1x%d", flags.appenders),
                        flags.events / 5, 1, flags.appenders);
      DomainAppendPhase(**log, load,
                        absl::StrFormat("domain_append_%dx%d", kBatchSize, kBatchAppenders),
                        flags.events, kBatchSize, kBatchAppenders);
    } else {
      AppendPhase(**log, absl::StrFormat("append_1x%d", flags.appenders), flags.events / 5, 1,
                  flags.appenders);
      AppendPhase(**log, absl::StrFormat("append_%dx%d", kBatchSize, kBatchAppenders),
                  flags.events, kBatchSize, kBatchAppenders);
    }
    ReadPhase(**log);
    absl::Status closed = (*log)->Close();
    if (!closed.ok()) {
      std::fprintf(stderr, "close: %s\n", closed.ToString().c_str());
      exit_code = 1;
    }
  }
  if (remove_dir) {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
  return exit_code;
}
