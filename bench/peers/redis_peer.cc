// bench/peers/redis_peer.cc — Redis over hiredis: XADD to one stream key
// ("events", the whole log), XRANGE to read it back.
//
// Writes: one connection per caller, all driven by one thread polling their
// sockets (as redis-benchmark does). A call is one XADD, or `batch` XADDs
// pipelined in one write, acknowledged when the last reply has arrived.
// With `appendfsync always` Redis writes and fsyncs its AOF before it sends
// the replies of the commands it has just run.
#include <poll.h>

#include <hiredis/hiredis.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "bench/peers/peer_records.h"
#include "bench/peers/peer_system.h"

namespace dealwire::peers {
namespace {

using SteadyClock = std::chrono::steady_clock;
constexpr const char* kKey = "events";

struct ContextDeleter {
  void operator()(redisContext* c) const { redisFree(c); }
};
using Context = std::unique_ptr<redisContext, ContextDeleter>;

struct ReplyDeleter {
  void operator()(redisReply* r) const { freeReplyObject(r); }
};
using Reply = std::unique_ptr<redisReply, ReplyDeleter>;

absl::StatusOr<Context> Connect(const PeerOptions& options) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(options.connect_timeout);
  Context c(redisConnectWithTimeout(options.host.c_str(), options.port, tv));
  if (c == nullptr) return absl::UnavailableError("redis: cannot allocate a context");
  if (c->err != 0) {
    return absl::UnavailableError(
        absl::StrCat("redis: connect to ", options.host, ":", options.port, ": ", c->errstr));
  }
  return c;
}

// Runs one command and returns its reply; a REDIS_REPLY_ERROR is an error.
absl::StatusOr<Reply> Command(redisContext* c, const std::vector<absl::string_view>& args) {
  std::vector<const char*> argv;
  std::vector<size_t> lens;
  for (absl::string_view a : args) {
    argv.push_back(a.data());
    lens.push_back(a.size());
  }
  Reply r(static_cast<redisReply*>(
      redisCommandArgv(c, static_cast<int>(argv.size()), argv.data(), lens.data())));
  if (r == nullptr) return absl::UnavailableError(absl::StrCat("redis: ", c->errstr));
  if (r->type == REDIS_REPLY_ERROR) {
    return absl::InternalError(absl::StrCat("redis: ", args[0], ": ", std::string(r->str, r->len)));
  }
  return r;
}

// Appends one XADD of `r` to `c`'s output buffer.
void AppendXadd(redisContext* c, const Record& r, absl::string_view data) {
  const char* argv[] = {"XADD", kKey, "*", "stream", r.stream.data(), "event_id",
                        r.event_id.data(), "type", kRecordType.data(), "data", data.data()};
  const size_t lens[] = {4, std::strlen(kKey), 1, 6, r.stream.size(), 8,
                         r.event_id.size(), 4, kRecordType.size(), 4, data.size()};
  redisAppendCommandArgv(c, 11, argv, lens);
}

// Writes `c`'s whole output buffer (the socket is blocking).
bool Flush(redisContext* c) {
  int done = 0;
  while (done == 0) {
    if (redisBufferWrite(c, &done) != REDIS_OK) return false;
  }
  return true;
}

class RedisWrites final : public WriteLoad {
 public:
  RedisWrites(const RecordShape& shape, int batch) : shape_(shape), batch_(batch) {}

  void AddCaller(Context c) {
    const uint64_t seed = callers_.size() + 1;
    callers_.push_back(Caller{std::move(c), RecordSource(shape_, seed)});
  }

  CallTotals Run(double seconds) override {
    CallTotals t;
    const SteadyClock::time_point start = SteadyClock::now();
    const SteadyClock::time_point deadline =
        start + std::chrono::microseconds(static_cast<int64_t>(seconds * 1e6));
    SteadyClock::time_point last_end = start;
    std::vector<pollfd> fds(callers_.size());
    size_t busy = 0;
    for (size_t i = 0; i < callers_.size(); ++i) {
      fds[i] = pollfd{callers_[i].context->fd, POLLIN, 0};
      if (Issue(callers_[i], t)) {
        ++busy;
      } else {
        fds[i].events = 0;
      }
    }
    while (busy > 0) {
      const int n = poll(fds.data(), fds.size(), 1000);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        Fail(t, absl::StrCat("poll: ", std::strerror(errno)));
        break;
      }
      for (size_t i = 0; i < fds.size(); ++i) {
        if (fds[i].revents == 0) continue;
        Caller& caller = callers_[i];
        if (!Receive(caller, t)) {
          fds[i].events = 0;
          --busy;
          continue;
        }
        if (caller.pending > 0) continue;
        const SteadyClock::time_point now = SteadyClock::now();
        last_end = now;
        if (caller.call_failed) {
          ++t.errors;
        } else {
          ++t.calls;
          t.events += static_cast<uint64_t>(batch_);
          t.latency.RecordMicros(
              std::chrono::duration_cast<std::chrono::microseconds>(now - caller.started).count());
        }
        if (now >= deadline || !Issue(caller, t)) {
          fds[i].events = 0;
          --busy;
        }
      }
    }
    t.seconds = std::chrono::duration<double>(last_end - start).count();
    return t;
  }

 private:
  struct Caller {
    Context context;
    RecordSource source;
    SteadyClock::time_point started{};
    int pending = 0;
    bool call_failed = false;
  };

  static void Fail(CallTotals& t, std::string error) {
    ++t.errors;
    if (t.first_error.empty()) t.first_error = std::move(error);
  }

