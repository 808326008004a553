// domain/paged_table.h — one table of the decider's state (organizations,
// deals, …) kept in the log's state space and cached in memory within a
// budget. Internal to domain/.
//
// A table reads like a hash map of the entries it holds: find() brings an
// entry in from the state space on a miss (an absent key is cached as
// absent too); emplace, insert_or_assign and erase change the cached entry
// and mark it dirty; so does MarkDirty, which callers use before changing
// an entry in place. TakeDirty encodes the dirty entries into a batch for
// the state space; once that batch is written (PageCache::applied) the
// entries are clean again and may be evicted.
//
// What it guarantees: a cached entry is never evicted while its latest value
// is not in the state space, so a miss always reads the latest value. An
// entry's address is stable until it is evicted, and eviction happens only
// in Evict, which the decider calls between decisions: iterators and
// references taken while deciding stay valid for the whole decision.
//
// Thread-safety: none, except PageCache::applied, which the thread writing
// batches sets.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "store/state_space.h"

namespace dealwire::domain::internal {

// What the tables of one state share: where they are kept, the bytes they
// hold in memory, which batches are written, and the first read error.
struct PageCache {
  store::StateSpace* space = nullptr;  // null: memory only, nothing is evicted
  size_t bytes = 0;                    // held by all tables' cached entries
  uint64_t next_batch = 1;             // the batch TakeDirty fills next
  std::atomic<uint64_t> applied{0};    // every batch up to it is in the state space
  absl::Status read_error;             // the first failed read since it was cleared
};

// The key of a table's entry in the state space: "decider/<tag>/<key>".
inline std::string PagedKey(char tag, absl::string_view key) {
  return absl::StrCat("decider/", absl::string_view(&tag, 1), "/", key);
}

// `Codec` has static `void Encode(const V&, std::string*)` and
// `bool Decode(absl::string_view, V*)`.
template <typename V, typename Codec>
class PagedTable {
  struct Slot {
    explicit Slot(std::string key) : kv(std::move(key), V{}) {}
    std::pair<const std::string, V> kv;
    bool present = false;
    bool dirty = false;
    bool referenced = true;
    uint64_t batch = 0;   // the batch holding its latest value (0: read, never written)
    size_t bytes = 0;     // counted in PageCache::bytes
  };

 public:
  using codec_type = Codec;

  // Points at an entry; end() when there is none.
  class iterator {
   public:
    iterator() = default;
    std::pair<const std::string, V>* operator->() const { return &slot_->kv; }
    std::pair<const std::string, V>& operator*() const { return slot_->kv; }
    bool operator==(const iterator& o) const { return slot_ == o.slot_; }
    bool operator!=(const iterator& o) const { return slot_ != o.slot_; }

   private:
    friend class PagedTable;
    explicit iterator(Slot* slot) : slot_(slot) {}
    Slot* slot_ = nullptr;
  };

  PagedTable(char tag, PageCache* cache) : tag_(tag), cache_(cache) {}
  PagedTable(const PagedTable&) = delete;
  PagedTable& operator=(const PagedTable&) = delete;

  iterator end() const { return iterator(); }

  // The entry `key`, read from the state space if it is not cached. A read
  // error is kept in PageCache::read_error and the entry reported absent
  // (and not cached): the decision in progress must then be refused.
  iterator find(absl::string_view key) const {
    Slot* slot = Lookup(key);
    return slot != nullptr && slot->present ? iterator(slot) : iterator();
  }
  bool contains(absl::string_view key) const { return find(key) != end(); }

  // Adds `value` as `key` unless the key is present.
  void emplace(absl::string_view key, V value) {
    Slot* slot = Writable(key);
    if (slot == nullptr || slot->present) return;
    slot->kv.second = std::move(value);
    slot->present = true;
  }
  void insert_or_assign(absl::string_view key, V value) {
    Slot* slot = Writable(key);
    if (slot == nullptr) return;
    slot->kv.second = std::move(value);
    slot->present = true;
  }
  void insert(absl::string_view key) { emplace(key, V{}); }
  void erase(absl::string_view key) {
    Slot* slot = Writable(key);
    if (slot == nullptr) return;
    slot->kv.second = V{};
    slot->present = false;
  }
  // Marks `key` as about to change in place.
  void MarkDirty(absl::string_view key) { Writable(key); }
  void MarkDirty(iterator it) { Dirty(it.slot_); }

  // Forgets every cached entry (the state space is not touched).
  void clear() {
    for (const auto& [key, slot] : slots_) cache_->bytes -= slot->bytes;
    slots_.clear();
    dirty_.clear();
  }

  size_t dirty_count() const { return dirty_.size(); }

