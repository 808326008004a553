// projections/state_keys.h — where the projections keep their state in the
// log's state space (store::StateSpace::Write).
//
// All projection state lives under a generation prefix "g<N>/"; the key
// "generation" (outside any generation) names the current one. A rebuild
// writes a new generation beside the live one and switches by rewriting
// "generation" in the same batch that deletes the old one.
//
// Keys inside a generation (ids are slugs without '/', so prefixes of
// different kinds never overlap). Claims are stored one key each, grouped by
// the entity they are about, so that a new claim is one write and an entity
// is one prefix scan:
//   a                        → applied position (8 bytes, big-endian)
//   s                        → state.v1.Stats
//   o/<org>!<position>       → state.v1.Claim: OrganizationRegistered/Updated
//   d/<deal>!<position>      → state.v1.Claim: deal reports and stage changes
//   c/<company>!<position>   → state.v1.Claim: ValuationReported, StakeDisclosed
//   p/<partnership>!<pos>    → state.v1.Claim: PartnershipFormed/Ended
//   f/<facility>!<position>  → state.v1.Claim: FacilityAnnounced
//   x/<BASE>-<QUOTE>!<pos>   → state.v1.Claim: FxRateReported
//   h/<entity key>           → the org ids of the entity's first claim, comma-
//                              separated: whether it exists, and whom a stage
//                              change or a partnership's end is about
//   t/<org>/<position>       → the key of the claim (above): the org's timeline
//   v/<org>                  → position of the last retraction or correction
//                              of a claim naming the org
//   nv                       → position of the last change of a registered
//                              organization's name (or its removal)
//   dc/<company>/<deal>      → "" deals of a company (raising or acquired)
//   di/<investor>/<deal>     → "" deals of an investor or acquirer
//   hs/<holder>/<company>    → "" stakes disclosed
//   po/<org>/<partnership>   → "" partnerships of an org
//   fo/<org>/<facility>      → "" facilities owned by or built for an org
//   ch/<parent>/<child>      → "" current subsidiaries
//   n/<lower name>\0<org>    → "" current names and aliases, lower-cased
//   vo/<org>                 → v1.Organization, current
// Positions in keys are 8 bytes, big-endian, so claims sort in log order.
#pragma once

#include <cstdint>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace dealwire::projections::keys {

inline constexpr absl::string_view kGeneration = "generation";

// The layout version of the state below. Opening state of another version
// drops it and projects the log again (the state is derived from the log).
inline constexpr absl::string_view kFormat = "format";
inline constexpr absl::string_view kFormatVersion = "5";

inline std::string GenerationPrefix(uint64_t generation) {
  return absl::StrCat("g", generation, "/");
}

inline std::string Fixed64(uint64_t v) {
  std::string out(8, '\0');
  for (int i = 7; i >= 0; --i) {
    out[i] = static_cast<char>(v & 0xff);
    v >>= 8;
  }
  return out;
}

inline uint64_t ParseFixed64(absl::string_view s) {
  uint64_t v = 0;
  for (size_t i = 0; i < s.size() && i < 8; ++i) v = (v << 8) | static_cast<unsigned char>(s[i]);
  return v;
}

inline std::string Lower(absl::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

inline std::string Applied() { return "a"; }
inline std::string StatsKey() { return "s"; }
inline std::string Org(absl::string_view id) { return absl::StrCat("o/", id); }
inline std::string Deal(absl::string_view id) { return absl::StrCat("d/", id); }
inline std::string Company(absl::string_view id) { return absl::StrCat("c/", id); }
inline std::string Partnership(absl::string_view id) { return absl::StrCat("p/", id); }
inline std::string Facility(absl::string_view id) { return absl::StrCat("f/", id); }
inline std::string Fx(absl::string_view base, absl::string_view quote) {
  return absl::StrCat("x/", base, "-", quote);
}
// The key of the claim at `position` about the entity `entity_key` (one of
// Org(), Deal(), … above), and the prefix of all of them.
// The separator '!' sorts below every id character, so entities sort by id
// ("deal-1" before "deal-1-a") and their claims stay contiguous.
inline constexpr char kClaimSeparator = '!';
inline std::string ClaimKey(absl::string_view entity_key, uint64_t position) {
  return absl::StrCat(entity_key, std::string(1, kClaimSeparator), Fixed64(position));
}
inline std::string ClaimsPrefix(absl::string_view entity_key) {
  return absl::StrCat(entity_key, std::string(1, kClaimSeparator));
}

inline std::string VersionKey(absl::string_view org) { return absl::StrCat("v/", org); }
inline std::string NamesVersionKey() { return "nv"; }
inline std::string HeadKey(absl::string_view entity_key) { return absl::StrCat("h/", entity_key); }

inline std::string TimelinePrefix(absl::string_view org) { return absl::StrCat("t/", org, "/"); }
inline std::string Timeline(absl::string_view org, uint64_t position) {
  return absl::StrCat("t/", org, "/", Fixed64(position));
}
inline std::string DealsOfCompanyPrefix(absl::string_view c) { return absl::StrCat("dc/", c, "/"); }
inline std::string DealsOfInvestorPrefix(absl::string_view i) { return absl::StrCat("di/", i, "/"); }
inline std::string StakesOfHolderPrefix(absl::string_view h) { return absl::StrCat("hs/", h, "/"); }
inline std::string PartnershipsOfPrefix(absl::string_view o) { return absl::StrCat("po/", o, "/"); }
inline std::string FacilitiesOfPrefix(absl::string_view o) { return absl::StrCat("fo/", o, "/"); }
inline std::string ChildrenPrefix(absl::string_view parent) { return absl::StrCat("ch/", parent, "/"); }
inline std::string NamePrefix(absl::string_view lower_prefix) {
  return absl::StrCat("n/", lower_prefix);
}
inline std::string Name(absl::string_view name, absl::string_view org) {
  return absl::StrCat("n/", Lower(name), std::string(1, '\0'), org);
}
inline std::string OrgView(absl::string_view id) { return absl::StrCat("vo/", id); }

}  // namespace dealwire::projections::keys
