// domain/decider.h — the write side's one decision per append: the domain's
// part of the log's writer thread (store::Decider).
//
//   store::Options options;
//   options.decider = std::make_shared<domain::DomainDecider>();
//   ASSIGN_OR_RETURN(std::unique_ptr<store::EventLog> log,
//                    store::OpenEventLog(path, std::move(options)));
//   ASSIGN_OR_RETURN(store::AppendResult r,
//                    log->Propose("deal/amazon-openai-2026", store::ExpectedVersion::Any(),
//                                 EventsProposal::Own(std::move(events), "anonymous")));
//   // An InvestmentReported naming an unregistered investor is refused:
//   // FAILED_PRECONDITION "events[0].payload.investment_reported.investor_id:
//   //                      organization 'amazn' is not registered"
//
// For each append (an EventsProposal, proposal.h), on the writer thread and
// in commit order: Encode checks the envelope and payload of every event
// (validate.h; INVALID_ARGUMENT) and serializes it once (codec.h); Decide
// checks each event against the state left by the log and by every append
// before it, committed or still in the same group commit, counts it in, and
// derives its tags from that same state. Nothing is parsed twice and nothing
// but an amendment's target is read from the log.
//
// What it guarantees: an append is accepted only if every event, checked in
// order against the state left by the log and by the events before it, keeps
// the domain consistent:
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
// Refusals are FAILED_PRECONDITION (INVALID_ARGUMENT for what validate.h
// refuses or a correction of the kind above), and the message starts with
// the path of the field, e.g. "events[2].payload.<case>.<field>". A refused
// append leaves no trace in the state.
//
// Tags (references.h): an event's own organizations, deal and partnership,
// plus what it inherits: a DealStageChanged the organizations of its deal's
// first report, a PartnershipEnded those of its partnership, an
// EventRetracted or EventCorrected every tag of its target (and a
// correction its replacement's own), also when the event it refers to is
// earlier in the same append or group commit.
//
// Thread-safety: Recover runs before the log accepts appends; Encode and
// Decide run only on the log's writer thread, one call at a time. One
// instance serves one log.
#pragma once

#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "store/event_log.h"

namespace dealwire::domain {

namespace internal {
class DecisionState;
}  // namespace internal

class DomainDecider final : public store::Decider {
 public:
  struct Options {
    // Bytes the cached state may hold in memory; beyond them, entries not
    // used lately and already written are evicted (and read back from the
    // state space when needed). Changes not yet written are held besides.
    // Default: 128 MiB
    size_t cache_bytes = 128 << 20;
    // Keep the state in memory only, not in the log's state space: for a
    // second decider that replays a log only to compare states. Default:
    // false
    bool in_memory = false;
  };

  DomainDecider() : DomainDecider(Options{}) {}
  explicit DomainDecider(Options options);
  ~DomainDecider() override;

  DomainDecider(const DomainDecider&) = delete;
  DomainDecider& operator=(const DomainDecider&) = delete;

  // Brings the state up to every committed event of `log` and keeps `log`
  // for the lookups of amendments (it must outlive this decider's use).
  // The state is kept in the log's state space (decision_store.cc): when
  // what is kept there was written for this log's events, only the events
  // after it are applied (none after a clean stop); otherwise it is dropped
  // and the whole log replayed. Events that break a rule (appended before
  // the rule existed) are left out of the state: retracting one is
  // accepted, correcting one is refused. Returns the log's and the state
  // space's read and write errors, or DATA_LOSS for an event that cannot
  // be parsed.
  absl::Status Recover(const store::EventLog& log) override;

  // Writes what is not yet kept (every decided event is durable by now).
  void Closing() override;

  // Whether the last Recover started from the kept state (a start without
  // replay), and how many events it applied.
  bool restored() const;
  uint64_t replayed() const;
  // What the cached state holds in memory now (an estimate).
  size_t cached_bytes() const;
  // Waits until the changes handed to the state space's writer so far are
  // written (they become evictable), or returns the write's error. Safe
  // beside Decide; changes not yet handed over (fewer than a batch) stay.
  absl::Status WaitWritten();

  // The whole state as bytes, wherever its entries are (cache or state
  // space): the same state gives the same bytes. For comparing states; it
  // reads the whole kept state.
  absl::StatusOr<std::string> StateBytes() const;

  // Checks the events of `proposal` (an EventsProposal) as events of
  // `stream` — the stream name (printable ASCII without spaces), each
  // envelope and payload — and serializes them into `events`. Returns
  // INVALID_ARGUMENT naming the field ("stream", "events[2].effective…"), or
  // INTERNAL for a proposal of another kind.
  absl::Status Encode(absl::string_view stream, const store::Proposal& proposal,
                      std::vector<store::ProposedEvent>* events) override;

  // Checks the encoded events against the state, counts them in and sets
  // their tags (see above). Returns OK, FAILED_PRECONDITION or
  // INVALID_ARGUMENT naming the field, the log's read errors, or
  // FAILED_PRECONDITION for an append of complete events (AppendAsync):
  // this log's events go through Encode; UNAVAILABLE when the kept state
  // cannot be read or written (the log then recovers, see store::Decider).
  absl::Status Decide(absl::string_view stream, store::Position first_position,
                      absl::Time recorded_time, const store::Proposal* proposal,
                      const store::AcceptedEvents& accepted,
                      std::vector<store::ProposedEvent>* events) override;

 private:
  const Options options_;
  std::unique_ptr<internal::DecisionState> state_;  // from the first Recover
};

}  // namespace dealwire::domain
