// The rules of amendments: a retraction or correction names a standing
// original event, and the history without it (or with its replacement at its
// position) stays consistent. A correction keeps the type and what the event
// is about (INVALID_ARGUMENT otherwise, as events.proto says).
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/event_types.h"
#include "domain/decision_state.h"
#include "domain/references.h"

namespace dealwire::domain::internal {

namespace v1 = dealwire::v1;

absl::StatusOr<std::optional<Target>> DecisionState::FindTarget(const std::string& event_id) {
  absl::StatusOr<std::optional<Found>> original = FindEvent(event_id);
  if (!original.ok()) return original.status();
  if (!original->has_value()) return std::nullopt;
  Target t;
  t.position = (*original)->position;
  t.original_case = (*original)->payload.payload_case();
  t.payload = std::move((*original)->payload);
  t.tags = std::move((*original)->tags);
  if (auto it = corrections_.find(event_id); it != corrections_.end()) {
    absl::StatusOr<std::optional<Found>> correction = FindEvent(it->second);
    if (!correction.ok()) return correction.status();
    if (!correction->has_value()) {
      return absl::InternalError(absl::StrCat("correction '", it->second, "' not found"));
    }
    t.payload = std::move(*(*correction)->payload.mutable_event_corrected()->mutable_replacement());
  }
  return t;
}

absl::StatusOr<Target> DecisionState::StandingTarget(const std::string& id,
                                                     const std::string& base, bool to_retract) {
  absl::StatusOr<std::optional<Target>> target = FindTarget(id);
  if (!target.ok()) return target.status();
  if (!target->has_value()) return Refused(base, "event_id", absl::StrCat("no event '", id, "'"));
  Target& t = **target;
  if (t.original_case == v1::EventPayload::kEventRetracted ||
      t.original_case == v1::EventPayload::kEventCorrected) {
    return Refused(base, "event_id",
                   absl::StrCat("event '", id, "' is of type ", common::EventTypeName(t.original_case),
                                to_retract ? "; retractions and corrections cannot be retracted"
                                           : "; correct the original event instead"));
  }
  if (auto it = retracted_.find(id); it != retracted_.end()) {
    return Refused(base, "event_id",
                   to_retract ? absl::StrFormat("event '%s' was already retracted (position %d)",
                                                id, it->second)
                              : absl::StrFormat(
                                    "event '%s' was retracted (position %d); it cannot be corrected",
                                    id, it->second));
  }
  return std::move(t);
}

absl::Status DecisionState::Retract(const v1::EventRetracted& r, uint64_t at,
                                    const std::string& base) {
  const std::string& id = r.event_id();
  absl::StatusOr<Target> target = StandingTarget(id, base, /*to_retract=*/true);
  if (!target.ok()) return target.status();
  // Kept: the undo log may name what it holds.
  const v1::EventPayload& payload = Keep(std::move(target->payload));
  if (!skipped_.contains(id)) {
    if (absl::Status s = Remove(payload, target->position, absl::StrCat(base, ".event_id"));
        !s.ok()) {
      return s;
    }
  }
  Save(retracted_, id);
  retracted_.emplace(id, at);
  return absl::OkStatus();
}

absl::Status DecisionState::Correct(const std::string& own_id, const v1::EventCorrected& c,
                                    const std::string& base) {
  const std::string& id = c.event_id();
  absl::StatusOr<Target> target = StandingTarget(id, base, /*to_retract=*/false);
  if (!target.ok()) return target.status();
  const Target& t = *target;
  if (skipped_.contains(id)) {
    return Refused(base, "event_id",
                   absl::StrCat("event '", id,
                                "' breaks a rule of the domain and is left out of the state; "
                                "retract it and report it anew"));
  }
  const v1::EventPayload& r = c.replacement();
  if (r.payload_case() != t.original_case) {
    return absl::InvalidArgumentError(
        absl::StrCat(base, ".replacement: is of type ", common::EventTypeName(r.payload_case()),
                     " but event '", id, "' is of type ", common::EventTypeName(t.original_case),
                     "; a replacement has the type of the original"));
  }
  const std::string rbase = absl::StrCat(base, ".replacement.", common::PayloadCaseName(r));
  if (auto [leaf, was] = IdentityChange(t.payload, r); leaf[0] != '\0') {
    return absl::InvalidArgumentError(absl::StrCat(
        rbase, ".", leaf, ": differs from '", was,
        "' in the corrected event; a correction cannot change what an event is about: retract "
        "the event and report it anew instead"));
  }
  // Kept: the undo log may name what it holds.
  const v1::EventPayload& old = Keep(t.payload);
  if (absl::Status s = Replace(old, r, t.position, rbase); !s.ok()) return s;
  Save(corrections_, id);
  corrections_.insert_or_assign(id, own_id);
  return absl::OkStatus();
}

}  // namespace dealwire::domain::internal
