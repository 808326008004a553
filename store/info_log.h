// store/info_log.h — RocksDB's informational log (the LOG file of a
// database directory), written so that a full disk cannot stop the process.
//
// RocksDB's own file logger aborts the process (an assertion Debian's
// librocksdb keeps) on the write after one that failed: on a full disk the
// first LOG line that does not fit took the server down. This logger writes
// with stdio and drops a line it cannot write. The file is `<dir>/LOG`;
// past `max_bytes` it is renamed to `LOG.old` (replacing the previous one)
// and a new one begun, so the two never hold more than about 2 × max_bytes.
//
// Thread-safety: Logv may be called from any thread.
#pragma once

#include <cstdarg>
#include <cstdio>
#include <memory>
#include <mutex>
#include <string>

#include "rocksdb/env.h"

namespace dealwire::store {

class InfoLog final : public rocksdb::Logger {
 public:
  // Opens (appends to) `<dir>/LOG`. A file that cannot be opened is
  // retried at the next line.
  InfoLog(std::string dir, size_t max_bytes);
  ~InfoLog() override;

  using rocksdb::Logger::Logv;
  void Logv(const char* format, va_list ap) override;
  void Flush() override;
  size_t GetLogFileSize() const override;

 private:
  // REQUIRES: mu_ held.
  void OpenFile();

  const std::string path_;
  const size_t max_bytes_;
  mutable std::mutex mu_;
  FILE* file_ = nullptr;  // guarded by mu_
  size_t bytes_ = 0;      // guarded by mu_
};

}  // namespace dealwire::store
