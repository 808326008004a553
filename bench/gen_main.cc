// dealwire-gen: writes a deterministic synthetic data set of Dealwire events
// (bench/synthetic_events.h) as JSON Lines, one dealwire.v1.Event per line in
// protobuf's canonical JSON mapping (common/event_jsonl.h), or appends
// it straight into an event log (--data-dir), and prints a summary (events
// per type, size, rate) to stderr.
//
//   dealwire-gen --events 1000000 --seed 7 --output /tmp/synth.jsonl
//   dealwire-gen --events 1000 | head
//   dealwire-gen --events 1000000 --data-dir /tmp/dw && dealwired --data-dir /tmp/dw
//
// With --data-dir the events go through dealwired's write path minus gRPC
// (bench/log_loader.h): the log is opened with the DomainDecider, each
// event is proposed alone to its stream with ExpectedVersion ANY, up to the
// log's queue bound of appends in flight, and encoded and decided on the
// log's writer thread. The rate printed is then the durable append rate with domain
// validation on, in process. Any refused event is fatal: the generator's
// output must all be valid.
#include <algorithm>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "CLI/CLI.hpp"
#include "bench/log_loader.h"
#include "bench/synthetic_events.h"
#include "dealwire/v1/events.pb.h"
#include "fmt/core.h"
#include "common/event_jsonl.h"
#include "domain/decider.h"
#include "store/event_log.h"

namespace {

namespace v1 = dealwire::v1;

// Events per batch handed to an encoding thread, and batches in flight per
// thread: memory stays at a few thousand events whatever --events is.
constexpr size_t kBatchEvents = 512;
constexpr size_t kSlotsPerThread = 4;

// Generates events on the calling thread, encodes them to JSON Lines on
// `threads` worker threads (JSON printing is most of the work) and writes the
// batches in generation order, so the output does not depend on `threads`.
class Pipeline {
 public:
  Pipeline(size_t threads, std::FILE* out)
      : threads_(std::max<size_t>(threads, 1)), out_(out), slots_(threads_ * kSlotsPerThread) {
    for (Slot& slot : slots_) slot.events.resize(kBatchEvents);
  }

  // Writes all events of `generator`. Returns false when writing failed
  // (see error()).
  bool Run(dealwire::bench::SyntheticEvents& generator) {
    std::vector<std::thread> workers;
    for (size_t i = 0; i < threads_; ++i) workers.emplace_back([this] { Work(); });
    bool more = true;
    while (more && ok_) {
      if (filled_ - written_ == slots_.size()) WriteOldest();
      Slot& slot = slots_[filled_ % slots_.size()];
      slot.count = 0;
      while (slot.count < kBatchEvents && (more = generator.Next(&slot.events[slot.count]))) {
        ++slot.count;
      }
      std::lock_guard<std::mutex> lock(mu_);
      slot.encoded = false;
      ++filled_;
      cv_.notify_all();
    }
    while (written_ < filled_ && ok_) WriteOldest();
    {
      std::lock_guard<std::mutex> lock(mu_);
      done_ = true;
      cv_.notify_all();
    }
    for (std::thread& t : workers) t.join();
    ok_ = ok_ && std::fflush(out_) == 0;
    if (!ok_ && error_.empty()) error_ = std::strerror(errno);
    return ok_;
  }

  uint64_t bytes() const { return bytes_; }
  const std::string& error() const { return error_; }

 private:
  struct Slot {
    std::vector<v1::Event> events;
    size_t count = 0;
    std::string json;
    bool encoded = false;
  };

