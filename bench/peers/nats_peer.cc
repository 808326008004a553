// bench/peers/nats_peer.cc — NATS JetStream over nats.c: one file-storage
// stream "EVENTS" (subjects events.>, one replica) is the whole log.
//
// A record is published on "events.<stream with '/' as '.'>" with the payload
// "<event id> <type>\n<data>". Each caller publishes `batch` messages and
// waits for all their PubAcks before its next call, over --connections
// shared connections. Two clients do that: NatsAsyncWrites (the default,
// --nats-client async) chains each caller's next call from its ack handler;
// NatsThreadWrites (sync) runs a thread per caller in js_Publish, or in
// js_PublishAsync + js_PublishAsyncComplete for batches. The full read is an
// ephemeral pull consumer (AckNone) fetched in batches of `page` messages,
// one fetch at a time.
//
// Whether the PubAck means "on disk" depends on the server: see
// bench/peers/README.md (nats-server 2.9 acknowledges before fsync).
#include <nats/nats.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "bench/peers/peer_records.h"
#include "bench/peers/peer_system.h"

namespace dealwire::peers {
namespace {

using SteadyClock = std::chrono::steady_clock;
constexpr const char* kStream = "EVENTS";
constexpr int64_t kWaitMs = 30000;  // JetStream API and publish timeouts

std::string NatsError(natsStatus s, jsErrCode jerr = static_cast<jsErrCode>(0)) {
  std::string text = absl::StrCat("nats: ", natsStatus_GetText(s));
  if (jerr != 0) absl::StrAppend(&text, " (JetStream error ", static_cast<int>(jerr), ")");
  const char* last = nats_GetLastError(nullptr);
  if (last != nullptr && *last != '\0') absl::StrAppend(&text, ": ", last);
  return text;
}

struct ConnDeleter {
  void operator()(natsConnection* c) const { natsConnection_Destroy(c); }
};
using Conn = std::unique_ptr<natsConnection, ConnDeleter>;

struct JsDeleter {
  void operator()(jsCtx* js) const { jsCtx_Destroy(js); }
};
using Js = std::unique_ptr<jsCtx, JsDeleter>;

// Connects to the server; with `send_asap` each publish is written to the
// socket by the publishing thread at once, not by the library's flusher
// thread (which waits a little to coalesce writes).
absl::StatusOr<Conn> Connect(const PeerOptions& options, bool send_asap = false) {
  natsOptions* raw = nullptr;
  if (natsOptions_Create(&raw) != NATS_OK) return absl::InternalError("nats: options");
  std::unique_ptr<natsOptions, void (*)(natsOptions*)> opts(raw, natsOptions_Destroy);
  const std::string url = absl::StrCat("nats://", options.host, ":", options.port);
  natsOptions_SetURL(opts.get(), url.c_str());
  natsOptions_SetTimeout(opts.get(), static_cast<int64_t>(options.connect_timeout * 1000));
  natsOptions_SetAllowReconnect(opts.get(), false);
  if (send_asap) natsOptions_SetSendAsap(opts.get(), true);
  natsConnection* nc = nullptr;
  if (natsStatus s = natsConnection_Connect(&nc, opts.get()); s != NATS_OK) {
    return absl::UnavailableError(absl::StrCat(NatsError(s), " (", url, ")"));
  }
  return Conn(nc);
}

// Counts the failed acks of one context's asynchronous publishes.
struct AsyncErrors {
  std::atomic<uint64_t> count{0};
  std::mutex mu;
  std::string first;  // guarded by mu
};

void OnAsyncError(jsCtx*, jsPubAckErr* pae, void* closure) {
  auto* errors = static_cast<AsyncErrors*>(closure);
  if (errors->count.fetch_add(1) == 0) {
    std::lock_guard<std::mutex> lock(errors->mu);
    errors->first = absl::StrCat("nats: async publish: ", natsStatus_GetText(pae->Err),
                                 pae->ErrText != nullptr ? absl::StrCat(": ", pae->ErrText) : "");
  }
}

// Returns a JetStream context on `nc`; with `errors`, asynchronous publish
// failures are counted there and up to `max_pending` may be in flight.
absl::StatusOr<Js> NewContext(natsConnection* nc, AsyncErrors* errors = nullptr,
                              int64_t max_pending = 0) {
  jsOptions o;
  jsOptions_Init(&o);
  o.Wait = kWaitMs;
  if (errors != nullptr) {
    o.PublishAsync.ErrHandler = OnAsyncError;
    o.PublishAsync.ErrHandlerClosure = errors;
    o.PublishAsync.StallWait = kWaitMs;
  }
  if (max_pending > 0) o.PublishAsync.MaxPending = max_pending;
  jsCtx* js = nullptr;
  if (natsStatus s = natsConnection_JetStream(&js, nc, &o); s != NATS_OK) {
    return absl::InternalError(NatsError(s));
  }
  return Js(js);
}

// The subject of each stream name: "org/bench-000001" → "events.org.bench-000001".
std::vector<std::string> Subjects(const RecordShape& shape) {
  std::vector<std::string> subjects;
  for (int k = 0; k < shape.streams(); ++k) {
    std::string s = absl::StrCat("events.", shape.stream(k));
    std::replace(s.begin(), s.end(), '/', '.');
    subjects.push_back(std::move(s));
  }
  return subjects;
}

// Writes `r`'s payload into `out`: "<event id> <type>\n<data>".
void Payload(const Record& r, absl::string_view data, std::string* out) {
  out->clear();
  absl::StrAppend(out, r.event_id, " ", kRecordType, "\n", data);
}

// A thread per caller (--nats-client sync), blocked in js_Publish for one
// record, or in js_PublishAsyncComplete after `batch` js_PublishAsync's.
class NatsThreadWrites final : public WriteLoad {
 public:
  NatsThreadWrites(const RecordShape& shape, std::vector<Conn> conns, int callers, int batch)
      : shape_(shape),
        subjects_(Subjects(shape)),
        conns_(std::move(conns)),
        callers_(callers),
        batch_(batch) {}

