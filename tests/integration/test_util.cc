#include "tests/integration/test_util.h"

#include <algorithm>
#include <atomic>
#include <cctype>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_format.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/duration.pb.h"
#include "google/protobuf/reflection.h"
#include "grpcpp/support/sync_stream.h"

namespace dealwire::integration {
namespace {

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

std::atomic<uint64_t> next_id_counter{1};

// splitmix64: a bijection of 64-bit values, so distinct counters give
// distinct outputs.
uint64_t Mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// The payload message inside EventPayload, or nullptr when no case is set.
const Message* PayloadMessage(const v1::Event& event) {
  const v1::EventPayload& payload = event.payload();
  const google::protobuf::OneofDescriptor* oneof =
      v1::EventPayload::descriptor()->FindOneofByName("payload");
  const FieldDescriptor* field = payload.GetReflection()->GetOneofFieldDescriptor(payload, oneof);
  if (field == nullptr) return nullptr;
  return &payload.GetReflection()->GetMessage(payload, field);
}

bool IsOrgField(absl::string_view name) {
  static const char* const kNames[] = {"org_id",      "company_id",     "investor_id",
                                       "holder_id",   "acquirer_id",    "target_id",
                                       "owner_id",    "beneficiary_id", "parent_org_id",
                                       "lead_investor_ids"};
  for (const char* n : kNames) {
    if (name == n) return true;
  }
  return false;
}

}  // namespace

absl::Status ToAbsl(const grpc::Status& s) {
  return absl::Status(static_cast<absl::StatusCode>(s.error_code()), s.error_message());
}

std::string Lower(absl::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// --- Events ------------------------------------------------------------------

std::string NewEventId() {
  const uint64_t n = next_id_counter.fetch_add(1);
  uint64_t hi = Mix(n ^ 0x5deece66dULL);
  uint64_t lo = Mix(n);
  hi = (hi & ~0xf000ULL) | 0x4000ULL;                        // version 4
  lo = (lo & ~(0xcULL << 60)) | (0x8ULL << 60);              // variant 10xx
  return absl::StrFormat("%08x-%04x-%04x-%04x-%012x", hi >> 32, (hi >> 16) & 0xffff, hi & 0xffff,
                         lo >> 48, lo & 0xffffffffffffULL);
}

std::string NewOrgId(absl::string_view prefix) { return NewName(prefix); }

std::string NewName(absl::string_view prefix) {
  static std::atomic<uint64_t> counter{1};
  return absl::StrCat(prefix, "-", counter.fetch_add(1));
}

std::string OrgStream(absl::string_view org_id) { return absl::StrCat("org/", org_id); }

v1::Event NewEvent(v1::EventPayload payload) {
  v1::Event event;
  event.set_event_id(NewEventId());
  v1::EffectiveDate* effective = event.mutable_effective();
  effective->mutable_date()->set_year(2026);
  effective->mutable_date()->set_month(1);
  effective->set_precision(v1::DATE_PRECISION_MONTH);
  event.set_confidence(v1::CONFIDENCE_REPORTED);
  v1::Source* source = event.add_sources();
  source->set_publisher("Dealwire integration test");
  source->set_url("https://example.com/dealwire-integration-test");
  *event.mutable_payload() = std::move(payload);
  return event;
}

v1::Event OrgRegistered(absl::string_view org_id) {
  v1::EventPayload payload;
  v1::OrganizationRegistered* reg = payload.mutable_organization_registered();
  reg->set_org_id(std::string(org_id));
  reg->set_name(absl::StrCat("Company ", org_id));
  reg->set_kind(v1::ORGANIZATION_KIND_COMPANY);
  return NewEvent(std::move(payload));
}

v1::Event OrgUpdated(absl::string_view org_id, absl::string_view description) {
  v1::EventPayload payload;
  v1::OrganizationUpdated* update = payload.mutable_organization_updated();
  update->set_org_id(std::string(org_id));
  update->set_description(std::string(description));
  return NewEvent(std::move(payload));
}

v1::Event PartnershipFormed(absl::string_view partnership_id, absl::string_view provider,
                            absl::string_view customer) {
  v1::EventPayload payload;
  v1::PartnershipFormed* formed = payload.mutable_partnership_formed();
  formed->set_partnership_id(std::string(partnership_id));
  v1::PartnershipParty* p = formed->add_parties();
  p->set_org_id(std::string(provider));
  p->set_role(v1::PARTNERSHIP_ROLE_CLOUD_PROVIDER);
  p = formed->add_parties();
  p->set_org_id(std::string(customer));
  p->set_role(v1::PARTNERSHIP_ROLE_CUSTOMER);
  formed->set_description("integration test partnership");
  return NewEvent(std::move(payload));
}

std::string EventType(const v1::Event& event) {
  const Message* m = PayloadMessage(event);
  return m == nullptr ? "" : m->GetDescriptor()->name();
}

std::vector<std::string> OrgsOf(const v1::Event& event) {
  std::vector<std::string> orgs;
  const Message* m = PayloadMessage(event);
  if (m == nullptr) return orgs;
  const Reflection* r = m->GetReflection();
  std::vector<const FieldDescriptor*> fields;
  r->ListFields(*m, &fields);
  for (const FieldDescriptor* f : fields) {
    if (f->type() == FieldDescriptor::TYPE_STRING && IsOrgField(f->name())) {
      if (f->is_repeated()) {
        for (int i = 0; i < r->FieldSize(*m, f); ++i) orgs.push_back(r->GetRepeatedString(*m, f, i));
      } else if (!r->GetString(*m, f).empty()) {
        orgs.push_back(r->GetString(*m, f));
      }
    } else if (f->name() == "parties" && f->is_repeated()) {
      for (int i = 0; i < r->FieldSize(*m, f); ++i) {
        const Message& party = r->GetRepeatedMessage(*m, f, i);
        const FieldDescriptor* org = party.GetDescriptor()->FindFieldByName("org_id");
        if (org != nullptr) orgs.push_back(party.GetReflection()->GetString(party, org));
      }
    }
  }
  return orgs;
}

bool Matches(const v1::SubscriptionFilter& filter, const v1::Event& event) {
  if (!filter.event_types().empty() &&
      std::find(filter.event_types().begin(), filter.event_types().end(), EventType(event)) ==
          filter.event_types().end()) {
    return false;
  }
  if (!filter.stream_prefixes().empty() &&
      std::none_of(filter.stream_prefixes().begin(), filter.stream_prefixes().end(),
                   [&](const std::string& p) { return absl::StartsWith(event.stream(), p); })) {
    return false;
  }
  if (!filter.org_ids().empty()) {
    const std::vector<std::string> orgs = OrgsOf(event);
    if (std::none_of(orgs.begin(), orgs.end(), [&](const std::string& o) {
          return std::find(filter.org_ids().begin(), filter.org_ids().end(), o) !=
                 filter.org_ids().end();
        })) {
      return false;
    }
  }
  return true;
}

std::string Describe(const v1::Event& event) {
  return absl::StrCat("{position ", event.position(), ", ", event.stream(), "@",
                      event.stream_version(), ", id ", event.event_id(), ", ", EventType(event),
                      "}");
}

std::vector<uint64_t> PositionsOf(const std::vector<v1::Event>& events) {
  std::vector<uint64_t> out;
  out.reserve(events.size());
  for (const v1::Event& e : events) out.push_back(e.position());
  return out;
}

std::vector<uint64_t> VersionsOf(const std::vector<v1::Event>& events) {
  std::vector<uint64_t> out;
  out.reserve(events.size());
  for (const v1::Event& e : events) out.push_back(e.stream_version());
  return out;
}

std::vector<std::string> IdsOf(const std::vector<v1::Event>& events) {
  std::vector<std::string> out;
  out.reserve(events.size());
  for (const v1::Event& e : events) out.push_back(e.event_id());
  return out;
}

// --- Calls -------------------------------------------------------------------

void SetTimeout(grpc::ClientContext* ctx, absl::Duration timeout) {
  ctx->set_deadline(absl::ToChronoTime(absl::Now() + timeout));
}

v1::ExpectedVersion ExpectState(v1::ExpectedState state) {
  v1::ExpectedVersion e;
  e.set_state(state);
  return e;
}

v1::ExpectedVersion ExpectExact(uint64_t version) {
  v1::ExpectedVersion e;
  e.set_exact(version);
  return e;
}

v1::AppendRequest MakeAppend(absl::string_view stream, std::vector<v1::Event> events,
                             std::optional<v1::ExpectedVersion> expected) {
  v1::AppendRequest request;
  request.set_stream(std::string(stream));
  if (expected.has_value()) *request.mutable_expected_version() = *expected;
  for (v1::Event& e : events) *request.add_events() = std::move(e);
  return request;
}

absl::StatusOr<v1::AppendResponse> Append(v1::EventStore::StubInterface& stub,
                                          const v1::AppendRequest& request,
                                          absl::Duration timeout) {
  grpc::ClientContext ctx;
  SetTimeout(&ctx, timeout);
  v1::AppendResponse response;
  const grpc::Status s = stub.Append(&ctx, request, &response);
  if (!s.ok()) return ToAbsl(s);
  return response;
}

absl::StatusOr<v1::AppendResponse> Append(v1::EventStore::StubInterface& stub,
                                          absl::string_view stream, std::vector<v1::Event> events,
                                          std::optional<v1::ExpectedVersion> expected,
                                          absl::Duration timeout) {
  return Append(stub, MakeAppend(stream, std::move(events), std::move(expected)), timeout);
}

absl::StatusOr<v1::ReadStreamResponse> ReadStream(v1::EventStore::StubInterface& stub,
                                                  const v1::ReadStreamRequest& request,
                                                  absl::Duration timeout) {
  grpc::ClientContext ctx;
  SetTimeout(&ctx, timeout);
  v1::ReadStreamResponse response;
  const grpc::Status s = stub.ReadStream(&ctx, request, &response);
  if (!s.ok()) return ToAbsl(s);
  return response;
}

absl::StatusOr<v1::ReadAllResponse> ReadAll(v1::EventStore::StubInterface& stub,
                                            const v1::ReadAllRequest& request,
                                            absl::Duration timeout) {
  grpc::ClientContext ctx;
  SetTimeout(&ctx, timeout);
  v1::ReadAllResponse response;
  const grpc::Status s = stub.ReadAll(&ctx, request, &response);
  if (!s.ok()) return ToAbsl(s);
  return response;
}

absl::StatusOr<std::vector<v1::Event>> ReadWholeStream(v1::EventStore::StubInterface& stub,
                                                       v1::ReadStreamRequest first,
                                                       int max_pages) {
  std::vector<v1::Event> all;
  v1::ReadStreamRequest request = std::move(first);
  for (int page = 0; page < max_pages; ++page) {
    absl::StatusOr<v1::ReadStreamResponse> r = ReadStream(stub, request);
    if (!r.ok()) return r.status();
    for (v1::Event& e : *r->mutable_events()) all.push_back(std::move(e));
    if (r->next_page_token().empty()) return all;
    request.set_page_token(r->next_page_token());
  }
  return absl::InternalError(absl::StrCat("ReadStream paging did not end after ", max_pages,
                                          " pages (", all.size(), " events)"));
}

absl::StatusOr<std::vector<v1::Event>> ReadWholeLog(v1::EventStore::StubInterface& stub,
                                                    v1::ReadAllRequest first, int max_pages) {
  std::vector<v1::Event> all;
  v1::ReadAllRequest request = std::move(first);
  for (int page = 0; page < max_pages; ++page) {
    absl::StatusOr<v1::ReadAllResponse> r = ReadAll(stub, request);
    if (!r.ok()) return r.status();
    for (v1::Event& e : *r->mutable_events()) all.push_back(std::move(e));
    if (r->next_page_token().empty()) return all;
    request.set_page_token(r->next_page_token());
  }
  return absl::InternalError(absl::StrCat("ReadAll paging did not end after ", max_pages,
                                          " pages (", all.size(), " events)"));
}

absl::StatusOr<v1::CommitCheckpointResponse> CommitCheckpoint(v1::EventStore::StubInterface& stub,
                                                              absl::string_view name,
                                                              uint64_t position) {
  grpc::ClientContext ctx;
  SetTimeout(&ctx, kCallTimeout);
  v1::CommitCheckpointRequest request;
  request.set_subscription_name(std::string(name));
  request.set_position(position);
  v1::CommitCheckpointResponse response;
  const grpc::Status s = stub.CommitCheckpoint(&ctx, request, &response);
  if (!s.ok()) return ToAbsl(s);
  return response;
}

absl::StatusOr<v1::DeleteSubscriptionResponse> DeleteSubscription(
    v1::EventStore::StubInterface& stub, absl::string_view name) {
  grpc::ClientContext ctx;
  SetTimeout(&ctx, kCallTimeout);
  v1::DeleteSubscriptionRequest request;
  request.set_name(std::string(name));
  v1::DeleteSubscriptionResponse response;
  const grpc::Status s = stub.DeleteSubscription(&ctx, request, &response);
  if (!s.ok()) return ToAbsl(s);
  return response;
}

absl::StatusOr<std::vector<v1::NamedSubscription>> ListAllSubscriptions(
    v1::EventStore::StubInterface& stub, int page_size) {
  std::vector<v1::NamedSubscription> all;
  v1::ListSubscriptionsRequest request;
  request.set_page_size(page_size);
  for (int page = 0; page < 10000; ++page) {
    grpc::ClientContext ctx;
    SetTimeout(&ctx, kCallTimeout);
    v1::ListSubscriptionsResponse response;
    const grpc::Status s = stub.ListSubscriptions(&ctx, request, &response);
    if (!s.ok()) return ToAbsl(s);
    for (v1::NamedSubscription& n : *response.mutable_subscriptions()) all.push_back(std::move(n));
    if (response.next_page_token().empty()) return all;
    request.set_page_token(response.next_page_token());
  }
  return absl::InternalError("ListSubscriptions paging did not end");
}

// --- Subscriptions -------------------------------------------------------------

v1::SubscribeRequest FromStart() {
  v1::SubscribeRequest r;
  r.set_from_start(true);
  return r;
}

v1::SubscribeRequest FromEnd() {
  v1::SubscribeRequest r;
  r.set_from_end(true);
  return r;
}

v1::SubscribeRequest AfterPosition(uint64_t position) {
  v1::SubscribeRequest r;
  r.set_after_position(position);
  return r;
}

v1::SubscribeRequest Named(absl::string_view name) {
  v1::SubscribeRequest r;
  r.set_subscription_name(std::string(name));
  return r;
}

Subscription::Subscription(std::shared_ptr<grpc::Channel> channel, v1::SubscribeRequest request,
                           absl::Duration call_timeout)
    : stub_(v1::EventStore::NewStub(std::move(channel))), request_(std::move(request)) {
  SetTimeout(&ctx_, call_timeout);
  thread_ = std::thread([this] { Run(); });
}

Subscription::~Subscription() {
  {
    absl::MutexLock lock(&mu_);
    closing_ = true;
  }
  ctx_.TryCancel();
  thread_.join();
}

void Subscription::Run() {
  std::unique_ptr<grpc::ClientReader<v1::SubscribeResponse>> reader =
      stub_->Subscribe(&ctx_, request_);
  v1::SubscribeResponse message;
  while (reader->Read(&message)) {
    absl::MutexLock lock(&mu_);
    queue_.push_back(std::move(message));
    message.Clear();
    const auto go_on = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return !paused_ || closing_;
    };
    mu_.Await(absl::Condition(&go_on));
  }
  const grpc::Status s = reader->Finish();
  absl::MutexLock lock(&mu_);
  end_ = ToAbsl(s);
}

std::optional<v1::SubscribeResponse> Subscription::Next(absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  const auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return !queue_.empty() || end_.has_value();
  };
  mu_.AwaitWithTimeout(absl::Condition(&ready), timeout);
  if (queue_.empty()) return std::nullopt;
  v1::SubscribeResponse m = std::move(queue_.front());
  queue_.pop_front();
  return m;
}

