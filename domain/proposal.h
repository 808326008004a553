// domain/proposal.h — the events of one append as the write path hands them
// to the log: parsed dealwire.v1.Events, encoded and decided on the log's
// writer thread by the DomainDecider (decider.h).
//
//   // In a gRPC handler: borrow the request's events (the request outlives
//   // the append; the log destroys the proposal before the callback).
//   log->ProposeAsync(request->stream(), expected,
//                     EventsProposal::Borrow(request->events(), principal), std::move(done));
//   // Elsewhere: hand the events over.
//   log->Propose(stream, store::ExpectedVersion::Any(),
//                EventsProposal::Own(std::move(events), "anonymous"));
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "dealwire/v1/events.pb.h"
#include "google/protobuf/repeated_ptr_field.h"
#include "store/event_log.h"

namespace dealwire::domain {

class EventsProposal final : public store::Proposal {
 public:
  // A proposal of `events`, which it borrows: they must outlive it.
  // `recorded_by` is the appending principal.
  static std::unique_ptr<EventsProposal> Borrow(
      const google::protobuf::RepeatedPtrField<dealwire::v1::Event>& events,
      std::string recorded_by);

  // A proposal that owns `events`.
  static std::unique_ptr<EventsProposal> Own(std::vector<dealwire::v1::Event> events,
                                             std::string recorded_by);

  size_t size() const override { return events_.size(); }
  // The events' serialized size; computing it caches the sizes encoding
  // writes (codec.h EncodeEventWithCachedSizes), so the events must not
  // change while the proposal lives.
  size_t bytes() const override { return bytes_; }

  const dealwire::v1::Event& event(size_t i) const { return *events_[i]; }
  const std::string& recorded_by() const { return recorded_by_; }

 private:
  EventsProposal(std::vector<dealwire::v1::Event> owned, std::string recorded_by);

  std::vector<dealwire::v1::Event> owned_;
  std::vector<const dealwire::v1::Event*> events_;
  std::string recorded_by_;
  size_t bytes_ = 0;
};

}  // namespace dealwire::domain
