// store/rocksdb_decider_state.cc — the decider's saved state (the file
// kDeciderStateFile): taken at Close and every Options::decider_save_events
// events, written whole or not at all, and loaded at open when it matches
// the log (RestoreState); otherwise the decider replays the log (Recover).
//
// The file: kDeciderStateMagic; the position of the log's last event, the
// size and bytes of its id; the size and bytes of the state; the checksum
// (Fnv1a) of everything before it. Sizes and positions are 8 bytes,
// big-endian.
#include <fcntl.h>
#include <pthread.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <optional>
#include <string>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "store/encoding.h"
#include "store/rocksdb_event_log.h"

namespace dealwire::store {
namespace {

namespace enc = encoding;

// The first bytes of kDeciderStateFile, naming its layout.
constexpr char kDeciderStateMagic[] = "dealwire.decider-state.1\n";

// The saved state's checksum, stable across builds: FNV-1a's step over
// 8-byte little-endian words (then the last bytes one by one), eight times
// fewer multiplications than over bytes for a file of tens of MB.
uint64_t Fnv1a(absl::string_view bytes) {
  uint64_t h = 0xcbf29ce484222325ULL;
  size_t i = 0;
  for (; i + 8 <= bytes.size(); i += 8) {
    uint64_t w = 0;
    for (int b = 7; b >= 0; --b) w = w << 8 | static_cast<unsigned char>(bytes[i + b]);
    h ^= w;
    h *= 0x100000001b3ULL;
  }
  for (; i < bytes.size(); ++i) {
    h ^= static_cast<unsigned char>(bytes[i]);
    h *= 0x100000001b3ULL;
  }
  return h;
}

void PutFixed64(std::string* out, uint64_t v) {
  for (int i = 7; i >= 0; --i) out->push_back(static_cast<char>(v >> (8 * i)));
}

bool GetFixed64(absl::string_view* in, uint64_t* v) {
  if (in->size() < 8) return false;
  *v = enc::DecodeFixed64BE(in->substr(0, 8));
  in->remove_prefix(8);
  return true;
}

// Writes `bytes` to `path` so that after a crash it is there whole or not
// at all: a temporary file, synced, renamed, and the directory synced.
absl::Status WriteFileAtomically(const std::string& dir, const std::string& path,
                                 absl::string_view bytes) {
  const std::string tmp = path + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return absl::InternalError(absl::StrCat("creating ", tmp, ": ", strerror(errno)));
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const std::string why = strerror(errno);
      ::close(fd);
      ::unlink(tmp.c_str());
      return absl::InternalError(absl::StrCat("writing ", tmp, ": ", why));
    }
    done += static_cast<size_t>(n);
  }
  const bool synced = ::fdatasync(fd) == 0;
  ::close(fd);
  if (!synced || ::rename(tmp.c_str(), path.c_str()) != 0) {
    const std::string why = strerror(errno);
    ::unlink(tmp.c_str());
    return absl::InternalError(absl::StrCat("saving ", path, ": ", why));
  }
  const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  return absl::OkStatus();
}

}  // namespace

std::optional<std::string> RocksDbEventLog::DeciderStateFile() {
  if (options_.decider == nullptr || db_ == nullptr || failed_.load(std::memory_order_acquire)) {
    return std::nullopt;
  }
  absl::StatusOr<std::string> state = options_.decider->SaveState();
  if (!state.ok()) return std::nullopt;  // a decider that keeps none
  // The file names the log's last event, so that it is used only with the
  // log it was saved from.
  std::string id;
  const uint64_t at = last_position_;
  if (at >= options_.first_position) {
    absl::StatusOr<RecordedEvent> last = ReadRecord(Position(at));
    if (!last.ok()) return std::nullopt;
    id = last->event_id;
  }
  std::string file = kDeciderStateMagic;
  PutFixed64(&file, at);
  PutFixed64(&file, id.size());
  file += id;
  PutFixed64(&file, state->size());
  file += *state;
  PutFixed64(&file, Fnv1a(file));
  saved_at_ = at;
  return file;
}

void RocksDbEventLog::JoinSaver() {
  if (saver_.joinable()) saver_.join();
}

void RocksDbEventLog::SaveDeciderState() {
  JoinSaver();
  std::optional<std::string> file = DeciderStateFile();
  // Not saved (on a full disk, say): the next start replays from the last
  // saved state, or the whole log.
  if (file.has_value()) {
    WriteFileAtomically(path_, absl::StrCat(path_, "/", kDeciderStateFile), *file).IgnoreError();
  }
}

void RocksDbEventLog::MaybeSaveDeciderState() {
  const uint64_t every = options_.decider_save_events;
  if (every == 0 || options_.decider == nullptr || last_position_ < saved_at_ + every ||
      saving_.load(std::memory_order_acquire)) {
    return;
  }
  JoinSaver();  // the previous one is done
  std::optional<std::string> file = DeciderStateFile();
  if (!file.has_value()) return;
  saving_.store(true, std::memory_order_release);
  saver_ = std::thread([this, file = *std::move(file)] {
    pthread_setname_np(pthread_self(), "dw-log-save");
    WriteFileAtomically(path_, absl::StrCat(path_, "/", kDeciderStateFile), file).IgnoreError();
    saving_.store(false, std::memory_order_release);
  });
}

absl::Status RocksDbEventLog::RecoverDecider() {
  Decider& decider = *options_.decider;
  const std::string path = absl::StrCat(path_, "/", kDeciderStateFile);
  std::string file;
  {
    std::ifstream in(path, std::ios::binary | std::ios::ate);
    if (in) {
      file.resize(static_cast<size_t>(in.tellg()));
      in.seekg(0);
      if (!in.read(file.data(), static_cast<std::streamsize>(file.size()))) file.clear();
    }
  }
  // Any mismatch means the file is not for these events: replay instead.
  absl::string_view rest = file;
  uint64_t at = 0, id_size = 0, state_size = 0, sum = 0;
  const absl::string_view magic = kDeciderStateMagic;
  if (!absl::ConsumePrefix(&rest, magic) || !GetFixed64(&rest, &at) ||
      !GetFixed64(&rest, &id_size) || rest.size() < id_size) {
    return decider.Recover(*this);
  }
  const absl::string_view id = rest.substr(0, id_size);
  rest.remove_prefix(id_size);
  if (!GetFixed64(&rest, &state_size) || rest.size() != state_size + 8) {
    return decider.Recover(*this);
  }
  const absl::string_view state = rest.substr(0, state_size);
  rest.remove_prefix(state_size);
  if (!GetFixed64(&rest, &sum) ||
      sum != Fnv1a(absl::string_view(file).substr(0, file.size() - 8)) || at > last_position_) {
    return decider.Recover(*this);
  }
  if (at >= options_.first_position) {
    absl::StatusOr<RecordedEvent> there = ReadRecord(Position(at));
    if (!there.ok() || there->event_id != id) return decider.Recover(*this);
  } else if (!id.empty()) {
    return decider.Recover(*this);
  }
  if (decider.RestoreState(state, Position(at), *this).ok()) return absl::OkStatus();
  return decider.Recover(*this);
}

}  // namespace dealwire::store