std::optional<absl::Status> Subscription::WaitForEnd(absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  const auto ended = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return end_.has_value(); };
  mu_.AwaitWithTimeout(absl::Condition(&ended), timeout);
  return end_;
}

void Subscription::Cancel() { ctx_.TryCancel(); }

void Subscription::Pause() {
  absl::MutexLock lock(&mu_);
  paused_ = true;
}

void Subscription::Resume() {
  absl::MutexLock lock(&mu_);
  paused_ = false;
}

absl::Status SubscribeError(std::shared_ptr<grpc::Channel> channel, v1::SubscribeRequest request,
                            absl::Duration timeout) {
  Subscription sub(std::move(channel), std::move(request));
  std::optional<absl::Status> end = sub.WaitForEnd(timeout);
  if (!end.has_value()) {
    return absl::DeadlineExceededError(absl::StrCat(
        "the Subscribe call is still running after ", absl::FormatDuration(timeout)));
  }
  return *end;
}

void Received::Record(v1::SubscribeResponse message) {
  ++messages;
  const uint64_t last = last_event_position();
  const auto marker = [&](absl::string_view kind, uint64_t position) {
    if (position < last) {
      violations.push_back(absl::StrCat(kind, " at ", position, " after event at ", last));
    }
    if (has_marker_ && position < last_marker_) {
      violations.push_back(
          absl::StrCat(kind, " at ", position, " before an earlier marker at ", last_marker_));
    }
    last_marker_ = std::max(last_marker_, position);
    has_marker_ = true;
    return Marker{position, last, events.size()};
  };
  // Checks one delivered event against everything before it and keeps it.
  const auto take_event = [&](v1::Event& e) {
    const uint64_t before = last_event_position();
    if (!events.empty() && e.position() <= before) {
      violations.push_back(absl::StrCat("event at ", e.position(), " after event at ", before));
    }
    if (has_marker_ && e.position() <= last_marker_) {
      violations.push_back(absl::StrCat("event at ", e.position(),
                                        " after a marker promising everything up to ",
                                        last_marker_));
    }
    if (e.position() == 0 || e.event_id().empty() || e.stream().empty() ||
        !e.has_recorded_time() || e.recorded_by().empty() || EventType(e).empty()) {
      violations.push_back(
          absl::StrCat("event with server-set fields missing: ", e.ShortDebugString()));
    }
    events.push_back(std::move(e));
  };
  switch (message.message_case()) {
    case v1::SubscribeResponse::kEvent:
      take_event(*message.mutable_event());
      break;
    case v1::SubscribeResponse::kEvents:
      if (message.events().events().empty()) violations.push_back("an empty event batch");
      for (v1::Event& e : *message.mutable_events()->mutable_events()) take_event(e);
      ++batches;
      break;
    case v1::SubscribeResponse::kCaughtUp:
      caught_up.push_back(marker("caught_up", message.caught_up().position()));
      break;
    case v1::SubscribeResponse::kCheckpoint: {
      const uint64_t p = message.checkpoint().position();
      if (!checkpoints.empty() && p <= checkpoints.back().position) {
        violations.push_back(absl::StrCat("checkpoint at ", p, " after checkpoint at ",
                                          checkpoints.back().position));
      }
      checkpoints.push_back(marker("checkpoint", p));
      break;
    }
    case v1::SubscribeResponse::kHeartbeat:
      if (message.heartbeat().last_position() < last) {
        violations.push_back(absl::StrCat("heartbeat with last_position ",
                                          message.heartbeat().last_position(),
                                          " after event at ", last));
      }
      heartbeats.push_back(message.heartbeat());
      break;
    case v1::SubscribeResponse::kFellBehind:
      fell_behind.push_back(marker("fell_behind", message.fell_behind().position()));
      fell_behind_messages.push_back(message.fell_behind());
      break;
    case v1::SubscribeResponse::MESSAGE_NOT_SET:
      violations.push_back("a message with no case set");
      break;
  }
}

