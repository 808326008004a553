// Tests of how events are kept in the log (domain/codec.h): the stored data
// is the envelope's kept fields and the payload in the deterministic form
// (so an identical retry is identical bytes, and retries of events stored by
// earlier versions are recognised), and decoding gives the event back.
#include "domain/codec.h"

#include <string>
#include <vector>

#include "common/event_jsonl.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/common/status_matchers.h"

namespace dealwire::domain {
namespace {

namespace v1 = dealwire::v1;
using ::dealwire::test_util::StatusIsWith;

// The kept fields as a message of their own, serialized deterministically:
// how the data was made before it was written field by field.
std::string KeptBytes(const v1::Event& e, const std::string& recorded_by) {
  v1::Event kept;
  *kept.mutable_effective() = e.effective();
  *kept.mutable_sources() = e.sources();
  kept.set_confidence(e.confidence());
  kept.set_recorded_by(recorded_by);
  *kept.mutable_payload() = e.payload();
  return DeterministicBytes(kept);
}

TEST(CodecTest, DataIsTheKeptFieldsInDeterministicForm) {
  ASSERT_OK_AND_ASSIGN(std::vector<v1::Event> seed,
                       common::ReadEventsJsonlFile(DEALWIRE_SOURCE_DIR "/demo/seed_story.jsonl"));
  ASSERT_GT(seed.size(), 40u);
  for (const v1::Event& e : seed) {
    for (const std::string& who : {std::string("anonymous"), std::string("")}) {
      store::ProposedEvent out;
      ASSERT_OK(EncodeEvent(e, e.stream(), "event", who, &out));
      EXPECT_EQ(out.data, KeptBytes(e, who)) << e.event_id();
      EXPECT_EQ(out.event_id, e.event_id());
      // Decoding the record gives the event back, with the principal.
      store::RecordedEvent r;
      r.position = store::Position(7);
      r.stream = e.stream();
      r.event_id = out.event_id;
      r.data = out.data;
      v1::Event back;
      ASSERT_OK(DecodeEvent(r, &back));
      EXPECT_EQ(back.payload().SerializeAsString(), e.payload().SerializeAsString());
      EXPECT_EQ(back.recorded_by(), who);
      EXPECT_EQ(back.position(), 7u);
    }
  }
}

// The wire form written without parsing (AppendEventWire) parses to what
// DecodeEvent gives, for recorded times before and after 1970, with and
// without a stream version, and EventWireSize is its exact size.
TEST(CodecTest, TheWireFormIsTheDecodedEvent) {
  ASSERT_OK_AND_ASSIGN(std::vector<v1::Event> seed,
                       common::ReadEventsJsonlFile(DEALWIRE_SOURCE_DIR "/demo/seed_story.jsonl"));
  const absl::Time times[] = {absl::UnixEpoch(), absl::FromUnixMicros(1764633600123456),
                              absl::FromUnixMicros(-1234567), absl::FromUnixSeconds(86400)};
  uint64_t k = 0;
  for (const v1::Event& e : seed) {
    store::ProposedEvent out;
    ASSERT_OK(EncodeEvent(e, e.stream(), "event", "tester", &out));
    store::RecordedEvent r;
    r.position = store::Position(k % 2 == 0 ? 7 : (uint64_t{1} << 40) + k);
    r.stream = e.stream();
    r.stream_version = store::StreamVersion(k % 3 == 0 ? 0 : 300 + k);
    r.recorded_time = times[k % 4];
    r.event_id = out.event_id;
    r.data = out.data;
    ++k;
    std::string wire = "prefix";
    AppendEventWire(r, &wire);
    ASSERT_EQ(wire.size(), 6 + EventWireSize(r)) << e.event_id();
    v1::Event parsed, decoded;
    ASSERT_TRUE(parsed.ParseFromString(wire.substr(6))) << e.event_id();
    ASSERT_OK(DecodeEvent(r, &decoded));
    EXPECT_EQ(DeterministicBytes(parsed), DeterministicBytes(decoded)) << e.event_id();
    EXPECT_EQ(parsed.position(), r.position.value());
    EXPECT_EQ(parsed.stream_version(), r.stream_version.value());
  }
}

TEST(CodecTest, TheEventsStreamMustBeTheAppendsOrEmpty) {
  ASSERT_OK_AND_ASSIGN(std::vector<v1::Event> seed,
                       common::ReadEventsJsonlFile(DEALWIRE_SOURCE_DIR "/demo/seed_story.jsonl"));
  store::ProposedEvent out;
  EXPECT_THAT(EncodeEvent(seed[0], "org/elsewhere", "events[3]", "a", &out),
              StatusIsWith(absl::StatusCode::kInvalidArgument, "events[3].stream"));
  v1::Event no_stream = seed[0];
  no_stream.clear_stream();
  EXPECT_OK(EncodeEvent(no_stream, "org/anything", "events[0]", "a", &out));
}

}  // namespace
}  // namespace dealwire::domain
