// projections/domain_validator.h — the checks of an append against the
// domain state of the log: what events.proto refuses with FAILED_PRECONDITION.
//
//   store::Options options;
//   options.validator = std::make_shared<projections::DomainValidator>();
//   ASSIGN_OR_RETURN(auto log, store::OpenEventLog(path, std::move(options)));
//   // An InvestmentReported naming an unregistered investor is now refused:
//   // FAILED_PRECONDITION "events[0].payload.investment_reported.investor_id:
//   //                      organization 'amazn' is not registered"
//
// What it guarantees: an append is accepted only if every event, checked in
// order against the state left by the log and by the events before it in the
// same append, keeps the domain consistent:
// - every organization an event names is registered, and only once; parents
//   form no cycle; an organization never has more than 50 aliases;
// - deal ids (rounds, investments, acquisitions) are one namespace: a later
//   report of a deal is of the same kind and names the same parties; an
//   investment's or valuation's round exists and belongs to the same company;
// - a deal's stages follow the DealStage state machine (events.proto);
// - partnership and facility ids are unique; a partnership ends once;
// - a retraction or correction names a standing original event, and the
//   history without it (or with its replacement at its position) stays
//   consistent. A correction that changes the event type or what the event is
//   about (its ids) is INVALID_ARGUMENT, as events.proto says: retract the
//   event and report it anew instead.
// Refusals are FAILED_PRECONDITION (INVALID_ARGUMENT for a payload that
// ValidatePayload refuses or a correction of the kind above), and the message
// starts with the path of the field, e.g. "events[2].payload.<case>.<field>".
// A refused append leaves no trace in the state.
//
// The state is compact: per organization its registration, parent and alias
// claims and a count of the standing events that name it; per deal its kind, parties
// and standing stage claims; partnership and facility ids; retracted and
// corrected event ids; and the events accepted but not yet committed. Other
// events are read back from the log when a retraction or correction names
// them.
//
// Thread-safety: Recover runs before the log accepts appends; Validate runs
// only on the log's writer thread, one call at a time. Not otherwise safe for
// concurrent use. One instance serves one log.
#pragma once

#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "store/event_log.h"
#include "store/types.h"

namespace dealwire::projections {

class DomainValidator final : public store::AppendValidator {
 public:
  DomainValidator();
  ~DomainValidator() override;

  DomainValidator(const DomainValidator&) = delete;
  DomainValidator& operator=(const DomainValidator&) = delete;

  // Rebuilds the state from every committed event of `log` and keeps `log`
  // for later lookups (it must outlive this validator's use). Events that
  // break a rule (appended before the rule existed) are left out of the
  // state: retracting one is accepted, correcting one is refused. Returns
  // the log's read errors, or DATA_LOSS for an event that cannot be parsed.
  absl::Status Recover(const store::EventLog& log) override;

  // Checks the events of one append (each `data` a serialized
  // dealwire.v1.Event without identity, as EncodeEvent makes it) and counts
  // them into the state when all pass. Returns OK, FAILED_PRECONDITION or
  // INVALID_ARGUMENT naming the field (see above), or the log's read errors.
  absl::Status Validate(absl::string_view stream, store::Position first_position,
                        absl::Time recorded_time,
                        const std::vector<store::ProposedEvent>& events) override;

 private:
  class State;
  std::unique_ptr<State> state_;
};

}  // namespace dealwire::projections
