#include "bench/peers/peer_system.h"

namespace dealwire::peers {

void CallTotals::Merge(const CallTotals& other) {
  calls += other.calls;
  events += other.events;
  errors += other.errors;
  if (first_error.empty()) first_error = other.first_error;
  latency.Merge(other.latency);
}

}  // namespace dealwire::peers
