#include "store/info_log.h"

#include <sys/syscall.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <utility>

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace dealwire::store {

InfoLog::InfoLog(std::string dir, size_t max_bytes)
    : rocksdb::Logger(rocksdb::InfoLogLevel::INFO_LEVEL),
      path_(std::move(dir) + "/LOG"),
      max_bytes_(max_bytes) {
  std::lock_guard l(mu_);
  OpenFile();
}

InfoLog::~InfoLog() {
  std::lock_guard l(mu_);
  if (file_ != nullptr) std::fclose(file_);
}

void InfoLog::OpenFile() {
  file_ = std::fopen(path_.c_str(), "a");
  if (file_ == nullptr) return;
  std::fseek(file_, 0, SEEK_END);
  const long size = std::ftell(file_);
  bytes_ = size > 0 ? static_cast<size_t>(size) : 0;
}

void InfoLog::Logv(const char* format, va_list ap) {
  char line[1024];
  const std::string time =
      absl::FormatTime("%Y/%m/%d-%H:%M:%E6S", absl::Now(), absl::LocalTimeZone());
  int n = std::snprintf(line, sizeof(line), "%s %ld ", time.c_str(),
                        static_cast<long>(syscall(SYS_gettid)));
  if (n < 0) return;
  size_t used = static_cast<size_t>(n) < sizeof(line) ? static_cast<size_t>(n) : sizeof(line) - 1;
  va_list copy;
  va_copy(copy, ap);
  n = std::vsnprintf(line + used, sizeof(line) - used, format, copy);
  va_end(copy);
  if (n < 0) return;
  used += static_cast<size_t>(n) < sizeof(line) - used ? static_cast<size_t>(n)
                                                       : sizeof(line) - used - 1;
  if (used == 0 || line[used - 1] != '\n') {
    if (used == sizeof(line) - 1) --used;  // room for the newline
    line[used++] = '\n';
  }

  std::lock_guard l(mu_);
  if (file_ != nullptr && bytes_ + used > max_bytes_) {
    std::fclose(file_);
    file_ = nullptr;
    std::error_code ec;
    std::filesystem::rename(path_, path_ + ".old", ec);
  }
  if (file_ == nullptr) OpenFile();
  if (file_ == nullptr) return;
  // A line that does not fit (a full disk) is dropped: the stream's error
  // is cleared so that the next line is tried.
  if (std::fwrite(line, 1, used, file_) == used && std::fflush(file_) == 0) {
    bytes_ += used;
  } else {
    std::clearerr(file_);
  }
}

void InfoLog::Flush() {
  std::lock_guard l(mu_);
  if (file_ != nullptr && std::fflush(file_) != 0) std::clearerr(file_);
}

size_t InfoLog::GetLogFileSize() const {
  std::lock_guard l(mu_);
  return bytes_;
}

}  // namespace dealwire::store
