// dealwire-decider-bench — the CPU cost of the write path's domain work per
// event: DomainDecider::Encode (envelope and payload checks, serialization)
// and Decide (rules against the state, tags), without the log.
//
//   dealwire-decider-bench [--events N] [--batch B] [--rounds R]
//
// Appends of B OrganizationUpdated events of about 200 bytes (as
// dealwire-bench appends, load_events.h) to 1000 registered organizations;
// prints per round "decider_<B>: <ns> ns/event encode=<ns> decide=<ns>" and
// the median. One thread, no I/O: run it under valgrind --tool=callgrind for
// instruction counts that do not depend on the machine's load.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "bench/load_events.h"
#include "domain/decider.h"
#include "domain/proposal.h"
#include "store/event_log.h"

namespace {

using Clock = std::chrono::steady_clock;
namespace v1 = dealwire::v1;
namespace store = dealwire::store;

// Nothing accepted before: the benchmark's appends name no earlier event.
class NoEvents final : public store::AcceptedEvents {
 public:
  absl::StatusOr<std::optional<store::RecordedEvent>> Find(absl::string_view) const override {
    return std::optional<store::RecordedEvent>();
  }
};

uint64_t Flag(int argc, char** argv, const char* name, uint64_t fallback) {
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::string(argv[i]) == name) return std::strtoull(argv[i + 1], nullptr, 10);
  }
  return fallback;
}

double Nanos(Clock::duration d) { return std::chrono::duration<double, std::nano>(d).count(); }

}  // namespace

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    if (std::string(argv[i]) == "--help" || std::string(argv[i]) == "-h") {
      std::printf("usage: %s [--events N] [--batch B] [--rounds R]\n", argv[0]);
      return 0;
    }
  }
  const uint64_t events = Flag(argc, argv, "--events", 200000);
  const int batch = static_cast<int>(std::max<uint64_t>(1, Flag(argc, argv, "--batch", 100)));
  const int rounds = static_cast<int>(std::max<uint64_t>(1, Flag(argc, argv, "--rounds", 5)));

  const dealwire::bench::LoadEvents load({.run_tag = "decider", .orgs = 1000, .event_bytes = 200});
  dealwire::domain::DomainDecider decider;
  const NoEvents accepted;
  uint64_t position = 1;
  const absl::Time now = absl::Now();
  auto run = [&](const v1::AppendRequest& request, double* encode_ns, double* decide_ns) {
    std::unique_ptr<dealwire::domain::EventsProposal> proposal =
        dealwire::domain::EventsProposal::Borrow(request.events(), "bench");
    std::vector<store::ProposedEvent> stored;
    const Clock::time_point a = Clock::now();
    absl::Status s = decider.Encode(request.stream(), *proposal, &stored);
    const Clock::time_point b = Clock::now();
    if (s.ok()) {
      s = decider.Decide(request.stream(), store::Position(position), now, proposal.get(),
                         accepted, &stored);
    }
    const Clock::time_point c = Clock::now();
    if (!s.ok()) {
      std::fprintf(stderr, "refused: %s\n", s.ToString().c_str());
      std::exit(1);
    }
    position += stored.size();
    *encode_ns += Nanos(b - a);
    *decide_ns += Nanos(c - b);
  };

  dealwire::bench::UuidGenerator ids(1);
  double ignored_encode = 0, ignored_decide = 0;
  for (int org = 0; org < load.orgs(); ++org) {
    v1::AppendRequest request;
    load.FillRegistration(org, ids, &request);
    run(request, &ignored_encode, &ignored_decide);
  }
  std::vector<double> totals;
  for (int round = 0; round < rounds; ++round) {
    // The requests are made before the clock runs.
    std::vector<v1::AppendRequest> requests(events / batch);
    for (size_t i = 0; i < requests.size(); ++i) {
      load.FillUpdates(static_cast<int>(i % static_cast<size_t>(load.orgs())), batch, ids, now,
                       &requests[i]);
    }
    double encode_ns = 0, decide_ns = 0;
    for (const v1::AppendRequest& request : requests) run(request, &encode_ns, &decide_ns);
    const double n = static_cast<double>(requests.size() * batch);
    totals.push_back((encode_ns + decide_ns) / n);
    std::printf("decider_%d: %.0f ns/event encode=%.0f decide=%.0f events=%.0f\n", batch,
                (encode_ns + decide_ns) / n, encode_ns / n, decide_ns / n, n);
  }
  std::sort(totals.begin(), totals.end());
  std::printf("decider_%d_median: %.0f ns/event over %d rounds\n", batch, totals[totals.size() / 2],
              rounds);
  return 0;
}
