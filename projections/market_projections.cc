#include "projections/market_projections.h"

#include <pthread.h>
#include <sched.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <set>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/calendar.h"
#include "common/event_types.h"
#include "projections/folds.h"
#include "projections/state_keys.h"
#include "projections/state_reader.h"
#include "domain/validate.h"

namespace dealwire::projections {
namespace {

namespace state = dealwire::state::v1;

constexpr int32_t kDefaultPageSize = 100;
// Nice value of the projector thread where SCHED_IDLE is refused (0 is the
// default, 19 the lowest priority).
constexpr int kProjectorNice = 19;
constexpr int32_t kMaxPageSize = 1000;

absl::Status Invalid(absl::string_view field, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", what));
}

absl::Status CheckId(absl::string_view id, absl::string_view field) {
  if (id.empty()) return Invalid(field, "is required");
  if (!domain::IsDomainId(id)) {
    return Invalid(field, absl::StrCat("'", id, "' is not an id (1..100 bytes of [a-z0-9-])"));
  }
  return absl::OkStatus();
}

absl::StatusOr<int32_t> PageSize(int32_t requested) {
  if (requested < 0 || requested > kMaxPageSize) {
    return Invalid("page_size", absl::StrCat(requested, " is not in 0..", kMaxPageSize));
  }
  return requested == 0 ? kDefaultPageSize : requested;
}

// Page tokens: "<cursor>@<as_of_position>", so that the pages of one listing
// are folded at one position even while the projections move on.
struct PageToken {
  std::string cursor;
  uint64_t position = 0;
};

absl::StatusOr<std::optional<PageToken>> ParsePageToken(absl::string_view token) {
  if (token.empty()) return std::optional<PageToken>();
  const size_t at = token.rfind('@');
  PageToken t;
  if (at == absl::string_view::npos || !absl::SimpleAtoi(token.substr(at + 1), &t.position) ||
      t.position == 0) {
    return Invalid("page_token", "was not returned by this listing");
  }
  t.cursor = std::string(token.substr(0, at));
  return std::optional<PageToken>(std::move(t));
}

std::string MakePageToken(absl::string_view cursor, uint64_t position) {
  return absl::StrCat(cursor, "@", position);
}

bool AsOfIsEmpty(const v1::AsOf& a) {
  return a.known_at_case() == v1::AsOf::KNOWN_AT_NOT_SET && !a.has_effective_on() &&
         a.min_confidence() == v1::CONFIDENCE_UNSPECIFIED;
}

// Returns the claim stored under `claim_key` (a timeline entry's value), or
// nullopt when it is gone.
absl::StatusOr<std::optional<state::Claim>> ReadClaim(const StateReader& reader,
                                                      absl::string_view claim_key) {
  absl::StatusOr<std::optional<std::string>> raw = reader.Get(claim_key);
  if (!raw.ok()) return raw.status();
  if (!raw->has_value()) return std::optional<state::Claim>();
  state::Claim claim;
  if (!claim.ParseFromString(**raw)) {
    return absl::DataLossError(absl::StrCat("claim '", claim_key, "' is corrupt"));
  }
  return std::optional<state::Claim>(std::move(claim));
}

}  // namespace

// What one query reads: a consistent snapshot of the current generation and
// the filter its as_of resolves to.
class MarketProjections::Query {
 public:
  // Opens a query: waits for min_position (and a known_at_position), takes
  // the snapshot and resolves `as_of`. `token_position` (from a page token)
  // pins known_at when the request gives none.
  static absl::StatusOr<Query> Open(const MarketProjections& p, const v1::AsOf& as_of,
                                    uint64_t min_position, absl::Time deadline,
                                    uint64_t token_position = 0) {
    uint64_t wait_for = min_position;
    if (as_of.known_at_case() == v1::AsOf::kKnownAtPosition) {
      if (as_of.known_at_position() == 0) {
        return Invalid("as_of.known_at_position", "must be at least 1");
      }
      wait_for = std::max<uint64_t>(wait_for, as_of.known_at_position());
    }
    if (wait_for > 0) {
      if (absl::Status s = p.WaitApplied(wait_for, deadline); !s.ok()) {
        if (absl::IsOutOfRange(s) && wait_for != min_position) {
          return absl::OutOfRangeError(absl::StrCat(
              "as_of.known_at_position: ", wait_for, " is beyond the end of the log (",
              p.log_->LastPosition().value(), ")"));
        }
        return s;
      }
    }
    Query q;
    q.owner_ = &p;
    absl::StatusOr<std::unique_ptr<store::StateSnapshot>> snapshot = p.state_->Snapshot();
    if (!snapshot.ok()) return snapshot.status();
    q.snapshot_ = std::shared_ptr<store::StateSnapshot>(*std::move(snapshot));
    absl::StatusOr<std::optional<std::string>> gen = q.snapshot_->Get(keys::kGeneration);
    if (!gen.ok()) return gen.status();
    const uint64_t generation = gen->has_value() ? keys::ParseFixed64(**gen) : 1;
    q.generation_ = generation;
    q.reader_ = std::make_shared<SnapshotReader>(q.snapshot_.get(),
                                                 keys::GenerationPrefix(generation));
    absl::StatusOr<std::optional<std::string>> applied = q.reader_->Get(keys::Applied());
    if (!applied.ok()) return applied.status();
    q.applied_ = applied->has_value() ? keys::ParseFixed64(**applied) : 0;

    ClaimFilter& f = q.filter_;
    f.today = p.options_.today();
    f.known_at = q.applied_;
    switch (as_of.known_at_case()) {
      case v1::AsOf::kKnownAtPosition:
        f.known_at = std::min(q.applied_, as_of.known_at_position());
        break;
      case v1::AsOf::kKnownAtTime: {
        const absl::Time t = absl::FromUnixSeconds(as_of.known_at_time().seconds()) +
                             absl::Nanoseconds(as_of.known_at_time().nanos());
        absl::StatusOr<uint64_t> at = PositionAt(*p.log_, t, q.applied_);
        if (!at.ok()) return at.status();
        f.known_at = *at;
        break;
      }
      case v1::AsOf::KNOWN_AT_NOT_SET:
        if (token_position > 0) f.known_at = std::min(q.applied_, token_position);
        break;
    }
    if (as_of.has_effective_on()) {
      const v1::Date& d = as_of.effective_on();
      if (d.year() == 0 || d.month() == 0 || d.day() == 0) {
        return Invalid("as_of.effective_on", "must be a full date (year, month and day)");
      }
      if (absl::Status s = domain::ValidateDate(d, "as_of.effective_on"); !s.ok()) return s;
      f.effective_on = common::DayNumber(d.year(), d.month(), d.day());
      f.today = *f.effective_on;
    }
    if (!v1::Confidence_IsValid(as_of.min_confidence())) {
      return Invalid("as_of.min_confidence", "is not a confidence");
    }
    f.min_confidence = as_of.min_confidence();
    q.current_ = AsOfIsEmpty(as_of) && f.known_at == q.applied_;
    return q;
  }

