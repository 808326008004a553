// bench/peers/postgres_peer.cc — PostgreSQL over libpq: one `events` table
// (the whole log), one INSERT per transaction, keyset-paginated reads.
//
//   CREATE TABLE events (position bigserial PRIMARY KEY, stream text NOT NULL,
//                        event_id uuid NOT NULL UNIQUE, type text NOT NULL,
//                        data bytea NOT NULL)
//
// Writes: one connection per caller, all driven by one thread polling their
// sockets; each call is one prepared INSERT in its own (autocommit)
// transaction, of one row or of `batch` rows (one multi-row INSERT), so with
// synchronous_commit = on it is acknowledged after its commit record is
// flushed to the WAL. Reads: SELECT … WHERE position > $last ORDER BY
// position LIMIT $page, results in binary format.
#include <poll.h>

#include <libpq-fe.h>

#include <algorithm>
#include <array>
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

constexpr const char* kCreateTable =
    "DROP TABLE IF EXISTS events;"
    "CREATE TABLE events (position bigserial PRIMARY KEY, stream text NOT NULL,"
    " event_id uuid NOT NULL UNIQUE, type text NOT NULL, data bytea NOT NULL)";

struct ConnDeleter {
  void operator()(PGconn* c) const { PQfinish(c); }
};
using Conn = std::unique_ptr<PGconn, ConnDeleter>;

struct ResultDeleter {
  void operator()(PGresult* r) const { PQclear(r); }
};
using Result = std::unique_ptr<PGresult, ResultDeleter>;

std::string ErrorText(PGconn* c) {
  std::string e = PQerrorMessage(c);
  while (!e.empty() && (e.back() == '\n' || e.back() == ' ')) e.pop_back();
  return e;
}

absl::StatusOr<Conn> Connect(const PeerOptions& options) {
  const std::string info = absl::StrCat(
      "host=", options.host, " port=", options.port,
      " dbname=postgres user=postgres application_name=dealwire-peer-bench connect_timeout=",
      std::max(1, static_cast<int>(options.connect_timeout)));
  Conn c(PQconnectdb(info.c_str()));
  if (c == nullptr) return absl::UnavailableError("postgres: cannot allocate a connection");
  if (PQstatus(c.get()) != CONNECTION_OK) {
    return absl::UnavailableError(absl::StrCat("postgres: connect: ", ErrorText(c.get())));
  }
  // NOTICEs ("table … does not exist, skipping") are not news here.
  PQsetNoticeProcessor(c.get(), [](void*, const char*) {}, nullptr);
  return c;
}

// Runs `sql` (one or more statements, no parameters); fails on any error.
absl::Status Exec(PGconn* c, const char* sql) {
  Result r(PQexec(c, sql));
  const ExecStatusType s = PQresultStatus(r.get());
  if (s != PGRES_COMMAND_OK && s != PGRES_TUPLES_OK) {
    return absl::InternalError(absl::StrCat("postgres: ", sql, ": ", ErrorText(c)));
  }
  return absl::OkStatus();
}

// "INSERT INTO events (stream, event_id, type, data) VALUES ($1,$2,$3,$4),($5,…)…"
std::string InsertSql(int rows) {
  std::string sql = "INSERT INTO events (stream, event_id, type, data) VALUES ";
  for (int i = 0; i < rows; ++i) {
    const int p = 4 * i;
    absl::StrAppend(&sql, i == 0 ? "" : ",", "($", p + 1, ",$", p + 2, ",$", p + 3, ",$", p + 4,
                    ")");
  }
  return sql;
}

class PostgresWrites final : public WriteLoad {
 public:
  PostgresWrites(const RecordShape& shape, int batch) : shape_(shape), batch_(batch) {}

