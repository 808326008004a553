// EventStore.AppendStream against a real dealwired: many appends in flight
// on one call, each with Append's guarantees, outcomes in request order.
#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/test_util.h"

namespace dealwire::integration {
namespace {

using ::testing::ElementsAreArray;

using StreamCall = grpc::ClientReaderWriter<v1::AppendStreamRequest, v1::AppendStreamResponse>;

class AppendStreamTest : public ServerTest {
 protected:
  // Opens a call with a deadline.
  std::unique_ptr<StreamCall> Open(grpc::ClientContext* context) {
    SetTimeout(context, kCallTimeout);
    return stub().AppendStream(context);
  }

  // Reads every event of `stream`.
  absl::StatusOr<std::vector<v1::Event>> StreamOf(const std::string& stream) {
    v1::ReadStreamRequest read;
    read.set_stream(stream);
    read.set_page_size(1000);
    return ReadWholeStream(stub(), read);
  }

  // Writes `appends` (correlation ids 1, 2, …), half-closes, reads every
  // outcome, and returns them in arrival order with the call's status.
  absl::StatusOr<std::vector<v1::AppendOutcome>> RunAll(
      const std::vector<v1::AppendRequest>& appends) {
    grpc::ClientContext context;
    std::unique_ptr<StreamCall> call = Open(&context);
    for (size_t i = 0; i < appends.size(); ++i) {
      v1::AppendStreamRequest request;
      request.set_correlation_id(i + 1);
      *request.mutable_append() = appends[i];
      grpc::WriteOptions options;
      if (i + 1 < appends.size()) options.set_buffer_hint();
      if (!call->Write(request, options)) break;
    }
    call->WritesDone();
    std::vector<v1::AppendOutcome> out;
    v1::AppendStreamResponse response;
    while (call->Read(&response)) {
      EXPECT_GT(response.outcomes_size(), 0);
      for (const v1::AppendOutcome& o : response.outcomes()) out.push_back(o);
    }
    if (absl::Status s = ToAbsl(call->Finish()); !s.ok()) return s;
    return out;
  }
};

TEST_F(AppendStreamTest, ManyAppendsInFlightGetTheirOutcomesInRequestOrder) {
  const std::string org = RegisterOrg("streamer");
  ASSERT_FALSE(org.empty());
  // 2000 appends: more than the server reads ahead (1024), so flow control
  // takes part; every other one to the org's stream with an exact version.
  std::vector<v1::AppendRequest> appends;
  uint64_t version = 0;  // the registration
  for (int i = 0; i < 2000; ++i) {
    if (i % 2 == 0) {
      appends.push_back(MakeAppend(OrgStream(org), {OrgUpdated(org, absl::StrCat("v", i))},
                                   ExpectExact(version++)));
    } else {
      const std::string other = NewOrgId("many");
      appends.push_back(MakeAppend(OrgStream(other), {OrgRegistered(other)}));
    }
  }
  ASSERT_OK_AND_ASSIGN(std::vector<v1::AppendOutcome> outcomes, RunAll(appends));
  ASSERT_EQ(outcomes.size(), appends.size());
  std::vector<uint64_t> want, got;
  uint64_t position = 0;
  for (size_t i = 0; i < outcomes.size(); ++i) {
    want.push_back(i + 1);
    got.push_back(outcomes[i].correlation_id());
    ASSERT_TRUE(outcomes[i].has_response()) << i << ": " << outcomes[i].failure().message();
    // Committed in request order: positions strictly increase.
    EXPECT_GT(outcomes[i].response().first_position(), position) << i;
    position = outcomes[i].response().first_position();
  }
  EXPECT_THAT(got, ElementsAreArray(want));
  // They are durable and readable like any append.
  ASSERT_OK_AND_ASSIGN(std::vector<v1::Event> stream, StreamOf(OrgStream(org)));
  EXPECT_EQ(stream.size(), 1001u);
}

TEST_F(AppendStreamTest, ARefusedAppendGetsItsStatusAndTheCallGoesOn) {
  const std::string org = RegisterOrg("refused");
  ASSERT_FALSE(org.empty());
  v1::Event bad = OrgUpdated("not-registered-anywhere", "x");
  v1::Event invalid = OrgUpdated(org, "y");
  invalid.set_event_id("not-a-uuid");
  const v1::Event good = OrgUpdated(org, "z");
  std::vector<v1::AppendRequest> appends = {
      MakeAppend(OrgStream(org), {bad}),                                       // unknown org
      MakeAppend(OrgStream(org), {invalid}),                                   // bad id
      MakeAppend(OrgStream(org), {good}, ExpectState(v1::EXPECTED_STATE_NO_STREAM)),  // exists
      MakeAppend("", {good}),                                                  // no stream
      MakeAppend(OrgStream(org), {}),                                          // no events
      MakeAppend(OrgStream(org), {good}),                                      // fine
      MakeAppend(OrgStream(org), {good}),                                      // a repeat
  };
  ASSERT_OK_AND_ASSIGN(std::vector<v1::AppendOutcome> outcomes, RunAll(appends));
  ASSERT_EQ(outcomes.size(), appends.size());
  const std::vector<std::pair<int, std::string>> failures = {
      {grpc::StatusCode::FAILED_PRECONDITION, "not-registered-anywhere"},
      {grpc::StatusCode::INVALID_ARGUMENT, "events[0].event_id"},
      {grpc::StatusCode::ABORTED, "actual version 0"},
      {grpc::StatusCode::INVALID_ARGUMENT, "stream"},
      {grpc::StatusCode::INVALID_ARGUMENT, "events"},
  };
  for (size_t i = 0; i < failures.size(); ++i) {
    SCOPED_TRACE(i);
    EXPECT_EQ(outcomes[i].correlation_id(), i + 1);
    ASSERT_TRUE(outcomes[i].has_failure());
    EXPECT_EQ(outcomes[i].failure().code(), failures[i].first) << outcomes[i].failure().message();
    EXPECT_THAT(outcomes[i].failure().message(), testing::HasSubstr(failures[i].second));
  }
  ASSERT_TRUE(outcomes[5].has_response());
  EXPECT_FALSE(outcomes[5].response().duplicate());
  ASSERT_TRUE(outcomes[6].has_response());
  EXPECT_TRUE(outcomes[6].response().duplicate());
  EXPECT_EQ(outcomes[6].response().first_position(), outcomes[5].response().first_position());
  // Nothing of the refusals was written: the registration and one update.
  ASSERT_OK_AND_ASSIGN(std::vector<v1::Event> stream, StreamOf(OrgStream(org)));
  EXPECT_EQ(stream.size(), 2u);
}

TEST_F(AppendStreamTest, AnEmptyCallEndsOk) {
  ASSERT_OK_AND_ASSIGN(std::vector<v1::AppendOutcome> outcomes, RunAll({}));
  EXPECT_TRUE(outcomes.empty());
}

TEST_F(AppendStreamTest, AShutdownAnswersWhatWasReadThenEndsUnavailable) {
  const std::string org = RegisterOrg("shutdown");
  ASSERT_FALSE(org.empty());
  grpc::ClientContext context;
  std::unique_ptr<StreamCall> call = Open(&context);
  v1::AppendStreamRequest request;
  request.set_correlation_id(7);
  *request.mutable_append() = MakeAppend(OrgStream(org), {OrgUpdated(org, "before")});
  ASSERT_TRUE(call->Write(request));
  v1::AppendStreamResponse response;
  ASSERT_TRUE(call->Read(&response));
  ASSERT_EQ(response.outcomes_size(), 1);
  EXPECT_EQ(response.outcomes(0).correlation_id(), 7u);
  EXPECT_TRUE(response.outcomes(0).has_response());
  // The server stops while the call is open: the call ends UNAVAILABLE.
  StopServer();
  while (call->Read(&response)) {
  }
  EXPECT_THAT(ToAbsl(call->Finish()), StatusIs(absl::StatusCode::kUnavailable));
  StartServer();
  ASSERT_OK_AND_ASSIGN(std::vector<v1::Event> stream, StreamOf(OrgStream(org)));
  EXPECT_EQ(stream.size(), 2u);
}

}  // namespace
}  // namespace dealwire::integration
