#include "bench/load_events.h"

#include <cstring>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"
#include "common/uuid.h"

namespace dealwire::bench {
namespace {

// The description of an update starts with this, followed by the send time as
// 19 decimal digits (Unix nanoseconds, zero-padded) and a space.
constexpr absl::string_view kSentPrefix = "sent_unix_ns=";
constexpr size_t kSentDigits = 19;

constexpr absl::string_view kFiller =
    "Dealwire load generator update: revised company profile after a reported funding "
    "round, new partnership announcements and an updated sector classification. ";

void WriteDigits(int64_t value, char* out) {
  uint64_t v = value < 0 ? 0 : static_cast<uint64_t>(value);
  for (size_t i = kSentDigits; i > 0; --i) {
    out[i - 1] = static_cast<char>('0' + v % 10);
    v /= 10;
  }
}

void FillEnvelope(v1::Event* event) {
  v1::EffectiveDate* effective = event->mutable_effective();
  effective->mutable_date()->set_year(2026);
  effective->mutable_date()->set_month(1);
  effective->mutable_date()->set_day(28);
  effective->set_precision(v1::DATE_PRECISION_DAY);
  v1::Source* source = event->add_sources();
  source->set_publisher("Dealwire Bench Wire");
  source->set_url("https://news.example.com/dealwire-bench");
  event->set_confidence(v1::CONFIDENCE_REPORTED);
}

}  // namespace

uint64_t UuidGenerator::NextRandom() {
  uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

void UuidGenerator::Next(std::string* out) {
  const uint64_t hi = NextRandom();
  common::FormatUuidV4(hi, NextRandom(), out);
}

LoadEvents::LoadEvents(LoadEventsOptions options)
    : org_prefix_(absl::StrCat("bench-", options.run_tag, "-")) {
  org_ids_.reserve(options.orgs);
  streams_.reserve(options.orgs);
  for (int k = 0; k < options.orgs; ++k) {
    org_ids_.push_back(absl::StrFormat("%s%06d", org_prefix_, k));
    streams_.push_back(absl::StrCat("org/", org_ids_.back()));
  }
  // The update template: a placeholder id and send time of the final sizes,
  // then filler until the serialized event reaches the target size.
  update_template_.set_event_id(std::string(36, '0'));
  FillEnvelope(&update_template_);
  v1::OrganizationUpdated* update =
      update_template_.mutable_payload()->mutable_organization_updated();
  update->set_org_id(org_ids_[0]);
  std::string description = absl::StrCat(kSentPrefix, std::string(kSentDigits, '0'), " ");
  update->set_description(description);
  const size_t target = options.event_bytes > 0 ? static_cast<size_t>(options.event_bytes) : 0;
  for (size_t i = 0; update_template_.ByteSizeLong() < target && description.size() < 4000; ++i) {
    description.push_back(kFiller[i % kFiller.size()]);
    update->set_description(description);
  }
}

std::optional<int> LoadEvents::OrgIndex(absl::string_view org_id) const {
  if (!absl::ConsumePrefix(&org_id, org_prefix_)) return std::nullopt;
  int k = 0;
  if (!absl::SimpleAtoi(org_id, &k) || k < 0 || k >= orgs()) return std::nullopt;
  return k;
}

void LoadEvents::FillRegistration(int org, UuidGenerator& ids, v1::AppendRequest* request) const {
  request->Clear();
  request->set_stream(streams_[org]);
  request->mutable_expected_version()->set_state(v1::EXPECTED_STATE_NO_STREAM);
  v1::Event* event = request->add_events();
  ids.Next(event->mutable_event_id());
  FillEnvelope(event);
  event->set_confidence(v1::CONFIDENCE_OFFICIAL);
  v1::OrganizationRegistered* reg = event->mutable_payload()->mutable_organization_registered();
  reg->set_org_id(org_ids_[org]);
  reg->set_name(absl::StrFormat("Bench Org %d", org));
  reg->set_kind(v1::ORGANIZATION_KIND_COMPANY);
  reg->add_sectors("ai-foundation-models");
  reg->set_description("Registered by dealwire-bench.");
}

void LoadEvents::FillUpdates(int org, int count, UuidGenerator& ids, absl::Time sent,
                             v1::AppendRequest* request) const {
  const bool reusable = request->events_size() == count &&
                        request->expected_version().state() == v1::EXPECTED_STATE_ANY &&
                        (count == 0 || request->events(0).payload().has_organization_updated());
  if (!reusable) {
    request->Clear();
    request->mutable_expected_version()->set_state(v1::EXPECTED_STATE_ANY);
    for (int i = 0; i < count; ++i) *request->add_events() = update_template_;
  }
  request->set_stream(streams_[org]);
  const int64_t sent_ns = absl::ToUnixNanos(sent);
  for (v1::Event& event : *request->mutable_events()) {
    ids.Next(event.mutable_event_id());
    v1::OrganizationUpdated* update = event.mutable_payload()->mutable_organization_updated();
    update->set_org_id(org_ids_[org]);
    WriteDigits(sent_ns, update->mutable_description()->data() + kSentPrefix.size());
  }
}

std::optional<absl::Time> LoadEvents::SentTime(const v1::Event& event) {
  if (!event.payload().has_organization_updated()) return std::nullopt;
  absl::string_view description = event.payload().organization_updated().description();
  if (!absl::ConsumePrefix(&description, kSentPrefix) || description.size() < kSentDigits) {
    return std::nullopt;
  }
  int64_t ns = 0;
  if (!absl::SimpleAtoi(description.substr(0, kSentDigits), &ns)) return std::nullopt;
  return absl::FromUnixNanos(ns);
}

}  // namespace dealwire::bench
