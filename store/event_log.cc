#include "store/event_log.h"

#include <atomic>

#include "absl/strings/str_cat.h"

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

namespace {

// Runs `start` with a callback and waits for it. A futex-backed flag: the
// cheapest hand-off from the log's completion thread, which wakes many such
// callers per group commit.
template <typename Start>
absl::StatusOr<AppendResult> Wait(Start start) {
  absl::StatusOr<AppendResult> result;
  std::atomic<bool> done{false};
  start([&](absl::StatusOr<AppendResult> r) {
    result = std::move(r);
    done.store(true, std::memory_order_release);
    done.notify_one();
  });
  done.wait(false, std::memory_order_acquire);
  return result;
}

}  // namespace

absl::StatusOr<AppendResult> EventLog::Append(std::string stream, ExpectedVersion expected,
                                              std::vector<ProposedEvent> events) {
  return Wait([&](AppendCallback done) {
    AppendAsync(std::move(stream), expected, std::move(events), std::move(done));
  });
}

absl::StatusOr<AppendResult> EventLog::Propose(std::string stream, ExpectedVersion expected,
                                               std::unique_ptr<Proposal> proposal) {
  return Wait([&](AppendCallback done) {
    ProposeAsync(std::move(stream), expected, std::move(proposal), std::move(done));
  });
}

}  // namespace dealwire::store