  // Sends the caller's next call; false (an error counted) when it cannot.
  bool Issue(Caller& caller, CallTotals& t) {
    caller.started = SteadyClock::now();
    caller.call_failed = false;
    for (int b = 0; b < batch_; ++b) {
      AppendXadd(caller.context.get(), caller.source.Next(), shape_.data());
    }
    caller.pending = batch_;
    if (!Flush(caller.context.get())) {
      Fail(t, absl::StrCat("redis: write: ", caller.context->errstr));
      return false;
    }
    return true;
  }

  // Reads what arrived and takes the complete replies; false (an error
  // counted) when the connection failed.
  bool Receive(Caller& caller, CallTotals& t) {
    redisContext* c = caller.context.get();
    if (redisBufferRead(c) != REDIS_OK) {
      Fail(t, absl::StrCat("redis: read: ", c->errstr));
      return false;
    }
    while (caller.pending > 0) {
      void* raw = nullptr;
      if (redisGetReplyFromReader(c, &raw) != REDIS_OK) {
        Fail(t, absl::StrCat("redis: protocol: ", c->errstr));
        return false;
      }
      if (raw == nullptr) break;
      Reply reply(static_cast<redisReply*>(raw));
      --caller.pending;
      if (reply->type != REDIS_REPLY_STRING) {
        if (t.first_error.empty()) {
          t.first_error = reply->type == REDIS_REPLY_ERROR
                              ? absl::StrCat("redis: XADD: ", std::string(reply->str, reply->len))
                              : absl::StrCat("redis: XADD: unexpected reply type ", reply->type);
        }
        caller.call_failed = true;
      }
    }
    return true;
  }

  const RecordShape& shape_;
  const int batch_;
  std::vector<Caller> callers_;
};

class RedisPeer final : public PeerSystem {
 public:
  explicit RedisPeer(const PeerOptions& options)
      : options_(options), shape_(options.streams, options.data_bytes) {}

  absl::Status Ping() override {
    absl::StatusOr<Context> c = Connect(options_);
    if (!c.ok()) return c.status();
    absl::StatusOr<Reply> r = Command(c->get(), {"PING"});
    if (!r.ok()) return absl::UnavailableError(r.status().message());
    return absl::OkStatus();
  }

  absl::StatusOr<std::unique_ptr<WriteLoad>> StartWrites(int callers, int batch) override {
    if (absl::Status s = Drop(); !s.ok()) return s;
    auto load = std::make_unique<RedisWrites>(shape_, batch);
    for (int i = 0; i < callers; ++i) {
      absl::StatusOr<Context> c = Connect(options_);
      if (!c.ok()) return c.status();
      load->AddCaller(*std::move(c));
    }
    return load;
  }

  absl::Status Fill(uint64_t events) override {
    if (absl::Status s = Drop(); !s.ok()) return s;
    absl::StatusOr<Context> c = Connect(options_);
    if (!c.ok()) return c.status();
    RecordSource source(shape_, 1);
    constexpr uint64_t kPipeline = 1000;
    for (uint64_t done = 0; done < events;) {
      const uint64_t n = std::min(kPipeline, events - done);
      for (uint64_t i = 0; i < n; ++i) AppendXadd(c->get(), source.Next(), shape_.data());
      for (uint64_t i = 0; i < n; ++i) {
        void* raw = nullptr;
        if (redisGetReply(c->get(), &raw) != REDIS_OK || raw == nullptr) {
          return absl::UnavailableError(absl::StrCat("redis: fill: ", (*c)->errstr));
        }
        Reply reply(static_cast<redisReply*>(raw));
        if (reply->type != REDIS_REPLY_STRING) {
          return absl::InternalError("redis: fill: XADD did not return an id");
        }
      }
      done += n;
    }
    return absl::OkStatus();
  }

  absl::StatusOr<ReadTotals> ReadAll(int page) override {
    absl::StatusOr<Context> c = Connect(options_);
    if (!c.ok()) return c.status();
    ReadTotals t;
    const std::string count = std::to_string(page);
    std::string from = "-";
    const SteadyClock::time_point start = SteadyClock::now();
    while (true) {
      absl::StatusOr<Reply> r = Command(c->get(), {"XRANGE", kKey, from, "+", "COUNT", count});
      if (!r.ok()) return r.status();
      const redisReply* entries = r->get();
      if (entries->type != REDIS_REPLY_ARRAY) return absl::InternalError("redis: XRANGE: not an array");
      ++t.pages;
      for (size_t i = 0; i < entries->elements; ++i) {
        const redisReply* entry = entries->element[i];
        if (entry->type != REDIS_REPLY_ARRAY || entry->elements != 2) {
          return absl::InternalError("redis: XRANGE: malformed entry");
        }
        const redisReply* fields = entry->element[1];
        for (size_t f = 0; f < fields->elements; ++f) t.bytes += fields->element[f]->len;
        ++t.events;
      }
      if (entries->elements < static_cast<size_t>(page)) break;
      const redisReply* last_id = entries->element[entries->elements - 1]->element[0];
      from = absl::StrCat("(", absl::string_view(last_id->str, last_id->len));
    }
    t.seconds = std::chrono::duration<double>(SteadyClock::now() - start).count();
    return t;
  }

  absl::Status Drop() override {
    absl::StatusOr<Context> c = Connect(options_);
    if (!c.ok()) return c.status();
    return Command(c->get(), {"DEL", kKey}).status();
  }

 private:
  const PeerOptions options_;
  const RecordShape shape_;
};

}  // namespace

std::unique_ptr<PeerSystem> NewRedisPeer(const PeerOptions& options) {
  return std::make_unique<RedisPeer>(options);
}

}  // namespace dealwire::peers