  CallTotals Run(double seconds) override {
    const SteadyClock::time_point start = SteadyClock::now();
    const SteadyClock::time_point deadline =
        start + std::chrono::microseconds(static_cast<int64_t>(seconds * 1e6));
    std::vector<CallTotals> per_caller(static_cast<size_t>(callers_));
    std::vector<SteadyClock::time_point> ends(static_cast<size_t>(callers_), start);
    std::vector<std::thread> threads;
    for (int i = 0; i < callers_; ++i) {
      threads.emplace_back([&, i] {
        natsConnection* nc = conns_[static_cast<size_t>(i) % conns_.size()].get();
        RecordSource source(shape_, static_cast<uint64_t>(i) + 1 + seed_offset_);
        if (batch_ == 1) {
          ends[i] = PublishSync(nc, source, deadline, per_caller[i]);
        } else {
          ends[i] = PublishBatches(nc, source, deadline, per_caller[i]);
        }
      });
    }
    for (std::thread& t : threads) t.join();
    seed_offset_ += static_cast<uint64_t>(callers_);
    CallTotals t;
    SteadyClock::time_point last_end = start;
    for (int i = 0; i < callers_; ++i) {
      t.Merge(per_caller[i]);
      last_end = std::max(last_end, ends[i]);
    }
    t.seconds = std::chrono::duration<double>(last_end - start).count();
    return t;
  }

 private:
  static void Fail(CallTotals& t, std::string error) {
    ++t.errors;
    if (t.first_error.empty()) t.first_error = std::move(error);
  }

  // One caller of js_Publish until `deadline`; returns when its last call ended.
  SteadyClock::time_point PublishSync(natsConnection* nc, RecordSource& source,
                                      SteadyClock::time_point deadline, CallTotals& t) {
    absl::StatusOr<Js> js = NewContext(nc);
    if (!js.ok()) {
      Fail(t, std::string(js.status().message()));
      return SteadyClock::now();
    }
    std::string payload;
    SteadyClock::time_point now = SteadyClock::now();
    while (now < deadline) {
      const Record& r = source.Next();
      Payload(r, shape_.data(), &payload);
      const SteadyClock::time_point started = now;
      jsPubAck* ack = nullptr;
      jsErrCode jerr = static_cast<jsErrCode>(0);
      const natsStatus s = js_Publish(&ack, js->get(), subjects_[r.stream_index].c_str(),
                                      payload.data(), static_cast<int>(payload.size()), nullptr,
                                      &jerr);
      now = SteadyClock::now();
      if (s == NATS_OK) {
        ++t.calls;
        ++t.events;
        t.latency.RecordMicros(
            std::chrono::duration_cast<std::chrono::microseconds>(now - started).count());
      } else {
        Fail(t, NatsError(s, jerr));
      }
      jsPubAck_Destroy(ack);
    }
    return now;
  }