  void Work() {
    for (;;) {
      Slot* slot;
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [this] { return encoding_ < filled_ || done_; });
        if (encoding_ == filled_) return;  // done_
        slot = &slots_[encoding_++ % slots_.size()];
      }
      slot->json.clear();
      for (size_t i = 0; i < slot->count; ++i) {
        dealwire::common::AppendEventJsonl(slot->events[i], &slot->json);
      }
      std::lock_guard<std::mutex> lock(mu_);
      slot->encoded = true;
      cv_.notify_all();
    }
  }

  void WriteOldest() {
    Slot& slot = slots_[written_ % slots_.size()];
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&slot] { return slot.encoded; });
    }
    if (std::fwrite(slot.json.data(), 1, slot.json.size(), out_) != slot.json.size()) {
      ok_ = false;
      error_ = std::strerror(errno);
    }
    bytes_ += slot.json.size();
    ++written_;
  }

  const size_t threads_;
  std::FILE* const out_;
  std::vector<Slot> slots_;
  std::mutex mu_;
  std::condition_variable cv_;
  size_t filled_ = 0;    // batches handed out; guarded by mu_
  size_t encoding_ = 0;  // batches taken by workers; guarded by mu_
  bool done_ = false;    // guarded by mu_
  size_t written_ = 0;   // main thread only
  bool ok_ = true;       // main thread only
  uint64_t bytes_ = 0;   // main thread only
  std::string error_;    // main thread only
};

using SteadyClock = std::chrono::steady_clock;

// Returns the seconds since `start`, at least 1 ns: a divisor for rates.
double SecondsSince(SteadyClock::time_point start) {
  return std::max(std::chrono::duration<double>(SteadyClock::now() - start).count(), 1e-9);
}

// Returns "dealwire-gen: <n> events (<c> companies, <i> investors planned)":
// the start of the summary line.
std::string SummaryHead(const dealwire::bench::SyntheticEvents& generator) {
  return fmt::format("dealwire-gen: {} events ({} companies, {} investors planned)",
                     generator.generated(), generator.planned_companies(),
                     generator.planned_investors());
}

// Prints the number and share of the events of each payload type to stderr.
void PrintCounts(const dealwire::bench::SyntheticEvents& generator) {
  const size_t total = generator.generated();
  const google::protobuf::OneofDescriptor* oneof =
      v1::EventPayload::descriptor()->FindOneofByName("payload");
  for (int i = 0; i < oneof->field_count(); ++i) {
    const google::protobuf::FieldDescriptor* field = oneof->field(i);
    const uint64_t n = generator.count(static_cast<v1::EventPayload::PayloadCase>(field->number()));
    fmt::print(stderr, "  {:<24} {:>10} {:>6.2f} %\n", field->message_type()->name(), n,
               total == 0 ? 0.0 : 100.0 * static_cast<double>(n) / static_cast<double>(total));
  }
}

