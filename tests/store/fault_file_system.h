// A RocksDB file system over the machine's that injects the storage errors
// the log must survive (store/event_log.h, "Storage errors"): failed WAL
// syncs, a full disk, no more file descriptors. Each fault holds until it is
// cleared, and every injected failure is counted.
//
// Thread-safety: the setters may be called from any thread while RocksDB
// uses the file system.
#pragma once

#include <atomic>
#include <memory>
#include <string>

#include "rocksdb/file_system.h"

namespace dealwire::test_util {

class FaultFileSystem final : public rocksdb::FileSystemWrapper {
 public:
  FaultFileSystem() : rocksdb::FileSystemWrapper(rocksdb::FileSystem::Default()) {}

  static const char* kClassName() { return "dealwire.FaultFileSystem"; }
  const char* Name() const override { return kClassName(); }

  // Sync and Fsync of write-ahead-log files (*.log) fail with an I/O error;
  // the data appended before stays written, as after a real failed fsync.
  void FailWalSyncs(bool on) { fail_wal_syncs_.store(on); }
  // Every write to any file, and every new file, fails with ENOSPC.
  void FillDisk(bool on) { disk_full_.store(on); }
  // Creating or reopening a file for writing fails with EMFILE.
  void FailNewFiles(bool on) { fail_new_files_.store(on); }

  // How many operations each fault failed so far.
  int wal_sync_failures() const { return wal_sync_failures_.load(); }
  int no_space_failures() const { return no_space_failures_.load(); }
  int new_file_failures() const { return new_file_failures_.load(); }

  rocksdb::IOStatus NewWritableFile(const std::string& fname, const rocksdb::FileOptions& options,
                                    std::unique_ptr<rocksdb::FSWritableFile>* result,
                                    rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus ReopenWritableFile(const std::string& fname,
                                       const rocksdb::FileOptions& options,
                                       std::unique_ptr<rocksdb::FSWritableFile>* result,
                                       rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus ReuseWritableFile(const std::string& fname, const std::string& old_fname,
                                      const rocksdb::FileOptions& options,
                                      std::unique_ptr<rocksdb::FSWritableFile>* result,
                                      rocksdb::IODebugContext* dbg) override;

 private:
  class File;

  // The fault a new file meets, if any; counts it.
  rocksdb::IOStatus NewFileFault();
  // Wraps a file just opened by the machine's file system.
  void Wrap(const std::string& fname, std::unique_ptr<rocksdb::FSWritableFile>* result);

  std::atomic<bool> fail_wal_syncs_{false};
  std::atomic<bool> disk_full_{false};
  std::atomic<bool> fail_new_files_{false};
  std::atomic<int> wal_sync_failures_{0};
  std::atomic<int> no_space_failures_{0};
  std::atomic<int> new_file_failures_{0};
};

}  // namespace dealwire::test_util