  // One caller of `batch_` js_PublishAsync + js_PublishAsyncComplete until
  // `deadline`; returns when its last call ended.
  SteadyClock::time_point PublishBatches(natsConnection* nc, RecordSource& source,
                                         SteadyClock::time_point deadline, CallTotals& t) {
    AsyncErrors errors;
    absl::StatusOr<Js> js = NewContext(nc, &errors);
    if (!js.ok()) {
      Fail(t, std::string(js.status().message()));
      return SteadyClock::now();
    }
    jsPubOptions wait;
    jsPubOptions_Init(&wait);
    wait.MaxWait = kWaitMs;
    std::string payload;
    SteadyClock::time_point now = SteadyClock::now();
    while (now < deadline) {
      const SteadyClock::time_point started = now;
      const uint64_t errors_before = errors.count.load();
      natsStatus s = NATS_OK;
      for (int b = 0; b < batch_ && s == NATS_OK; ++b) {
        const Record& r = source.Next();
        Payload(r, shape_.data(), &payload);
        s = js_PublishAsync(js->get(), subjects_[r.stream_index].c_str(), payload.data(),
                            static_cast<int>(payload.size()), nullptr);
      }
      const natsStatus done = js_PublishAsyncComplete(js->get(), &wait);
      now = SteadyClock::now();
      if (s != NATS_OK) {
        Fail(t, NatsError(s));
      } else if (done != NATS_OK) {
        Fail(t, NatsError(done));
      } else if (errors.count.load() != errors_before) {
        std::lock_guard<std::mutex> lock(errors.mu);
        Fail(t, errors.first);
      } else {
        ++t.calls;
        t.events += static_cast<uint64_t>(batch_);
        t.latency.RecordMicros(
            std::chrono::duration_cast<std::chrono::microseconds>(now - started).count());
      }
    }
    return now;
  }

  const RecordShape& shape_;
  const std::vector<std::string> subjects_;
  const std::vector<Conn> conns_;
  const int callers_;
  const int batch_;
  uint64_t seed_offset_ = 0;  // fresh event ids in every Run
};

// Closed-loop callers without a thread each: every caller has its own
// JetStream context whose ack handler (on the library's delivery thread for
// that context) records the call and publishes the caller's next one. A call
// is `batch` js_PublishAsync's, complete when all their acks are in; for one
// record that is exactly js_Publish's publish-then-wait, minus a blocked
// thread per caller.
class NatsAsyncWrites final : public WriteLoad {
 public:
  NatsAsyncWrites(const RecordShape& shape, std::vector<Conn> conns, int callers, int batch)
      : shape_(shape), subjects_(Subjects(shape)), conns_(std::move(conns)), batch_(batch) {
    for (int i = 0; i < callers; ++i) {
      callers_.push_back(std::make_unique<Caller>(this, static_cast<uint64_t>(i) + 1));
    }
  }

  // Creates each caller's context; fails with the first error.
  absl::Status Init() {
    for (size_t i = 0; i < callers_.size(); ++i) {
      Caller& c = *callers_[i];
      jsOptions o;
      jsOptions_Init(&o);
      o.Wait = kWaitMs;
      o.PublishAsync.AckHandler = OnAck;
      o.PublishAsync.AckHandlerClosure = &c;
      o.PublishAsync.StallWait = kWaitMs;
      jsCtx* js = nullptr;
      if (natsStatus s = natsConnection_JetStream(&js, conns_[i % conns_.size()].get(), &o);
          s != NATS_OK) {
        return absl::InternalError(NatsError(s));
      }
      c.js.reset(js);
    }
    return absl::OkStatus();
  }

