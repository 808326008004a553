// bench/synthetic_events.h — a deterministic stream of synthetic, valid
// Dealwire events for loading the store and the projections at scale.
//
//   SyntheticEvents gen({.seed = 7, .events = 10'000'000});
//   dealwire::v1::Event event;
//   std::string line;
//   while (gen.Next(&event)) {
//     line.clear();
//     common::AppendEventJsonl(event, &line);  // event.stream() is set
//     ...
//   }
//
// The events describe a made-up market of `companies` companies and
// `investors` investors, funds and sovereign funds from 2015 to 2026:
// registrations, funding rounds (pre_seed, seed, series_a, ... in order per
// company), investments, stage changes, valuations, stakes, acquisitions,
// partnerships, facilities, FX rates, retractions and corrections. Besides
// the registrations (see SyntheticOptions::companies) the mix is about
// 1 % OrganizationUpdated, 11 % FundingRoundReported (70 % priced),
// 34 % InvestmentReported (75 % in a round; 85 % EQUITY, the rest CONVERTIBLE,
// CREDITS, DEBT), 22 % DealStageChanged, 13 % ValuationReported,
// 4.5 % StakeDisclosed (exact, range or qualifier only), 1 %
// AcquisitionReported, 7 % PartnershipFormed, 1 % PartnershipEnded,
// 2 % FacilityAnnounced, 1 % FxRateReported, 0.5 % EventRetracted and
// 0.5 % EventCorrected. Amounts are mostly USD, some EUR, GBP and JPY;
// confidences cover all four levels; effective dates move from 2015 to 2026
// with the generation order at DAY, MONTH, QUARTER or YEAR precision, and
// about 5 % of claims are reported late (dated well before the claims around
// them).
//
// Every event is valid when the events are appended in generation order,
// each to its own `stream`, under all the rules of events.proto: ids are
// well-formed and unique, organizations are registered before they are
// referred to (parents before subsidiaries, no parent cycles), deal stages
// only move forward and nothing follows CLOSED or COLLAPSED, investments name
// an existing round of their company, priced rounds have post-money ≥
// pre-money in one currency, partnerships end at most once, retractions and
// corrections name earlier ValuationReported, StakeDisclosed (and, for
// retractions, FacilityAnnounced) events that were neither retracted nor
// corrected before, corrections keep the payload case and what it is about.
//
// Streams: "org/<id>" (registrations, updates, valuations and stakes of the
// company), "deal/<deal id>", "partnership/<id>", "facility/<id>",
// "fx/<BASE>-<QUOTE>"; a retraction or correction goes to its target's
// stream. Server-set fields are left empty.
//
// Determinism: the output depends only on the options; the same options give
// the same events, byte for byte, on every platform (the generator draws from
// std::mt19937_64 and never uses the implementation-defined std
// distributions). Memory stays bounded however many events are generated: a
// few dozen bytes per organization, and fixed-size pools of open deals,
// active partnerships and retractable claims.
//
// Thread-safety: none; a SyntheticEvents belongs to one thread at a time.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>

#include "dealwire/v1/events.pb.h"

namespace dealwire::bench {

struct SyntheticOptions {
  // Seed of the random source: different seeds give different data sets.
  // Default: 1
  uint64_t seed = 1;

  // Number of events Next() yields. Default: 1,000,000
  size_t events = 1'000'000;

  // Number of companies registered (some of them subsidiaries of others, a few
  // non-profits): exactly companies + investors OrganizationRegistered events
  // are generated (2 % of 200k events with the defaults), a bootstrap of 16
  // first and the rest spread over the first 70 % of the events. When
  // companies + investors exceed a quarter of `events`, both are scaled down
  // in proportion (to at least 2 companies and 1 investor, as far as `events`
  // allows). Default: 3000
  size_t companies = 3000;

  // Number of investing organizations registered: investment firms, funds
  // (some with a parent firm) and sovereign funds. At least 1. Default: 1000
  size_t investors = 1000;
};

class SyntheticEvents {
 public:
  // Number of payload cases counted by count(): the largest case number + 1.
  static constexpr size_t kCaseSlots = 64;

  explicit SyntheticEvents(const SyntheticOptions& options);
  ~SyntheticEvents();

  SyntheticEvents(const SyntheticEvents&) = delete;
  SyntheticEvents& operator=(const SyntheticEvents&) = delete;

  // Fills `out` (cleared first) with the next event and returns true, or
  // returns false once options.events events have been yielded.
  bool Next(dealwire::v1::Event* out);

  // Returns the number of events yielded so far.
  size_t generated() const;

  // Returns how many events of payload case `c` were yielded so far.
  uint64_t count(dealwire::v1::EventPayload::PayloadCase c) const;

  // Returns the numbers of companies and investors that are registered over
  // the whole run (after scaling, see SyntheticOptions::companies).
  size_t planned_companies() const;
  size_t planned_investors() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace dealwire::bench
