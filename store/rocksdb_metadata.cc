// store/rocksdb_metadata.cc — the metadata (store/metadata.h): the
// `metadata` family of the log's database, written synced, closed and
// reopened with it.
#include <memory>
#include <shared_mutex>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "rocksdb/db.h"
#include "store/rocksdb_event_log.h"

namespace dealwire::store {
namespace {

constexpr size_t kMaxMetadataKeyBytes = 1024;

}  // namespace

absl::Status RocksDbEventLog::Metadata::Put(absl::string_view key, absl::string_view value) {
  if (key.empty() || key.size() > kMaxMetadataKeyBytes) {
    return absl::InvalidArgumentError("metadata key: must be 1..1024 bytes");
  }
  std::shared_lock l(log_.db_mu_);
  if (log_.db_ == nullptr) return log_.Unreadable();
  rocksdb::WriteOptions wo;
  wo.sync = true;
  return StorageError(log_.db_->Put(wo, log_.metadata_, ToSlice(key), ToSlice(value)),
                      "writing metadata");
}

absl::StatusOr<std::string> RocksDbEventLog::Metadata::Get(absl::string_view key) const {
  std::shared_lock l(log_.db_mu_);
  if (log_.db_ == nullptr) return log_.Unreadable();
  std::string value;
  rocksdb::Status s = log_.db_->Get(rocksdb::ReadOptions(), log_.metadata_, ToSlice(key), &value);
  if (s.IsNotFound()) return absl::NotFoundError(absl::StrCat("no metadata '", key, "'"));
  if (!s.ok()) return FromRocks(s, "reading metadata");
  return value;
}

absl::Status RocksDbEventLog::Metadata::Delete(absl::string_view key) {
  absl::StatusOr<std::string> existing = Get(key);
  if (!existing.ok()) return existing.status();
  std::shared_lock l(log_.db_mu_);
  if (log_.db_ == nullptr) return log_.Unreadable();
  rocksdb::WriteOptions wo;
  wo.sync = true;
  return StorageError(log_.db_->Delete(wo, log_.metadata_, ToSlice(key)), "deleting metadata");
}

absl::StatusOr<std::vector<std::pair<std::string, std::string>>> RocksDbEventLog::Metadata::List(
    absl::string_view prefix, absl::string_view start_after, size_t limit) const {
  std::shared_lock l(log_.db_mu_);
  if (log_.db_ == nullptr) return log_.Unreadable();
  std::unique_ptr<rocksdb::Iterator> it(
      log_.db_->NewIterator(rocksdb::ReadOptions(), log_.metadata_));
  if (start_after.empty() || start_after < prefix) {
    it->Seek(ToSlice(prefix));
  } else {
    it->Seek(ToSlice(start_after));
    if (it->Valid() && ToView(it->key()) == start_after) it->Next();
  }
  std::vector<std::pair<std::string, std::string>> out;
  for (; it->Valid() && out.size() < limit && it->key().starts_with(ToSlice(prefix)); it->Next()) {
    out.emplace_back(it->key().ToString(), it->value().ToString());
  }
  if (!it->status().ok()) return FromRocks(it->status(), "listing metadata");
  return out;
}

}  // namespace dealwire::store