  const StateReader& reader() const { return *reader_; }
  const ClaimFilter& filter() const { return filter_; }
  // Whether the answer is the current state (no as_of): materialized views
  // may be used.
  bool current() const { return current_; }
  uint64_t position() const { return filter_.known_at; }

  NameResolver Names() const {
    return NameResolver(reader_.get(),
                        current_ ? std::nullopt : std::optional<ClaimFilter>(filter_));
  }

  // The organizations whose parent is `parent` (under the filter; the index
  // is current), by id.
  std::vector<std::string> Children(absl::string_view parent, NameResolver& names) const {
    std::vector<std::string> out;
    absl::StatusOr<std::vector<std::string>> children =
        reader_->ListIds(keys::ChildrenPrefix(parent));
    if (!children.ok()) return out;
    for (std::string& c : *children) {
      absl::StatusOr<std::optional<v1::Organization>> o = names.Organization(c);
      if (o.ok() && o->has_value() && (*o)->parent_org_id() == parent) out.push_back(std::move(c));
    }
    return out;
  }

  // The org and (unless direct_only) every organization below it.
  std::vector<std::string> WithSubsidiaries(absl::string_view org, bool direct_only) const {
    std::vector<std::string> out = {std::string(org)};
    if (direct_only) return out;
    NameResolver names = Names();
    for (size_t i = 0; i < out.size() && out.size() < 10000; ++i) {
      for (std::string& c : Children(out[i], names)) {
        if (std::find(out.begin(), out.end(), c) == out.end()) out.push_back(std::move(c));
      }
    }
    return out;
  }

  absl::StatusOr<v1::Organization> RequireOrg(absl::string_view org_id,
                                              absl::string_view field) const {
    if (absl::Status s = CheckId(org_id, field); !s.ok()) return s;
    NameResolver names = Names();
    absl::StatusOr<std::optional<v1::Organization>> org = names.Organization(org_id);
    if (!org.ok()) return org.status();
    if (!org->has_value()) {
      return absl::NotFoundError(absl::StrCat(field, ": no organization '", org_id, "'"));
    }
    return **org;
  }

  // Folds a company's cap table from its stored claims (current or as of
  // the filter: the same fold either way), with names. Current tables come
  // from the cache while nothing they depend on has changed.
  absl::StatusOr<v1::CapTable> CapTable(absl::string_view company, bool include_pending) const {
    if (!current_) {
      absl::StatusOr<v1::CapTable> table =
          ComputeCapTable(*reader_, company, filter_, include_pending);
      if (!table.ok()) return table.status();
      NameResolver names = Names();
      FillCapTableNames(names, &*table);
      return table;
    }
    // What the table depends on changed last at the company's latest claim
    // (its timeline), a retraction or correction of one (v/), or a name
    // change (nv).
    uint64_t version = 0;
    for (const std::string& key : {keys::VersionKey(company), keys::NamesVersionKey()}) {
      absl::StatusOr<std::optional<std::string>> raw = reader_->Get(key);
      if (!raw.ok()) return raw.status();
      if (raw->has_value()) version = std::max(version, keys::ParseFixed64(**raw));
    }
    const std::string timeline = keys::TimelinePrefix(company);
    absl::StatusOr<std::optional<std::string>> last = reader_->LastKey(timeline);
    if (!last.ok()) return last.status();
    if (last->has_value()) {
      version = std::max(version, keys::ParseFixed64(absl::string_view(**last).substr(timeline.size())));
    }
    const std::string cache_key =
        absl::StrCat(generation_, "/", company, include_pending ? "/pending" : "/closed");
    {
      std::lock_guard l(owner_->cache_mu_);
      auto it = owner_->cap_tables_.find(cache_key);
      if (it != owner_->cap_tables_.end() && it->second.version == version) return it->second.table;
    }
    absl::StatusOr<v1::CapTable> table = ComputeCapTable(*reader_, company, filter_, include_pending);
    if (!table.ok()) return table.status();
    NameResolver names = Names();
    FillCapTableNames(names, &*table);
    const size_t bytes = table->ByteSizeLong();
    if (bytes > owner_->options_.cap_table_cache_bytes) return table;  // beyond the budget
    std::lock_guard l(owner_->cache_mu_);
    auto& cache = owner_->cap_tables_;
    if (auto it = cache.find(cache_key); it != cache.end()) {
      owner_->cached_bytes_ -= it->second.bytes;
      cache.erase(it);
    }
    if (cache.size() >= kMaxCachedCapTables ||
        owner_->cached_bytes_ + bytes > owner_->options_.cap_table_cache_bytes) {
      cache.clear();
      owner_->cached_bytes_ = 0;
    }
    cache[cache_key] = CachedCapTable{version, bytes, *table};
    owner_->cached_bytes_ += bytes;
    return table;
  }

 private:
  Query() = default;

  // The last position recorded at or before `t` (0 when none), at most
  // `applied`. Recorded times are non-decreasing with position.
  static absl::StatusOr<uint64_t> PositionAt(const store::EventLog& log, absl::Time t,
                                             uint64_t applied) {
    absl::StatusOr<std::vector<store::RecordedEvent>> first =
        log.ReadAll(store::Direction::kForwards, std::nullopt, 1);
    if (!first.ok()) return first.status();
    if (first->empty() || applied == 0) return 0;
    uint64_t lo = first->front().position.value(), hi = applied, found = 0;
    while (lo <= hi) {
      const uint64_t mid = lo + (hi - lo) / 2;
      absl::StatusOr<store::RecordedEvent> e = log.ReadEvent(store::Position(mid));
      if (!e.ok()) return e.status();
      if (e->recorded_time <= t) {
        found = mid;
        lo = mid + 1;
      } else {
        if (mid == 0) break;
        hi = mid - 1;
      }
    }
    return found;
  }