std::string Summary(const Received& got) {
  std::string s = absl::StrCat(got.messages, " messages: ", got.events.size(), " events");
  if (!got.events.empty()) {
    absl::StrAppend(&s, " (positions ", got.events.front().position(), "..",
                    got.events.back().position(), ")");
  }
  absl::StrAppend(&s, ", ", got.caught_up.size(), " caught_up");
  if (!got.caught_up.empty()) absl::StrAppend(&s, " (last at ", got.caught_up.back().position, ")");
  absl::StrAppend(&s, ", ", got.checkpoints.size(), " checkpoints");
  if (!got.checkpoints.empty()) {
    absl::StrAppend(&s, " (last at ", got.checkpoints.back().position, ")");
  }
  absl::StrAppend(&s, ", ", got.heartbeats.size(), " heartbeats, ", got.fell_behind.size(),
                  " fell_behind, ", got.violations.size(), " violations");
  if (!got.violations.empty()) absl::StrAppend(&s, " (first: ", got.violations.front(), ")");
  return s;
}

absl::Status ReadUntil(Subscription& sub, Received* got,
                       const std::function<bool(const Received&)>& done, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (!done(*got)) {
    const absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) {
      return absl::DeadlineExceededError(absl::StrCat("condition not met within ",
                                                      absl::FormatDuration(timeout),
                                                      "; received ", Summary(*got)));
    }
    std::optional<v1::SubscribeResponse> m = sub.Next(left);
    if (m.has_value()) {
      got->Record(std::move(*m));
      continue;
    }
    std::optional<absl::Status> end = sub.WaitForEnd(absl::ZeroDuration());
    if (end.has_value()) {
      return absl::Status(end->ok() ? absl::StatusCode::kUnknown : end->code(),
                          absl::StrCat("the Subscribe call ended (", end->ToString(),
                                       ") before the condition held; received ",
                                       Summary(*got)));
    }
  }
  return absl::OkStatus();
}

