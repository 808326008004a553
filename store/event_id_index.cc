#include "store/event_id_index.h"

#include <pthread.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <filesystem>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "rocksdb/env.h"
#include "rocksdb/sst_file_writer.h"
#include "store/encoding.h"

namespace dealwire::store {
namespace {

namespace enc = encoding;

// Sorts after every id key (they begin with 0x00 or 0x01).
constexpr absl::string_view kWatermarkKey = "\xff" "dealwire.ids.watermark";
// Files written and not yet ingested: removed at Open.
constexpr absl::string_view kFilePrefix = "ids-ingest-";

absl::Status FromRocks(const rocksdb::Status& s, absl::string_view what) {
  if (s.ok()) return absl::OkStatus();
  const std::string msg = absl::StrCat(what, ": ", s.ToString());
  if (s.IsCorruption()) return absl::DataLossError(msg);
  if (s.IsBusy() || s.IsTryAgain()) return absl::UnavailableError(msg);
  return absl::InternalError(msg);
}

rocksdb::Slice ToSlice(absl::string_view s) { return rocksdb::Slice(s.data(), s.size()); }

}  // namespace

EventIdIndex::EventIdIndex(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf,
                           rocksdb::ColumnFamilyOptions cf_options, std::string dir,
                           Options options)
    : db_(db),
      cf_(cf),
      cf_options_(std::move(cf_options)),
      dir_(std::move(dir)),
      options_(options) {
  runs_.push_back(std::make_shared<Run>());
}

EventIdIndex::~EventIdIndex() { Stop(); }

absl::Status EventIdIndex::Open(
    bool all_indexed, uint64_t last_position,
    const std::function<absl::Status(
        uint64_t, const std::function<void(absl::string_view, uint64_t)>&)>& scan) {
  {
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(dir_, ec)) {
      if (absl::StartsWith(entry.path().filename().string(), kFilePrefix)) {
        std::filesystem::remove(entry.path(), ec);
      }
    }
  }
  uint64_t watermark = 0;
  if (all_indexed) {
    watermark = last_position;
    std::string value;
    enc::PutFixed64BE(&value, watermark);
    rocksdb::WriteOptions wo;
    wo.sync = true;
    if (absl::Status s =
            FromRocks(db_->Put(wo, cf_, ToSlice(kWatermarkKey), value), "writing the id watermark");
        !s.ok()) {
      return s;
    }
  } else {
    std::string value;
    rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), cf_, ToSlice(kWatermarkKey), &value);
    if (!s.ok() && !s.IsNotFound()) return FromRocks(s, "reading the id watermark");
    if (s.ok()) {
      if (value.size() != 8) return absl::DataLossError("the id watermark is corrupt");
      watermark = enc::DecodeFixed64BE(value);
    }
  }
  {
    std::unique_lock l(mu_);
    watermark_ = watermark;
  }
  // The events after the watermark: their ids into memory, in runs.
  std::vector<std::pair<std::string, uint64_t>> ids;
  uint64_t last = 0;
  absl::Status scanned = scan(watermark + 1, [&](absl::string_view key, uint64_t position) {
    ids.emplace_back(std::string(key), position);
    last = position;
    if (ids.size() >= options_.run_ids) {
      Add(std::move(ids), last);
      ids.clear();
    }
  });
  if (!scanned.ok()) return scanned;
  if (!ids.empty()) Add(std::move(ids), last);
  Committed(last_position);
  return absl::OkStatus();
}

void EventIdIndex::Start() {
  indexer_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "dw-log-ids");
    IndexLoop();
  });
}

void EventIdIndex::Stop() {
  {
    std::lock_guard l(work_mu_);
    stopping_ = true;
  }
  work_cv_.notify_all();
  if (indexer_.joinable()) indexer_.join();
}

