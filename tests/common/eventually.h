// Eventually: a bounded polling wait, for conditions that only a timer of
// the code under test makes true (a recovery retried every interval) and
// that no call reports. It never asserts on time: it only bounds the wait.
#pragma once

#include <functional>

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace dealwire::test_util {

// Calls `done` every `poll` until it returns true (then true) or `timeout`
// passes (then false).
inline bool Eventually(const std::function<bool()>& done,
                       absl::Duration timeout = absl::Seconds(60),
                       absl::Duration poll = absl::Milliseconds(1)) {
  const absl::Time deadline = absl::Now() + timeout;
  while (!done()) {
    if (absl::Now() > deadline) return false;
    absl::SleepFor(poll);
  }
  return true;
}

}  // namespace dealwire::test_util
