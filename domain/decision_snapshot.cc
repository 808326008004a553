// The decider's state as bytes (DecisionState::Save and Restore), so that a
// start loads it instead of replaying the log (store::Decider::SaveState).
//
// Format 1: "DS1", then each table in a fixed order, each as a count and
// its entries sorted by key; integers as base-128 varints (signed ones
// zigzag-encoded), strings length-prefixed. The same state always gives the
// same bytes, so two states compare by their bytes.
#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "domain/decision_state.h"

namespace dealwire::domain::internal {
namespace {

constexpr absl::string_view kMagic = "DS1";

class Writer {
 public:
  explicit Writer(std::string* out) : out_(out) {}
  void U(uint64_t v) {
    while (v >= 0x80) {
      out_->push_back(static_cast<char>((v & 0x7f) | 0x80));
      v >>= 7;
    }
    out_->push_back(static_cast<char>(v));
  }
  void I(int64_t v) { U((static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63)); }
  void S(absl::string_view s) {
    U(s.size());
    out_->append(s.data(), s.size());
  }
  void Strings(const std::vector<std::string>& v) {
    U(v.size());
    for (const std::string& s : v) S(s);
  }

 private:
  std::string* out_;
};

class Reader {
 public:
  explicit Reader(absl::string_view in) : in_(in) {}
  bool ok() const { return ok_; }
  bool done() const { return in_.empty(); }
  uint64_t U() {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (in_.empty()) break;
      const auto b = static_cast<unsigned char>(in_.front());
      in_.remove_prefix(1);
      v |= static_cast<uint64_t>(b & 0x7f) << shift;
      if (b < 0x80) return v;
    }
    ok_ = false;
    return 0;
  }
  int64_t I() {
    const uint64_t z = U();
    return static_cast<int64_t>((z >> 1) ^ (~(z & 1) + 1));
  }
  std::string S() {
    const uint64_t n = U();
    if (!ok_ || n > in_.size()) {
      ok_ = false;
      return {};
    }
    std::string s(in_.substr(0, n));
    in_.remove_prefix(n);
    return s;
  }
  std::vector<std::string> Strings() {
    std::vector<std::string> v(Count());
    for (std::string& s : v) s = S();
    return v;
  }
  // A count of entries, each at least one byte: more than remain is corrupt.
  size_t Count() {
    const uint64_t n = U();
    if (!ok_ || n > in_.size()) {
      ok_ = false;
      return 0;
    }
    return static_cast<size_t>(n);
  }

 private:
  absl::string_view in_;
  bool ok_ = true;
};

// The keys of `map`, sorted.
template <typename Map>
std::vector<const typename Map::value_type*> Sorted(const Map& map) {
  std::vector<const typename Map::value_type*> out;
  out.reserve(map.size());
  for (const auto& entry : map) out.push_back(&entry);
  std::sort(out.begin(), out.end(), [](const auto* a, const auto* b) { return a->first < b->first; });
  return out;
}

// Sizes `table` for `n` entries at once (not by doubling); returns `n`.
template <typename Table>
size_t ReserveFor(Table& table, size_t n) {
  table.reserve(n);
  return n;
}

}  // namespace