  CallTotals Run(double seconds) override {
    const SteadyClock::time_point start = SteadyClock::now();
    deadline_ = start + std::chrono::microseconds(static_cast<int64_t>(seconds * 1e6));
    {
      std::lock_guard<std::mutex> lock(mu_);
      running_ = callers_.size();
    }
    for (auto& c : callers_) {
      c->totals = CallTotals();
      c->end = start;
      if (!Issue(*c)) Finished();
    }
    {
      // Bounded: every call in flight ends within kWaitMs (the ack timeout).
      std::unique_lock<std::mutex> lock(mu_);
      done_.wait_for(lock, std::chrono::duration<double>(seconds) +
                               std::chrono::milliseconds(2 * kWaitMs),
                     [&] { return running_ == 0; });
    }
    CallTotals t;
    SteadyClock::time_point last_end = start;
    for (auto& c : callers_) {
      std::lock_guard<std::mutex> lock(c->mu);
      t.Merge(c->totals);
      last_end = std::max(last_end, c->end);
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (running_ > 0) {
        ++t.errors;
        t.first_error = "nats: acks still missing after the publish timeout";
      }
    }
    t.seconds = std::chrono::duration<double>(last_end - start).count();
    return t;
  }

 private:
  struct Caller {
    Caller(NatsAsyncWrites* o, uint64_t seed) : owner(o), source(o->shape_, seed) {}
    NatsAsyncWrites* owner;
    Js js;
    RecordSource source;
    std::string payload;
    std::mutex mu;  // orders the handler's writes before Run's reads
    CallTotals totals;
    SteadyClock::time_point started{};
    SteadyClock::time_point end{};
    int acked = 0;
    bool failed = false;
  };

  // Publishes the caller's next call; false (an error counted) when it cannot.
  bool Issue(Caller& c) {
    c.started = SteadyClock::now();
    c.acked = 0;
    c.failed = false;
    for (int b = 0; b < batch_; ++b) {
      const Record& r = c.source.Next();
      Payload(r, shape_.data(), &c.payload);
      if (natsStatus s = js_PublishAsync(c.js.get(), subjects_[r.stream_index].c_str(),
                                         c.payload.data(), static_cast<int>(c.payload.size()),
                                         nullptr);
          s != NATS_OK) {
        std::lock_guard<std::mutex> lock(c.mu);
        ++c.totals.errors;
        if (c.totals.first_error.empty()) c.totals.first_error = NatsError(s);
        return false;
      }
    }
    return true;
  }

  void Finished() {
    std::lock_guard<std::mutex> lock(mu_);
    if (--running_ == 0) done_.notify_all();
  }

  static void OnAck(jsCtx*, natsMsg* msg, jsPubAck* pa, jsPubAckErr* pae, void* closure) {
    natsMsg_Destroy(msg);
    auto& c = *static_cast<Caller*>(closure);
    NatsAsyncWrites& self = *c.owner;
    if (pa == nullptr) {
      c.failed = true;
      std::lock_guard<std::mutex> lock(c.mu);
      if (c.totals.first_error.empty()) {
        c.totals.first_error =
            absl::StrCat("nats: publish: ", pae != nullptr ? natsStatus_GetText(pae->Err) : "?",
                         pae != nullptr && pae->ErrText != nullptr ? pae->ErrText : "");
      }
    }
    if (++c.acked < self.batch_) return;
    const SteadyClock::time_point now = SteadyClock::now();
    {
      std::lock_guard<std::mutex> lock(c.mu);
      c.end = now;
      if (c.failed) {
        ++c.totals.errors;
      } else {
        ++c.totals.calls;
        c.totals.events += static_cast<uint64_t>(self.batch_);
        c.totals.latency.RecordMicros(
            std::chrono::duration_cast<std::chrono::microseconds>(now - c.started).count());
      }
    }
    if (now >= self.deadline_ || !self.Issue(c)) self.Finished();
  }

