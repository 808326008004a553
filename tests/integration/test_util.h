// tests/integration/test_util.h — helpers shared by the integration tests:
// status matchers (on absl statuses; ToAbsl converts gRPC's), builders of
// domain events that stay valid under the write path's domain validation,
// EventStore call wrappers with deadlines, and a Subscribe reader that never
// blocks the test.
//
//   ServerTest fixture:  starts a dealwired on a fresh data dir per test.
//   ASSERT_OK_AND_ASSIGN(v1::AppendResponse r,
//                        Append(stub(), OrgStream(org), {OrgRegistered(org)}));
//   Subscription sub(server().Channel(), FromStart());
//   Received got;
//   ASSERT_OK(ReadUntil(sub, &got, HasCaughtUp(), absl::Seconds(30)));
//
// Every wait in here has a deadline; nothing sleeps to wait for a condition.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "dealwire/v1/event_store.grpc.pb.h"
#include "dealwire/v1/event_store.pb.h"
#include "dealwire/v1/events.pb.h"
#include "gmock/gmock.h"
#include "grpcpp/channel.h"
#include "grpcpp/client_context.h"
#include "grpcpp/support/status.h"
#include "gtest/gtest.h"
#include "tests/common/sequences.h"
#include "tests/common/status_matchers.h"
#include "tests/integration/server_process.h"