void DecisionState::Save(std::string* out) const {
  out->append(kMagic.data(), kMagic.size());
  Writer w(out);
  w.U(orgs_.size());
  for (const auto* e : Sorted(orgs_)) {
    const Org& o = e->second;
    w.S(e->first);
    w.U(o.registered_at);
    w.I(o.refs);
    w.U(o.parents.size());
    for (const auto& [at, parent] : o.parents) {
      w.U(at);
      w.S(parent);
    }
    w.U(o.aliases.size());
    for (const AliasClaim& a : o.aliases) {
      w.U(a.position);
      w.Strings(a.add);
      w.Strings(a.remove);
    }
  }
  w.U(deals_.size());
  for (const auto* e : Sorted(deals_)) {
    const Deal& d = e->second;
    w.S(e->first);
    w.U(static_cast<uint64_t>(d.kind));
    w.S(d.company);
    w.S(d.party);
    w.S(d.round);
    w.I(d.round_refs);
    w.Strings(d.orgs);
    w.U(d.claims.size());
    for (const StageClaim& c : d.claims) {
      w.U(c.position);
      w.I(c.stage);
    }
  }
  w.U(partnerships_.size());
  for (const auto* e : Sorted(partnerships_)) {
    w.S(e->first);
    w.U(e->second.formed_at);
    w.U(e->second.ended_by);
    w.Strings(e->second.orgs);
  }
  for (const auto* table : {&facilities_, &retracted_}) {
    w.U(table->size());
    for (const auto* e : Sorted(*table)) {
      w.S(e->first);
      w.U(e->second);
    }
  }
  w.U(corrections_.size());
  for (const auto* e : Sorted(corrections_)) {
    w.S(e->first);
    w.S(e->second);
  }
  std::vector<const std::string*> skipped;
  for (const std::string& id : skipped_) skipped.push_back(&id);
  std::sort(skipped.begin(), skipped.end(), [](const auto* a, const auto* b) { return *a < *b; });
  w.U(skipped.size());
  for (const std::string* id : skipped) w.S(*id);
}

absl::Status DecisionState::Restore(absl::string_view saved, uint64_t at,
                                    const store::EventLog& log) {
  if (!absl::ConsumePrefix(&saved, kMagic)) {
    return absl::InvalidArgumentError("saved decider state: not of format 1");
  }
  Reader r(saved);
  orgs_.clear();
  for (size_t n = ReserveFor(orgs_, r.Count()); r.ok() && n > 0; --n) {
    std::string id = r.S();
    Org& o = orgs_[std::move(id)];
    o.registered_at = r.U();
    o.refs = r.I();
    for (size_t p = r.Count(); r.ok() && p > 0; --p) {
      const uint64_t pos = r.U();
      o.parents.emplace_back(pos, r.S());
    }
    for (size_t a = r.Count(); r.ok() && a > 0; --a) {
      AliasClaim& c = o.aliases.emplace_back();
      c.position = r.U();
      c.add = r.Strings();
      c.remove = r.Strings();
    }
  }
  deals_.clear();
  for (size_t n = ReserveFor(deals_, r.Count()); r.ok() && n > 0; --n) {
    std::string id = r.S();
    Deal& d = deals_[std::move(id)];
    const uint64_t kind = r.U();
    if (kind > static_cast<uint64_t>(DealKind::kAcquisition)) {
      return absl::InvalidArgumentError("saved decider state: unknown deal kind");
    }
    d.kind = static_cast<DealKind>(kind);
    d.company = r.S();
    d.party = r.S();
    d.round = r.S();
    d.round_refs = r.I();
    d.orgs = r.Strings();
    for (size_t c = r.Count(); r.ok() && c > 0; --c) {
      const uint64_t pos = r.U();
      d.claims.push_back({pos, static_cast<v1::DealStage>(r.I())});
    }
  }
  partnerships_.clear();
  for (size_t n = ReserveFor(partnerships_, r.Count()); r.ok() && n > 0; --n) {
    std::string id = r.S();
    Partnership& p = partnerships_[std::move(id)];
    p.formed_at = r.U();
    p.ended_by = r.U();
    p.orgs = r.Strings();
  }
  for (auto* table : {&facilities_, &retracted_}) {
    table->clear();
    for (size_t n = ReserveFor(*table, r.Count()); r.ok() && n > 0; --n) {
      std::string id = r.S();
      (*table)[std::move(id)] = r.U();
    }
  }
  corrections_.clear();
  for (size_t n = ReserveFor(corrections_, r.Count()); r.ok() && n > 0; --n) {
    std::string id = r.S();
    corrections_[std::move(id)] = r.S();
  }
  skipped_.clear();
  for (size_t n = ReserveFor(skipped_, r.Count()); r.ok() && n > 0; --n) skipped_.insert(r.S());
  if (!r.ok() || !r.done()) {
    return absl::InvalidArgumentError("saved decider state: truncated or corrupt");
  }
  // The events after `at` as Recover applies them.
  log_ = &log;
  const absl::Status s = Replay(log, at + 1);
  log_ = nullptr;
  return s;
}

}  // namespace dealwire::domain::internal