  const RecordShape& shape_;
  const std::vector<std::string> subjects_;
  const std::vector<Conn> conns_;
  const int batch_;
  std::vector<std::unique_ptr<Caller>> callers_;
  SteadyClock::time_point deadline_{};  // written by Run before the first Issue
  std::mutex mu_;
  std::condition_variable done_;
  size_t running_ = 0;  // guarded by mu_
};

class NatsPeer final : public PeerSystem {
 public:
  explicit NatsPeer(const PeerOptions& options)
      : options_(options), shape_(options.streams, options.data_bytes) {}

  absl::Status Ping() override {
    absl::StatusOr<Conn> c = Connect(options_);
    if (!c.ok()) return c.status();
    absl::StatusOr<Js> js = NewContext(c->get());
    if (!js.ok()) return js.status();
    jsAccountInfo* info = nullptr;
    jsErrCode jerr = static_cast<jsErrCode>(0);
    const natsStatus s = js_GetAccountInfo(&info, js->get(), nullptr, &jerr);
    jsAccountInfo_Destroy(info);
    if (s != NATS_OK) return absl::UnavailableError(NatsError(s, jerr));
    return absl::OkStatus();
  }

  absl::StatusOr<std::unique_ptr<WriteLoad>> StartWrites(int callers, int batch) override {
    if (absl::Status s = Recreate(); !s.ok()) return s;
    std::vector<Conn> conns;
    const int n = std::max(1, std::min(options_.connections, callers));
    // Single async publishes go out at once; a batch's 100 are left to the
    // flusher to coalesce. Measured here: 64 callers reached ~27k events/s
    // with SendAsap and ~26k without, but 8 callers 17k and 7.5k (each
    // publish waited for the flusher); batches ~95k without, ~75k with.
    const bool send_asap = options_.nats_client == "async" && batch == 1;
    for (int i = 0; i < n; ++i) {
      absl::StatusOr<Conn> c = Connect(options_, send_asap);
      if (!c.ok()) return c.status();
      conns.push_back(*std::move(c));
    }
    if (options_.nats_client == "sync") {
      return std::make_unique<NatsThreadWrites>(shape_, std::move(conns), callers, batch);
    }
    auto load = std::make_unique<NatsAsyncWrites>(shape_, std::move(conns), callers, batch);
    if (absl::Status s = load->Init(); !s.ok()) return s;
    return load;
  }

  absl::Status Fill(uint64_t events) override {
    if (absl::Status s = Recreate(); !s.ok()) return s;
    absl::StatusOr<Conn> c = Connect(options_);
    if (!c.ok()) return c.status();
    AsyncErrors errors;
    absl::StatusOr<Js> js = NewContext(c->get(), &errors, /*max_pending=*/10000);
    if (!js.ok()) return js.status();
    const std::vector<std::string> subjects = Subjects(shape_);
    RecordSource source(shape_, 1);
    std::string payload;
    for (uint64_t i = 0; i < events; ++i) {
      const Record& r = source.Next();
      Payload(r, shape_.data(), &payload);
      if (natsStatus s = js_PublishAsync(js->get(), subjects[r.stream_index].c_str(),
                                         payload.data(), static_cast<int>(payload.size()), nullptr);
          s != NATS_OK) {
        return absl::InternalError(absl::StrCat("fill: ", NatsError(s)));
      }
    }
    jsPubOptions wait;
    jsPubOptions_Init(&wait);
    wait.MaxWait = 600000;
    if (natsStatus s = js_PublishAsyncComplete(js->get(), &wait); s != NATS_OK) {
      return absl::InternalError(absl::StrCat("fill: ", NatsError(s)));
    }
    if (errors.count.load() > 0) {
      std::lock_guard<std::mutex> lock(errors.mu);
      return absl::InternalError(absl::StrCat("fill: ", errors.first));
    }
    return absl::OkStatus();
  }

