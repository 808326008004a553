#include "domain/proposal.h"

#include <utility>

namespace dealwire::domain {

namespace v1 = dealwire::v1;

EventsProposal::EventsProposal(std::vector<v1::Event> owned, std::string recorded_by)
    : owned_(std::move(owned)), recorded_by_(std::move(recorded_by)) {}

std::unique_ptr<EventsProposal> EventsProposal::Borrow(
    const google::protobuf::RepeatedPtrField<v1::Event>& events, std::string recorded_by) {
  std::unique_ptr<EventsProposal> p(new EventsProposal({}, std::move(recorded_by)));
  p->events_.reserve(events.size());
  for (const v1::Event& e : events) {
    p->events_.push_back(&e);
    // Also caches the sizes that encoding the events writes (codec.h).
    p->bytes_ += e.ByteSizeLong();
  }
  return p;
}

std::unique_ptr<EventsProposal> EventsProposal::Own(std::vector<v1::Event> events,
                                                    std::string recorded_by) {
  std::unique_ptr<EventsProposal> p(new EventsProposal(std::move(events), std::move(recorded_by)));
  p->events_.reserve(p->owned_.size());
  for (const v1::Event& e : p->owned_) {
    p->events_.push_back(&e);
    p->bytes_ += e.ByteSizeLong();
  }
  return p;
}

}  // namespace dealwire::domain
