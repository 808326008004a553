// Where the decider's state is kept: table by table in the log's state
// space (paged_table.h), under "decider/<table>/<key>", with the marker
// "decider/@" naming the last event the kept state includes (its position
// and event id), written in the same batch as the changes it covers.
//
// The writer thread encodes the changes of the decisions that stood into a
// batch every kTakeAt dirty entries (and at Close); BatchWriter writes each
// batch once the log has made its events durable, in order, so the kept
// state never includes an event the log does not hold. A batch whose
// events never become durable (a storage error) is dropped by the Recover
// that follows. A start reads the marker and applies only the events after
// it: none after a clean stop; after kill -9, those whose changes were not
// yet written or not yet flushed by the state space (which has no WAL).
//
// Entry encodings: integers as base-128 varints (signed ones
// zigzag-encoded), strings length-prefixed.
#include <pthread.h>

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "domain/decision_state.h"

namespace dealwire::domain::internal {
namespace {

namespace v1 = dealwire::v1;

// The marker: the position (a varint) and id of the last event the kept
// state includes.
constexpr absl::string_view kMarkerKey = "decider/@";
// The layout of the entries below; kept state of another layout is dropped
// and the log replayed. Goes up with any change of an entry's encoding or
// of the tables.
constexpr absl::string_view kFormatKey = "decider/format";
constexpr absl::string_view kFormat = "2";
// Every key of the kept state is in [kStateBegin, kStateEnd).
constexpr absl::string_view kStateBegin = "decider/";
constexpr absl::string_view kStateEnd = "decider0";
// Dirty entries that make a batch: hot entries (an organization named by
// every other event) are written once per batch, not once per change.
constexpr size_t kTakeAt = 32768;
// Bytes of batches written after which the state space is asked to flush
// them: what a start after kill -9 applies again is about this much of
// changes (rather than the state space's memtables, 64 MiB and more).
constexpr size_t kPersistEvery = 16 << 20;
// Bytes of batches waiting to be written beyond which the writer thread
// waits for them (or, when they cannot be written, appends fail).
constexpr size_t kMaxQueuedBytes = 64 << 20;

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
  bool whole() const { return ok_ && in_.empty(); }
  absl::string_view rest() const { return in_; }

 private:
  absl::string_view in_;
  bool ok_ = true;
};

}  // namespace

// --- Entry encodings ------------------------------------------------------------