namespace dealwire::integration {

namespace v1 = ::dealwire::v1;

// --- Statuses ----------------------------------------------------------------

// Returns `s` as an absl::Status (the codes have the same numbers).
absl::Status ToAbsl(const grpc::Status& s);

// Returns `s` lower-cased (ASCII).
std::string Lower(absl::string_view s);

// The shared matchers and macros (ASSERT_OK, ASSERT_OK_AND_ASSIGN, StatusIs,
// StatusIsWith) of tests/common/status_matchers.h work on absl statuses; the
// call helpers below return those.
using ::dealwire::test_util::StatusIs;
using ::dealwire::test_util::StatusIsWith;

// Matches a status whose code is `code` and whose message contains, ignoring
// case, every one of `words`.
MATCHER_P2(StatusIsWithAllOf, code, words,
           absl::StrCat("has status code ", absl::StatusCodeToString(code),
                        " and a message naming all of [", absl::StrJoin(words, ", "), "]")) {
  const absl::Status& s = ::dealwire::test_util::StatusOf(arg);
  *result_listener << "whose status is " << s;
  if (s.code() != code) return false;
  const std::string message = ::dealwire::integration::Lower(s.message());
  for (const std::string& w : words) {
    if (message.find(::dealwire::integration::Lower(w)) == std::string::npos) return false;
  }
  return true;
}

// Matches a status whose code is `code` and whose message contains, ignoring
// case, at least one of `words`.
MATCHER_P2(StatusIsWithAnyOf, code, words,
           absl::StrCat("has status code ", absl::StatusCodeToString(code),
                        " and a message naming one of [", absl::StrJoin(words, ", "), "]")) {
  const absl::Status& s = ::dealwire::test_util::StatusOf(arg);
  *result_listener << "whose status is " << s;
  if (s.code() != code) return false;
  const std::string message = ::dealwire::integration::Lower(s.message());
  for (const std::string& w : words) {
    if (message.find(::dealwire::integration::Lower(w)) != std::string::npos) return true;
  }
  return false;
}

// --- Events ------------------------------------------------------------------

// Returns a new event id: a canonical lower-case (version 4) UUID, unique in
// this process and deterministic (derived from a counter, no random source).
std::string NewEventId();

// Returns a new organization id "<prefix>-<n>", unique in this process; a
// valid slug when `prefix` is one.
std::string NewOrgId(absl::string_view prefix = "org");

// Returns a new name "<prefix>-<n>" unique in this process (for
// subscriptions, partnerships).
std::string NewName(absl::string_view prefix);

// Returns "org/<org_id>", the conventional stream of an organization.
std::string OrgStream(absl::string_view org_id);

// Returns an event with a fresh id, a valid envelope (effective January 2026
// at MONTH precision, confidence REPORTED, one source) and `payload`.
v1::Event NewEvent(v1::EventPayload payload);

// OrganizationRegistered of `org_id`, a COMPANY named after it.
v1::Event OrgRegistered(absl::string_view org_id);

// OrganizationUpdated of `org_id` that sets `description` (at most 4000
// bytes).
v1::Event OrgUpdated(absl::string_view org_id, absl::string_view description);

// PartnershipFormed `partnership_id` between two registered organizations:
// `provider` as CLOUD_PROVIDER, `customer` as CUSTOMER.
v1::Event PartnershipFormed(absl::string_view partnership_id, absl::string_view provider,
                            absl::string_view customer);

// Returns the event's type as SubscriptionFilter.event_types names it, e.g.
// "OrganizationRegistered"; "" without payload.
std::string EventType(const v1::Event& event);

// Returns the organizations the payload names (for the payload types built
// above, plus the common organization fields).
std::vector<std::string> OrgsOf(const v1::Event& event);

// Returns whether `event` matches `filter` by the SubscriptionFilter rules
// (a model of the server's filter, for the payload types built above).
bool Matches(const v1::SubscriptionFilter& filter, const v1::Event& event);

// Returns "{position P, stream@version, id, type}" for failure messages.
std::string Describe(const v1::Event& event);

std::vector<uint64_t> PositionsOf(const std::vector<v1::Event>& events);
std::vector<uint64_t> VersionsOf(const std::vector<v1::Event>& events);
std::vector<std::string> IdsOf(const std::vector<v1::Event>& events);

using ::dealwire::test_util::Range;

// --- Calls -------------------------------------------------------------------

// The deadline every unary call gets unless a test says otherwise.
inline constexpr absl::Duration kCallTimeout = absl::Seconds(30);

// Sets the context's deadline to now + timeout.
void SetTimeout(grpc::ClientContext* ctx, absl::Duration timeout);

v1::ExpectedVersion ExpectState(v1::ExpectedState state);
v1::ExpectedVersion ExpectExact(uint64_t version);

// Builds an AppendRequest; `expected` absent leaves expected_version unset.
v1::AppendRequest MakeAppend(absl::string_view stream, std::vector<v1::Event> events,
                             std::optional<v1::ExpectedVersion> expected = std::nullopt);

// Calls Append; returns the response or the call's status.
absl::StatusOr<v1::AppendResponse> Append(v1::EventStore::StubInterface& stub,
                                          const v1::AppendRequest& request,
                                          absl::Duration timeout = kCallTimeout);
absl::StatusOr<v1::AppendResponse> Append(
    v1::EventStore::StubInterface& stub, absl::string_view stream, std::vector<v1::Event> events,
    std::optional<v1::ExpectedVersion> expected = std::nullopt,
    absl::Duration timeout = kCallTimeout);

absl::StatusOr<v1::ReadStreamResponse> ReadStream(v1::EventStore::StubInterface& stub,
                                                  const v1::ReadStreamRequest& request,
                                                  absl::Duration timeout = kCallTimeout);
absl::StatusOr<v1::ReadAllResponse> ReadAll(v1::EventStore::StubInterface& stub,
                                            const v1::ReadAllRequest& request,
                                            absl::Duration timeout = kCallTimeout);

// Reads a whole stream (or log), starting with `first` and following
// next_page_token until it is empty. Fails with the first failing call, or
// with INTERNAL when a page is repeated forever (more than max_pages pages).
absl::StatusOr<std::vector<v1::Event>> ReadWholeStream(v1::EventStore::StubInterface& stub,
                                                       v1::ReadStreamRequest first,
                                                       int max_pages = 100000);
absl::StatusOr<std::vector<v1::Event>> ReadWholeLog(v1::EventStore::StubInterface& stub,
                                                    v1::ReadAllRequest first = {},
                                                    int max_pages = 100000);

absl::StatusOr<v1::CommitCheckpointResponse> CommitCheckpoint(
    v1::EventStore::StubInterface& stub, absl::string_view name, uint64_t position);
absl::StatusOr<v1::DeleteSubscriptionResponse> DeleteSubscription(
    v1::EventStore::StubInterface& stub, absl::string_view name);
// Lists every named subscription, following page tokens (page_size each).
absl::StatusOr<std::vector<v1::NamedSubscription>> ListAllSubscriptions(
    v1::EventStore::StubInterface& stub, int page_size = 0);

// --- Subscriptions -------------------------------------------------------------

v1::SubscribeRequest FromStart();
v1::SubscribeRequest FromEnd();
v1::SubscribeRequest AfterPosition(uint64_t position);
// A named subscription without a start.
v1::SubscribeRequest Named(absl::string_view name);

// One Subscribe call. A thread reads every message into a queue as soon as it
// arrives; the test takes them with Next() and a timeout, so a server that
// sends nothing never hangs the test. The destructor cancels the call.
class Subscription {
 public:
  // Starts Subscribe(request) on `channel`, with a deadline of now +
  // call_timeout.
  Subscription(std::shared_ptr<grpc::Channel> channel, v1::SubscribeRequest request,
               absl::Duration call_timeout = absl::Minutes(5));
  ~Subscription();
  Subscription(const Subscription&) = delete;
  Subscription& operator=(const Subscription&) = delete;

  // Returns the next message, waiting up to `timeout`; nullopt when none came
  // in time or the call ended and every message was taken.
  std::optional<v1::SubscribeResponse> Next(absl::Duration timeout);

  // Waits up to `timeout` for the call to end and returns its status
  // (messages still queued stay available to Next); nullopt if it runs on.
  std::optional<absl::Status> WaitForEnd(absl::Duration timeout);

