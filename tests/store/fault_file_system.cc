#include "tests/store/fault_file_system.h"

#include <utility>

#include "absl/strings/match.h"

namespace dealwire::test_util {

class FaultFileSystem::File final : public rocksdb::FSWritableFileOwnerWrapper {
 public:
  File(FaultFileSystem* fs, bool wal, std::unique_ptr<rocksdb::FSWritableFile> target)
      : rocksdb::FSWritableFileOwnerWrapper(std::move(target)), fs_(fs), wal_(wal) {}

  rocksdb::IOStatus Append(const rocksdb::Slice& data, const rocksdb::IOOptions& options,
                           rocksdb::IODebugContext* dbg) override {
    if (rocksdb::IOStatus s = WriteFault(); !s.ok()) return s;
    return FSWritableFileOwnerWrapper::Append(data, options, dbg);
  }
  rocksdb::IOStatus Append(const rocksdb::Slice& data, const rocksdb::IOOptions& options,
                           const rocksdb::DataVerificationInfo& info,
                           rocksdb::IODebugContext* dbg) override {
    if (rocksdb::IOStatus s = WriteFault(); !s.ok()) return s;
    return FSWritableFileOwnerWrapper::Append(data, options, info, dbg);
  }
  rocksdb::IOStatus PositionedAppend(const rocksdb::Slice& data, uint64_t offset,
                                     const rocksdb::IOOptions& options,
                                     rocksdb::IODebugContext* dbg) override {
    if (rocksdb::IOStatus s = WriteFault(); !s.ok()) return s;
    return FSWritableFileOwnerWrapper::PositionedAppend(data, offset, options, dbg);
  }
  rocksdb::IOStatus PositionedAppend(const rocksdb::Slice& data, uint64_t offset,
                                     const rocksdb::IOOptions& options,
                                     const rocksdb::DataVerificationInfo& info,
                                     rocksdb::IODebugContext* dbg) override {
    if (rocksdb::IOStatus s = WriteFault(); !s.ok()) return s;
    return FSWritableFileOwnerWrapper::PositionedAppend(data, offset, options, info, dbg);
  }
  rocksdb::IOStatus Allocate(uint64_t offset, uint64_t len, const rocksdb::IOOptions& options,
                             rocksdb::IODebugContext* dbg) override {
    if (rocksdb::IOStatus s = WriteFault(); !s.ok()) return s;
    return FSWritableFileOwnerWrapper::Allocate(offset, len, options, dbg);
  }
  rocksdb::IOStatus Sync(const rocksdb::IOOptions& options, rocksdb::IODebugContext* dbg) override {
    if (rocksdb::IOStatus s = SyncFault(); !s.ok()) return s;
    return FSWritableFileOwnerWrapper::Sync(options, dbg);
  }
  rocksdb::IOStatus Fsync(const rocksdb::IOOptions& options,
                          rocksdb::IODebugContext* dbg) override {
    if (rocksdb::IOStatus s = SyncFault(); !s.ok()) return s;
    return FSWritableFileOwnerWrapper::Fsync(options, dbg);
  }

 private:
  rocksdb::IOStatus WriteFault() {
    if (!fs_->disk_full_.load()) return rocksdb::IOStatus::OK();
    ++fs_->no_space_failures_;
    return rocksdb::IOStatus::NoSpace("injected", "No space left on device");
  }
  rocksdb::IOStatus SyncFault() {
    if (fs_->disk_full_.load()) {
      ++fs_->no_space_failures_;
      return rocksdb::IOStatus::NoSpace("injected fsync", "No space left on device");
    }
    if (!wal_ || !fs_->fail_wal_syncs_.load()) return rocksdb::IOStatus::OK();
    ++fs_->wal_sync_failures_;
    return rocksdb::IOStatus::IOError("injected fdatasync of the WAL", "Input/output error");
  }

  FaultFileSystem* const fs_;
  const bool wal_;
};

rocksdb::IOStatus FaultFileSystem::NewFileFault() {
  if (disk_full_.load()) {
    ++no_space_failures_;
    return rocksdb::IOStatus::NoSpace("injected", "No space left on device");
  }
  if (fail_new_files_.load()) {
    ++new_file_failures_;
    return rocksdb::IOStatus::IOError("injected", "Too many open files");
  }
  return rocksdb::IOStatus::OK();
}

void FaultFileSystem::Wrap(const std::string& fname,
                           std::unique_ptr<rocksdb::FSWritableFile>* result) {
  *result = std::make_unique<File>(this, absl::EndsWith(fname, ".log"), std::move(*result));
}

rocksdb::IOStatus FaultFileSystem::NewWritableFile(const std::string& fname,
                                                   const rocksdb::FileOptions& options,
                                                   std::unique_ptr<rocksdb::FSWritableFile>* result,
                                                   rocksdb::IODebugContext* dbg) {
  if (rocksdb::IOStatus s = NewFileFault(); !s.ok()) return s;
  rocksdb::IOStatus s = target()->NewWritableFile(fname, options, result, dbg);
  if (s.ok()) Wrap(fname, result);
  return s;
}

rocksdb::IOStatus FaultFileSystem::ReopenWritableFile(
    const std::string& fname, const rocksdb::FileOptions& options,
    std::unique_ptr<rocksdb::FSWritableFile>* result, rocksdb::IODebugContext* dbg) {
  if (rocksdb::IOStatus s = NewFileFault(); !s.ok()) return s;
  rocksdb::IOStatus s = target()->ReopenWritableFile(fname, options, result, dbg);
  if (s.ok()) Wrap(fname, result);
  return s;
}

rocksdb::IOStatus FaultFileSystem::ReuseWritableFile(
    const std::string& fname, const std::string& old_fname, const rocksdb::FileOptions& options,
    std::unique_ptr<rocksdb::FSWritableFile>* result, rocksdb::IODebugContext* dbg) {
  if (rocksdb::IOStatus s = NewFileFault(); !s.ok()) return s;
  rocksdb::IOStatus s = target()->ReuseWritableFile(fname, old_fname, options, result, dbg);
  if (s.ok()) Wrap(fname, result);
  return s;
}

}  // namespace dealwire::test_util
