// bench/load_events.h — valid Dealwire events for dealwire-bench.
//
// The load generator appends only events the server's domain validation
// accepts: it first registers a set of organizations private to the run
// (ids "bench-<run tag>-<k>", streams "org/<id>"), then appends
// OrganizationUpdated events for them, each about `event_bytes` serialized,
// with a fresh random UUID and the send time written into the description.
//
//   LoadEvents events({.run_tag = "1a2b3c4d", .orgs = 1000, .event_bytes = 200});
//   UuidGenerator ids(seed);
//   dealwire::v1::AppendRequest request;
//   events.FillRegistration(7, ids, &request);        // org 7, NO_STREAM
//   events.FillUpdates(7, 100, ids, absl::Now(), &request);  // 100 updates
//   ...
//   std::optional<absl::Time> sent = LoadEvents::SentTime(delivered_event);
//
// Thread-safety: a LoadEvents is immutable after construction and may be
// shared; a UuidGenerator belongs to one thread (or one caller whose calls
// never overlap) at a time.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "dealwire/v1/event_store.pb.h"
#include "dealwire/v1/events.pb.h"

namespace dealwire::bench {

// Makes random (version 4) UUIDs in the canonical 36-character lower-case
// form the server requires. Never the nil UUID.
class UuidGenerator {
 public:
  explicit UuidGenerator(uint64_t seed) : state_(seed) {}

  // Overwrites `*out` with a fresh UUID (no allocation once `*out` has held
  // one).
  void Next(std::string* out);

 private:
  uint64_t NextRandom();  // splitmix64

  uint64_t state_;
};

struct LoadEventsOptions {
  // Makes this run's organization ids unique, so that registering them is
  // never refused on a server that holds earlier runs: 1..16 characters of
  // [a-z0-9]. Required.
  std::string run_tag;

  // Number of organizations the run registers and updates. Default: 1000
  int orgs = 1000;

  // Target size in bytes of one serialized OrganizationUpdated event (the
  // description is padded to reach it; it cannot get smaller than the
  // envelope, about 150 bytes). Default: 200
  int event_bytes = 200;
};

class LoadEvents {
 public:
  // REQUIRES: options.orgs >= 1; options.run_tag as documented.
  explicit LoadEvents(LoadEventsOptions options);

  int orgs() const { return static_cast<int>(org_ids_.size()); }
  // REQUIRES: 0 <= org < orgs(), for these three.
  const std::string& OrgId(int org) const { return org_ids_[org]; }
  const std::string& Stream(int org) const { return streams_[org]; }

  // Returns the index of `org_id` when it is one of this run's organizations.
  std::optional<int> OrgIndex(absl::string_view org_id) const;

  // Returns the serialized size of one update event.
  size_t update_event_bytes() const { return update_template_.ByteSizeLong(); }

  // Sets `*request` to register organization `org`: one
  // OrganizationRegistered (kind COMPANY) to stream "org/<id>", expecting
  // NO_STREAM.
  void FillRegistration(int org, UuidGenerator& ids, v1::AppendRequest* request) const;

  // Sets `*request` to append `count` OrganizationUpdated events (description
  // changes) for `org` to its stream, expecting ANY, each with a fresh id and
  // `sent` in its description. Reuses the request's memory when it already
  // holds `count` events from an earlier call.
  void FillUpdates(int org, int count, UuidGenerator& ids, absl::Time sent,
                   v1::AppendRequest* request) const;

  // Returns the send time FillUpdates wrote into `event`, or nullopt when the
  // event is not such an update.
  static std::optional<absl::Time> SentTime(const v1::Event& event);

 private:
  std::string org_prefix_;  // "bench-<run tag>-"
  std::vector<std::string> org_ids_;
  std::vector<std::string> streams_;
  v1::Event update_template_;
};

}  // namespace dealwire::bench