void OrgCodec::Encode(const Org& o, std::string* out) {
  Writer w(out);
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

bool OrgCodec::Decode(absl::string_view in, Org* o) {
  Reader r(in);
  o->registered_at = r.U();
  o->refs = r.I();
  for (size_t p = r.Count(); r.ok() && p > 0; --p) {
    const uint64_t pos = r.U();
    o->parents.emplace_back(pos, r.S());
  }
  for (size_t a = r.Count(); r.ok() && a > 0; --a) {
    AliasClaim& c = o->aliases.emplace_back();
    c.position = r.U();
    c.add = r.Strings();
    c.remove = r.Strings();
  }
  return r.whole();
}

void DealCodec::Encode(const Deal& d, std::string* out) {
  Writer w(out);
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

bool DealCodec::Decode(absl::string_view in, Deal* d) {
  Reader r(in);
  const uint64_t kind = r.U();
  if (kind > static_cast<uint64_t>(DealKind::kAcquisition)) return false;
  d->kind = static_cast<DealKind>(kind);
  d->company = r.S();
  d->party = r.S();
  d->round = r.S();
  d->round_refs = r.I();
  d->orgs = r.Strings();
  for (size_t c = r.Count(); r.ok() && c > 0; --c) {
    const uint64_t pos = r.U();
    d->claims.push_back({pos, static_cast<v1::DealStage>(r.I())});
  }
  return r.whole();
}

void PartnershipCodec::Encode(const Partnership& p, std::string* out) {
  Writer w(out);
  w.U(p.formed_at);
  w.U(p.ended_by);
  w.Strings(p.orgs);
}

bool PartnershipCodec::Decode(absl::string_view in, Partnership* p) {
  Reader r(in);
  p->formed_at = r.U();
  p->ended_by = r.U();
  p->orgs = r.Strings();
  return r.whole();
}

void NumberCodec::Encode(uint64_t v, std::string* out) { Writer(out).U(v); }

bool NumberCodec::Decode(absl::string_view in, uint64_t* v) {
  Reader r(in);
  *v = r.U();
  return r.whole();
}

// --- BatchWriter -------------------------------------------------------------

class BatchWriter {
 public:
  BatchWriter(store::StateSpace* space, const store::EventLog* log, PageCache* cache)
      : space_(space), log_(log), cache_(cache), thread_([this] {
          pthread_setname_np(pthread_self(), "dw-decider-put");
          Loop();
        }) {}
  ~BatchWriter() { Stop(); }

  // Queues batch number `seq`, to be written once the event at `through` is
  // durable. Waits while kMaxQueuedBytes are queued; UNAVAILABLE when they
  // are and the last write failed.
  absl::Status Add(uint64_t seq, uint64_t through, store::StateBatch batch) {
    std::unique_lock l(mu_);
    while (queued_bytes_ > kMaxQueuedBytes) {
      if (!error_.ok()) {
        return absl::UnavailableError(
            absl::StrCat("the decider's state cannot be written: ", error_.message()));
      }
      cv_.wait_for(l, std::chrono::milliseconds(100));
    }
    queued_bytes_ += batch.bytes();
    queue_.push_back({seq, through, std::move(batch)});
    cv_.notify_all();
    return absl::OkStatus();
  }

  // Waits until every batch queued so far is written; the last write's
  // error when one fails meanwhile.
  absl::Status WaitWritten() {
    std::unique_lock l(mu_);
    const uint64_t last = queue_.empty() ? 0 : queue_.back().seq;
    while (!queue_.empty() && queue_.front().seq <= last) {
      if (!error_.ok()) return error_;
      if (stopping_) return absl::CancelledError("the decider's writer is stopping");
      cv_.wait_for(l, std::chrono::milliseconds(100));
    }
    return absl::OkStatus();
  }

  // Drops every queued batch; a batch being written is written first.
  void Drop() {
    std::lock_guard w(write_mu_);
    std::lock_guard l(mu_);
    queue_.clear();
    queued_bytes_ = 0;
    error_ = absl::OkStatus();
    cv_.notify_all();
  }

  // Writes the batches whose events are durable, drops the others, and
  // stops the thread.
  void Stop() {
    {
      std::lock_guard l(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

 private:
  struct Pending {
    uint64_t seq;
    uint64_t through;
    store::StateBatch batch;
  };

  void Loop() {
    for (;;) {
      uint64_t seq = 0, through = 0;
      {
        std::unique_lock l(mu_);
        cv_.wait(l, [this] { return stopping_ || !queue_.empty(); });
        if (queue_.empty()) return;
        seq = queue_.front().seq;
        through = queue_.front().through;
      }
      if (!Durable(seq, through)) continue;
      std::unique_lock w(write_mu_);
      const store::StateBatch* batch = nullptr;
      {
        std::lock_guard l(mu_);
        // Dropped meanwhile (a Recover): its events may be gone.
        if (queue_.empty() || queue_.front().seq != seq) continue;
        batch = &queue_.front().batch;  // deque: push_back keeps it in place
      }
      const absl::Status written = space_->Write(*batch);
      {
        std::lock_guard l(mu_);
        error_ = written;
        if (written.ok()) {
          unpersisted_ += queue_.front().batch.bytes();
          queued_bytes_ -= queue_.front().batch.bytes();
          queue_.pop_front();
          cache_->applied.store(seq, std::memory_order_release);
        }
      }
      cv_.notify_all();
      w.unlock();
      if (unpersisted_ >= kPersistEvery && space_->Persist().ok()) unpersisted_ = 0;
      if (!written.ok()) {
        // The state space resumes by itself once it can write (its Write
        // retries); until then, try again now and then.
        std::unique_lock l(mu_);
        cv_.wait_for(l, std::chrono::milliseconds(200), [this] { return stopping_; });
        if (stopping_) return;
      }
    }
  }

  // Waits until the event at `through` is durable; false when batch `seq`
  // was dropped meanwhile, or when stopping and the log does not hold it.
  bool Durable(uint64_t seq, uint64_t through) {
    for (;;) {
      if (log_->LastPosition().value() >= through) return true;
      log_->WaitForPosition(store::Position(through - 1), absl::Now() + absl::Milliseconds(100))
          .IgnoreError();
      if (log_->LastPosition().value() >= through) return true;
      std::lock_guard l(mu_);
      if (queue_.empty() || queue_.front().seq != seq) return false;
      if (stopping_) {  // never durable: a storage error
        queue_.clear();
        queued_bytes_ = 0;
        return false;
      }
    }
  }

  store::StateSpace* const space_;
  const store::EventLog* const log_;
  PageCache* const cache_;
  std::mutex write_mu_;  // held while a batch is written; Drop waits for it
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Pending> queue_;  // guarded by mu_
  size_t queued_bytes_ = 0;    // guarded by mu_
  bool stopping_ = false;      // guarded by mu_
  absl::Status error_;         // the last write's; guarded by mu_
  size_t unpersisted_ = 0;     // bytes written since the last Persist; its thread only
  std::thread thread_;
};

// --- DecisionState: keeping the state ------------------------------------------

DecisionState::DecisionState(store::StateSpace* space, size_t cache_bytes)
    : space_(space), cache_bytes_(cache_bytes) {
  cache_.space = space;
}

DecisionState::~DecisionState() = default;

void DecisionState::ClearCache() {
  EachTable([](auto& t) { t.clear(); });
  undo_.clear();
  kept_.clear();
  cache_.read_error = absl::OkStatus();
  cache_.applied.store(cache_.next_batch - 1, std::memory_order_release);
  evict_at_ = 0;
  poisoned_ = false;
}

absl::Status DecisionState::Recover(const store::EventLog& log) {
  restored_ = false;
  replayed_ = 0;
  if (writer_ != nullptr) writer_->Drop();
  ClearCache();
  through_ = 0;
  through_id_.clear();
  uint64_t from = 0;
  if (space_ != nullptr) {
    absl::StatusOr<std::optional<std::string>> format = space_->Get(kFormatKey);
    if (!format.ok()) return format.status();
    absl::StatusOr<std::optional<std::string>> marker = space_->Get(kMarkerKey);
    if (!marker.ok()) return marker.status();
    bool usable = false;
    const std::string kept = marker->value_or("");
    Reader r(kept);
    const uint64_t at = r.U();
    const absl::string_view id = r.rest();
    if (*format == std::optional<std::string>(kFormat) && r.ok() && !id.empty()) {
      absl::StatusOr<store::RecordedEvent> there = log.ReadEvent(store::Position(at));
      if (!there.ok() && !absl::IsNotFound(there.status())) return there.status();
      // Another log's state, or one with events this log no longer holds.
      if (there.ok() && there->event_id == id) {
        usable = true;
        from = at + 1;
        through_ = at;
        through_id_ = std::string(id);
      }
    }
    if (!usable) {
      store::StateBatch wipe;
      wipe.DeleteRange(std::string(kStateBegin), std::string(kStateEnd));
      wipe.Put(std::string(kFormatKey), std::string(kFormat));
      if (absl::Status s = space_->Write(wipe); !s.ok()) return s;
    }
    restored_ = usable;
    taken_through_ = through_;
    if (writer_ == nullptr) writer_ = std::make_unique<BatchWriter>(space_, &log, &cache_);
  }
  log_ = &log;
  absl::Status s = Replay(log, from);
  log_ = nullptr;
  if (s.ok()) s = Checkpoint(/*force=*/true, /*sync=*/true);
  return s;
}

store::StateBatch DecisionState::TakeDirty() {
  store::StateBatch batch;
  const uint64_t seq = cache_.next_batch++;
  EachTable([&](auto& t) { t.TakeDirty(&batch, seq); });
  if (through_ > 0) {
    std::string marker;
    Writer(&marker).U(through_);
    marker += through_id_;
    batch.Put(std::string(kMarkerKey), std::move(marker));
  }
  taken_through_ = through_;
  return batch;
}

absl::Status DecisionState::Checkpoint(bool force, bool sync) {
  if (space_ == nullptr) return absl::OkStatus();
  size_t dirty = 0;
  EachTable([&](const auto& t) { dirty += t.dirty_count(); });
  // A sweep costs the whole cache: one per eighth of the budget of growth
  // (what the last one could not evict is in use, or not yet written).
  // The dirty entries are taken first, so that they may go once written.
  const bool sweep = cache_.bytes > cache_bytes_ && cache_.bytes >= evict_at_;
  // Forced, a batch is taken whenever the marker is behind (events that
  // changed no entry move it too).
  if ((dirty > 0 && (dirty >= kTakeAt || sweep)) || (force && through_ > taken_through_)) {
    const uint64_t seq = cache_.next_batch;
    store::StateBatch batch = TakeDirty();
    if (sync) {
      if (absl::Status s = space_->Write(batch); !s.ok()) return s;
      cache_.applied.store(seq, std::memory_order_release);
    } else if (absl::Status s = writer_->Add(seq, through_, std::move(batch)); !s.ok()) {
      return s;
    }
  }
  if (sweep) {
    EachTable([](auto& t) { t.Evict(); });
    evict_at_ = std::max(cache_bytes_, cache_.bytes + cache_bytes_ / 8);
  }
  return absl::OkStatus();
}

absl::Status DecisionState::WaitWritten() {
  return writer_ != nullptr ? writer_->WaitWritten() : absl::OkStatus();
}

void DecisionState::Close() {
  if (writer_ == nullptr) return;
  if (!poisoned_) Checkpoint(/*force=*/true, /*sync=*/false).IgnoreError();
  writer_->Stop();
  writer_.reset();
}

absl::Status DecisionState::Save(std::string* out) const {
  out->append("DS2");
  Writer w(out);
  std::string value;
  absl::Status status;
  EachTable([&](const auto& t) {
    if (!status.ok()) return;
    using Codec = typename std::decay_t<decltype(t)>::codec_type;
    size_t n = 0;
    std::string entries;
    Writer e(&entries);
    status = t.ForEachSorted([&](const std::string& key, const auto& v) {
      ++n;
      e.S(key);
      value.clear();
      Codec::Encode(v, &value);
      e.S(value);
    });
    w.U(n);
    out->append(entries);
  });
  return status;
}

}  // namespace dealwire::domain::internal