  absl::StatusOr<ReadTotals> ReadAll(int page) override {
    absl::StatusOr<Conn> c = Connect(options_);
    if (!c.ok()) return c.status();
    absl::StatusOr<Js> js = NewContext(c->get());
    if (!js.ok()) return js.status();
    jsErrCode jerr = static_cast<jsErrCode>(0);
    jsStreamInfo* info = nullptr;
    if (natsStatus s = js_GetStreamInfo(&info, js->get(), kStream, nullptr, &jerr); s != NATS_OK) {
      return absl::InternalError(NatsError(s, jerr));
    }
    const uint64_t total = info->State.Msgs;
    jsStreamInfo_Destroy(info);

    ReadTotals t;
    const SteadyClock::time_point start = SteadyClock::now();
    jsSubOptions so;
    jsSubOptions_Init(&so);
    so.Stream = kStream;
    so.Config.AckPolicy = js_AckNone;
    so.Config.DeliverPolicy = js_DeliverAll;
    natsSubscription* raw = nullptr;
    if (natsStatus s =
            js_PullSubscribe(&raw, js->get(), "events.>", nullptr, nullptr, &so, &jerr);
        s != NATS_OK) {
      return absl::InternalError(absl::StrCat("pull consumer: ", NatsError(s, jerr)));
    }
    std::unique_ptr<natsSubscription, void (*)(natsSubscription*)> sub(raw,
                                                                      natsSubscription_Destroy);
    while (t.events < total) {
      const int want = static_cast<int>(std::min<uint64_t>(static_cast<uint64_t>(page),
                                                           total - t.events));
      natsMsgList list{};
      if (natsStatus s = natsSubscription_Fetch(&list, sub.get(), want, kWaitMs, &jerr);
          s != NATS_OK) {
        natsMsgList_Destroy(&list);
        return absl::InternalError(
            absl::StrCat("fetch after ", t.events, " messages: ", NatsError(s, jerr)));
      }
      ++t.pages;
      for (int i = 0; i < list.Count; ++i) {
        t.bytes += static_cast<uint64_t>(natsMsg_GetDataLength(list.Msgs[i])) +
                   std::char_traits<char>::length(natsMsg_GetSubject(list.Msgs[i]));
      }
      t.events += static_cast<uint64_t>(list.Count);
      natsMsgList_Destroy(&list);
    }
    t.seconds = std::chrono::duration<double>(SteadyClock::now() - start).count();
    natsSubscription_Unsubscribe(sub.get());  // deletes the ephemeral consumer
    return t;
  }

  absl::Status Drop() override {
    absl::StatusOr<Conn> c = Connect(options_);
    if (!c.ok()) return c.status();
    absl::StatusOr<Js> js = NewContext(c->get());
    if (!js.ok()) return js.status();
    return DeleteStream(js->get());
  }

 private:
  static absl::Status DeleteStream(jsCtx* js) {
    jsErrCode jerr = static_cast<jsErrCode>(0);
    const natsStatus s = js_DeleteStream(js, kStream, nullptr, &jerr);
    if (s == NATS_OK || jerr == JSStreamNotFoundErr || s == NATS_NOT_FOUND) {
      return absl::OkStatus();
    }
    return absl::InternalError(absl::StrCat("delete stream: ", NatsError(s, jerr)));
  }

  // Deletes the stream if it exists and creates it empty.
  absl::Status Recreate() {
    absl::StatusOr<Conn> c = Connect(options_);
    if (!c.ok()) return c.status();
    absl::StatusOr<Js> js = NewContext(c->get());
    if (!js.ok()) return js.status();
    if (absl::Status s = DeleteStream(js->get()); !s.ok()) return s;
    const char* subjects[] = {"events.>"};
    jsStreamConfig cfg;
    jsStreamConfig_Init(&cfg);
    cfg.Name = kStream;
    cfg.Subjects = subjects;
    cfg.SubjectsLen = 1;
    cfg.Storage = js_FileStorage;
    cfg.Replicas = 1;
    jsErrCode jerr = static_cast<jsErrCode>(0);
    if (natsStatus s = js_AddStream(nullptr, js->get(), &cfg, nullptr, &jerr); s != NATS_OK) {
      return absl::InternalError(absl::StrCat("add stream: ", NatsError(s, jerr)));
    }
    return absl::OkStatus();
  }

  const PeerOptions options_;
  const RecordShape shape_;
};

}  // namespace

std::unique_ptr<PeerSystem> NewNatsPeer(const PeerOptions& options) {
  return std::make_unique<NatsPeer>(options);
}

}  // namespace dealwire::peers