absl::Status EventIdIndex::Lookup(const std::vector<std::string>& keys,
                                  std::vector<std::optional<uint64_t>>* found) const {
  found->assign(keys.size(), std::nullopt);
  std::vector<size_t> misses;
  {
    std::shared_lock l(mu_);
    for (size_t i = 0; i < keys.size(); ++i) {
      for (auto run = runs_.rbegin(); run != runs_.rend(); ++run) {
        if (auto it = (*run)->ids.find(keys[i]); it != (*run)->ids.end()) {
          (*found)[i] = it->second;
          break;
        }
      }
      if (!(*found)[i].has_value()) misses.push_back(i);
    }
  }
  if (misses.empty()) return absl::OkStatus();
  const size_t n = misses.size();
  std::vector<rocksdb::Slice> slices(n);
  std::vector<rocksdb::PinnableSlice> values(n);
  std::vector<rocksdb::Status> statuses(n);
  for (size_t k = 0; k < n; ++k) slices[k] = ToSlice(keys[misses[k]]);
  db_->MultiGet(rocksdb::ReadOptions(), cf_, n, slices.data(), values.data(), statuses.data());
  for (size_t k = 0; k < n; ++k) {
    if (statuses[k].IsNotFound()) continue;
    if (!statuses[k].ok()) return FromRocks(statuses[k], "reading the event id index");
    if (values[k].size() != 8) return absl::DataLossError("event id index entry is corrupt");
    (*found)[misses[k]] = enc::DecodeFixed64BE(absl::string_view(values[k].data(), 8));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::optional<uint64_t>> EventIdIndex::Find(const std::string& key) const {
  std::vector<std::optional<uint64_t>> found;
  if (absl::Status s = Lookup({key}, &found); !s.ok()) return s;
  return found[0];
}

void EventIdIndex::Add(std::vector<std::pair<std::string, uint64_t>> ids,
                       uint64_t last_position) {
  bool full = false;
  {
    std::unique_lock l(mu_);
    Run& run = *runs_.back();
    run.ids.reserve(std::max(run.ids.size() + ids.size(), options_.run_ids));
    for (auto& [key, position] : ids) run.ids.insert_or_assign(std::move(key), position);
    run.last_position = last_position;
    if (run.ids.size() >= options_.run_ids) {
      runs_.push_back(std::make_shared<Run>());
      full = true;
    }
  }
  if (full) work_cv_.notify_one();
}

void EventIdIndex::Committed(uint64_t position) {
  {
    std::lock_guard l(work_mu_);
    committed_ = std::max(committed_, position);
  }
  work_cv_.notify_one();
}

uint64_t EventIdIndex::watermark() const {
  std::shared_lock l(mu_);
  return watermark_;
}

void EventIdIndex::IndexLoop() {
  uint64_t sequence = 0;
  for (;;) {
    std::shared_ptr<Run> run;
    {
      std::unique_lock work(work_mu_);
      for (;;) {
        {
          std::shared_lock l(mu_);
          // The oldest run is ready when it is full (another follows it) and
          // every event in it is durable.
          if (runs_.size() > 1 && runs_.front()->last_position <= committed_) run = runs_.front();
        }
        if (run != nullptr) break;
        if (stopping_) return;  // with every ready run written
        work_cv_.wait(work);
      }
    }
    absl::Status written = WriteRun(*run, ++sequence);
    if (!written.ok()) {
      // The run stays in memory (its ids are found there) and is written
      // again later; the log's own writes fail with the same disk.
      std::unique_lock work(work_mu_);
      if (stopping_) return;
      work_cv_.wait_for(work, std::chrono::seconds(1), [this] { return stopping_; });
      continue;
    }
    std::unique_lock l(mu_);
    runs_.pop_front();
    watermark_ = run->last_position;
  }
}

absl::Status EventIdIndex::WriteRun(const Run& run, uint64_t sequence) {
  std::vector<std::pair<absl::string_view, uint64_t>> sorted;
  sorted.reserve(run.ids.size());
  for (const auto& [key, position] : run.ids) sorted.emplace_back(key, position);
  std::sort(sorted.begin(), sorted.end());
  const std::string path =
      absl::StrFormat("%s/%s%d-%d.sst", dir_, kFilePrefix, run.last_position, sequence);
  rocksdb::Options options(rocksdb::DBOptions(), cf_options_);
  rocksdb::SstFileWriter writer(rocksdb::EnvOptions(), options, cf_);
  rocksdb::Status s = writer.Open(path);
  std::string value;
  for (size_t i = 0; s.ok() && i < sorted.size(); ++i) {
    value.clear();
    enc::PutFixed64BE(&value, sorted[i].second);
    s = writer.Put(ToSlice(sorted[i].first), value);
  }
  if (s.ok()) {
    value.clear();
    enc::PutFixed64BE(&value, run.last_position);
    s = writer.Put(ToSlice(kWatermarkKey), value);
  }
  if (s.ok()) s = writer.Finish();
  if (s.ok()) {
    rocksdb::IngestExternalFileOptions ingest;
    ingest.move_files = true;
    s = db_->IngestExternalFile(cf_, {path}, ingest);
  }
  if (!s.ok()) {
    std::error_code ec;
    std::filesystem::remove(path, ec);
  }
  return FromRocks(s, "writing the event id index");
}

}  // namespace dealwire::store