  // Prepares the caller's INSERT on `c` and adds it.
  absl::Status AddCaller(Conn c) {
    Result r(PQprepare(c.get(), "append", InsertSql(batch_).c_str(), 0, nullptr));
    if (PQresultStatus(r.get()) != PGRES_COMMAND_OK) {
      return absl::InternalError(absl::StrCat("postgres: prepare: ", ErrorText(c.get())));
    }
    if (PQsetnonblocking(c.get(), 1) != 0) {
      return absl::InternalError(absl::StrCat("postgres: nonblocking: ", ErrorText(c.get())));
    }
    Caller caller{std::move(c), RecordSource(shape_, callers_.size() + 1)};
    const size_t params = 4 * static_cast<size_t>(batch_);
    caller.ids.resize(static_cast<size_t>(batch_));
    caller.values.resize(params);
    caller.lengths.resize(params);
    caller.formats.resize(params);
    for (int i = 0; i < batch_; ++i) {
      caller.formats[4 * i] = 0;      // stream: text
      caller.formats[4 * i + 1] = 1;  // event_id: binary uuid (16 bytes)
      caller.formats[4 * i + 2] = 0;  // type: text
      caller.formats[4 * i + 3] = 1;  // data: binary bytea
    }
    callers_.push_back(std::move(caller));
    return absl::OkStatus();
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
      fds[i] = pollfd{PQsocket(callers_[i].conn.get()), 0, 0};
      if (Issue(callers_[i], fds[i], t)) ++busy;
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
        const Progress p = Advance(caller, fds[i], t);
        if (p == Progress::kWaiting) continue;
        if (p == Progress::kBroken) {
          fds[i].events = 0;
          --busy;
          continue;
        }
        const SteadyClock::time_point now = SteadyClock::now();
        last_end = now;
        if (p == Progress::kFailed) {
          ++t.errors;
        } else {
          ++t.calls;
          t.events += static_cast<uint64_t>(batch_);
          t.latency.RecordMicros(
              std::chrono::duration_cast<std::chrono::microseconds>(now - caller.started).count());
        }
        if (now >= deadline || !Issue(caller, fds[i], t)) {
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
    Conn conn;
    RecordSource source;
    SteadyClock::time_point started{};
    std::vector<std::array<uint8_t, 16>> ids{};
    std::vector<const char*> values{};
    std::vector<int> lengths{};
    std::vector<int> formats{};
    bool failed = false;  // the call in flight got an error result
  };
  enum class Progress { kWaiting, kDone, kFailed, kBroken };

  static void Fail(CallTotals& t, std::string error) {
    ++t.errors;
    if (t.first_error.empty()) t.first_error = std::move(error);
  }

  // Sends the caller's next INSERT; false (an error counted) when it cannot.
  bool Issue(Caller& caller, pollfd& fd, CallTotals& t) {
    const absl::string_view data = shape_.data();
    for (int i = 0; i < batch_; ++i) {
      const Record& r = caller.source.Next();
      caller.ids[i] = r.event_id_bytes;
      caller.values[4 * i] = r.stream.data();
      caller.lengths[4 * i] = static_cast<int>(r.stream.size());
      caller.values[4 * i + 1] = reinterpret_cast<const char*>(caller.ids[i].data());
      caller.lengths[4 * i + 1] = 16;
      caller.values[4 * i + 2] = kRecordType.data();
      caller.lengths[4 * i + 2] = static_cast<int>(kRecordType.size());
      caller.values[4 * i + 3] = data.data();
      caller.lengths[4 * i + 3] = static_cast<int>(data.size());
    }
    caller.started = SteadyClock::now();
    caller.failed = false;
    PGconn* c = caller.conn.get();
    if (PQsendQueryPrepared(c, "append", 4 * batch_, caller.values.data(), caller.lengths.data(),
                            caller.formats.data(), 0) == 0) {
      Fail(t, absl::StrCat("postgres: send: ", ErrorText(c)));
      return false;
    }
    const int flushed = PQflush(c);
    if (flushed < 0) {
      Fail(t, absl::StrCat("postgres: flush: ", ErrorText(c)));
      return false;
    }
    fd.events = static_cast<short>(POLLIN | (flushed == 1 ? POLLOUT : 0));
    return true;
  }

  // Sends what is left of the query, reads what arrived and takes the
  // results: kDone or kFailed once the call's last result is in.
  Progress Advance(Caller& caller, pollfd& fd, CallTotals& t) {
    PGconn* c = caller.conn.get();
    if ((fd.events & POLLOUT) != 0) {
      const int flushed = PQflush(c);
      if (flushed < 0) {
        Fail(t, absl::StrCat("postgres: flush: ", ErrorText(c)));
        return Progress::kBroken;
      }
      if (flushed == 0) fd.events = POLLIN;
    }
    if (PQconsumeInput(c) == 0) {
      Fail(t, absl::StrCat("postgres: read: ", ErrorText(c)));
      return Progress::kBroken;
    }
    while (PQisBusy(c) == 0) {
      Result r(PQgetResult(c));
      if (r == nullptr) return caller.failed ? Progress::kFailed : Progress::kDone;
      if (PQresultStatus(r.get()) != PGRES_COMMAND_OK) {
        if (t.first_error.empty()) {
          t.first_error = absl::StrCat("postgres: INSERT: ", PQresultErrorMessage(r.get()));
        }
        caller.failed = true;
      }
    }
    return Progress::kWaiting;
  }

  const RecordShape& shape_;
  const int batch_;
  std::vector<Caller> callers_;
};

class PostgresPeer final : public PeerSystem {
 public:
  explicit PostgresPeer(const PeerOptions& options)
      : options_(options), shape_(options.streams, options.data_bytes) {}

  absl::Status Ping() override {
    absl::StatusOr<Conn> c = Connect(options_);
    if (!c.ok()) return c.status();
    if (absl::Status s = Exec(c->get(), "SELECT 1"); !s.ok()) {
      return absl::UnavailableError(s.message());
    }
    return absl::OkStatus();
  }