  // Cancels the call (the client side; the end status becomes CANCELLED).
  void Cancel();

  // Stops reading from the call: after the Read already in progress (at most
  // one more message), the reader thread waits, so HTTP/2 flow control soon
  // stops the server from sending (a slow subscriber). Resume() reads on.
  void Pause();
  void Resume();

 private:
  void Run();

  std::unique_ptr<v1::EventStore::Stub> stub_;
  v1::SubscribeRequest request_;
  grpc::ClientContext ctx_;
  absl::Mutex mu_;
  std::deque<v1::SubscribeResponse> queue_ ABSL_GUARDED_BY(mu_);
  std::optional<absl::Status> end_ ABSL_GUARDED_BY(mu_);
  bool paused_ ABSL_GUARDED_BY(mu_) = false;
  bool closing_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

// Returns the status a Subscribe call that should fail at its start ends
// with, waiting up to `timeout`; a call still running then gives
// DEADLINE_EXCEEDED saying so (and is cancelled).
absl::Status SubscribeError(std::shared_ptr<grpc::Channel> channel, v1::SubscribeRequest request,
                            absl::Duration timeout = absl::Seconds(15));

// A `caught_up`, `checkpoint` or `fell_behind` as received, with the
// position of the last event received before it.
struct Marker {
  uint64_t position = 0;
  uint64_t last_event_position = 0;  // 0 when no event came before
  size_t events_before = 0;
};

// What one Subscribe call delivered, in order, with every violation of the
// stream's ordering rules found while recording (see Record()).
struct Received {
  std::vector<v1::Event> events;
  std::vector<Marker> caught_up;
  std::vector<Marker> checkpoints;
  std::vector<Marker> fell_behind;
  std::vector<v1::FellBehind> fell_behind_messages;
  std::vector<v1::Heartbeat> heartbeats;
  // How many EventBatch messages arrived (their events are in `events`).
  size_t batches = 0;
  std::vector<std::string> violations;
  size_t messages = 0;

  // Adds a message and checks it against the contract's ordering rules:
  // events in strictly increasing position order; a caught_up, checkpoint or
  // fell_behind position at or after the last event delivered and not before
  // an earlier one; checkpoints strictly increasing; every event after such
  // a message beyond its position; a heartbeat's last_position at or after
  // the last event delivered; every event with its server-set fields set.
  void Record(v1::SubscribeResponse message);

  uint64_t last_event_position() const { return events.empty() ? 0 : events.back().position(); }
  uint64_t last_marker_position() const { return last_marker_; }

 private:
  uint64_t last_marker_ = 0;
  bool has_marker_ = false;
};

// Takes messages from `sub` into `got` until done(*got) holds. Fails with
// DEADLINE_EXCEEDED after `timeout`, or with the call's status when it ends
// first; both messages summarize what was received.
absl::Status ReadUntil(Subscription& sub, Received* got,
                       const std::function<bool(const Received&)>& done, absl::Duration timeout);

// Conditions for ReadUntil.
std::function<bool(const Received&)> HasCaughtUp(size_t times = 1);
std::function<bool(const Received&)> HasEvents(size_t count);
std::function<bool(const Received&)> HasEventAt(uint64_t position);
std::function<bool(const Received&)> HasCheckpointAtLeast(uint64_t position);
std::function<bool(const Received&)> HasHeartbeat();

// Returns a one-line summary of `got` (counts, first and last positions).
std::string Summary(const Received& got);

// --- Fixture -----------------------------------------------------------------

// Starts one dealwired per test on a fresh data directory; stops (or kills)
// it and removes the directory after the test, also when the test fails.
class ServerTest : public testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;

  // (Re)starts the server on this test's data directory, with ServerArgs();
  // the previous one must be stopped. Fails the test when it does not start.
  void StartServer();
  // More dealwired arguments for the fixture's server. Default: none
  virtual std::vector<std::string> ServerArgs() const { return {}; }

  ServerProcess& server() { return *server_; }
  v1::EventStore::Stub& stub() { return *stub_; }
  const std::string& data_dir() const { return dir_->path(); }

  // Stops the server (SIGTERM) and checks it exits 0 with its stopped line.
  void StopServer();

  // Registers a new organization "<prefix>-<n>" on its own stream; returns
  // its id (empty after a failure, which is reported).
  std::string RegisterOrg(absl::string_view prefix = "org");

  std::unique_ptr<TempDir> dir_;
  std::unique_ptr<ServerProcess> server_;
  std::unique_ptr<v1::EventStore::Stub> stub_;
};

}  // namespace dealwire::integration

namespace absl {
// Prints a StatusOr in failure messages by its status (found by
// argument-dependent lookup; abseil 20220623 has no printer for it).
template <typename T>
void PrintTo(const StatusOr<T>& s, std::ostream* os) {
  *os << "StatusOr(" << s.status() << ")";
}
}  // namespace absl