  const MarketProjections* owner_ = nullptr;
  uint64_t generation_ = 1;
  std::shared_ptr<store::StateSnapshot> snapshot_;
  std::shared_ptr<SnapshotReader> reader_;
  ClaimFilter filter_;
  uint64_t applied_ = 0;
  bool current_ = false;
};

MarketProjections::MarketProjections(store::EventLog* log, store::StateSpace* state,
                                     Options options)
    : log_(log), state_(state), options_(std::move(options)) {}

absl::StatusOr<std::unique_ptr<MarketProjections>> MarketProjections::Open(store::EventLog* log,
                                                                           store::StateSpace* state,
                                                                           Options options) {
  if (!options.today) options.today = [] { return common::TodayDayNumber(); };
  std::unique_ptr<MarketProjections> p(new MarketProjections(log, state, std::move(options)));
  absl::StatusOr<std::unique_ptr<store::StateSnapshot>> snapshot = state->Snapshot();
  if (!snapshot.ok()) return snapshot.status();
  absl::StatusOr<std::optional<std::string>> gen = (*snapshot)->Get(keys::kGeneration);
  if (!gen.ok()) return gen.status();
  absl::StatusOr<std::optional<std::string>> format = (*snapshot)->Get(keys::kFormat);
  if (!format.ok()) return format.status();
  uint64_t generation = 1;
  if (gen->has_value()) generation = keys::ParseFixed64(**gen);
  if (!gen->has_value() || *format != std::optional<std::string>(keys::kFormatVersion)) {
    // New, or written by another version: start this generation afresh.
    store::StateBatch batch;
    std::string prefix = keys::GenerationPrefix(generation);
    std::string end = prefix;
    end.back() = static_cast<char>(end.back() + 1);
    batch.DeleteRange(prefix, end);
    batch.Put(std::string(keys::kGeneration), keys::Fixed64(generation));
    batch.Put(std::string(keys::kFormat), std::string(keys::kFormatVersion));
    if (absl::Status s = state->Write(batch); !s.ok()) return s;
  }
  snapshot->reset();
  p->live_ = std::make_unique<Projector>(log, state, generation);
  if (absl::Status s = p->live_->Load(); !s.ok()) return s;
  p->published_.store(p->live_->applied(), std::memory_order_release);
  p->commit_listener_ = log->AddCommitListener([raw = p.get()](store::Position) { raw->Wake(); });
  p->follower_ = std::thread([raw = p.get()] {
    pthread_setname_np(pthread_self(), "dw-projector");
    // Appends and live delivery come first: the projector runs only on CPU
    // time nothing else wants (SCHED_IDLE; the lowest nice value where that
    // is refused). Under full load the projections trail — the lag GetStats
    // reports and min_position waits out — and catch up when the load drops.
    // So that a starved projector never holds up an append, it takes no lock
    // the append path takes: it learns of commits through wake_.
    sched_param idle{};
    if (pthread_setschedparam(pthread_self(), SCHED_IDLE, &idle) != 0) {
      setpriority(PRIO_PROCESS, static_cast<id_t>(syscall(SYS_gettid)), kProjectorNice);
    }
    raw->FollowLoop();
  });
  return p;
}

MarketProjections::~MarketProjections() { Stop(); }

void MarketProjections::Stop() {
  {
    std::lock_guard l(mu_);
    stopping_ = true;
    interrupt_.store(true, std::memory_order_release);
  }
  {
    std::lock_guard l(wait_mu_);
    closed_.store(true, std::memory_order_release);
  }
  Wake();
  applied_cv_.notify_all();
  pause_cv_.notify_all();
  if (follower_.joinable()) follower_.join();
  if (commit_listener_ != 0) {
    log_->RemoveCommitListener(commit_listener_);
    commit_listener_ = 0;
  }
}

void MarketProjections::Wake() {
  wake_.fetch_add(1, std::memory_order_release);
  wake_.notify_all();
}

uint64_t MarketProjections::applied() const {
  return published_.load(std::memory_order_acquire);
}

void MarketProjections::Publish(uint64_t applied) {
  uint64_t was = published_.load(std::memory_order_relaxed);
  while (was < applied &&
         !published_.compare_exchange_weak(was, applied, std::memory_order_release)) {
  }
  { std::lock_guard l(wait_mu_); }
  applied_cv_.notify_all();
}

void MarketProjections::FollowLoop() {
  for (;;) {
    Projector* projector;
    {
      std::unique_lock l(mu_);
      if (pause_requested_) {
        paused_ = true;
        pause_cv_.notify_all();
        pause_cv_.wait(l, [this] { return !pause_requested_ || stopping_; });
        paused_ = false;
      }
      if (stopping_) return;
      projector = live_.get();
    }
    // Read before the log's end: a commit after that read changes it.
    const uint32_t seen = wake_.load(std::memory_order_acquire);
    const uint64_t end = log_->LastPosition().value();
    if (projector->applied() >= end) {
      if (!interrupt_.load(std::memory_order_acquire)) wake_.wait(seen, std::memory_order_acquire);
      continue;
    }
    absl::Status s = projector->ApplyUpTo(
        end, options_.max_batch_events, [this](uint64_t applied) { Publish(applied); },
        [this] { return interrupt_.load(std::memory_order_acquire); });
    if (!s.ok()) {
      // A failed batch leaves the state at the last whole batch; retry after
      // a pause (the log may be closing, or the disk recovering).
      std::unique_lock l(mu_);
      pause_cv_.wait_for(l, std::chrono::seconds(1), [this] { return stopping_; });
    }
  }
}

absl::Status MarketProjections::WaitApplied(uint64_t position, absl::Time deadline) const {
  if (position > log_->LastPosition().value()) {
    return absl::OutOfRangeError(absl::StrCat("min_position: ", position,
                                              " is beyond the end of the log (",
                                              log_->LastPosition().value(), ")"));
  }
  auto reached = [&] {
    return closed_.load(std::memory_order_acquire) ||
           published_.load(std::memory_order_acquire) >= position;
  };
  if (!reached()) {
    std::unique_lock l(wait_mu_);
    if (deadline == absl::InfiniteFuture()) {
      applied_cv_.wait(l, reached);
    } else {
      applied_cv_.wait_until(l, absl::ToChronoTime(deadline), reached);
    }
  }
  if (closed_.load(std::memory_order_acquire)) {
    return absl::UnavailableError("projections are stopping");
  }
  const uint64_t applied = published_.load(std::memory_order_acquire);
  if (applied < position) {
    return absl::DeadlineExceededError(
        absl::StrCat("projections have applied position ", applied, ", not yet ", position));
  }
  return absl::OkStatus();
}

// ---------------------------------------------------------------------------
// MarketIntel
// ---------------------------------------------------------------------------

absl::StatusOr<v1::GetOrganizationResponse> MarketProjections::GetOrganization(
    const v1::GetOrganizationRequest& request, absl::Time deadline) const {
  absl::StatusOr<Query> q = Query::Open(*this, request.as_of(), request.min_position(), deadline);
  if (!q.ok()) return q.status();
  absl::StatusOr<v1::Organization> org = q->RequireOrg(request.org_id(), "org_id");
  if (!org.ok()) return org.status();
  v1::GetOrganizationResponse out;
  NameResolver names = q->Names();
  for (std::string& child : q->Children(request.org_id(), names)) {
    org->add_subsidiary_ids(std::move(child));
  }
  uint64_t claims = 0;
  absl::Status failed;
  absl::Status s = q->reader().Scan(keys::TimelinePrefix(request.org_id()),
                                    [&](absl::string_view, absl::string_view claim_key) {
                                      absl::StatusOr<std::optional<state::Claim>> c =
                                          ReadClaim(q->reader(), claim_key);
                                      if (!c.ok()) failed = c.status();
                                      if (c.ok() && c->has_value() &&
                                          Resolve(**c, q->filter()).has_value()) {
                                        ++claims;
                                      }
                                      return failed.ok();
                                    });
  if (!s.ok()) return s;
  if (!failed.ok()) return failed;
  org->set_claim_count(claims);
  *out.mutable_organization() = *std::move(org);
  out.set_as_of_position(q->position());
  return out;
}

absl::StatusOr<v1::ListOrganizationsResponse> MarketProjections::ListOrganizations(
    const v1::ListOrganizationsRequest& request, absl::Time deadline) const {
  absl::StatusOr<int32_t> page_size = PageSize(request.page_size());
  if (!page_size.ok()) return page_size.status();
  absl::StatusOr<std::optional<PageToken>> token = ParsePageToken(request.page_token());
  if (!token.ok()) return token.status();
  if (!v1::OrganizationKind_IsValid(request.kind())) return Invalid("kind", "is not a kind");
  absl::StatusOr<Query> q = Query::Open(*this, request.as_of(), request.min_position(), deadline,
                                        token->has_value() ? (*token)->position : 0);
  if (!q.ok()) return q.status();
  const std::string prefix = keys::Lower(request.name_prefix());
  std::set<std::string> ids;
  absl::Status s;
  if (prefix.empty()) {
    s = q->reader().Scan("vo/", [&](absl::string_view key, absl::string_view) {
      ids.emplace(key.substr(3));
      return true;
    });
  } else {
    s = q->reader().Scan(keys::NamePrefix(prefix), [&](absl::string_view key, absl::string_view) {
      ids.emplace(key.substr(key.find('\0') + 1));
      return true;
    });
  }
  if (!s.ok()) return s;
  NameResolver names = q->Names();
  v1::ListOrganizationsResponse out;
  auto it = token->has_value() ? ids.upper_bound((*token)->cursor) : ids.begin();
  for (; it != ids.end(); ++it) {
    absl::StatusOr<std::optional<v1::Organization>> org = names.Organization(*it);
    if (!org.ok()) return org.status();
    if (!org->has_value()) continue;
    const v1::Organization& o = **org;
    if (request.kind() != v1::ORGANIZATION_KIND_UNSPECIFIED && o.kind() != request.kind()) continue;
    if (!request.sector().empty() &&
        std::find(o.sectors().begin(), o.sectors().end(), request.sector()) == o.sectors().end()) {
      continue;
    }
    if (!prefix.empty()) {  // the name index is current; recheck under a filter
      bool match = absl::StartsWith(keys::Lower(o.name()), prefix);
      for (const std::string& a : o.aliases()) {
        match = match || absl::StartsWith(keys::Lower(a), prefix);
      }
      if (!match) continue;
    }
    if (out.organizations_size() == *page_size) {
      out.set_next_page_token(
          MakePageToken(out.organizations(out.organizations_size() - 1).org_id(), q->position()));
      break;
    }
    *out.add_organizations() = o;
  }
  out.set_as_of_position(q->position());
  return out;
}

absl::StatusOr<v1::GetCapTableResponse> MarketProjections::GetCapTable(
    const v1::GetCapTableRequest& request, absl::Time deadline) const {
  if (absl::Status s = CheckId(request.company_id(), "company_id"); !s.ok()) return s;
  absl::StatusOr<Query> q = Query::Open(*this, request.as_of(), request.min_position(), deadline);
  if (!q.ok()) return q.status();
  absl::StatusOr<v1::CapTable> table = q->CapTable(request.company_id(), request.include_pending());
  if (!table.ok()) return table.status();
  v1::GetCapTableResponse out;
  *out.mutable_cap_table() = *std::move(table);
  out.set_as_of_position(q->position());
  return out;
}

absl::StatusOr<v1::GetPortfolioResponse> MarketProjections::GetPortfolio(
    const v1::GetPortfolioRequest& request, absl::Time deadline) const {
  absl::StatusOr<Query> q = Query::Open(*this, request.as_of(), request.min_position(), deadline);
  if (!q.ok()) return q.status();
  absl::StatusOr<v1::Organization> investor = q->RequireOrg(request.investor_id(), "investor_id");
  if (!investor.ok()) return investor.status();
  NameResolver names = q->Names();
  v1::GetPortfolioResponse out;
  out.set_investor_id(request.investor_id());
  out.set_investor_name(investor->name());
  std::map<std::pair<std::string, std::string>, v1::Holding> lines;  // (company, holder)
  for (const std::string& holder : q->WithSubsidiaries(request.investor_id(), request.direct_only())) {
    std::set<std::string> companies;
    absl::StatusOr<std::vector<std::string>> deal_ids =
        q->reader().ListIds(keys::DealsOfInvestorPrefix(holder));
    if (!deal_ids.ok()) return deal_ids.status();
    for (const std::string& id : *deal_ids) {
      absl::StatusOr<state::Entity> e = q->reader().GetEntity(keys::Deal(id));
      if (!e.ok()) return e.status();
      std::optional<v1::Deal> deal = FoldDeal(*e, q->filter());
      if (deal.has_value() && deal->investor_id() == holder) companies.insert(deal->company_id());
    }
    absl::StatusOr<std::vector<std::string>> staked =
        q->reader().ListIds(keys::StakesOfHolderPrefix(holder));
    if (!staked.ok()) return staked.status();
    companies.insert(staked->begin(), staked->end());
    for (const std::string& company : companies) {
      absl::StatusOr<v1::CapTable> table = q->CapTable(company, request.include_pending());
      if (absl::IsNotFound(table.status())) continue;
      if (!table.ok()) return table.status();
      for (const v1::Holding& h : table->holders()) {
        if (h.org_id() != holder) continue;
        v1::Holding line = h;
        line.set_org_id(company);
        line.set_name(names.Name(company));
        if (holder != request.investor_id()) line.set_via_org_id(holder);
        lines[{company, holder}] = std::move(line);
      }
    }
  }
  for (auto& [key, line] : lines) {
    for (const v1::Money& m : line.committed()) AddToSums(m, out.mutable_total_committed());
    for (const v1::Money& m : line.closed()) AddToSums(m, out.mutable_total_closed());
    *out.add_holdings() = std::move(line);
  }
  out.set_as_of_position(q->position());
  return out;
}

absl::StatusOr<v1::GetTimelineResponse> MarketProjections::GetTimeline(
    const v1::GetTimelineRequest& request, absl::Time deadline) const {
  absl::StatusOr<int32_t> page_size = PageSize(request.page_size());
  if (!page_size.ok()) return page_size.status();
  absl::StatusOr<std::optional<PageToken>> token = ParsePageToken(request.page_token());
  if (!token.ok()) return token.status();
  size_t offset = 0;
  if (token->has_value() && !absl::SimpleAtoi((*token)->cursor, &offset)) {
    return Invalid("page_token", "was not returned by this listing");
  }
  for (int i = 0; i < request.event_types_size(); ++i) {
    if (!common::IsEventTypeName(request.event_types(i))) {
      return Invalid(absl::StrCat("event_types[", i, "]"),
                     absl::StrCat("'", request.event_types(i), "' is not an event type"));
    }
  }
  absl::StatusOr<Query> q = Query::Open(*this, request.as_of(), request.min_position(), deadline,
                                        token->has_value() ? (*token)->position : 0);
  if (!q.ok()) return q.status();
  absl::StatusOr<v1::Organization> org = q->RequireOrg(request.org_id(), "org_id");
  if (!org.ok()) return org.status();
  std::vector<v1::TimelineEntry> entries;
  absl::Status failed;
  absl::Status s = q->reader().Scan(
      keys::TimelinePrefix(request.org_id()), [&](absl::string_view, absl::string_view claim_key) {
        absl::StatusOr<std::optional<state::Claim>> claim = ReadClaim(q->reader(), claim_key);
        if (!claim.ok()) {
          failed = claim.status();
          return false;
        }
        if (!claim->has_value()) return true;
        std::optional<v1::TimelineEntry> entry = FoldTimelineEntry(**claim, q->filter());
        if (!entry.has_value()) return true;
        if (request.event_types_size() > 0 &&
            std::find(request.event_types().begin(), request.event_types().end(),
                      entry->event_type()) == request.event_types().end()) {
          return true;
        }
        auto* others = entry->mutable_other_org_ids();
        others->erase(std::remove(others->begin(), others->end(), request.org_id()),
                      others->end());
        entries.push_back(*std::move(entry));
        return true;
      });
  if (!s.ok()) return s;
  if (!failed.ok()) return failed;
  SortTimeline(&entries, request.descending());
  v1::GetTimelineResponse out;
  for (size_t i = offset; i < entries.size(); ++i) {
    if (out.entries_size() == *page_size) {
      out.set_next_page_token(MakePageToken(absl::StrCat(i), q->position()));
      break;
    }
    *out.add_entries() = std::move(entries[i]);
  }
  out.set_as_of_position(q->position());
  return out;
}

absl::StatusOr<v1::GetValuationHistoryResponse> MarketProjections::GetValuationHistory(
    const v1::GetValuationHistoryRequest& request, absl::Time deadline) const {
  absl::StatusOr<Query> q = Query::Open(*this, request.as_of(), request.min_position(), deadline);
  if (!q.ok()) return q.status();
  absl::StatusOr<v1::Organization> org = q->RequireOrg(request.company_id(), "company_id");
  if (!org.ok()) return org.status();
  absl::StatusOr<std::vector<v1::Deal>> deals =
      LoadCompanyDeals(q->reader(), request.company_id(), q->filter());
  if (!deals.ok()) return deals.status();
  std::vector<v1::Deal> rounds;
  for (v1::Deal& d : *deals) {
    if (d.kind() == v1::DEAL_KIND_ROUND) rounds.push_back(std::move(d));
  }
  absl::StatusOr<state::Entity> claims = q->reader().GetEntity(keys::Company(request.company_id()));
  if (!claims.ok()) return claims.status();
  v1::GetValuationHistoryResponse out;
  for (v1::ValuationPoint& p : FoldValuations(*claims, rounds, q->filter())) {
    *out.add_points() = std::move(p);
  }
  out.set_as_of_position(q->position());
  return out;
}

absl::StatusOr<v1::GetDealResponse> MarketProjections::GetDeal(const v1::GetDealRequest& request,
                                                               absl::Time deadline) const {
  if (absl::Status s = CheckId(request.deal_id(), "deal_id"); !s.ok()) return s;
  absl::StatusOr<Query> q = Query::Open(*this, request.as_of(), request.min_position(), deadline);
  if (!q.ok()) return q.status();
  absl::StatusOr<state::Entity> e = q->reader().GetEntity(keys::Deal(request.deal_id()));
  if (!e.ok()) return e.status();
  std::optional<v1::Deal> deal = FoldDeal(*e, q->filter());
  if (!deal.has_value()) {
    return absl::NotFoundError(absl::StrCat("deal_id: no deal '", request.deal_id(), "'"));
  }
  v1::GetDealResponse out;
  *out.mutable_deal() = *std::move(deal);
  out.set_as_of_position(q->position());
  return out;
}

absl::StatusOr<v1::ListDealsResponse> MarketProjections::ListDeals(
    const v1::ListDealsRequest& request, absl::Time deadline) const {
  absl::StatusOr<int32_t> page_size = PageSize(request.page_size());
  if (!page_size.ok()) return page_size.status();
  absl::StatusOr<std::optional<PageToken>> token = ParsePageToken(request.page_token());
  if (!token.ok()) return token.status();
  if (!request.company_id().empty()) {
    if (absl::Status s = CheckId(request.company_id(), "company_id"); !s.ok()) return s;
  }
  if (!request.investor_id().empty()) {
    if (absl::Status s = CheckId(request.investor_id(), "investor_id"); !s.ok()) return s;
  }
  if (!v1::DealStage_IsValid(request.stage())) return Invalid("stage", "is not a deal stage");
  if (!v1::DealKind_IsValid(request.kind())) return Invalid("kind", "is not a deal kind");
  absl::StatusOr<Query> q = Query::Open(*this, request.as_of(), request.min_position(), deadline,
                                        token->has_value() ? (*token)->position : 0);
  if (!q.ok()) return q.status();
  // Candidate ids, in id order: from the narrowest index available.
  std::vector<std::string> ids;
  if (!request.company_id().empty() || !request.investor_id().empty()) {
    absl::StatusOr<std::vector<std::string>> by =
        q->reader().ListIds(!request.company_id().empty()
                                ? keys::DealsOfCompanyPrefix(request.company_id())
                                : keys::DealsOfInvestorPrefix(request.investor_id()));
    if (!by.ok()) return by.status();
    ids = *std::move(by);
  }
  const bool all_deals = ids.empty() && request.company_id().empty() && request.investor_id().empty();
  v1::ListDealsResponse out;
  std::string cursor = token->has_value() ? (*token)->cursor : "";
  if (all_deals) {
    // Every deal, in chunks, skipping over their claims.
    absl::StatusOr<std::vector<std::string>> chunk = q->reader().ListEntityIds("d/", cursor, 256);
    if (!chunk.ok()) return chunk.status();
    ids = *std::move(chunk);
  }
  auto it = ids.begin();
  if (!all_deals && token->has_value()) it = std::upper_bound(ids.begin(), ids.end(), cursor);
  for (;; ++it) {
    if (it == ids.end()) {
      if (!all_deals || ids.empty()) break;
      absl::StatusOr<std::vector<std::string>> chunk =
          q->reader().ListEntityIds("d/", ids.back(), 256);
      if (!chunk.ok()) return chunk.status();
      if (chunk->empty()) break;
      ids = *std::move(chunk);
      it = ids.begin();
    }
    absl::StatusOr<state::Entity> e = q->reader().GetEntity(keys::Deal(*it));
    if (!e.ok()) return e.status();
    std::optional<v1::Deal> deal = FoldDeal(*e, q->filter());
    if (!deal.has_value()) continue;
    if (!request.company_id().empty() && deal->company_id() != request.company_id()) continue;
    if (!request.investor_id().empty() && deal->investor_id() != request.investor_id()) continue;
    if (request.stage() != v1::DEAL_STAGE_UNSPECIFIED && deal->stage() != request.stage()) continue;
    if (request.kind() != v1::DEAL_KIND_UNSPECIFIED && deal->kind() != request.kind()) continue;
    if (request.overdue_only() && !deal->overdue()) continue;
    if (out.deals_size() == *page_size) {
      out.set_next_page_token(MakePageToken(out.deals(out.deals_size() - 1).deal_id(), q->position()));
      break;
    }
    *out.add_deals() = *std::move(deal);
  }
  out.set_as_of_position(q->position());
  return out;
}

absl::StatusOr<v1::ListPartnershipsResponse> MarketProjections::ListPartnerships(
    const v1::ListPartnershipsRequest& request, absl::Time deadline) const {
  absl::StatusOr<Query> q = Query::Open(*this, request.as_of(), request.min_position(), deadline);
  if (!q.ok()) return q.status();
  absl::StatusOr<v1::Organization> org = q->RequireOrg(request.org_id(), "org_id");
  if (!org.ok()) return org.status();
  std::set<std::string> ids;
  for (const std::string& o : q->WithSubsidiaries(request.org_id(), request.direct_only())) {
    absl::StatusOr<std::vector<std::string>> p = q->reader().ListIds(keys::PartnershipsOfPrefix(o));
    if (!p.ok()) return p.status();
    ids.insert(p->begin(), p->end());
  }
  NameResolver names = q->Names();
  auto name_of = [&](absl::string_view id) { return names.Name(id); };
  auto rollup_of = [&](absl::string_view id) { return names.Rollup(id); };
  v1::ListPartnershipsResponse out;
  for (const std::string& id : ids) {
    absl::StatusOr<state::Entity> e = q->reader().GetEntity(keys::Partnership(id));
    if (!e.ok()) return e.status();
    std::optional<v1::Partnership> p = FoldPartnership(*e, q->filter(), name_of, rollup_of);
    if (!p.has_value() || (!p->active() && !request.include_ended())) continue;
    *out.add_partnerships() = *std::move(p);
  }
  out.set_as_of_position(q->position());
  return out;
}

absl::StatusOr<v1::GetExposureResponse> MarketProjections::GetExposure(
    const v1::GetExposureRequest& request, absl::Time deadline) const {
  absl::StatusOr<Query> q = Query::Open(*this, request.as_of(), request.min_position(), deadline);
  if (!q.ok()) return q.status();
  absl::StatusOr<v1::Organization> org = q->RequireOrg(request.org_id(), "org_id");
  if (!org.ok()) return org.status();
  const std::vector<std::string> family = q->WithSubsidiaries(request.org_id(), false);
  const std::set<std::string> ours(family.begin(), family.end());
  std::vector<FoundTie> ties;
  auto add = [&](std::string company, v1::TieKind kind, const std::string& via,
                 std::string subject, v1::Confidence confidence) -> v1::Tie* {
    if (company.empty() || ours.contains(company)) return nullptr;
    FoundTie t;
    t.company_id = std::move(company);
    t.tie.set_kind(kind);
    t.tie.set_via_org_id(via);
    t.tie.set_subject_id(std::move(subject));
    t.tie.set_confidence(confidence);
    ties.push_back(std::move(t));
    return &ties.back().tie;
  };
  for (const std::string& holder : family) {
    const StateReader& r = q->reader();
    absl::StatusOr<std::vector<std::string>> deal_ids = r.ListIds(keys::DealsOfInvestorPrefix(holder));
    if (!deal_ids.ok()) return deal_ids.status();
    for (const std::string& id : *deal_ids) {
      absl::StatusOr<state::Entity> e = r.GetEntity(keys::Deal(id));
      if (!e.ok()) return e.status();
      std::optional<v1::Deal> d = FoldDeal(*e, q->filter());
      if (!d.has_value() || d->investor_id() != holder || d->stage() == v1::DEAL_STAGE_COLLAPSED) {
        continue;
      }
      if (request.closed_only() && d->stage() != v1::DEAL_STAGE_CLOSED) continue;
      const v1::TieKind kind = d->kind() == v1::DEAL_KIND_ACQUISITION ? v1::TIE_KIND_ACQUISITION
                                                                      : v1::TIE_KIND_INVESTMENT;
      if (v1::Tie* t = add(d->company_id(), kind, holder, d->deal_id(), d->confidence())) {
        t->set_stage(d->stage());
      }
    }
    absl::StatusOr<std::vector<std::string>> staked = r.ListIds(keys::StakesOfHolderPrefix(holder));
    if (!staked.ok()) return staked.status();
    for (const std::string& company : *staked) {
      absl::StatusOr<state::Entity> e = r.GetEntity(keys::Company(company));
      if (!e.ok()) return e.status();
      std::optional<ResolvedClaim> latest;
      for (const state::Claim& c : e->claims()) {
        std::optional<ResolvedClaim> rc = Resolve(c, q->filter());
        if (rc.has_value() && rc->payload->has_stake_disclosed() &&
            rc->payload->stake_disclosed().holder_id() == holder) {
          latest = rc;
        }
      }
      if (!latest.has_value()) continue;
      const v1::OwnershipFraction& f = latest->payload->stake_disclosed().ownership();
      if (f.has_exact() && f.exact().parts_per_million() == 0) continue;  // an exit
      add(company, v1::TIE_KIND_STAKE, holder, "", latest->confidence);
    }
    absl::StatusOr<std::vector<std::string>> partnerships =
        r.ListIds(keys::PartnershipsOfPrefix(holder));
    if (!partnerships.ok()) return partnerships.status();
    for (const std::string& id : *partnerships) {
      absl::StatusOr<state::Entity> e = r.GetEntity(keys::Partnership(id));
      if (!e.ok()) return e.status();
      std::optional<v1::Partnership> p = FoldPartnership(
          *e, q->filter(), [](absl::string_view) { return std::string(); },
          [](absl::string_view) { return std::string(); });
      if (!p.has_value() || !p->active()) continue;
      std::vector<v1::PartnershipRole> roles;
      std::set<std::string> others;
      for (const v1::PartnerView& party : p->parties()) {
        if (party.org_id() == holder) roles.push_back(party.role());
        if (!ours.contains(party.org_id())) others.insert(party.org_id());
      }
      for (const std::string& other : others) {
        if (v1::Tie* t = add(other, v1::TIE_KIND_PARTNERSHIP, holder, id, p->confidence())) {
          for (const v1::PartnershipRole role : roles) t->add_roles(role);
        }
      }
    }
    absl::StatusOr<std::vector<std::string>> facilities = r.ListIds(keys::FacilitiesOfPrefix(holder));
    if (!facilities.ok()) return facilities.status();
    for (const std::string& id : *facilities) {
      absl::StatusOr<state::Entity> e = r.GetEntity(keys::Facility(id));
      if (!e.ok()) return e.status();
      for (const state::Claim& c : e->claims()) {
        std::optional<ResolvedClaim> rc = Resolve(c, q->filter());
        if (!rc.has_value() || !rc->payload->has_facility_announced()) continue;
        const v1::FacilityAnnounced& f = rc->payload->facility_announced();
        if (f.owner_id() == holder) {
          add(f.beneficiary_id(), v1::TIE_KIND_FACILITY, holder, id, rc->confidence);
        } else if (f.beneficiary_id() == holder) {
          add(f.owner_id(), v1::TIE_KIND_FACILITY, holder, id, rc->confidence);
        }
      }
    }
  }
  NameResolver names = q->Names();
  v1::GetExposureResponse out;
  out.set_org_id(request.org_id());
  for (v1::SectorExposure& e : GroupExposure(
           ties,
           [&](absl::string_view company) {
             absl::StatusOr<std::optional<v1::Organization>> o = names.Organization(company);
             std::vector<std::string> sectors;
             if (o.ok() && o->has_value()) {
               sectors.assign((*o)->sectors().begin(), (*o)->sectors().end());
             }
             return sectors;
           },
           [&](absl::string_view id) { return names.Name(id); })) {
    *out.add_exposures() = std::move(e);
  }
  out.set_as_of_position(q->position());
  return out;
}

absl::StatusOr<v1::GetMarketSummaryResponse> MarketProjections::GetMarketSummary(
    const v1::GetMarketSummaryRequest& request, absl::Time deadline) const {
  for (const auto& [field, date] : {std::pair{"from_quarter", &request.from_quarter()},
                                    std::pair{"to_quarter", &request.to_quarter()}}) {
    if (date->precision() == v1::DATE_PRECISION_UNSPECIFIED && !date->has_date()) continue;
    if (absl::Status s = domain::ValidateEffectiveDate(*date, field); !s.ok()) return s;
    if (date->precision() != v1::DATE_PRECISION_QUARTER) {
      return Invalid(field, "must have precision QUARTER");
    }
  }
  if (request.largest_deals_limit() < 0 || request.largest_deals_limit() > 100) {
    return Invalid("largest_deals_limit", "must be in 0..100");
  }
  if (!v1::DealKind_IsValid(request.kind())) return Invalid("kind", "is not a deal kind");
  absl::StatusOr<Query> q = Query::Open(*this, request.as_of(), request.min_position(), deadline);
  if (!q.ok()) return q.status();
  NameResolver names = q->Names();
  SummaryBuilder builder(request);
  absl::Status s = q->reader().ScanEntities("d/", [&](const state::Entity& e) {
    std::optional<v1::Deal> deal = FoldDeal(e, q->filter());
    if (!deal.has_value()) return true;
    // Investments of a round count through their round.
    if (deal->kind() == v1::DEAL_KIND_INVESTMENT && !deal->round_id().empty()) return true;
    absl::StatusOr<std::optional<v1::Organization>> company = names.Organization(deal->company_id());
    std::vector<std::string> sectors;
    if (company.ok() && company->has_value()) {
      sectors.assign((*company)->sectors().begin(), (*company)->sectors().end());
    }
    builder.Add(*deal, sectors);
    return true;
  });
  if (!s.ok()) return s;
  v1::GetMarketSummaryResponse out;
  builder.Finish(&out);
  out.set_as_of_position(q->position());
  return out;
}

// ---------------------------------------------------------------------------
// Admin
// ---------------------------------------------------------------------------

absl::StatusOr<v1::GetStatsResponse> MarketProjections::GetStats(
    const v1::GetStatsRequest& request) const {
  absl::StatusOr<Query> q = Query::Open(*this, v1::AsOf(), 0, absl::InfinitePast());
  if (!q.ok()) return q.status();
  v1::GetStatsResponse out;
  const uint64_t last = log_->LastPosition().value();
  out.set_last_position(last);
  out.set_projection_position(q->position());
  out.set_projection_lag(last > q->position() ? last - q->position() : 0);
  absl::StatusOr<std::optional<std::string>> raw = q->reader().Get(keys::StatsKey());
  if (!raw.ok()) return raw.status();
  state::Stats stats;
  if (raw->has_value() && !stats.ParseFromString(**raw)) {
    return absl::DataLossError("projection stats are corrupt");
  }
  out.set_organizations(stats.organizations());
  out.set_deals(stats.deals());
  out.set_partnerships(stats.partnerships());
  out.set_facilities(stats.facilities());
  out.set_retracted_events(stats.retracted_events());
  out.set_corrected_events(stats.corrected_events());
  for (const auto& [type, n] : stats.events_by_type()) (*out.mutable_events_by_type())[type] = n;
  if (request.include_digest()) {
    absl::StatusOr<std::unique_ptr<store::StateSnapshot>> snapshot = state_->Snapshot();
    if (!snapshot.ok()) return snapshot.status();
    absl::StatusOr<std::optional<std::string>> gen = (*snapshot)->Get(keys::kGeneration);
    if (!gen.ok()) return gen.status();
    const uint64_t generation = gen->has_value() ? keys::ParseFixed64(**gen) : 1;
    absl::StatusOr<std::string> digest = StateDigest(**snapshot, generation);
    if (!digest.ok()) return digest.status();
    out.set_state_digest(*digest);
    // The digest's snapshot may be a batch later than the counts above.
    absl::StatusOr<std::optional<std::string>> applied =
        (*snapshot)->Get(absl::StrCat(keys::GenerationPrefix(generation), keys::Applied()));
    if (applied.ok() && applied->has_value()) {
      out.set_projection_position(keys::ParseFixed64(**applied));
    }
  }
  return out;
}

void MarketProjections::Pause() {
  std::unique_lock l(mu_);
  pause_requested_ = true;
  interrupt_.store(true, std::memory_order_release);
  Wake();
  pause_cv_.wait(l, [this] { return paused_ || stopping_; });
}

void MarketProjections::Resume() {
  {
    std::lock_guard l(mu_);
    pause_requested_ = false;
    interrupt_.store(stopping_, std::memory_order_release);
  }
  pause_cv_.notify_all();
}

absl::Status MarketProjections::Rebuild(
    const std::function<void(const v1::RebuildProjectionsResponse&)>& emit,
    const std::function<bool()>& cancelled) {
  std::unique_lock rebuild(rebuild_mu_, std::try_to_lock);
  if (!rebuild.owns_lock()) {
    return absl::FailedPreconditionError("a rebuild of the projections is already running");
  }
  const absl::Time start = absl::Now();
  uint64_t old_generation;
  {
    std::lock_guard l(mu_);
    if (stopping_) return absl::UnavailableError("projections are stopping");
    old_generation = live_->generation();
  }
  const uint64_t new_generation = old_generation + 1;
  const std::string new_prefix = keys::GenerationPrefix(new_generation);
  auto range_end = [](std::string prefix) {
    prefix.back() = static_cast<char>(prefix.back() + 1);  // "gN/" → "gN0"
    return prefix;
  };
  auto drop_new = [&] {
    store::StateBatch batch;
    batch.DeleteRange(new_prefix, range_end(new_prefix));
    return state_->Write(batch);
  };
  // Leftovers of an abandoned rebuild.
  if (absl::Status s = drop_new(); !s.ok()) return s;

  auto rebuilt = std::make_unique<Projector>(log_, state_, new_generation);
  const uint64_t target = log_->LastPosition().value();
  absl::Time last_progress = absl::InfinitePast();
  auto progress = [&](uint64_t applied) {
    const absl::Time now = absl::Now();
    if (now - last_progress < absl::Seconds(1) && applied != target) return;
    last_progress = now;
    v1::RebuildProjectionsResponse r;
    r.mutable_progress()->set_applied_position(applied);
    r.mutable_progress()->set_target_position(target);
    const double secs = absl::ToDoubleSeconds(now - start);
    if (secs > 0) r.mutable_progress()->set_events_per_second(static_cast<double>(applied) / secs);
    emit(r);
  };
  absl::Status s = rebuilt->ApplyUpTo(target, options_.rebuild_batch_events, progress, cancelled);
  if (s.ok() && cancelled()) s = absl::CancelledError("rebuild cancelled");
  if (!s.ok()) {
    drop_new().IgnoreError();
    return s;
  }
  const absl::Duration folding = absl::Now() - start;

  // Bring both states to one position, then compare them.
  Pause();
  Projector* live;
  {
    std::lock_guard l(mu_);
    live = live_.get();
  }
  const uint64_t at = std::max(live->applied(), rebuilt->applied());
  s = live->ApplyUpTo(at, options_.max_batch_events);
  if (s.ok()) s = rebuilt->ApplyUpTo(at, options_.rebuild_batch_events);
  absl::StatusOr<std::string> live_digest, rebuilt_digest;
  if (s.ok()) {
    absl::StatusOr<std::unique_ptr<store::StateSnapshot>> snapshot = state_->Snapshot();
    if (!snapshot.ok()) {
      s = snapshot.status();
    } else {
      live_digest = StateDigest(**snapshot, old_generation);
      rebuilt_digest = StateDigest(**snapshot, new_generation);
      if (!live_digest.ok()) s = live_digest.status();
      if (!rebuilt_digest.ok()) s = rebuilt_digest.status();
    }
  }
  if (s.ok()) {
    store::StateBatch batch;
    batch.Put(std::string(keys::kGeneration), keys::Fixed64(new_generation));
    const std::string old_prefix = keys::GenerationPrefix(old_generation);
    batch.DeleteRange(old_prefix, range_end(old_prefix));
    s = state_->Write(batch);
  }
  if (!s.ok()) {
    Resume();
    drop_new().IgnoreError();
    return s;
  }
  {
    std::lock_guard l(mu_);
    live_ = std::move(rebuilt);
  }
  Publish(at);
  Resume();

  v1::RebuildProjectionsResponse r;
  v1::RebuildDone* done = r.mutable_done();
  done->set_position(at);
  done->set_live_digest(*live_digest);
  done->set_rebuilt_digest(*rebuilt_digest);
  done->set_identical(*live_digest == *rebuilt_digest);
  done->set_events(target);
  const absl::Duration elapsed = absl::Now() - start;
  done->mutable_elapsed()->set_seconds(absl::ToInt64Seconds(elapsed));
  done->mutable_elapsed()->set_nanos(
      static_cast<int32_t>(absl::ToInt64Nanoseconds(elapsed - absl::Seconds(absl::ToInt64Seconds(elapsed)))));
  const double secs = absl::ToDoubleSeconds(folding);
  done->set_events_per_second(secs > 0 ? static_cast<double>(target) / secs : 0);
  emit(r);
  return absl::OkStatus();
}

}  // namespace dealwire::projections