  // Encodes every dirty entry into `batch` (a Delete for an absent one) as
  // part of batch number `seq`; they are clean once it is written.
  void TakeDirty(store::StateBatch* batch, uint64_t seq) {
    std::string value;
    for (Slot* slot : dirty_) {
      std::string key = PagedKey(tag_, slot->kv.first);
      value.clear();
      if (slot->present) {
        Codec::Encode(slot->kv.second, &value);
        batch->Put(std::move(key), value);
      } else {
        batch->Delete(std::move(key));
      }
      Resize(slot, value.size());
      slot->dirty = false;
      slot->batch = seq;
    }
    dirty_.clear();
  }

  // Evicts the clean entries whose value is written and that were not used
  // since the last call; the others are marked unused.
  void Evict() {
    const uint64_t applied = cache_->applied.load(std::memory_order_acquire);
    for (auto it = slots_.begin(); it != slots_.end();) {
      Slot& s = *it->second;
      if (!s.dirty && s.batch <= applied && !s.referenced) {
        cache_->bytes -= s.bytes;
        slots_.erase(it++);
      } else {
        s.referenced = false;
        ++it;
      }
    }
  }

  // Calls `visit` with every present entry, the cached ones as they are now
  // and the others as the state space holds them, in key order. For
  // comparing states (tests); reads the whole table.
  absl::Status ForEachSorted(const std::function<void(const std::string&, const V&)>& visit) const {
    std::vector<std::pair<std::string, V>> all;
    if (cache_->space != nullptr) {
      absl::StatusOr<std::unique_ptr<store::StateSnapshot>> snapshot = cache_->space->Snapshot();
      if (!snapshot.ok()) return snapshot.status();
      const std::string prefix = PagedKey(tag_, "");
      bool corrupt = false;
      absl::Status s = (*snapshot)->Scan(prefix, "", [&](absl::string_view k, absl::string_view v) {
        k.remove_prefix(prefix.size());
        if (slots_.contains(k)) return true;
        V value{};
        if (!Codec::Decode(v, &value)) corrupt = true;
        all.emplace_back(std::string(k), std::move(value));
        return !corrupt;
      });
      if (!s.ok()) return s;
      if (corrupt) return absl::DataLossError(absl::StrCat("decider state ", prefix, ": corrupt"));
    }
    for (const auto& [key, slot] : slots_) {
      if (slot->present) all.emplace_back(slot->kv.first, slot->kv.second);
    }
    std::sort(all.begin(), all.end(),
              [](const auto& a, const auto& b) { return a.first < b.first; });
    for (const auto& [key, value] : all) visit(key, value);
    return absl::OkStatus();
  }

 private:
  // Per-entry cost beyond its key and encoded value: the slot, the map's
  // entry, allocation headers.
  static constexpr size_t kOverhead = sizeof(Slot) + 48;

  Slot* Lookup(absl::string_view key) const {
    if (auto it = slots_.find(key); it != slots_.end()) {
      it->second->referenced = true;
      return it->second.get();
    }
    auto slot = std::make_unique<Slot>(std::string(key));
    size_t value_bytes = 0;
    if (cache_->space != nullptr) {
      absl::StatusOr<std::optional<std::string>> v = cache_->space->Get(PagedKey(tag_, key));
      if (!v.ok()) {
        if (cache_->read_error.ok()) cache_->read_error = v.status();
        return nullptr;
      }
      if (v->has_value()) {
        if (!Codec::Decode(**v, &slot->kv.second)) {
          if (cache_->read_error.ok()) {
            cache_->read_error = absl::DataLossError(
                absl::StrCat("decider state ", PagedKey(tag_, key), ": corrupt"));
          }
          return nullptr;
        }
        slot->present = true;
        value_bytes = (*v)->size();
      }
    }
    Slot* out = slot.get();
    const absl::string_view view = out->kv.first;
    slots_.emplace(view, std::move(slot));
    Resize(out, value_bytes);
    return out;
  }

  Slot* Writable(absl::string_view key) {
    Slot* slot = Lookup(key);
    if (slot != nullptr) Dirty(slot);
    return slot;
  }
  void Dirty(Slot* slot) {
    if (!slot->dirty) {
      slot->dirty = true;
      dirty_.push_back(slot);
    }
  }

  void Resize(Slot* slot, size_t value_bytes) const {
    const size_t bytes = kOverhead + slot->kv.first.size() + value_bytes;
    cache_->bytes += bytes;
    cache_->bytes -= slot->bytes;
    slot->bytes = bytes;
  }

  const char tag_;
  PageCache* const cache_;
  mutable absl::flat_hash_map<absl::string_view, std::unique_ptr<Slot>> slots_;
  std::vector<Slot*> dirty_;  // slots marked dirty since the last TakeDirty
};

}  // namespace dealwire::domain::internal