std::function<bool(const Received&)> HasCaughtUp(size_t times) {
  return [times](const Received& r) { return r.caught_up.size() >= times; };
}

std::function<bool(const Received&)> HasEvents(size_t count) {
  return [count](const Received& r) { return r.events.size() >= count; };
}

std::function<bool(const Received&)> HasEventAt(uint64_t position) {
  return [position](const Received& r) { return r.last_event_position() >= position; };
}

std::function<bool(const Received&)> HasCheckpointAtLeast(uint64_t position) {
  return [position](const Received& r) {
    return !r.checkpoints.empty() && r.checkpoints.back().position >= position;
  };
}

std::function<bool(const Received&)> HasHeartbeat() {
  return [](const Received& r) { return !r.heartbeats.empty(); };
}

// --- Fixture -----------------------------------------------------------------

void ServerTest::SetUp() {
  const testing::TestInfo* info = testing::UnitTest::GetInstance()->current_test_info();
  std::string tag = absl::StrCat(info->test_suite_name(), "_", info->name());
  for (char& c : tag) {
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  }
  dir_ = std::make_unique<TempDir>(tag);
  StartServer();
}

void ServerTest::StartServer() {
  ASSERT_TRUE(server_ == nullptr || !server_->running()) << "the previous server still runs";
  stub_.reset();
  server_.reset();
  ServerProcess::Options options;
  options.data_dir = dir_->path();
  options.extra_args = ServerArgs();
  absl::StatusOr<std::unique_ptr<ServerProcess>> started = ServerProcess::Start(options);
  ASSERT_TRUE(started.ok()) << started.status();
  server_ = std::move(started).value();
  stub_ = v1::EventStore::NewStub(server_->Channel());
}

