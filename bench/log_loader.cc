#include "bench/log_loader.h"

#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/event_types.h"
#include "domain/proposal.h"

namespace dealwire::bench {

namespace v1 = dealwire::v1;
using store::Position;

LogLoader::LogLoader(store::EventLog& log, LogLoaderOptions options)
    : log_(log),
      options_(std::move(options)),
      base_(log.LastPosition().value()) {}

LogLoader::~LogLoader() { (void)Finish(); }

uint64_t LogLoader::committed() const {
  std::lock_guard<std::mutex> lock(mu_);
  return committed_;
}

void LogLoader::Fail(absl::Status status) {
  std::lock_guard<std::mutex> lock(mu_);
  if (error_.ok()) error_ = std::move(status);
  cv_.notify_all();
}

bool LogLoader::Append(const v1::Event& event) {
  {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [this] { return in_flight_ < options_.max_in_flight || !error_.ok(); });
    if (!error_.ok()) return false;
    ++in_flight_;
  }
  const uint64_t index = appended_++;
  const Position position(base_ + 1 + index);
  // Says which event failed, as "event <index> (<type> to <stream>): <why>".
  auto describe = [index, type = common::EventTypeName(event.payload()),
                   stream = event.stream()](const absl::Status& s) {
    return absl::Status(s.code(), absl::StrCat("event ", index, " (", type, " to ", stream,
                                               "): ", s.message()));
  };
  std::vector<v1::Event> events;
  events.push_back(event);
  // Runs on the log's completion thread, in commit order (or on this thread,
  // before ProposeAsync returns, for errors found before queuing).
  log_.ProposeAsync(
      event.stream(), store::ExpectedVersion::Any(),
      domain::EventsProposal::Own(std::move(events), options_.recorded_by),
      [this, position, describe](absl::StatusOr<store::AppendResult> result) mutable {
        absl::Status status = result.status();
        if (status.ok() && (result->duplicate || result->first_position != position)) {
          status = absl::InternalError(absl::StrCat(
              "expected to be committed at position ", position.value(), ", got position ",
              result->first_position.value(), result->duplicate ? " (a duplicate)" : ""));
        }
        std::lock_guard<std::mutex> lock(mu_);
        --in_flight_;
        if (status.ok()) {
          ++committed_;
        } else if (error_.ok()) {
          error_ = describe(status);
        }
        cv_.notify_all();
      });
  std::lock_guard<std::mutex> lock(mu_);
  return error_.ok();
}

absl::Status LogLoader::Finish() {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [this] { return in_flight_ == 0; });
  return error_;
}

}  // namespace dealwire::bench