// Appends every event of `generator` to the event log at `dir` (created when
// missing; it must hold no events). Prints progress and the outcome to
// stderr; returns false on any error.
bool LoadIntoLog(dealwire::bench::SyntheticEvents& generator, const std::string& dir) {
  namespace store = dealwire::store;
  store::Options options;
  options.decider = std::make_shared<dealwire::domain::DomainDecider>();
  absl::StatusOr<std::unique_ptr<store::EventLog>> log = store::OpenEventLog(dir, options);
  if (!log.ok()) {
    fmt::print(stderr, "dealwire-gen: cannot open the event log at {}: {}\n", dir,
               log.status().ToString());
    if (absl::IsFailedPrecondition(log.status())) {
      fmt::print(stderr,
                 "dealwire-gen: is dealwired (or another dealwire-gen) running on {}? Stop it "
                 "first: the log has one writer.\n",
                 dir);
    }
    return false;
  }
  if (const store::Position last = (*log)->LastPosition(); last.value() >= options.first_position) {
    fmt::print(stderr,
               "dealwire-gen: the event log at {} already holds events (last position {}); "
               "use a new directory\n",
               dir, last.value());
    return false;
  }

  const auto start = SteadyClock::now();
  auto last_report = start;
  dealwire::bench::LogLoader loader(**log, {.max_in_flight = options.max_queued_appends});
  v1::Event event;
  while (generator.Next(&event)) {
    if (!loader.Append(event)) break;
    if ((loader.appended() & 0xffff) == 0) {
      const auto now = SteadyClock::now();
      if (now - last_report >= std::chrono::seconds(10)) {
        last_report = now;
        fmt::print(stderr, "dealwire-gen: {} events appended, {} committed, {:.0f} events/s\n",
                   loader.appended(), loader.committed(), loader.committed() / SecondsSince(start));
      }
    }
  }
  const absl::Status status = loader.Finish();
  const absl::Status closed = (*log)->Close();
  if (!status.ok()) {
    fmt::print(stderr,
               "dealwire-gen: {} refused: {}\ndealwire-gen: {} events were committed before it; "
               "{} holds an incomplete data set\n",
               status.code() == absl::StatusCode::kFailedPrecondition ||
                       status.code() == absl::StatusCode::kInvalidArgument
                   ? "an invalid event was"
                   : "an append was",
               status.ToString(), loader.committed(), dir);
    return false;
  }
  if (!closed.ok()) {
    fmt::print(stderr, "dealwire-gen: closing the event log at {} failed: {}\n", dir,
               closed.ToString());
    return false;
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  dealwire::bench::SyntheticOptions options;
  std::string output = "-";
  std::string data_dir;
  size_t threads = std::max<unsigned>(std::thread::hardware_concurrency(), 1);
  CLI::App app{
      "Writes a deterministic synthetic Dealwire data set as JSON Lines: one dealwire.v1.Event "
      "per line (canonical protobuf JSON, with its stream), valid when appended in file order. "
      "The same flags always give the same bytes."};
  app.add_option("--events", options.events, "number of events to write")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  app.add_option("--companies", options.companies, "companies registered over the run")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--investors", options.investors,
                 "investors, funds and sovereign funds registered over the run")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--seed", options.seed, "seed of the random source")->capture_default_str();
  CLI::Option* output_option =
      app.add_option("--output,-o", output, "file to write, or - for standard output")
          ->capture_default_str();
  app.add_option("--data-dir", data_dir,
                 "append the events, in order, to the event log in this directory (created "
                 "when missing; it must hold no events, and no dealwired may run on it) "
                 "instead of writing JSON Lines: the server's write path without gRPC, with "
                 "domain validation on")
      ->excludes(output_option);
  app.add_option("--threads", threads,
                 "threads that encode JSON (the output is the same for any number; unused "
                 "with --data-dir)")
      ->capture_default_str()
      ->check(CLI::Range(1, 256));
  app.footer(
      "Example:\n"
      "  dealwire-gen --events 1000000 --seed 7 --output /tmp/synth.jsonl\n"
      "  dealwire-gen --events 20 --companies 5 --investors 3 | head -3\n"
      "  dealwire-gen --events 1000000 --data-dir /tmp/dw   # then: dealwired --data-dir /tmp/dw");
  CLI11_PARSE(app, argc, argv);

  if (!data_dir.empty()) {
    const auto start = SteadyClock::now();
    dealwire::bench::SyntheticEvents generator(options);
    if (!LoadIntoLog(generator, data_dir)) return 1;
    const double seconds = SecondsSince(start);
    fmt::print(stderr,
               "{} appended to {} in {:.2f} s: {:.0f} events/s (1 event per append, domain "
               "validation on, durable)\n",
               SummaryHead(generator), data_dir, seconds, generator.generated() / seconds);
    PrintCounts(generator);
    fmt::print(stderr, "dealwire-gen: {} is ready for: dealwired --data-dir {}\n", data_dir,
               data_dir);
    return 0;
  }

  std::FILE* out = stdout;
  if (output != "-") {
    out = std::fopen(output.c_str(), "wb");
    if (out == nullptr) {
      fmt::print(stderr, "dealwire-gen: cannot open {}: {}\n", output, std::strerror(errno));
      return 1;
    }
  }

  const auto start = SteadyClock::now();
  dealwire::bench::SyntheticEvents generator(options);
  Pipeline pipeline(threads, out);
  const bool ok = pipeline.Run(generator);
  if (out != stdout) {
    if (std::fclose(out) != 0 && ok) {
      fmt::print(stderr, "dealwire-gen: closing {} failed: {}\n", output, std::strerror(errno));
      return 1;
    }
  }
  if (!ok) {
    fmt::print(stderr, "dealwire-gen: writing {} failed: {}\n", output, pipeline.error());
    return 1;
  }
  const uint64_t bytes = pipeline.bytes();
  const double seconds = SecondsSince(start);
  fmt::print(stderr, "{}, {:.1f} MB to {} in {:.2f} s: {:.0f} events/s, {:.1f} MB/s\n",
             SummaryHead(generator), bytes / 1e6, output == "-" ? "stdout" : output, seconds,
             generator.generated() / seconds, bytes / 1e6 / seconds);
  PrintCounts(generator);
  return 0;
}