  absl::StatusOr<std::unique_ptr<WriteLoad>> StartWrites(int callers, int batch) override {
    {
      absl::StatusOr<Conn> c = Connect(options_);
      if (!c.ok()) return c.status();
      if (absl::Status s = Exec(c->get(), kCreateTable); !s.ok()) return s;
    }
    auto load = std::make_unique<PostgresWrites>(shape_, batch);
    for (int i = 0; i < callers; ++i) {
      absl::StatusOr<Conn> c = Connect(options_);
      if (!c.ok()) return c.status();
      if (absl::Status s = load->AddCaller(*std::move(c)); !s.ok()) return s;
    }
    return load;
  }

  // Fills the table with one INSERT … SELECT over generate_series (random
  // UUIDs from gen_random_uuid(), the same data in every row), then VACUUM
  // (ANALYZE) and CHECKPOINT, so that the read finds the table as it would be
  // once autovacuum had passed: hint bits set, nothing left to write.
  absl::Status Fill(uint64_t events) override {
    absl::StatusOr<Conn> c = Connect(options_);
    if (!c.ok()) return c.status();
    if (absl::Status s = Exec(c->get(), kCreateTable); !s.ok()) return s;
    const std::string count = std::to_string(events);
    const std::string streams = std::to_string(shape_.streams());
    const absl::string_view data = shape_.data();
    const char* values[] = {data.data(), streams.c_str(), count.c_str()};
    const int lengths[] = {static_cast<int>(data.size()), 0, 0};
    const int formats[] = {1, 0, 0};
    Result r(PQexecParams(
        c->get(),
        "INSERT INTO events (stream, event_id, type, data)"
        " SELECT 'org/bench-' || lpad((g % $2::int)::text, 6, '0'), gen_random_uuid(),"
        " 'OrganizationUpdated', $1::bytea FROM generate_series(1, $3::bigint) g",
        3, nullptr, values, lengths, formats, 0));
    if (PQresultStatus(r.get()) != PGRES_COMMAND_OK) {
      return absl::InternalError(absl::StrCat("postgres: fill: ", ErrorText(c->get())));
    }
    if (absl::Status s = Exec(c->get(), "VACUUM (ANALYZE) events"); !s.ok()) return s;
    return Exec(c->get(), "CHECKPOINT");
  }

  absl::StatusOr<ReadTotals> ReadAll(int page) override {
    absl::StatusOr<Conn> conn = Connect(options_);
    if (!conn.ok()) return conn.status();
    PGconn* c = conn->get();
    Result prepared(PQprepare(c, "page",
                              "SELECT position, stream, event_id, type, data FROM events"
                              " WHERE position > $1 ORDER BY position LIMIT $2",
                              0, nullptr));
    if (PQresultStatus(prepared.get()) != PGRES_COMMAND_OK) {
      return absl::InternalError(absl::StrCat("postgres: prepare: ", ErrorText(c)));
    }
    ReadTotals t;
    const std::string limit = std::to_string(page);
    int64_t last = 0;
    std::string after = "0";
    const SteadyClock::time_point start = SteadyClock::now();
    while (true) {
      const char* values[] = {after.c_str(), limit.c_str()};
      Result r(PQexecPrepared(c, "page", 2, values, nullptr, nullptr, /*resultFormat=*/1));
      if (PQresultStatus(r.get()) != PGRES_TUPLES_OK) {
        return absl::InternalError(absl::StrCat("postgres: page: ", ErrorText(c)));
      }
      ++t.pages;
      const int rows = PQntuples(r.get());
      for (int i = 0; i < rows; ++i) {
        const auto* p = reinterpret_cast<const uint8_t*>(PQgetvalue(r.get(), i, 0));
        int64_t position = 0;
        for (int b = 0; b < 8; ++b) position = (position << 8) | p[b];  // int8, big-endian
        if (position != last + 1) ++t.gaps;
        last = position;
        for (int f = 0; f < 5; ++f) t.bytes += static_cast<uint64_t>(PQgetlength(r.get(), i, f));
      }
      t.events += static_cast<uint64_t>(rows);
      if (rows < page) break;
      after = std::to_string(last);
    }
    t.seconds = std::chrono::duration<double>(SteadyClock::now() - start).count();
    return t;
  }

  absl::Status Drop() override {
    absl::StatusOr<Conn> c = Connect(options_);
    if (!c.ok()) return c.status();
    if (absl::Status s = Exec(c->get(), "DROP TABLE IF EXISTS events"); !s.ok()) return s;
    return Exec(c->get(), "CHECKPOINT");
  }

 private:
  const PeerOptions options_;
  const RecordShape shape_;
};

}  // namespace

std::unique_ptr<PeerSystem> NewPostgresPeer(const PeerOptions& options) {
  return std::make_unique<PostgresPeer>(options);
}

}  // namespace dealwire::peers