void ServerTest::StopServer() {
  ASSERT_NE(server_, nullptr);
  stub_.reset();  // its idle connection would delay the graceful stop
  absl::StatusOr<ProcessExit> exit = server_->Stop();
  ASSERT_TRUE(exit.ok()) << exit.status();
  EXPECT_TRUE(exit->exited && exit->exit_code == 0)
      << "dealwired ended with " << exit->Describe() << "; stderr:\n"
      << exit->output;
  bool stopped_line = false;
  for (const std::string& line : server_->StderrLines()) {
    if (absl::StartsWith(line, "dealwired ") && absl::StrContains(line, " stopped ") &&
        absl::StrContains(line, absl::StrCat("data_dir=", data_dir()))) {
      stopped_line = true;
    }
  }
  EXPECT_TRUE(stopped_line) << "no 'dealwired <version> stopped data_dir=" << data_dir()
                            << " ...' line on stderr:\n"
                            << server_->StderrTail();
}

void ServerTest::TearDown() {
  stub_.reset();
  if (server_ != nullptr && server_->running()) {
    // Every test ends with a graceful stop: a server that cannot shut down
    // after the test's calls ended (e.g. a leaked subscription) fails here.
    absl::StatusOr<ProcessExit> exit = server_->Stop();
    EXPECT_TRUE(exit.ok()) << "graceful stop after the test: " << exit.status();
    if (exit.ok()) {
      EXPECT_TRUE(exit->exited && exit->exit_code == 0)
          << "dealwired ended with " << exit->Describe();
    }
  }
  server_.reset();
  dir_.reset();
}

std::string ServerTest::RegisterOrg(absl::string_view prefix) {
  const std::string org = NewOrgId(prefix);
  absl::StatusOr<v1::AppendResponse> r =
      Append(stub(), OrgStream(org), {OrgRegistered(org)}, ExpectState(v1::EXPECTED_STATE_NO_STREAM));
  EXPECT_TRUE(r.ok()) << "registering " << org << ": " << r.status();
  return r.ok() ? org : "";
}

}  // namespace dealwire::integration
