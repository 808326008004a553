// ReadEverything: the whole log read forwards, page by page, for tests that
// compare it with what they appended.
#pragma once

#include <optional>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "store/event_log.h"

namespace dealwire::test_util {

// Returns every committed event of `log`, in position order; the first read
// error.
inline absl::StatusOr<std::vector<store::RecordedEvent>> ReadEverything(
    const store::EventLog& log) {
  std::vector<store::RecordedEvent> all;
  std::optional<store::Position> from;
  for (;;) {
    absl::StatusOr<std::vector<store::RecordedEvent>> page =
        log.ReadAll(store::Direction::kForwards, from, 997);
    if (!page.ok()) return page.status();
    if (page->empty()) return all;
    from = page->back().position.next();
    for (store::RecordedEvent& e : *page) all.push_back(std::move(e));
  }
}

}  // namespace dealwire::test_util
