#include "store/event_log.h"

#include "absl/strings/str_cat.h"
#include <atomic>

namespace dealwire::store {

std::string ExpectedVersion::DebugString() const {
  switch (kind_) {
    case Kind::kAny:
      return "any";
    case Kind::kNoStream:
      return "no stream";
    case Kind::kStreamExists:
      return "stream exists";
    case Kind::kExact:
      return absl::StrCat("version ", version_);
  }
  return "?";
}

absl::StatusOr<AppendResult> EventLog::Append(std::string stream, ExpectedVersion expected,
                                              std::vector<ProposedEvent> events) {
  // A futex-backed flag: the cheapest hand-off from the writer thread, which
  // wakes many such callers per group commit.
  absl::StatusOr<AppendResult> result;
  std::atomic<bool> done{false};
  AppendAsync(std::move(stream), expected, std::move(events),
              [&](absl::StatusOr<AppendResult> r) {
                result = std::move(r);
                done.store(true, std::memory_order_release);
                done.notify_one();
              });
  done.wait(false, std::memory_order_acquire);
  return result;
}

}  // namespace dealwire::store
